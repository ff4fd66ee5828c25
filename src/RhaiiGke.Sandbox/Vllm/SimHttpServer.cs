using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace RhaiiGke.Sandbox.Vllm;

/// <summary>A parsed HTTP/1.x request. <see cref="Body"/> is valid until the handler returns.</summary>
internal sealed class SimHttpRequest
{
    public string Method = "";
    public string Path = "";
    public string Query = "";
    public bool Http10;
    public bool KeepAlive;
    public ReadOnlyMemory<byte> Body;
    /// <summary>The status of the response written (0 until one is), for the access log.</summary>
    public int Status;
}

/// <summary>
/// A small HTTP/1.1 server on raw sockets (keep-alive, pipelining, chunked bodies both ways), because
/// pwsh carries no ASP.NET Core and HttpListener is slow for a load-test target. Listens on 127.0.0.1:0.
/// </summary>
internal sealed class SimHttpServer : IDisposable
{
    private readonly Socket _listener;
    private readonly Func<SimHttpConnection, SimHttpRequest, ValueTask> _handler;
    private readonly CancellationTokenSource _cts = new();
    private readonly HashSet<SimHttpConnection> _connections = [];

    public SimHttpServer(Func<SimHttpConnection, SimHttpRequest, ValueTask> handler)
    {
        _handler = handler;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(4096);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _ = AcceptLoop();
    }

    public int Port { get; }
    public string Url => $"http://127.0.0.1:{Port}";

    private async Task AcceptLoop()
    {
        while (!_cts.IsCancellationRequested)
        {
            Socket s;
            try { s = await _listener.AcceptAsync(_cts.Token).ConfigureAwait(false); }
            catch (Exception) when (_cts.IsCancellationRequested) { return; }
            catch (SocketException) { continue; }
            catch (ObjectDisposedException) { return; }
            s.NoDelay = true;
            var c = new SimHttpConnection(s);
            lock (_connections) _connections.Add(c);
            _ = Task.Run(() => Serve(c));
        }
    }

