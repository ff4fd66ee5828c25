using System.Runtime.CompilerServices;
namespace RhaiiGke.Engine.Inference;

/// <summary>
/// Collects one stage's finished requests and turns them into a result. Each closed-loop worker thread
/// records into its own shard without locking; open-loop requests share one locked shard.
/// </summary>
internal sealed class BenchmarkAccumulator
{
    private readonly List<Shard> _shards = [];
    private readonly Shard _shared;
    private readonly bool _detailed;
    private const int SampleSize = 10_000;

    public BenchmarkAccumulator(int expected, bool detailed)
    {
        _detailed = detailed;
        _shared = CreateShard();
    }

    /// <summary>Requests recorded so far (read without locks: for progress only).</summary>
    public int Count { get { lock (_shards) return _shards.Sum(s => s.Rows.Count); } }
    public int Failed { get { lock (_shards) return _shards.Sum(s => s.Failed); } }

    /// <summary>A shard for one thread: Add on it takes no lock.</summary>
    public Shard CreateShard()
    {
        var s = new Shard(_detailed);
        lock (_shards) _shards.Add(s);
        return s;
    }

    /// <summary>Adds from any thread (the shared, locked shard).</summary>
    public void Add(RequestRow row, ReadOnlySpan<double> itls, string? errorType, string? pod, InferenceRequestRecord? record)
    {
        lock (_shared) _shared.Add(row, itls, errorType, pod, record);
    }

    internal sealed class Shard(bool detailed)
    {
        public readonly ChunkedList<RequestRow> Rows = new();
        public readonly ChunkedList<double> Itls = new();
        public readonly Dictionary<string, int> Errors = new(StringComparer.Ordinal);
        public readonly Dictionary<string, int> Pods = new(StringComparer.Ordinal);
        public readonly List<InferenceRequestRecord>? Records = detailed ? [] : null;
        public readonly List<double> TtftSample = [];
        public int TtftSeen;
        public int Failed;
        private readonly Random _rng = new(1);
        private string? _lastPod;
        private int _lastPodCount;

        /// <summary>Adds the pending run of one pod's answers to <see cref="Pods"/>.</summary>
        public void FlushPod()
        {
            if (_lastPod is not null && _lastPodCount > 0) Pods[_lastPod] = Pods.GetValueOrDefault(_lastPod) + _lastPodCount;
            _lastPod = null;
            _lastPodCount = 0;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Add(RequestRow row, ReadOnlySpan<double> itls, string? errorType, string? pod, InferenceRequestRecord? record)
        {
            row.ItlStart = Itls.Count;
            row.ItlCount = itls.Length;
            double max = 0;
            foreach (var g in itls) { Itls.Add(g); if (g > max) max = g; }
            row.MaxItl = (float)max;
            Rows.Add(row);
            if (!row.Success)
            {
                Failed++;
                var key = string.IsNullOrEmpty(errorType) ? "unknown" : errorType;
                Errors[key] = Errors.GetValueOrDefault(key) + 1;
            }
            else if (!double.IsNaN(row.Ttft))
            {
                // Reservoir sample of TTFTs for distributions in reports.
                if (TtftSeen < SampleSize) TtftSample.Add(row.Ttft * 1000);
                else
                {
                    var j = _rng.NextInt64(TtftSeen + 1);
                    if (j < SampleSize) TtftSample[(int)j] = row.Ttft * 1000;
                }
                TtftSeen++;
            }
            if (pod is not null)
            {
                // Answers from one pod come in runs, with the same string instance (cached per connection).
                if (ReferenceEquals(pod, _lastPod)) _lastPodCount++;
                else
                {
                    FlushPod();
                    _lastPod = pod;
                    _lastPodCount = 1;
                }
            }
            if (record is not null) Records?.Add(record);
        }
    }

    /// <summary>The rows of all shards as one list, each row's ITL slice shifted to the joined ITL list.</summary>
    private sealed class JoinedRows(IReadOnlyList<Shard> shards) : IReadOnlyList<RequestRow>
    {
        private readonly int[] _rowStart = Offsets(shards.Select(s => s.Rows.Count));
        private readonly int[] _itlStart = Offsets(shards.Select(s => s.Itls.Count));
        public int Count => _rowStart[^1];

