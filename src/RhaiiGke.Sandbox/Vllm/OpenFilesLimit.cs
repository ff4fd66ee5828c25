using System.Runtime.InteropServices;

namespace RhaiiGke.Sandbox.Vllm;

/// <summary>
/// A real vLLM pod runs with a container's open-files limit (usually 1,048,576); a simulator started from
/// a shell inherits that shell's soft limit, often 1,024, and would refuse connections long before a
/// benchmark of thousands of streams. The first simulator in a process raises the soft limit to the hard
/// limit (no privilege needed).
/// </summary>
internal static class OpenFilesLimit
{
    private static int s_done;

    public static void RaiseToHard()
    {
        if (Interlocked.Exchange(ref s_done, 1) != 0) return;
        var resource = OperatingSystem.IsLinux() ? 7 : OperatingSystem.IsMacOS() ? 8 : -1; // RLIMIT_NOFILE
        if (resource < 0) return;
        try
        {
            var lim = default(Limit);
            if (getrlimit(resource, ref lim) != 0 || lim.Cur >= lim.Max) return;
            // macOS refuses more than OPEN_MAX for an unlimited hard limit.
            var target = OperatingSystem.IsMacOS() ? Math.Min(lim.Max, 10240UL) : lim.Max;
            var raised = new Limit { Cur = Math.Max(lim.Cur, target), Max = lim.Max };
            _ = setrlimit(resource, ref raised);
        }
        catch (DllNotFoundException) { }
        catch (EntryPointNotFoundException) { }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Limit
    {
        public ulong Cur;
        public ulong Max;
    }

#pragma warning disable SYSLIB1054 // two blittable calls
    [DllImport("libc")] private static extern int getrlimit(int resource, ref Limit rlim);
    [DllImport("libc")] private static extern int setrlimit(int resource, ref Limit rlim);
#pragma warning restore SYSLIB1054
}
