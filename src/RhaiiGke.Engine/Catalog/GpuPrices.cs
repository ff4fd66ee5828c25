using System.Globalization;
using System.Text.Json;

namespace RhaiiGke.Engine.Catalog;

/// <summary>Price of one GPU machine type per machine-hour (the GPUs are part of accelerator-optimized machine types' price).</summary>
public sealed record GpuMachinePrice(double OnDemand, double? Spot = null);

/// <summary>
/// GPU list prices, kept apart from the TPU <see cref="PriceTable"/>: on-demand prices per machine-hour of the
/// accelerator-optimized machine types in us-central1 (G2 with L4, A2 Standard with A100 40GB, A2 Ultra with A100 80GB,
/// A3 High with H100 80GB), whose price includes their GPUs, vCPUs and memory. A price table file may carry its own
/// under "gpuMachineTypes": { "g2-standard-8": { "onDemand": 0.85, "spot": 0.34 } }.
/// </summary>
public sealed class GpuPriceTable
{
    public DateOnly SourceDate { get; init; }
    public string Source { get; init; } = "";
    public string Currency { get; init; } = "USD";
    public IReadOnlyDictionary<string, GpuMachinePrice> MachineTypes { get; init; } = new Dictionary<string, GpuMachinePrice>();

    /// <summary>
    /// Google Cloud on-demand list prices for us-central1 as published on cloud.google.com/compute/vm-instance-pricing
    /// (accelerator-optimized machine types) and cloud.google.com/compute/gpus-pricing, transcribed 2025-06-01, not
    /// fetched live. a3-highgpu-1g/2g/4g are pro rata of a3-highgpu-8g (they are sold through Spot and flex-start).
    /// Spot prices move too often to table; pass your own.
    /// </summary>
    public static GpuPriceTable BuiltIn { get; } = new()
    {
        SourceDate = new DateOnly(2025, 6, 1),
        Source = "Google Cloud list prices (cloud.google.com/compute/vm-instance-pricing accelerator-optimized machine types, /compute/gpus-pricing), us-central1, transcribed 2025-06-01; not fetched live",
        MachineTypes = new Dictionary<string, GpuMachinePrice>(StringComparer.OrdinalIgnoreCase)
        {
            ["g2-standard-4"] = new(0.70683), ["g2-standard-8"] = new(0.85362), ["g2-standard-12"] = new(1.00042), ["g2-standard-16"] = new(1.14721),
            ["g2-standard-24"] = new(2.00083), ["g2-standard-32"] = new(1.73438), ["g2-standard-48"] = new(4.00167), ["g2-standard-96"] = new(8.00333),
            ["a2-highgpu-1g"] = new(3.67339), ["a2-highgpu-2g"] = new(7.34677), ["a2-highgpu-4g"] = new(14.69354), ["a2-highgpu-8g"] = new(29.38708),
            ["a2-megagpu-16g"] = new(55.73951),
            ["a2-ultragpu-1g"] = new(5.06879), ["a2-ultragpu-2g"] = new(10.13758), ["a2-ultragpu-4g"] = new(20.27517), ["a2-ultragpu-8g"] = new(40.55034),
            ["a3-highgpu-1g"] = new(11.06125), ["a3-highgpu-2g"] = new(22.12250), ["a3-highgpu-4g"] = new(44.24500), ["a3-highgpu-8g"] = new(88.49000),
        },
    };

    /// <summary>The "gpuMachineTypes" section of a price table file when it has one, else the built-in GPU table.</summary>
    public static GpuPriceTable Resolve(string? path, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var file = string.IsNullOrWhiteSpace(path) ? environment(PriceTable.EnvironmentVariable) : path;
        if (string.IsNullOrWhiteSpace(file) || !File.Exists(file)) return BuiltIn;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(file), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            var root = doc.RootElement;
            if (!root.TryGetProperty("gpuMachineTypes", out var gpu) || gpu.ValueKind != JsonValueKind.Object) return BuiltIn;
            var prices = new Dictionary<string, GpuMachinePrice>(StringComparer.OrdinalIgnoreCase);
            foreach (var p in gpu.EnumerateObject())
                prices[p.Name] = new GpuMachinePrice(p.Value.GetProperty("onDemand").GetDouble(),
                    p.Value.TryGetProperty("spot", out var s) && s.ValueKind == JsonValueKind.Number ? s.GetDouble() : null);
            return new GpuPriceTable
            {
                SourceDate = root.TryGetProperty("sourceDate", out var d) ? DateOnly.ParseExact(d.GetString() ?? "", "yyyy-MM-dd", CultureInfo.InvariantCulture) : BuiltIn.SourceDate,
                Source = root.TryGetProperty("source", out var src) ? src.GetString() ?? "" : file,
                Currency = root.TryGetProperty("currency", out var c) ? c.GetString() ?? "USD" : "USD",
                MachineTypes = prices,
            };
        }
        catch (Exception ex) when (ex is JsonException or FormatException or KeyNotFoundException or InvalidOperationException)
        {
            throw new RhaiiException("InvalidPriceTable", RhaiiErrorCategory.InvalidData, $"The gpuMachineTypes section of '{file}' is not valid: {ex.Message}",
                "Shape it as \"gpuMachineTypes\": { \"g2-standard-8\": { \"onDemand\": 0.85 } }.", file);
        }
    }
}

