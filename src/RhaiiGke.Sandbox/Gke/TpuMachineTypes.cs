namespace RhaiiGke.Sandbox.Gke;

/// <summary>
/// What the simulated GKE and Compute APIs know about TPU machine types: for each machine type the
/// accelerator node label, the chips on one host, the slice topologies a node pool may ask for (hosts =
/// chips / chips per host), and the regional quota metric that counts its chips. GKE's own knowledge,
/// kept apart from the module's catalog so a mistake in one shows against the other.
/// </summary>
internal static class TpuMachineTypes
{
    internal sealed record Slice(string Accelerator, string NodeLabel, string MachineType, string Topology, int ChipsPerHost, int Hosts)
    {
        public bool MultiHost => Hosts > 1;
    }

    private sealed record Family(string Accelerator, string NodeLabel, string Prefix, string OnDemandMetric, string SpotMetric, bool ThreeD);

    private static readonly Family Trillium = new("v6e", "tpu-v6e-slice", "ct6e-standard", "TPU_V6E_SLICE", "PREEMPTIBLE_TPU_V6E_SLICE", false);
    private static readonly Family V5Lite = new("v5e", "tpu-v5-lite-podslice", "ct5lp-hightpu", "TPU_LITE_PODSLICE_V5", "PREEMPTIBLE_TPU_LITE_PODSLICE_V5", false);
    private static readonly Family V5p = new("v5p", "tpu-v5p-slice", "ct5p-hightpu", "TPU_V5P_PODSLICE", "PREEMPTIBLE_TPU_V5P_PODSLICE", true);
    private static readonly Family[] Families = [Trillium, V5Lite, V5p];

    private static readonly List<Slice> Slices = Enumerate().ToList();

    private static IEnumerable<Slice> Enumerate()
    {
        foreach (var f in Families)
        {
            if (f.ThreeD)
            {
                // v5p: 4 chips per host; the smallest slice is one host (2x2x1), larger ones are cubes and bricks.
                string[] shapes = ["2x2x1", "2x2x2", "2x2x4", "2x4x4", "4x4x4", "4x4x8", "4x8x8", "8x8x8"];
                foreach (var shape in shapes) yield return Make(f, 4, shape);
                continue;
            }
            // 2-D generations: single-host 1t (1x1), 4t (2x2), 8t (2x4); multi-host slices use 4t hosts.
            yield return Make(f, 1, "1x1");
            yield return Make(f, 4, "2x2");
            yield return Make(f, 8, "2x4");
            for (var (x, y) = (2, 4); y <= 16; (x, y) = x == y ? (x, y * 2) : (x * 2, y))
                yield return Make(f, 4, $"{x}x{y}");
        }
    }

    private static Slice Make(Family f, int chipsPerHost, string topology)
    {
        var chips = topology.Split('x').Aggregate(1, (acc, d) => acc * int.Parse(d, System.Globalization.CultureInfo.InvariantCulture));
        return new Slice(f.Accelerator, f.NodeLabel, $"{f.Prefix}-{chipsPerHost}t", topology, chipsPerHost, Math.Max(1, chips / chipsPerHost));
    }

    /// <summary>The slices of a machine type (single-host first), optionally only the one with <paramref name="topology"/>.</summary>
    public static IEnumerable<Slice> Find(string? machineType, string? topology = null) =>
        Slices.Where(s => string.Equals(s.MachineType, machineType, StringComparison.Ordinal) && (topology is null || s.Topology == topology))
              .OrderBy(s => s.Hosts);

    /// <summary>The regional quota metric for the chips of <paramref name="accelerator"/> (v6e, v5e, v5p).</summary>
    public static string QuotaMetric(string accelerator, bool spot)
    {
        var f = Families.FirstOrDefault(x => x.Accelerator == accelerator) ?? throw new ArgumentException($"unknown TPU accelerator {accelerator}");
        return spot ? f.SpotMetric : f.OnDemandMetric;
    }
}
