using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace RhaiiGke.Engine.Catalog;

/// <summary>TPU list prices for one generation, per chip-hour.</summary>
public sealed class TpuChipPrice
{
    public double OnDemand { get; set; }
    /// <summary>Spot prices move daily; null when the table has no figure.</summary>
    public double? Spot { get; set; }
    public double? OneYearCommitment { get; set; }
    public double? ThreeYearCommitment { get; set; }
}

/// <summary>
/// A dated price table. The built-in one states where and when its figures come from; replace it with
/// -PriceTable or RHAII_PRICE_TABLE (a JSON file of the same shape) for your region, discounts or today's prices.
/// </summary>
public sealed class PriceTable
{
    public const string EnvironmentVariable = "RHAII_PRICE_TABLE";

    /// <summary>When the figures were taken from the source.</summary>
    public DateOnly SourceDate { get; set; }
    public string Source { get; set; } = "";
    public string Currency { get; set; } = "USD";
    public string Region { get; set; } = "";
    /// <summary>Per accelerator (v6e, v5e, v5p): per chip-hour.</summary>
    public Dictionary<string, TpuChipPrice> Tpu { get; set; } = new(StringComparer.OrdinalIgnoreCase);
    /// <summary>GKE cluster management fee per cluster-hour (Standard edition).</summary>
    public double ClusterManagementPerHour { get; set; }
    /// <summary>On-demand price per hour of general-purpose machine types (system node pool).</summary>
    public Dictionary<string, double> MachineTypes { get; set; } = new(StringComparer.OrdinalIgnoreCase);
    /// <summary>Per region (us-central1, europe-west4, ...): TPU prices there. A region not listed is refused rather than priced as <see cref="Region"/>.</summary>
    public Dictionary<string, RegionPrices> Regions { get; set; } = new(StringComparer.OrdinalIgnoreCase);
    /// <summary>The Gateway's load balancer (forwarding rule per hour, data processing per GB); null leaves it out.</summary>
    public LoadBalancerPrice? LoadBalancer { get; set; }

