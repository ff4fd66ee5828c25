using System.Globalization;
using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.KubeApi.Controllers;

/// <summary>
/// The horizontal-pod-autoscaler loop of kube-controller-manager (pkg/controller/podautoscaler, autoscaling/v2) over the
/// simulated data plane. Every <see cref="KubeControllerDelays.HpaSync"/> (15 s upstream, --horizontal-pod-autoscaler-sync-period)
/// each HPA is evaluated:
/// <list type="bullet">
/// <item>the target's scale (apps/v1 Deployment; anything else gets AbleToScale False FailedGetScale);</item>
/// <item>each metric: only type Pods with a metric the sandbox's "custom metrics API" serves, i.e. the Managed Prometheus
/// adapter's names for the gauges the simulated vLLM pods export (<c>prometheus.googleapis.com|vllm:num_requests_waiting|gauge</c>,
/// <c>…|vllm:num_requests_running|gauge</c>, <c>…|vllm:kv_cache_usage_perc|gauge</c>), read from each ready pod's simulator. Any
/// other Pods metric gets ScalingActive False FailedGetPodsMetric; External and Object metrics FailedGetExternalMetric /
/// FailedGetObjectMetric (the sandbox serves no external.metrics.k8s.io series); Resource metrics FailedGetResourceMetric
/// (no metrics-server);</item>
/// <item>the replica calculation of replica_calculator.go (ratio = average / target, tolerance 0.1, pods without a sample
/// counted at the target when scaling down and at 0 when scaling up, unready pods at 0 when scaling up);</item>
/// <item>normalizeDesiredReplicasWithBehaviors: stabilization windows over the recommendation history, the scale-up and
/// scale-down policies (Pods/Percent per periodSeconds, selectPolicy Max/Min/Disabled) over the scale events, then min/max;</item>
/// <item>the status (currentReplicas, desiredReplicas, currentMetrics, lastScaleTime, conditions AbleToScale, ScalingActive,
/// ScalingLimited) and events SuccessfulRescale / FailedGetScale / FailedGetPodsMetric / FailedComputeMetricsReplicas.</item>
/// </list>
/// Defaults are those the API server fills in (SetDefaults_HorizontalPodAutoscalerBehavior): scale-up window 0 with
/// policies Pods 4 and Percent 100 per 15 s (Max), scale-down window 300 s with Percent 100 per 15 s.
/// </summary>
internal sealed class HpaController : SimController
{
    private const string Group = "autoscaling";
    private const string Plural = "horizontalpodautoscalers";
    public const string GmpPrefix = "prometheus.googleapis.com|";
    private const double Tolerance = 0.1;

    private readonly Dictionary<string, List<(DateTime At, long Replicas)>> _recommendations = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<(DateTime At, long Change)>> _scaleUpEvents = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<(DateTime At, long Change)>> _scaleDownEvents = new(StringComparer.Ordinal);

    public HpaController(ControllerManager m) : base(m) { }

    protected override string Name => "horizontal-pod-autoscaler";

    public override void OnEvent(WatchEvent ev)
    {
        if (!Is(ev, Group, Plural)) return;
        var key = KeyOf(ev.Object);
        if (ev.Type == "DELETED")
        {
            _recommendations.Remove(key);
            _scaleUpEvents.Remove(key);
            _scaleDownEvents.Remove(key);
            return;
        }
        // a new or changed spec is evaluated now; status writes (ours) are not a reason to run early
        if (ev.Type == "ADDED" || ev.Object.Long("metadata", "generation") != ev.Object.Long("status", "observedGeneration"))
            Enqueue(key);
    }

    public override void Reconcile(string key)
    {
        var (ns, name) = Split(key);
        var hpa = Get(Group, Plural, ns, name);
        if (hpa is null || Deleting(hpa)) return;
        try { Evaluate(key, hpa); }
        finally { Enqueue(key, Delays.HpaSync); }
    }

    private sealed record MetricResult(long Replicas, JsonObject Current, string Description, bool Above);

