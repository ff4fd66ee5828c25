using System.Buffers;
using System.Diagnostics;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace RhaiiGke.Engine.Inference;

/// <summary>Receives a response as it arrives. Timestamps are Stopwatch ticks taken when the bytes were read.</summary>
internal interface IResponseSink
{
    /// <summary>Status line and headers have arrived.</summary>
    void OnHead(int status, string? contentType, string? pod, long timestamp);
    /// <summary>One complete SSE event's data (the text after "data:"), for event-stream bodies.</summary>
    void OnEvent(ReadOnlySpan<byte> data, long timestamp);
    /// <summary>The whole body, for other content types (or event streams when <see cref="WantsRawEvents"/> is false).</summary>
    void OnBody(ReadOnlySpan<byte> body, long timestamp);
}

/// <summary>A target endpoint parsed once: host, port, scheme and path prefix.</summary>
internal sealed class HttpTarget
{
    public HttpTarget(string baseUrl)
    {
        if (!Uri.TryCreate(baseUrl.Trim(), UriKind.Absolute, out var u) || (u.Scheme != "http" && u.Scheme != "https"))
            throw new RhaiiException("InvalidInferenceUrl", RhaiiErrorCategory.InvalidArgument, $"'{baseUrl}' is not an http or https URL.",
                "Give the endpoint's base URL, e.g. http://10.0.0.5:8000 or https://gateway.example.com/qwen.", baseUrl);
        Uri = u;
        Host = u.Host;
        Port = u.Port;
        (ConnectHost, ConnectPort) = RhaiiGke.Engine.Net.EndpointOverrides.Resolve(u.Host, u.Port);
        Tls = u.Scheme == "https";
        var path = u.AbsolutePath.TrimEnd('/');
        if (path.EndsWith("/v1", StringComparison.Ordinal)) path = path[..^3];
        PathPrefix = path;
        HostHeader = u.IsDefaultPort ? u.Host : $"{u.Host}:{u.Port}";
        BaseUrl = $"{u.Scheme}://{HostHeader}{PathPrefix}";
    }

    public Uri Uri { get; }
    public string Host { get; }
    public int Port { get; }
    /// <summary>Where to open the socket: Host:Port unless an in-process simulator serves that address (EndpointOverrides).</summary>
    public string ConnectHost { get; }
    public int ConnectPort { get; }
    public bool Tls { get; }
    public string PathPrefix { get; }
    public string HostHeader { get; }
    /// <summary>Normalized base URL without a trailing /v1.</summary>
    public string BaseUrl { get; }
    public bool SkipCertificateCheck { get; init; }
    public string? ApiKey { get; init; }

    /// <summary>A complete HTTP/1.1 request as bytes, ready to send many times.</summary>
    public byte[] BuildRequest(string method, string path, ReadOnlySpan<byte> body, bool streaming)
    {
        var sb = new StringBuilder(256);
        sb.Append(method).Append(' ').Append(PathPrefix).Append(path).Append(" HTTP/1.1\r\nHost: ").Append(HostHeader).Append("\r\n");
        sb.Append("User-Agent: RhaiiGke\r\n");
        if (streaming) sb.Append("Accept: text/event-stream\r\n");
        else sb.Append("Accept: application/json\r\n");
        if (!string.IsNullOrEmpty(ApiKey)) sb.Append("Authorization: Bearer ").Append(ApiKey).Append("\r\n");
        if (method == "POST") sb.Append("Content-Type: application/json\r\nContent-Length: ").Append(body.Length).Append("\r\n");
        sb.Append("\r\n");
        var head = Encoding.ASCII.GetBytes(sb.ToString());
        var all = new byte[head.Length + body.Length];
        head.CopyTo(all, 0);
        body.CopyTo(all.AsSpan(head.Length));
        return all;
    }
}

/// <summary>Thrown for transport problems; <see cref="Kind"/> becomes the benchmark's error type.</summary>
internal sealed class RawHttpException(string kind, string message, Exception? inner = null) : Exception(message, inner)
{
    public string Kind { get; } = kind;
}

