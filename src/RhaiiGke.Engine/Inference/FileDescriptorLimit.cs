using System.Runtime.InteropServices;

namespace RhaiiGke.Engine.Inference;

/// <summary>
/// Each benchmark connection is a file descriptor. Many shells start with a soft limit of 1,024 open
/// files while the hard limit is far higher; like wrk's users are told to run <c>ulimit -n</c>, the
/// runner raises the soft limit itself (up to the hard limit, which needs no privilege) before it opens
/// thousands of connections.
/// </summary>
internal static class FileDescriptorLimit
{
    /// <summary>
    /// Makes the soft RLIMIT_NOFILE at least <paramref name="needed"/> where the hard limit allows. Returns
    /// the soft limit now in force, or null where it cannot be read (Windows, no libc).
    /// </summary>
    public static long? EnsureAtLeast(long needed)
    {
        var resource = OperatingSystem.IsLinux() ? 7 : OperatingSystem.IsMacOS() ? 8 : -1; // RLIMIT_NOFILE
        if (resource < 0) return null;
        try
        {
            var lim = default(RLimit);
            if (getrlimit(resource, ref lim) != 0) return null;
            if (lim.Cur >= (ulong)needed) return (long)Math.Min(lim.Cur, long.MaxValue);
            var raised = lim with { Cur = Math.Min((ulong)needed * 2, lim.Max) };
            if (raised.Cur > lim.Cur && setrlimit(resource, ref raised) == 0) lim = raised;
            return (long)Math.Min(lim.Cur, long.MaxValue);
        }
        catch (DllNotFoundException) { return null; }
        catch (EntryPointNotFoundException) { return null; }
    }

    [StructLayout(LayoutKind.Sequential)]
    private record struct RLimit(ulong Cur, ulong Max);

#pragma warning disable SYSLIB1054 // two blittable calls
    [DllImport("libc", SetLastError = true)] private static extern int getrlimit(int resource, ref RLimit rlim);
    [DllImport("libc", SetLastError = true)] private static extern int setrlimit(int resource, ref RLimit rlim);
#pragma warning restore SYSLIB1054
}
