using System.Management.Automation;
using RhaiiGke.Completers;
using RhaiiGke.Engine.Catalog;

namespace RhaiiGke.Cmdlets.Gke;

/// <summary>Hourly, daily and monthly cost of a TPU cluster from a dated, overridable price table.</summary>
[Cmdlet(VerbsCommon.Get, "RhaiiCostEstimate", DefaultParameterSetName = ParametersSet)]
[OutputType(typeof(CostEstimate))]
public sealed class GetRhaiiCostEstimateCommand : RhaiiCmdlet
{
    private const string ParametersSet = "Parameters";
    private const string ClusterSet = "Cluster";
    private const string SpecSet = "Spec";

    [Parameter(ParameterSetName = ParametersSet, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(AcceleratorCompleter))]
    public string Accelerator { get; set; } = "v6e";

    [Parameter(ParameterSetName = ParametersSet, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(TopologyCompleter))]
    public string Topology { get; set; } = "2x2";

    [Parameter(ParameterSetName = ParametersSet, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(MachineTypeCompleter))]
    public string? MachineType { get; set; }

    /// <summary>TPU nodes (hosts) running; default one slice.</summary>
    [Parameter(ParameterSetName = ParametersSet)]
    [Alias("Replicas")]
    [ValidateRange(0, 10000)]
    public int NodeCount { get; set; }

    /// <summary>A live cluster (Get-TpuCluster / New-TpuCluster): prices its TPU pools at their current size.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = ClusterSet)]
    public TpuCluster? Cluster { get; set; }

    /// <summary>A planned cluster: priced at its initial size (one slice when that is 0), with MaxHourly at its maximum.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = SpecSet)]
    public TpuClusterSpec? Spec { get; set; }

    [Parameter]
    public TpuPricingModel PricingModel { get; set; } = TpuPricingModel.OnDemand;

    /// <summary>Output tokens per second the deployment sustains (binds from a benchmark result).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(0.0, double.MaxValue)]
    public double OutputTokensPerSecond { get; set; }

    [Parameter]
    public string SystemMachineType { get; set; } = "e2-standard-4";

    [Parameter]
    [ValidateRange(0, 100)]
    public int SystemNodeCount { get; set; } = 2;

    /// <summary>Leave out the GKE cluster management fee (e.g. covered by the free tier).</summary>
    [Parameter]
    public SwitchParameter ExcludeClusterFee { get; set; }

    /// <summary>A JSON price table (default: RHAII_PRICE_TABLE, else the built-in table).</summary>
    [Parameter]
    public string? PriceTable { get; set; }

    /// <summary>Region (or zone) whose prices apply; a cluster or spec brings its own. Default: the table's region (us-central1).</summary>
    [Parameter(ParameterSetName = ParametersSet, ValueFromPipelineByPropertyName = true)]
    [Alias("Zone", "Location")]
    public string? Region { get; set; }

    /// <summary>GB per month through the Gateway's load balancer, priced at the table's data-processing rate.</summary>
    [Parameter]
    [ValidateRange(0.0, double.MaxValue)]
    public double LoadBalancerGbPerMonth { get; set; }

    /// <summary>Leave out the Gateway's load balancer (forwarding rule and data processing).</summary>
    [Parameter]
    public SwitchParameter ExcludeLoadBalancer { get; set; }

    protected override Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        var table = Engine.Catalog.PriceTable.Resolve(PriceTable is null ? null : GetUnresolvedProviderPathFromPSPath(PriceTable));
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        double? tps = MyInvocation.BoundParameters.ContainsKey(nameof(OutputTokensPerSecond)) || OutputTokensPerSecond > 0 ? OutputTokensPerSecond : null;
        var requests = new List<CostRequest>();
        switch (ParameterSetName)
        {
            case ClusterSet:
                var pools = Cluster!.TpuNodePools.Concat(Cluster.GpuNodePools).ToList();
                if (pools.Count == 0)
                    WriteWarning($"Cluster {Cluster.Name} has no TPU or GPU node pool.");
                var systemNodes = Cluster.NodePools.Where(p => !p.IsTpu && !p.IsGpu).Sum(p => p.NodeCount);
                var systemMachine = Cluster.NodePools.FirstOrDefault(p => !p.IsTpu && !p.IsGpu)?.MachineType ?? SystemMachineType;
                var first = true;
                foreach (var p in pools)
                {
                    requests.Add(new CostRequest(p.Accelerator!, p.Topology ?? "", p.MachineType, p.NodeCount, p.AutoscalingEnabled ? p.MaxNodes : p.NodeCount,
                        p.Spot ? TpuPricingModel.Spot : PricingModel, systemMachine, first ? systemNodes : 0, first && !ExcludeClusterFee, tps, $"{Cluster.Name}/{p.Name}",
                        p.Zones.FirstOrDefault() ?? (string.IsNullOrEmpty(p.Location) ? Cluster.Location : p.Location), first && !ExcludeLoadBalancer, LoadBalancerGbPerMonth));
                    first = false;
                }
                break;
            case SpecSet:
                var s = Spec!;
                var slice = GpuCatalog.IsGpu(s.Accelerator)
                    ? GpuCatalog.Resolve(s.Accelerator, GpuCatalog.CountOf(s.Topology), string.IsNullOrWhiteSpace(s.MachineType) ? null : s.MachineType)
                    : TpuCatalog.Resolve(s.Accelerator, s.Topology, string.IsNullOrWhiteSpace(s.MachineType) ? null : s.MachineType);
                requests.Add(new CostRequest(s.Accelerator, s.Topology, slice.MachineType, s.InitialNodeCount > 0 ? s.InitialNodeCount : slice.Hosts,
                    s.MaxNodes > 0 ? s.MaxNodes : slice.Hosts, s.Spot ? TpuPricingModel.Spot : PricingModel, s.SystemMachineType, s.SystemNodeCount, !ExcludeClusterFee, tps, s.Name,
                    string.IsNullOrWhiteSpace(s.Zone) ? null : s.Zone, !ExcludeLoadBalancer, LoadBalancerGbPerMonth));
                break;
            default:
                requests.Add(new CostRequest(Accelerator, Topology, MachineType, MyInvocation.BoundParameters.ContainsKey(nameof(NodeCount)) ? NodeCount : null, null,
                    PricingModel, SystemMachineType, SystemNodeCount, !ExcludeClusterFee, tps, null, Region, !ExcludeLoadBalancer, LoadBalancerGbPerMonth));
                break;
        }
        foreach (var r in requests)
        {
            var estimate = GpuCatalog.IsGpu(r.Accelerator)
                ? GpuCostEstimator.Estimate(r, table, GpuPriceTable.Resolve(PriceTable is null ? null : GetUnresolvedProviderPathFromPSPath(PriceTable)), today)
                : CostEstimator.Estimate(r, table, today);
            foreach (var n in estimate.Notes) WriteVerbose(n);
            foreach (var w in estimate.Warnings) WriteWarning(w);
            WriteObject(estimate);
        }
        return Task.CompletedTask;
    }
}
