using System.Runtime.CompilerServices;
using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;

namespace RhaiiGke.Engine.Inference;

/// <summary>
/// A keep-alive HTTP/1.1 connection driven by an <see cref="EpollLoop"/> (plain http only), written as
/// an explicit state machine instead of async methods: <see cref="Start"/> sends a pre-encoded request,
/// every readable event does one recv and advances the response parser, and <see cref="Done"/> is
/// called inline when the response is complete or failed. Per request: one send, one recv (for answers
/// that fit one read), no epoll_ctl, no allocation, no thread switch. Bodies with a Content-Length are
/// handed to the sink straight from the receive buffer.
/// The per-request methods here and in the code they call (parser, observer, recorder, accumulator) are
/// compiled fully optimized on first use (AggressiveOptimization): with tiered compilation they ran as
/// tier-0 code through the first runs of a session and were recompiled on a background thread during a
/// later measured stage, measured at up to 1 s of JIT CPU next to the load generator.
/// </summary>
internal sealed class LoopHttpConnection : ILoopHandler, IDisposable
{
    private enum Phase { Idle, Head, Length, ChunkSize, ChunkData, ChunkEnd, Trailers, ToEof }

    private readonly HttpTarget _target;
    private readonly EpollLoop _loop;
    private readonly int _slot;
    private readonly long _timeoutTicks;
    private Socket? _socket;
    private int _fd = -1;
    // Receive and send buffers are pinned (EpollLoop passes their addresses to recv/send without marshalling).
    // _buf is what the parser reads: the loop's shared receive buffer during a read that began with nothing
    // left over, otherwise _own, which holds the bytes of an unfinished answer between reads.
    private byte[] _own = [];
    private byte[] _buf = [];
    private byte[] _sendBuf = GC.AllocateUninitializedArray<byte>(1024, pinned: true);
    private byte[]? _copied;
    private int _start, _end;
    private readonly HeadStrings _strings = new();
    private readonly SseSplitter _sse = new();
    private readonly ArrayBufferWriter<byte> _body = new(4096);

    private byte[] _request = [];
    private int _sent;
    private IResponseSink _sink = null!;
    // The benchmark's sink, called directly (no interface dispatch per response); null for other sinks.
    private CompletionObserver? _observer;
    private Phase _phase;
    private long _remaining;
    private bool _sseBody, _closeAfter, _reused, _retried, _gotBytes, _wantWrite;
    private long _readAt, _startedAt;
    // Kernel receive timestamps (EpollLoop.ReceiveStamped) on this connection's socket.
    private readonly EpollLoop.MessageHeader? _msg = KernelTimestamps ? new() : null;
    private bool _stamped;

    /// <summary>
    /// Reads are timed by the kernel's receive timestamp (SO_TIMESTAMPNS) rather than by when epoll_wait
    /// returned; RHAII_BENCH_KERNEL_TIMESTAMPS=0 turns it off (for comparisons).
    /// </summary>
    internal static bool KernelTimestamps { get; set; } = Environment.GetEnvironmentVariable("RHAII_BENCH_KERNEL_TIMESTAMPS") != "0";

    public LoopHttpConnection(HttpTarget target, EpollLoop loop, TimeSpan timeout)
    {
        if (target.Tls) throw new RawHttpException("protocol", "The event loop does not do TLS.");
        _target = target;
        _loop = loop;
        _slot = loop.Register(this);
        Timeout = timeout;
        _timeoutTicks = (long)(timeout.TotalSeconds * Stopwatch.Frequency);
    }

    public TimeSpan Timeout { get; }

    /// <summary>Called when the response is complete (null) or failed (a <see cref="RawHttpException"/>).</summary>
    public Action<RawHttpException?>? Done { get; set; }

    /// <summary>
    /// The last read carried the kernel's receive time. Not every one does: the kernel turns receive timestamps
    /// on for the whole machine shortly after the first socket asks (a deferred static-key flip), so the first
    /// answers after the first benchmark connections of a process may come without one: those reads are timed
    /// when epoll_wait returned.
    /// </summary>
    internal bool LastReadStamped { get; private set; }

