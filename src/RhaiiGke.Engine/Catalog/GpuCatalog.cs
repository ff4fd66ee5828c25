namespace RhaiiGke.Engine.Catalog;

/// <summary>
/// The NVIDIA GPUs GKE offers for serving, with the accelerator-optimized machine types that carry them
/// (Compute Engine "GPU machine types": G2 = L4, A2 Standard = A100 40GB, A2 Ultra = A100 80GB, A3 High = H100 80GB).
/// Each machine type has a fixed GPU count. Rows are <see cref="TpuTopology"/> objects with the GPU's extended
/// resource (<c>nvidia.com/gpu</c>) and taint, so sizing, pool plans and manifests share one shape;
/// <see cref="TpuTopology.Topology"/> holds the GPU count of the machine ("1", "2", "4", "8").
/// </summary>
public static class GpuCatalog
{
    /// <summary>The node label GKE puts on GPU nodes (value: the Compute accelerator type, e.g. nvidia-l4).</summary>
    public const string AcceleratorLabel = "cloud.google.com/gke-accelerator";
    /// <summary>The extended resource the NVIDIA device plugin advertises once drivers are installed.</summary>
    public const string ResourceName = "nvidia.com/gpu";
    /// <summary>The taint GKE adds to GPU nodes of a cluster that also has non-GPU pools.</summary>
    public const string TaintKey = "nvidia.com/gpu";
    public const string Taint = "nvidia.com/gpu=present:NoSchedule";
    /// <summary>The Red Hat AI Inference Server vLLM build for NVIDIA CUDA, same release as <see cref="Manifests.SpecFactory.DefaultTpuImage"/>.</summary>
    public const string DefaultCudaImage = "registry.redhat.io/rhaiis/vllm-cuda-rhel9:3.2.5";
    /// <summary>Values of gpuDriverInstallationConfig.gpuDriverVersion in the GKE v1 NodeConfig.</summary>
    public static IReadOnlyList<string> DriverVersions { get; } = ["DEFAULT", "LATEST", "INSTALLATION_DISABLED"];

    // MemoryGiB: what the driver reports (nvidia-smi "MiB" totals: L4 23034, A100 40GB 40960, A100 80GB 81920,
    // H100 80GB 81559), rounded down to whole GiB, so sizing does not promise the marketing "24 GB" of an L4.
    private sealed record Gpu(string Type, int MemoryGiB, string OnDemandQuota, string SpotQuota, string[] Aliases, (string Machine, int Gpus)[] Machines);

    private static readonly Gpu L4 = new("nvidia-l4", 22, "NVIDIA_L4_GPUS", "PREEMPTIBLE_NVIDIA_L4_GPUS", ["nvidia-l4", "l4"],
        [("g2-standard-8", 1), ("g2-standard-4", 1), ("g2-standard-12", 1), ("g2-standard-16", 1), ("g2-standard-32", 1),
         ("g2-standard-24", 2), ("g2-standard-48", 4), ("g2-standard-96", 8)]);
    private static readonly Gpu A100 = new("nvidia-tesla-a100", 40, "NVIDIA_A100_GPUS", "PREEMPTIBLE_NVIDIA_A100_GPUS", ["nvidia-tesla-a100", "a100", "a100-40gb", "nvidia-a100-40gb"],
        [("a2-highgpu-1g", 1), ("a2-highgpu-2g", 2), ("a2-highgpu-4g", 4), ("a2-highgpu-8g", 8), ("a2-megagpu-16g", 16)]);
    private static readonly Gpu A100x80 = new("nvidia-a100-80gb", 80, "NVIDIA_A100_80GB_GPUS", "PREEMPTIBLE_NVIDIA_A100_80GB_GPUS", ["nvidia-a100-80gb", "a100-80gb"],
        [("a2-ultragpu-1g", 1), ("a2-ultragpu-2g", 2), ("a2-ultragpu-4g", 4), ("a2-ultragpu-8g", 8)]);
    private static readonly Gpu H100 = new("nvidia-h100-80gb", 79, "NVIDIA_H100_GPUS", "PREEMPTIBLE_NVIDIA_H100_GPUS", ["nvidia-h100-80gb", "h100", "h100-80gb"],
        [("a3-highgpu-1g", 1), ("a3-highgpu-2g", 2), ("a3-highgpu-4g", 4), ("a3-highgpu-8g", 8)]);
    private static readonly Gpu[] Gpus = [L4, A100, A100x80, H100];

    /// <summary>Canonical names (Compute accelerator types) first, then short aliases.</summary>
    public static IReadOnlyList<string> AcceleratorNames { get; } = ["nvidia-l4", "nvidia-tesla-a100", "nvidia-a100-80gb", "nvidia-h100-80gb"];

    /// <summary>Every GPU machine type, the first machine type of each GPU count being the default for that count.</summary>
    public static IReadOnlyList<TpuTopology> All { get; } = Gpus.SelectMany(g => g.Machines.Select(m => Row(g, m.Machine, m.Gpus))).ToList();

    private static TpuTopology Row(Gpu g, string machine, int gpus) => new()
    {
        Accelerator = g.Type,
        NodeLabel = g.Type,
        MachineType = machine,
        Topology = gpus.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ChipsPerHost = gpus,
        Hosts = 1,
        HbmPerChipGiB = g.MemoryGiB,
        ResourceName = ResourceName,
        Taint = Taint,
    };

    /// <summary>The Compute accelerator type (nvidia-l4, nvidia-tesla-a100, nvidia-a100-80gb, nvidia-h100-80gb) for a name people type; null when it is not a GPU.</summary>
    public static string? Normalize(string? name)
    {
        if (string.IsNullOrWhiteSpace(name)) return null;
        var n = name.Trim().ToLowerInvariant();
        return Gpus.FirstOrDefault(g => g.Aliases.Contains(n))?.Type;
    }