        public RequestRow this[int index]
        {
            get
            {
                var k = Array.BinarySearch(_rowStart, index);
                k = k >= 0 ? k : ~k - 1;
                while (k + 1 < _rowStart.Length - 1 && _rowStart[k + 1] == index) k++;
                var r = shards[k].Rows[index - _rowStart[k]];
                r.ItlStart += _itlStart[k];
                return r;
            }
        }

        public IEnumerator<RequestRow> GetEnumerator() { for (var i = 0; i < Count; i++) yield return this[i]; }
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    private sealed class JoinedItls(IReadOnlyList<Shard> shards) : IReadOnlyList<double>
    {
        private readonly int[] _start = Offsets(shards.Select(s => s.Itls.Count));
        public int Count => _start[^1];

        public double this[int index]
        {
            get
            {
                var k = Array.BinarySearch(_start, index);
                k = k >= 0 ? k : ~k - 1;
                while (k + 1 < _start.Length - 1 && _start[k + 1] == index) k++;
                return shards[k].Itls[index - _start[k]];
            }
        }

        public IEnumerator<double> GetEnumerator() { for (var i = 0; i < Count; i++) yield return this[i]; }
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    private static int[] Offsets(IEnumerable<int> counts)
    {
        var list = new List<int> { 0 };
        foreach (var c in counts) list.Add(list[^1] + c);
        return [.. list];
    }

    /// <summary>Builds the stage result. <paramref name="duration"/> is seconds from first dispatch to the last finish.</summary>
    public InferenceBenchmarkResult Build(StageInfo stage, double duration)
    {
        List<Shard> shards;
        lock (_shards) shards = [.. _shards.Where(s => s.Rows.Count > 0)];
        var errors = new Dictionary<string, int>(StringComparer.Ordinal);
        var pods = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var s in shards)
        {
            foreach (var (k, v) in s.Errors) errors[k] = errors.GetValueOrDefault(k) + v;
            s.FlushPod();
            foreach (var (k, v) in s.Pods) pods[k] = pods.GetValueOrDefault(k) + v;
        }
        var records = _detailed ? shards.SelectMany(s => s.Records!).OrderBy(r => r.Index).ToList() : null;
        var sample = shards.SelectMany(s => s.TtftSample).ToArray();
        if (sample.Length > SampleSize)
        {
            var rng = new Random(2);
            for (var i = sample.Length - 1; i > 0; i--) { var j = rng.Next(i + 1); (sample[i], sample[j]) = (sample[j], sample[i]); }
            sample = sample[..SampleSize];
        }
        IReadOnlyList<RequestRow> rows = shards.Count == 1 ? shards[0].Rows : new JoinedRows(shards);
        IReadOnlyList<double> itls = shards.Count == 1 ? shards[0].Itls : new JoinedItls(shards);
        return Compute(rows, itls, duration, stage, errors, pods, records, sample);
    }

