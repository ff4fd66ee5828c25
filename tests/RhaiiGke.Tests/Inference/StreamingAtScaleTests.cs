using System.Diagnostics;
using RhaiiGke.Engine.Inference;
using RhaiiGke.Sandbox.Vllm;
using Xunit;

namespace RhaiiGke.Tests.Inference;

/// <summary>
/// Thousands of concurrent streams: every one completes with its own per-request and per-chunk
/// timestamps, and the simulator accounts for the timing of every token it streamed. Correctness only;
/// speed and timing accuracy at this scale are measured in benchmarks/Inference.bench.ps1.
/// </summary>
public sealed class StreamingAtScaleTests
{
    [Fact]
    public async Task FourThousandNinetySixConcurrentStreamsAllCompleteWithTheirTimestamps()
    {
        // Client and server share this process: two descriptors per stream.
        var limit = FileDescriptorLimit.EnsureAtLeast(2 * 4096 + 512);
        if (limit is { } l && l < 2 * 4096 + 512) return; // the hard limit forbids it here; the bench reports it
        using var sim = VllmSimulator.Start(new InferenceSimulatorOptions { Replicas = 1, MaxNumSeqs = 8192, Seed = 5 });
        var r = await BenchmarkRuns.RunOne(new InferenceBenchmarkSpec
        {
            BaseUrl = sim.Info.BaseUrl, Model = "Qwen/Qwen2.5-3B-Instruct", Api = InferenceApi.Completions, Streaming = true,
            Concurrency = [4096], NumPrompts = 4096, InputTokens = 4, OutputTokens = 2, Warmups = 0, Detailed = true,
        });
        Assert.Equal(0, r.Failed);
        Assert.Equal(4096, r.Completed);
        Assert.Equal(4096 * 2, r.TotalOutputTokens);
        Assert.Equal(4096, r.Requests!.Count);
        Assert.All(r.Requests!, q =>
        {
            Assert.True(q.Success);
            Assert.NotNull(q.TtftMs);
            Assert.True(q.TtftMs > 0);
            Assert.True(q.LatencyMs >= q.TtftMs);
            Assert.Single(q.ItlsMs); // two tokens: one gap, stamped as the second chunk arrived
        });
        Assert.Equal(4096, r.Ttft.Count);
    }

    [Fact]
    public async Task TheSimulatorTimesEveryGapBetweenTheTokensItStreams()
    {
        using var sim = VllmSimulator.Start(new InferenceSimulatorOptions { Replicas = 2, InterTokenLatencyMs = 1, Seed = 6 });
        _ = VllmSimulator.TokenTiming(sim.Info.Id, reset: true);
        var r = await BenchmarkRuns.RunOne(new InferenceBenchmarkSpec
        {
            BaseUrl = sim.Info.BaseUrl, Model = "Qwen/Qwen2.5-3B-Instruct", Api = InferenceApi.Completions, Streaming = true,
            Concurrency = [3], NumPrompts = 6, InputTokens = 4, OutputTokens = 5, Warmups = 0,
        });
        Assert.Equal(6, r.Completed);
        var t = VllmSimulator.TokenTiming(sim.Info.Id, reset: true)!;
        Assert.Equal(6 * 4, t["Count"]); // four gaps between five tokens, per stream
        Assert.True(t["ItlErrorP50Ms"] <= t["ItlErrorP99Ms"] && t["ItlErrorP99Ms"] <= t["ItlErrorP999Ms"]);
        Assert.Equal(0, VllmSimulator.TokenTiming(sim.Info.Id, reset: false)!["Count"]);
        Assert.Null(VllmSimulator.TokenTiming(Guid.NewGuid(), reset: false));
    }

    [Fact]
    public void TokenTimingPercentilesAreTheUpperEdgesOfTenMicrosecondBins()
    {
        var t = new TokenTiming();
        var ms = Stopwatch.Frequency / 1000;
        for (var i = 0; i < 98; i++) t.Record(10 * ms, 10 * ms);          // exact
        t.Record(10 * ms + ms / 2, 10 * ms);                                 // 0.5 ms late
        t.Record(10 * ms - 3 * ms, 10 * ms);                                 // 3 ms early counts as 3 ms off
        var s = t.Snapshot(reset: false);
        Assert.Equal(100, s["Count"]);
        Assert.Equal(0.01, s["ItlErrorP50Ms"]);
        Assert.Equal(0.51, s["ItlErrorP99Ms"], 2);
        Assert.Equal(3, s["ItlErrorMaxMs"], 2);
        Assert.Equal(100, t.Snapshot(reset: true)["Count"]);
        Assert.Equal(0, t.Snapshot(reset: false)["Count"]);
    }
}
