namespace RhaiiGke.Sandbox.Gke;

/// <summary>
/// What the simulated GKE and Compute APIs know about GPU machine types: the accelerator-optimized series have a
/// fixed GPU model and count (G2 = nvidia-l4, A2 Standard = nvidia-tesla-a100, A2 Ultra = nvidia-a100-80gb,
/// A3 High = nvidia-h100-80gb), and each GPU model is counted by its own regional quota metric
/// (NVIDIA_L4_GPUS, ... and PREEMPTIBLE_ for Spot). GKE's own knowledge, kept apart from the module's catalog.
/// </summary>
internal static class GpuMachineTypes
{
    internal sealed record Machine(string MachineType, string AcceleratorType, int Gpus, int Cpus);

    private static readonly Machine[] Machines =
    [
        new("g2-standard-4", "nvidia-l4", 1, 4), new("g2-standard-8", "nvidia-l4", 1, 8), new("g2-standard-12", "nvidia-l4", 1, 12),
        new("g2-standard-16", "nvidia-l4", 1, 16), new("g2-standard-24", "nvidia-l4", 2, 24), new("g2-standard-32", "nvidia-l4", 1, 32),
        new("g2-standard-48", "nvidia-l4", 4, 48), new("g2-standard-96", "nvidia-l4", 8, 96),
        new("a2-highgpu-1g", "nvidia-tesla-a100", 1, 12), new("a2-highgpu-2g", "nvidia-tesla-a100", 2, 24), new("a2-highgpu-4g", "nvidia-tesla-a100", 4, 48),
        new("a2-highgpu-8g", "nvidia-tesla-a100", 8, 96), new("a2-megagpu-16g", "nvidia-tesla-a100", 16, 96),
        new("a2-ultragpu-1g", "nvidia-a100-80gb", 1, 12), new("a2-ultragpu-2g", "nvidia-a100-80gb", 2, 24), new("a2-ultragpu-4g", "nvidia-a100-80gb", 4, 48),
        new("a2-ultragpu-8g", "nvidia-a100-80gb", 8, 96),
        new("a3-highgpu-1g", "nvidia-h100-80gb", 1, 26), new("a3-highgpu-2g", "nvidia-h100-80gb", 2, 52), new("a3-highgpu-4g", "nvidia-h100-80gb", 4, 104),
        new("a3-highgpu-8g", "nvidia-h100-80gb", 8, 208),
    ];

    public static Machine? Find(string? machineType) => Machines.FirstOrDefault(m => string.Equals(m.MachineType, machineType, StringComparison.Ordinal));

    /// <summary>True for the accelerator-optimized GPU series (g2-, a2-, a3-), known machine or not.</summary>
    public static bool IsGpuSeries(string? machineType) =>
        machineType is not null && (machineType.StartsWith("g2-", StringComparison.Ordinal) || machineType.StartsWith("a2-", StringComparison.Ordinal) || machineType.StartsWith("a3-", StringComparison.Ordinal));

    public static string QuotaMetric(string acceleratorType, bool spot)
    {
        var m = acceleratorType switch
        {
            "nvidia-l4" => "NVIDIA_L4_GPUS",
            "nvidia-tesla-a100" => "NVIDIA_A100_GPUS",
            "nvidia-a100-80gb" => "NVIDIA_A100_80GB_GPUS",
            "nvidia-h100-80gb" => "NVIDIA_H100_GPUS",
            "nvidia-tesla-t4" => "NVIDIA_T4_GPUS",
            _ => throw new ArgumentException($"unknown GPU {acceleratorType}"),
        };
        return spot ? "PREEMPTIBLE_" + m : m;
    }
}
