using System.Diagnostics;
using RhaiiGke.Sandbox.Vllm;
using Xunit;

namespace RhaiiGke.Tests.Inference;

/// <summary>The simulator's token clock: with one or several clock threads no deadline fires early, every
/// deadline fires, chained waits (a stream's next token scheduled from its continuation) keep working, and
/// Dispose cancels what is still pending.</summary>
public class PreciseSchedulerTests
{
    private static readonly long s_slack = Stopwatch.Frequency / 20000; // the scheduler fires up to 50 µs early

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task Every_deadline_fires_and_none_fires_early(int threads)
    {
        using var clock = new PreciseScheduler("test-clock", threads);
        Assert.Equal(threads, clock.Threads);
        var early = 0;
        async Task Stream(int i)
        {
            // Five tokens 2 ms apart, each scheduled from the previous one's continuation (on a clock thread).
            var due = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 1000 * (2 + i % 5);
            for (var t = 0; t < 5; t++)
            {
                await clock.DelayUntil(due);
                if (Stopwatch.GetTimestamp() < due - s_slack) Interlocked.Increment(ref early);
                due += Stopwatch.Frequency / 500;
            }
        }
        await Task.WhenAll(Enumerable.Range(0, 200).Select(Stream)).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, early);
    }

    [Fact]
    public async Task Dispose_cancels_pending_waits()
    {
        var clock = new PreciseScheduler("test-clock", 2);
        var far = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 3600;
        var waits = Enumerable.Range(0, 4).Select(_ => clock.DelayUntil(far)).ToArray();
        clock.Dispose();
        foreach (var w in waits) await Assert.ThrowsAnyAsync<OperationCanceledException>(() => w.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void A_deadline_already_due_completes_at_once()
    {
        using var clock = new PreciseScheduler("test-clock", 2);
        Assert.True(clock.DelayUntil(Stopwatch.GetTimestamp() - 1).IsCompleted);
    }
}
