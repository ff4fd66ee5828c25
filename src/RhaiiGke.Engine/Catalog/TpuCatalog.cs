namespace RhaiiGke.Engine.Catalog;

/// <summary>
/// The TPU slices GKE offers, from the GKE TPU documentation and xpk's system characteristics.
/// A pod on a TPU host requests every chip of the host (GKE Warden rejects partial requests on
/// multi-chip machine types), selects both TPU node labels and tolerates the TPU taint.
/// </summary>
public static class TpuCatalog
{
    private sealed record Generation(string Short, string Label, int HbmGiB, string[] Aliases);

    private static readonly Generation V6e = new("v6e", "tpu-v6e-slice", 32, ["v6e", "tpu-v6e", "tpu-v6e-slice", "trillium", "tpuv6e"]);
    private static readonly Generation V5e = new("v5e", "tpu-v5-lite-podslice", 16, ["v5e", "v5litepod", "tpu-v5-lite-podslice", "tpu-v5e", "tpuv5e", "v5lite"]);
    private static readonly Generation V5p = new("v5p", "tpu-v5p-slice", 95, ["v5p", "tpu-v5p", "tpu-v5p-slice", "tpuv5p"]);

    /// <summary>All accelerator names the catalog understands, canonical first.</summary>
    public static IReadOnlyList<string> AcceleratorNames { get; } = ["v6e", "v5e", "v5p", "tpu-v6e-slice", "tpu-v5-lite-podslice", "tpu-v5p-slice"];

    // Declared before All: static initializers run in textual order.
    private static readonly (string Topology, int Chips)[] MultiHost2D =
        [("2x4", 8), ("4x4", 16), ("4x8", 32), ("8x8", 64), ("8x16", 128), ("16x16", 256)];

    public static IReadOnlyList<TpuTopology> All { get; } = Build();

    private static List<TpuTopology> Build()
    {
        var list = new List<TpuTopology>();
        void Add(Generation g, string machine, string topology, int chipsPerHost, int hosts) =>
            list.Add(new TpuTopology
            {
                Accelerator = g.Short,
                NodeLabel = g.Label,
                MachineType = machine,
                Topology = topology,
                ChipsPerHost = chipsPerHost,
                Hosts = hosts,
                HbmPerChipGiB = g.HbmGiB,
            });

        // v6e (Trillium)
        Add(V6e, "ct6e-standard-1t", "1x1", 1, 1);
        Add(V6e, "ct6e-standard-4t", "2x2", 4, 1);
        Add(V6e, "ct6e-standard-8t", "2x4", 8, 1);
        foreach (var (t, chips) in MultiHost2D)
            Add(V6e, "ct6e-standard-4t", t, 4, chips / 4);

        // v5e
        Add(V5e, "ct5lp-hightpu-1t", "1x1", 1, 1);
        Add(V5e, "ct5lp-hightpu-4t", "2x2", 4, 1);
        Add(V5e, "ct5lp-hightpu-8t", "2x4", 8, 1);
        foreach (var (t, chips) in MultiHost2D)
            Add(V5e, "ct5lp-hightpu-4t", t, 4, chips / 4);

        // v5p: 3-D topologies, four chips per host
        Add(V5p, "ct5p-hightpu-4t", "2x2x1", 4, 1);
        foreach (var t in new[] { "2x2x2", "2x2x4", "2x4x4", "4x4x4", "4x4x8", "4x8x8", "8x8x8" })
            Add(V5p, "ct5p-hightpu-4t", t, 4, ChipsOf(t) / 4);
        return list;
    }

    /// <summary>Chips in a topology string such as 2x4 or 2x2x1.</summary>
    public static int ChipsOf(string topology)
    {
        var parts = topology.Split('x');
        var product = 1;
        foreach (var p in parts)
        {
            if (!int.TryParse(p, out var n) || n <= 0)
                throw new RhaiiException("InvalidTpuTopology", RhaiiErrorCategory.InvalidArgument,
                    $"'{topology}' is not a TPU topology; it should look like 2x2 or 2x2x1.",
                    "Run Get-TpuTopology to list valid topologies.", topology);
            product *= n;
        }
        return product;
    }

