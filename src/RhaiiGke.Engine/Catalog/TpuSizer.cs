namespace RhaiiGke.Engine.Catalog;

/// <summary>
/// Decides which TPU slices hold a model. Memory model: weights = parameters x bytes; KV cache per
/// token = 2 x layers x kvHeads x headDim x bytes; usable HBM = total x utilization (vLLM's
/// --gpu-memory-utilization, 0.9 by default) minus a fixed per-chip runtime reserve, counted over the
/// chips vLLM shards across (the tensor-parallel size, which can be fewer than the slice's chips). A
/// slice fits when weights plus the KV cache for <c>concurrentSequences</c> full contexts fit in that HBM.
/// </summary>
public static class TpuSizer
{
    public const double RuntimeReserveGiBPerChip = 1.0;
    private const double GiB = 1024d * 1024 * 1024;

    public sealed record Request(
        string? Model = null,
        double? ParametersBillions = null,
        string DType = "bfloat16",
        int MaxModelLength = 4096,
        int ConcurrentSequences = 16,
        double MemoryUtilization = 0.9,
        string? Accelerator = null);

    public static IReadOnlyList<TpuModelFit> Size(Request r)
    {
        var info = ModelCatalog.Find(r.Model);
        double paramsB = r.ParametersBillions ?? info?.ParametersBillions
            ?? throw new RhaiiException("UnknownModelSize", RhaiiErrorCategory.InvalidArgument,
                $"The size of model '{r.Model}' is not known.",
                "Pass -ParameterCount (in billions), e.g. -ParameterCount 3.1.", r.Model);
        if (paramsB <= 0)
            throw new RhaiiException("InvalidParameterCount", RhaiiErrorCategory.InvalidArgument, "The parameter count must be positive.", null, paramsB);
        if (r.MemoryUtilization is <= 0 or > 1)
            throw new RhaiiException("InvalidMemoryUtilization", RhaiiErrorCategory.InvalidArgument, "Memory utilization must be in (0, 1].", "Use a value such as 0.9.", r.MemoryUtilization);
        var bytes = ModelCatalog.BytesPerParameter(r.DType);
        var weights = paramsB * 1e9 * bytes / GiB;

        // When the architecture is unknown, estimate the KV cache from a dense-transformer rule of thumb
        // (grouped-query attention, 8 KV heads of 128, layers ~ 4.5 x sqrt(params in B) + 14).
        var layers = info?.Layers ?? (int)Math.Round(4.5 * Math.Sqrt(paramsB) + 14);
        var kvHeads = info?.KvHeads ?? 8;
        var headDim = info?.HeadDim ?? 128;
        var kvPerToken = 2.0 * layers * kvHeads * headDim * bytes;
        var kv = kvPerToken * r.MaxModelLength * r.ConcurrentSequences / GiB;

        var candidates = string.IsNullOrWhiteSpace(r.Accelerator) ? TpuCatalog.All
            : GpuCatalog.IsGpu(r.Accelerator) ? GpuCatalog.Find(r.Accelerator).ToList() : TpuCatalog.Find(r.Accelerator).ToList();
        var results = new List<TpuModelFit>();
        foreach (var g in candidates.GroupBy(t => t.Accelerator))
        {
            // The smallest chip count (of the generation's slice sizes) that fits.
            int? minChips = null;
            foreach (var chips in g.Select(t => t.Chips).Distinct().OrderBy(c => c))
                if (g.Where(t => t.Chips == chips).Any(t => Usable(t.HbmPerChipGiB, ShardChips(t, info), r.MemoryUtilization) >= weights + kv)) { minChips = chips; break; }
            // a multi-host slice is the recommendation only when no single-host slice of the generation holds the model
            var singleHostFits = g.Any(t => !t.MultiHost && Usable(t.HbmPerChipGiB, ShardChips(t, info), r.MemoryUtilization) >= weights + kv);

            foreach (var t in g)
            {
                // multi-host: tensor-parallel within a host, one pipeline stage per host (MultiHostManifests)
                var tp = t.MultiHost ? TensorParallel(t.ChipsPerHost, info) : TensorParallel(t.Chips, info);
                var pp = t.MultiHost ? t.Hosts : 1;
                // vLLM shards the weights and KV cache over the TP × PP chips only; idle chips add no memory
                var usable = Usable(t.HbmPerChipGiB, tp * pp, r.MemoryUtilization);
                var fits = usable >= weights + kv;
                var wasted = fits && minChips is int m ? t.Chips - m : 0;
                var note = Note(t, fits, minChips, wasted, tp, info);
                results.Add(new TpuModelFit
                {
                    Model = info?.Id ?? r.Model ?? $"{paramsB:0.##}B parameters",
                    ParametersBillions = paramsB,
                    DType = r.DType,
                    Topology = t,
                    WeightsGiB = Math.Round(weights, 2),
                    KvCacheGiB = Math.Round(kv, 2),
                    UsableHbmGiB = Math.Round(usable, 2),
                    Fits = fits,
                    TensorParallelSize = tp,
                    PipelineParallelSize = pp,
                    MinimumChips = minChips ?? 0,
                    WastedChips = wasted,
                    Recommended = fits && wasted == 0 && (!t.MultiHost || !singleHostFits),
                    Note = note,
                });
            }
        }
        return results.OrderBy(f => f.Topology.Accelerator).ThenBy(f => f.Chips).ThenBy(f => f.Topology.Hosts).ToList();
    }

