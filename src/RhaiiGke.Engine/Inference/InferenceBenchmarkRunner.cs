using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace RhaiiGke.Engine.Inference;

/// <summary>
/// Runs Invoke-InferenceBenchmark: warm-up, then one stage per concurrency level or rate (or the
/// Sweep and RunbookTiers presets), each measured like vLLM's benchmark and yielded as it finishes.
/// Closed-loop stages run N workers; open-loop stages send from a dedicated thread at scheduled
/// times and record how late each send was (scheduling lag).
/// </summary>
public sealed class InferenceBenchmarkRunner
{
    private readonly InferenceBenchmarkSpec _spec;
    private readonly IRhaiiLog _log;
    private readonly HttpTarget _target;
    private readonly ConcurrentBag<Executor> _idle = [];
    private List<BenchPrompt> _prompts = [];
    private byte[][] _requests = [];
    private string _model = "";
    // multi-model runs (spec.ModelMix): the mix's model names and, per request slot, the index of its model
    private string[]? _mixModels;
    private int[]? _slotModel;
    private RequestLogWriter? _logWriter;
    private static readonly double s_freq = Stopwatch.Frequency;

    public InferenceBenchmarkRunner(InferenceBenchmarkSpec spec, IRhaiiLog? log = null)
    {
        _spec = spec;
        _log = log ?? NullRhaiiLog.Instance;
        _target = new HttpTarget(spec.BaseUrl) { ApiKey = spec.ApiKey, SkipCertificateCheck = spec.SkipCertificateCheck, AllowUnencryptedAuthentication = spec.AllowUnencryptedAuthentication }.EnsureCredentialsProtected();
        Validate(spec);
    }

    /// <summary>Stage names and sizes the run will have (Sweep's rates are decided while it runs).</summary>
    public IReadOnlyList<string> PlannedStages => Plan().Select(s => s.Name).ToList();

    private static void Validate(InferenceBenchmarkSpec s)
    {
        void Bad(string id, string msg, string fix) => throw new RhaiiException(id, RhaiiErrorCategory.InvalidArgument, msg, fix);
        if (s.NumPrompts < 1) Bad("InvalidNumPrompts", "NumPrompts must be at least 1.", "Use -NumPrompts 200 or more; 1,000+ for a meaningful p99.");
        if (s.Concurrency.Length == 0 || s.Concurrency.Any(c => c < 1)) Bad("InvalidConcurrency", "Concurrency levels must be 1 or more.", "Use -Concurrency 1, 4, 16.");
        if (s.Profile is InferenceBenchmarkProfile.Constant or InferenceBenchmarkProfile.Poisson && (s.Rates.Length == 0 || s.Rates.Any(r => !(r > 0))))
            Bad("InvalidRate", "Rates must be positive requests per second.", "Use -Rate 1, 5, 10.");
        if (!(s.Burstiness > 0)) Bad("InvalidBurstiness", "Burstiness must be positive.", "Use 1 for Poisson arrivals, below 1 for burstier traffic.");
        if (s.MaxConcurrency is < 1) Bad("InvalidConcurrency", "MaxConcurrency must be 1 or more.", "Leave it out for no cap.");
        foreach (var k in s.Slo.Keys)
            if (!BenchmarkMath.SloMetrics.Contains(k.ToLowerInvariant()))
                Bad("UnknownSloMetric", $"Unknown SLO metric '{k}'.", "Use ttft, tpot, itl, e2el or ntpot, in milliseconds, e.g. -Slo @{ ttft = 200; tpot = 50 }.");
        if (s.Percentiles.Any(p => p is < 0 or > 100)) Bad("InvalidPercentile", "Percentiles must be between 0 and 100.", "Use -Percentile 50, 90, 95, 99.");
        if (s.DatasetPath is not null && s.Dataset != InferenceDatasetKind.File)
            Bad("DatasetPathIgnored", $"A dataset file was given, but the dataset is {s.Dataset}: the file would be ignored.",
                "Use -Dataset File with -DatasetPath (or leave -Dataset out: -DatasetPath alone implies File).");
        if (s.Dataset == InferenceDatasetKind.File && string.IsNullOrWhiteSpace(s.DatasetPath))
            Bad("DatasetPathRequired", "The dataset is File, but no dataset file was given.", "Add -DatasetPath <file.jsonl>.");
    }

    private sealed record StagePlan(string Name, int Count, int? Concurrency, double Rate, bool Constant);

