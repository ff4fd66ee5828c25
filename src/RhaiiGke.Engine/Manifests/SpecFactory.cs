using System.Text.RegularExpressions;
using RhaiiGke.Engine.Catalog;

namespace RhaiiGke.Engine.Manifests;

/// <summary>Inputs of New-LlmInferenceServiceSpec before validation and derivation.</summary>
public sealed record SpecRequest
{
    public string Name { get; init; } = "";
    public string? Namespace { get; init; }
    public string Model { get; init; } = "";
    public string? ModelName { get; init; }
    public int? Replicas { get; init; }
    public DeploymentPattern Pattern { get; init; } = DeploymentPattern.Baseline;
    public string Accelerator { get; init; } = "v6e";
    public string Topology { get; init; } = "2x2";
    public string? MachineType { get; init; }
    public int? TensorParallelSize { get; init; }
    public int MaxModelLength { get; init; } = 4096;
    public bool? PrefixCaching { get; init; }
    public string[] VllmArguments { get; init; } = [];
    public string? Image { get; init; }
    public string? HuggingFaceTokenSecret { get; init; }
    public string? PullSecretName { get; init; }
    public string? ServiceAccountName { get; init; }
    public string? GatewayName { get; init; }
    public string? GatewayNamespace { get; init; }
    public InferenceGatewayClass? GatewayClass { get; init; }
    public bool Scheduler { get; init; } = true;
    public int StartupTimeoutSeconds { get; init; } = 1800;
    /// <summary>Google service account for Workload Identity (required for gs:// models).</summary>
    public string? GcpServiceAccount { get; init; }
}

/// <summary>Validates a <see cref="SpecRequest"/> and derives every TPU-dependent setting.</summary>
public static partial class SpecFactory
{
    public const string DefaultTpuImage = "registry.redhat.io/rhaiis/vllm-tpu-rhel9:3.2.5";
    public const string DefaultNamespace = "rhaii-inference";
    private static readonly string[] SupportedSchemes = ["hf", "pvc", "s3", "oci"];

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")] private static partial Regex DnsLabel();
    [GeneratedRegex(@"^[A-Za-z0-9][-A-Za-z0-9_.]*/[-A-Za-z0-9_.]+$")] private static partial Regex HfRepoId();

    /// <summary>Flags the spec owns; people must use parameters instead, so the served name and TLS stay intact.</summary>
    private static readonly Dictionary<string, string> OwnedFlags = new(StringComparer.Ordinal)
    {
        ["--served-model-name"] = "Use -ModelName; KServe passes it as --served-model-name.",
        ["--model"] = "Use -Model; KServe downloads it to /mnt/models and serves it from there.",
        ["--port"] = "KServe's workload Service and probes use port 8000.",
        ["--tensor-parallel-size"] = "Use -TensorParallelSize (derived from -Topology by default).",
        ["-tp"] = "Use -TensorParallelSize (derived from -Topology by default).",
        ["--max-model-len"] = "Use -MaxModelLength.",
        ["--enable-prefix-caching"] = "Use -PrefixCaching (on for the CacheAware pattern).",
        ["--prefix-cache-block-size"] = "Remove it: it crash-loops vLLM on TPU.",
        ["--ssl-certfile"] = "KServe mounts its own certificate; leave TLS flags to it.",
        ["--ssl-keyfile"] = "KServe mounts its own certificate; leave TLS flags to it.",
    };