    private void Evaluate(string key, JsonObject hpa)
    {
        var spec = hpa.Obj("spec") ?? new JsonObject();
        var ns = hpa.Namespace()!;
        var gen = hpa.Long("metadata", "generation") ?? 1;
        var prevStatus = hpa.Obj("status");
        var minReplicas = spec.Long("minReplicas") ?? 1;
        var maxReplicas = spec.Long("maxReplicas") ?? 1;
        var refKind = spec.Str("scaleTargetRef", "kind") ?? "";
        var refName = spec.Str("scaleTargetRef", "name") ?? "";
        var refApi = spec.Str("scaleTargetRef", "apiVersion") ?? "";
        var conditions = new List<JsonObject>();

        JsonObject? target = refKind == "Deployment" && (refApi == "apps/v1" || refApi == "") ? Get("apps", "deployments", ns, refName) : null;
        if (target is null)
        {
            var what = refKind == "Deployment" ? $"deployments/scale.apps \"{refName}\" not found"
                : $"the server could not find the requested resource ({refKind.ToLowerInvariant()}s/scale {refApi} \"{refName}\")";
            var msg = $"the HPA controller was unable to get the target's current scale: {what}";
            RecordEvent(hpa, "Warning", "FailedGetScale", what, Name);
            conditions.Add(Condition("AbleToScale", false, "FailedGetScale", msg, null, prevStatus));
            WriteHpaStatus(hpa, gen, prevStatus, prevStatus?.Long("currentReplicas") ?? 0, prevStatus?.Long("desiredReplicas") ?? 0, null, conditions, null);
            return;
        }
        var current = target.Long("spec", "replicas") ?? 1;
        if (current == 0 && minReplicas != 0)
        {
            conditions.Add(Condition("AbleToScale", true, "SucceededGetScale", "the HPA controller was able to get the target's current scale", null, prevStatus));
            conditions.Add(Condition("ScalingActive", false, "ScalingDisabled", "scaling is disabled since the replica count of the target is zero", null, prevStatus));
            WriteHpaStatus(hpa, gen, prevStatus, 0, 0, new JsonArray(), conditions, null);
            return;
        }

        var selector = target.Obj("spec", "selector", "matchLabels").StringMap();
        var pods = All("", "pods", ns).Where(p => selector.Count > 0 && selector.All(kv => p.Labels().TryGetValue(kv.Key, out var v) && v == kv.Value)).ToList();

        var results = new List<MetricResult>();
        var currentMetrics = new JsonArray();
        string? failReason = null, failMessage = null;
        foreach (var m in spec.Arr("metrics")?.OfType<JsonObject>() ?? [])
        {
            var type = m.Str("type") ?? "";
            if (type != "Pods")
            {
                var (reason, what) = type switch
                {
                    "External" => ("FailedGetExternalMetric", $"unable to get external metric {ns}/{m.Str("external", "metric", "name")}/{m.Obj("external", "metric", "selector")?.ToJsonString() ?? "nil"}: unable to fetch metrics from external metrics API: the server could not find the requested resource (get {m.Str("external", "metric", "name")}.external.metrics.k8s.io)"),
                    "Object" => ("FailedGetObjectMetric", $"unable to get metric {m.Str("object", "metric", "name")}: {m.Str("object", "describedObject", "kind")} on {ns} {m.Str("object", "describedObject", "name")}/unable to fetch metrics from custom metrics API: the server could not find the metric {m.Str("object", "metric", "name")} for {m.Str("object", "describedObject", "kind")?.ToLowerInvariant()}s"),
                    "Resource" or "ContainerResource" => ("FailedGetResourceMetric", $"failed to get {m.Str("resource", "name") ?? m.Str("containerResource", "name")} utilization: unable to get metrics for resource {m.Str("resource", "name") ?? m.Str("containerResource", "name")}: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)"),
                    _ => ("InvalidMetricSourceType", $"the HPA was unable to compute the replica count: unknown metric source type \"{type}\""),
                };
                failReason ??= reason;
                failMessage ??= $"the HPA was unable to compute the replica count: {what}";
                RecordEvent(hpa, "Warning", reason, what, Name);
                continue;
            }
            var metricName = m.Str("pods", "metric", "name") ?? "";
            var targetValue = ParseQuantity(m.Str("pods", "target", "averageValue"));
            Func<Vllm.VllmReplica, double>? read = metricName switch
            {
                GmpPrefix + "vllm:num_requests_waiting|gauge" => r => r.Waiting,
                GmpPrefix + "vllm:num_requests_running|gauge" => r => r.Running,
                GmpPrefix + "vllm:kv_cache_usage_perc|gauge" => r => r.KvUsage,
                _ => null,
            };
            if (read is null || targetValue is null || targetValue <= 0 || m.Str("pods", "target", "type") != "AverageValue")
            {
                var what = read is null
                    ? $"unable to get metric {metricName}: unable to fetch metrics from custom metrics API: the server could not find the metric {metricName} for pods"
                    : $"invalid target for pods metric {metricName}: target.type must be AverageValue with a positive averageValue";
                failReason ??= "FailedGetPodsMetric";
                failMessage ??= $"the HPA was unable to compute the replica count: {what}";
                RecordEvent(hpa, "Warning", "FailedGetPodsMetric", what, Name);
                RecordEvent(hpa, "Warning", "FailedComputeMetricsReplicas", $"invalid metrics (1 invalid out of {spec.Arr("metrics")?.Count ?? 1}), first error is: failed to get pods metric value: {what}", Name);
                continue;
            }
            var samples = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var p in pods)
                if (M.DataPlane?.Replica(p.Str("metadata", "uid") ?? "") is { } replica) samples[p.Name()] = read(replica);
            if (samples.Count == 0)
            {
                var what = $"unable to get metric {metricName}: no metrics returned from custom metrics API";
                failReason ??= "FailedGetPodsMetric";
                failMessage ??= $"the HPA was unable to compute the replica count: {what}";
                RecordEvent(hpa, "Warning", "FailedGetPodsMetric", what, Name);
                continue;
            }
            var (replicas, average) = PlainMetricReplicas(pods, samples, current, targetValue.Value);
            results.Add(new MetricResult(replicas, new JsonObject(), $"pods metric {metricName}", average > targetValue.Value));
            currentMetrics.Add(new JsonObject
            {
                ["type"] = "Pods",
                ["pods"] = new JsonObject
                {
                    ["metric"] = new JsonObject { ["name"] = metricName },
                    ["current"] = new JsonObject { ["averageValue"] = FormatQuantity(average) },
                },
            });
        }

