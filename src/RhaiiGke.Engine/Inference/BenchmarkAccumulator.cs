namespace RhaiiGke.Engine.Inference;

/// <summary>Collects one stage's finished requests (thread-safe) and turns them into a result.</summary>
internal sealed class BenchmarkAccumulator
{
    private readonly object _lock = new();
    private readonly List<RequestRow> _rows;
    private readonly List<double> _itls = [];
    private readonly Dictionary<string, int> _errors = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _pods = new(StringComparer.Ordinal);
    private readonly List<InferenceRequestRecord>? _records;
    private readonly double[] _ttftSample = new double[SampleSize];
    private int _ttftSeen;
    private readonly Random _sampleRng = new(1);
    private const int SampleSize = 10_000;

    public BenchmarkAccumulator(int expected, bool detailed)
    {
        _rows = new List<RequestRow>(Math.Min(expected, 1 << 20));
        if (detailed) _records = new List<InferenceRequestRecord>(Math.Min(expected, 1 << 16));
    }

    public int Count { get { lock (_lock) return _rows.Count; } }
    public int Failed { get; private set; }

    /// <summary>Adds a finished request; <paramref name="itls"/> are its gaps in seconds.</summary>
    public void Add(RequestRow row, ReadOnlySpan<double> itls, string? errorType, string? pod, InferenceRequestRecord? record)
    {
        lock (_lock)
        {
            row.ItlStart = _itls.Count;
            row.ItlCount = itls.Length;
            double max = 0;
            foreach (var g in itls) { _itls.Add(g); if (g > max) max = g; }
            row.MaxItl = max;
            _rows.Add(row);
            if (!row.Success)
            {
                Failed++;
                var key = string.IsNullOrEmpty(errorType) ? "unknown" : errorType;
                _errors[key] = _errors.GetValueOrDefault(key) + 1;
            }
            else if (!double.IsNaN(row.Ttft))
            {
                // Reservoir sample of TTFTs for distributions in reports.
                if (_ttftSeen < SampleSize) _ttftSample[_ttftSeen] = row.Ttft * 1000;
                else
                {
                    var j = _sampleRng.NextInt64(_ttftSeen + 1);
                    if (j < SampleSize) _ttftSample[j] = row.Ttft * 1000;
                }
                _ttftSeen++;
            }
            if (pod is not null) _pods[pod] = _pods.GetValueOrDefault(pod) + 1;
            if (record is not null) _records?.Add(record);
        }
    }

    internal IReadOnlyList<RequestRow> Rows => _rows;
    internal IReadOnlyList<double> Itls => _itls;

    /// <summary>Builds the stage result. <paramref name="duration"/> is seconds from first dispatch to the last finish.</summary>
    public InferenceBenchmarkResult Build(StageInfo stage, double duration)
    {
        lock (_lock) return Compute(_rows, _itls, duration, stage, _errors, _pods, _records, _ttftSample.AsSpan(0, Math.Min(_ttftSeen, SampleSize)).ToArray());
    }

