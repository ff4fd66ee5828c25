using System.Diagnostics;
using System.Runtime.InteropServices;

namespace RhaiiGke.Engine.Inference;

/// <summary>Sleeps until a Stopwatch timestamp with ~0.1 ms accuracy: nanosleep for the bulk, then yields.</summary>
internal static class PreciseClock
{
    private static readonly long s_quarterMs = Stopwatch.Frequency / 4000;
    private static readonly bool s_unix = !OperatingSystem.IsWindows();

    public static void SleepUntil(long timestamp, CancellationToken ct = default)
    {
        while (!ct.IsCancellationRequested)
        {
            var rem = timestamp - Stopwatch.GetTimestamp();
            if (rem <= 0) return;
            if (rem > s_quarterMs) Sleep(Math.Min(rem - s_quarterMs / 2, Stopwatch.Frequency / 10));
            else Thread.Yield();
        }
    }

    private static void Sleep(long ticks)
    {
        if (s_unix)
        {
            var ns = ticks * 1_000_000_000L / Stopwatch.Frequency;
            var ts = new TimeSpec { Seconds = ns / 1_000_000_000L, Nanoseconds = ns % 1_000_000_000L };
            try { _ = nanosleep(ref ts, IntPtr.Zero); return; }
            catch (EntryPointNotFoundException) { }
            catch (DllNotFoundException) { }
        }
        if (ticks > Stopwatch.Frequency / 1000) Thread.Sleep(1); else Thread.Yield();
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

#pragma warning disable SYSLIB1054
    [DllImport("libc", SetLastError = false)]
    private static extern int nanosleep(ref TimeSpec req, IntPtr rem);
#pragma warning restore SYSLIB1054
}

/// <summary>
/// Raises the calling thread's scheduling priority on Linux (nice -10) so that a timing thread (the
/// benchmark's dispatcher, the simulator's clock) wakes on time on a busy machine. Needs root or
/// CAP_SYS_NICE; without them it does nothing. .NET's Thread.Priority has no effect on Linux.
/// </summary>
internal static class ThreadBoost
{
    public static bool TryRaise(int nice = -10)
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            var tid = gettid();
            return setpriority(0 /* PRIO_PROCESS: with a thread id, that thread only */, tid, nice) == 0;
        }
        catch (EntryPointNotFoundException) { return false; }
        catch (DllNotFoundException) { return false; }
    }

#pragma warning disable SYSLIB1054
    [DllImport("libc", SetLastError = true)]
    private static extern int gettid();

    [DllImport("libc", SetLastError = true)]
    private static extern int setpriority(int which, int who, int prio);
#pragma warning restore SYSLIB1054
}
