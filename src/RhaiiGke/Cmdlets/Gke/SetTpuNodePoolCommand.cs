using System.Management.Automation;
using RhaiiGke.Engine.Gke;

namespace RhaiiGke.Cmdlets.Gke;

/// <summary>Resizes a node pool or changes its autoscaling; scales TPU pools to zero and back.</summary>
[Cmdlet(VerbsCommon.Set, "TpuNodePool", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = NameSet)]
[OutputType(typeof(TpuNodePool))]
public sealed class SetTpuNodePoolCommand : GkeCmdlet
{
    private const string NameSet = "Name";
    private const string ClusterSet = "Cluster";
    private const string PoolSet = "NodePool";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = NameSet)]
    [Alias("Cluster")]
    [ValidateNotNullOrEmpty]
    public string ClusterName { get; set; } = "";

    /// <summary>Node pool name; defaults to the cluster's only TPU pool.</summary>
    [Parameter(ParameterSetName = NameSet)]
    [Parameter(ParameterSetName = ClusterSet)]
    public string? Name { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = NameSet)]
    [Alias("Location")]
    public string Zone { get; set; } = "";

    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = ClusterSet)]
    public TpuCluster? InputCluster { get; set; }

    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = PoolSet)]
    public TpuNodePool? InputNodePool { get; set; }

    [Parameter]
    [ValidateRange(0, 1000)]
    public int Size { get; set; }

    /// <summary>Same as -Size 0 (also lowers the autoscaling minimum to 0).</summary>
    [Parameter]
    public SwitchParameter ScaleToZero { get; set; }

    [Parameter]
    [ValidateRange(0, 1000)]
    public int MinNodes { get; set; }

    [Parameter]
    [ValidateRange(1, 1000)]
    public int MaxNodes { get; set; }

    [Parameter]
    public SwitchParameter EnableAutoscaling { get; set; }

    [Parameter]
    public SwitchParameter DisableAutoscaling { get; set; }

    [Parameter]
    public SwitchParameter NoWait { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        var bound = MyInvocation.BoundParameters;
        if (EnableAutoscaling && DisableAutoscaling)
            Fail("ConflictingAutoscalingSwitches", RhaiiErrorCategory.InvalidArgument, "-EnableAutoscaling and -DisableAutoscaling cannot be used together.", "Pass one of them.");
        if (ScaleToZero && bound.ContainsKey(nameof(Size)) && Size != 0)
            Fail("ConflictingSize", RhaiiErrorCategory.InvalidArgument, "-ScaleToZero means -Size 0.", "Pass -ScaleToZero or -Size, not both.");
        int? size = ScaleToZero ? 0 : bound.ContainsKey(nameof(Size)) ? Size : null;
        bool? autoscaling = EnableAutoscaling ? true : DisableAutoscaling ? false : null;
        var change = new NodePoolChange(size, autoscaling,
            bound.ContainsKey(nameof(MinNodes)) ? MinNodes : null, bound.ContainsKey(nameof(MaxNodes)) ? MaxNodes : null);
        if (change == new NodePoolChange())
            Fail("NothingToChange", RhaiiErrorCategory.InvalidArgument, "Nothing to change.", "Pass -Size, -ScaleToZero, -MinNodes, -MaxNodes, -EnableAutoscaling or -DisableAutoscaling.");

        string project, zone, cluster;
        string? pool = Name;
        switch (ParameterSetName)
        {
            case ClusterSet:
                (project, zone, cluster) = (InputCluster!.Project, InputCluster.Location, InputCluster.Name);
                pool ??= SingleTpuPool(InputCluster);
                break;
            case PoolSet:
                (project, zone, cluster, pool) = (InputNodePool!.Project, InputNodePool.Location, InputNodePool.ClusterName, InputNodePool.Name);
                break;
            default:
                (project, zone, cluster) = (Session.RequireProject(Project), Zone, ClusterName);
                if (pool is null)
                {
                    var live = await new TpuClusterService(Session).GetAsync(project, zone, cluster, cancellationToken)
                        ?? throw new GkeApiException("GkeNotFound", RhaiiErrorCategory.ObjectNotFound, $"Cluster {project}/{zone}/{cluster} does not exist.", "Get-TpuCluster lists clusters.", cluster);
                    pool = SingleTpuPool(live);
                }
                break;
        }
        if (Project is not null) project = Project;
        var result = await new TpuClusterService(Session).SetNodePoolAsync(project, zone, cluster, pool, change, ShouldProcessDelegate, NoWait, cancellationToken);
        if (result is not null) WriteObject(result);
    }

    private static string SingleTpuPool(TpuCluster cluster)
    {
        var tpu = cluster.TpuNodePools;
        if (tpu.Count == 1) return tpu[0].Name;
        throw new RhaiiException("NodePoolNameRequired", RhaiiErrorCategory.InvalidArgument,
            $"Cluster {cluster.Name} has {tpu.Count} TPU node pools; say which one.",
            $"Add -Name ({string.Join(", ", cluster.NodePools.Select(p => p.Name))}).", cluster.Name);
    }
}
