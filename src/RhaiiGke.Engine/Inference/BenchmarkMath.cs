using System.Runtime.CompilerServices;
namespace RhaiiGke.Engine.Inference;

/// <summary>One finished request in compact form (64 bytes; seconds from the stage start), as the runner records it.</summary>
internal struct RequestRow
{
    public double Start;
    /// <summary>Seconds to the first content; NaN when none (non-streaming or failed).</summary>
    public double Ttft;
    /// <summary>Seconds to the last choice-bearing chunk (or the whole body when not streaming).</summary>
    public double Latency;
    /// <summary>How late the send was against its schedule (open loop), excluding client queue time.</summary>
    public float Lag;
    public float QueueTime;
    public float FirstByte;
    public float MaxItl;
    public int PromptTokens;
    public int OutputTokens;
    public int CachedTokens;
    /// <summary>Slice of the pooled ITL list belonging to this request.</summary>
    public int ItlStart;
    public int ItlCount;
    public bool Success;
}

/// <summary>An append-only list in fixed chunks: no doubling copies, so a million-request run grows smoothly.</summary>
internal sealed class ChunkedList<T> : IReadOnlyList<T>
{
    private const int Shift = 16;
    private const int Size = 1 << Shift;
    private readonly List<T[]> _chunks = [];

    public int Count { get; private set; }

    public T this[int index] => _chunks[index >> Shift][index & (Size - 1)];

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Add(T item)
    {
        if ((Count & (Size - 1)) == 0 && Count >> Shift == _chunks.Count) _chunks.Add(new T[Size]);
        _chunks[Count >> Shift][Count & (Size - 1)] = item;
        Count++;
    }

    public IEnumerator<T> GetEnumerator()
    {
        for (var i = 0; i < Count; i++) yield return this[i];
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
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
    // Called once per stage over every request: compiled optimized at once instead of tier 0 plus on-stack replacement.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static InferenceLatencyStats Stats(string metric, double[] seconds, IReadOnlyList<double> percentiles, double scale = 1000, bool sortInPlace = false)
    {
        var n = seconds.Length;
        if (n == 0)
            return new InferenceLatencyStats { Metric = metric, Percentiles = Points(percentiles, _ => 0) };
        // numpy's mean uses pairwise summation; for test-sized arrays plain summation is identical in practice.
        double sum = 0;
        foreach (var v in seconds) sum += v;
        var mean = sum / n;
        double sq = 0;
        foreach (var v in seconds) { var d = v - mean; sq += d * d; }
        var sorted = sortInPlace ? seconds : (double[])seconds.Clone();
        Array.Sort(sorted);
        return new InferenceLatencyStats
        {
            Metric = metric,
            Count = n,
            Mean = mean * scale,
            Median = PercentileSorted(sorted, 50) * scale,
            Std = Math.Sqrt(sq / n) * scale,
            Min = sorted[0] * scale,
            Max = sorted[^1] * scale,
            Percentiles = Points(percentiles, p => PercentileSorted(sorted, p) * scale),
        };
    }

    /// <summary>The requested percentiles once each, ascending, with their values.</summary>
    private static RhaiiList<InferenceLatencyPercentile> Points(IReadOnlyList<double> percentiles, Func<double, double> value) =>
        percentiles.Distinct().Order().Select(p => new InferenceLatencyPercentile { Percentile = p, Value = value(p) }).ToList();

    /// <summary>Peak of simultaneously open [start, end) intervals (sweep line).</summary>
    public static int PeakConcurrency(IReadOnlyList<(double Start, double End)> intervals)
    {
        var starts = new double[intervals.Count];
        var ends = new double[intervals.Count];
        for (var i = 0; i < intervals.Count; i++) { starts[i] = intervals[i].Start; ends[i] = intervals[i].End; }
        return PeakConcurrency(starts, ends);
    }

    /// <summary>Sweep line over sorted starts and ends; an end at the same instant as a start closes first.</summary>
    // Called once per stage over every request: compiled optimized at once instead of tier 0 plus on-stack replacement.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static int PeakConcurrency(double[] starts, double[] ends)
    {
        Array.Sort(starts);
        Array.Sort(ends);
        int i = 0, j = 0, cur = 0, peak = 0;
        while (i < starts.Length)
        {
            if (j < ends.Length && ends[j] <= starts[i]) { cur--; j++; }
            else { cur++; i++; peak = Math.Max(peak, cur); }
        }
        return peak;
    }

    /// <summary>vLLM's peak output tokens per second: each chunk's time (start + ttft + cumulative ITLs) put in 1-second buckets from the earliest start.</summary>
    // Called once per stage over every request: compiled optimized at once instead of tier 0 plus on-stack replacement.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static double PeakOutputTokensPerSecond(IReadOnlyList<RequestRow> rows, IReadOnlyList<double> itls)
    {
        double min = double.MaxValue, max = double.MinValue;
        for (var i = 0; i < rows.Count; i++)
        {
            var r = rows[i];
            if (!r.Success || double.IsNaN(r.Ttft)) continue;
            min = Math.Min(min, r.Start);
            max = Math.Max(max, r.Start + r.Latency);
        }
        if (min == double.MaxValue) return 0;
        var buckets = new double[(int)Math.Ceiling(max - min) + 1];
        for (var j = 0; j < rows.Count; j++)
        {
            var r = rows[j];
            if (!r.Success || double.IsNaN(r.Ttft)) continue;
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