    private List<StagePlan> Plan()
    {
        var n = _spec.NumPrompts;
        return _spec.Profile switch
        {
            InferenceBenchmarkProfile.Synchronous => [new("synchronous", n, 1, double.PositiveInfinity, false)],
            InferenceBenchmarkProfile.Concurrent => _spec.Concurrency.Select(c => new StagePlan($"concurrency-{c}", n, c, double.PositiveInfinity, false)).ToList(),
            InferenceBenchmarkProfile.Constant => _spec.Rates.Select(r => new StagePlan($"rate-{Fmt(r)}", n, _spec.MaxConcurrency, r, true)).ToList(),
            InferenceBenchmarkProfile.Poisson => _spec.Rates.Select(r => new StagePlan($"rate-{Fmt(r)}", n, _spec.MaxConcurrency, r, false)).ToList(),
            InferenceBenchmarkProfile.RunbookTiers =>
            [
                new("tier-baseline", Math.Min(10, n), 1, double.PositiveInfinity, false),
                new("tier-serial", n, 1, double.PositiveInfinity, false),
                new("tier-light", n, 5, double.PositiveInfinity, false),
                new("tier-medium", n, 10, double.PositiveInfinity, false),
                new("tier-heavy", n, 20, double.PositiveInfinity, false),
            ],
            InferenceBenchmarkProfile.Sweep =>
            [
                new("synchronous", n, 1, double.PositiveInfinity, false),
                new("throughput", n, ThroughputConcurrency, double.PositiveInfinity, false),
            ],
            _ => [],
        };
    }

    private int ThroughputConcurrency => _spec.MaxConcurrency ?? (_spec.Concurrency.Max() > 1 ? _spec.Concurrency.Max() : 32);

    private static string Fmt(double r) => r.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Runs every stage and yields each result as soon as it is complete.</summary>
    public async IAsyncEnumerable<InferenceBenchmarkResult> RunAsync([EnumeratorCancellation] CancellationToken ct = default)
    {
        var plan = Plan();
        var largest = Math.Max(plan.Max(p => p.Count), _spec.NumPrompts);
        // One descriptor per connection: raise the soft open-files limit before thousands of them are opened.
        var connections = plan.Max(p => Math.Min(p.Concurrency ?? p.Count, p.Count)) + 64;
        if (FileDescriptorLimit.EnsureAtLeast(connections) is { } limit && limit < connections)
            _log.Warning($"The open-files limit is {limit}, below the {connections} connections this run may open; requests beyond it fail to connect. Raise the hard limit (ulimit -Hn, or LimitNOFILE in a systemd unit) before starting pwsh.");
        _prompts = BenchmarkDatasets.Build(_spec, largest);
        if (MultiModelMix.From(_spec) is { } mix)
        {
            _mixModels = mix.Models;
            _slotModel = mix.Assign(_prompts.Count, _spec.Seed);
            _model = string.Join(",", mix.Models);
            _requests = _prompts.Select((p, i) => _target.BuildRequest("POST", OpenAiRequests.Path(_spec.Api),
                OpenAiRequests.Body(_spec.Api, _mixModels[_slotModel[i]], p, _spec.Streaming, _spec.IgnoreEos), _spec.Streaming)).ToArray();
        }
        else
        {
            _model = string.IsNullOrWhiteSpace(_spec.Model) ? await InferenceHttp.DiscoverModelAsync(_target, ct).ConfigureAwait(false) : _spec.Model!;
            _requests = _prompts.Select(p => _target.BuildRequest("POST", OpenAiRequests.Path(_spec.Api),
                OpenAiRequests.Body(_spec.Api, _model, p, _spec.Streaming, _spec.IgnoreEos), _spec.Streaming)).ToArray();
        }
        if (_spec.RequestLogPath is { Length: > 0 } logPath) _logWriter = new RequestLogWriter(logPath);
        try
        {
            await WarmUpAsync(ct).ConfigureAwait(false);
            var results = new List<InferenceBenchmarkResult>();
            var index = 0;
            foreach (var stage in plan)
            {
                var r = await RunStageAsync(stage, index++, ct).ConfigureAwait(false);
                results.Add(r);
                yield return r;
                foreach (var part in TakeModelResults()) yield return part;
            }
            if (_spec.Profile == InferenceBenchmarkProfile.Sweep)
            {
                var lo = results[0].RequestThroughput;
                var hi = results[1].RequestThroughput;
                var steps = Math.Max(1, _spec.SweepSteps);
                for (var k = 1; k <= steps; k++)
                {
                    var rate = lo + (hi - lo) * k / (steps + 1);
                    if (!(rate > 0)) continue;
                    var r = await RunStageAsync(new StagePlan($"rate-{Fmt(Math.Round(rate, 3))}", _spec.NumPrompts, _spec.MaxConcurrency, rate, true), index++, ct).ConfigureAwait(false);
                    results.Add(r);
                    yield return r;
                    foreach (var part in TakeModelResults()) yield return part;
                }
                var meeting = results.Where(x => x.MeetsSlo == true).OrderByDescending(x => x.RequestThroughput).FirstOrDefault();
                if (meeting is not null)
                {
                    meeting.SweepBest = true;
                    _log.Verbose($"Sweep: the highest load meeting the SLOs is {meeting.Stage} at {meeting.RequestThroughput:0.##} req/s.");
                }
                else if (_spec.Slo.Count > 0) _log.Warning("Sweep: no stage met the SLOs, not even one request at a time.");
                else _log.Warning("Sweep without -Slo: every stage is reported, but none can be marked as the highest rate meeting SLOs.");
            }
        }
        finally
        {
            if (_logWriter is not null) await _logWriter.DisposeAsync().ConfigureAwait(false);
            while (_idle.TryTake(out var e)) e.Dispose();
        }
    }

