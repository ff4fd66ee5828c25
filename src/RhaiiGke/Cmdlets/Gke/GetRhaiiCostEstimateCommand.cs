using System.Management.Automation;
using RhaiiGke.Completers;
using RhaiiGke.Engine.Catalog;

namespace RhaiiGke.Cmdlets.Gke;

/// <summary>Hourly, daily and monthly cost of a TPU cluster from a dated, overridable price table.</summary>
[Cmdlet(VerbsCommon.Get, "RhaiiCostEstimate", DefaultParameterSetName = ParametersSet)]
[OutputType(typeof(CostEstimate))]
[OutputType(typeof(CostEstimateSummary))]
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

    /// <summary>TPU nodes (hosts) or GPU machines running; default one slice (all the hosts of a multi-host slice).</summary>
    [Parameter(ParameterSetName = ParametersSet)]
    [ValidateRange(0, 10000)]
    public int NodeCount { get; set; }

    /// <summary>Model replicas, each on a whole slice (every host of a multi-host slice); binds from a spec or service. Ignored when -NodeCount is given.</summary>
    [Parameter(ParameterSetName = ParametersSet, ValueFromPipelineByPropertyName = true)]
    [ValidateRange(0, 10000)]
    public int Replicas { get; set; } = 1;

    /// <summary>The model or service a line prices (binds from a spec's or service's Name).</summary>
    [Parameter(ParameterSetName = ParametersSet, ValueFromPipelineByPropertyName = true)]
    [Alias("Name")]
    public string? Service { get; set; }

    /// <summary>Several models behind one shared gateway: per-model lines without overhead, the overhead (one load balancer) once, and the total, as one CostEstimateSummary.</summary>
    [Parameter]
    public SwitchParameter SharedGateway { get; set; }

    private readonly List<CostEstimate> _shared = [];
    private CostRequest? _firstShared;

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
                if (string.IsNullOrWhiteSpace(Accelerator))
                    throw new RhaiiException("NoAcceleratorToPrice", RhaiiErrorCategory.InvalidArgument,
                        $"{(Service is null ? "The input" : Service)} names no accelerator to price.",
                        "Pass -Accelerator and -Topology, or pipe a spec or service that has them.", Service);
                int? nodes = MyInvocation.BoundParameters.ContainsKey(nameof(NodeCount)) ? NodeCount
                    : MyInvocation.BoundParameters.ContainsKey(nameof(Replicas)) ? Replicas * HostsPerSlice(Accelerator, Topology, MachineType) : null;
                requests.Add(new CostRequest(Accelerator, Topology, MachineType, nodes, null,
                    PricingModel, SystemMachineType, SystemNodeCount, !ExcludeClusterFee, tps, null, Region, !ExcludeLoadBalancer, LoadBalancerGbPerMonth, Service));
                break;
        }
        foreach (var r in requests)
        {
            if (SharedGateway)
            {
                _firstShared ??= r;
                var line = Estimate(r with { IncludeClusterFee = false, SystemNodes = 0, IncludeLoadBalancer = false }, table, today);
                foreach (var n in line.Notes) WriteVerbose(n);
                _shared.Add(line);
                continue;
            }
            var estimate = Estimate(r, table, today);
            foreach (var n in estimate.Notes) WriteVerbose(n);
            foreach (var w in estimate.Warnings) WriteWarning(w);
            WriteObject(estimate);
        }
        return Task.CompletedTask;
    }

    protected override Task EndProcessingAsync(CancellationToken cancellationToken)
    {
        if (!SharedGateway) return Task.CompletedTask;
        var table = Engine.Catalog.PriceTable.Resolve(PriceTable is null ? null : GetUnresolvedProviderPathFromPSPath(PriceTable));
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        if (_firstShared is null) throw CostEstimatorNoModel();
        // The shared overhead: the first model's cluster with no accelerator nodes (cluster fee, system pool, one load balancer line).
        var region = _shared.Select(m => m.Region).FirstOrDefault(r => r is not null);
        var overhead = Estimate(_firstShared with { TpuNodes = 0, MaxTpuNodes = null, OutputTokensPerSecond = null, Region = region ?? _firstShared.Region }, table, today);
        var summary = CostEstimator.Combine(_shared, overhead);
        foreach (var w in summary.Warnings) WriteWarning(w);
        WriteObject(summary);
        return Task.CompletedTask;
    }

    private static RhaiiException CostEstimatorNoModel() => new("NoModelToPrice", RhaiiErrorCategory.InvalidArgument, "-SharedGateway got no model to price.",
        "Pipe one or more specs or services (New-LlmInferenceServiceSpec, Get-LlmInferenceService) into Get-RhaiiCostEstimate -SharedGateway.");

    private CostEstimate Estimate(CostRequest r, Engine.Catalog.PriceTable table, DateOnly today) => GpuCatalog.IsGpu(r.Accelerator)
        ? GpuCostEstimator.Estimate(r, table, GpuPriceTable.Resolve(PriceTable is null ? null : GetUnresolvedProviderPathFromPSPath(PriceTable)), today)
        : CostEstimator.Estimate(r, table, today);

    private static int HostsPerSlice(string accelerator, string topology, string? machineType) => GpuCatalog.IsGpu(accelerator)
        ? 1
        : TpuCatalog.Resolve(accelerator, topology, string.IsNullOrWhiteSpace(machineType) ? null : machineType).Hosts;
}
