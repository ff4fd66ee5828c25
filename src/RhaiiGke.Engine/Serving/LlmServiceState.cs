using System.Globalization;
using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube.Json;
using RhaiiGke.Engine.Manifests;

namespace RhaiiGke.Engine.Serving;

/// <summary>
/// Turns an LLMInferenceService, its pods and its Gateway (plain Kubernetes JSON) into the typed
/// <see cref="LlmInferenceService"/>, and classifies each pod into a <see cref="ServingStage"/> from
/// the fields kubectl describe shows (PodScheduled, init and container states, probes). Pure: unit
/// tests feed it fixtures.
/// </summary>
public static class LlmServiceState
{
    public const string StopAnnotation = "serving.kserve.io/stop";
    public const string StorageInitializer = "storage-initializer";

    private static readonly Dictionary<string, string?> ConditionParents = new()
    {
        ["Ready"] = null,
        ["WorkloadsReady"] = "Ready",
        ["RouterReady"] = "Ready",
        ["MainWorkloadReady"] = "WorkloadsReady",
        ["WorkerWorkloadReady"] = "WorkloadsReady",
        ["PrefillWorkloadReady"] = "WorkloadsReady",
        ["SchedulerWorkloadReady"] = "WorkloadsReady",
        ["GatewaysReady"] = "RouterReady",
        ["HTTPRoutesReady"] = "RouterReady",
        ["InferencePoolReady"] = "RouterReady",
        ["PresetsCombined"] = "Ready",
    };

    /// <summary>Labels KServe puts on the workload pods of service <paramref name="name"/>.</summary>
    public static Dictionary<string, string> WorkloadSelector(string name) => new()
    {
        ["app.kubernetes.io/component"] = ManifestBuilder.WorkloadComponent,
        ["app.kubernetes.io/name"] = name,
    };

    public static Dictionary<string, string> SchedulerSelector(string name) => new()
    {
        ["app.kubernetes.io/component"] = ManifestBuilder.SchedulerComponent,
        ["app.kubernetes.io/name"] = name,
    };

    public static string LabelSelector(IReadOnlyDictionary<string, string> labels) => string.Join(",", labels.Select(kv => $"{kv.Key}={kv.Value}"));

