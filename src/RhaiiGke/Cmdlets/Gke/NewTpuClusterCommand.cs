using System.Collections;
using System.Management.Automation;
using RhaiiGke.Completers;
using RhaiiGke.Engine.Gke;

namespace RhaiiGke.Cmdlets.Gke;

/// <summary>Creates (or adopts) a GKE cluster with a TPU node pool; idempotent and resumable.</summary>
[Cmdlet(VerbsCommon.New, "TpuCluster", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ParametersSet)]
[OutputType(typeof(TpuCluster))]
[OutputType(typeof(GkeJob))]
public sealed class NewTpuClusterCommand : GkeCmdlet
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

    [Parameter(ParameterSetName = ParametersSet)]
    [ArgumentCompleter(typeof(AcceleratorCompleter))]
    public string Accelerator { get; set; } = "v6e";

    [Parameter(ParameterSetName = ParametersSet)]
    [ArgumentCompleter(typeof(TopologyCompleter))]
    public string Topology { get; set; } = "2x2";

    [Parameter(ParameterSetName = ParametersSet)]
    [ArgumentCompleter(typeof(MachineTypeCompleter))]
    public string? MachineType { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    [ValidateNotNullOrEmpty]
    public string NodePoolName { get; set; } = "tpu-pool";

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

    /// <summary>When the TPU pool cannot be created (stockout, quota) and this command created the cluster, delete the cluster as well.</summary>
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
            Topology = Topology,
            MachineType = MachineType,
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
        if (AsJob)
        {
            // Ask once, up front: a background job cannot prompt.
            if (!ShouldProcess($"{spec.Project}/{spec.Zone}/{spec.Name}", "Create or complete GKE cluster and TPU node pool (background job)")) return;
            var job = new GkeJob(MyInvocation.Line, $"New-TpuCluster {spec.Name}", spec.Zone);
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