    /// <summary>The arithmetic, separate from collection so that tests can feed synthetic rows.</summary>
    // Called once per stage over every request: compiled optimized at once instead of tier 0 plus on-stack replacement.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    internal static InferenceBenchmarkResult Compute(IReadOnlyList<RequestRow> rows, IReadOnlyList<double> itls, double duration, StageInfo stage,
        IReadOnlyDictionary<string, int>? errors = null, IReadOnlyDictionary<string, int>? pods = null, List<InferenceRequestRecord>? records = null, double[]? ttftSample = null)
    {
        var pcts = stage.Percentiles;
        // One pass to size the arrays, one to fill them: no copy of the rows, whatever their number.
        int completed = 0, nTtft = 0, nTpot = 0, nNtpot = 0, nItl = 0;
        long totalIn = 0, totalOut = 0, cached = 0;
        double latencySum = 0;
        for (var i = 0; i < rows.Count; i++)
        {
            var r = rows[i];
            latencySum += r.Latency;
            if (!r.Success) continue;
            completed++;
            if (!double.IsNaN(r.Ttft)) nTtft++;
            if (BenchmarkMath.Tpot(r) is not null) nTpot++;
            if (r.OutputTokens > 0) nNtpot++;
            nItl += r.ItlCount;
            totalIn += r.PromptTokens; totalOut += r.OutputTokens; cached += r.CachedTokens;
        }
        var ttfts = new double[nTtft];
        var firstBytes = new double[completed];
        var e2els = new double[completed];
        var tpots = new double[nTpot];
        var ntpots = new double[nNtpot];
        var itlAll = new double[nItl];
        var lags = new double[rows.Count];
        var queue = new double[rows.Count];
        var starts = new double[rows.Count];
        var ends = new double[rows.Count];
        int a = 0, b = 0, c = 0, d = 0, k = 0;
        for (var i = 0; i < rows.Count; i++)
        {
            var r = rows[i];
            lags[i] = r.Lag;
            queue[i] = r.QueueTime;
            starts[i] = r.Start;
            ends[i] = r.Start + r.Latency;
            if (!r.Success) continue;
            if (!double.IsNaN(r.Ttft)) ttfts[a++] = r.Ttft;
            firstBytes[b] = r.FirstByte;
            e2els[b++] = r.Latency;
            if (BenchmarkMath.Tpot(r) is { } tp) tpots[c++] = tp;
            if (r.OutputTokens > 0) ntpots[d++] = r.Latency / r.OutputTokens;
            for (var g = 0; g < r.ItlCount; g++) itlAll[k++] = itls[r.ItlStart + g];
        }
        var failed = rows.Count - completed;
        var dur = duration > 0 ? duration : double.Epsilon;

        double? goodput = null, goodputPct = null;
        bool? meets = null;
        var slo = stage.SloMs;
        if (slo.Count > 0)
        {
            var sloS = slo.ToDictionary(kv => kv.Key, kv => kv.Value / 1000.0, StringComparer.OrdinalIgnoreCase);
            var good = 0;
            for (var i = 0; i < rows.Count; i++) if (BenchmarkMath.MeetsSlo(rows[i], sloS)) good++;
            goodput = good / dur;
            goodputPct = rows.Count == 0 ? 0 : 100.0 * good / rows.Count;
            meets = rows.Count > 0 && good >= stage.SloAttainment * rows.Count;
        }

        var ttftSampleFallback = ttftSample is null ? ttfts.Take(10_000).Select(t => t * 1000).ToArray() : [];
        var warnings = new List<string>(stage.Warnings);
        var achieved = latencySum / dur;
        if (stage.TargetConcurrency is { } target && double.IsInfinity(stage.RequestRate) && rows.Count >= 4 * target && achieved < 0.8 * target)
            warnings.Add($"Achieved concurrency {achieved:0.#} is well below the target {target}: the client or the ramp limited the load, so latencies understate what {target} concurrent users would see.");
        if (completed > 0 && stage.Streaming && ttfts.Length == 0)
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
            MaxConcurrentRequests = BenchmarkMath.PeakConcurrency(starts, ends),
            AchievedConcurrency = achieved,
            CachedTokenRatio = totalIn == 0 ? 0 : (double)cached / totalIn,
            Ttft = BenchmarkMath.Stats("ttft", ttfts, pcts, sortInPlace: true),
            Tpot = BenchmarkMath.Stats("tpot", tpots, pcts, sortInPlace: true),
            Itl = BenchmarkMath.Stats("itl", itlAll, pcts, sortInPlace: true),
            E2el = BenchmarkMath.Stats("e2el", e2els, pcts, sortInPlace: true),
            Ntpot = BenchmarkMath.Stats("ntpot", ntpots, pcts, sortInPlace: true),
            FirstByte = BenchmarkMath.Stats("first_byte", firstBytes, pcts, sortInPlace: true),
            SchedulingLag = BenchmarkMath.Stats("scheduling_lag", lags, pcts, sortInPlace: true),
            QueueTime = BenchmarkMath.Stats("queue_time", queue, pcts, sortInPlace: true),
            Slo = new Dictionary<string, double>(slo, StringComparer.OrdinalIgnoreCase),
            MeetsSlo = meets,
            ErrorsByType = new Dictionary<string, int>(errors ?? new Dictionary<string, int>()),
            Pods = new Dictionary<string, int>(pods ?? new Dictionary<string, int>()),
            Warnings = [.. warnings],
            TtftSampleMs = ttftSample ?? ttftSampleFallback,
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