    private async Task Serve(SimHttpConnection c)
    {
        var req = new SimHttpRequest();
        try
        {
            while (!_cts.IsCancellationRequested)
            {
                if (!await c.ReadRequestAsync(req).ConfigureAwait(false)) break;
                await _handler(c, req).ConfigureAwait(false);
                c.ConsumeRequest();
                if (!req.KeepAlive || c.CloseAfterResponse) break;
            }
        }
        catch (SocketException) { }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
        catch (OperationCanceledException) { }
        catch (SimHttpConnection.BadRequestException)
        {
            try { await c.SendAsync("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray()).ConfigureAwait(false); } catch { }
        }
        finally
        {
            lock (_connections) _connections.Remove(c);
            c.Dispose();
        }
    }

    public void Dispose()
    {
        _cts.Cancel();
        try { _listener.Dispose(); } catch { }
        SimHttpConnection[] open;
        lock (_connections) open = [.. _connections];
        foreach (var c in open) c.Dispose();
    }
}

/// <summary>One client connection: request parsing over a growable buffer and response writing.</summary>
internal sealed class SimHttpConnection : IDisposable
{
    internal sealed class BadRequestException() : Exception("bad request");

    private readonly Socket _socket;
    private byte[] _buf = ArrayPool<byte>.Shared.Rent(16 * 1024);
    private int _start, _end, _consumed;
    private byte[]? _chunkedBody;
    public readonly ArrayBufferWriter<byte> Out = new(4096);
    public bool CloseAfterResponse;
    private int _disposed;

    public SimHttpConnection(Socket socket) => _socket = socket;

    /// <summary>The client's address as the access log prints it.</summary>
    public string Peer => _socket.RemoteEndPoint?.ToString() ?? "-";

    public async ValueTask<bool> ReadRequestAsync(SimHttpRequest req)
    {
        int headerEnd;
        while ((headerEnd = _buf.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (!await FillAsync().ConfigureAwait(false)) return false;
        }
        var head = _buf.AsSpan(_start, headerEnd);
        var lineEnd = head.IndexOf("\r\n"u8);
        var requestLine = lineEnd < 0 ? head : head[..lineEnd];
        var sp1 = requestLine.IndexOf((byte)' ');
        var sp2 = requestLine.LastIndexOf((byte)' ');
        if (sp1 <= 0 || sp2 <= sp1) throw new BadRequestException();
        req.Method = Intern(requestLine[..sp1]);
        var target = requestLine[(sp1 + 1)..sp2];
        var q = target.IndexOf((byte)'?');
        req.Path = InternPath(q < 0 ? target : target[..q]);
        req.Query = q < 0 ? "" : Encoding.ASCII.GetString(target[(q + 1)..]);
        req.Http10 = requestLine[(sp2 + 1)..].SequenceEqual("HTTP/1.0"u8);
        req.KeepAlive = !req.Http10;
        long contentLength = 0;
        var chunked = false;
        var expectContinue = false;
        ReadOnlySpan<byte> rest = lineEnd < 0 ? [] : head[(lineEnd + 2)..];
        while (!rest.IsEmpty)
        {
            NextField(ref rest, out var name, out var value);
            if (Ascii.EqualsIgnoreCase(name, "content-length"u8))
            {
                if (!System.Buffers.Text.Utf8Parser.TryParse(value, out contentLength, out _)) throw new BadRequestException();
            }
            else if (Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8)) chunked = value.IndexOf("chunked"u8) >= 0;
            else if (Ascii.EqualsIgnoreCase(name, "connection"u8))
            {
                if (Ascii.EqualsIgnoreCase(value, "close"u8)) req.KeepAlive = false;
                else if (Ascii.EqualsIgnoreCase(value, "keep-alive"u8)) req.KeepAlive = true;
            }
            else if (Ascii.EqualsIgnoreCase(name, "expect"u8)) expectContinue = Ascii.EqualsIgnoreCase(value, "100-continue"u8);
        }
        var bodyStart = _start + headerEnd + 4;
        if (expectContinue && (contentLength > 0 || chunked) && _end == bodyStart)
            await SendAsync("HTTP/1.1 100 Continue\r\n\r\n"u8.ToArray()).ConfigureAwait(false);
        if (chunked)
        {
            req.Body = await ReadChunkedAsync(bodyStart - _start).ConfigureAwait(false);
            return true;
        }
        if (contentLength > 64 * 1024 * 1024) throw new BadRequestException();
        while (_end - bodyStart < contentLength)
        {
            var offset = bodyStart - _start;
            if (!await FillAsync().ConfigureAwait(false)) return false;
            bodyStart = _start + offset;
        }
        req.Body = new ReadOnlyMemory<byte>(_buf, bodyStart, (int)contentLength);
        _consumed = bodyStart + (int)contentLength - _start;
        return true;
    }

    /// <summary>
    /// Takes one header field line off <paramref name="rest"/> the way RFC 9112 section 5 has a server read it:
    /// the name is a token directly followed by ':', the value loses its leading and trailing blanks, and a
    /// malformed line (no colon, blank before the colon, an obs-fold continuation, a control byte) is a 400.
    /// </summary>
    private static void NextField(ref ReadOnlySpan<byte> rest, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        var eol = rest.IndexOf("\r\n"u8);
        var line = eol < 0 ? rest : rest[..eol];
        rest = eol < 0 ? default : rest[(eol + 2)..];
        var colon = line.IndexOf((byte)':');
        if (colon <= 0) throw new BadRequestException();
        name = line[..colon];
        foreach (var b in name)
            if (b <= 0x20 || b >= 0x7F || "\"(),/:;<=>?@[\\]{}"u8.Contains(b)) throw new BadRequestException();
        value = line[(colon + 1)..];
        var from = 0;
        var to = value.Length;
        while (from < to && value[from] is (byte)' ' or (byte)'\t') from++;
        while (to > from && value[to - 1] is (byte)' ' or (byte)'\t') to--;
        value = value[from..to];
        foreach (var b in value)
            if ((b < 0x20 && b != (byte)'\t') || b == 0x7F) throw new BadRequestException();
    }

    private async ValueTask<ReadOnlyMemory<byte>> ReadChunkedAsync(int offset)
    {
        var body = new ArrayBufferWriter<byte>();
        while (true)
        {
            int e;
            while ((e = _buf.AsSpan(_start + offset, _end - _start - offset).IndexOf("\r\n"u8)) < 0)
                if (!await FillAsync().ConfigureAwait(false)) throw new IOException("eof");
            var sizeLine = _buf.AsSpan(_start + offset, e);
            var semi = sizeLine.IndexOf((byte)';');
            if (semi >= 0) sizeLine = sizeLine[..semi];
            if (!System.Buffers.Text.Utf8Parser.TryParse(sizeLine, out int size, out _, 'x')) throw new BadRequestException();
            offset += e + 2;
            if (size == 0)
            {
                // trailers until an empty line
                while (true)
                {
                    while ((e = _buf.AsSpan(_start + offset, _end - _start - offset).IndexOf("\r\n"u8)) < 0)
                        if (!await FillAsync().ConfigureAwait(false)) throw new IOException("eof");
                    offset += e + 2;
                    if (e == 0) break;
                }
                _consumed = offset;
                _chunkedBody = body.WrittenSpan.ToArray();
                return _chunkedBody;
            }
            while (_end - _start - offset < size + 2)
                if (!await FillAsync().ConfigureAwait(false)) throw new IOException("eof");
            body.Write(_buf.AsSpan(_start + offset, size));
            offset += size + 2;
        }
    }

    /// <summary>Reads more bytes, compacting or growing the buffer; false at end of stream.</summary>
    private async ValueTask<bool> FillAsync()
    {
        if (_end == _buf.Length)
        {
            if (_start > 0)
            {
                Buffer.BlockCopy(_buf, _start, _buf, 0, _end - _start);
                _end -= _start; _start = 0;
            }
            else
            {
                if (_buf.Length >= 128 * 1024 * 1024) throw new BadRequestException();
                var bigger = ArrayPool<byte>.Shared.Rent(_buf.Length * 2);
                Buffer.BlockCopy(_buf, 0, bigger, 0, _end);
                ArrayPool<byte>.Shared.Return(_buf);
                _buf = bigger;
            }
        }
        var n = await _socket.ReceiveAsync(_buf.AsMemory(_end), SocketFlags.None).ConfigureAwait(false);
        if (n == 0) return false;
        _end += n;
        return true;
    }

    public void ConsumeRequest()
    {
        _start += _consumed;
        _consumed = 0;
        _chunkedBody = null;
        if (_start == _end) _start = _end = 0;
    }

    public async ValueTask SendAsync(ReadOnlyMemory<byte> data)
    {
        while (!data.IsEmpty)
        {
            var n = await _socket.SendAsync(data, SocketFlags.None).ConfigureAwait(false);
            data = data[n..];
        }
    }

    /// <summary>Sends what was written to <see cref="Out"/> and clears it.</summary>
    public async ValueTask FlushAsync()
    {
        if (Out.WrittenCount == 0) return;
        await SendAsync(Out.WrittenMemory).ConfigureAwait(false);
        Out.ResetWrittenCount();
    }

    private static string Intern(ReadOnlySpan<byte> m) =>
        m.SequenceEqual("GET"u8) ? "GET" : m.SequenceEqual("POST"u8) ? "POST" : Encoding.ASCII.GetString(m);

    private static string InternPath(ReadOnlySpan<byte> p) =>
        p.SequenceEqual("/v1/chat/completions"u8) ? "/v1/chat/completions"
        : p.SequenceEqual("/v1/completions"u8) ? "/v1/completions"
        : p.SequenceEqual("/v1/models"u8) ? "/v1/models"
        : p.SequenceEqual("/health"u8) ? "/health"
        : p.SequenceEqual("/metrics"u8) ? "/metrics"
        : Encoding.ASCII.GetString(p);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        try { _socket.Shutdown(SocketShutdown.Both); } catch { }
        _socket.Dispose();
        // The buffer is not returned to the pool: a handler may still hold a slice of it.
    }
}

/// <summary>Writes HTTP/1.1 response heads and bodies into a buffer writer.</summary>
internal static class HttpOut
{
    public static void Ascii(IBufferWriter<byte> w, string s)
    {
        var span = w.GetSpan(s.Length);
        var n = Encoding.ASCII.GetBytes(s, span);
        w.Advance(n);
    }

