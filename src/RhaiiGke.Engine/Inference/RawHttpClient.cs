using System.Buffers;
using System.Diagnostics;
using System.Net.Security;
using System.Net.Sockets;
using System.Security;
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
        (ConnectHost, ConnectPort) = RhaiiGke.EndpointOverrides.Resolve(u.Host, u.Port);
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

    private readonly string? _apiKey;

    /// <summary>
    /// Bearer token for the Authorization header. Write-only: it is revealed once, into the request bytes,
    /// and otherwise used only to <see cref="Redact"/> it from text a server sends back.
    /// </summary>
    public SecureString? ApiKey { init => _apiKey = value is null || value.Length == 0 ? null : new System.Net.NetworkCredential("", value).Password; }

    /// <summary>Whether requests carry an Authorization header.</summary>
    public bool HasApiKey => _apiKey is not null;

    /// <summary>Send the API key over plain http to a non-loopback host (the user's -AllowUnencryptedAuthentication).</summary>
    public bool AllowUnencryptedAuthentication { get; init; }

    /// <summary>Throws UnencryptedAuthenticationRefused when the API key would go over plain http off this machine without the opt-in.</summary>
    public HttpTarget EnsureCredentialsProtected()
    {
        if (_apiKey is not null) RhaiiGke.Engine.Net.TransportSecurity.EnsureAllowed(Uri, "the API key (-ApiKey)", AllowUnencryptedAuthentication, ConnectHost);
        return this;
    }

    /// <summary><paramref name="text"/> with every occurrence of the API key replaced (servers may echo a rejected key in an error).</summary>
    public string? Redact(string? text) =>
        _apiKey is null || string.IsNullOrEmpty(text) ? text : text.Replace(_apiKey, "[redacted]", StringComparison.Ordinal);

    private IReadOnlyList<(string Name, string Value)> _headers = [];

    /// <summary>
    /// Extra request headers on every request, e.g. X-Gateway-Model-Name for a model-routed URL (the header a body-based
    /// router would set, sent by the client for requests without a body such as GET /v1/models).
    /// </summary>
    public IReadOnlyList<(string Name, string Value)> Headers
    {
        get => _headers;
        init
        {
            foreach (var (name, v) in value)
                if (name.Length == 0 || name.Any(c => c <= ' ' || c == ':' || c > '~') || v.Any(c => c is '\r' or '\n' or '\0'))
                    throw new RhaiiException("InvalidRequestHeader", RhaiiErrorCategory.InvalidArgument, $"'{name}' is not a valid request header (name or value).",
                        "Use a token name and a value without line breaks.", name);
            _headers = value;
        }
    }

    /// <summary>A complete HTTP/1.1 request as bytes, ready to send many times.</summary>
    public byte[] BuildRequest(string method, string path, ReadOnlySpan<byte> body, bool streaming)
    {
        var sb = new StringBuilder(256);
        sb.Append(method).Append(' ').Append(PathPrefix).Append(path).Append(" HTTP/1.1\r\nHost: ").Append(HostHeader).Append("\r\n");
        sb.Append("User-Agent: RhaiiGke\r\n");
        if (streaming) sb.Append("Accept: text/event-stream\r\n");
        else sb.Append("Accept: application/json\r\n");
        if (_apiKey is not null) sb.Append("Authorization: Bearer ").Append(EnsureCredentialsProtected()._apiKey).Append("\r\n");
        foreach (var (name, value) in Headers) sb.Append(name).Append(": ").Append(value).Append("\r\n");
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
/// (The non-streaming event loops use <see cref="LoopHttpConnection"/> instead.)
/// </summary>
internal sealed class RawHttpConnection : IDisposable
{
    private readonly HttpTarget _target;
    private Socket? _socket;
    private Stream? _stream;
    private byte[] _buf = new byte[16 * 1024];
    private int _start, _end;
    private long _readAt;
    private readonly ArrayBufferWriter<byte> _body = new(4096);
    private readonly SseSplitter _sse = new();
    private readonly HeadStrings _strings = new();

    public RawHttpConnection(HttpTarget target) => _target = target;

    /// <summary>
    /// Synchronous socket calls on the caller's thread (a dedicated benchmark worker): no thread-pool hop
    /// between the kernel and the timestamp, and less CPU per request. Timeouts come from <see cref="Timeout"/>.
    /// </summary>
    public bool Blocking { get; init; }

    /// <summary>Send and receive timeout in blocking mode.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);

    public bool Connected => _socket is { Connected: true };

    private async ValueTask ConnectAsync(CancellationToken ct)
    {
        Close();
        var s = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (Blocking)
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
        var (status, contentType, pod, contentLength, chunked, close) = HttpHead.Parse(_buf.AsSpan(_start, headerEnd), _strings);
        if (status == 100)
        {
            _start += headerEnd + 4;
            return await ReadResponseAsync(sink, ct, false).ConfigureAwait(false);
        }
        sink.OnHead(status, contentType, pod, _readAt);
        _start += headerEnd + 4;
        var sse = contentType is not null && contentType.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase);
        _body.ResetWrittenCount();
        _sse.Reset();
        if (chunked)
        {
            while (true)
            {
                int e;
                while ((e = _buf.AsSpan(_start, _end - _start).IndexOf("\r\n"u8)) < 0)
                    if (!await FillAsync(ct).ConfigureAwait(false)) throw new RawHttpException("stream_error", "The stream ended inside a chunk header.");
                var size = HttpLines.ChunkSize(_buf.AsSpan(_start, e));
                if (size < 0) throw new RawHttpException("stream_error", "Malformed chunk size.");
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
        if (sse) _sse.Flush(sink, _readAt);
        else sink.OnBody(_body.WrittenSpan, _readAt);
        if (close) Close();
        return true;
    }

    private void Consume(ReadOnlySpan<byte> data, bool sse, IResponseSink sink)
    {
        if (!sse) _body.Write(data);
        else _sse.Push(data, sink, _readAt);
    }

    public void Close()
    {
        try { _stream?.Dispose(); } catch { }
        try { _socket?.Dispose(); } catch { }
        _stream = null;
        _socket = null;
        _start = _end = 0;
    }

    public void Dispose() => Close();
}