    /// <summary>
    /// The built-in table: TPU per chip-hour per region, on demand and Spot, from the Cloud Billing Catalog (source and read
    /// date in <see cref="RegionalPrices.TpuSource"/>); commitments are estimates (said in the notes whenever used);
    /// the GKE Standard management fee (0.10 per cluster-hour, cloud.google.com/kubernetes-engine/pricing); system-pool
    /// machine types from the same catalog compilation as the GPU table (us-central1, 2026-07-30). Not fetched live.
    /// </summary>
    public static PriceTable BuiltIn { get; } = new()
    {
        SourceDate = new DateOnly(2026, 12, 7),
        Source = RegionalPrices.TpuSource,
        Currency = "USD",
        Region = "us-central1",
        Tpu = RegionalPrices.BuiltInRegions()["us-central1"].Tpu,
        ClusterManagementPerHour = 0.10,
        MachineTypes = new(StringComparer.OrdinalIgnoreCase)
        {
            ["e2-standard-2"] = 0.067011,
            ["e2-standard-4"] = 0.134023,
            ["e2-standard-8"] = 0.268046,
            ["n1-standard-4"] = 0.189999,
            ["n2-standard-4"] = 0.194236,
        },
        Regions = RegionalPrices.BuiltInRegions(),
        LoadBalancer = RegionalPrices.BuiltInLoadBalancer(),
    };

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        Converters = { new DateOnlyConverter() },
    };

    /// <summary>The table from <paramref name="path"/>, else RHAII_PRICE_TABLE, else the built-in one.</summary>
    public static PriceTable Resolve(string? path, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var file = string.IsNullOrWhiteSpace(path) ? environment(EnvironmentVariable) : path;
        return string.IsNullOrWhiteSpace(file) ? BuiltIn : Load(file);
    }

    public static PriceTable Load(string path)
    {
        if (!File.Exists(path))
            throw new RhaiiException("PriceTableNotFound", RhaiiErrorCategory.ObjectNotFound, $"Price table '{path}' does not exist.",
                "Pass a JSON file shaped like docs/Get-RhaiiCostEstimate.md describes, or omit -PriceTable for the built-in one.", path);
        PriceTable? table;
        try { table = JsonSerializer.Deserialize<PriceTable>(File.ReadAllText(path), Json); }
        catch (JsonException ex)
        {
            throw new RhaiiException("InvalidPriceTable", RhaiiErrorCategory.InvalidData, $"Price table '{path}' is not valid JSON: {ex.Message}", "Fix the file.", path);
        }
        if (table is null || table.SourceDate == default || string.IsNullOrWhiteSpace(table.Source) || table.Tpu.Count == 0)
            throw new RhaiiException("InvalidPriceTable", RhaiiErrorCategory.InvalidData,
                $"Price table '{path}' must state sourceDate, source and at least one tpu price.", "Add \"sourceDate\": \"2025-06-01\", \"source\": \"...\" and \"tpu\": {\"v6e\": {\"onDemand\": 2.7}}.", path);
        table.Tpu = new Dictionary<string, TpuChipPrice>(table.Tpu, StringComparer.OrdinalIgnoreCase);
        table.MachineTypes = new Dictionary<string, double>(table.MachineTypes, StringComparer.OrdinalIgnoreCase);
        table.Regions = new Dictionary<string, RegionPrices>(table.Regions ?? new(), StringComparer.OrdinalIgnoreCase);
        foreach (var r in table.Regions.Values)
        {
            r.Tpu = new Dictionary<string, TpuChipPrice>(r.Tpu ?? new(), StringComparer.OrdinalIgnoreCase);
            r.MachineTypes = new Dictionary<string, double>(r.MachineTypes ?? new(), StringComparer.OrdinalIgnoreCase);
        }
        return table;
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    private sealed class DateOnlyConverter : JsonConverter<DateOnly>
    {
        public override DateOnly Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            DateOnly.ParseExact(reader.GetString() ?? "", "yyyy-MM-dd", CultureInfo.InvariantCulture);
        public override void Write(Utf8JsonWriter writer, DateOnly value, JsonSerializerOptions options) =>
            writer.WriteStringValue(value.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
    }
}

/// <summary>What to price: a TPU pool (and its cluster's overhead).</summary>
public sealed record CostRequest(
    string Accelerator,
    string Topology,
    string? MachineType = null,
    int? TpuNodes = null,
    int? MaxTpuNodes = null,
    TpuPricingModel PricingModel = TpuPricingModel.OnDemand,
    string SystemMachineType = "e2-standard-4",
    int SystemNodes = 2,
    bool IncludeClusterFee = true,
    double? OutputTokensPerSecond = null,
    string? Cluster = null,
    string? Region = null,
    bool IncludeLoadBalancer = true,
    double LoadBalancerGbPerMonth = 0,
    string? Service = null);

/// <summary>Prices a TPU pool from a <see cref="PriceTable"/>.</summary>
public static class CostEstimator
{
    /// <summary>
    /// Several models behind one shared gateway: <paramref name="models"/> are priced without overhead (accelerators only);
    /// <paramref name="overhead"/> is an estimate of the same cluster with no accelerator nodes (the cluster fee, the system
    /// pool and one load balancer line), counted once. All models must be priced in one region (a gateway is regional).
    /// </summary>
    public static CostEstimateSummary Combine(IReadOnlyList<CostEstimate> models, CostEstimate overhead)
    {
        if (models.Count == 0)
            throw new RhaiiException("NoModelToPrice", RhaiiErrorCategory.InvalidArgument, "-SharedGateway got no model to price.",
                "Pipe one or more specs or services (New-LlmInferenceServiceSpec, Get-LlmInferenceService) into Get-RhaiiCostEstimate -SharedGateway.");
        var regions = models.Select(m => m.Region).Where(r => r is not null).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        if (regions.Count > 1)
            throw new RhaiiException("SharedGatewayRegionMismatch", RhaiiErrorCategory.InvalidArgument,
                $"Models priced in several regions ({string.Join(", ", regions)}) cannot share one regional gateway.",
                "Estimate each region separately, or pass one -Region.", string.Join(",", regions));
        var currencies = models.Select(m => m.Currency).Append(overhead.Currency).Distinct(StringComparer.Ordinal).ToList();
        if (currencies.Count > 1)
            throw new RhaiiException("MixedCurrencies", RhaiiErrorCategory.InvalidData,
                $"The models are priced in several currencies ({string.Join(", ", currencies)}): they cannot be added.", "Use price tables of one currency.");
        var accelerators = models.Sum(m => m.TpuHourly);
        var notes = new List<string> { $"One shared gateway for {models.Count} models: the load balancer, cluster fee and system pool are counted once, not per model." };
        notes.AddRange(overhead.Notes.Where(n => !n.StartsWith("The TPU pool has no nodes now", StringComparison.Ordinal)));
        foreach (var n in models.SelectMany(m => m.Notes)) if (!notes.Contains(n)) notes.Add(n);
        return new CostEstimateSummary
        {
            Models = [.. models],
            Chips = models.Sum(m => m.Chips),
            AcceleratorHourly = Math.Round(accelerators, 4),
            LoadBalancerHourly = overhead.LoadBalancerHourly,
            OverheadHourly = overhead.OverheadHourly,
            Hourly = Math.Round(accelerators + overhead.OverheadHourly, 4),
            Region = regions.FirstOrDefault() ?? overhead.Region,
            Currency = overhead.Currency,
            PriceTableDate = models.Select(m => m.PriceTableDate).Append(overhead.PriceTableDate).Min(),
            PriceTableSource = string.Join(" | ", models.Select(m => m.PriceTableSource).Append(overhead.PriceTableSource).Distinct(StringComparer.Ordinal)),
            Notes = [.. notes],
            Warnings = [.. models.SelectMany(m => m.Warnings).Concat(overhead.Warnings).Distinct(StringComparer.Ordinal)],
        };
    }

    public static CostEstimate Estimate(CostRequest r, PriceTable prices, DateOnly today)
    {
        var slice = TpuCatalog.Resolve(r.Accelerator, r.Topology, r.MachineType);
        var nodes = r.TpuNodes ?? slice.Hosts;
        var notes = new List<string>();
        var warnings = new List<string>();
        var (region, regional) = PricedRegion(r, prices, notes);
        var tpuPrices = regional?.Tpu ?? prices.Tpu;
        if (!tpuPrices.TryGetValue(slice.Accelerator, out var chip))
            throw new RhaiiException("NoPriceForAccelerator", RhaiiErrorCategory.ObjectNotFound,
                $"The price table has no price for TPU {slice.Accelerator} in {region}" + (regional is null ? "." : $" (it prices {string.Join(", ", regional.Tpu.Keys)} there)."),
                "Choose a region that offers it (cloud.google.com/tpu/docs/regions-zones) or add it to your price table (-PriceTable).", slice.Accelerator);
        double perChip;
        switch (r.PricingModel)
        {
            case TpuPricingModel.Spot when chip.Spot is { } spot: perChip = spot; break;
            case TpuPricingModel.OneYearCommitment when chip.OneYearCommitment is { } one: perChip = one; break;
            case TpuPricingModel.ThreeYearCommitment when chip.ThreeYearCommitment is { } three: perChip = three; break;
            case TpuPricingModel.OnDemand: perChip = chip.OnDemand; break;
            default:
                perChip = chip.OnDemand;
                notes.Add($"The price table has no {r.PricingModel} price for {slice.Accelerator}; the on-demand price is used (an upper bound).");
                warnings.Add($"No {r.PricingModel} price for {slice.Accelerator} in {region}: priced on demand (an upper bound). Add it to your price table (-PriceTable).");
                break;
        }
        if (r.PricingModel == TpuPricingModel.Spot && chip.Spot is not null && ReferenceEquals(prices, PriceTable.BuiltIn)) notes.Add(RegionalPrices.Spot);
        if (r.PricingModel is TpuPricingModel.OneYearCommitment or TpuPricingModel.ThreeYearCommitment && ReferenceEquals(prices, PriceTable.BuiltIn)) notes.Add(RegionalPrices.Commitment);
        var chips = nodes * slice.ChipsPerHost;
        var tpuHourly = chips * perChip;
        double overhead = 0;
        if (r.IncludeClusterFee) overhead += prices.ClusterManagementPerHour;
        if (r.SystemNodes > 0)
        {
            if (regional?.MachineTypes.TryGetValue(r.SystemMachineType, out var rm) == true) overhead += r.SystemNodes * rm;
            else if (prices.MachineTypes.TryGetValue(r.SystemMachineType, out var m)) overhead += r.SystemNodes * m;
            else notes.Add($"No price for system machine type {r.SystemMachineType}; the system node pool is not counted.");
        }
        double lbHourly = 0;
        if (r.IncludeLoadBalancer && prices.LoadBalancer is { } lb)
        {
            lbHourly = lb.ForwardingRulePerHour + Math.Max(0, r.LoadBalancerGbPerMonth) * lb.DataProcessingPerGb / 730;
            overhead += lbHourly;
            notes.Add(LoadBalancerNote(lb, r.LoadBalancerGbPerMonth));
        }
        double? perMillion = null;
        if (nodes == 0) notes.Add("The TPU pool has no nodes now (scaled to zero): only the overhead is billed; MaxHourly shows the cost at full size.");
        if (r.OutputTokensPerSecond is > 0 and var tps && nodes > 0)
            perMillion = Math.Round((tpuHourly + overhead) / (tps * 3600) * 1_000_000, 4);
        else if (r.OutputTokensPerSecond is <= 0) notes.Add("Output tokens per second must be positive to price a million tokens.");
        if (r.IncludeClusterFee) notes.Add("The GKE free tier credits one zonal cluster's management fee per billing account.");
        var age = today.DayNumber - prices.SourceDate.DayNumber;
        if (age > 180) notes.Add($"The price table is {age} days old ({prices.SourceDate:yyyy-MM-dd}); check current prices or pass -PriceTable.");
        double? maxHourly = r.MaxTpuNodes is int max && max > 0 ? Math.Round(max * slice.ChipsPerHost * perChip + overhead, 4) : null;
        return new CostEstimate
        {
            Cluster = r.Cluster,
            Accelerator = slice.Accelerator,
            MachineType = slice.MachineType,
            Topology = slice.Topology,
            TpuNodes = nodes,
            Chips = chips,
            PricingModel = r.PricingModel,
            PricePerChipHour = perChip,
            TpuHourly = Math.Round(tpuHourly, 4),
            OverheadHourly = Math.Round(overhead, 4),
            Hourly = Math.Round(tpuHourly + overhead, 4),
            MaxHourly = maxHourly,
            ScaledToZeroHourly = Math.Round(overhead, 4),
            OutputTokensPerSecond = r.OutputTokensPerSecond,
            CostPerMillionOutputTokens = perMillion,
            Currency = prices.Currency,
            PriceTableDate = prices.SourceDate,
            PriceTableSource = prices.Source,
            PriceTableAgeDays = age,
            Notes = notes,
            Region = region,
            LoadBalancerHourly = Math.Round(lbHourly, 4),
            LoadBalancerGbPerMonth = r.IncludeLoadBalancer && prices.LoadBalancer is not null ? Math.Max(0, r.LoadBalancerGbPerMonth) : null,
            Warnings = warnings,
            Service = r.Service,
        };
    }

    /// <summary>What the load balancer line counts and where its figures come from.</summary>
    public static string LoadBalancerNote(LoadBalancerPrice lb, double gbPerMonth) => gbPerMonth > 0
        ? $"Load balancer: one forwarding rule ({lb.ForwardingRulePerHour}/h) and {gbPerMonth} GB/month processed at {lb.DataProcessingPerGb}/GB. {lb.Source}."
        : $"Load balancer: one forwarding rule ({lb.ForwardingRulePerHour}/h); data processing ({lb.DataProcessingPerGb}/GB) is not counted: pass -LoadBalancerGbPerMonth. {lb.Source}.";

    /// <summary>
    /// The region whose prices apply: the request's (a zone is reduced to its region), else the table's default.
    /// A region the table does not price is refused (NoPriceForRegion) instead of being priced as another region.
    /// </summary>
    private static (string Region, RegionPrices? Prices) PricedRegion(CostRequest r, PriceTable prices, List<string> notes)
    {
        if (string.IsNullOrWhiteSpace(r.Region))
        {
            var fallback = string.IsNullOrWhiteSpace(prices.Region) ? "us-central1" : prices.Region;
            notes.Add($"No region given: prices of {fallback}. Pass -Region (or a cluster or spec) for another region's prices.");
            return (fallback, prices.Regions.TryGetValue(fallback, out var d) ? d : null);
        }
        var region = RegionalPrices.RegionOf(r.Region);
        if (prices.Regions.TryGetValue(region, out var rp))
        {
            if (!string.IsNullOrWhiteSpace(rp.Note)) notes.Add(rp.Note!);
            return (region, rp);
        }
        if (prices.Regions.Count == 0 && string.Equals(region, prices.Region, StringComparison.OrdinalIgnoreCase)) return (region, null);
        var known = prices.Regions.Count > 0 ? string.Join(", ", prices.Regions.Keys.OrderBy(k => k, StringComparer.Ordinal)) : prices.Region;
        throw new RhaiiException("NoPriceForRegion", RhaiiErrorCategory.ObjectNotFound,
            $"The price table has no prices for region {region} (it prices {known}).",
            $"Pass -PriceTable with a \"regions\": {{\"{region}\": {{\"tpu\": {{...}}}}}} entry, or estimate for one of: {known}.", region);
    }
}
