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

    public override string ToString() => $"{Accelerator} {Topology} x{TpuNodes}: {Hourly:0.00} {Currency}/h, {Monthly:0} {Currency}/month (prices of {PriceTableDate:yyyy-MM-dd})";
}
