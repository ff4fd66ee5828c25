using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Engine.Kube.Json;

namespace RhaiiGke.Engine.Serving.Autoscaling;

/// <summary>
/// Turns autoscaling of one LLMInferenceService on or off. The autoscaler scales the &lt;name&gt;-kserve Deployment; that
/// only works when the KServe reconciler leaves the Deployment's replicas alone. KServe release-v0.15 (the pinned
/// release) does not: its Reconcile writes spec.replicas from the LLMInferenceService (or the API default, 1, after its
/// dry-run) on every reconcile, and every Deployment change triggers one, so an HPA's scale is undone at once.
/// From v0.17 (the CRD serves v1alpha2) the reconciler keeps the current replicas while the service's spec.replicas is
/// unset (PreserveDeploymentReplicas), so this installer removes spec.replicas from the service when it is set.
/// </summary>
public static class AutoscalingInstaller
{
    private const string Activity = "Enable-LlmInferenceServiceAutoscaling";

    public sealed record Support(bool Keda, bool KServePreservesReplicas, bool CustomMetricsApi);

    public static void Validate(AutoscalingPlan p)
    {
        void Bad(string id, string what, string fix) => throw new RhaiiException(id, RhaiiErrorCategory.InvalidArgument, what + "; nothing was applied.", fix);
        if (p.MaxReplicas < 1) Bad("AutoscalingBoundsInvalid", $"-MaxReplicas must be at least 1, not {p.MaxReplicas}", "Pass -MaxReplicas 4.");
        if (p.MinReplicas < 0 || p.MinReplicas > p.MaxReplicas)
            Bad("AutoscalingBoundsInvalid", $"-MinReplicas ({p.MinReplicas}) must be between 0 and -MaxReplicas ({p.MaxReplicas})", "Pass -MinReplicas 1 -MaxReplicas 4.");
        if (p.MinReplicas == 0 && !p.AllowScaleToZero)
            Bad("ScaleToZeroNotRequested", "-MinReplicas 0 scales the service to zero when idle, and the next request then waits for a TPU start-up (minutes)",
                "Pass -AllowScaleToZero to mean it (KEDA only), or -MinReplicas 1.");
        if (p.Signals.Count == 0) Bad("AutoscalingSignalMissing", "No load signal was given", "Pass -Signal RequestsWaiting,KvCacheUsage.");
        foreach (var s in p.Signals.Distinct())
        {
            var t = AutoscalingBuilder.TargetOf(p, s);
            if (!(t > 0) || double.IsInfinity(t)) Bad("AutoscalingTargetInvalid", $"The {s} target must be a positive number, not {t}", $"Pass -{s}Target with a positive value.");
        }
        if (p.Signals.Contains(AutoscalingSignal.KvCacheUsage) && !(p.KvCacheUsageTarget < 1))
            Bad("AutoscalingTargetInvalid", $"The KV-cache target is a fraction below 1 (vllm:kv_cache_usage_perc), not {p.KvCacheUsageTarget}", "Pass -KvCacheUsageTarget 0.8 for 80%.");
        if (p.ScaleUpStabilization < TimeSpan.Zero || p.ScaleUpStabilization > TimeSpan.FromHours(1) || p.ScaleDownStabilization < TimeSpan.Zero || p.ScaleDownStabilization > TimeSpan.FromHours(1))
            Bad("AutoscalingWindowInvalid", "Stabilization windows are 0 to 3600 seconds (stabilizationWindowSeconds)", "Pass e.g. -ScaleUpStabilization 00:01:00 -ScaleDownStabilization 00:10:00.");
        if (p.ScalePeriod < TimeSpan.FromSeconds(1) || p.ScalePeriod > TimeSpan.FromMinutes(30))
            Bad("AutoscalingWindowInvalid", $"-ScalePeriod must be 1 to 1800 seconds (policies[].periodSeconds), not {p.ScalePeriod}", "Pass -ScalePeriod 00:01:00.");
        if (p.ScaleUpStep < 1 || p.ScaleDownStep < 1) Bad("AutoscalingStepInvalid", "-ScaleUpStep and -ScaleDownStep must be at least 1", "Pass -ScaleUpStep 2 -ScaleDownStep 1.");
    }

