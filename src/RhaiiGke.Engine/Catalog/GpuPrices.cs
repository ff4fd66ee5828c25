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

    /// <summary>Where the built-in GPU figures come from (also in the help and in every estimate's PriceTableSource).</summary>
    public const string BuiltInSource =
        "Google Cloud Billing Catalog API SKU prices (Compute Engine: GPU + vCPU + memory of each accelerator-optimized machine type), " +
        "as compiled in github.com/Cyclenerd/google-cloud-pricing-cost-calculator pricing.yml generated 2026-07-30 (commit fd66b26); read 2026-12-07. " +
        "On-demand figures agree with cloud.google.com/compute/vm-instance-pricing (accelerator-optimized) and /compute/gpus-pricing; " +
        "Spot figures are that day's Spot prices (cloud.google.com/spot-vms/pricing: they can change every day)";

    /// <summary>
    /// Per machine-hour prices, on demand and Spot, of the accelerator-optimized machine types (G2 with L4, A2 Standard with
    /// A100 40GB, A2 Ultra with A100 80GB, A3 High with H100 80GB) per region. Source: <see cref="BuiltInSource"/>.
    /// On-demand us-central1 figures were checked equal to the 2025 table this replaces; a3-highgpu-1g/2g/4g are sold
    /// through Spot and flex-start only, their on-demand figure is the list-price equivalent.
    /// </summary>
    public static GpuPriceTable BuiltIn { get; } = new()
    {
        SourceDate = new DateOnly(2026, 7, 30),
        Source = BuiltInSource,
        Region = "us-central1",
        Regions = BuiltInRegions(),
        MachineTypes = BuiltInRegions()["us-central1"],
    };

    /// <summary>Per region: machine type → price. A region not listed is refused (NoPriceForRegion), never priced as another.</summary>
    public IReadOnlyDictionary<string, Dictionary<string, GpuMachinePrice>> Regions { get; init; } = new Dictionary<string, Dictionary<string, GpuMachinePrice>>();

    /// <summary>The table's default region (used when an estimate names none).</summary>
    public string Region { get; init; } = "us-central1";

    // Generated from pricing.yml (fd66b26, generated 2026-07-30): compute.instance.<type>.cost.<region>.hour / hour_spot.
    private static Dictionary<string, Dictionary<string, GpuMachinePrice>> BuiltInRegions() => new(StringComparer.OrdinalIgnoreCase)
    {
        ["us-central1"] = new(StringComparer.OrdinalIgnoreCase)
        {
            ["a2-highgpu-1g"] = new(3.67339, 1.92802), ["a2-highgpu-2g"] = new(7.34677, 3.85604), ["a2-highgpu-4g"] = new(14.69354, 7.71208),
            ["a2-highgpu-8g"] = new(29.38708, 15.42416), ["a2-megagpu-16g"] = new(55.7395, 29.25568), ["a2-ultragpu-1g"] = new(5.0688, 2.75955),
            ["a2-ultragpu-2g"] = new(10.1376, 5.51909), ["a2-ultragpu-4g"] = new(20.27519, 11.03819), ["a2-ultragpu-8g"] = new(40.55038, 22.07637),
            ["a3-highgpu-1g"] = new(11.06125, 6.32619), ["a3-highgpu-2g"] = new(22.1225, 12.65239), ["a3-highgpu-4g"] = new(44.245, 25.30477),
            ["a3-highgpu-8g"] = new(88.49, 50.60954), ["g2-standard-12"] = new(1.00042, 0.56241), ["g2-standard-16"] = new(1.14721, 0.64494),
            ["g2-standard-24"] = new(2.00083, 1.12482), ["g2-standard-32"] = new(1.73438, 0.97509), ["g2-standard-4"] = new(0.70683, 0.39734),
            ["g2-standard-48"] = new(4.00167, 2.24963), ["g2-standard-8"] = new(0.85362, 0.47987), ["g2-standard-96"] = new(8.00333, 4.49926),
        },
        ["us-east1"] = new(StringComparer.OrdinalIgnoreCase)
        {
            ["a2-highgpu-1g"] = new(3.67339, 1.92802), ["a2-highgpu-2g"] = new(7.34677, 3.85604), ["a2-highgpu-4g"] = new(14.69354, 7.71208),
            ["a2-highgpu-8g"] = new(29.38708, 15.42416), ["a2-megagpu-16g"] = new(55.7395, 29.25568), ["a2-ultragpu-1g"] = new(5.0688, 2.75955),
            ["a2-ultragpu-2g"] = new(10.1376, 5.51909), ["a2-ultragpu-4g"] = new(20.27519, 11.03819), ["a2-ultragpu-8g"] = new(40.55038, 22.07637),
            ["a3-highgpu-1g"] = new(11.06125, 6.32619), ["a3-highgpu-2g"] = new(22.1225, 12.65239), ["a3-highgpu-4g"] = new(44.245, 25.30477),
            ["a3-highgpu-8g"] = new(88.49, 50.60954), ["g2-standard-12"] = new(1.00042, 0.56241), ["g2-standard-16"] = new(1.14721, 0.64494),
            ["g2-standard-24"] = new(2.00083, 1.12482), ["g2-standard-32"] = new(1.73438, 0.97509), ["g2-standard-4"] = new(0.70683, 0.39734),
            ["g2-standard-48"] = new(4.00167, 2.24963), ["g2-standard-8"] = new(0.85362, 0.47987), ["g2-standard-96"] = new(8.00333, 4.49926),
        },
        ["us-east4"] = new(StringComparer.OrdinalIgnoreCase)
        {
            ["a2-highgpu-1g"] = new(3.93435, 2.36057), ["a2-highgpu-2g"] = new(7.86871, 4.72115), ["a2-highgpu-4g"] = new(15.73742, 9.4423),
            ["a2-highgpu-8g"] = new(31.47484, 18.8846), ["a2-megagpu-16g"] = new(59.5316, 35.71864), ["a2-ultragpu-1g"] = new(5.70773, 2.36725),
            ["a2-ultragpu-2g"] = new(11.41546, 4.73451), ["a2-ultragpu-4g"] = new(22.83093, 9.46901), ["a2-ultragpu-8g"] = new(45.66186, 18.93803),
            ["a3-highgpu-1g"] = new(11.06947, 4.5401), ["a3-highgpu-2g"] = new(22.13894, 9.08021), ["a3-highgpu-4g"] = new(44.27788, 18.16042),
            ["a3-highgpu-8g"] = new(88.55576, 36.32084), ["g2-standard-12"] = new(0.99714, 0.43959), ["g2-standard-16"] = new(1.14345, 0.50408),
            ["g2-standard-24"] = new(1.99428, 0.87918), ["g2-standard-32"] = new(1.7287, 0.76207), ["g2-standard-4"] = new(0.70452, 0.3106),
            ["g2-standard-48"] = new(3.98856, 1.75835), ["g2-standard-8"] = new(0.85083, 0.37509), ["g2-standard-96"] = new(7.97712, 3.5167),
        },
        ["us-east5"] = new(StringComparer.OrdinalIgnoreCase)
        {
            ["a2-highgpu-1g"] = new(3.67339, 1.46107), ["a2-highgpu-2g"] = new(7.34677, 2.92213), ["a2-highgpu-4g"] = new(14.69354, 5.84426),
            ["a2-highgpu-8g"] = new(29.38708, 11.68852), ["a2-megagpu-16g"] = new(55.7395, 22.17032), ["a2-ultragpu-1g"] = new(5.56491, 1.77785),
            ["a2-ultragpu-2g"] = new(11.12983, 3.5557), ["a2-ultragpu-4g"] = new(22.25966, 7.11139), ["a2-ultragpu-8g"] = new(44.51932, 14.22278),
            ["a3-highgpu-1g"] = new(12.4479, 4.65976), ["a3-highgpu-2g"] = new(24.8958, 9.31953), ["a3-highgpu-4g"] = new(49.7916, 18.63905),
            ["a3-highgpu-8g"] = new(99.5832, 37.2781), ["g2-standard-12"] = new(1.12677, 0.11266), ["g2-standard-16"] = new(1.2921, 0.12918),
            ["g2-standard-24"] = new(2.25354, 0.22532), ["g2-standard-32"] = new(1.95343, 0.19526), ["g2-standard-4"] = new(0.79611, 0.07962),
            ["g2-standard-48"] = new(4.50708, 0.45064), ["g2-standard-8"] = new(0.96144, 0.09614), ["g2-standard-96"] = new(9.01415, 0.90128),
        },
        ["us-west1"] = new(StringComparer.OrdinalIgnoreCase)
        {
            ["a2-highgpu-1g"] = new(3.67339, 1.92802), ["a2-highgpu-2g"] = new(7.34677, 3.85604), ["a2-highgpu-4g"] = new(14.69354, 7.71208),
            ["a2-highgpu-8g"] = new(29.38708, 15.42416), ["a2-megagpu-16g"] = new(55.7395, 29.25568), ["a2-ultragpu-1g"] = new(5.0688, 2.75955),
            ["a2-ultragpu-2g"] = new(10.1376, 5.51909), ["a2-ultragpu-4g"] = new(20.27519, 11.03819), ["a2-ultragpu-8g"] = new(40.55038, 22.07637),
            ["a3-highgpu-1g"] = new(11.06125, 6.32619), ["a3-highgpu-2g"] = new(22.1225, 12.65239), ["a3-highgpu-4g"] = new(44.245, 25.30477),
            ["a3-highgpu-8g"] = new(88.49, 50.60954), ["g2-standard-12"] = new(1.00042, 0.56241), ["g2-standard-16"] = new(1.14721, 0.64494),
            ["g2-standard-24"] = new(2.00083, 1.12482), ["g2-standard-32"] = new(1.73438, 0.97509), ["g2-standard-4"] = new(0.70683, 0.39734),
            ["g2-standard-48"] = new(4.00167, 2.24963), ["g2-standard-8"] = new(0.85362, 0.47987), ["g2-standard-96"] = new(8.00333, 4.49926),
        },
        ["us-west4"] = new(StringComparer.OrdinalIgnoreCase)
        {
            ["a2-highgpu-1g"] = new(3.93435, 1.81683), ["a2-highgpu-2g"] = new(7.86871, 3.63367), ["a2-highgpu-4g"] = new(15.73742, 7.26734),
            ["a2-highgpu-8g"] = new(31.47484, 14.53468), ["a2-megagpu-16g"] = new(59.5316, 27.49112), ["a2-ultragpu-1g"] = new(5.70773, 1.18359),
            ["a2-ultragpu-2g"] = new(11.41546, 2.36719), ["a2-ultragpu-4g"] = new(22.83093, 4.73437), ["a2-ultragpu-8g"] = new(45.66186, 9.46875),
            ["a3-highgpu-1g"] = new(12.45612, 4.65945), ["a3-highgpu-2g"] = new(24.91224, 9.31891), ["a3-highgpu-4g"] = new(49.82448, 18.63782),
            ["a3-highgpu-8g"] = new(99.64895, 37.27564), ["g2-standard-12"] = new(1.12677, 0.65452), ["g2-standard-16"] = new(1.2921, 0.75056),
            ["g2-standard-24"] = new(2.25354, 1.30904), ["g2-standard-32"] = new(1.95343, 1.13472), ["g2-standard-4"] = new(0.79611, 0.46244),
            ["g2-standard-48"] = new(4.50708, 2.61808), ["g2-standard-8"] = new(0.96144, 0.55848), ["g2-standard-96"] = new(9.01415, 5.23616),
        },
        ["us-south1"] = new(StringComparer.OrdinalIgnoreCase)
        {
            ["a2-highgpu-1g"] = new(4.33459, 0.42996), ["a2-highgpu-2g"] = new(8.66919, 0.85992), ["a2-highgpu-4g"] = new(17.33838, 1.71984),
            ["a2-highgpu-8g"] = new(34.67675, 3.43968), ["a2-megagpu-16g"] = new(65.77261, 6.52416), ["a2-ultragpu-1g"] = new(5.98118, 0.76811),
            ["a2-ultragpu-2g"] = new(11.96236, 1.53622), ["a2-ultragpu-4g"] = new(23.92472, 3.07245), ["a2-ultragpu-8g"] = new(47.84945, 6.1449),
            ["a3-highgpu-1g"] = new(13.05228, 3.29676), ["a3-highgpu-2g"] = new(26.10455, 6.59353), ["a3-highgpu-4g"] = new(52.2091, 13.18705),
            ["a3-highgpu-8g"] = new(104.4182, 26.3741), ["g2-standard-12"] = new(1.18049, 0.2006), ["g2-standard-16"] = new(1.35371, 0.23003),
            ["g2-standard-24"] = new(2.36098, 0.40119), ["g2-standard-32"] = new(2.04656, 0.34776), ["g2-standard-4"] = new(0.83406, 0.14173),
            ["g2-standard-48"] = new(4.72197, 0.80238), ["g2-standard-8"] = new(1.00728, 0.17116), ["g2-standard-96"] = new(9.44393, 1.60477),
        },
        ["europe-west4"] = new(StringComparer.OrdinalIgnoreCase)
        {
            ["a2-highgpu-1g"] = new(3.74797, 1.69284), ["a2-highgpu-2g"] = new(7.49594, 3.38567), ["a2-highgpu-4g"] = new(14.99189, 6.77134),
            ["a2-highgpu-8g"] = new(29.98378, 13.54268), ["a2-megagpu-16g"] = new(56.62656, 25.57624), ["a2-ultragpu-1g"] = new(5.58092, 2.94521),
            ["a2-ultragpu-2g"] = new(11.16184, 5.89041), ["a2-ultragpu-4g"] = new(22.32367, 11.78083), ["a2-ultragpu-8g"] = new(44.64735, 23.56165),
            ["a3-highgpu-1g"] = new(14.06756, 5.51485), ["a3-highgpu-2g"] = new(28.13512, 11.02969), ["a3-highgpu-4g"] = new(56.27024, 22.05939),
            ["a3-highgpu-8g"] = new(112.54048, 44.11878), ["g2-standard-12"] = new(1.05149, 0.55178), ["g2-standard-16"] = new(1.20577, 0.63274),
            ["g2-standard-24"] = new(2.10298, 1.10356), ["g2-standard-32"] = new(1.82292, 0.95658), ["g2-standard-4"] = new(0.74292, 0.38986),
            ["g2-standard-48"] = new(4.20595, 2.20712), ["g2-standard-8"] = new(0.8972, 0.47082), ["g2-standard-96"] = new(8.4119, 4.41424),
        },
        ["asia-northeast1"] = new(StringComparer.OrdinalIgnoreCase)
        {
            ["a2-highgpu-1g"] = new(4.04959, 2.42968), ["a2-highgpu-2g"] = new(8.09918, 4.85935), ["a2-highgpu-4g"] = new(16.19836, 9.7187),
            ["a2-highgpu-8g"] = new(32.39673, 19.4374), ["a2-megagpu-16g"] = new(60.89413, 36.53528), ["a2-ultragpu-1g"] = new(6.50651, 2.69826),
            ["a2-ultragpu-2g"] = new(13.01302, 5.39653), ["a2-ultragpu-4g"] = new(26.02604, 10.79306), ["a2-ultragpu-8g"] = new(52.05209, 21.58612),
            ["a3-highgpu-1g"] = new(15.83042, 3.23875), ["a3-highgpu-2g"] = new(31.66085, 6.47751), ["a3-highgpu-4g"] = new(63.3217, 12.95501),
            ["a3-highgpu-8g"] = new(126.64339, 25.91003), ["g2-standard-12"] = new(1.28473, 0.77079), ["g2-standard-16"] = new(1.47324, 0.88388),
            ["g2-standard-24"] = new(2.56947, 1.54158), ["g2-standard-32"] = new(2.22729, 1.33627), ["g2-standard-4"] = new(0.90771, 0.5446),
            ["g2-standard-48"] = new(5.13894, 3.08315), ["g2-standard-8"] = new(1.09622, 0.65769), ["g2-standard-96"] = new(10.27788, 6.1663),
        },
        ["asia-southeast1"] = new(StringComparer.OrdinalIgnoreCase)
        {
            ["a2-highgpu-1g"] = new(4.01376, 2.40826), ["a2-highgpu-2g"] = new(8.02752, 4.81652), ["a2-highgpu-4g"] = new(16.05503, 9.63304),
            ["a2-highgpu-8g"] = new(32.11006, 19.26608), ["a2-megagpu-16g"] = new(60.47622, 36.28576), ["a2-ultragpu-1g"] = new(6.24769, 3.24873),
            ["a2-ultragpu-2g"] = new(12.49537, 6.49746), ["a2-ultragpu-4g"] = new(24.99074, 12.99491), ["a2-ultragpu-8g"] = new(49.98148, 25.98982),
            ["a3-highgpu-1g"] = new(14.28479, 6.40233), ["a3-highgpu-2g"] = new(28.56957, 12.80467), ["a3-highgpu-4g"] = new(57.13915, 25.60933),
            ["a3-highgpu-8g"] = new(114.27829, 51.21866), ["g2-standard-12"] = new(1.23421, 0.74062), ["g2-standard-16"] = new(1.41531, 0.84929),
            ["g2-standard-24"] = new(2.46843, 1.48123), ["g2-standard-32"] = new(2.1397, 1.28398), ["g2-standard-4"] = new(0.87202, 0.52327),
            ["g2-standard-48"] = new(4.93685, 2.96246), ["g2-standard-8"] = new(1.05312, 0.63194), ["g2-standard-96"] = new(9.87371, 5.92493),
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
        var warnings = new List<string>();
        var region = string.IsNullOrWhiteSpace(r.Region) ? null : RegionalPrices.RegionOf(r.Region);
        IReadOnlyDictionary<string, GpuMachinePrice> table = gpuPrices.MachineTypes;
        if (region is null)
        {
            region = string.IsNullOrWhiteSpace(gpuPrices.Region) ? "us-central1" : gpuPrices.Region;
            notes.Add($"No region given: GPU prices of {region}. Pass -Region (or a cluster or spec) for another region's prices.");
        }
        if (gpuPrices.Regions.Count > 0)
        {
            if (!gpuPrices.Regions.TryGetValue(region, out var regional))
            {
                var known = string.Join(", ", gpuPrices.Regions.Keys.OrderBy(k => k, StringComparer.Ordinal));
                throw new RhaiiException("NoPriceForRegion", RhaiiErrorCategory.ObjectNotFound,
                    $"The GPU price table has no prices for region {region} (it prices {known}).",
                    $"Pass -PriceTable with a \"gpuMachineTypes\" section for {region}, or estimate for one of: {known}.", region);
            }
            table = regional;
        }
        else if (!string.Equals(region, gpuPrices.Region, StringComparison.OrdinalIgnoreCase))
            notes.Add($"Your GPU price table has no regions: its gpuMachineTypes figures are used for {region} as given.");
        if (!table.TryGetValue(machine.MachineType, out var price))
            throw new RhaiiException("NoPriceForAccelerator", RhaiiErrorCategory.ObjectNotFound,
                $"The GPU price table has no price for machine type {machine.MachineType} in {region}.", "Add it under \"gpuMachineTypes\" in your price table (-PriceTable).", machine.MachineType);
        double perMachine;
        if (r.PricingModel == TpuPricingModel.Spot && price.Spot is { } spot)
        {
            perMachine = spot;
            if (ReferenceEquals(gpuPrices, GpuPriceTable.BuiltIn))
                notes.Add($"Spot price of {gpuPrices.SourceDate:yyyy-MM-dd}: Spot prices are dynamic (they can change every day); check cloud.google.com/spot-vms/pricing or pass -PriceTable.");
        }
        else
        {
            perMachine = price.OnDemand;
            if (r.PricingModel != TpuPricingModel.OnDemand)
            {
                // Never silently: the figure shown is an upper bound, and the warning stream says so.
                notes.Add($"Estimate: the GPU price table has no {r.PricingModel} price for {machine.MachineType} in {region}; the on-demand price is used (an upper bound), not a {r.PricingModel} price.");
                warnings.Add($"No {r.PricingModel} price for {machine.MachineType} in {region}: priced on demand (an upper bound). Add it to your price table (-PriceTable).");
            }
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
        double lbHourly = 0;
        if (r.IncludeLoadBalancer && overheadPrices.LoadBalancer is { } lb)
        {
            lbHourly = lb.ForwardingRulePerHour + Math.Max(0, r.LoadBalancerGbPerMonth) * lb.DataProcessingPerGb / 730;
            overhead += lbHourly;
            notes.Add(CostEstimator.LoadBalancerNote(lb, r.LoadBalancerGbPerMonth));
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
            Region = region,
            LoadBalancerHourly = Math.Round(lbHourly, 4),
            LoadBalancerGbPerMonth = r.IncludeLoadBalancer && overheadPrices.LoadBalancer is not null ? Math.Max(0, r.LoadBalancerGbPerMonth) : null,
            Warnings = warnings,
            Service = r.Service,
        };
    }
}