        conditions.Add(Condition("AbleToScale", true, "SucceededGetScale", "the HPA controller was able to get the target's current scale", null, prevStatus));
        if (results.Count == 0)
        {
            conditions.Add(Condition("ScalingActive", false, failReason ?? "FailedGetPodsMetric", failMessage ?? "the HPA was unable to compute the replica count: no metrics", null, prevStatus));
            WriteHpaStatus(hpa, gen, prevStatus, current, prevStatus?.Long("desiredReplicas") ?? current, currentMetrics, conditions, null);
            return;
        }
        var best = results.OrderByDescending(r => r.Replicas).First();
        var proposal = best.Replicas;
        if (failReason is not null && proposal < current) proposal = current; // some metrics invalid: never scale down on the rest
        var reasonText = best.Above ? $"{best.Description} above target" : "All metrics below target";
        conditions.Add(Condition("ScalingActive", true, "ValidMetricFound",
            $"the HPA was able to successfully calculate a replica count from {best.Description}", null, prevStatus));

        // normalizeDesiredReplicasWithBehaviors
        var behavior = spec.Obj("behavior");
        var up = behavior?.Obj("scaleUp");
        var down = behavior?.Obj("scaleDown");
        var upWindow = up?.Long("stabilizationWindowSeconds") ?? 0;
        var downWindow = down?.Long("stabilizationWindowSeconds") ?? 300;
        var now = DateTime.UtcNow;
        var recs = _recommendations.TryGetValue(key, out var r0) ? r0 : _recommendations[key] = [];
        long upRec = proposal, downRec = proposal;
        foreach (var (at, n) in recs)
        {
            if (at > now.AddSeconds(-upWindow)) upRec = Math.Min(upRec, n);
            if (at > now.AddSeconds(-downWindow)) downRec = Math.Max(downRec, n);
        }
        var stabilized = current;
        if (stabilized < upRec) stabilized = upRec;
        if (stabilized > downRec) stabilized = downRec;
        recs.Add((now, proposal));
        recs.RemoveAll(x => x.At < now.AddSeconds(-Math.Max(upWindow, downWindow) - 1));
        string ableReason, ableMessage;
        if (stabilized != proposal)
            (ableReason, ableMessage) = stabilized > proposal
                ? ("ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation")
                : ("ScaleUpStabilized", "recent recommendations were lower than current one, applying the lowest recent recommendation");
        else
            (ableReason, ableMessage) = ("ReadyForNewScale", "recommended size matches current size");

