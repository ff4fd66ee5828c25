using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace RhaiiGke.Engine.Inference;

/// <summary>Something registered with an <see cref="EpollLoop"/>: told which events fired for its file descriptor.</summary>
internal interface ILoopHandler
{
    /// <summary><paramref name="at"/>: Stopwatch time epoll_wait returned (the bytes of a readable socket were there by then).</summary>
    void OnEvents(int events, long at);
}

/// <summary>
/// A single-threaded event loop over Linux epoll for benchmark connections, the way wrk works: one
/// thread serves many keep-alive connections and runs each one's continuation (parse, record, send the
/// next request) inline, with no thread switch per response. Sockets are registered once, level
/// triggered, for as long as they are open, so a request costs one send, one recv and a share of an
/// epoll_wait: no epoll_ctl per request. Only on Linux x64; elsewhere the runner uses blocking threads.
/// </summary>
internal sealed class EpollLoop : IDisposable
{
    public const int EPOLLIN = 0x001, EPOLLOUT = 0x004, EPOLLERR = 0x008, EPOLLHUP = 0x010;
    private const int EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLL_CTL_MOD = 3;
    private readonly int _epfd;
    private readonly List<ILoopHandler> _handlers = [];

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

    /// <summary>Gives a handler its slot (the epoll user data of every descriptor it registers).</summary>
    public int Register(ILoopHandler h)
    {
        _handlers.Add(h);
        return _handlers.Count - 1;
    }

    /// <summary>Watches <paramref name="fd"/> for input (and output when <paramref name="write"/>), level triggered.</summary>
    public void Add(int fd, int slot, bool write = false) => Control(EPOLL_CTL_ADD, fd, slot, write);

    public void Modify(int fd, int slot, bool write) => Control(EPOLL_CTL_MOD, fd, slot, write);

    /// <summary>Stops watching <paramref name="fd"/> (before it is closed).</summary>
    public void Delete(int fd)
    {
        var ev = default(EpollEvent);
        _ = epoll_ctl(_epfd, EPOLL_CTL_DEL, fd, ref ev);
    }

    private void Control(int op, int fd, int slot, bool write)
    {
        var ev = new EpollEvent { Events = EPOLLIN | (write ? EPOLLOUT : 0), Data = (ulong)slot };
        if (epoll_ctl(_epfd, op, fd, ref ev) != 0)
            throw new IOException("epoll_ctl failed: " + Marshal.GetLastPInvokeError());
    }

    /// <summary>Runs until <paramref name="done"/> says stop; calls <paramref name="tick"/> about every 50 ms (timeouts, cancellation).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run(Func<bool> done, Action tick)
    {
        // Pinned for good, so that epoll_wait takes its address without a marshalling stub.
        var events = GC.AllocateArray<EpollEvent>(256, pinned: true);
        var eventsAt = Marshal.UnsafeAddrOfPinnedArrayElement(events, 0);
        var lastTick = Environment.TickCount64;
        while (!done())
        {
            var n = epoll_wait(_epfd, eventsAt, events.Length, 50);
            // One timestamp per batch, taken as epoll_wait returns: every socket it reports had its bytes by
            // then, so a socket handled late in a busy batch is not stamped later than its data arrived.
            var at = n > 0 ? Stopwatch.GetTimestamp() : 0;
            for (var i = 0; i < n; i++)
            {
                var slot = (int)events[i].Data;
                if (slot >= _handlers.Count) continue;
                // The benchmark's connections are the only handlers: a direct call instead of interface dispatch.
                var h = _handlers[slot];
                if (h is LoopHttpConnection c) c.OnEvents(events[i].Events, at);
                else h.OnEvents(events[i].Events, at);
            }
            var now = Environment.TickCount64;
            if (now - lastTick >= 50)
            {
                lastTick = now;
                tick();
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

    // Raw socket calls on a non-blocking descriptor: cheaper than Socket.Send/Receive, and errno tells
    // EAGAIN apart from a failure without an exception.
    public const int EAGAIN = 11, EINTR = 4;
    private const int MSG_NOSIGNAL = 0x4000;

    /// <summary>
    /// send(2) from a pinned array (<see cref="GC.AllocateArray{T}(int, bool)"/> with pinned: true); bytes
    /// sent, or -1 with <paramref name="errno"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int Send(int fd, byte[] pinned, int offset, int count, out int errno)
    {
        var n = send(fd, Marshal.UnsafeAddrOfPinnedArrayElement(pinned, offset), count, MSG_NOSIGNAL);
        errno = n < 0 ? Marshal.GetLastSystemError() : 0;
        return (int)n;
    }

    /// <summary>recv(2) into a pinned array; bytes read (0 at end of stream), or -1 with <paramref name="errno"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int Receive(int fd, byte[] pinned, int offset, int count, out int errno)
    {
        var n = recv(fd, Marshal.UnsafeAddrOfPinnedArrayElement(pinned, offset), count, 0);
        errno = n < 0 ? Marshal.GetLastSystemError() : 0;
        return (int)n;
    }

    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);

#pragma warning disable SYSLIB1054
    [DllImport("libc", SetLastError = true)] private static extern int epoll_create1(int flags);
    [DllImport("libc", SetLastError = true)] private static extern int epoll_ctl(int epfd, int op, int fd, ref EpollEvent ev);
    [DllImport("libc")] private static extern int epoll_wait(int epfd, nint events, int maxevents, int timeout);
    [DllImport("libc", SetLastError = true)] private static extern int close(int fd);
    // send and recv run on non-blocking sockets, so they never wait: called without the GC transition, and
    // with plain addresses of pinned arrays and no SetLastError, so that no marshalling stub runs (errno is
    // read straight after a failure). The stub was about 1.5% of the client's CPU samples in a profile of
    // the non-streaming loop.
    [DllImport("libc"), SuppressGCTransition] private static extern nint send(int fd, nint buf, nint len, int flags);
    [DllImport("libc"), SuppressGCTransition] private static extern nint recv(int fd, nint buf, nint len, int flags);
#pragma warning restore SYSLIB1054
}
