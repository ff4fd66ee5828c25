using System.Globalization;
using System.Management.Automation;
using RhaiiGke.Completers;
using RhaiiGke.Engine.Catalog;
using RhaiiGke.Engine.Gke;

namespace RhaiiGke.Cmdlets.Gke;

/// <summary>
/// Creates (or adopts) a GKE cluster with an NVIDIA GPU node pool (GKE-managed drivers); idempotent and resumable, with the
/// same preflight (accelerator in zone, GPU quota), stockout handling and drift reporting as New-TpuCluster.
/// </summary>
[Cmdlet(VerbsCommon.New, "GpuCluster", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ParametersSet)]
[OutputType(typeof(TpuCluster))]
[OutputType(typeof(GkeJob))]
public sealed class NewGpuClusterCommand : NewAcceleratorClusterCommand
{
    public NewGpuClusterCommand() : base("gpu-pool") { }

    /// <summary>nvidia-l4 (default), nvidia-tesla-a100, nvidia-a100-80gb or nvidia-h100-80gb.</summary>
    [Parameter(ParameterSetName = ParametersSet)]
    [ArgumentCompleter(typeof(GpuAcceleratorCompleter))]
    public string Accelerator { get; set; } = "nvidia-l4";

    /// <summary>GPUs per node; picks the machine type with that many (1 when neither this nor -MachineType is given).</summary>
    [Parameter(ParameterSetName = ParametersSet)]
    [ValidateRange(1, 16)]
    public int GpuCount { get; set; }

    /// <summary>An accelerator-optimized machine type (g2-standard-*, a2-highgpu-*, a2-ultragpu-*, a3-highgpu-*).</summary>
    [Parameter(ParameterSetName = ParametersSet)]
    [ArgumentCompleter(typeof(GpuMachineTypeCompleter))]
    public string? MachineType { get; set; }

    /// <summary>The GKE-managed NVIDIA driver: DEFAULT, LATEST, or INSTALLATION_DISABLED (install it yourself).</summary>
    [Parameter(ParameterSetName = ParametersSet)]
    [ValidateSet("DEFAULT", "LATEST", "INSTALLATION_DISABLED")]
    public string GpuDriverVersion { get; set; } = "DEFAULT";

    protected override string PoolKind => "GPU";

    protected override void SetAcceleratorFields(TpuClusterSpec spec)
    {
        spec.Accelerator = Accelerator;
        spec.Topology = GpuCount > 0 ? GpuCount.ToString(CultureInfo.InvariantCulture) : "";
        spec.MachineType = MachineType;
        spec.GpuDriverVersion = GpuDriverVersion;
    }

    protected override void Validate(TpuClusterSpec spec)
    {
        if (!GpuCatalog.IsGpu(spec.Accelerator))
            throw new RhaiiException("NotAGpuAccelerator", RhaiiErrorCategory.InvalidArgument,
                $"'{spec.Accelerator}' is not an NVIDIA GPU; New-GpuCluster creates GPU node pools.",
                $"Use -Accelerator {string.Join(", ", GpuCatalog.AcceleratorNames)}, or New-TpuCluster for TPUs.", spec.Accelerator);
    }
}