    public static async Task<Support> DetectAsync(ClusterConnection connection, CancellationToken ct)
    {
        var client = KubeClients.For(connection);
        async Task<bool> Served(string apiVersion, string kind)
        {
            try { return await client.Mapper.FindAsync(apiVersion, kind, ct, refresh: true).ConfigureAwait(false) is not null; }
            catch (KubeApiException e) when (e.IsResourceNotServed) { return false; }
        }
        var keda = await Served(AutoscalingBuilder.KedaApiVersion, "ScaledObject").ConfigureAwait(false);
        var v1alpha2 = await Served("serving.kserve.io/v1alpha2", "LLMInferenceService").ConfigureAwait(false);
        bool custom;
        try { custom = await client.GetAsync("apis/custom.metrics.k8s.io/v1beta1", ct).ConfigureAwait(false) is not null; }
        catch (KubeApiException e) when (e.Code is 404 or 403 or 503) { custom = false; }
        return new Support(keda, v1alpha2, custom);
    }

    public static AutoscalingBackend Resolve(AutoscalingBackend wanted, AutoscalingPlan p, Support s)
    {
        var backend = wanted == AutoscalingBackend.Auto ? (s.Keda ? AutoscalingBackend.Keda : AutoscalingBackend.HorizontalPodAutoscaler) : wanted;
        if (backend == AutoscalingBackend.Keda && !s.Keda)
            throw new RhaiiException("KedaNotInstalled", RhaiiErrorCategory.NotInstalled,
                "The cluster does not serve keda.sh/v1alpha1 ScaledObject (KEDA); nothing was applied.",
                "Install KEDA (helm install keda kedacore/keda -n keda --create-namespace), or pass -Backend HorizontalPodAutoscaler.");
        if (backend == AutoscalingBackend.Keda && string.IsNullOrWhiteSpace(p.PrometheusUrl))
            throw new RhaiiException("PrometheusUrlRequired", RhaiiErrorCategory.InvalidArgument,
                "KEDA's prometheus trigger needs the query endpoint it reads; nothing was applied.",
                "Pass -PrometheusUrl, e.g. http://prometheus-operated.monitoring:9090, or on GKE the Managed Prometheus frontend (https://monitoring.googleapis.com/v1/projects/<project>/location/global/prometheus) with a KEDA TriggerAuthentication for workload identity.");
        if (backend == AutoscalingBackend.HorizontalPodAutoscaler && p.MinReplicas == 0)
            throw new RhaiiException("ScaleToZeroNeedsKeda", RhaiiErrorCategory.InvalidOperation,
                "A HorizontalPodAutoscaler cannot scale to zero here: minReplicas 0 needs the alpha HPAScaleToZero feature gate (off on GKE) and Object or External metrics, and the vLLM per-pod gauges vanish with the last pod, so nothing would scale it back up; nothing was applied.",
                "Install KEDA and pass -Backend Keda -AllowScaleToZero with -Signal PoolQueueSize among the signals, or use -MinReplicas 1.");
        if (backend == AutoscalingBackend.Keda && p.MinReplicas == 0 && !p.Signals.Contains(AutoscalingSignal.PoolQueueSize))
            throw new RhaiiException("ScaleToZeroNeedsPoolSignal", RhaiiErrorCategory.InvalidArgument,
                "With no pods there are no vLLM gauges, so KEDA could never activate the service again; nothing was applied.",
                "Add -Signal PoolQueueSize (the EPP's inference_pool_average_queue_size, which exists while the pool has no pods), or use -MinReplicas 1.");
        return backend;
    }