    /// <summary>The chips vLLM shards across on slice <paramref name="t"/>: TP (× PP hosts on a multi-host slice).</summary>
    private static int ShardChips(TpuTopology t, ModelInfo? info) =>
        t.MultiHost ? TensorParallel(t.ChipsPerHost, info) * t.Hosts : TensorParallel(t.Chips, info);

    private static double Usable(int hbmPerChip, int chips, double utilization) =>
        chips * (hbmPerChip * utilization - RuntimeReserveGiBPerChip);

    /// <summary>
    /// The tensor-parallel size vLLM can use on <paramref name="chips"/> chips: all of them, unless the
    /// model's attention heads do not divide by that number (vLLM refuses a TP size that does not divide
    /// num_attention_heads), in which case it is halved until it does and the rest of the chips idle.
    /// </summary>
    public static int TensorParallel(int chips, ModelInfo? info)
    {
        var tp = chips;
        if (info is null) return tp;
        while (tp > 1 && info.AttentionHeads % tp != 0) tp /= 2;
        return tp;
    }

    private static string Note(TpuTopology t, bool fits, int? minChips, int wasted, int tp, ModelInfo? info)
    {
        if (!fits) return "Does not fit: weights plus KV cache exceed usable HBM.";
        var parts = new List<string>();
        if (wasted > 0 && minChips is int m)
        {
            var replicas = t.Chips / m;
            parts.Add($"Fits on {m} chip(s): this {t.Chips}-chip slice runs one replica at TP={tp}{(t.MultiHost ? $" × PP={t.Hosts}" : "")}; {replicas} replicas at TP={TensorParallel(m, info)} on {m}-chip slices would serve about {replicas}x the traffic for the same chips.");
        }
        if (info is not null && !t.MultiHost && tp != t.Chips)
            parts.Add($"{info.AttentionHeads} attention heads do not divide by {t.Chips}, so TP is {tp} (vLLM needs it to divide the heads) and {t.Chips - tp} chip(s) idle.");
        if (info is not null && t.MultiHost && tp != t.ChipsPerHost)
            parts.Add($"{info.AttentionHeads} attention heads do not divide by {t.ChipsPerHost}, so TP is {tp} per host and {(t.ChipsPerHost - tp) * t.Hosts} chip(s) idle.");
        if (t.MultiHost) parts.Add($"Multi-host slice ({t.Hosts} hosts of {t.ChipsPerHost} chips): each replica is a LeaderWorkerSet group of {t.Hosts} pods (TP {tp} per host × PP {t.Hosts}) on one atomic, immutable node pool.");
        return parts.Count == 0 ? "Smallest slice that fits." : string.Join(" ", parts);
    }
}
