using System.Diagnostics;
using System.Runtime.InteropServices;

namespace RhaiiGke.Sandbox.Vllm;

/// <summary>
/// Runs callbacks at Stopwatch timestamps with sub-millisecond accuracy. Each of a few clock threads (one
/// per two cores, at most 4) keeps a min-heap of deadlines and sleeps with nanosleep (timer slack ≈ 50 µs on
/// Linux) in steps of at most 1 ms, so a token scheduled for t fires within a fraction of a millisecond of
/// t instead of Task.Delay's 1-2 ms. A thread takes every deadline that is due in one pass under its lock
/// and fires them in deadline order outside it. Callbacks run on the clock thread and must be short;
/// awaiting <see cref="DelayUntil"/> resumes inline, and a wait started from a clock thread stays on that
/// thread (a stream keeps its clock, its heap lock is uncontended), while waits from elsewhere are dealt
/// round-robin, so thousands of streams spread over the cores instead of queueing behind one thread.
/// </summary>
internal sealed class PreciseScheduler : IDisposable
{
    private readonly Clock[] _clocks;
    private int _next = -1;
    [ThreadStatic] private static Clock? t_current;

    /// <summary>How far apart the streams' tokens really went out against the plan (the simulator's own ITL error).</summary>
    public readonly TokenTiming Timing = new();
    private static readonly long s_ticksPerMs = Stopwatch.Frequency / 1000;
    private static readonly long s_slack = Stopwatch.Frequency / 20000; // fire up to 50 µs early

    /// <param name="name">The clock threads' name (a suffix numbers them).</param>
    /// <param name="threads">Clock threads; 0: one per two cores, at most 4 (one on a 2-core machine, where a
    /// second clock measured 10 % more CPU per token: its lock and wake-ups cost more than it saved).</param>
    public PreciseScheduler(string name, int threads = 0)
    {
        if (threads <= 0) threads = Math.Clamp(Environment.ProcessorCount / 2, 1, 4);
        _clocks = new Clock[threads];
        for (var i = 0; i < threads; i++) _clocks[i] = new Clock(this, threads == 1 ? name : name + "-" + i);
    }

    /// <summary>Clock threads serving this scheduler.</summary>
    public int Threads => _clocks.Length;

    /// <summary>Completes at <paramref name="timestamp"/> (Stopwatch ticks). Already due: completes now.</summary>
    public Task DelayUntil(long timestamp)
    {
        if (timestamp - Stopwatch.GetTimestamp() <= s_slack) return Task.CompletedTask;
        var clock = t_current is { } c && ReferenceEquals(c.Owner, this)
            ? c
            : _clocks[(int)((uint)Interlocked.Increment(ref _next) % (uint)_clocks.Length)];
        return clock.Enqueue(timestamp);
    }

    public void Dispose()
    {
        foreach (var c in _clocks) c.Stop();
        foreach (var c in _clocks) c.Join();
    }

    private sealed class Clock
    {
        private readonly PriorityQueue<TaskCompletionSource, long> _heap = new();
        private readonly object _lock = new();
        private readonly ManualResetEventSlim _wake = new(false);
        private readonly Thread _thread;
        private readonly List<TaskCompletionSource> _due = new(256);
        private volatile bool _stopped;
        public readonly PreciseScheduler Owner;

        public Clock(PreciseScheduler owner, string name)
        {
            Owner = owner;
            _thread = new Thread(Run) { IsBackground = true, Name = name, Priority = ThreadPriority.AboveNormal };
            _thread.Start();
        }

        public Task Enqueue(long timestamp)
        {
            var tcs = new TaskCompletionSource(TaskCreationOptions.None);
            bool signal;
            lock (_lock)
            {
                signal = _heap.Count == 0 || _heap.TryPeek(out _, out var first) && timestamp < first;
                _heap.Enqueue(tcs, timestamp);
            }
            // The clock's own thread looks at the heap again before it sleeps: no need to wake it.
            if (signal && !ReferenceEquals(t_current, this)) _wake.Set();
            return tcs.Task;
        }

        private void Run()
        {
            t_current = this;
            SchedulerThread.RaisePriority();
            while (!_stopped)
            {
                long wait = -1;
                lock (_lock)
                {
                    var now = Stopwatch.GetTimestamp();
                    while (_heap.TryPeek(out var t, out var at))
                    {
                        if (at - now > s_slack) { wait = at - now; break; }
                        _heap.Dequeue();
                        _due.Add(t);
                    }
                }
                if (_due.Count > 0)
                {
                    // Deadline order, outside the lock: each continuation (a token write) runs inline here.
                    foreach (var t in _due) t.TrySetResult();
                    _due.Clear();
                    continue;
                }
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

        public void Stop()
        {
            _stopped = true;
            _wake.Set();
        }

        public void Join()
        {
            // A clock thread still running after a second keeps its event: disposing it under the thread would crash it.
            if (_thread.Join(1000)) _wake.Dispose();
        }
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
