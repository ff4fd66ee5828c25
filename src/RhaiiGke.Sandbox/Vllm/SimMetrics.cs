using System.Globalization;
using System.Text;

namespace RhaiiGke.Sandbox.Vllm;

/// <summary>A Prometheus histogram with fixed buckets (thread-safe, cheap).</summary>
internal sealed class PromHistogram
{
    private readonly double[] _bounds;
    private readonly long[] _counts;
    private double _sum;
    private long _count;
    private readonly object _lock = new();

    public PromHistogram(string name, string help, double[] bounds)
    {
        Name = name; Help = help; _bounds = bounds; _counts = new long[bounds.Length];
    }

    public string Name { get; }
    public string Help { get; }

    public void Observe(double v)
    {
        lock (_lock)
        {
            _sum += v; _count++;
            for (var i = 0; i < _bounds.Length; i++) if (v <= _bounds[i]) _counts[i]++;
        }
    }

    public void WriteHeader(StringBuilder sb)
    {
        sb.Append("# HELP ").Append(Name).Append(' ').Append(Help).Append('\n');
        sb.Append("# TYPE ").Append(Name).Append(" histogram\n");
    }

    public void WriteSeries(StringBuilder sb, string labels)
    {
        lock (_lock)
        {
            for (var i = 0; i < _bounds.Length; i++)
                sb.Append(Name).Append("_bucket{").Append(labels).Append(",le=\"").Append(Fmt(_bounds[i])).Append("\"} ").Append(Fmt(_counts[i])).Append('\n');
            sb.Append(Name).Append("_bucket{").Append(labels).Append(",le=\"+Inf\"} ").Append(Fmt(_count)).Append('\n');
            sb.Append(Name).Append("_sum{").Append(labels).Append("} ").Append(Fmt(_sum)).Append('\n');
            sb.Append(Name).Append("_count{").Append(labels).Append("} ").Append(Fmt(_count)).Append('\n');
        }
    }

    public static string Fmt(double v) => v.ToString("0.0###########", CultureInfo.InvariantCulture);
}

internal static class SimBuckets
{
    // vLLM's bucket boundaries (vllm/v1/metrics/loggers.py).
    public static readonly double[] Ttft = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0];
    public static readonly double[] Itl = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0];
    public static readonly double[] Request = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0];
    public static readonly double[] Tokens = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];
}
