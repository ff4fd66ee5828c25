namespace RhaiiGke.Engine.Catalog;

/// <summary>The TPU prices of one region (per chip-hour), and what to say about their provenance.</summary>
public sealed class RegionPrices
{
    /// <summary>Per accelerator (v6e, v5e, v5p): per chip-hour in this region.</summary>
    public Dictionary<string, TpuChipPrice> Tpu { get; set; } = new(StringComparer.OrdinalIgnoreCase);
    /// <summary>On-demand price per hour of general-purpose machine types in this region (system node pool); falls back to the table's.</summary>
    public Dictionary<string, double> MachineTypes { get; set; } = new(StringComparer.OrdinalIgnoreCase);
    /// <summary>Said in the estimate's notes whenever this region's prices are used (e.g. that a figure is estimated).</summary>
    public string? Note { get; set; }
}

/// <summary>
/// The regional external Application Load Balancer the GKE Gateway (class gke-l7-regional-external-managed)
/// provisions: an hourly forwarding-rule charge plus a charge per GB of data processed.
/// </summary>
public sealed class LoadBalancerPrice
{
    /// <summary>Per forwarding rule and hour.</summary>
    public double ForwardingRulePerHour { get; set; }
    /// <summary>Per GB of data processed by the load balancer (request and response bytes).</summary>
    public double DataProcessingPerGb { get; set; }
    /// <summary>Where the figures come from and what they assume.</summary>
    public string Source { get; set; } = "";
}

/// <summary>Per-region prices, the load balancer line and Spot prices of the built-in table.</summary>
public static class RegionalPrices
{
    /// <summary>Where the built-in TPU figures come from.</summary>
    public const string TpuSource =
        "Google Cloud Billing Catalog API TPU SKU prices per region (on demand and Spot), as compiled in " +
        "github.com/skypilot-org/skypilot-catalog catalogs/v8/gcp/vms.csv (commit 006059e0, rows tpu-v6e-*, tpu-v5litepod-*, tpu-v5p-*; " +
        "v5p is priced there per TensorCore, two per chip), read 2026-12-07; US on-demand figures agree with cloud.google.com/tpu/pricing " +
        "(v6e 2.70, v5e 1.20, v5p 4.20 per chip-hour). 1- and 3-year commitment figures: no source could be read, estimates";

    // Spot prices are dynamic (Google may change them every day): every Spot figure is the catalog's of the day it was read.
    private const string SpotNote = "Spot prices are dynamic (they can change every day): this Spot figure is the catalog's as read on 2026-12-07; check cloud.google.com/tpu/pricing or pass -PriceTable.";
    private const string CommitmentNote = "Estimate: the built-in 1-/3-year commitment prices could not be checked against a source (cloud.google.com/tpu/pricing was not readable on 2026-12-07); outside the US they are scaled from the US figures by the region's on-demand price. Treat this as an estimate, not a price, or pass -PriceTable with your contract.";

    // US commitment figures per chip-hour (unverified: see CommitmentNote).
    private static readonly Dictionary<string, (double OnDemand, double OneYear, double ThreeYear)> UsCommitments = new(StringComparer.OrdinalIgnoreCase)
    {
        ["v6e"] = (2.70, 1.89, 1.22),
        ["v5e"] = (1.20, 0.84, 0.54),
        ["v5p"] = (4.20, 2.94, 1.89),
    };

    private static TpuChipPrice P(string accelerator, double onDemand, double spot)
    {
        var us = UsCommitments[accelerator];
        var f = onDemand / us.OnDemand;
        return new() { OnDemand = onDemand, Spot = spot, OneYearCommitment = Math.Round(us.OneYear * f, 4), ThreeYearCommitment = Math.Round(us.ThreeYear * f, 4) };
    }