    private async Task WarmUpAsync(CancellationToken ct)
    {
        for (var i = 0; i < _spec.Warmups; i++)
        {
            var ex = Rent(ct);
            var timeout = i == 0 ? _spec.WarmupTimeout : _spec.RequestTimeout;
            ex.Obs.Reset();
            ex.Cts.CancelAfter(timeout);
            var t0 = Stopwatch.GetTimestamp();
            try
            {
                await ex.Conn.SendAsync(_requests[i % _requests.Length], ex.Obs, ex.Cts.Token).ConfigureAwait(false);
                _log.Verbose($"Warm-up request {i + 1}: HTTP {ex.Obs.Status} in {Stopwatch.GetElapsedTime(t0).TotalMilliseconds:0} ms (excluded from results).");
                if (InferenceHttp.AuthFailure(ex.Obs.Status, _target.BaseUrl, $"Warm-up request {i + 1}", _target.HasApiKey) is { } auth)
                    _log.Warning($"{auth.Message} {auth.RecommendedAction}");
                else if (ex.Obs.Status != 200)
                    _log.Warning($"Warm-up request {i + 1} answered HTTP {ex.Obs.Status}: {_target.Redact(ex.Obs.Error)}");
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                ex.Conn.Close();
                throw new RhaiiException("WarmupTimeout", RhaiiErrorCategory.OperationTimeout,
                    $"The warm-up request to {_target.BaseUrl} did not finish within {timeout.TotalSeconds:0} s.",
                    "A TPU server compiles on its first request; raise -WarmupTimeout, or check the server with Test-InferenceEndpoint.", _target.BaseUrl);
            }
            catch (RawHttpException e)
            {
                throw new RhaiiException("InferenceEndpointUnreachable", RhaiiErrorCategory.ConnectionError, $"Warm-up request to {_target.BaseUrl} failed: {e.Message}",
                    "Check the URL and that the server or port-forward is running; Test-InferenceEndpoint shows each check.", _target.BaseUrl, e);
            }
            finally { Return(ex); }
        }
    }

    private sealed class Executor : IDisposable
    {
        public Executor(HttpTarget t, CancellationToken ct, bool blocking = false, TimeSpan? timeout = null)
        {
            Blocking = blocking;
            Conn = new RawHttpConnection(t) { Blocking = blocking, Timeout = timeout ?? TimeSpan.FromMinutes(5) };
            Cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            Token = ct;
        }

        /// <summary>The connection enforces its own timeouts (blocking mode): no CancellationTokenSource timer per request.</summary>
        public readonly bool Blocking;
        /// <summary>The worker thread's own accumulator shard (blocking workers only).</summary>
        public BenchmarkAccumulator.Shard? Shard { get; init; }

        public readonly RawHttpConnection Conn;
        public readonly CompletionObserver Obs = new();
        public CancellationTokenSource Cts;
        public readonly CancellationToken Token;

        public void ResetTimer()
        {
            if (!Cts.TryReset())
            {
                Cts.Dispose();
                Cts = CancellationTokenSource.CreateLinkedTokenSource(Token);
            }
        }

        public void Dispose()
        {
            Conn.Dispose();
            Cts.Dispose();
        }
    }

    private Executor Rent(CancellationToken ct) => _idle.TryTake(out var e) && e.Token == ct ? e : new Executor(_target, ct);

    private void Return(Executor e)
    {
        e.ResetTimer();
        _idle.Add(e);
    }

    private sealed class StageContext
    {
        public required string Name;
        public required BenchmarkAccumulator Acc;
        public long T0;
        public long Deadline = long.MaxValue;
        public int Done;
        public bool Records;
        /// <summary>Multi-model runs: one accumulator and one misrouted count per model of the mix.</summary>
        public BenchmarkAccumulator[]? PerModel;
        public int[]? Misrouted;
    }

