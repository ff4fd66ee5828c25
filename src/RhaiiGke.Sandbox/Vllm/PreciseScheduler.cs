using System.Diagnostics;
using System.Runtime.InteropServices;

namespace RhaiiGke.Sandbox.Vllm;

/// <summary>
/// Runs callbacks at Stopwatch timestamps with sub-millisecond accuracy. One thread keeps a min-heap of
/// deadlines and sleeps with nanosleep (timer slack ≈ 50 µs on Linux) in steps of at most 1 ms, so a
/// token scheduled for t fires within a fraction of a millisecond of t instead of Task.Delay's 1-2 ms.
/// Callbacks run on that thread and must be short; awaiting <see cref="DelayUntil"/> resumes inline.
/// </summary>
internal sealed class PreciseScheduler : IDisposable
{
    private readonly PriorityQueue<TaskCompletionSource, long> _heap = new();
    private readonly object _lock = new();
    private readonly ManualResetEventSlim _wake = new(false);
    private readonly Thread _thread;
    private volatile bool _stopped;

    /// <summary>How far apart the streams' tokens really went out against the plan (the simulator's own ITL error).</summary>
    public readonly TokenTiming Timing = new();
    private static readonly long s_ticksPerMs = Stopwatch.Frequency / 1000;
    private static readonly long s_slack = Stopwatch.Frequency / 20000; // fire up to 50 µs early

    public PreciseScheduler(string name)
    {
        _thread = new Thread(Run) { IsBackground = true, Name = name, Priority = ThreadPriority.AboveNormal };
        _thread.Start();
    }

    /// <summary>Completes at <paramref name="timestamp"/> (Stopwatch ticks). Already due: completes now.</summary>
    public Task DelayUntil(long timestamp)
    {
        if (timestamp - Stopwatch.GetTimestamp() <= s_slack) return Task.CompletedTask;
        var tcs = new TaskCompletionSource(TaskCreationOptions.None);
        bool signal;
        lock (_lock)
        {
            signal = _heap.Count == 0 || _heap.TryPeek(out _, out var first) && timestamp < first;
            _heap.Enqueue(tcs, timestamp);
        }
        if (signal) _wake.Set();
        return tcs.Task;
    }

    private void Run()
    {
        SchedulerThread.RaisePriority();
        while (!_stopped)
        {
            TaskCompletionSource? due = null;
            long wait;
            lock (_lock)
            {
                if (_heap.TryPeek(out var t, out var at))
                {
                    wait = at - Stopwatch.GetTimestamp();
                    if (wait <= s_slack) { _heap.Dequeue(); due = t; }
                }
                else wait = -1;
            }
            if (due is not null) { due.TrySetResult(); continue; }
            if (wait < 0)
            {
                _wake.Wait(100);
                _wake.Reset();
                continue;
            }
            _wake.Reset();
            SleepTicks(Math.Min(wait, s_ticksPerMs));
        }
        lock (_lock) while (_heap.TryDequeue(out var t, out _)) t.TrySetCanceled();
    }

    private static readonly bool s_unix = !OperatingSystem.IsWindows();

    private static void SleepTicks(long ticks)
    {
        if (s_unix)
        {
            var ns = ticks * 1_000_000_000L / Stopwatch.Frequency;
            var ts = new TimeSpec { Seconds = ns / 1_000_000_000L, Nanoseconds = ns % 1_000_000_000L };
            try { _ = nanosleep(ref ts, IntPtr.Zero); return; }
            catch (EntryPointNotFoundException) { }
            catch (DllNotFoundException) { }
        }
        if (ticks > s_ticksPerMs / 2) Thread.Sleep(1); else Thread.Yield();
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

#pragma warning disable SYSLIB1054 // DllImport is fine for one blittable call
    [DllImport("libc", SetLastError = false)]
    private static extern int nanosleep(ref TimeSpec req, IntPtr rem);
#pragma warning restore SYSLIB1054

    public void Dispose()
    {
        _stopped = true;
        _wake.Set();
        _thread.Join(1000);
        _wake.Dispose();
    }
}

/// <summary>Raises the scheduler thread's priority where the OS lets an unprivileged process do so (Linux: a lower nice value for this thread).</summary>
internal static class SchedulerThread
{
    public static void RaisePriority()
    {
        if (!OperatingSystem.IsLinux()) return;
        try { _ = SetPriority(Which: 0, Who: GetThreadId(), Nice: -10); } // PRIO_PROCESS with a thread id: this thread only
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException) { }
    }

#pragma warning disable SYSLIB1054 // DllImport: LibraryImport would need unsafe code for two int calls
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "gettid")]
    private static extern int GetThreadId();

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "setpriority")]
    private static extern int SetPriority(int Which, int Who, int Nice);
#pragma warning restore SYSLIB1054
}
