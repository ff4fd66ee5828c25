namespace RhaiiGke;

/// <summary>The runbook patterns RhaiiGke knows how to build.</summary>
public enum DeploymentPattern
{
    /// <summary>One replica behind the EPP scheduler and an Istio gateway (seeds 000 and 004).</summary>
    Baseline,
    /// <summary>Several replicas with prefix caching, the EPP scheduler and body forwarding (seed 003).</summary>
    CacheAware,
    /// <summary>The Baseline workload behind a GKE regional Gateway instead of Istio (seed 002).</summary>
    GkeNativeGateway,
}

/// <summary>Gateway implementations an inference Gateway can use.</summary>
public enum InferenceGatewayClass
{
    Istio,
    GkeRegionalExternal,
    GkeRegionalInternal,
}

/// <summary>
/// Desired state of one KServe LLMInferenceService on TPU. Built by New-LlmInferenceServiceSpec,
/// which derives the TPU settings (labels, toleration, google.com/tpu, tensor parallelism) from
/// Accelerator and Topology so the manifest is right by construction.
/// </summary>
public sealed class LlmInferenceServiceSpec
{
    public string Name { get; set; } = "";
    public string Namespace { get; set; } = "rhaii-inference";
    /// <summary>hf://, pvc://, s3://, oci:// or gs:// (gs:// through Workload Identity: see <see cref="GcpServiceAccount"/>).</summary>
    public string ModelUri { get; set; } = "";
    /// <summary>The name clients send as "model"; KServe's default is the object name.</summary>
    public string ModelName { get; set; } = "";
    public int Replicas { get; set; } = 1;
    public DeploymentPattern Pattern { get; set; } = DeploymentPattern.Baseline;

    public string Accelerator { get; set; } = "v6e";
    public string Topology { get; set; } = "2x2";
    public string MachineType { get; set; } = "";
    /// <summary>Value of cloud.google.com/gke-tpu-accelerator.</summary>
    public string NodeLabel { get; set; } = "";
    public int ChipsPerHost { get; set; }
    public int Hosts { get; set; } = 1;
    public int TensorParallelSize { get; set; }

    public int MaxModelLength { get; set; } = 4096;
    public bool PrefixCaching { get; set; }
    /// <summary>Extra vLLM flags; they go into VLLM_ADDITIONAL_ARGS, never into args.</summary>
    public RhaiiList<string> VllmArguments { get; set; } = [];
    public string? Image { get; set; }

    /// <summary>Secret with key HF_TOKEN, listed on the workload ServiceAccount for the storage initializer.</summary>
    public string? HuggingFaceTokenSecret { get; set; }
    public string ServiceAccountName { get; set; } = "";
    public string? PullSecretName { get; set; }

    public string GatewayName { get; set; } = "inference-gateway";
    public string GatewayNamespace { get; set; } = "opendatahub";
    public InferenceGatewayClass GatewayClass { get; set; } = InferenceGatewayClass.Istio;
    /// <summary>Use the llm-d EPP scheduler (router.scheduler); off only for plain Service routing.</summary>
    public bool Scheduler { get; set; } = true;

    /// <summary>Seconds the startup probe allows for model download plus XLA compilation.</summary>
    public int StartupTimeoutSeconds { get; set; } = 1800;

    /// <summary>
    /// Google service account (NAME@PROJECT.iam.gserviceaccount.com) the workload ServiceAccount is bound to with
    /// Workload Identity (annotation iam.gke.io/gcp-service-account); gs:// models are read as this account.
    /// </summary>
    public string? GcpServiceAccount { get; set; }

    /// <summary>Gateway address family-free URL path prefix clients use: /&lt;namespace&gt;/&lt;name&gt;.</summary>
    public string PathPrefix => $"/{Namespace}/{Name}";

    public override string ToString() => $"{Namespace}/{Name} ({ModelUri} on {Accelerator} {Topology})";
}

/// <summary>One Kubernetes object rendered by RhaiiGke: identity plus its YAML.</summary>
public sealed class ManifestObject
{
    public string ApiVersion { get; init; } = "";
    public string Kind { get; init; } = "";
    public string Name { get; init; } = "";
    public string? Namespace { get; init; }
    /// <summary>What the object is for: namespace, pki, gateway, secret, workload, policy, routing.</summary>
    public string Component { get; init; } = "";
    /// <summary>Apply order: lower first.</summary>
    public int Order { get; init; }
    /// <summary>Stable file name, e.g. 40-llminferenceservice-qwen.yaml.</summary>
    public string FileName { get; init; } = "";
    public string Yaml { get; init; } = "";
    /// <summary>True when the object holds placeholders a person must replace (secrets).</summary>
    public bool HasPlaceholders { get; init; }

    public override string ToString() => $"{Kind}/{Name}";
}

/// <summary>A manifest written to disk by Export-RhaiiManifest.</summary>
public sealed class ManifestFile
{
    public string Path { get; init; } = "";
    public string Kind { get; init; } = "";
    public string Name { get; init; } = "";
    public string? Namespace { get; init; }
    public int Order { get; init; }
    public bool HasPlaceholders { get; init; }
    public override string ToString() => Path;
}