    /// <summary>Longest wait for the runtime's background JIT before a stage starts (<see cref="SettleJitAsync"/>); zero turns it off.</summary>
    internal static TimeSpan JitSettleLimit { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Waits until the runtime's background compiler is idle (no method compiled for 300 ms, at most
    /// <see cref="JitSettleLimit"/>) before a stage's clock starts. .NET holds tier-1 recompilation back
    /// while new code keeps running (this command's start-up, parameter binding, the warm-up) and starts it
    /// about 100 ms after things calm down, which without this wait is the stage's first second: measured
    /// 0.4-1 s of JIT on another core, taken from the load generator and a local server while they are timed.
    /// </summary>
    private static async Task SettleJitAsync(CancellationToken ct)
    {
        if (JitSettleLimit <= TimeSpan.Zero) return;
        var quiet = Stopwatch.Frequency * 300 / 1000;
        var start = Stopwatch.GetTimestamp();
        var until = start + (long)(JitSettleLimit.TotalSeconds * s_freq);
        var last = System.Runtime.JitInfo.GetCompiledMethodCount();
        var since = start;
        while (true)
        {
            await Task.Delay(20, ct).ConfigureAwait(false);
            var now = Stopwatch.GetTimestamp();
            var count = System.Runtime.JitInfo.GetCompiledMethodCount();
            if (count != last) { last = count; since = now; }
            else if (now - since >= quiet) return;
            if (now >= until) return;
        }
    }

    private async Task<InferenceBenchmarkResult> RunStageAsync(StagePlan plan, int stageIndex, CancellationToken ct)
    {
        var ctx = new StageContext
        {
            Name = plan.Name,
            Acc = new BenchmarkAccumulator(plan.Count, _spec.Detailed),
            Records = _spec.Detailed || _logWriter is not null,
            PerModel = _mixModels?.Select(_ => new BenchmarkAccumulator(plan.Count, _spec.Detailed)).ToArray(),
            Misrouted = _mixModels is null ? null : new int[_mixModels.Length],
        };
        var info = new StageInfo
        {
            Name = plan.Name,
            Label = _spec.Label,
            Date = DateTimeOffset.Now,
            Backend = _spec.Api == InferenceApi.Chat ? "openai-chat" : "openai",
            BaseUrl = _target.BaseUrl,
            Model = _model,
            Profile = _spec.Profile,
            TargetConcurrency = plan.Concurrency,
            RequestRate = plan.Rate,
            Burstiness = plan.Constant ? double.PositiveInfinity : _spec.Burstiness,
            Streaming = _spec.Streaming,
            Percentiles = _spec.Percentiles,
            SloMs = _spec.Slo,
            SloAttainment = _spec.SloAttainment,
            Metadata = _spec.Metadata,
            RequestLogPath = _logWriter?.Path,
        };
        await SettleJitAsync(ct).ConfigureAwait(false);
        using var progressCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var progress = ReportProgressAsync(ctx, plan, progressCts.Token);
        ctx.T0 = Stopwatch.GetTimestamp();
        if (_spec.MaxDuration is { } max) ctx.Deadline = ctx.T0 + (long)(max.TotalSeconds * s_freq);
        if (double.IsInfinity(plan.Rate)) await ClosedLoopAsync(plan, ctx, ct).ConfigureAwait(false);
        else await OpenLoopAsync(plan, ctx, stageIndex, ct).ConfigureAwait(false);
        var duration = (Stopwatch.GetTimestamp() - ctx.T0) / s_freq;
        progressCts.Cancel();
        try { await progress.ConfigureAwait(false); } catch (OperationCanceledException) { }
        ct.ThrowIfCancellationRequested();
        _log.Progress("Invoke-InferenceBenchmark", $"{plan.Name}: done", 100);
        var result = ctx.Acc.Build(info, duration);
        foreach (var w in result.Warnings) _log.Warning($"{plan.Name}: {w}");
        if (ctx.PerModel is { } perModel && _mixModels is { } models)
        {
            result.Scope = "overall";
            result.Misrouted = ctx.Misrouted!.Sum();
            _modelResults.Clear();
            for (var m = 0; m < models.Length; m++)
            {
                var part = perModel[m].Build(info with { Model = models[m] }, duration);
                part.Scope = "model";
                part.Misrouted = ctx.Misrouted![m];
                _modelResults.Add(part);
            }
            if (result.Misrouted > 0)
                _log.Warning($"{plan.Name}: {result.Misrouted} request(s) reached a server that does not serve the model they asked for (404 model not found): " +
                    "the gateway routed them to another model's pool. Check the model route (X-Gateway-Model-Name header matches) and the body-based router.");
        }
        return result;
    }

    private async Task ReportProgressAsync(StageContext ctx, StagePlan plan, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            await Task.Delay(250, ct).ConfigureAwait(false);
            var done = Volatile.Read(ref ctx.Done);
            var secs = (Stopwatch.GetTimestamp() - ctx.T0) / s_freq;
            _log.Progress("Invoke-InferenceBenchmark", $"{plan.Name}: {done}/{plan.Count} requests, {ctx.Acc.Failed} failed, {done / Math.Max(secs, 1e-9):0.#} req/s",
                (int)(100L * done / Math.Max(1, plan.Count)));
        }
    }

