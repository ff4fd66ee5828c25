using System.Collections;
using System.Management.Automation;
using RhaiiGke.Engine.Gke;

namespace RhaiiGke.Cmdlets.Gke;

/// <summary>
/// What New-TpuCluster and New-GpuCluster share: the cluster, its system pool and the accelerator pool's size,
/// autoscaling, capacity (Spot, reservation) and labels; a saved spec instead of parameters; and the run itself
/// (idempotent and resumable, -NoWait, -AsJob, the preflight and the clean-up on failure). Each command adds its
/// accelerator's own parameters (TPU topology; GPU count and driver) and checks.
/// </summary>
public abstract class NewAcceleratorClusterCommand : GkeCmdlet
{
    protected const string ParametersSet = "Parameters";
    protected const string SpecSet = "Spec";

    protected NewAcceleratorClusterCommand(string nodePoolName) => NodePoolName = nodePoolName;

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ParametersSet)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    [Parameter(Mandatory = true, ParameterSetName = ParametersSet)]
    [Alias("Location")]
    [ValidateNotNullOrEmpty]
    public string Zone { get; set; } = "";

    [Parameter(ParameterSetName = ParametersSet)]
    [ValidateNotNullOrEmpty]
    public string NodePoolName { get; set; }

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

    /// <summary>When the accelerator pool cannot be created (stockout, quota) and this command created the cluster, delete the cluster as well.</summary>
    [Parameter]
    public SwitchParameter RemoveOnFailure { get; set; }

    /// <summary>"TPU" or "GPU", in the confirmation text.</summary>
    protected abstract string PoolKind { get; }

    /// <summary>Sets the accelerator's own fields of a spec built from parameters.</summary>
    protected abstract void SetAcceleratorFields(TpuClusterSpec spec);

    /// <summary>Checks a spec (from parameters or piped in) before anything is changed.</summary>
    protected virtual void Validate(TpuClusterSpec spec) { }

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        TpuClusterSpec spec;
        if (ParameterSetName == SpecSet)
        {
            spec = Spec!;
            if (string.IsNullOrEmpty(spec.Project) && Project is not null) spec.Project = Project;
        }
        else
        {
            spec = new TpuClusterSpec
            {
                Name = Name,
                Project = Project ?? "",
                Zone = Zone,
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
            SetAcceleratorFields(spec);
        }
        Validate(spec);
        if (AsJob)
        {
            // Ask once, up front: a background job cannot prompt.
            if (!ShouldProcess($"{spec.Project}/{spec.Zone}/{spec.Name}", $"Create or complete GKE cluster and {PoolKind} node pool (background job)")) return;
            var job = new GkeJob(MyInvocation.Line, $"{MyInvocation.MyCommand.Name} {spec.Name}", spec.Zone);
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