    /// <summary>The arithmetic, separate from collection so that tests can feed synthetic rows.</summary>
    internal static InferenceBenchmarkResult Compute(IReadOnlyList<RequestRow> rows, IReadOnlyList<double> itls, double duration, StageInfo stage,
        IReadOnlyDictionary<string, int>? errors = null, IReadOnlyDictionary<string, int>? pods = null, List<InferenceRequestRecord>? records = null, double[]? ttftSample = null)
    {
        var pcts = stage.Percentiles;
        var ok = rows.Where(r => r.Success).ToList();
        var ttfts = ok.Where(r => !double.IsNaN(r.Ttft)).Select(r => r.Ttft).ToArray();
        var firstBytes = ok.Select(r => r.FirstByte).ToArray();
        var e2els = ok.Select(r => r.Latency).ToArray();
        var tpots = ok.Select(r => BenchmarkMath.Tpot(r)).Where(t => t is not null).Select(t => t!.Value).ToArray();
        var ntpots = ok.Where(r => r.OutputTokens > 0).Select(r => r.Latency / r.OutputTokens).ToArray();
        var itlAll = new double[ok.Sum(r => r.ItlCount)];
        var k = 0;
        foreach (var r in ok) for (var i = 0; i < r.ItlCount; i++) itlAll[k++] = itls[r.ItlStart + i];
        var lags = rows.Select(r => Math.Max(0, r.Start - r.QueueTime - r.Scheduled)).ToArray();
        var queue = rows.Select(r => r.QueueTime).ToArray();

        long totalIn = ok.Sum(r => (long)r.PromptTokens);
        long totalOut = ok.Sum(r => (long)r.OutputTokens);
        long cached = ok.Sum(r => (long)r.CachedTokens);
        var completed = ok.Count;
        var failed = rows.Count - completed;
        var dur = duration > 0 ? duration : double.Epsilon;

        double? goodput = null, goodputPct = null;
        bool? meets = null;
        var slo = stage.SloMs;
        if (slo.Count > 0)
        {
            var sloS = slo.ToDictionary(kv => kv.Key, kv => kv.Value / 1000.0, StringComparer.OrdinalIgnoreCase);
            var good = rows.Count(r => BenchmarkMath.MeetsSlo(r, sloS));
            goodput = good / dur;
            goodputPct = rows.Count == 0 ? 0 : 100.0 * good / rows.Count;
            meets = rows.Count > 0 && good >= stage.SloAttainment * rows.Count;
        }

        var warnings = new List<string>(stage.Warnings);
        var achieved = rows.Sum(r => r.Latency) / dur;
        if (stage.TargetConcurrency is { } target && double.IsInfinity(stage.RequestRate) && rows.Count >= 4 * target && achieved < 0.8 * target)
            warnings.Add($"Achieved concurrency {achieved:0.#} is well below the target {target}: the client or the ramp limited the load, so latencies understate what {target} concurrent users would see.");
        if (ok.Count > 0 && stage.Streaming && ttfts.Length == 0)
            warnings.Add("No response carried content while streaming: TTFT, ITL and TPOT could not be measured.");
        var p99Needs = pcts.Any(p => p >= 99) && completed is > 0 and < 1000;
        if (p99Needs) warnings.Add($"p99 of {completed} requests is close to the maximum; run 1,000 or more for a meaningful p99.");

        return new InferenceBenchmarkResult
        {
            Label = stage.Label,
            Date = stage.Date,
            Backend = stage.Backend,
            BaseUrl = stage.BaseUrl,
            Model = stage.Model,
            Profile = stage.Profile,
            Stage = stage.Name,
            MaxConcurrency = stage.TargetConcurrency,
            RequestRate = stage.RequestRate,
            Burstiness = stage.Burstiness,
            Streaming = stage.Streaming,
            NumPrompts = rows.Count,
            Duration = duration,
            Completed = completed,
            Failed = failed,
            TotalInputTokens = totalIn,
            TotalOutputTokens = totalOut,
            TotalCachedTokens = cached,
            RequestThroughput = completed / dur,
            RequestGoodput = goodput,
            GoodputPercent = goodputPct,
            OutputThroughput = totalOut / dur,
            TotalTokenThroughput = (totalIn + totalOut) / dur,
            MaxOutputTokensPerS = BenchmarkMath.PeakOutputTokensPerSecond(rows, itls),
            MaxConcurrentRequests = BenchmarkMath.PeakConcurrency(rows.Select(r => (r.Start, r.Start + r.Latency)).ToList()),
            AchievedConcurrency = achieved,
            CachedTokenRatio = totalIn == 0 ? 0 : (double)cached / totalIn,
            Ttft = BenchmarkMath.Stats("ttft", ttfts, pcts),
            Tpot = BenchmarkMath.Stats("tpot", tpots, pcts),
            Itl = BenchmarkMath.Stats("itl", itlAll, pcts),
            E2el = BenchmarkMath.Stats("e2el", e2els, pcts),
            Ntpot = BenchmarkMath.Stats("ntpot", ntpots, pcts),
            FirstByte = BenchmarkMath.Stats("first_byte", firstBytes, pcts),
            SchedulingLag = BenchmarkMath.Stats("scheduling_lag", lags, pcts),
            QueueTime = BenchmarkMath.Stats("queue_time", queue, pcts),
            Slo = new Dictionary<string, double>(slo, StringComparer.OrdinalIgnoreCase),
            MeetsSlo = meets,
            ErrorsByType = new Dictionary<string, int>(errors ?? new Dictionary<string, int>()),
            Pods = new Dictionary<string, int>(pods ?? new Dictionary<string, int>()),
            Warnings = [.. warnings],
            TtftSampleMs = ttftSample ?? ttfts.Select(t => t * 1000).ToArray(),
            Requests = records?.ToArray(),
            Metadata = new Dictionary<string, string>(stage.Metadata),
            RequestLogPath = stage.RequestLogPath,
        };
    }
}

/// <summary>What a stage is, for the result (everything but the measurements).</summary>
internal sealed record StageInfo
{
    public string Name { get; init; } = "";
    public string Label { get; init; } = "";
    public DateTimeOffset Date { get; init; } = DateTimeOffset.Now;
    public string Backend { get; init; } = "openai-chat";
    public string BaseUrl { get; init; } = "";
    public string Model { get; init; } = "";
    public InferenceBenchmarkProfile Profile { get; init; }
    public int? TargetConcurrency { get; init; }
    public double RequestRate { get; init; } = double.PositiveInfinity;
    public double Burstiness { get; init; } = 1;
    public bool Streaming { get; init; } = true;
    public IReadOnlyList<double> Percentiles { get; init; } = [50, 90, 95, 99];
    public IReadOnlyDictionary<string, double> SloMs { get; init; } = new Dictionary<string, double>();
    public double SloAttainment { get; init; } = 0.99;
    public IReadOnlyList<string> Warnings { get; init; } = [];
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();
    public string? RequestLogPath { get; init; }
}