    public static void Bytes(IBufferWriter<byte> w, ReadOnlySpan<byte> b)
    {
        var span = w.GetSpan(b.Length);
        b.CopyTo(span);
        w.Advance(b.Length);
    }

    public static void Int(IBufferWriter<byte> w, long v)
    {
        var span = w.GetSpan(20);
        System.Buffers.Text.Utf8Formatter.TryFormat(v, span, out var n);
        w.Advance(n);
    }

    public static void Hex(IBufferWriter<byte> w, int v)
    {
        var span = w.GetSpan(8);
        System.Buffers.Text.Utf8Formatter.TryFormat(v, span, out var n, new System.Buffers.StandardFormat('x'));
        w.Advance(n);
    }

    public static ReadOnlySpan<byte> Reason(int status) => status switch
    {
        200 => "OK"u8, 400 => "Bad Request"u8, 401 => "Unauthorized"u8, 404 => "Not Found"u8, 405 => "Method Not Allowed"u8,
        429 => "Too Many Requests"u8, 500 => "Internal Server Error"u8, 503 => "Service Unavailable"u8, _ => "Status"u8,
    };

    /// <summary>Status line and common headers, without the blank line.</summary>
    public static void Head(IBufferWriter<byte> w, SimHttpRequest req, int status, ReadOnlySpan<byte> contentType, string? pod)
    {
        req.Status = status;
        Bytes(w, req.Http10 ? "HTTP/1.0 "u8 : "HTTP/1.1 "u8);
        Int(w, status);
        Bytes(w, " "u8);
        Bytes(w, Reason(status));
        Bytes(w, "\r\nContent-Type: "u8);
        Bytes(w, contentType);
        if (pod is not null)
        {
            Bytes(w, "\r\nx-inference-pod: "u8);
            Ascii(w, pod);
        }
        if (req.Http10 && req.KeepAlive) Bytes(w, "\r\nConnection: keep-alive"u8);
        else if (!req.KeepAlive) Bytes(w, "\r\nConnection: close"u8);
        Bytes(w, "\r\n"u8);
    }

    /// <summary>A complete response with a Content-Length body.</summary>
    public static void Full(IBufferWriter<byte> w, SimHttpRequest req, int status, ReadOnlySpan<byte> contentType, ReadOnlySpan<byte> body, string? pod)
    {
        Head(w, req, status, contentType, pod);
        Bytes(w, "Content-Length: "u8);
        Int(w, body.Length);
        Bytes(w, "\r\n\r\n"u8);
        Bytes(w, body);
    }
}
