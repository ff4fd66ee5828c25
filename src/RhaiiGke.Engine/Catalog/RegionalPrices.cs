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
    // US TPU regions share the US list price of the table's source date. The figures of regions outside the US
    // and every Spot figure are marked as estimates in the notes: Spot prices are dynamic (Google may change them
    // up to once every 30 days) and must be checked on cloud.google.com/tpu/pricing before budgeting.
    private const string SpotNote = "Spot prices are dynamic (they can change up to once every 30 days): the table's Spot figure is an estimate; check cloud.google.com/tpu/pricing or pass -PriceTable.";
    private const string EstimateNote = "The {0} prices of the built-in table are estimated from the US list prices with the regional uplift; check cloud.google.com/tpu/pricing for {0} or pass -PriceTable.";

    private static TpuChipPrice P(double onDemand, double spot, double oneYear, double threeYear) =>
        new() { OnDemand = onDemand, Spot = spot, OneYearCommitment = oneYear, ThreeYearCommitment = threeYear };

    private static readonly string[] All = ["v6e", "v5e", "v5p"];

    /// <summary>The US list prices, for the generations the region offers (cloud.google.com/tpu/docs/regions-zones).</summary>
    private static RegionPrices Us(params string[] accelerators)
    {
        var all = new Dictionary<string, TpuChipPrice>(StringComparer.OrdinalIgnoreCase)
        {
            ["v6e"] = P(2.70, 1.08, 1.89, 1.22),
            ["v5e"] = P(1.20, 0.48, 0.84, 0.54),
            ["v5p"] = P(4.20, 1.68, 2.94, 1.89),
        };
        var r = new RegionPrices();
        foreach (var a in accelerators.Length == 0 ? All : accelerators) r.Tpu[a] = all[a];
        return r;
    }

    private static RegionPrices Uplift(string region, double factor, params string[] accelerators)
    {
        var us = Us();
        var r = new RegionPrices { Note = string.Format(System.Globalization.CultureInfo.InvariantCulture, EstimateNote, region) };
        foreach (var a in accelerators)
        {
            var p = us.Tpu[a];
            r.Tpu[a] = P(Math.Round(p.OnDemand * factor, 2), Math.Round(p.Spot!.Value * factor, 2), Math.Round(p.OneYearCommitment!.Value * factor, 2), Math.Round(p.ThreeYearCommitment!.Value * factor, 2));
        }
        r.MachineTypes = new(StringComparer.OrdinalIgnoreCase)
        {
            ["e2-standard-2"] = Math.Round(0.067006 * factor, 6),
            ["e2-standard-4"] = Math.Round(0.134012 * factor, 6),
            ["e2-standard-8"] = Math.Round(0.268024 * factor, 6),
            ["n1-standard-4"] = Math.Round(0.189999 * factor, 6),
            ["n2-standard-4"] = Math.Round(0.194236 * factor, 6),
        };
        return r;
    }

    /// <summary>The regions of the built-in table: where GKE offers the catalog's TPU generations.</summary>
    public static Dictionary<string, RegionPrices> BuiltInRegions() => new(StringComparer.OrdinalIgnoreCase)
    {
        ["us-central1"] = Us("v6e", "v5e", "v5p"),
        ["us-east1"] = Us("v6e"),
        ["us-east5"] = Us("v6e", "v5p"),
        ["us-south1"] = Us("v5e"),
        ["us-west1"] = Us("v5e"),
        ["us-west4"] = Us("v5e"),
        ["europe-west4"] = Uplift("europe-west4", 1.10, "v6e", "v5e", "v5p"),
        ["asia-northeast1"] = Uplift("asia-northeast1", 1.20, "v6e", "v5e"),
        ["asia-southeast1"] = Uplift("asia-southeast1", 1.16, "v6e", "v5e"),
    };

    /// <summary>Regional external Application Load Balancer (Gateway class gke-l7-regional-external-managed).</summary>
    public static LoadBalancerPrice BuiltInLoadBalancer() => new()
    {
        ForwardingRulePerHour = 0.025,
        DataProcessingPerGb = 0.008,
        Source = "Cloud Load Balancing list prices (cloud.google.com/vpc/network-pricing#lb): one forwarding rule at 0.025/h and data processing at 0.008/GB, as of the table's source date; an assumption to check for your region and traffic",
    };

    internal static string Spot => SpotNote;

    /// <summary>The region of a zone or region name (europe-west4-a → europe-west4; us-central1 stays).</summary>
    public static string RegionOf(string location) => GkeNames.RegionOf(location.Trim());
}