/// <summary>
/// One keep-alive HTTP/1.1 connection on a raw socket, built for load generation: requests are
/// pre-encoded bytes, the response is parsed in place (chunked or Content-Length), SSE events are split
/// as bytes arrive and stamped with the read's time, and nothing is allocated per event.
/// </summary>
internal sealed class RawHttpConnection : IDisposable, System.Threading.Tasks.Sources.IValueTaskSource<bool>
{
    private readonly HttpTarget _target;
    private Socket? _socket;
    private Stream? _stream;
    private byte[] _buf = new byte[16 * 1024];
    private int _start, _end;
    private long _readAt;
    private readonly ArrayBufferWriter<byte> _body = new(4096);
    private readonly ArrayBufferWriter<byte> _event = new(1024);

    public RawHttpConnection(HttpTarget target) => _target = target;

    /// <summary>
    /// Synchronous socket calls on the caller's thread (a dedicated benchmark worker): no thread-pool hop
    /// between the kernel and the timestamp, and less CPU per request. Timeouts come from <see cref="Timeout"/>.
    /// </summary>
    public bool Blocking { get; init; }

    /// <summary>Send and receive timeout in blocking mode.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Event-loop mode: non-blocking socket, reads resumed inline by this loop's thread.</summary>
    public EpollLoop? Loop { get; init; }

    private System.Threading.Tasks.Sources.ManualResetValueTaskSourceCore<bool> _pending = new() { RunContinuationsAsynchronously = false };
    private int _slot = -1;
    private bool _epollAdded;
    /// <summary>Stopwatch time until which the armed read may wait (event-loop mode).</summary>
    public long Deadline;

    public bool Connected => _socket is { Connected: true };