        var upEvents = _scaleUpEvents.TryGetValue(key, out var u0) ? u0 : _scaleUpEvents[key] = [];
        var downEvents = _scaleDownEvents.TryGetValue(key, out var d0) ? d0 : _scaleDownEvents[key] = [];
        var desired = stabilized;
        string limitReason = "DesiredWithinRange", limitMessage = "the desired count is within the acceptable range";
        var limited = false;
        if (desired > current)
        {
            var limit = ScaleUpLimit(current, upEvents, up, now);
            if (limit < current) limit = current;
            var max = Math.Min(limit, maxReplicas);
            if (desired > max)
            {
                limited = true;
                (limitReason, limitMessage) = limit < maxReplicas
                    ? ("ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate")
                    : ("TooManyReplicas", "the desired replica count is more than the maximum replica count");
                desired = max;
            }
        }
        else if (desired < current)
        {
            var limit = ScaleDownLimit(current, downEvents, down, now);
            if (limit > current) limit = current;
            var min = Math.Max(limit, minReplicas);
            if (desired < min)
            {
                limited = true;
                (limitReason, limitMessage) = limit > minReplicas
                    ? ("ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate")
                    : ("TooFewReplicas", "the desired replica count is less than the minimum replica count");
                desired = min;
            }
        }
        if (desired > maxReplicas) { desired = maxReplicas; limited = true; (limitReason, limitMessage) = ("TooManyReplicas", "the desired replica count is more than the maximum replica count"); }
        if (desired < minReplicas) { desired = minReplicas; limited = true; (limitReason, limitMessage) = ("TooFewReplicas", "the desired replica count is less than the minimum replica count"); }