    public static async Task<LlmInferenceServiceAutoscaling> EnableAsync(ClusterConnection connection, AutoscalingPlan plan, AutoscalingBackend wanted,
        KubeApplyOptions options, IRhaiiLog? log, CancellationToken ct)
    {
        log ??= NullRhaiiLog.Instance;
        Validate(plan);
        var client = KubeClients.For(connection);
        log.Progress(Activity, $"Checking {plan.Namespace}/{plan.Name}", 5);
        try
        {
            var svc = await GetServiceAsync(client, plan.Namespace, plan.Name, ct).ConfigureAwait(false);
            var support = await DetectAsync(connection, ct).ConfigureAwait(false);
            if (!support.KServePreservesReplicas)
                throw new RhaiiException("KServeOverwritesReplicas", RhaiiErrorCategory.InvalidOperation,
                    "The installed KServe serves LLMInferenceService only as v1alpha1 (release-v0.15 or v0.16): its reconciler writes the workload Deployment's replicas from the service on every reconcile, so an autoscaler's changes would be undone at once; nothing was applied.",
                    "Upgrade KServe to v0.17 or later (the CRD then serves v1alpha2 and the reconciler keeps replicas set by an HPA while spec.replicas is unset), or scale by hand with spec.replicas.",
                    plan.Name);
            if (plan.Signals.Contains(AutoscalingSignal.PoolQueueSize) && svc.At("spec", "router", "scheduler") is null)
                throw new RhaiiException("AutoscalingSignalUnavailable", RhaiiErrorCategory.InvalidArgument,
                    $"{plan.Namespace}/{plan.Name} has no scheduler (EPP), so there is no inference_pool_average_queue_size; nothing was applied.",
                    "Drop PoolQueueSize from -Signal, or deploy the service with a scheduler.", plan.Name);
            var backend = Resolve(wanted, plan, support);
            var notes = new List<string>();
            if (backend == AutoscalingBackend.HorizontalPodAutoscaler && !support.CustomMetricsApi)
            {
                var n = "The cluster serves no custom.metrics.k8s.io API: until the Custom Metrics Stackdriver Adapter runs (kubectl apply -f https://raw.githubusercontent.com/GoogleCloudPlatform/k8s-stackdriver/master/custom-metrics-stackdriver-adapter/deploy/production/adapter_new_resource_model.yaml) the HPA reports ScalingActive False (FailedGetPodsMetric).";
                notes.Add(n);
                log.Warning(n);
            }
            notes.Add("The vLLM gauges reach the autoscaler through Managed Prometheus or Prometheus: Enable-LlmInferenceServiceMonitoring sets up the scrape.");

            var objects = new List<JsonObject> { backend == AutoscalingBackend.Keda ? AutoscalingBuilder.ScaledObject(plan) : AutoscalingBuilder.Hpa(plan) };
            log.Progress(Activity, $"Applying the {(backend == AutoscalingBackend.Keda ? "ScaledObject" : "HorizontalPodAutoscaler")}", 40);
            options.Component ??= "autoscaling";
            var result = await new ApplyEngine(connection, log).ApplyAsync(objects, options, ct).ConfigureAwait(false);
            var applied = result.Objects.ToList();
            var mutating = result.MutatingRequests;

            // spec.replicas pins the Deployment even on v0.17+: take it out so the autoscaler owns the count
            if (svc.At("spec", "replicas") is not null)
            {
                log.Progress(Activity, "Removing spec.replicas from the service so KServe leaves the count to the autoscaler", 70);
                await client.SendAsync(HttpMethod.Patch,
                    $"apis/serving.kserve.io/v1alpha1/namespaces/{Uri.EscapeDataString(plan.Namespace)}/llminferenceservices/{Uri.EscapeDataString(plan.Name)}{(options.DryRun ? "?dryRun=All" : "")}",
                    new JsonObject { ["spec"] = new JsonObject { ["replicas"] = null } }, "application/merge-patch+json", ct).ConfigureAwait(false);
                mutating++;
                applied.Add(new KubeObjectResult { ApiVersion = "serving.kserve.io/v1alpha1", Kind = "LLMInferenceService", Namespace = plan.Namespace, Name = plan.Name, Action = options.DryRun ? KubeApplyAction.WouldConfigure : KubeApplyAction.Configured, Ready = true, Message = "spec.replicas removed" });
                notes.Add($"spec.replicas ({svc.At("spec", "replicas")}) was removed from the service; applying its spec again with replicas set pins the count and the autoscaler's changes are undone.");
            }

            int? currentReplicas = null, desiredReplicas = null;
            if (!options.DryRun)
            {
                var hpa = await client.GetAsync($"apis/autoscaling/v2/namespaces/{Uri.EscapeDataString(plan.Namespace)}/horizontalpodautoscalers/{Uri.EscapeDataString(AutoscalingBuilder.AutoscalerName(plan.Name))}", ct).ConfigureAwait(false);
                if (hpa?.Obj("status") is { } st && st.Long("desiredReplicas") is { } d)
                {
                    currentReplicas = (int)(st.Long("currentReplicas") ?? 0);
                    desiredReplicas = (int)d;
                }
            }
            log.Progress(Activity, "Done", 100);
            return new LlmInferenceServiceAutoscaling
            {
                Name = plan.Name, Namespace = plan.Namespace, Backend = backend, Enabled = true,
                ScaleTarget = "Deployment/" + AutoscalingBuilder.WorkloadName(plan.Name),
                MinReplicas = plan.MinReplicas, MaxReplicas = plan.MaxReplicas,
                Metrics = [.. AutoscalingBuilder.Metrics(plan, backend)],
                ScaleUpStabilizationSeconds = (int)plan.ScaleUpStabilization.TotalSeconds, ScaleDownStabilizationSeconds = (int)plan.ScaleDownStabilization.TotalSeconds,
                CurrentReplicas = currentReplicas, DesiredReplicas = desiredReplicas,
                Objects = [.. applied], Notes = [.. notes], MutatingRequests = mutating, DryRun = options.DryRun, Cluster = connection.Name,
            };
        }
        catch (KubeApiException e) { throw e.ToRhaii("setting up autoscaling", plan.Name); }
        catch (KubeTransportException e) { throw e.ToRhaii("setting up autoscaling", plan.Name); }
    }

