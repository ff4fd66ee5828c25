using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace RhaiiGke.Engine.Inference;

/// <summary>
/// A single-threaded event loop over Linux epoll for benchmark connections, the way wrk works: one
/// thread serves many keep-alive connections, a connection waiting for bytes is armed one-shot, and its
/// continuation (parse, record, send the next request) runs inline on the loop thread, with no thread
/// switch per response. Only on Linux x64; elsewhere the runner uses blocking threads.
/// </summary>
internal sealed class EpollLoop : IDisposable
{
    private const int EPOLL_CTL_ADD = 1, EPOLL_CTL_MOD = 3, EPOLLIN = 0x001, EPOLLERR = 0x008, EPOLLHUP = 0x010, EPOLLONESHOT = 1 << 30;
    private readonly int _epfd;
    private readonly List<RawHttpConnection?> _conns = [];
    private readonly HashSet<RawHttpConnection> _armed = [];

    public static bool Supported => OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64 && s_probe.Value;

    private static readonly Lazy<bool> s_probe = new(() =>
    {
        try
        {
            var fd = epoll_create1(0);
            if (fd < 0) return false;
            _ = close(fd);
            return true;
        }
        catch (DllNotFoundException) { return false; }
        catch (EntryPointNotFoundException) { return false; }
    });

    public EpollLoop()
    {
        _epfd = epoll_create1(0);
        if (_epfd < 0) throw new IOException("epoll_create1 failed: " + Marshal.GetLastPInvokeError());
    }

    /// <summary>Registers a connected non-blocking socket; returns its slot.</summary>
    public int Add(RawHttpConnection c)
    {
        _conns.Add(c);
        return _conns.Count - 1;
    }

    public void Remove(int slot) { if (slot >= 0 && slot < _conns.Count) _conns[slot] = null; }

    /// <summary>Asks for one readable notification for this connection (one-shot).</summary>
    public void Arm(RawHttpConnection c, int slot, Socket socket, bool added)
    {
        var ev = new EpollEvent { Events = EPOLLIN | EPOLLONESHOT, Data = (ulong)slot };
        var fd = (int)socket.Handle;
        if (epoll_ctl(_epfd, added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, ref ev) != 0)
            throw new IOException("epoll_ctl failed: " + Marshal.GetLastPInvokeError());
        _armed.Add(c);
    }

    /// <summary>Runs until <paramref name="done"/> says stop; checks <paramref name="tick"/> every 50 ms (timeouts, cancellation).</summary>
    public void Run(Func<bool> done, Action<IReadOnlyCollection<RawHttpConnection>> tick)
    {
        var events = new EpollEvent[256];
        var lastTick = Environment.TickCount64;
        while (!done())
        {
            var n = epoll_wait(_epfd, events, events.Length, 50);
            for (var i = 0; i < n; i++)
            {
                var slot = (int)events[i].Data;
                var c = slot < _conns.Count ? _conns[slot] : null;
                if (c is null) continue;
                _armed.Remove(c);
                c.OnReadable();
            }
            if (Environment.TickCount64 - lastTick >= 50)
            {
                lastTick = Environment.TickCount64;
                tick(_armed.ToList());
            }
        }
    }

    public void Dispose() => _ = close(_epfd);

    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    private struct EpollEvent
    {
        public int Events;
        public ulong Data;
    }

#pragma warning disable SYSLIB1054
    [DllImport("libc", SetLastError = true)] private static extern int epoll_create1(int flags);
    [DllImport("libc", SetLastError = true)] private static extern int epoll_ctl(int epfd, int op, int fd, ref EpollEvent ev);
    [DllImport("libc", SetLastError = true)] private static extern int epoll_wait(int epfd, [Out] EpollEvent[] events, int maxevents, int timeout);
    [DllImport("libc", SetLastError = true)] private static extern int close(int fd);
#pragma warning restore SYSLIB1054
}