    public static LlmInferenceServiceSpec Create(SpecRequest r, IRhaiiLog? log = null)
    {
        log ??= NullRhaiiLog.Instance;
        if (string.IsNullOrWhiteSpace(r.Name) || r.Name.Length > 63 || !DnsLabel().IsMatch(r.Name))
            throw new RhaiiException("InvalidServiceName", RhaiiErrorCategory.InvalidArgument,
                $"'{r.Name}' is not a valid name: use lowercase letters, digits and '-', starting and ending with a letter or digit.",
                "Use a name such as qwen-3b.", r.Name);
        if (r.Name.Length > 40)
            log.Warning($"Name '{r.Name}' is {r.Name.Length} characters; KServe appends suffixes such as '-kserve-router-scheduler' to child objects and shortens names over 63 characters with a hash. Prefer 40 or fewer.");
        var ns = string.IsNullOrWhiteSpace(r.Namespace) ? DefaultNamespace : r.Namespace!;
        if (ns.Length > 63 || !DnsLabel().IsMatch(ns))
            throw new RhaiiException("InvalidNamespace", RhaiiErrorCategory.InvalidArgument, $"'{ns}' is not a valid namespace name.", "Use lowercase letters, digits and '-'.", ns);

        var (uri, scheme) = NormalizeModelUri(r.Model);
        var gsa = GcsModels.ValidateServiceAccount(r.GcpServiceAccount, uri, scheme);
        var modelName = !string.IsNullOrWhiteSpace(r.ModelName) ? r.ModelName!
            : scheme == "hf" ? uri[5..] : r.Name;

        // NVIDIA GPUs (nvidia-l4, ...) resolve to a GPU machine type; -Topology is then the GPU count (GpuCatalog)
        var gpu = GpuCatalog.Normalize(r.Accelerator);
        var accel = gpu ?? TpuCatalog.RequireAccelerator(r.Accelerator);
        var topo = gpu is not null ? GpuCatalog.Resolve(gpu, GpuCatalog.CountOf(r.Topology), r.MachineType) : TpuCatalog.Resolve(accel, r.Topology, r.MachineType);
        if (topo.MultiHost)
            log.Verbose($"Topology {topo.Topology} on {topo.MachineType} spans {topo.Hosts} hosts: each replica is a LeaderWorkerSet group of {topo.Hosts} pods (spec.worker), tensor-parallel within a host and pipeline-parallel across hosts.");

        var info = ModelCatalog.Find(uri);
        int tp;
        if (r.TensorParallelSize is int explicitTp)
        {
            if (explicitTp < 1 || explicitTp > topo.ChipsPerHost || topo.ChipsPerHost % explicitTp != 0)
                throw new RhaiiException("TensorParallelMismatch", RhaiiErrorCategory.InvalidArgument,
                    $"Tensor-parallel size {explicitTp} does not fit {topo.ChipsPerHost} chip(s) per host of {topo.MachineType}.",
                    topo.MultiHost
                        ? $"On a multi-host slice the tensor-parallel size is per host (pipeline parallelism spans the {topo.Hosts} hosts): use a divisor of {topo.ChipsPerHost}, normally {topo.ChipsPerHost}."
                        : $"Use a divisor of {topo.ChipsPerHost}, normally {topo.ChipsPerHost} (every chip the pod requests).", explicitTp);
            if (info is not null && info.AttentionHeads % explicitTp != 0)
                throw new RhaiiException("TensorParallelMismatch", RhaiiErrorCategory.InvalidArgument,
                    $"{info.Id} has {info.AttentionHeads} attention heads, which do not divide by tensor-parallel size {explicitTp}.",
                    "Pick a tensor-parallel size that divides the attention heads.", explicitTp);
            tp = explicitTp;
        }
        else
        {
            tp = topo.ChipsPerHost;
            if (info is not null) while (tp > 1 && info.AttentionHeads % tp != 0) tp /= 2;
        }
        if (tp < topo.ChipsPerHost)
            log.Warning($"Tensor-parallel size {tp} uses {tp} of the {topo.ChipsPerHost} chips the pod must request on {topo.MachineType}; the rest idle.");

        if (info is not null)
        {
            var fits = TpuSizer.Size(new TpuSizer.Request(info.Id, MaxModelLength: r.MaxModelLength, Accelerator: accel));
            var fit = fits.First(f => f.Topology.MachineType == topo.MachineType && f.Topology.Topology == topo.Topology);
            if (!fit.Fits)
            {
                var ok = fits.Where(f => f.Fits).OrderBy(f => f.Topology.MultiHost).ThenBy(f => f.Chips).Select(f => f.TopologyName).Distinct().ToList();
                throw new RhaiiException("ModelDoesNotFitTopology", RhaiiErrorCategory.InvalidArgument,
                    $"{info.Id} needs about {fit.WeightsGiB + fit.KvCacheGiB:0.#} GiB (weights {fit.WeightsGiB:0.#} + KV cache {fit.KvCacheGiB:0.#}) but {accel} {topo.Topology} offers {fit.UsableHbmGiB:0.#} GiB usable.",
                    ok.Count > 0 ? $"Use -Topology {ok[0]} or reduce -MaxModelLength." : "Use a larger accelerator or reduce -MaxModelLength.", r.Topology);
            }
            if (fit.WastedChips > 0) log.Warning(fit.Note);
        }

        foreach (var arg in r.VllmArguments)
        {
            var flag = arg.Split('=', 2)[0].Trim();
            if (OwnedFlags.TryGetValue(flag, out var fix))
                throw new RhaiiException("VllmArgumentNotAllowed", RhaiiErrorCategory.InvalidArgument,
                    $"The vLLM flag '{flag}' is set by RhaiiGke or KServe and must not be passed in -VllmArgument.", fix, arg);
            var value = arg.Contains('=') ? arg.Split('=', 2)[1].Trim().ToLowerInvariant() : "";
            if (gpu is null && flag == "--dtype" && value is "half" or "float16" or "fp16")
                throw new RhaiiException("VllmArgumentNotAllowed", RhaiiErrorCategory.InvalidArgument,
                    "float16 (half) is not a TPU data type; vLLM on TPU runs in bfloat16.", "Remove --dtype or use --dtype=bfloat16.", arg);
        }

        var pattern = r.Pattern;
        var gatewayClass = r.GatewayClass ?? (pattern == DeploymentPattern.GkeNativeGateway ? InferenceGatewayClass.GkeRegionalExternal : InferenceGatewayClass.Istio);
        var replicas = r.Replicas ?? (pattern == DeploymentPattern.CacheAware ? 3 : 1);
        if (replicas < 0)
            throw new RhaiiException("InvalidReplicas", RhaiiErrorCategory.InvalidArgument, "Replicas must be 0 or more.", null, replicas);
        var image = string.IsNullOrWhiteSpace(r.Image) ? (gpu is not null ? GpuCatalog.DefaultCudaImage : DefaultTpuImage) : r.Image!;
        var pull = r.PullSecretName ?? (image.StartsWith("registry.redhat.io/", StringComparison.Ordinal) ? "redhat-pull-secret" : null);
        var hf = r.HuggingFaceTokenSecret ?? (scheme == "hf" ? "hf-token" : null);

        return new LlmInferenceServiceSpec
        {
            Name = r.Name,
            Namespace = ns,
            ModelUri = uri,
            ModelName = modelName,
            Replicas = replicas,
            Pattern = pattern,
            Accelerator = accel,
            Topology = topo.Topology,
            MachineType = topo.MachineType,
            NodeLabel = topo.NodeLabel,
            ChipsPerHost = topo.ChipsPerHost,
            Hosts = topo.Hosts,
            TensorParallelSize = tp,
            MaxModelLength = r.MaxModelLength,
            PrefixCaching = r.PrefixCaching ?? pattern == DeploymentPattern.CacheAware,
            VllmArguments = r.VllmArguments,
            Image = image,
            HuggingFaceTokenSecret = hf,
            PullSecretName = pull,
            ServiceAccountName = string.IsNullOrWhiteSpace(r.ServiceAccountName) ? $"{r.Name}-sa" : r.ServiceAccountName!,
            GatewayName = r.GatewayName ?? "inference-gateway",
            GatewayNamespace = r.GatewayNamespace ?? "opendatahub",
            GatewayClass = gatewayClass,
            Scheduler = r.Scheduler,
            StartupTimeoutSeconds = Math.Max(300, r.StartupTimeoutSeconds),
            GcpServiceAccount = gsa,
        };
    }