    /// <summary>Bytes received and not yet read (for tests).</summary>
    internal int Available => _socket?.Available ?? 0;

    /// <summary>A request is in flight.</summary>
    public bool Busy => _phase != Phase.Idle;

    /// <summary>Stopwatch time by which the answer must be complete.</summary>
    public long Deadline { get; private set; }

    /// <summary>
    /// Sends <paramref name="request"/> and parses the answer into <paramref name="sink"/> as it arrives.
    /// Returns an error when the request could not even be sent (then <see cref="Done"/> is not called).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public RawHttpException? Start(byte[] request, IResponseSink sink)
    {
        _request = request;
        if (!ReferenceEquals(request, _copied))
        {
            // The runner reuses a few request arrays: copied into the pinned send buffer when another one comes.
            if (_sendBuf.Length < request.Length) _sendBuf = GC.AllocateUninitializedArray<byte>(request.Length, pinned: true);
            request.CopyTo(_sendBuf, 0);
            _copied = request;
        }
        _sink = sink;
        _observer = sink as CompletionObserver;
        _retried = false;
        _startedAt = Stopwatch.GetTimestamp();
        Deadline = _startedAt + _timeoutTicks;
        return Begin();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private RawHttpException? Begin()
    {
        _reused = _fd >= 0;
        if (!_reused && Connect() is { } connectError) return connectError;
        _phase = Phase.Head;
        _gotBytes = false;
        _sent = 0;
        _body.ResetWrittenCount();
        _sse.Reset();
        if (SendMore() is not { } sendError) return null;
        Close();
        if (_reused && !_retried)
        {
            // A kept-alive connection the server had already closed: once more on a new one.
            _retried = true;
            return Begin();
        }
        _phase = Phase.Idle;
        return sendError;
    }

    private RawHttpException? Connect()
    {
        var s = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            s.Connect(_target.ConnectHost, _target.ConnectPort);
            s.Blocking = false;
        }
        catch (SocketException ex)
        {
            s.Dispose();
            return new RawHttpException("connection", $"Cannot connect to {_target.HostHeader}: {ex.Message}", ex);
        }
        _socket = s;
        _fd = (int)s.Handle;
        _start = _end = 0;
        _wantWrite = false;
        _stamped = _msg is not null && EpollLoop.EnableReceiveTimestamps(_fd);
        _loop.Add(_fd, _slot);
        return null;
    }

