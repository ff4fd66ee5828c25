using RhaiiGke.Engine.Catalog;

namespace RhaiiGke.Engine.Gke;

/// <summary>
/// GPU quota before a GPU node pool is created: Compute regional quota metrics count GPUs per model
/// (NVIDIA_L4_GPUS, NVIDIA_A100_GPUS, NVIDIA_A100_80GB_GPUS, NVIDIA_H100_GPUS; PREEMPTIBLE_ for Spot), as regions.get reports them.
/// </summary>
public static class GpuQuota
{
    public static PrerequisiteCheck Check(IReadOnlyList<RegionQuota> quotas, TpuTopology machine, bool spot, int gpusAtLeast, int gpusAtMax, string region, string project)
    {
        var (onDemand, spotMetric) = GpuCatalog.QuotaMetrics(machine.Accelerator);
        var metric = spot ? spotMetric : onDemand;
        var kind = spot ? "Spot (preemptible)" : "on-demand";
        var q = quotas.FirstOrDefault(x => string.Equals(x.Metric, metric, StringComparison.OrdinalIgnoreCase));
        if (q is null)
            return new PrerequisiteCheck
            {
                Name = "GpuQuota", Status = PrerequisiteStatus.Warning,
                Message = $"Compute regions.get reports no {kind} {machine.Accelerator} quota ({metric}) for {region}; it could not be verified.",
                RecommendedAction = $"Check {metric} in the console for project {project} (IAM & Admin > Quotas) and request {gpusAtMax} GPUs if it is 0.",
                Data = new Dictionary<string, object?> { ["Metric"] = metric, ["Region"] = region, ["GpusRequired"] = gpusAtMax },
            };
        var data = new Dictionary<string, object?>
        {
            ["Metric"] = q.Metric, ["Limit"] = q.Limit, ["Usage"] = q.Usage, ["Available"] = q.Available,
            ["GpusAtLeast"] = gpusAtLeast, ["GpusAtMax"] = gpusAtMax, ["Region"] = region,
        };
        if (q.Available < gpusAtLeast)
            return new PrerequisiteCheck
            {
                Name = "GpuQuota", Status = PrerequisiteStatus.Failed, Data = data,
                Message = $"{q.Metric} in {region}: {q.Available:0} of {q.Limit:0} GPUs free, the plan needs at least {gpusAtLeast} ({machine.MachineType}, {machine.ChipsPerHost} x {machine.Accelerator} per node).",
                RecommendedAction = $"Request at least {gpusAtMax} GPUs of {q.Metric} in {region} (IAM & Admin > Quotas), or choose a smaller machine type or another region.",
            };
        if (q.Available < gpusAtMax)
            return new PrerequisiteCheck
            {
                Name = "GpuQuota", Status = PrerequisiteStatus.Warning, Data = data,
                Message = $"{q.Metric} in {region}: {q.Available:0} GPUs free; enough for {gpusAtLeast} but not for the autoscaling maximum of {gpusAtMax}.",
                RecommendedAction = $"Request {gpusAtMax} GPUs of {q.Metric} or lower -MaxNodes.",
            };
        return new PrerequisiteCheck
        {
            Name = "GpuQuota", Status = PrerequisiteStatus.Passed, Data = data,
            Message = $"{q.Metric} in {region}: {q.Available:0} of {q.Limit:0} GPUs free; the plan needs up to {gpusAtMax}.",
        };
    }
}