        string? lastScale = null;
        if (desired != current)
        {
            Core.Mutate(T("apps", "deployments")!, target, d => d.Ensure("spec")["replicas"] = desired, Name);
            (desired > current ? upEvents : downEvents).Add((now, Math.Abs(desired - current)));
            RecordEvent(hpa, "Normal", "SuccessfulRescale", $"New size: {desired}; reason: {(desired > current ? reasonText : "All metrics below target")}", Name);
            lastScale = SimCore.Now();
            (ableReason, ableMessage) = ("SucceededRescale", $"the HPA controller was able to update the target scale to {desired}");
        }
        upEvents.RemoveAll(e => e.At < now.AddMinutes(-30));
        downEvents.RemoveAll(e => e.At < now.AddMinutes(-30));
        conditions[0] = Condition("AbleToScale", true, ableReason, ableMessage, null, prevStatus);
        conditions.Add(Condition("ScalingLimited", limited, limitReason, limitMessage, null, prevStatus));
        WriteHpaStatus(hpa, gen, prevStatus, current, desired, currentMetrics, conditions, lastScale);
    }

    /// <summary>calcPlainMetricReplicas (replica_calculator.go) for a Pods metric with an AverageValue target.</summary>
    private static (long Replicas, double Average) PlainMetricReplicas(List<JsonObject> pods, Dictionary<string, double> samples, long current, double target)
    {
        var metrics = new Dictionary<string, double>(samples, StringComparer.Ordinal);
        var ready = 0;
        var unready = new List<string>();
        var missing = new List<string>();
        foreach (var p in pods)
        {
            if (Deleting(p) || p.Str("status", "phase") is "Failed" or "Succeeded") { metrics.Remove(p.Name()); continue; }
            if (p.Str("status", "phase") == "Pending") { unready.Add(p.Name()); metrics.Remove(p.Name()); continue; }
            if (!metrics.ContainsKey(p.Name())) { missing.Add(p.Name()); continue; }
            ready++;
        }
        var average = metrics.Count == 0 ? 0 : metrics.Values.Average();
        var ratio = average / target;
        var scaleUpWithUnready = unready.Count > 0 && ratio > 1.0;
        if (!scaleUpWithUnready && missing.Count == 0)
        {
            if (Math.Abs(1.0 - ratio) <= Tolerance) return (current, average);
            return ((long)Math.Ceiling(ratio * ready), average);
        }
        foreach (var name in missing) metrics[name] = ratio < 1.0 ? target : 0;
        if (scaleUpWithUnready) foreach (var name in unready) metrics[name] = 0;
        var newRatio = metrics.Values.Sum() / metrics.Count / target;
        if (Math.Abs(1.0 - newRatio) <= Tolerance || (ratio < 1.0 && newRatio > 1.0) || (ratio > 1.0 && newRatio < 1.0)) return (current, average);
        var replicas = (long)Math.Ceiling(newRatio * metrics.Count);
        if ((newRatio < 1.0 && replicas > current) || (newRatio > 1.0 && replicas < current)) return (current, average);
        return (replicas, average);
    }

    private static IEnumerable<JsonObject> Policies(JsonObject? rules, bool up) =>
        rules?.Arr("policies")?.OfType<JsonObject>() is { } ps && ps.Any() ? ps
            : up ? [new JsonObject { ["type"] = "Pods", ["value"] = 4, ["periodSeconds"] = 15 }, new JsonObject { ["type"] = "Percent", ["value"] = 100, ["periodSeconds"] = 15 }]
                 : [new JsonObject { ["type"] = "Percent", ["value"] = 100, ["periodSeconds"] = 15 }];

    /// <summary>calculateScaleUpLimitWithScalingRules.</summary>
    private static long ScaleUpLimit(long current, List<(DateTime At, long Change)> events, JsonObject? rules, DateTime now)
    {
        var select = rules?.Str("selectPolicy") ?? "Max";
        if (select == "Disabled") return current;
        long? result = null;
        foreach (var p in Policies(rules, true))
        {
            var added = events.Where(e => e.At > now.AddSeconds(-(p.Long("periodSeconds") ?? 15))).Sum(e => e.Change);
            var start = current - added;
            var value = p.Long("value") ?? 0;
            var proposed = p.Str("type") == "Pods" ? start + value : (long)Math.Ceiling(start * (1 + value / 100.0));
            result = result is null ? proposed : select == "Min" ? Math.Min(result.Value, proposed) : Math.Max(result.Value, proposed);
        }
        return result ?? current;
    }

    /// <summary>calculateScaleDownLimitWithBehaviors.</summary>
    private static long ScaleDownLimit(long current, List<(DateTime At, long Change)> events, JsonObject? rules, DateTime now)
    {
        var select = rules?.Str("selectPolicy") ?? "Max";
        if (select == "Disabled") return current;
        long? result = null;
        foreach (var p in Policies(rules, false))
        {
            var removed = events.Where(e => e.At > now.AddSeconds(-(p.Long("periodSeconds") ?? 15))).Sum(e => e.Change);
            var start = current + removed;
            var value = p.Long("value") ?? 0;
            var proposed = p.Str("type") == "Pods" ? start - value : (long)(start * (1 - value / 100.0));
            result = result is null ? proposed : select == "Min" ? Math.Max(result.Value, proposed) : Math.Min(result.Value, proposed);
        }
        return result ?? current;
    }

    private void WriteHpaStatus(JsonObject hpa, long gen, JsonObject? prev, long current, long desired, JsonArray? metrics, List<JsonObject> conditions, string? lastScale)
    {
        foreach (var c in conditions) c.Remove("observedGeneration");
        var status = new JsonObject { ["observedGeneration"] = gen };
        if ((lastScale ?? prev?.Str("lastScaleTime")) is { } ls) status["lastScaleTime"] = ls;
        status["currentReplicas"] = current;
        status["desiredReplicas"] = desired;
        if (metrics is { Count: > 0 }) status["currentMetrics"] = metrics;
        status["conditions"] = new JsonArray(conditions.Select(c => (JsonNode)c).ToArray());
        SetStatus(Group, Plural, hpa, status);
    }

    /// <summary>A resource.Quantity as a number: plain decimals and the m, k, M, G suffixes (and Ki, Mi, Gi).</summary>
    internal static double? ParseQuantity(string? q)
    {
        if (string.IsNullOrWhiteSpace(q)) return null;
        (string suffix, double factor)[] units = [("Ki", 1024), ("Mi", 1024 * 1024), ("Gi", 1024.0 * 1024 * 1024), ("m", 0.001), ("k", 1e3), ("M", 1e6), ("G", 1e9)];
        foreach (var (s, f) in units)
            if (q.EndsWith(s, StringComparison.Ordinal) && double.TryParse(q[..^s.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var v)) return v * f;
        return double.TryParse(q, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) ? n : null;
    }

    /// <summary>How the API server renders a milli-precision quantity: "2", "1500m", "0" ...</summary>
    internal static string FormatQuantity(double v)
    {
        var milli = (long)Math.Ceiling(v * 1000 - 1e-9);
        return milli % 1000 == 0 ? (milli / 1000).ToString(CultureInfo.InvariantCulture) : milli.ToString(CultureInfo.InvariantCulture) + "m";
    }
}
