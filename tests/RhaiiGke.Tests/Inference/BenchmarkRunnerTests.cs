using System.Text.Json;
using RhaiiGke.Engine.Inference;
using RhaiiGke.Sandbox.Vllm;
using Xunit;

namespace RhaiiGke.Tests.Inference;

public sealed class BenchmarkRunnerTests : IDisposable
{
    private readonly VllmSimulator _sim = VllmSimulator.Start(new InferenceSimulatorOptions { Replicas = 2, Seed = 5 });
    private readonly string _dir = Directory.CreateTempSubdirectory("rhaii-bench-").FullName;

    [Fact]
    public async Task StreamingClosedLoopCountsTokensChunksAndPods()
    {
        var log = Path.Combine(_dir, "req.jsonl");
        var r = Assert.Single(await BenchmarkRuns.RunAll(new InferenceBenchmarkSpec
        {
            BaseUrl = _sim.Info.BaseUrl, Profile = InferenceBenchmarkProfile.Concurrent, Concurrency = [4], NumPrompts = 40,
            InputTokens = 64, OutputTokens = 8, RequestLogPath = log, Warmups = 2,
        }));
        Assert.Equal("concurrency-4", r.Stage);
        Assert.Equal(40, r.Completed);
        Assert.Equal(0, r.Failed);
        Assert.Equal(40 * (64 + 28), r.TotalInputTokens); // the server's count: each chat prompt plus Qwen2.5's 28 template tokens
        Assert.Equal(40 * 8, r.TotalOutputTokens);
        Assert.Equal(40, r.Ttft.Count);
        Assert.Equal(40 * 7, r.Itl.Count);
        Assert.Equal(40, r.Tpot.Count);
        Assert.Equal(40, r.Pods.Values.Sum());
        Assert.Equal("Qwen/Qwen2.5-3B-Instruct", r.Model); // discovered from /v1/models
        var lines = File.ReadAllLines(log);
        Assert.Equal(40, lines.Length); // warm-up excluded
        var first = JsonDocument.Parse(lines[0]).RootElement;
        Assert.True(first.GetProperty("success").GetBoolean());
        Assert.Equal(8, first.GetProperty("output_tokens").GetInt32());
        Assert.Equal(7, first.GetProperty("itl_ms").GetArrayLength());
        Assert.Equal("length", first.GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task PoissonStageRecordsLagAndErrorsByType()
    {
        using var failing = VllmSimulator.Start(new InferenceSimulatorOptions { FailureRate = 50, FailureTypes = ["server_error"], Seed = 2 });
        var r = Assert.Single(await BenchmarkRuns.RunAll(new InferenceBenchmarkSpec
        {
            BaseUrl = failing.Info.BaseUrl, Model = "Qwen/Qwen2.5-3B-Instruct", Profile = InferenceBenchmarkProfile.Poisson, Rates = [400], NumPrompts = 60,
            InputTokens = 16, OutputTokens = 4, Warmups = 0, Api = InferenceApi.Completions, Detailed = true,
        }));
        Assert.Equal(60, r.Completed + r.Failed);
        Assert.True(r.Failed > 0 && r.Completed > 0);
        Assert.Equal(r.Failed, r.ErrorsByType["http_500"]);
        Assert.Equal(60, r.SchedulingLag.Count);
        Assert.Equal(400, r.RequestRate);
        Assert.Equal("openai", r.Backend);
        Assert.Equal(60, r.Requests!.Length);
        Assert.All(r.Requests.Where(q => q.Success), q => Assert.Equal(4, q.GeneratedText.Split(' ').Length));
    }

    [Fact]
    public async Task NonStreamingHasLatencyButNoTtft()
    {
        var r = Assert.Single(await BenchmarkRuns.RunAll(new InferenceBenchmarkSpec
        {
            BaseUrl = _sim.Info.ReplicaUrls[0], Profile = InferenceBenchmarkProfile.Synchronous, NumPrompts = 5, Streaming = false, OutputTokens = 3, InputTokens = 8,
        }));
        Assert.Equal(5, r.Completed);
        Assert.Equal(0, r.Ttft.Count);
        Assert.Equal(5, r.E2el.Count);
        Assert.Equal(15, r.TotalOutputTokens);
        Assert.Equal(["vllm-sim-0"], r.Pods.Keys);
    }

    [Fact]
    public async Task SweepRunsSynchronousThroughputAndRatesAndMarksTheBest()
    {
        var results = await BenchmarkRuns.RunAll(new InferenceBenchmarkSpec
        {
            BaseUrl = _sim.Info.BaseUrl, Profile = InferenceBenchmarkProfile.Sweep, NumPrompts = 20, Concurrency = [8], SweepSteps = 2,
            InputTokens = 8, OutputTokens = 2, Slo = new(StringComparer.OrdinalIgnoreCase) { ["e2el"] = 60_000 },
        });
        Assert.Equal(["synchronous", "throughput"], results.Take(2).Select(r => r.Stage));
        Assert.Equal(4, results.Count);
        Assert.All(results, r => Assert.True(r.MeetsSlo));
        Assert.Single(results, r => r.SweepBest);
    }

    [Fact]
    public async Task SharedPrefixDatasetHitsTheCacheThroughTheGateway()
    {
        var r = Assert.Single(await BenchmarkRuns.RunAll(new InferenceBenchmarkSpec
        {
            BaseUrl = _sim.Info.BaseUrl, Profile = InferenceBenchmarkProfile.Concurrent, Concurrency = [2], NumPrompts = 40, Dataset = InferenceDatasetKind.SharedPrefix,
            NumPrefixes = 2, PrefixTokens = 256, InputTokens = 32, OutputTokens = 2, Seed = 9,
        }));
        Assert.True(r.CachedTokenRatio > 0.5, $"cached ratio {r.CachedTokenRatio}");
    }

    [Fact]
    public async Task EventLoopBlockingThreadsAndAsyncPathsMeasureTheSameThings()
    {
        // The three closed-loop engines; the switches are process-wide, so restore them at once.
        var spec = () => new InferenceBenchmarkSpec { BaseUrl = _sim.Info.ReplicaUrls[1], Concurrency = [6], NumPrompts = 30, InputTokens = 20, OutputTokens = 5, Warmups = 0, Seed = 4, Streaming = false };
        var loop = Assert.Single(await BenchmarkRuns.RunAll(spec()));
        var (useLoop, maxBlocking) = (InferenceBenchmarkRunner.UseEventLoop, InferenceBenchmarkRunner.MaxBlockingWorkers);
        InferenceBenchmarkResult threads, pool;
        try
        {
            InferenceBenchmarkRunner.UseEventLoop = false;
            threads = Assert.Single(await BenchmarkRuns.RunAll(spec()));
            InferenceBenchmarkRunner.MaxBlockingWorkers = 0;
            pool = Assert.Single(await BenchmarkRuns.RunAll(spec()));
        }
        finally { (InferenceBenchmarkRunner.UseEventLoop, InferenceBenchmarkRunner.MaxBlockingWorkers) = (useLoop, maxBlocking); }
        foreach (var r in new[] { loop, threads, pool })
        {
            Assert.Equal(30, r.Completed);
            Assert.Equal(150, r.TotalOutputTokens);
            Assert.Equal(30 * (20 + 28), r.TotalInputTokens); // plus Qwen2.5's 28 chat-template tokens per request
            Assert.Equal(30, r.E2el.Count);
            Assert.Equal(30, r.Pods["vllm-sim-1"]);
        }
    }

    [Fact]
    public async Task StreamingOnTheEventLoopMeasuresWhatThreadsMeasure()
    {
        // Streaming on the epoll loop (the default) and on one thread per user, against a simulator at a fixed
        // TTFT (20 ms) and ITL (5 ms): the same counts, one TTFT per request and one ITL per gap between content
        // chunks, and the same timings by the simulator's schedule. Timings are checked against what the server
        // cannot beat (no token before its due time), not against how late a loaded machine may make them.
        using var timed = VllmSimulator.Start(new InferenceSimulatorOptions { Replicas = 1, Seed = 6, TimeToFirstTokenMs = 20, InterTokenLatencyMs = 5 });
        var spec = () => new InferenceBenchmarkSpec { BaseUrl = timed.Info.BaseUrl, Concurrency = [6], NumPrompts = 30, InputTokens = 20, OutputTokens = 5, Warmups = 1, Seed = 4, Streaming = true, Detailed = true };
        var loop = Assert.Single(await BenchmarkRuns.RunAll(spec()));
        var before = InferenceBenchmarkRunner.StreamOnEventLoop;
        InferenceBenchmarkResult threads;
        try
        {
            InferenceBenchmarkRunner.StreamOnEventLoop = false;
            threads = Assert.Single(await BenchmarkRuns.RunAll(spec()));
        }
        finally { InferenceBenchmarkRunner.StreamOnEventLoop = before; }
        foreach (var r in new[] { loop, threads })
        {
            Assert.Equal(30, r.Completed);
            Assert.Equal(0, r.Failed);
            Assert.Equal(150, r.TotalOutputTokens);
            Assert.Equal(30, r.Ttft.Count);
            Assert.Equal(30 * 4, r.Itl.Count);
            Assert.Equal(30, r.Pods["vllm-sim-0"]);
            Assert.All(r.Requests!, q =>
            {
                // The first token is due 20 ms after the server read the request, the last 4 ITLs later.
                Assert.True(q.TtftMs >= 20 && q.TtftMs <= q.LatencyMs, $"ttft {q.TtftMs} latency {q.LatencyMs}");
                Assert.True(q.LatencyMs >= 20 + 4 * 5, $"latency {q.LatencyMs}");
                Assert.Equal(4, q.ItlsMs.Length);
                Assert.All(q.ItlsMs, g => Assert.True(g >= 0));
                Assert.Equal(q.LatencyMs - q.TtftMs!.Value, q.ItlsMs.Sum(), 6);
            });
            // A clock mix-up (kernel realtime stamps against Stopwatch) would be off by seconds to years, not milliseconds.
            Assert.InRange(r.Ttft.Median, 20, 20_000);
            Assert.InRange(r.Itl.Median, 0, 20_000);
        }
    }

    [Fact]
    public async Task UnreachableEndpointIsAStableError()
    {
        var ex = await Assert.ThrowsAsync<RhaiiException>(() => BenchmarkRuns.RunAll(new InferenceBenchmarkSpec { BaseUrl = "http://127.0.0.1:1", NumPrompts = 1 }));
        Assert.Equal("InferenceEndpointUnreachable", ex.ErrorId);
    }

    public void Dispose()
    {
        _sim.Dispose();
        try { Directory.Delete(_dir, true); } catch { }
    }
}
