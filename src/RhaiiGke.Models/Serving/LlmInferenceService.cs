namespace RhaiiGke;

/// <summary>When Deploy-LlmInferenceService adds the body-forwarding EnvoyFilter.</summary>
public enum EnvoyFilterMode
{
    /// <summary>CacheAware on an Istio gateway with the EPP scheduler: patch the InferencePool rules of the route KServe created.</summary>
    Auto,
    Always,
    Never,
}


/// <summary>
/// Where an LLMInferenceService (or one of its pods) is on the way to serving. The order is the order of
/// a healthy start: Pending, then scheduled onto a TPU node, the image pulled, the model downloaded by
/// the storage initializer, vLLM compiling for the TPU (XLA), Ready. Failure stages can heal (a pull
/// secret created later) but need a fix first.
/// </summary>
public enum ServingStage
{
    /// <summary>Nothing to look at yet: no workload objects or pods.</summary>
    Pending = 0,
    /// <summary>The scheduler refused the pod (TPU label, topology, taint toleration or chip capacity).</summary>
    Unschedulable = 1,
    /// <summary>Scheduled; image pull and container creation.</summary>
    Starting = 2,
    /// <summary>The storage initializer is downloading the model.</summary>
    DownloadingModel = 3,
    /// <summary>vLLM is running but not ready: XLA compilation of the TPU graphs (minutes on first start).</summary>
    Compiling = 4,
    Ready = 5,
    /// <summary>Scaled to zero with the serving.kserve.io/stop annotation; no workload pod is left.</summary>
    Stopped = 6,
    /// <summary>The serving.kserve.io/stop annotation is set and workload pods are still shutting down.</summary>
    Stopping = 7,
    /// <summary>An image cannot be pulled (registry credentials, image name).</summary>
    ImagePullFailed = 10,
    /// <summary>The storage initializer fails (Hugging Face token, model URI).</summary>
    ModelDownloadFailed = 11,
    /// <summary>vLLM exits (TPU settings, memory, flags).</summary>
    CrashLoop = 12,
    /// <summary>Created but KServe reports a configuration problem (presets, gateway, route, pool).</summary>
    Misconfigured = 13,
}

/// <summary>One condition of an LLMInferenceService (Ready, WorkloadsReady, RouterReady and their parts).</summary>
public sealed class ServiceCondition
{
    public string Type { get; init; } = "";
    /// <summary>True, False or Unknown.</summary>
    public string Status { get; init; } = "Unknown";
    public string? Reason { get; init; }
    public string? Message { get; init; }
    public DateTimeOffset? LastTransitionTime { get; init; }
    /// <summary>The condition this one rolls up into (Ready for WorkloadsReady/RouterReady; WorkloadsReady or RouterReady for the rest).</summary>
    public string? Parent { get; init; }
    public bool IsTrue => Status == "True";
    public override string ToString() => $"{Type}={Status}{(Reason is { Length: > 0 } ? " " + Reason : "")}";
}

/// <summary>A pod of an LLMInferenceService and the stage it is in.</summary>
public sealed class ServicePod
{
    public string Name { get; init; } = "";
    /// <summary>workload or scheduler (the EPP).</summary>
    public string Role { get; init; } = "";
    public string? Phase { get; init; }
    public ServingStage Stage { get; init; }
    public bool Ready { get; init; }
    public string? Node { get; init; }
    public string? PodIP { get; init; }
    public int Restarts { get; init; }
    /// <summary>Why it is not ready (scheduler message, waiting reason, last termination message).</summary>
    public string? Message { get; init; }
    public override string ToString() => $"{Name} {Stage}";
}

/// <summary>
/// An LLMInferenceService as the cluster reports it: Deploy-, Get-, Wait- and Set-LlmInferenceService
/// return it. Url and Model pipe into Test-InferenceEndpoint and Invoke-InferenceBenchmark (BaseUrl).
/// </summary>
public sealed class LlmInferenceService
{
    public string Name { get; init; } = "";
    public string Namespace { get; init; } = "";
    /// <summary>The name clients send as "model" (spec.model.name).</summary>
    public string? Model { get; init; }
    /// <summary>Where the weights come from (spec.model.uri), e.g. hf://Qwen/Qwen2.5-7B-Instruct.</summary>
    public string? ModelUri { get; init; }
    public ServingStage Stage { get; init; }
    public bool Ready { get; init; }
    /// <summary>True when the serving.kserve.io/stop annotation scales it to zero.</summary>
    public bool Stopped { get; init; }
    /// <summary>Desired workload replicas (spec.replicas; 0 when stopped).</summary>
    public int Replicas { get; init; }
    /// <summary>Ready workload pods serving for the service; 0 once it is stopped (pods still shutting down are in <see cref="Pods"/>).</summary>
    public int ReadyReplicas { get; init; }
    /// <summary>status.url: http://&lt;gateway address&gt;/&lt;namespace&gt;/&lt;name&gt;.</summary>
    public string? Url { get; init; }
    /// <summary>The OpenAI base URL (Url + /v1) for clients and for piping into the inference commands.</summary>
    public string? BaseUrl => Url is null ? null : Url.TrimEnd('/') + "/v1";
    public string? GatewayAddress { get; init; }
    /// <summary>namespace/name of the Gateway the route attaches to.</summary>
    public string? Gateway { get; init; }
    /// <summary>Baseline, CacheAware or GkeNativeGateway when deployed by RhaiiGke.</summary>
    public string? Pattern { get; init; }
    public string? Image { get; init; }
    /// <summary>TPU node selector (accelerator label value and topology).</summary>
    public string? Accelerator { get; init; }
    public string? Topology { get; init; }
    public bool Scheduler { get; init; }
    /// <summary>InferencePool API group the route uses (inference.networking.k8s.io or inference.networking.x-k8s.io).</summary>
    public string? InferencePoolGroup { get; init; }
    public RhaiiList<ServiceCondition> Conditions { get; init; } = [];
    public RhaiiList<ServicePod> Pods { get; init; } = [];
    /// <summary>Why it is not Ready, in one line (the deepest failing condition or pod).</summary>
    public string? Message { get; init; }
    public long Generation { get; init; }
    public long ObservedGeneration { get; init; }
    public DateTimeOffset? CreationTimestamp { get; init; }
    /// <summary>Mutating API requests this command sent (0 when everything was already as asked).</summary>
    public int MutatingRequests { get; set; }
    /// <summary>Objects applied by Deploy-LlmInferenceService and what happened to each.</summary>
    public RhaiiList<KubeObjectResult> Objects { get; set; } = [];
    public bool DryRun { get; set; }
    public string Cluster { get; init; } = "";

    public ServiceCondition? Condition(string type) => Conditions.FirstOrDefault(c => c.Type == type);
    public override string ToString() => $"{Namespace}/{Name} {Stage} {ReadyReplicas}/{Replicas}";
}
