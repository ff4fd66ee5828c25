namespace RhaiiGke.Engine.Inference;

/// <summary>One finished request in compact form (seconds from the stage start), as the runner records it.</summary>
internal struct RequestRow
{
    public double Scheduled;
    public double Start;
    public double QueueTime;
    /// <summary>Seconds to the first content; NaN when none (non-streaming or failed).</summary>
    public double Ttft;
    public double FirstByte;
    /// <summary>Seconds to the last choice-bearing chunk (or the whole body when not streaming).</summary>
    public double Latency;
    public int PromptTokens;
    public int OutputTokens;
    public int CachedTokens;
    /// <summary>Slice of the pooled ITL list belonging to this request.</summary>
    public int ItlStart;
    public int ItlCount;
    public double MaxItl;
    public bool Success;
}

/// <summary>
/// vLLM's benchmark arithmetic (vllm/benchmarks/serve.py calculate_metrics) on recorded requests, plus
/// normalized TPOT, achieved concurrency and scheduling lag. Pure functions, so synthetic traces with
/// known answers test them exactly.
/// </summary>
internal static class BenchmarkMath
{
    /// <summary>numpy.percentile with the default linear interpolation, on a sorted array.</summary>
    public static double PercentileSorted(double[] sorted, double p)
    {
        if (sorted.Length == 0) return 0;
        if (sorted.Length == 1) return sorted[0];
        var pos = (sorted.Length - 1) * (p / 100.0);
        var lo = (int)Math.Floor(pos);
        var hi = (int)Math.Ceiling(pos);
        if (lo == hi) return sorted[lo];
        // numpy's _lerp: a + (b - a) * t, with the t >= 0.5 branch computed from the upper end.
        var t = pos - lo;
        var a = sorted[lo];
        var b = sorted[hi];
        var diff = b - a;
        return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
    }

    /// <summary>Mean, median, population std, min, max and percentiles, in milliseconds from values in seconds. Empty input gives zeros, as numpy does for vLLM's "or 0".</summary>
    public static InferenceLatencyStats Stats(string metric, double[] seconds, IReadOnlyList<double> percentiles, double scale = 1000)
    {
        var n = seconds.Length;
        var pct = new Dictionary<double, double>();
        if (n == 0)
        {
            foreach (var p in percentiles) pct[p] = 0;
            return new InferenceLatencyStats { Metric = metric, Percentiles = pct };
        }
        var sorted = (double[])seconds.Clone();
        Array.Sort(sorted);
        // numpy's mean uses pairwise summation; for test-sized arrays plain summation is identical in practice.
        double sum = 0;
        foreach (var v in seconds) sum += v;
        var mean = sum / n;
        double sq = 0;
        foreach (var v in seconds) { var d = v - mean; sq += d * d; }
        foreach (var p in percentiles) pct[p] = PercentileSorted(sorted, p) * scale;
        return new InferenceLatencyStats
        {
            Metric = metric,
            Count = n,
            Mean = mean * scale,
            Median = PercentileSorted(sorted, 50) * scale,
            Std = Math.Sqrt(sq / n) * scale,
            Min = sorted[0] * scale,
            Max = sorted[^1] * scale,
            Percentiles = pct,
        };
    }

    /// <summary>Peak of simultaneously open [start, end) intervals (sweep line).</summary>
    public static int PeakConcurrency(IReadOnlyList<(double Start, double End)> intervals)
    {
        var events = new List<(double T, int D)>(intervals.Count * 2);
        foreach (var (s, e) in intervals) { events.Add((s, 1)); events.Add((e, -1)); }
        // Ends before starts at the same instant: [start, end) intervals that touch do not overlap.
        events.Sort((x, y) => x.T != y.T ? x.T.CompareTo(y.T) : x.D.CompareTo(y.D));
        int cur = 0, peak = 0;
        foreach (var (_, d) in events) { cur += d; peak = Math.Max(peak, cur); }
        return peak;
    }

    /// <summary>vLLM's peak output tokens per second: each chunk's time (start + ttft + cumulative ITLs) put in 1-second buckets from the earliest start.</summary>
    public static double PeakOutputTokensPerSecond(IReadOnlyList<RequestRow> rows, IReadOnlyList<double> itls)
    {
        var ok = rows.Where(r => r.Success && !double.IsNaN(r.Ttft)).ToList();
        if (ok.Count == 0) return 0;
        var min = ok.Min(r => r.Start);
        var max = ok.Max(r => r.Start + r.Latency);
        var buckets = new double[(int)Math.Ceiling(max - min) + 1];
        foreach (var r in ok)
        {
            var t = r.Start + r.Ttft;
            Add(t);
            for (var i = 0; i < r.ItlCount; i++) { t += itls[r.ItlStart + i]; Add(t); }
        }
        return buckets.Max();

        void Add(double t)
        {
            var b = (int)(t - min);
            if (b >= 0 && b < buckets.Length) buckets[b]++;
        }
    }

    /// <summary>TPOT of one request as vLLM defines it, or null when it has one output token or fewer.</summary>
    public static double? Tpot(in RequestRow r) =>
        r.Success && r.OutputTokens > 1 && !double.IsNaN(r.Ttft) ? (r.Latency - r.Ttft) / (r.OutputTokens - 1) : null;

    /// <summary>Whether a successful request meets every SLO (seconds); TPOT counts as 0 with ≤ 1 output token, as in vLLM.</summary>
    public static bool MeetsSlo(in RequestRow r, IReadOnlyDictionary<string, double> sloSeconds)
    {
        if (!r.Success) return false;
        foreach (var (k, limit) in sloSeconds)
        {
            var value = k.ToLowerInvariant() switch
            {
                "ttft" => double.IsNaN(r.Ttft) ? r.Latency : r.Ttft,
                "tpot" => Tpot(r) ?? 0,
                "e2el" => r.Latency,
                "ntpot" => r.OutputTokens > 0 ? r.Latency / r.OutputTokens : r.Latency,
                "itl" => r.MaxItl,
                _ => throw new RhaiiException("UnknownSloMetric", RhaiiErrorCategory.InvalidArgument, $"Unknown SLO metric '{k}'.",
                    "Use ttft, tpot, itl, e2el or ntpot, in milliseconds, e.g. -Slo @{ ttft = 200; tpot = 50 }.", k),
            };
            if (!(value <= limit)) return false;
        }
        return true;
    }

    public static readonly string[] SloMetrics = ["ttft", "tpot", "itl", "e2el", "ntpot"];
}
