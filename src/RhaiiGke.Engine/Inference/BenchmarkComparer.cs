namespace RhaiiGke.Engine.Inference;

/// <summary>Puts benchmark results side by side: one row per metric and stage, with deltas against the reference.</summary>
public static class BenchmarkComparer
{
    private sealed record MetricDef(string Name, string Unit, bool HigherIsBetter, Func<InferenceBenchmarkResult, double?> Get);

    private static readonly MetricDef[] s_metrics =
    [
        new("request_throughput", "req/s", true, r => r.RequestThroughput),
        new("output_throughput", "tok/s", true, r => r.OutputThroughput),
        new("total_token_throughput", "tok/s", true, r => r.TotalTokenThroughput),
        new("request_goodput", "req/s", true, r => r.RequestGoodput),
        new("median_ttft_ms", "ms", false, r => r.Ttft.Count > 0 ? r.Ttft.Median : null),
        new("p99_ttft_ms", "ms", false, r => r.Ttft.Count > 0 ? r.Ttft.P99 : null),
        new("median_tpot_ms", "ms", false, r => r.Tpot.Count > 0 ? r.Tpot.Median : null),
        new("p99_tpot_ms", "ms", false, r => r.Tpot.Count > 0 ? r.Tpot.P99 : null),
        new("median_itl_ms", "ms", false, r => r.Itl.Count > 0 ? r.Itl.Median : null),
        new("p99_itl_ms", "ms", false, r => r.Itl.Count > 0 ? r.Itl.P99 : null),
        new("median_e2el_ms", "ms", false, r => r.E2el.Count > 0 ? r.E2el.Median : null),
        new("p99_e2el_ms", "ms", false, r => r.E2el.Count > 0 ? r.E2el.P99 : null),
        new("failed", "count", false, r => r.Failed),
        new("cached_token_ratio", "%", true, r => r.CachedTokenRatio * 100),
        new("achieved_concurrency", "count", true, r => r.AchievedConcurrency),
    ];

    public static IReadOnlyList<string> MetricNames => s_metrics.Select(m => m.Name).ToList();

    /// <summary>
    /// Pairs each difference result with the reference result of the same stage (or, when each side has
    /// one result, with that one) and returns one row per metric.
    /// </summary>
    public static List<InferenceBenchmarkComparison> Compare(IReadOnlyList<InferenceBenchmarkResult> reference, IReadOnlyList<InferenceBenchmarkResult> difference, IReadOnlyCollection<string>? metrics = null)
    {
        if (reference.Count == 0 || difference.Count == 0)
            throw new RhaiiException("NothingToCompare", RhaiiErrorCategory.InvalidArgument, "Comparing needs at least one reference and one difference result.",
                "Pass -ReferenceResult $before and pipe the new results in, e.g. $after | Compare-InferenceBenchmark -ReferenceResult $before.");
        var unknown = metrics?.Where(m => !s_metrics.Any(d => d.Name.Equals(m, StringComparison.OrdinalIgnoreCase))).ToList();
        if (unknown is { Count: > 0 })
            throw new RhaiiException("UnknownComparisonMetric", RhaiiErrorCategory.InvalidArgument, $"Unknown metric(s): {string.Join(", ", unknown)}.",
                "Use " + string.Join(", ", s_metrics.Select(m => m.Name)) + ".");
        var defs = metrics is { Count: > 0 } ? s_metrics.Where(d => metrics.Contains(d.Name, StringComparer.OrdinalIgnoreCase)).ToArray() : s_metrics;
        var rows = new List<InferenceBenchmarkComparison>();
        foreach (var d in difference)
        {
            var b = reference.Count == 1 && difference.Count == 1 ? reference[0] : reference.FirstOrDefault(r => r.Stage == d.Stage);
            if (b is null) continue;
            foreach (var m in defs)
            {
                if (m.Get(b) is not { } bv || m.Get(d) is not { } dv) continue;
                rows.Add(new InferenceBenchmarkComparison
                {
                    Stage = d.Stage == b.Stage ? d.Stage : $"{b.Stage} / {d.Stage}",
                    Metric = m.Name,
                    Unit = m.Unit,
                    Baseline = Name(b),
                    BaselineValue = bv,
                    Candidate = Name(d),
                    Value = dv,
                    HigherIsBetter = m.HigherIsBetter,
                });
            }
        }
        if (rows.Count == 0)
            throw new RhaiiException("NoMatchingStages", RhaiiErrorCategory.InvalidData, "No difference result has a stage of the same name in the reference.",
                $"Reference stages: {string.Join(", ", reference.Select(r => r.Stage))}; difference stages: {string.Join(", ", difference.Select(r => r.Stage))}.");
        return rows;
    }

    private static string Name(InferenceBenchmarkResult r) => $"{r.Label}/{r.Stage}";
}
