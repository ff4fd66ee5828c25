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

    /// <summary>
    /// The built-in table: Google Cloud list prices for us-central1 / us-east1 as published on
    /// cloud.google.com/tpu/pricing, cloud.google.com/kubernetes-engine/pricing and
    /// cloud.google.com/compute/vm-instance-pricing, transcribed on the source date (not fetched live).
    /// Spot TPU prices change too often to table; pass your own.
    /// </summary>
    public static PriceTable BuiltIn { get; } = new()
    {
        SourceDate = new DateOnly(2025, 6, 1),
        Source = "Google Cloud list prices (cloud.google.com/tpu/pricing, /kubernetes-engine/pricing, /compute/vm-instance-pricing), us-central1/us-east1, transcribed 2025-06-01; not fetched live",
        Currency = "USD",
        Region = "us-central1",
        Tpu = new(StringComparer.OrdinalIgnoreCase)
        {
            ["v6e"] = new() { OnDemand = 2.70, OneYearCommitment = 1.89, ThreeYearCommitment = 1.22 },
            ["v5e"] = new() { OnDemand = 1.20, OneYearCommitment = 0.84, ThreeYearCommitment = 0.54 },
            ["v5p"] = new() { OnDemand = 4.20, OneYearCommitment = 2.94, ThreeYearCommitment = 1.89 },
        },
        ClusterManagementPerHour = 0.10,
        MachineTypes = new(StringComparer.OrdinalIgnoreCase)
        {
            ["e2-standard-2"] = 0.067006,
            ["e2-standard-4"] = 0.134012,
            ["e2-standard-8"] = 0.268024,
            ["n1-standard-4"] = 0.189999,
            ["n2-standard-4"] = 0.194236,
        },
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
    string? Cluster = null);

/// <summary>Prices a TPU pool from a <see cref="PriceTable"/>.</summary>
public static class CostEstimator
{
    public static CostEstimate Estimate(CostRequest r, PriceTable prices, DateOnly today)
    {
        var slice = TpuCatalog.Resolve(r.Accelerator, r.Topology, r.MachineType);
        var nodes = r.TpuNodes ?? slice.Hosts;
        var notes = new List<string>();
        if (!prices.Tpu.TryGetValue(slice.Accelerator, out var chip))
            throw new RhaiiException("NoPriceForAccelerator", RhaiiErrorCategory.ObjectNotFound,
                $"The price table has no price for TPU {slice.Accelerator}.", "Add it to your price table (-PriceTable).", slice.Accelerator);
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
                break;
        }
        var chips = nodes * slice.ChipsPerHost;
        var tpuHourly = chips * perChip;
        double overhead = 0;
        if (r.IncludeClusterFee) overhead += prices.ClusterManagementPerHour;
        if (r.SystemNodes > 0)
        {
            if (prices.MachineTypes.TryGetValue(r.SystemMachineType, out var m)) overhead += r.SystemNodes * m;
            else notes.Add($"No price for system machine type {r.SystemMachineType}; the system node pool is not counted.");
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
        };
    }
}