    /// <summary>
    /// Closed loops up to this concurrency run on dedicated threads with blocking sockets (measured: less CPU per
    /// request than the async path). RHAII_BENCH_MAX_BLOCKING_WORKERS=0 forces the async path, for comparisons.
    /// </summary>
    /// <summary>Closed loops (streaming or not, plain http) use epoll event loops where available (Linux x64); RHAII_BENCH_EVENT_LOOP=0 turns them off.</summary>
    internal static bool UseEventLoop { get; set; } = EpollLoop.Supported && Environment.GetEnvironmentVariable("RHAII_BENCH_EVENT_LOOP") != "0";

    private readonly List<InferenceBenchmarkResult> _modelResults = [];

    /// <summary>The per-model results of the stage just run (multi-model runs), once.</summary>
    private List<InferenceBenchmarkResult> TakeModelResults()
    {
        var list = _modelResults.ToList();
        _modelResults.Clear();
        return list;
    }

    /// <summary>Event-loop threads for closed loops; 0 = automatic. RHAII_BENCH_LOOPS overrides.</summary>
    internal static int EventLoopThreads { get; set; } = int.TryParse(Environment.GetEnvironmentVariable("RHAII_BENCH_LOOPS"), out var l) ? l : 0;

    /// <summary>Streaming closed loops on the epoll loops too (see ClosedLoopAsync); RHAII_BENCH_STREAM_LOOP=0 turns it off.</summary>
    internal static bool StreamOnEventLoop { get; set; } = Environment.GetEnvironmentVariable("RHAII_BENCH_STREAM_LOOP") != "0";

    internal static int MaxBlockingWorkers { get; set; } = int.TryParse(Environment.GetEnvironmentVariable("RHAII_BENCH_MAX_BLOCKING_WORKERS"), out var m) ? m : 256;