    /// <summary>Removes the autoscaler (HPA or ScaledObject); the Deployment keeps its current replicas unless <paramref name="replicas"/> pins a count on the service.</summary>
    public static async Task<LlmInferenceServiceAutoscaling> DisableAsync(ClusterConnection connection, string ns, string name, int? replicas,
        KubeApplyOptions options, IRhaiiLog? log, CancellationToken ct)
    {
        log ??= NullRhaiiLog.Instance;
        if (replicas is < 0) throw new RhaiiException("AutoscalingBoundsInvalid", RhaiiErrorCategory.InvalidArgument, $"-Replicas must be 0 or more, not {replicas}; nothing was changed.", "Pass -Replicas 1.");
        var client = KubeClients.For(connection);
        try
        {
            await GetServiceAsync(client, ns, name, ct).ConfigureAwait(false);
            var support = await DetectAsync(connection, ct).ConfigureAwait(false);
            var autoscaler = AutoscalingBuilder.AutoscalerName(name);
            var toDelete = new List<JsonObject>();
            var backend = AutoscalingBackend.HorizontalPodAutoscaler;
            if (support.Keda && await client.GetAsync($"apis/keda.sh/v1alpha1/namespaces/{Uri.EscapeDataString(ns)}/scaledobjects/{Uri.EscapeDataString(autoscaler)}", ct).ConfigureAwait(false) is not null)
            {
                backend = AutoscalingBackend.Keda;
                toDelete.Add(new JsonObject { ["apiVersion"] = AutoscalingBuilder.KedaApiVersion, ["kind"] = "ScaledObject", ["metadata"] = new JsonObject { ["name"] = autoscaler, ["namespace"] = ns } });
            }
            else if (await client.GetAsync($"apis/autoscaling/v2/namespaces/{Uri.EscapeDataString(ns)}/horizontalpodautoscalers/{Uri.EscapeDataString(autoscaler)}", ct).ConfigureAwait(false) is not null)
                toDelete.Add(new JsonObject { ["apiVersion"] = AutoscalingBuilder.HpaApiVersion, ["kind"] = "HorizontalPodAutoscaler", ["metadata"] = new JsonObject { ["name"] = autoscaler, ["namespace"] = ns } });
            var applied = new List<KubeObjectResult>();
            var mutating = 0;
            if (toDelete.Count > 0)
            {
                options.Component ??= "autoscaling";
                var r = await new ApplyEngine(connection, log).DeleteAsync(toDelete, options, ct).ConfigureAwait(false);
                applied.AddRange(r.Objects);
                mutating += r.MutatingRequests;
            }
            var notes = new List<string>();
            if (toDelete.Count == 0) notes.Add("No autoscaler was found; nothing was deleted.");
            var dep = await client.GetAsync($"apis/apps/v1/namespaces/{Uri.EscapeDataString(ns)}/deployments/{Uri.EscapeDataString(AutoscalingBuilder.WorkloadName(name))}", ct).ConfigureAwait(false);
            var current = (int?)dep?.Long("spec", "replicas");
            if (replicas is { } n)
            {
                await client.SendAsync(HttpMethod.Patch,
                    $"apis/serving.kserve.io/v1alpha1/namespaces/{Uri.EscapeDataString(ns)}/llminferenceservices/{Uri.EscapeDataString(name)}{(options.DryRun ? "?dryRun=All" : "")}",
                    new JsonObject { ["spec"] = new JsonObject { ["replicas"] = n } }, "application/merge-patch+json", ct).ConfigureAwait(false);
                mutating++;
                applied.Add(new KubeObjectResult { ApiVersion = "serving.kserve.io/v1alpha1", Kind = "LLMInferenceService", Namespace = ns, Name = name, Action = options.DryRun ? KubeApplyAction.WouldConfigure : KubeApplyAction.Configured, Ready = true, Message = $"spec.replicas set to {n}" });
                notes.Add($"spec.replicas set to {n}: KServe scales the workload to it.");
            }
            else if (current is not null)
                notes.Add($"The workload keeps its current {current} replica(s); pass -Replicas to pin a count on the service.");
            return new LlmInferenceServiceAutoscaling
            {
                Name = name, Namespace = ns, Backend = backend, Enabled = false, ScaleTarget = "Deployment/" + AutoscalingBuilder.WorkloadName(name),
                CurrentReplicas = current, Objects = [.. applied], Notes = [.. notes], MutatingRequests = mutating, DryRun = options.DryRun, Cluster = connection.Name,
            };
        }
        catch (KubeApiException e) { throw e.ToRhaii("turning autoscaling off", name); }
        catch (KubeTransportException e) { throw e.ToRhaii("turning autoscaling off", name); }
    }

    private static async Task<JsonObject> GetServiceAsync(KubeClient client, string ns, string name, CancellationToken ct)
    {
        JsonObject? svc;
        try { svc = await client.GetAsync($"apis/serving.kserve.io/v1alpha1/namespaces/{Uri.EscapeDataString(ns)}/llminferenceservices/{Uri.EscapeDataString(name)}", ct).ConfigureAwait(false); }
        catch (KubeApiException e) when (e.IsResourceNotServed)
        {
            throw new RhaiiException("KServeNotInstalled", RhaiiErrorCategory.NotInstalled,
                "The cluster does not serve serving.kserve.io/v1alpha1 LLMInferenceService; nothing was applied.", "Run Install-RhaiiOperators first.", name, e);
        }
        return svc ?? throw new RhaiiException("LlmInferenceServiceNotFound", RhaiiErrorCategory.ObjectNotFound,
            $"LLMInferenceService {ns}/{name} does not exist; nothing was applied.",
            "Check -Name and -Namespace (Get-LlmInferenceService lists them), or deploy it first with Deploy-LlmInferenceService.", name);
    }
}