    /// <summary>True when <paramref name="name"/> names an NVIDIA GPU of the catalog.</summary>
    public static bool IsGpu(string? name) => Normalize(name) is not null;

    /// <summary>True for a machine type of the catalog's GPU machine series (g2-, a2-, a3-).</summary>
    public static bool IsGpuMachineType(string? machineType) => All.Any(t => string.Equals(t.MachineType, machineType, StringComparison.OrdinalIgnoreCase));

    /// <summary>GPU memory per GPU in GiB.</summary>
    public static int MemoryGiB(string accelerator) => Gpus.First(g => g.Type == Require(accelerator)).MemoryGiB;

    public static string Require(string name) => Normalize(name) ?? throw new RhaiiException("UnknownAccelerator", RhaiiErrorCategory.InvalidArgument,
        $"Unknown GPU accelerator '{name}'. Known: {string.Join(", ", AcceleratorNames)}.", "Use -Accelerator nvidia-l4, nvidia-tesla-a100, nvidia-a100-80gb or nvidia-h100-80gb.", name);

    public static IEnumerable<TpuTopology> Find(string? accelerator = null, string? machineType = null, int? gpuCount = null)
    {
        IEnumerable<TpuTopology> q = All;
        if (!string.IsNullOrWhiteSpace(accelerator)) { var a = Require(accelerator); q = q.Where(t => t.Accelerator == a); }
        if (!string.IsNullOrWhiteSpace(machineType)) q = q.Where(t => string.Equals(t.MachineType, machineType, StringComparison.OrdinalIgnoreCase));
        if (gpuCount is int n) q = q.Where(t => t.ChipsPerHost == n);
        return q;
    }

    /// <summary>
    /// The GPU count a -Topology value asks for: a number ("1", "2", "4", "8"), or null when it is empty or the TPU
    /// default "2x2" that TPU-first parameters carry (the machine type, else one GPU, decides).
    /// </summary>
    public static int? CountOf(string? topology)
    {
        if (string.IsNullOrWhiteSpace(topology) || topology.Trim() == "2x2") return null;
        var t = topology.Trim().ToLowerInvariant();
        if (t.EndsWith("gpu", StringComparison.Ordinal)) t = t[..^3].TrimEnd('-', ' ', 'x');
        if (int.TryParse(t, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0) return n;
        throw new RhaiiException("InvalidGpuCount", RhaiiErrorCategory.InvalidArgument,
            $"'{topology}' is not a GPU count; GPU machine types have 1, 2, 4 or 8 GPUs (TPU topologies such as 2x4 do not apply).",
            "Pass -GpuCount 1 (or -Topology 1), or a GPU machine type with -MachineType (e.g. g2-standard-24 for two L4).", topology);
    }

    /// <summary>The machine for an accelerator, optionally a GPU count and/or a machine type; one GPU on the default machine type when neither is given.</summary>
    public static TpuTopology Resolve(string accelerator, int? gpuCount = null, string? machineType = null)
    {
        var a = Require(accelerator);
        var matches = Find(a, string.IsNullOrWhiteSpace(machineType) ? null : machineType, gpuCount).ToList();
        if (matches.Count == 0)
        {
            var valid = string.Join(", ", Find(a).Select(t => $"{t.MachineType} ({t.ChipsPerHost} GPU)"));
            if (!string.IsNullOrWhiteSpace(machineType) && Find(null, machineType).FirstOrDefault() is { } other && other.Accelerator != a)
                throw new RhaiiException("AcceleratorMachineTypeMismatch", RhaiiErrorCategory.InvalidArgument,
                    $"Machine type {machineType} carries {other.Accelerator}, not {a}.", $"Valid for {a}: {valid}.", machineType);
            if (!string.IsNullOrWhiteSpace(machineType) && gpuCount is int c && Find(a, machineType).FirstOrDefault() is { } m)
                throw new RhaiiException("GpuCountMachineTypeMismatch", RhaiiErrorCategory.InvalidArgument,
                    $"Machine type {machineType} has {m.ChipsPerHost} {a} GPU(s), not {c}.", $"Valid for {a}: {valid}.", machineType);
            throw new RhaiiException(string.IsNullOrWhiteSpace(machineType) ? "UnknownGpuCount" : "UnknownGpuMachineType", RhaiiErrorCategory.InvalidArgument,
                string.IsNullOrWhiteSpace(machineType) ? $"No {a} machine type has {gpuCount} GPU(s)." : $"{machineType} is not a {a} machine type.",
                $"Valid for {a}: {valid}.", (object?)machineType ?? gpuCount);
        }
        return matches[0];
    }

    /// <summary>Compute regional quota metrics for the GPU: on demand and Spot (preemptible).</summary>
    public static (string OnDemand, string Spot) QuotaMetrics(string accelerator)
    {
        var g = Gpus.First(x => x.Type == Require(accelerator));
        return (g.OnDemandQuota, g.SpotQuota);
    }

    /// <summary>True when an image is a CUDA (NVIDIA) vLLM build: the RHAIIS vllm-cuda image or upstream vllm/vllm-openai.</summary>
    public static bool IsCudaImage(string? image) => image is not null &&
        (image.Contains("vllm-cuda", StringComparison.OrdinalIgnoreCase) || image.Contains("vllm/vllm-openai", StringComparison.OrdinalIgnoreCase));

    /// <summary>True when an image is a TPU vLLM build (RHAIIS vllm-tpu, upstream vllm/vllm-tpu).</summary>
    public static bool IsTpuImage(string? image) => image is not null && image.Contains("vllm-tpu", StringComparison.OrdinalIgnoreCase);
}