    private async Task ClosedLoopAsync(StagePlan plan, StageContext ctx, CancellationToken ct)
    {
        var next = -1;
        var n = Math.Min(plan.Concurrency ?? 1, plan.Count);
        if (UseEventLoop && !_target.Tls && n >= 4 && (!_spec.Streaming || StreamOnEventLoop))
        {
            // Like wrk: a few threads, each an epoll loop serving its share of the users, streaming or not.
            // Every read is timed by the kernel's receive timestamp (LoopHttpConnection.KernelTimestamps), so a
            // chunk's time is when its bytes arrived even when the loop reaches it later: stamped when epoll_wait
            // returned instead, one loop's median TTFT was up to 3 ms later than one thread per user's on a loaded
            // 2-core box (simulator at TTFT 50 ms, concurrency 64), because a busy loop gets no wake-up preference
            // from the scheduler. RHAII_BENCH_STREAM_LOOP=0 puts streaming back on one thread per user.
            // One loop per core, as wrk is run with one thread per core, and at least 16 users per loop so that each
            // epoll_wait still returns a batch. An idle loop costs nothing, so a local server keeps the cores the
            // client does not use. On 2 cores, concurrency 64, two loops against the simulator (a multi-threaded
            // server on the same cores) did 34,000-36,000 requests/s where one did 27,000, at less CPU per request
            // (19-21 us against 24-25), and streaming 6,800-8,500 against 6,000-7,000; against nginx (one worker)
            // the two were level within the noise. (Before the shared receive buffer one loop was better there.)
            var loops = EventLoopThreads > 0 ? Math.Min(EventLoopThreads, n) : Math.Max(1, Math.Min(Environment.ProcessorCount, n / 16));
            // Users claim request indices in small batches per loop, so the loops rarely touch a shared line.
            var claims = new ClaimCounter { Batch = Math.Clamp(plan.Count / (n * 8), 1, 16) };
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var runningLoops = loops;
            Exception? failure = null;
            for (var l = 0; l < loops; l++)
            {
                var users = n / loops + (l < n % loops ? 1 : 0);
                var t = new Thread(() =>
                {
                    using var loop = new EpollLoop();
                    var state = new LoopState(this, plan, ctx, ctx.Acc.CreateShard(), claims, ct);
                    var list = Enumerable.Range(0, users).Select(_ => new LoopUser(state, new LoopHttpConnection(_target, loop, _spec.RequestTimeout))).ToList();
                    try
                    {
                        state.Active = list.Count;
                        foreach (var u in list) u.Pump();
                        loop.Run(() => state.Active == 0, () =>
                        {
                            var now = Stopwatch.GetTimestamp();
                            foreach (var u in list) u.Check(now, ct.IsCancellationRequested);
                        });
                        if (loop.StampedReads > 0)
                            _log.Verbose($"{plan.Name}: event loop {Thread.CurrentThread.ManagedThreadId}: {loop.StampedReads} reads timed by the kernel; the loop reached them " +
                                $"{loop.LateTicks / s_freq / loop.StampedReads * 1e6:0.#} us after their bytes arrived on average, {loop.MaxLateTicks / s_freq * 1000:0.###} ms at most.");
                    }
                    catch (Exception e) { failure ??= e; }
                    finally
                    {
                        state.FlushDone();
                        foreach (var u in list) u.Conn.Dispose();
                        if (Interlocked.Decrement(ref runningLoops) == 0) done.TrySetResult();
                    }
                }) { IsBackground = true, Name = "benchmark-loop" };
                t.Start();
            }
            await done.Task.ConfigureAwait(false);
            if (failure is not null && !ct.IsCancellationRequested) throw failure;
            return;
        }
        if (n <= MaxBlockingWorkers)
        {
            // One thread per simulated user: send, block on the socket, stamp the bytes as they arrive.
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var running = n;
            Exception? failure = null;
            for (var w = 0; w < n; w++)
            {
                var t = new Thread(() =>
                {
                    var ex = new Executor(_target, ct, blocking: true, _spec.RequestTimeout) { Shard = ctx.Acc.CreateShard() };
                    try
                    {
                        using var reg = ct.Register(() => ex.Conn.Close());
                        int i;
                        while ((i = Interlocked.Increment(ref next)) < plan.Count && !ct.IsCancellationRequested && Stopwatch.GetTimestamp() < ctx.Deadline)
                        {
                            var now = Stopwatch.GetTimestamp();
                            RunOneAsync(ex, i, (now - ctx.T0) / s_freq, now, ctx, ct).GetAwaiter().GetResult();
                        }
                    }
                    catch (OperationCanceledException) { }
                    catch (Exception e) { failure ??= e; }
                    finally
                    {
                        ex.Dispose();
                        if (Interlocked.Decrement(ref running) == 0) done.TrySetResult();
                    }
                }) { IsBackground = true, Name = "benchmark-user", Priority = ThreadPriority.AboveNormal };
                t.Start();
            }
            await done.Task.ConfigureAwait(false);
            if (failure is not null && !ct.IsCancellationRequested) throw failure;
            return;
        }
        var workers = new Task[n];
        for (var w = 0; w < workers.Length; w++)
        {
            workers[w] = Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < plan.Count && !ct.IsCancellationRequested && Stopwatch.GetTimestamp() < ctx.Deadline)
                {
                    var now = Stopwatch.GetTimestamp();
                    var ex = Rent(ct);
                    try { await RunOneAsync(ex, i, (now - ctx.T0) / s_freq, now, ctx, ct).ConfigureAwait(false); }
                    finally { Return(ex); }
                }
            }, ct);
        }
        try { await Task.WhenAll(workers).ConfigureAwait(false); }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
    }

    private Task OpenLoopAsync(StagePlan plan, StageContext ctx, int stageIndex, CancellationToken ct)
    {
        var offsets = ArrivalSchedule.Offsets(plan.Count, plan.Rate, _spec.Burstiness, plan.Constant, _spec.Seed + 1000 * stageIndex);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var outstanding = 1; // the dispatcher's own token
        var cap = plan.Concurrency is { } c ? new SemaphoreSlim(c) : null;
        void Finished()
        {
            if (Interlocked.Decrement(ref outstanding) == 0) done.TrySetResult();
        }
        async Task Run(int i, double scheduled, long queuedAt)
        {
            try
            {
                if (cap is not null) await cap.WaitAsync(ct).ConfigureAwait(false);
                var ex = Rent(ct);
                try { await RunOneAsync(ex, i, scheduled, queuedAt, ctx, ct).ConfigureAwait(false); }
                finally
                {
                    Return(ex);
                    cap?.Release();
                }
            }
            catch (OperationCanceledException) { }
            finally { Finished(); }
        }
        var thread = new Thread(() =>
        {
            ThreadBoost.TryRaise();
            try
            {
                for (var i = 0; i < offsets.Length; i++)
                {
                    var due = ctx.T0 + (long)(offsets[i] * s_freq);
                    PreciseClock.SleepUntil(due, ct);
                    if (ct.IsCancellationRequested || Stopwatch.GetTimestamp() >= ctx.Deadline) break;
                    Interlocked.Increment(ref outstanding);
                    _ = Run(i, offsets[i], Stopwatch.GetTimestamp());
                }
            }
            finally { Finished(); }
        }) { IsBackground = true, Name = "benchmark-dispatch", Priority = ThreadPriority.AboveNormal };
        thread.Start();
        return done.Task;
    }

    /// <summary>Sends request <paramref name="index"/> and records it. <paramref name="queuedAt"/> is when it became ready to send.</summary>
    private async Task RunOneAsync(Executor ex, int index, double scheduled, long queuedAt, StageContext ctx, CancellationToken ct)
    {
        var slot = index % _requests.Length;
        var o = ex.Obs;
        o.Reset();
        o.KeepText = _spec.Detailed;
        string? errType = null, err = null;
        var t0 = Stopwatch.GetTimestamp();
        if (!ex.Blocking) ex.Cts.CancelAfter(_spec.RequestTimeout);
        try
        {
            await ex.Conn.SendAsync(_requests[slot], o, ex.Blocking ? CancellationToken.None : ex.Cts.Token).ConfigureAwait(false);
        }
        catch (RawHttpException e) { errType = e.Kind; err = e.Message; }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            ex.Conn.Close();
            errType = "timeout";
            err = $"No complete answer within {_spec.RequestTimeout.TotalSeconds:0.#} s.";
        }
        catch (OperationCanceledException)
        {
            ex.Conn.Close();
            throw;
        }
        var tEnd = Stopwatch.GetTimestamp();
        if (!ex.Blocking) ex.ResetTimer();
        Record(o, ex.Shard, index, scheduled, queuedAt, t0, tEnd, errType, err, ctx);
    }

    /// <summary>Turns one finished request (observer filled, or an error) into a row, a JSONL record when asked, and an accumulator entry.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Record(CompletionObserver o, BenchmarkAccumulator.Shard? shard, int index, double scheduled, long queuedAt, long t0, long tEnd,
        string? errType, string? err, StageContext ctx, bool countDone = true)
    {
        var prompt = _prompts[index % _requests.Length];
        if (errType is null)
        {
            if (o.Status != 200) { errType = "http_" + o.Status; err = o.Error ?? o.ErrorBody ?? ""; }
            else if (o.Error is not null) { errType = "stream_error"; err = o.Error; }
            else if (o.ChoiceChunks == 0) { errType = "stream_error"; err = "The response had no choices."; }
        }
        if (err is not null) err = _target.Redact(err);
        var success = errType is null;
        var queueTime = (t0 - queuedAt) / s_freq;
        var start = (t0 - ctx.T0) / s_freq;
        var row = new RequestRow
        {
            Lag = (float)Math.Max(0, start - queueTime - scheduled),
            QueueTime = (float)queueTime,
            Start = start,
            Ttft = success && _spec.Streaming && o.FirstContentAt > 0 ? (o.FirstContentAt - t0) / s_freq : double.NaN,
            FirstByte = o.HeadAt > 0 ? (float)((o.HeadAt - t0) / s_freq) : 0,
            Latency = ((success && o.LastChoiceAt > 0 ? o.LastChoiceAt : tEnd) - t0) / s_freq,
            PromptTokens = o.PromptTokens ?? prompt.PromptTokens,
            OutputTokens = success ? o.CompletionTokens ?? (o.KeepText ? InferenceText.CountTokens(o.Text.ToString()) : o.ContentChunks) : 0,
            CachedTokens = o.CachedTokens ?? 0,
            Success = success,
        };
        var gaps = Math.Max(0, o.ContentTimes.Count - 1);
        var rented = gaps > 0 ? ArrayPool<double>.Shared.Rent(gaps) : null;
        for (var i = 0; i < gaps; i++) rented![i] = (o.ContentTimes[i + 1] - o.ContentTimes[i]) / s_freq;
        var itls = success && rented is not null ? rented.AsSpan(0, gaps) : [];
        InferenceRequestRecord? record = null;
        if (ctx.Records)
        {
            var tpot = BenchmarkMath.Tpot(row);
            record = new InferenceRequestRecord
            {
                Index = index,
                Stage = ctx.Name,
                ScheduledMs = scheduled * 1000,
                StartMs = row.Start * 1000,
                SchedulingLagMs = row.Lag * 1000.0,
                QueueTimeMs = row.QueueTime * 1000,
                Success = success,
                StatusCode = o.Status,
                TtftMs = double.IsNaN(row.Ttft) ? null : row.Ttft * 1000,
                FirstByteMs = o.HeadAt > 0 ? row.FirstByte * 1000 : null,
                LatencyMs = row.Latency * 1000,
                ItlsMs = itls.ToArray().Select(g => g * 1000).ToArray(),
                TpotMs = tpot * 1000,
                NtpotMs = success && row.OutputTokens > 0 ? row.Latency / row.OutputTokens * 1000 : null,
                PromptTokens = row.PromptTokens,
                OutputTokens = row.OutputTokens,
                CachedTokens = row.CachedTokens,
                FinishReason = o.FinishReason,
                Pod = o.Pod,
                Model = _slotModel is null ? _model : _mixModels![_slotModel[index % _requests.Length]],
                ErrorType = errType ?? "",
                Error = err ?? "",
                GeneratedText = _spec.Detailed ? _target.Redact(o.Text.ToString())! : "",
            };
            _logWriter?.Write(record);
        }
        if (shard is not null) shard.Add(row, itls, errType, o.Pod, _spec.Detailed ? record : null);
        else ctx.Acc.Add(row, itls, errType, o.Pod, _spec.Detailed ? record : null);
        if (ctx.PerModel is { } perModel)
        {
            var m = _slotModel![index % _requests.Length];
            perModel[m].Add(row, itls, errType, o.Pod, _spec.Detailed ? record : null);
            if (MultiModelMix.IsModelNotFound(o.Status, err)) Interlocked.Increment(ref ctx.Misrouted![m]);
        }
        if (rented is not null) ArrayPool<double>.Shared.Return(rented);
        if (countDone) Interlocked.Increment(ref ctx.Done);
    }

    /// <summary>Request indices handed out in batches (event-loop stages).</summary>
    private sealed class ClaimCounter
    {
        public int Next;
        public int Batch = 1;
    }

    /// <summary>What the users of one event loop share: the stage, their shard, their batch of indices.</summary>
    private sealed class LoopState(InferenceBenchmarkRunner runner, StagePlan plan, StageContext ctx, BenchmarkAccumulator.Shard shard, ClaimCounter claims, CancellationToken ct)
    {
        public readonly InferenceBenchmarkRunner Runner = runner;
        public readonly StageContext Ctx = ctx;
        public readonly BenchmarkAccumulator.Shard Shard = shard;
        public readonly CancellationToken Token = ct;
        public int Active;
        private int _next, _end;
        private int _done;

        /// <summary>The next request index, or -1 when the stage is over (all sent, cancelled or past its time limit).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public int Claim()
        {
            if (Token.IsCancellationRequested || Stopwatch.GetTimestamp() >= Ctx.Deadline) return -1;
            if (_next >= _end)
            {
                var start = Interlocked.Add(ref claims.Next, claims.Batch) - claims.Batch;
                if (start >= plan.Count) return -1;
                _next = start;
                _end = Math.Min(plan.Count, start + claims.Batch);
            }
            return _next++;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void CountDone()
        {
            if (++_done == 32) FlushDone();
        }

        public void FlushDone()
        {
            if (_done > 0) Interlocked.Add(ref Ctx.Done, _done);
            _done = 0;
        }
    }

    /// <summary>One closed-loop user on an event loop: sends, and on each answer records it and sends the next.</summary>
    private sealed class LoopUser
    {
        private readonly LoopState _s;
        public readonly LoopHttpConnection Conn;
        private readonly CompletionObserver _obs = new();
        private int _index;
        private long _queuedAt, _t0;
        private double _scheduled;
        private bool _finished;

        public LoopUser(LoopState state, LoopHttpConnection conn)
        {
            _s = state;
            Conn = conn;
            Conn.Done = OnDone;
        }

        /// <summary>Sends the next request; records requests that fail before they are sent and goes on.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Pump()
        {
            var r = _s.Runner;
            while (true)
            {
                var i = _s.Claim();
                if (i < 0)
                {
                    if (!_finished) { _finished = true; _s.Active--; }
                    return;
                }
                _index = i;
                _queuedAt = Stopwatch.GetTimestamp();
                _scheduled = (_queuedAt - _s.Ctx.T0) / s_freq;
                _obs.Reset();
                _obs.KeepText = r._spec.Detailed;
                _t0 = Stopwatch.GetTimestamp();
                if (Conn.Start(r._requests[i % r._requests.Length], _obs) is not { } e) return;
                Finish(e);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void OnDone(RawHttpException? e)
        {
            Finish(e);
            Pump();
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Finish(RawHttpException? e)
        {
            _s.Runner.Record(_obs, _s.Shard, _index, _scheduled, _queuedAt, _t0, Stopwatch.GetTimestamp(), e?.Kind, e?.Message, _s.Ctx, countDone: false);
            _s.CountDone();
        }

        /// <summary>From the loop's tick: times out a late answer, or drops everything on cancellation.</summary>
        public void Check(long now, bool cancelled)
        {
            if (_finished) return;
            if (cancelled)
            {
                Conn.Cancel();
                _finished = true;
                _s.Active--;
            }
            else if (Conn.Busy && now > Conn.Deadline)
                Conn.Abort(new RawHttpException("timeout", $"No complete answer within {Conn.Timeout.TotalSeconds:0.#} s."));
        }
    }
}
