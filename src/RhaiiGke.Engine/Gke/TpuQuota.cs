namespace RhaiiGke.Engine.Gke;

/// <summary>
/// Which Compute regional quota metric governs TPU chips in GKE node pools. v5e's names
/// (TPU_LITE_PODSLICE_V5, PREEMPTIBLE_TPU_LITE_PODSLICE_V5) are the ones regions.get reports; for v6e and v5p
/// projects may only expose the quota through the Cloud Quotas API, so an absent metric is a warning, not a pass.
/// </summary>
public static class TpuQuota
{
    public sealed record Metrics(string[] OnDemand, string[] Spot, string CloudQuotasHint);

    public static Metrics For(string accelerator) => Engine.Catalog.TpuCatalog.RequireAccelerator(accelerator) switch
    {
        "v6e" => new(["TPU_V6E_SLICE", "TPUS_PER_TPU_FAMILY"], ["PREEMPTIBLE_TPU_V6E_SLICE", "PREEMPTIBLE_TPU_V6E"],
            "Cloud Quotas: TPUS-PER-TPU-FAMILY-per-project-region (tpu_family=CT6E) on demand, PREEMPTIBLE-TPU-V6E-per-project-region for spot"),
        "v5e" => new(["TPU_LITE_PODSLICE_V5"], ["PREEMPTIBLE_TPU_LITE_PODSLICE_V5"],
            "Compute quota 'TPU v5 Lite PodSlice chips' (TPU_LITE_PODSLICE_V5), preemptible for spot"),
        _ => new(["TPU_V5P_PODSLICE", "TPU_PODSLICE_V5P"], ["PREEMPTIBLE_TPU_V5P_PODSLICE", "PREEMPTIBLE_TPU_PODSLICE_V5P"],
            "Compute quota 'TPU v5p chips' in the region"),
    };

    /// <summary>The first metric of the plan's kind (on demand or spot) that the region reports.</summary>
    public static RegionQuota? Find(IEnumerable<RegionQuota> quotas, string accelerator, bool spot)
    {
        var m = For(accelerator);
        var names = spot ? m.Spot : m.OnDemand;
        var list = quotas.ToList();
        foreach (var n in names)
            if (list.FirstOrDefault(q => string.Equals(q.Metric, n, StringComparison.OrdinalIgnoreCase)) is { } q) return q;
        return null;
    }
}