    /// <summary>Sends what is left of the request; waits for writability when the socket buffer is full.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private RawHttpException? SendMore()
    {
        while (_sent < _request.Length)
        {
            var n = EpollLoop.Send(_fd, _sendBuf, _sent, _request.Length - _sent, out var errno);
            if (n >= 0) { _sent += n; continue; }
            if (errno == EpollLoop.EINTR) continue;
            if (errno == EpollLoop.EAGAIN)
            {
                if (!_wantWrite) { _wantWrite = true; _loop.Modify(_fd, _slot, write: true); }
                return null;
            }
            return new RawHttpException("connection", "Connection failed: " + EpollLoop.Describe(errno));
        }
        if (_wantWrite) { _wantWrite = false; _loop.Modify(_fd, _slot, write: false); }
        return null;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void OnEvents(int events, long at)
    {
        if (_fd < 0) return;
        if (_phase == Phase.Idle)
        {
            // Nothing is expected: the server closed the idle connection (or sent stray bytes). Forget it.
            Close();
            return;
        }
        if (_wantWrite && (events & EpollLoop.EPOLLOUT) != 0 && SendMore() is { } sendError)
        {
            Fail(sendError);
            return;
        }
        if ((events & (EpollLoop.EPOLLIN | EpollLoop.EPOLLERR | EpollLoop.EPOLLHUP)) != 0) Read(at);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Read(long at)
    {
        if (_start == _end)
        {
            _buf = _loop.ReceiveBuffer;
            _start = _end = 0;
        }
        else
        {
            _buf = _own;
            if (_end == _buf.Length) MakeRoom(Math.Max(_buf.Length * 2L, 4096));
        }
        try { ReadInto(at); }
        finally
        {
            // Whatever is left of an unfinished answer moves out of the shared buffer before another connection reads.
            if (_start < _end && ReferenceEquals(_buf, _loop.ReceiveBuffer)) MakeRoom(0);
            if (_start == _end) _start = _end = 0;
            _buf = _own;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ReadInto(long at)
    {
        int n, errno;
        LastReadStamped = false;
        if (_stamped)
        {
            n = EpollLoop.ReceiveStamped(_fd, _msg!, _buf, _end, _buf.Length - _end, out errno, out var realtimeNs);
            if (realtimeNs != 0)
            {
                // When the bytes came: no later than epoll_wait saw them, no earlier than the request was sent
                // or than this answer's previous read (so that no gap between two chunks is negative).
                var k = EpollLoop.ToStopwatch(realtimeNs, _loop.ClockOffset);
                var floor = _readAt > _startedAt ? _readAt : _startedAt;
                k = k > at ? at : k < floor ? floor : k;
                _loop.Late(at - k);
                at = k;
                LastReadStamped = true;
            }
        }
        else n = EpollLoop.Receive(_fd, _buf, _end, _buf.Length - _end, out errno);
        _readAt = at;
        if (n < 0)
        {
            if (errno is EpollLoop.EAGAIN or EpollLoop.EINTR) return;
            Fail(new RawHttpException("connection", "Connection failed: " + EpollLoop.Describe(errno)));
            return;
        }
        if (n == 0)
        {
            AtEndOfStream();
            return;
        }
        _end += n;
        _gotBytes = true;
        try { Advance(); }
        catch (RawHttpException e) { Fail(e); }
    }

    /// <summary>
    /// Moves the unread bytes to the front of the connection's own buffer (out of the shared one), grown when it
    /// cannot hold <paramref name="size"/> bytes from the front.
    /// </summary>
    private void MakeRoom(long size)
    {
        if (size > int.MaxValue / 2) throw new RawHttpException("protocol", "The response is too large.");
        var length = _end - _start;
        var need = Math.Max(size, length);
        var target = _own;
        if (target.Length < need)
            target = GC.AllocateUninitializedArray<byte>((int)Math.Max(Math.Max(need, _own.Length * 2L), 4096), pinned: true);
        if (length > 0 && (!ReferenceEquals(_buf, target) || _start > 0)) Buffer.BlockCopy(_buf, _start, target, 0, length);
        _own = target;
        _buf = target;
        _start = 0;
        _end = length;
    }

    /// <summary>Parses as far as the buffered bytes allow.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Advance()
    {
        while (true)
        {
            switch (_phase)
            {
                case Phase.Head:
                {
                    var headerEnd = _buf.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8);
                    if (headerEnd < 0) return;
                    var h = HttpHead.Parse(_buf.AsSpan(_start, headerEnd), _strings);
                    _start += headerEnd + 4;
                    if (h.Status == 100) continue;
                    if (_observer is { } o) o.OnHead(h.Status, h.ContentType, h.Pod, _readAt);
                    else _sink.OnHead(h.Status, h.ContentType, h.Pod, _readAt);
                    _sseBody = h.EventStream;
                    _closeAfter = h.Close;
                    if (h.Chunked) _phase = Phase.ChunkSize;
                    else if (h.ContentLength >= 0) { _phase = Phase.Length; _remaining = h.ContentLength; }
                    else { _phase = Phase.ToEof; _closeAfter = true; }
                    continue;
                }
                case Phase.Length:
                {
                    var available = _end - _start;
                    if (!_sseBody)
                    {
                        // The usual case: the whole body is in the buffer, so the sink reads it in place.
                        if (available < _remaining)
                        {
                            if (_buf.Length - _start < _remaining) MakeRoom(_remaining);
                            return;
                        }
                        var body = _buf.AsSpan(_start, (int)_remaining);
                        _start += (int)_remaining;
                        if (_observer is { } ob) ob.OnBody(body, _readAt);
                        else _sink.OnBody(body, _readAt);
                        Complete(bodyDelivered: true);
                        return;
                    }
                    var take = (int)Math.Min(_remaining, available);
                    _sse.Push(_buf.AsSpan(_start, take), _sink, _readAt);
                    _start += take;
                    _remaining -= take;
                    if (_remaining > 0) return;
                    Complete(bodyDelivered: false);
                    return;
                }
                case Phase.ChunkSize:
                {
                    var e = _buf.AsSpan(_start, _end - _start).IndexOf("\r\n"u8);
                    if (e < 0) return;
                    var size = HttpLines.ChunkSize(_buf.AsSpan(_start, e));
                    if (size < 0) throw new RawHttpException("stream_error", "Malformed chunk size.");
                    _start += e + 2;
                    if (size == 0) _phase = Phase.Trailers;
                    else { _phase = Phase.ChunkData; _remaining = size; }
                    continue;
                }
                case Phase.ChunkData:
                {
                    var take = (int)Math.Min(_remaining, _end - _start);
                    if (take == 0) return;
                    Consume(_buf.AsSpan(_start, take));
                    _start += take;
                    _remaining -= take;
                    if (_remaining > 0) return;
                    _phase = Phase.ChunkEnd;
                    continue;
                }
                case Phase.ChunkEnd:
                    if (_end - _start < 2) return;
                    _start += 2;
                    _phase = Phase.ChunkSize;
                    continue;
                case Phase.Trailers:
                {
                    var e = _buf.AsSpan(_start, _end - _start).IndexOf("\r\n"u8);
                    if (e < 0) return;
                    _start += e + 2;
                    if (e == 0)
                    {
                        Complete(bodyDelivered: false);
                        return;
                    }
                    continue;
                }
                case Phase.ToEof:
                    if (_end > _start)
                    {
                        Consume(_buf.AsSpan(_start, _end - _start));
                        _start = _end;
                    }
                    return;
                default:
                    return;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Consume(ReadOnlySpan<byte> data)
    {
        if (_sseBody) _sse.Push(data, _sink, _readAt);
        else _body.Write(data);
    }

    private void AtEndOfStream()
    {
        switch (_phase)
        {
            case Phase.ToEof:
                Complete(bodyDelivered: false);
                return;
            case Phase.Head when !_gotBytes && _reused && !_retried:
            {
                // The server closed an idle keep-alive connection before answering: retry once on a new one.
                _retried = true;
                Close();
                if (Begin() is { } e) Finish(e);
                return;
            }
            case Phase.Head:
                Fail(new RawHttpException("connection", "The server closed the connection before sending a response."));
                return;
            case Phase.Length:
                Fail(new RawHttpException("stream_error", "The body ended early."));
                return;
            case Phase.Trailers:
                Fail(new RawHttpException("stream_error", "The stream ended inside trailers."));
                return;
            default:
                Fail(new RawHttpException("stream_error", "The stream ended inside a chunk."));
                return;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Complete(bool bodyDelivered)
    {
        if (_sseBody) _sse.Flush(_sink, _readAt);
        else if (!bodyDelivered) _sink.OnBody(_body.WrittenSpan, _readAt);
        if (_closeAfter) Close();
        Finish(null);
    }

    private void Fail(RawHttpException e)
    {
        Close();
        Finish(e);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Finish(RawHttpException? e)
    {
        _phase = Phase.Idle;
        Done?.Invoke(e);
    }

    /// <summary>Fails the request in flight (timeout), from the loop thread.</summary>
    public void Abort(RawHttpException e)
    {
        if (_phase == Phase.Idle) return;
        Fail(e);
    }

    /// <summary>Drops the request in flight without reporting it (cancellation).</summary>
    public void Cancel()
    {
        Close();
        _phase = Phase.Idle;
    }

    public void Close()
    {
        if (_fd >= 0) _loop.Delete(_fd);
        _fd = -1;
        _wantWrite = false;
        try { _socket?.Dispose(); } catch { }
        _socket = null;
        _start = _end = 0;
    }

    public void Dispose() => Close();
}
