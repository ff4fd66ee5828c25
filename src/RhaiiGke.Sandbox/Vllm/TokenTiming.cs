using System.Diagnostics;

namespace RhaiiGke.Sandbox.Vllm;

/// <summary>
/// The simulator's own timing error per streamed token: the time between two tokens it sent less the
/// time it meant to leave between them (the configured ITL), in 10 µs bins up to 100 ms. Lock-free, so
/// thousands of streams record without contention; read by the benchmark (VllmSimulator.TokenTiming).
/// </summary>
internal sealed class TokenTiming
{
    private const int BinsPerMs = 100, MaxMs = 100;
    private readonly long[] _bins = new long[BinsPerMs * MaxMs + 1];
    private long _count, _maxTicks;
    private static readonly double s_binPerTick = BinsPerMs * 1000.0 / Stopwatch.Frequency;

    /// <summary>Records one gap: <paramref name="actualTicks"/> between two sends, <paramref name="plannedTicks"/> meant.</summary>
    public void Record(long actualTicks, long plannedTicks)
    {
        var err = Math.Abs(actualTicks - plannedTicks);
        var bin = (long)(err * s_binPerTick);
        Interlocked.Increment(ref _bins[Math.Min(bin, _bins.Length - 1)]);
        Interlocked.Increment(ref _count);
        long max;
        while (err > (max = Volatile.Read(ref _maxTicks)) && Interlocked.CompareExchange(ref _maxTicks, err, max) != max) { }
    }

    /// <summary>Count and absolute error percentiles (ms, upper edge of the bin); optionally starts over.</summary>
    public Dictionary<string, double> Snapshot(bool reset)
    {
        var bins = new long[_bins.Length];
        for (var i = 0; i < bins.Length; i++) bins[i] = reset ? Interlocked.Exchange(ref _bins[i], 0) : Volatile.Read(ref _bins[i]);
        var maxTicks = reset ? Interlocked.Exchange(ref _maxTicks, 0) : Volatile.Read(ref _maxTicks);
        if (reset) Interlocked.Exchange(ref _count, 0);
        long n = 0;
        foreach (var b in bins) n += b;
        double At(double q)
        {
            if (n == 0) return 0;
            var rank = (long)Math.Ceiling(q * n);
            long seen = 0;
            for (var i = 0; i < bins.Length; i++)
            {
                seen += bins[i];
                if (seen >= rank) return i == bins.Length - 1 ? maxTicks * 1000.0 / Stopwatch.Frequency : (i + 1) / (double)BinsPerMs;
            }
            return maxTicks * 1000.0 / Stopwatch.Frequency;
        }
        return new Dictionary<string, double>
        {
            ["Count"] = n,
            ["ItlErrorP50Ms"] = Math.Round(At(0.50), 3),
            ["ItlErrorP99Ms"] = Math.Round(At(0.99), 3),
            ["ItlErrorP999Ms"] = Math.Round(At(0.999), 3),
            ["ItlErrorMaxMs"] = Math.Round(maxTicks * 1000.0 / Stopwatch.Frequency, 3),
        };
    }
}
