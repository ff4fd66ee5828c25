namespace RhaiiGke;

public enum TpuPricingModel
{
    OnDemand,
    Spot,
    OneYearCommitment,
    ThreeYearCommitment,
}

/// <summary>What a TPU cluster costs to run (<c>Get-RhaiiCostEstimate</c>), in the price table's currency.</summary>
public sealed class CostEstimate
{
    public string? Cluster { get; init; }
    public string Accelerator { get; init; } = "";
    public string MachineType { get; init; } = "";
    public string Topology { get; init; } = "";
    public int TpuNodes { get; init; }
    public int Chips { get; init; }
    public TpuPricingModel PricingModel { get; init; }
    public double PricePerChipHour { get; init; }
    public double TpuHourly { get; init; }
    /// <summary>GKE cluster management fee, the system node pool and the Gateway's load balancer.</summary>
    public double OverheadHourly { get; init; }
    public double Hourly { get; init; }
    public double Daily => Math.Round(Hourly * 24, 2);
    /// <summary>730 hours.</summary>
    public double Monthly => Math.Round(Hourly * 730, 2);
    /// <summary>At the pool's autoscaling maximum, when known.</summary>
    public double? MaxHourly { get; init; }
    /// <summary>With the TPU pool scaled to zero: only the overhead remains.</summary>
    public double ScaledToZeroHourly { get; init; }
    public double ScaledToZeroMonthly => Math.Round(ScaledToZeroHourly * 730, 2);
    /// <summary>Output tokens per second the estimate for <see cref="CostPerMillionOutputTokens"/> assumes.</summary>
    public double? OutputTokensPerSecond { get; init; }
    /// <summary>Cost of one million output tokens at full utilisation, when a throughput was given.</summary>
    public double? CostPerMillionOutputTokens { get; init; }
    public string Currency { get; init; } = "USD";
    /// <summary>The date the price table's figures were taken from their source.</summary>
    public DateOnly PriceTableDate { get; init; }
    public string PriceTableSource { get; init; } = "";
    public int PriceTableAgeDays { get; init; }
    public RhaiiList<string> Notes { get; init; } = [];
    /// <summary>The region whose prices were used (e.g. europe-west4).</summary>
    public string? Region { get; init; }
    /// <summary>The Gateway's load balancer per hour (forwarding rule plus data processing); part of <see cref="OverheadHourly"/>.</summary>
    public double LoadBalancerHourly { get; init; }
    /// <summary>GB per month the load balancer line assumes processed; null when the line is left out.</summary>
    public double? LoadBalancerGbPerMonth { get; init; }
    /// <summary>What the estimate could not price as asked (e.g. no Spot price: on demand used); the cmdlet writes them as warnings.</summary>
    public RhaiiList<string> Warnings { get; init; } = [];
    /// <summary>The service or model this line prices (from a spec or service piped in), when known.</summary>
    public string? Service { get; init; }

    public override string ToString() => $"{Accelerator} {Topology} x{TpuNodes}: {Hourly:0.00} {Currency}/h, {Monthly:0} {Currency}/month (prices of {PriceTableDate:yyyy-MM-dd})";
}

/// <summary>
/// Several models served behind one shared gateway (<c>Get-RhaiiCostEstimate -SharedGateway</c>): one line per model
/// (its accelerators only), the shared overhead counted once (one load balancer, one cluster fee, one system pool) and the total.
/// </summary>
public sealed class CostEstimateSummary
{
    /// <summary>Per model: what its accelerators cost (no overhead in these lines).</summary>
    public RhaiiList<CostEstimate> Models { get; init; } = [];
    public int ModelCount => Models.Count;
    public int Chips { get; init; }
    /// <summary>Sum of the models' accelerator cost per hour.</summary>
    public double AcceleratorHourly { get; init; }
    /// <summary>The shared gateway's load balancer per hour (one forwarding rule plus data processing); part of <see cref="OverheadHourly"/>.</summary>
    public double LoadBalancerHourly { get; init; }
    /// <summary>Cluster management fee, system node pool and the shared load balancer, counted once.</summary>
    public double OverheadHourly { get; init; }
    public double Hourly { get; init; }
    public double Daily => Math.Round(Hourly * 24, 2);
    /// <summary>730 hours.</summary>
    public double Monthly => Math.Round(Hourly * 730, 2);
    /// <summary>With every model's pool scaled to zero: only the shared overhead remains.</summary>
    public double ScaledToZeroMonthly => Math.Round(OverheadHourly * 730, 2);
    public string? Region { get; init; }
    public string Currency { get; init; } = "USD";
    public DateOnly PriceTableDate { get; init; }
    public string PriceTableSource { get; init; } = "";
    public RhaiiList<string> Notes { get; init; } = [];
    public RhaiiList<string> Warnings { get; init; } = [];

    public override string ToString() => $"{ModelCount} models, {Chips} chips: {Hourly:0.00} {Currency}/h, {Monthly:0} {Currency}/month (one shared gateway)";
}