    private async ValueTask ConnectAsync(CancellationToken ct)
    {
        Close();
        var s = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (Blocking || Loop is not null)
            {
                var ms = (int)Math.Clamp(Timeout.TotalMilliseconds, 1, int.MaxValue);
                s.ReceiveTimeout = ms;
                s.SendTimeout = ms;
                s.Connect(_target.ConnectHost, _target.ConnectPort);
            }
            else await s.ConnectAsync(_target.ConnectHost, _target.ConnectPort, ct).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            s.Dispose();
            throw new RawHttpException("connection", $"Cannot connect to {_target.HostHeader}: {ex.Message}", ex);
        }
        _socket = s;
        if (Loop is not null)
        {
            if (_target.Tls) throw new RawHttpException("protocol", "The event loop does not do TLS.");
            s.Blocking = false;
            _slot = Loop.Add(this);
            _epollAdded = false;
            _stream = null;
            _start = _end = 0;
            return;
        }
        Stream stream = new NetworkStream(s, ownsSocket: false);
        if (_target.Tls)
        {
            var ssl = new SslStream(stream, false, _target.SkipCertificateCheck ? (_, _, _, _) => true : null);
            if (Blocking) ssl.AuthenticateAsClient(new SslClientAuthenticationOptions { TargetHost = _target.Host });
            else await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = _target.Host }, ct).ConfigureAwait(false);
            stream = ssl;
        }
        _stream = stream;
        _start = _end = 0;
    }

    /// <summary>Sends one request and feeds the response to <paramref name="sink"/>. Reconnects once if a kept-alive connection was closed by the server.</summary>
    public async ValueTask SendAsync(byte[] request, IResponseSink sink, CancellationToken ct)
    {
        var reused = Connected;
        if (!reused) await ConnectAsync(ct).ConfigureAwait(false);
        try
        {
            await WriteAsync(request, ct).ConfigureAwait(false);
            if (!await ReadResponseAsync(sink, ct, allowEmpty: reused).ConfigureAwait(false))
            {
                // The server closed an idle keep-alive connection before answering: retry once on a new one.
                await ConnectAsync(ct).ConfigureAwait(false);
                await WriteAsync(request, ct).ConfigureAwait(false);
                await ReadResponseAsync(sink, ct, allowEmpty: false).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            Close();
            var timedOut = ex is SocketException { SocketErrorCode: SocketError.TimedOut } || ex.InnerException is SocketException { SocketErrorCode: SocketError.TimedOut };
            throw timedOut ? new RawHttpException("timeout", $"No complete answer within {Timeout.TotalSeconds:0.#} s.", ex)
                : new RawHttpException("connection", "Connection failed: " + ex.Message, ex);
        }
        catch
        {
            Close();
            throw;
        }
    }

    private ValueTask WriteAsync(byte[] request, CancellationToken ct)
    {
        if (Loop is not null)
        {
            var off = 0;
            while (off < request.Length)
            {
                var n = _socket!.Send(request.AsSpan(off), SocketFlags.None, out var err);
                if (err == SocketError.WouldBlock) { Thread.Yield(); continue; }
                if (err != SocketError.Success) throw new SocketException((int)err);
                off += n;
            }
            return ValueTask.CompletedTask;
        }
        if (!Blocking) return WriteSlowAsync(request, ct);
        if (_stream is NetworkStream)
        {
            var sent = 0;
            while (sent < request.Length) sent += _socket!.Send(request, sent, request.Length - sent, SocketFlags.None);
        }
        else _stream!.Write(request);
        return ValueTask.CompletedTask;
    }

    private async ValueTask WriteSlowAsync(byte[] request, CancellationToken ct)
    {
        if (_stream is NetworkStream) await _socket!.SendAsync(request, SocketFlags.None, ct).ConfigureAwait(false);
        else await _stream!.WriteAsync(request, ct).ConfigureAwait(false);
    }

    private ValueTask<bool> FillAsync(CancellationToken ct)
    {
        if (_start > 0 && _start == _end) _start = _end = 0;
        if (_end == _buf.Length)
        {
            if (_start > 0)
            {
                Buffer.BlockCopy(_buf, _start, _buf, 0, _end - _start);
                _end -= _start; _start = 0;
            }
            else Array.Resize(ref _buf, _buf.Length * 2);
        }
        if (Loop is not null)
        {
            var r = _socket!.Receive(_buf.AsSpan(_end), SocketFlags.None, out var err);
            if (err == SocketError.Success) return new ValueTask<bool>(Received(r));
            if (err != SocketError.WouldBlock) throw new SocketException((int)err);
            _pending.Reset();
            Deadline = Stopwatch.GetTimestamp() + (long)(Timeout.TotalSeconds * Stopwatch.Frequency);
            Loop.Arm(this, _slot, _socket, _epollAdded);
            _epollAdded = true;
            return new ValueTask<bool>(this, _pending.Version);
        }
        if (!Blocking) return ReceiveSlowAsync(ct);
        var n = _stream is NetworkStream ? _socket!.Receive(_buf, _end, _buf.Length - _end, SocketFlags.None) : _stream!.Read(_buf, _end, _buf.Length - _end);
        return new ValueTask<bool>(Received(n));
    }

    private async ValueTask<bool> ReceiveSlowAsync(CancellationToken ct)
    {
        var n = _stream is NetworkStream
            ? await _socket!.ReceiveAsync(_buf.AsMemory(_end), SocketFlags.None, ct).ConfigureAwait(false)
            : await _stream!.ReadAsync(_buf.AsMemory(_end), ct).ConfigureAwait(false);
        return Received(n);
    }

    private bool Received(int n)
    {
        _readAt = Stopwatch.GetTimestamp();
        if (n == 0) return false;
        _end += n;
        return true;
    }

    private async ValueTask<bool> ReadResponseAsync(IResponseSink sink, CancellationToken ct, bool allowEmpty)
    {
        int headerEnd;
        var first = true;
        while ((headerEnd = _buf.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (!await FillAsync(ct).ConfigureAwait(false))
            {
                if (first && allowEmpty && _end == _start) return false;
                throw new RawHttpException("connection", "The server closed the connection before sending a response.");
            }
            first = false;
        }
        var (status, contentType, pod, contentLength, chunked, close) = ParseHead(_buf.AsSpan(_start, headerEnd));
        if (status == 100)
        {
            _start += headerEnd + 4;
            return await ReadResponseAsync(sink, ct, false).ConfigureAwait(false);
        }
        sink.OnHead(status, contentType, pod, _readAt);
        _start += headerEnd + 4;
        var sse = contentType is not null && contentType.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase);
        _body.ResetWrittenCount();
        _event.ResetWrittenCount();
        if (chunked)
        {
            while (true)
            {
                int e;
                while ((e = _buf.AsSpan(_start, _end - _start).IndexOf("\r\n"u8)) < 0)
                    if (!await FillAsync(ct).ConfigureAwait(false)) throw new RawHttpException("stream_error", "The stream ended inside a chunk header.");
                var line = _buf.AsSpan(_start, e);
                var semi = line.IndexOf((byte)';');
                if (semi >= 0) line = line[..semi];
                if (!System.Buffers.Text.Utf8Parser.TryParse(line.Trim((byte)' '), out int size, out _, 'x'))
                    throw new RawHttpException("stream_error", "Malformed chunk size.");
                _start += e + 2;
                if (size == 0)
                {
                    while (true)
                    {
                        while ((e = _buf.AsSpan(_start, _end - _start).IndexOf("\r\n"u8)) < 0)
                            if (!await FillAsync(ct).ConfigureAwait(false)) throw new RawHttpException("stream_error", "The stream ended inside trailers.");
                        _start += e + 2;
                        if (e == 0) break;
                    }
                    break;
                }
                var remaining = size;
                while (remaining > 0)
                {
                    if (_end == _start && !await FillAsync(ct).ConfigureAwait(false)) throw new RawHttpException("stream_error", "The stream ended inside a chunk.");
                    var take = Math.Min(remaining, _end - _start);
                    Consume(_buf.AsSpan(_start, take), sse, sink);
                    _start += take;
                    remaining -= take;
                }
                while (_end - _start < 2)
                    if (!await FillAsync(ct).ConfigureAwait(false)) throw new RawHttpException("stream_error", "The stream ended after a chunk.");
                _start += 2;
            }
        }
        else if (contentLength >= 0)
        {
            var remaining = contentLength;
            while (remaining > 0)
            {
                if (_end == _start && !await FillAsync(ct).ConfigureAwait(false)) throw new RawHttpException("stream_error", "The body ended early.");
                var take = (int)Math.Min(remaining, _end - _start);
                Consume(_buf.AsSpan(_start, take), sse, sink);
                _start += take;
                remaining -= take;
            }
        }
        else
        {
            // No length: the body runs to the end of the connection.
            while (true)
            {
                if (_end > _start)
                {
                    Consume(_buf.AsSpan(_start, _end - _start), sse, sink);
                    _start = _end;
                }
                if (!await FillAsync(ct).ConfigureAwait(false)) break;
            }
            close = true;
        }
        if (sse)
        {
            if (_event.WrittenCount > 0) EmitEvents(sink, final: true);
        }
        else sink.OnBody(_body.WrittenSpan, _readAt);
        if (close) Close();
        return true;
    }

    private void Consume(ReadOnlySpan<byte> data, bool sse, IResponseSink sink)
    {
        if (!sse)
        {
            _body.Write(data);
            return;
        }
        _event.Write(data);
        EmitEvents(sink, final: false);
    }

    /// <summary>Splits the pending event bytes on blank lines and hands each event's data to the sink.</summary>
    private void EmitEvents(IResponseSink sink, bool final)
    {
        var span = _event.WrittenSpan;
        var consumed = 0;
        while (true)
        {
            var rest = span[consumed..];
            var end = rest.IndexOf("\n\n"u8);
            var sepLen = 2;
            var crlf = rest.IndexOf("\r\n\r\n"u8);
            if (crlf >= 0 && (end < 0 || crlf < end)) { end = crlf; sepLen = 4; }
            if (end < 0)
            {
                if (final && !rest.IsEmpty) { DispatchEvent(rest, sink); consumed = span.Length; }
                break;
            }
            DispatchEvent(rest[..end], sink);
            consumed += end + sepLen;
        }
        if (consumed == 0) return;
        if (consumed == span.Length) { _event.ResetWrittenCount(); return; }
        var left = span[consumed..].ToArray();
        _event.ResetWrittenCount();
        _event.Write(left);
    }

    private void DispatchEvent(ReadOnlySpan<byte> ev, IResponseSink sink)
    {
        // An event is lines; "data:" lines are joined with \n, ":" comments and other fields are ignored.
        Span<byte> joined = stackalloc byte[0];
        byte[]? rented = null;
        var dataCount = 0;
        ReadOnlySpan<byte> single = default;
        var rest = ev;
        while (!rest.IsEmpty)
        {
            var nl = rest.IndexOf((byte)'\n');
            var line = nl < 0 ? rest : rest[..nl];
            rest = nl < 0 ? [] : rest[(nl + 1)..];
            if (!line.IsEmpty && line[^1] == '\r') line = line[..^1];
            if (!line.StartsWith("data:"u8)) continue;
            var data = line[5..];
            if (!data.IsEmpty && data[0] == ' ') data = data[1..];
            if (dataCount == 0) single = data;
            else
            {
                rented ??= ArrayPool<byte>.Shared.Rent(ev.Length);
                if (dataCount == 1) { single.CopyTo(rented); joined = rented.AsSpan(0, single.Length); }
                var len = joined.Length;
                rented[len] = (byte)'\n';
                data.CopyTo(rented.AsSpan(len + 1));
                joined = rented.AsSpan(0, len + 1 + data.Length);
            }
            dataCount++;
        }
        if (dataCount == 1) sink.OnEvent(single, _readAt);
        else if (dataCount > 1) sink.OnEvent(joined, _readAt);
        if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
    }

    private static (int Status, string? ContentType, string? Pod, long ContentLength, bool Chunked, bool Close) ParseHead(ReadOnlySpan<byte> head)
    {
        var lineEnd = head.IndexOf("\r\n"u8);
        var statusLine = lineEnd < 0 ? head : head[..lineEnd];
        var sp = statusLine.IndexOf((byte)' ');
        if (sp < 0 || statusLine.Length < sp + 4 || !System.Buffers.Text.Utf8Parser.TryParse(statusLine.Slice(sp + 1, 3), out int status, out _))
            throw new RawHttpException("protocol", "Malformed HTTP status line.");
        var http10 = statusLine.StartsWith("HTTP/1.0"u8);
        string? contentType = null, pod = null;
        long contentLength = -1;
        bool chunked = false, close = http10;
        var rest = lineEnd < 0 ? [] : head[(lineEnd + 2)..];
        while (!rest.IsEmpty)
        {
            var e = rest.IndexOf("\r\n"u8);
            var line = e < 0 ? rest : rest[..e];
            rest = e < 0 ? [] : rest[(e + 2)..];
            var colon = line.IndexOf((byte)':');
            if (colon <= 0) continue;
            var name = line[..colon];
            var value = line[(colon + 1)..].Trim((byte)' ');
            if (Ascii.EqualsIgnoreCase(name, "content-length"u8)) System.Buffers.Text.Utf8Parser.TryParse(value, out contentLength, out _);
            else if (Ascii.EqualsIgnoreCase(name, "content-type"u8)) contentType = Encoding.ASCII.GetString(value);
            else if (Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8)) chunked = value.IndexOf("chunked"u8) >= 0;
            else if (Ascii.EqualsIgnoreCase(name, "x-inference-pod"u8)) pod = Encoding.ASCII.GetString(value);
            else if (Ascii.EqualsIgnoreCase(name, "connection"u8))
            {
                if (Ascii.EqualsIgnoreCase(value, "close"u8)) close = true;
                else if (Ascii.EqualsIgnoreCase(value, "keep-alive"u8)) close = false;
            }
        }
        if (status is 204 or 304 || status < 200) contentLength = 0;
        return (status, contentType, pod, contentLength, chunked, close);
    }

    /// <summary>Called by the loop when the socket is readable: reads and resumes the waiting parser inline.</summary>
    internal void OnReadable()
    {
        if (_socket is null) return;
        int n;
        SocketError err;
        try { n = _socket.Receive(_buf.AsSpan(_end), SocketFlags.None, out err); }
        catch (Exception ex) { _pending.SetException(ex); return; }
        if (err == SocketError.WouldBlock)
        {
            Loop!.Arm(this, _slot, _socket, _epollAdded);
            return;
        }
        if (err != SocketError.Success) { _pending.SetException(new SocketException((int)err)); return; }
        _pending.SetResult(Received(n));
    }

    /// <summary>Fails the waiting read (timeout or cancellation), from the loop thread.</summary>
    internal void FailPending(Exception ex)
    {
        Close();
        _pending.SetException(ex);
    }

    bool System.Threading.Tasks.Sources.IValueTaskSource<bool>.GetResult(short token) => _pending.GetResult(token);
    System.Threading.Tasks.Sources.ValueTaskSourceStatus System.Threading.Tasks.Sources.IValueTaskSource<bool>.GetStatus(short token) => _pending.GetStatus(token);
    void System.Threading.Tasks.Sources.IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, System.Threading.Tasks.Sources.ValueTaskSourceOnCompletedFlags flags) =>
        _pending.OnCompleted(continuation, state, token, System.Threading.Tasks.Sources.ValueTaskSourceOnCompletedFlags.None);

    public void Close()
    {
        Loop?.Remove(_slot);
        _slot = -1;
        try { _stream?.Dispose(); } catch { }
        try { _socket?.Dispose(); } catch { }
        _stream = null;
        _socket = null;
        _start = _end = 0;
    }

    public void Dispose() => Close();
}