    /// <summary>Canonical short name (v6e, v5e, v5p) for what people type or for a GKE label value; null when unknown.</summary>
    public static string? NormalizeAccelerator(string? name)
    {
        if (string.IsNullOrWhiteSpace(name)) return null;
        var n = name.Trim().ToLowerInvariant();
        foreach (var g in new[] { V6e, V5e, V5p })
            if (g.Aliases.Contains(n)) return g.Short;
        return null;
    }

    /// <summary>The GKE node label value for a generation name, or null.</summary>
    public static string? NodeLabelFor(string? accelerator)
    {
        var s = NormalizeAccelerator(accelerator);
        return s switch { "v6e" => V6e.Label, "v5e" => V5e.Label, "v5p" => V5p.Label, _ => null };
    }

    /// <summary>True when <paramref name="label"/> is a value GKE really puts on TPU nodes.</summary>
    public static bool IsKnownNodeLabel(string? label) => All.Any(t => string.Equals(t.NodeLabel, label, StringComparison.Ordinal));

    /// <summary>Resolves an accelerator name or throws a clear error.</summary>
    public static string RequireAccelerator(string name)
    {
        return NormalizeAccelerator(name) ?? throw new RhaiiException("UnknownAccelerator", RhaiiErrorCategory.InvalidArgument,
            $"Unknown TPU accelerator '{name}'. Known: v6e (tpu-v6e-slice), v5e (tpu-v5-lite-podslice), v5p (tpu-v5p-slice); GPUs: {string.Join(", ", GpuCatalog.AcceleratorNames)}.",
            GpuCatalog.IsGpu(name) ? $"{name} is a GPU: use New-GpuCluster for GPU node pools." : "Use -Accelerator v6e, v5e or v5p (TPU) or nvidia-l4, nvidia-tesla-a100, nvidia-a100-80gb, nvidia-h100-80gb (GPU).", name);
    }

    public static IEnumerable<TpuTopology> Find(string? accelerator = null, string? machineType = null, string? topology = null)
    {
        IEnumerable<TpuTopology> q = All;
        if (!string.IsNullOrWhiteSpace(accelerator))
        {
            var a = RequireAccelerator(accelerator);
            q = q.Where(t => t.Accelerator == a);
        }
        if (!string.IsNullOrWhiteSpace(machineType))
            q = q.Where(t => string.Equals(t.MachineType, machineType, StringComparison.OrdinalIgnoreCase));
        if (!string.IsNullOrWhiteSpace(topology))
            q = q.Where(t => string.Equals(t.Topology, topology, StringComparison.OrdinalIgnoreCase));
        return q;
    }

    /// <summary>
    /// The single slice for an accelerator and topology. Where a topology exists both single-host and
    /// multi-host (v6e 2x4 on -8t or 2x -4t), the single-host machine type wins unless one is named.
    /// </summary>
    public static TpuTopology Resolve(string accelerator, string topology, string? machineType = null)
    {
        var a = RequireAccelerator(accelerator);
        var matches = Find(a, machineType, topology).ToList();
        if (matches.Count == 0)
        {
            var valid = string.Join(", ", Find(a).Select(t => $"{t.Topology} ({t.MachineType})").Distinct());
            if (machineType is not null && Find(a, null, topology).Any())
                throw new RhaiiException("TopologyMachineTypeMismatch", RhaiiErrorCategory.InvalidArgument,
                    $"Topology {topology} is not offered on machine type {machineType} for TPU {a}.",
                    $"Valid for {a}: {valid}.", topology);
            throw new RhaiiException("UnknownTpuTopology", RhaiiErrorCategory.InvalidArgument,
                $"TPU {a} has no topology '{topology}'.", $"Valid for {a}: {valid}.", topology);
        }
        return matches.OrderBy(t => t.Hosts).First();
    }
}
