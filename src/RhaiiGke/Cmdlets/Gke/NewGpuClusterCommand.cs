using System.Collections;
using System.Management.Automation;
using RhaiiGke.Completers;
using RhaiiGke.Engine.Gke;

namespace RhaiiGke.Cmdlets.Gke;

/// <summary>
/// Creates (or adopts) a GKE cluster with an NVIDIA GPU node pool (GKE-managed drivers); idempotent and resumable, with the
/// same preflight (accelerator in zone, GPU quota), stockout handling and drift reporting as New-TpuCluster.
/// </summary>
[Cmdlet(VerbsCommon.New, "GpuCluster", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ParametersSet)]
[OutputType(typeof(TpuCluster))]
[OutputType(typeof(GkeJob))]
public sealed class NewGpuClusterCommand : GkeCmdlet
{
    private const string ParametersSet = "Parameters";
    private const string SpecSet = "Spec";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ParametersSet)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    [Parameter(Mandatory = true, ParameterSetName = ParametersSet)]
    [Alias("Location")]
    [ValidateNotNullOrEmpty]
    public string Zone { get; set; } = "";

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

    [Parameter(ParameterSetName = ParametersSet)]
    [ValidateNotNullOrEmpty]
    public string NodePoolName { get; set; } = "gpu-pool";

    [Parameter(ParameterSetName = ParametersSet)]
    [ValidateRange(0, 1000)]
    public int InitialNodeCount { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    [ValidateRange(0, 1000)]
    public int MinNodes { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    [ValidateRange(0, 1000)]
    public int MaxNodes { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    public SwitchParameter NoAutoscaling { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    public SwitchParameter Spot { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    public string? Reservation { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    [ValidateSet("RAPID", "REGULAR", "STABLE", "EXTENDED")]
    public string ReleaseChannel { get; set; } = "REGULAR";

    [Parameter(ParameterSetName = ParametersSet)]
    public string? ClusterVersion { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    public string SystemMachineType { get; set; } = "e2-standard-4";

    [Parameter(ParameterSetName = ParametersSet)]
    [ValidateRange(1, 100)]
    public int SystemNodeCount { get; set; } = 2;

    [Parameter(ParameterSetName = ParametersSet)]
    public Hashtable? Label { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    public Hashtable? NodeLabel { get; set; }

    /// <summary>A full desired state, e.g. from a saved spec.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = SpecSet)]
    public TpuClusterSpec? Spec { get; set; }

    /// <summary>Start the next operation and return; run again to continue.</summary>
    [Parameter]
    public SwitchParameter NoWait { get; set; }

    /// <summary>Run in a background job; Receive-Job returns the cluster.</summary>
    [Parameter]
    public SwitchParameter AsJob { get; set; }

    /// <summary>Skip the accelerator and quota checks before creating.</summary>
    [Parameter]
    public SwitchParameter SkipPreflight { get; set; }

    /// <summary>When the GPU pool cannot be created (stockout, quota) and this command created the cluster, delete the cluster as well.</summary>
    [Parameter]
    public SwitchParameter RemoveOnFailure { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        var spec = ParameterSetName == SpecSet ? Spec! : new TpuClusterSpec
        {
            Name = Name,
            Project = Project ?? "",
            Zone = Zone,
            Accelerator = Accelerator,
            Topology = GpuCount > 0 ? GpuCount.ToString(System.Globalization.CultureInfo.InvariantCulture) : "",
            MachineType = MachineType,
            GpuDriverVersion = GpuDriverVersion,
            NodePoolName = NodePoolName,
            InitialNodeCount = InitialNodeCount,
            MinNodes = MinNodes,
            MaxNodes = MaxNodes,
            Autoscaling = !NoAutoscaling,
            Spot = Spot,
            Reservation = Reservation,
            ReleaseChannel = ReleaseChannel,
            ClusterVersion = ClusterVersion,
            SystemMachineType = SystemMachineType,
            SystemNodeCount = SystemNodeCount,
            Labels = ToDictionary(Label),
            NodeLabels = ToDictionary(NodeLabel),
        };
        if (ParameterSetName == SpecSet && string.IsNullOrEmpty(spec.Project) && Project is not null) spec.Project = Project;
        if (!Engine.Catalog.GpuCatalog.IsGpu(spec.Accelerator))
            throw new RhaiiException("NotAGpuAccelerator", RhaiiErrorCategory.InvalidArgument,
                $"'{spec.Accelerator}' is not an NVIDIA GPU; New-GpuCluster creates GPU node pools.",
                $"Use -Accelerator {string.Join(", ", Engine.Catalog.GpuCatalog.AcceleratorNames)}, or New-TpuCluster for TPUs.", spec.Accelerator);
        if (AsJob)
        {
            // Ask once, up front: a background job cannot prompt.
            if (!ShouldProcess($"{spec.Project}/{spec.Zone}/{spec.Name}", "Create or complete GKE cluster and GPU node pool (background job)")) return;
            var job = new GkeJob(MyInvocation.Line, $"New-GpuCluster {spec.Name}", spec.Zone);
            var options = ConnectionOptions();
            job.Start(async (log, ct) =>
            {
                using var session = GkeSession.Open(options, log);
                return await new TpuClusterService(session).EnsureAsync(spec, (_, _) => true, NoWait, SkipPreflight, ct, RemoveOnFailure).ConfigureAwait(false);
            });
            JobRepository.Add(job);
            WriteObject(job);
            return;
        }
        var service = new TpuClusterService(Session);
        var cluster = await service.EnsureAsync(spec, ShouldProcessDelegate, NoWait, SkipPreflight, cancellationToken, RemoveOnFailure);
        if (cluster is not null) WriteObject(cluster);
    }
}