/// <summary>Prices a GPU node pool: machine-hours of the GPU machine type plus the cluster's overhead (management fee, system pool).</summary>
public static class GpuCostEstimator
{
    public static CostEstimate Estimate(CostRequest r, PriceTable overheadPrices, GpuPriceTable gpuPrices, DateOnly today)
    {
        var machine = GpuCatalog.Resolve(r.Accelerator, GpuCatalog.CountOf(r.Topology), string.IsNullOrWhiteSpace(r.MachineType) ? null : r.MachineType);
        var nodes = r.TpuNodes ?? 1;
        var notes = new List<string>();
        if (!gpuPrices.MachineTypes.TryGetValue(machine.MachineType, out var price))
            throw new RhaiiException("NoPriceForAccelerator", RhaiiErrorCategory.ObjectNotFound,
                $"The GPU price table has no price for machine type {machine.MachineType}.", "Add it under \"gpuMachineTypes\" in your price table (-PriceTable).", machine.MachineType);
        double perMachine;
        if (r.PricingModel == TpuPricingModel.Spot && price.Spot is { } spot) perMachine = spot;
        else
        {
            perMachine = price.OnDemand;
            if (r.PricingModel != TpuPricingModel.OnDemand)
                notes.Add($"The GPU price table has no {r.PricingModel} price for {machine.MachineType}; the on-demand price is used (an upper bound).");
        }
        var gpus = nodes * machine.ChipsPerHost;
        var perGpu = perMachine / machine.ChipsPerHost;
        var gpuHourly = nodes * perMachine;
        double overhead = 0;
        if (r.IncludeClusterFee) overhead += overheadPrices.ClusterManagementPerHour;
        if (r.SystemNodes > 0)
        {
            if (overheadPrices.MachineTypes.TryGetValue(r.SystemMachineType, out var m)) overhead += r.SystemNodes * m;
            else notes.Add($"No price for system machine type {r.SystemMachineType}; the system node pool is not counted.");
        }
        notes.Add($"{machine.MachineType} carries {machine.ChipsPerHost} x {machine.Accelerator}: the machine price ({perMachine:0.####} {gpuPrices.Currency}/h) includes its GPUs, vCPUs and memory; PricePerChipHour is that per GPU.");
        if (nodes == 0) notes.Add("The GPU pool has no nodes now (scaled to zero): only the overhead is billed; MaxHourly shows the cost at full size.");
        double? perMillion = null;
        if (r.OutputTokensPerSecond is > 0 and var tps && nodes > 0) perMillion = Math.Round((gpuHourly + overhead) / (tps * 3600) * 1_000_000, 4);
        if (r.IncludeClusterFee) notes.Add("The GKE free tier credits one zonal cluster's management fee per billing account.");
        var age = today.DayNumber - gpuPrices.SourceDate.DayNumber;
        if (age > 180) notes.Add($"The GPU price table is {age} days old ({gpuPrices.SourceDate:yyyy-MM-dd}); check current prices or pass -PriceTable.");
        return new CostEstimate
        {
            Cluster = r.Cluster,
            Accelerator = machine.Accelerator,
            MachineType = machine.MachineType,
            Topology = machine.Topology,
            TpuNodes = nodes,
            Chips = gpus,
            PricingModel = r.PricingModel,
            PricePerChipHour = Math.Round(perGpu, 5),
            TpuHourly = Math.Round(gpuHourly, 4),
            OverheadHourly = Math.Round(overhead, 4),
            Hourly = Math.Round(gpuHourly + overhead, 4),
            MaxHourly = r.MaxTpuNodes is int max && max > 0 ? Math.Round(max * perMachine + overhead, 4) : null,
            ScaledToZeroHourly = Math.Round(overhead, 4),
            OutputTokensPerSecond = r.OutputTokensPerSecond,
            CostPerMillionOutputTokens = perMillion,
            Currency = gpuPrices.Currency,
            PriceTableDate = gpuPrices.SourceDate,
            PriceTableSource = gpuPrices.Source,
            PriceTableAgeDays = age,
            Notes = notes,
        };
    }
}