    /// <summary>The typed view of one service.</summary>
    public static LlmInferenceService Read(JsonObject svc, IEnumerable<JsonObject> pods, JsonObject? gateway, JsonObject? route, string cluster)
    {
        var name = svc.Name();
        var ns = svc.Namespace() ?? "default";
        var spec = svc.Obj("spec");
        var status = svc.Obj("status");
        var stopped = svc.Annotations().TryGetValue(StopAnnotation, out var stop) && string.Equals(stop, "true", StringComparison.OrdinalIgnoreCase);
        var workloadSel = WorkloadSelector(name);
        var schedulerSel = SchedulerSelector(name);
        var podList = pods.Where(p => p.Str("metadata", "deletionTimestamp") is null).ToList();
        var typedPods = new List<ServicePod>();
        foreach (var p in podList.OrderBy(p => p.Name(), StringComparer.Ordinal))
        {
            var labels = p.Labels();
            var role = Matches(labels, workloadSel) ? "workload" : Matches(labels, schedulerSel) ? "scheduler" : MultiHostState.Role(labels);
            if (role is null) continue;
            var (stage, podMessage) = Classify(p);
            typedPods.Add(new ServicePod
            {
                Name = p.Name(),
                Role = role,
                Phase = p.Str("status", "phase"),
                Stage = stage,
                Ready = stage == ServingStage.Ready,
                Node = p.Str("spec", "nodeName"),
                PodIP = p.Str("status", "podIP"),
                Restarts = (int)AllStatuses(p).Sum(s => s.Status.Long("restartCount") ?? 0),
                Message = podMessage,
            });
        }
        var conditions = (status.Arr("conditions") ?? []).OfType<JsonObject>().Select(c => new ServiceCondition
        {
            Type = c.Str("type") ?? "",
            Status = c.Str("status") ?? "Unknown",
            Reason = c.Str("reason"),
            Message = c.Str("message") is { Length: > 0 } m ? m : null,
            LastTransitionTime = DateTimeOffset.TryParse(c.Str("lastTransitionTime"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null,
            Parent = ConditionParents.TryGetValue(c.Str("type") ?? "", out var parent) ? parent : "Ready",
        }).OrderBy(c => Depth(c.Type)).ThenBy(c => c.Type, StringComparer.Ordinal).ToArray();

        var ready = conditions.FirstOrDefault(c => c.Type == "Ready")?.IsTrue == true && !stopped;
        var workloadPods = typedPods.Where(p => p.Role == "workload").ToList();
        var replicas = stopped ? 0 : (int)Math.Clamp(spec.Long("replicas") ?? 1, 0, int.MaxValue); // saturate, never wrap
        // a stopped service serves nothing: KServe takes its Ready condition down and scales the workload to zero,
        // so pods still shutting down are not counted as ready replicas (they stay listed in Pods)
        var readyReplicas = stopped ? 0 : workloadPods.Count(p => p.Ready);
        var (stageOut, message) = Overall(ready, stopped, workloadPods, typedPods.Where(p => p.Role == "scheduler").ToList(), conditions, replicas);
        if (!ready && !stopped) (stageOut, message) = MultiHostState.Groups(podList, typedPods, stageOut, message);

        var gwRef = (spec.Arr("router", "gateway", "refs") ?? []).OfType<JsonObject>().FirstOrDefault();
        var gwName = gwRef.Str("name") ?? gateway?.Name();
        var gwNs = gwRef.Str("namespace") ?? gateway?.Namespace();
        var address = (gateway.Arr("status", "addresses") ?? []).OfType<JsonObject>().Select(a => a.Str("value")).FirstOrDefault(v => v is not null);
        var url = status.Str("url") ?? (status.Arr("addresses") ?? []).OfType<JsonObject>().Select(a => a.Str("url")).FirstOrDefault();
        if (url is null && address is not null && spec?["router"]?["route"] is not null) url = $"http://{address}/{ns}/{name}";
        var container = (spec.Arr("template", "containers") ?? []).OfType<JsonObject>().FirstOrDefault(c => c.Str("name") == "main")
                        ?? (spec.Arr("template", "containers") ?? []).OfType<JsonObject>().FirstOrDefault();
        var poolGroup = (route.Arr("spec", "rules") ?? []).OfType<JsonObject>()
            .SelectMany(r => (r.Arr("backendRefs") ?? []).OfType<JsonObject>())
            .Where(b => b.Str("kind") == "InferencePool").Select(b => b.Str("group")).FirstOrDefault(g => g is not null);
        return new LlmInferenceService
        {
            Name = name,
            Namespace = ns,
            Model = spec.Str("model", "name") ?? name,
            ModelUri = spec.Str("model", "uri"),
            Stage = stageOut,
            Ready = ready,
            Stopped = stopped,
            Replicas = replicas,
            ReadyReplicas = readyReplicas,
            Url = url,
            GatewayAddress = address,
            Gateway = gwName is null ? null : $"{gwNs ?? "opendatahub"}/{gwName}",
            Pattern = svc.Labels().TryGetValue("rhaiigke.io/pattern", out var pattern) ? pattern : null,
            Image = container.Str("image"),
            Accelerator = spec.Str("template", "nodeSelector", ManifestBuilder.TpuAcceleratorLabel),
            Topology = spec.Str("template", "nodeSelector", ManifestBuilder.TpuTopologyLabel),
            Scheduler = spec?["router"]?["scheduler"] is not null,
            InferencePoolGroup = poolGroup,
            Conditions = conditions,
            Pods = typedPods.ToArray(),
            Message = ready ? null : message,
            Generation = svc.Long("metadata", "generation") ?? 0,
            ObservedGeneration = status.Long("observedGeneration") ?? 0,
            CreationTimestamp = DateTimeOffset.TryParse(svc.Str("metadata", "creationTimestamp"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var created) ? created : null,
            Cluster = cluster,
        };
    }

    private static int Depth(string type)
    {
        var d = 0;
        var t = type;
        while (ConditionParents.TryGetValue(t, out var p) && p is not null && d < 5) { d++; t = p; }
        return d;
    }

    private static bool Matches(IReadOnlyDictionary<string, string> labels, IReadOnlyDictionary<string, string> selector) =>
        selector.All(kv => labels.TryGetValue(kv.Key, out var v) && v == kv.Value);

    /// <summary>The service's stage: Stopping/Stopped, Ready, a failure any workload pod is in, else the least advanced pod.</summary>
    private static (ServingStage, string?) Overall(bool ready, bool stopped, List<ServicePod> workload, List<ServicePod> scheduler, ServiceCondition[] conditions, int replicas)
    {
        if (stopped)
            return workload.Count == 0
                ? (ServingStage.Stopped, "stopped with serving.kserve.io/stop")
                : (ServingStage.Stopping, $"stopping with serving.kserve.io/stop: {workload.Count} workload pod(s) still shutting down");
        if (ready) return (ServingStage.Ready, null);
        var failed = workload.Concat(scheduler).Where(p => (int)p.Stage >= 10).OrderBy(p => p.Stage).FirstOrDefault();
        if (failed is not null) return (failed.Stage, $"pod {failed.Name}: {failed.Message}");
        var presets = conditions.FirstOrDefault(c => c.Type == "PresetsCombined");
        if (presets is { IsTrue: false }) return (ServingStage.Misconfigured, presets.Message);
        if (workload.Count == 0) return (ServingStage.Pending, DeepestFailing(conditions) ?? "waiting for KServe to create the workload");
        var least = workload.Concat(scheduler).OrderBy(p => p.Stage).First();
        if (least.Stage == ServingStage.Ready && workload.Count(p => p.Ready) >= replicas)
        {
            // Pods are up but KServe still says not Ready: routing (gateway, HTTPRoute, pool) is what is left.
            var why = DeepestFailing(conditions);
            var routing = conditions.Any(c => !c.IsTrue && c.Type is "RouterReady" or "GatewaysReady" or "HTTPRoutesReady" or "InferencePoolReady");
            return (routing ? ServingStage.Misconfigured : ServingStage.Compiling, why ?? "waiting for KServe to report Ready");
        }
        return (least.Stage, $"pod {least.Name}: {least.Message}");
    }

    private static string? DeepestFailing(ServiceCondition[] conditions) =>
        conditions.Where(c => !c.IsTrue && c.Message is not null).OrderByDescending(c => Depth(c.Type)).Select(c => $"{c.Type}: {c.Message}").FirstOrDefault();

    private static IEnumerable<(JsonObject Status, bool Init)> AllStatuses(JsonObject pod) =>
        (pod.Arr("status", "initContainerStatuses") ?? []).OfType<JsonObject>().Select(s => (s, true))
            .Concat((pod.Arr("status", "containerStatuses") ?? []).OfType<JsonObject>().Select(s => (s, false)));

    /// <summary>The stage of one pod and the reason it is not further.</summary>
    public static (ServingStage Stage, string? Message) Classify(JsonObject pod)
    {
        var conditions = (pod.Arr("status", "conditions") ?? []).OfType<JsonObject>().ToList();
        JsonObject? Cond(string t) => conditions.FirstOrDefault(c => c.Str("type") == t);
        var scheduled = Cond("PodScheduled");
        if (scheduled?.Str("status") == "False")
            return (ServingStage.Unschedulable, scheduled.Str("message") ?? scheduled.Str("reason"));
        if (pod.Str("spec", "nodeName") is null && scheduled is null)
            return (ServingStage.Pending, "not scheduled yet");

        foreach (var (s, init) in AllStatuses(pod))
        {
            var waiting = s.Obj("state", "waiting");
            var reason = waiting.Str("reason");
            var last = s.Obj("lastState", "terminated") ?? s.Obj("state", "terminated");
            var lastMsg = last.Str("message") is { Length: > 0 } lm ? lm.Trim() : last.Str("reason");
            var cname = s.Str("name");
            if (reason is "ErrImagePull" or "ImagePullBackOff" or "InvalidImageName" or "ErrImageNeverPull")
                return (ServingStage.ImagePullFailed, $"{cname}: {reason}: {waiting.Str("message")}");
            if (reason is "CreateContainerConfigError" or "CreateContainerError")
                return (init ? ServingStage.ModelDownloadFailed : ServingStage.CrashLoop, $"{cname}: {reason}: {waiting.Str("message")}");
            var failedExit = s.Obj("state", "terminated") is { } term && (term.Long("exitCode") ?? 0) != 0;
            // Running again after failing twice or more is still a crash loop: between back-offs the
            // container runs, and the stage must not flip back to progress each time.
            var looping = (s.Long("restartCount") ?? 0) >= 2 && (s.Long("lastState", "terminated", "exitCode") ?? 0) != 0;
            if (reason == "CrashLoopBackOff" || looping || (failedExit && (s.Long("restartCount") ?? 0) > 0) || (init && failedExit))
                return (init ? ServingStage.ModelDownloadFailed : ServingStage.CrashLoop,
                    $"{cname}: {reason ?? "Error"} (restarts {s.Long("restartCount") ?? 0}){(lastMsg is null ? "" : ": " + Tail(lastMsg))}");
        }

        var initStatuses = (pod.Arr("status", "initContainerStatuses") ?? []).OfType<JsonObject>().ToList();
        var initialized = Cond("Initialized");
        if (initialized?.Str("status") == "False" || initStatuses.Any(s => s.Obj("state", "terminated") is null))
        {
            var running = initStatuses.FirstOrDefault(s => s.Obj("state", "terminated") is null);
            if (running?.Str("name") == StorageInitializer || running is null && initStatuses.Any(s => s.Str("name") == StorageInitializer))
                return (ServingStage.DownloadingModel, running?.Obj("state", "running") is not null ? "storage-initializer is downloading the model" : "waiting for the storage initializer");
            return (ServingStage.Starting, running is null ? "initializing" : $"init container {running.Str("name")} {(running.Obj("state", "running") is not null ? "running" : running.Str("state", "waiting", "reason") ?? "waiting")}");
        }

        var statuses = (pod.Arr("status", "containerStatuses") ?? []).OfType<JsonObject>().ToList();
        if (Cond("Ready")?.Str("status") == "True" && pod.Str("status", "phase") == "Running") return (ServingStage.Ready, null);
        if (statuses.Count == 0 || statuses.Any(s => s.Obj("state", "running") is null))
        {
            var waiting = statuses.Select(s => s.Str("state", "waiting", "reason")).FirstOrDefault(r => r is not null);
            return (ServingStage.Starting, waiting ?? "creating containers");
        }
        var notReady = statuses.FirstOrDefault(s => s.Bool("ready") != true);
        return (ServingStage.Compiling, notReady is null ? "containers running, pod not Ready yet"
            : $"{notReady.Str("name")} running, not ready ({(notReady.Bool("started") == false ? "startup probe: vLLM is loading the model and compiling for the TPU" : "readiness probe failing")})");
    }

    private static string Tail(string message)
    {
        var lines = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var last = lines.Length == 0 ? message : lines[^1];
        return last.Length > 300 ? last[..300] + "..." : last;
    }
}