    // System-pool machine types per region, on demand (e2-standard-2/4/8, n1-standard-4, n2-standard-4), from the Cloud Billing
    // Catalog compilation of the GPU table (github.com/Cyclenerd/google-cloud-pricing-cost-calculator pricing.yml, 2026-07-30).
    private static readonly Dictionary<string, double[]> SystemMachines = new(StringComparer.OrdinalIgnoreCase)
    {
        ["us-central1"] = [0.067011, 0.134023, 0.268046, 0.189999, 0.194236],
        ["us-east1"] = [0.067011, 0.134023, 0.268046, 0.189999, 0.194236],
        ["us-east4"] = [0.075471, 0.150942, 0.301883, 0.213985, 0.218756],
        ["us-east5"] = [0.067011, 0.134023, 0.268046, 0.189999, 0.194236],
        ["us-west1"] = [0.067011, 0.134023, 0.268046, 0.189999, 0.194236],
        ["us-west4"] = [0.075471, 0.150942, 0.301883, 0.213985, 0.218748],
        ["us-south1"] = [0.079073, 0.158147, 0.316294, 0.224199, 0.229198],
        ["europe-west4"] = [0.073772, 0.147544, 0.295088, 0.209168, 0.213832],
        ["asia-northeast1"] = [0.085966, 0.171931, 0.343863, 0.243757, 0.249176],
        ["asia-southeast1"] = [0.082666, 0.165332, 0.330665, 0.234386, 0.239612],
    };

    private static readonly string[] SystemMachineNames = ["e2-standard-2", "e2-standard-4", "e2-standard-8", "n1-standard-4", "n2-standard-4"];

    private static RegionPrices R(string region, params (string Accelerator, double OnDemand, double Spot)[] prices)
    {
        var r = new RegionPrices();
        for (var i = 0; i < SystemMachineNames.Length; i++) r.MachineTypes[SystemMachineNames[i]] = SystemMachines[region][i];
        foreach (var (a, od, sp) in prices) r.Tpu[a] = P(a, od, sp);
        return r;
    }

    /// <summary>
    /// The regions of the built-in table and the generations the catalog prices there (per chip-hour: on demand, Spot).
    /// A region or generation not listed is refused, never priced as another region.
    /// </summary>
    public static Dictionary<string, RegionPrices> BuiltInRegions() => new(StringComparer.OrdinalIgnoreCase)
    {
        ["us-central1"] = R("us-central1", ("v6e", 2.70, 0.54421), ("v5e", 1.20, 0.24493), ("v5p", 4.20, 0.8357)),
        ["us-east1"] = R("us-east1", ("v6e", 2.70, 0.54421), ("v5e", 1.20, 0.24493), ("v5p", 4.20, 0.8357)),
        ["us-east4"] = R("us-east4", ("v6e", 2.70, 0.57766), ("v5e", 1.20, 0.60)),
        ["us-east5"] = R("us-east5", ("v6e", 2.70, 1.215), ("v5e", 1.20, 0.60), ("v5p", 4.20, 1.68)),
        ["us-south1"] = R("us-south1", ("v6e", 2.70, 1.35), ("v5e", 1.416, 0.5664), ("v5p", 4.779, 1.31614)),
        ["us-west1"] = R("us-west1", ("v6e", 2.70, 0.54421), ("v5e", 1.20, 0.24493)),
        ["us-west4"] = R("us-west4", ("v5e", 1.20, 0.48)),
        ["europe-west4"] = R("europe-west4", ("v6e", 2.97, 1.03748), ("v5e", 1.56, 0.44498), ("v5p", 4.2525, 1.34849)),
        ["asia-northeast1"] = R("asia-northeast1", ("v6e", 3.24, 0.94352), ("v5e", 1.54104, 0.4244)),
        ["asia-southeast1"] = R("asia-southeast1", ("v6e", 2.97, 0.36292), ("v5e", 1.56, 0.78)),
    };

    /// <summary>Regional external Application Load Balancer (Gateway class gke-l7-regional-external-managed).</summary>
    public static LoadBalancerPrice BuiltInLoadBalancer() => new()
    {
        ForwardingRulePerHour = 0.025,
        DataProcessingPerGb = 0.008,
        Source = "cloud.google.com/load-balancing/pricing (linked from /vpc/network-pricing), read 2026-12-07: forwarding rules 0.025/h each for the first five " +
            "(the per-region table of regional forwarding-rule charges could not be read: the same figure is assumed there, an estimate); " +
            "data processed by the load balancer 0.008 per GiB inbound and 0.008 per GiB outbound (count requests and responses in -LoadBalancerGbPerMonth)",
    };

    internal static string Spot => SpotNote;
    internal static string Commitment => CommitmentNote;

    /// <summary>The region of a zone or region name (europe-west4-a → europe-west4; us-central1 stays).</summary>
    public static string RegionOf(string location) => GkeNames.RegionOf(location.Trim());
}