    /// <summary>Normalizes a model reference to a KServe storage URI; rejects schemes KServe cannot read.</summary>
    public static (string Uri, string Scheme) NormalizeModelUri(string model)
    {
        if (string.IsNullOrWhiteSpace(model))
            throw new RhaiiException("ModelRequired", RhaiiErrorCategory.InvalidArgument, "A model is required.", "Use -Model hf://Qwen/Qwen2.5-3B-Instruct.");
        var m = model.Trim();
        var idx = m.IndexOf("://", StringComparison.Ordinal);
        if (idx < 0)
        {
            if (HfRepoId().IsMatch(m)) return ("hf://" + m, "hf");
            throw new RhaiiException("InvalidModelUri", RhaiiErrorCategory.InvalidArgument,
                $"'{model}' is neither a storage URI nor a Hugging Face repository id.", "Use hf://<org>/<model>, pvc://<claim>/<path>, s3://<bucket>/<path> or oci://<image>.", model);
        }
        var scheme = m[..idx].ToLowerInvariant();
        if (scheme == "gs") return (GcsModels.ValidateUri(m), "gs");
        if (!SupportedSchemes.Contains(scheme))
            throw new RhaiiException("UnsupportedModelUriScheme", RhaiiErrorCategory.InvalidArgument,
                $"Model URI scheme '{scheme}://' is not supported by KServe's LLMInferenceService.", "Use hf://, pvc://, s3:// or oci://.", model);
        if (m.Length <= idx + 3)
            throw new RhaiiException("InvalidModelUri", RhaiiErrorCategory.InvalidArgument, $"'{model}' has no path after the scheme.", "Use hf://<org>/<model>.", model);
        return (scheme + m[idx..], scheme);
    }
}
