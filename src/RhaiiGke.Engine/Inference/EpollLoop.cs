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

    /// <summary>
    /// The loop's receive buffer, pinned: a connection with nothing left over from its last read reads into it
    /// and parses the answer in place, and keeps only an unfinished answer's bytes in a buffer of its own (as wrk
    /// reads into one buffer on its stack). With a 16 KB buffer per connection every read wrote to other cache
    /// lines: at 512 connections about 2 MB of them in use, more than a core's L2 here. Measured with the shared
    /// set of remembered chunk shapes (CompletionObserver), at 512 connections against nginx: about 5 % more
    /// requests/s and 1-3 µs less CPU per request; at 64 connections no change beyond the noise.
    /// </summary>
    public readonly byte[] ReceiveBuffer = GC.AllocateUninitializedArray<byte>(64 * 1024, pinned: true);

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

    /// <summary>Reads timed by the kernel, and how much later than their bytes' arrival the loop got to them (Stopwatch ticks).</summary>
    public long StampedReads, LateTicks, MaxLateTicks;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Late(long ticks)
    {
        StampedReads++;
        LateTicks += ticks;
        if (ticks > MaxLateTicks) MaxLateTicks = ticks;
    }

    /// <summary>See <see cref="RealtimeToStopwatchOffset"/>: read when the loop starts and on every tick.</summary>
    public long ClockOffset { get; private set; } = RealtimeToStopwatchOffset();

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
                // Kept unless read in a narrow bracket: a preempted read would move every stamp after it.
                var offset = RealtimeToStopwatchOffset(out var width);
                if (width <= Stopwatch.Frequency / 50_000) ClockOffset = offset;
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

    // ---- Kernel receive timestamps (SO_TIMESTAMPNS) ------------------------------------------------------
    // The kernel stamps every segment as it arrives (on loopback: as the server sends it), and recvmsg hands
    // the stamp of the last segment read back with the bytes. A read is then timed when its bytes came, not
    // when this thread got round to them: a loop that serves many streams, or that the scheduler leaves
    // waiting on a busy machine, still times every chunk at its arrival.
    private const int SOL_SOCKET = 1, SO_TIMESTAMPNS = 35, SCM_TIMESTAMPNS = SO_TIMESTAMPNS;

    /// <summary>Asks the kernel to stamp what <paramref name="fd"/> receives (see <see cref="ReceiveStamped"/>).</summary>
    public static bool EnableReceiveTimestamps(int fd)
    {
        var one = 1;
        return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, ref one, sizeof(int)) == 0;
    }

    /// <summary>
    /// A struct msghdr with one iovec and room for one control message, in a pinned array (one per
    /// connection): recvmsg is called with its address and nothing is marshalled.
    /// </summary>
    internal sealed class MessageHeader
    {
        // longs: [0..6] msghdr (name, namelen, iov, iovlen, control, controllen, flags), [7..8] iovec, [9..16] control.
        public readonly long[] Words = GC.AllocateArray<long>(17, pinned: true);
        public readonly nint Address;

        public MessageHeader()
        {
            Address = Marshal.UnsafeAddrOfPinnedArrayElement(Words, 0);
            Words[2] = Address + 7 * sizeof(long);
            Words[3] = 1;
            Words[4] = Address + 9 * sizeof(long);
        }
    }

    /// <summary>
    /// recvmsg(2) into a pinned array; bytes read (0 at end of stream) or -1 with <paramref name="errno"/>, and in
    /// <paramref name="realtimeNs"/> the kernel's receive time of the bytes (CLOCK_REALTIME, ns), 0 when it gave none.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int ReceiveStamped(int fd, MessageHeader h, byte[] pinned, int offset, int count, out int errno, out long realtimeNs)
    {
        var w = h.Words;
        w[5] = 8 * sizeof(long);
        w[6] = 0;
        w[7] = Marshal.UnsafeAddrOfPinnedArrayElement(pinned, offset);
        w[8] = count;
        var n = recvmsg(fd, h.Address, 0);
        realtimeNs = 0;
        if (n < 0)
        {
            errno = Marshal.GetLastSystemError();
            return -1;
        }
        errno = 0;
        // One struct cmsghdr { size_t len; int level; int type; } and its struct timespec, when the kernel sent it.
        if (w[5] >= 4 * sizeof(long) && w[9] >= 4 * sizeof(long) && w[10] == ((long)SCM_TIMESTAMPNS << 32 | SOL_SOCKET))
            realtimeNs = w[11] * 1_000_000_000L + w[12];
        return (int)n;
    }

    /// <summary>
    /// Stopwatch ticks at CLOCK_REALTIME zero: added to a kernel receive time (realtime ns) it gives the
    /// Stopwatch time of that instant. Read again from time to time (a clock step moves it).
    /// </summary>
    public static long RealtimeToStopwatchOffset() => RealtimeToStopwatchOffset(out _);

    /// <summary>The offset, and the width of the bracket it was read in (its uncertainty is half of that).</summary>
    public static long RealtimeToStopwatchOffset(out long widthTicks)
    {
        var best = long.MaxValue;
        var offset = 0L;
        var ts = new TimeSpec();
        var narrow = Stopwatch.Frequency / 200_000; // 5 us
        // The narrowest of a few brackets: the realtime read sits between two Stopwatch reads (a thread
        // preempted in between widens one; a narrow one is kept).
        for (var i = 0; i < 8 && (i < 3 || best > narrow); i++)
        {
            var a = Stopwatch.GetTimestamp();
            if (clock_gettime(0 /* CLOCK_REALTIME */, ref ts) != 0) break;
            var b = Stopwatch.GetTimestamp();
            if (b - a >= best) continue;
            best = b - a;
            var realTicks = Stopwatch.Frequency == 1_000_000_000 ? ts.Seconds * 1_000_000_000L + ts.Nanoseconds
                : (long)((ts.Seconds * 1_000_000_000.0 + ts.Nanoseconds) * (Stopwatch.Frequency / 1e9));
            offset = a + (b - a) / 2 - realTicks;
        }
        widthTicks = best;
        return offset;
    }

    /// <summary>A kernel receive time (realtime ns) as a Stopwatch timestamp, given <see cref="RealtimeToStopwatchOffset"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long ToStopwatch(long realtimeNs, long offset) =>
        (Stopwatch.Frequency == 1_000_000_000 ? realtimeNs : (long)(realtimeNs * (Stopwatch.Frequency / 1e9))) + offset;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

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
    [DllImport("libc"), SuppressGCTransition] private static extern nint recvmsg(int fd, nint msg, int flags);
    [DllImport("libc", SetLastError = true)] private static extern int setsockopt(int fd, int level, int name, ref int value, int len);
    [DllImport("libc")] private static extern int clock_gettime(int clock, ref TimeSpec ts);
#pragma warning restore SYSLIB1054
}
