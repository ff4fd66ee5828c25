using RhaiiGke.Sandbox.KubeApi;
using RhaiiGke.Sandbox.KubeApi.Controllers;
using Xunit;

namespace RhaiiGke.Tests.KubeApi;

/// <summary>
/// The sandbox's controller loop never loses a scheduled reconcile. A CRD once stayed un-Established for good: the loop
/// dropped a delayed reconcile whose timer fired "before" its due time on the wall clock, and every later schedule of
/// the key collapsed onto the lost one.
/// </summary>
public sealed class ControllerLoopTests
{
    private sealed class Probe(ControllerManager m) : SimController(m)
    {
        public TaskCompletionSource<string> Reconciled { get; private set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        protected override string Name => "probe";
        public override void OnEvent(WatchEvent ev) { }
        public override void Reconcile(string key) => Reconciled.TrySetResult(key);
        public void Reset() => Reconciled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [Fact]
    public async Task ADelayedReconcileRunsWhenTheWallClockStepsBackWhileItWaitsAndLaterSchedulesStillRun()
    {
        using var sim = new KubeApiSimulator(new KubeApiSimulatorOptions());
        sim.Start();
        var loop = sim.ControllerLoop!;
        var probe = new Probe(loop);

        // scheduled while the wall clock is an hour ahead; the clock steps back (NTP) before the timer fires
        loop.Clock = () => DateTime.UtcNow + TimeSpan.FromHours(1);
        loop.Enqueue(probe, "crd-a", TimeSpan.FromMilliseconds(20));
        loop.Clock = () => DateTime.UtcNow;
        Assert.Equal("crd-a", await probe.Reconciled.Task.WaitAsync(TimeSpan.FromSeconds(60)));

        // the key is not stuck behind a stale schedule: a later delayed and an immediate request both run
        probe.Reset();
        loop.Enqueue(probe, "crd-a", TimeSpan.FromMilliseconds(20));
        Assert.Equal("crd-a", await probe.Reconciled.Task.WaitAsync(TimeSpan.FromSeconds(60)));
        probe.Reset();
        loop.Enqueue(probe, "crd-a");
        Assert.Equal("crd-a", await probe.Reconciled.Task.WaitAsync(TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public async Task AnEarlierScheduleSupersedesALaterOneAndTheKeyIsReconciledOnceForBoth()
    {
        using var sim = new KubeApiSimulator(new KubeApiSimulatorOptions());
        sim.Start();
        var loop = sim.ControllerLoop!;
        var count = 0;
        var probe = new Counting(loop, () => Interlocked.Increment(ref count));
        loop.Enqueue(probe, "k", TimeSpan.FromMilliseconds(300));
        loop.Enqueue(probe, "k");
        Assert.True(await sim.WaitIdleAsync(TimeSpan.FromSeconds(60)));
        // the immediate schedule replaced the delayed one; the delayed timer's item, finding no schedule left, may
        // reconcile once more (harmless), but never zero times
        Assert.InRange(count, 1, 2);
    }

    private sealed class Counting(ControllerManager m, Action onReconcile) : SimController(m)
    {
        protected override string Name => "counting";
        public override void OnEvent(WatchEvent ev) { }
        public override void Reconcile(string key) => onReconcile();
    }
}
