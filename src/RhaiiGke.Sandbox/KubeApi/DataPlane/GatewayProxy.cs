using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace RhaiiGke.Sandbox.KubeApi.DataPlane;

/// <summary>
/// An Envoy-like HTTP/1.1 proxy on loopback for one Gateway (on the Gateway's own loopback address and
/// listener ports when it has one, see <see cref="LoopbackAddresses"/>): keep-alive towards the client, one upstream
/// connection per request (to the pod's address through <see cref="EndpointOverrides"/>), chunked and SSE
/// responses relayed chunk by chunk, and Envoy's local replies (404 no route, 503 no healthy upstream,
/// 503 connect timeout, 500 invalid backend) with <c>server: istio-envoy</c>.
/// </summary>
internal sealed class GatewayProxy : IDisposable
{
    private readonly List<TcpListener> _listeners = [];
    private readonly GatewayRouter _router;
    private readonly CancellationTokenSource _cts = new();
    private readonly TimeSpan _connectTimeout;
    private readonly HashSet<TcpClient> _clients = [];

    private readonly bool _google;

    /// <param name="google">A GKE managed load balancer: responses carry <c>via: 1.1 google</c> instead of <c>server: istio-envoy</c> and no Envoy response flags.</param>
    /// <param name="bind">
    /// The Gateway's own address and listener ports to listen on (a loopback address from <see cref="LoopbackAddresses"/>):
    /// every process on the machine reaches the gateway there. Empty, or when one of them cannot be bound, the proxy
    /// listens on an ephemeral 127.0.0.1 port (<see cref="Port"/>) that the caller registers in <see cref="EndpointOverrides"/>.
    /// </param>
    public GatewayProxy(GatewayRouter router, string gatewayNs, string gatewayName, TimeSpan connectTimeout, bool google = false, IReadOnlyList<IPEndPoint>? bind = null)
    {
        _google = google;
        _router = router;
        GatewayNamespace = gatewayNs;
        GatewayName = gatewayName;
        _connectTimeout = connectTimeout;
        try
        {
            foreach (var ep in bind ?? [])
            {
                var l = new TcpListener(ep);
                l.Start(512);
                _listeners.Add(l);
            }
            Bound = _listeners.Select(l => (IPEndPoint)l.LocalEndpoint).ToList();
        }
        catch (SocketException)
        {
            foreach (var l in _listeners) l.Stop();
            _listeners.Clear();
            Bound = [];
        }
        if (_listeners.Count == 0)
        {
            var l = new TcpListener(IPAddress.Loopback, 0);
            l.Start(512);
            _listeners.Add(l);
            Port = ((IPEndPoint)l.LocalEndpoint).Port;
        }
        foreach (var l in _listeners) _ = Task.Run(() => AcceptLoop(l));
    }

    public string GatewayNamespace { get; }
    public string GatewayName { get; }

    /// <summary>
    /// Where the proxy writes one access log line per request (Istio's default TEXT format, as with
    /// meshConfig.accessLogFile /dev/stdout); null: no access log (Istio's default profile logs none).
    /// </summary>
    public Func<Action<string>?>? AccessLog { get; set; }

    /// <summary>What Envoy's access log formatter reads for one request.</summary>
    private sealed class Entry
    {
        public DateTime Start = DateTime.UtcNow;
        public int Status;
        public string Flags = "-", Details = "-", Upstream = "-", Cluster = "-", Route = "-", ServiceTime = "-", Failure = "-";
        public long BytesSent;
    }

    /// <summary>The ephemeral loopback port served when the Gateway's own address could not be bound (0 otherwise).</summary>
    public int Port { get; }

    /// <summary>The Gateway addresses and ports the proxy listens on itself (empty when it serves through <see cref="Port"/>).</summary>
    public IReadOnlyList<IPEndPoint> Bound { get; }

    /// <summary>(address, listener port) pairs registered in <see cref="EndpointOverrides"/> for this proxy.</summary>
    public List<(string Host, int Port)> Registered { get; } = [];

    /// <summary>(address, listener port) pairs the proxy serves, directly or through <see cref="EndpointOverrides"/>.</summary>
    public List<(string Host, int Port)> Serves { get; } = [];

    private async Task AcceptLoop(TcpListener listener)
    {
        while (!_cts.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await listener.AcceptTcpClientAsync(_cts.Token).ConfigureAwait(false); }
            catch (Exception) { return; }
            client.NoDelay = true;
            lock (_clients) _clients.Add(client);
            _ = Task.Run(async () =>
            {
                try { await ServeAsync(client).ConfigureAwait(false); }
                catch (Exception) { /* client or upstream went away */ }
                finally
                {
                    lock (_clients) _clients.Remove(client);
                    client.Dispose();
                }
            });
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        var ct = _cts.Token;
        var stream = client.GetStream();
        var input = new HttpReader(stream);
        while (!ct.IsCancellationRequested)
        {
            var head = await input.ReadHeadAsync(ct).ConfigureAwait(false);
            if (head is null) return;
            var (requestLine, headers) = head.Value;
            var parts = requestLine.Split(' ');
            if (parts.Length < 3) { await WriteLocalAsync(stream, 400, "", "DPE", false, ct).ConfigureAwait(false); return; }
            var (method, target, version) = (parts[0], parts[1], parts[2]);
            var body = await input.ReadBodyAsync(headers, ct).ConfigureAwait(false);
            var keepAlive = version == "HTTP/1.1"
                ? !string.Equals(Header(headers, "connection"), "close", StringComparison.OrdinalIgnoreCase)
                : string.Equals(Header(headers, "connection"), "keep-alive", StringComparison.OrdinalIgnoreCase);
            var entry = new Entry();
            var decision = _router.Decide(GatewayNamespace, GatewayName, method, target, Encoding.UTF8.GetString(body), headers);
            try
            {
                switch (decision)
                {
                    case ResetConnection:
                        client.Client.LingerState = new LingerOption(true, 0);
                        return;
                    case LocalReply r:
                        await WriteLocalAsync(stream, r.Status, r.Body, r.Flag, keepAlive, ct, entry).ConfigureAwait(false);
                        break;
                    case Forward f:
                        (entry.Route, entry.Cluster, entry.Upstream) = (f.Route, f.Cluster, $"{f.PodIp}:{f.Port.ToString(CultureInfo.InvariantCulture)}");
                        try { keepAlive &= await ForwardAsync(stream, method, target, f, headers, body, keepAlive, ct, entry).ConfigureAwait(false); }
                        finally { f.Picker?.Done(f.Pod); }
                        break;
                }
            }
            finally
            {
                if (decision is not ResetConnection && entry.Status != 0) WriteAccessLog(entry, method, target, version, headers, body.Length, client);
            }
            if (!keepAlive) return;
        }
    }

    /// <summary>
    /// One line in Istio's default access log format: [start] "METHOD path PROTOCOL" code flags details
    /// termination "transport failure" received sent duration upstream-time "xff" "ua" "request-id" "authority"
    /// "upstream host" cluster upstream-local downstream-local downstream-remote sni route.
    /// </summary>
    private void WriteAccessLog(Entry e, string method, string target, string version, List<(string Name, string Value)> headers, int received, TcpClient client)
    {
        if (AccessLog?.Invoke() is not { } write) return;
        static string Q(string? v) => string.IsNullOrEmpty(v) ? "-" : v;
        var duration = (int)(DateTime.UtcNow - e.Start).TotalMilliseconds;
        var local = client.Client.LocalEndPoint?.ToString() ?? "-";
        var remote = client.Client.RemoteEndPoint?.ToString() ?? "-";
        var line = string.Create(CultureInfo.InvariantCulture,
            $"[{e.Start:yyyy-MM-ddTHH:mm:ss.fffZ}] \"{method} {target} {version}\" {e.Status} {e.Flags} {e.Details} - \"{e.Failure}\" {received} {e.BytesSent} {duration} {e.ServiceTime} " +
            $"\"{Q(Header(headers, "x-forwarded-for"))}\" \"{Q(Header(headers, "user-agent"))}\" \"{Q(Header(headers, "x-request-id"))}\" \"{Q(Header(headers, "host"))}\" " +
            $"\"{e.Upstream}\" {e.Cluster} - {local} {remote} - {e.Route}");
        write(line);
    }

    private static string Details(string flag) => flag switch
    {
        "NR" => "route_not_found",
        "UH" => "no_healthy_upstream",
        "UF" => "upstream_reset_before_response_started{connection_timeout}",
        "UC" => "upstream_reset_before_response_started{connection_termination}",
        "DPE" => "http1.codec_error",
        _ => "-",
    };

    private static string? Header(List<(string Name, string Value)> headers, string name) =>
        headers.FirstOrDefault(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase)).Value;

    private async Task WriteLocalAsync(Stream s, int status, string body, string flag, bool keepAlive, CancellationToken ct, Entry? entry = null)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        if (entry is not null)
        {
            (entry.Status, entry.Flags, entry.Details, entry.BytesSent) = (status, flag, Details(flag), bytes.Length);
            if (flag == "UF") entry.Failure = "delayed_connect_error:_Connection_refused";
        }
        var sb = new StringBuilder();
        sb.Append("HTTP/1.1 ").Append(status.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(Reason(status)).Append("\r\n");
        sb.Append("content-length: ").Append(bytes.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        if (bytes.Length > 0) sb.Append("content-type: text/plain\r\n");
        sb.Append("date: ").Append(DateTime.UtcNow.ToString("R", CultureInfo.InvariantCulture)).Append("\r\n");
        if (_google) sb.Append("via: 1.1 google\r\n");
        else
        {
            sb.Append("server: istio-envoy\r\n");
            sb.Append("x-envoy-response-flags: ").Append(flag).Append("\r\n");
        }
        if (!keepAlive) sb.Append("connection: close\r\n");
        sb.Append("\r\n");
        await s.WriteAsync(Encoding.ASCII.GetBytes(sb.ToString()), ct).ConfigureAwait(false);
        if (bytes.Length > 0) await s.WriteAsync(bytes, ct).ConfigureAwait(false);
        await s.FlushAsync(ct).ConfigureAwait(false);
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK", 400 => "Bad Request", 404 => "Not Found", 500 => "Internal Server Error", 502 => "Bad Gateway", 503 => "Service Unavailable", 504 => "Gateway Timeout", _ => "Status",
    };

    /// <summary>
    /// True when an in-process server answers for the pod's address (or the address is loopback, dialled as given).
    /// A Ready pod's simulated vLLM is registered by the data-plane controller a moment after the kubelet reports it
    /// Ready; a real pod is listening when its readiness probe passes, so the proxy waits that moment out (bounded by
    /// the connect timeout and 2 s, about when a real connect to a vanished pod IP gives up with "no route to host").
    /// </summary>
    private async Task<bool> BackendListensAsync(string address, int port, CancellationToken ct)
    {
        if (EndpointOverrides.IsOverridden(address, port)) return true;
        if (IPAddress.TryParse(address, out var ip) && IPAddress.IsLoopback(ip)) return true;
        var deadline = Stopwatch.GetTimestamp() + (long)(Math.Min(2, _connectTimeout.TotalSeconds) * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(20, ct).ConfigureAwait(false);
            if (EndpointOverrides.IsOverridden(address, port)) return true;
        }
        return false;
    }

    /// <summary>Proxies one request; returns false when the client connection must close afterwards.</summary>
    private async Task<bool> ForwardAsync(Stream client, string method, string originalPath, Forward f, List<(string Name, string Value)> headers, byte[] body, bool keepAlive, CancellationToken ct, Entry entry)
    {
        var started = DateTime.UtcNow;
        if (f.Blocked)
        {
            // the policy dataplane drops the SYN: Envoy gives up after its connect timeout
            await Task.Delay(_connectTimeout, ct).ConfigureAwait(false);
            await WriteLocalAsync(client, 503, GatewayRouter.ConnectTimeout, "UF", keepAlive, ct, entry).ConfigureAwait(false);
            return true;
        }
        if (!await BackendListensAsync(f.PodIp, f.Port, ct).ConfigureAwait(false))
        {
            // the pod's address has no server behind it (the pod was just removed, or its endpoint was stale): a real
            // node gives no answer for a pod IP it no longer hosts, and Envoy reports the connect failure. The
            // sandbox never dials its made-up pod addresses on the real network (an egress proxy there would answer).
            await WriteLocalAsync(client, 503, "upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: delayed connect error: 113", "UF", keepAlive, ct, entry).ConfigureAwait(false);
            return true;
        }
        var (host, port) = EndpointOverrides.Resolve(f.PodIp, f.Port);
        using var upstream = new TcpClient { NoDelay = true };
        try
        {
            using var connectCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            connectCts.CancelAfter(_connectTimeout);
            await upstream.ConnectAsync(host, port, connectCts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            var reason = ex is OperationCanceledException ? "connection timeout" : "connection failure, transport failure reason: delayed connect error: 111";
            await WriteLocalAsync(client, 503, $"upstream connect error or disconnect/reset before headers. reset reason: {reason}", "UF", keepAlive, ct, entry).ConfigureAwait(false);
            return true;
        }
        var up = upstream.GetStream();
        var sb = new StringBuilder();
        sb.Append(method).Append(' ').Append(f.Path).Append(" HTTP/1.1\r\n");
        foreach (var (name, value) in headers)
        {
            if (name.Equals("connection", StringComparison.OrdinalIgnoreCase) || name.Equals("keep-alive", StringComparison.OrdinalIgnoreCase) ||
                name.Equals("transfer-encoding", StringComparison.OrdinalIgnoreCase) || name.Equals("content-length", StringComparison.OrdinalIgnoreCase)) continue;
            if (f.SetHeaders.Any(h => h.Name.Equals(name, StringComparison.OrdinalIgnoreCase))) continue; // ext_proc set_headers overwrite
            sb.Append(name).Append(": ").Append(value).Append("\r\n");
        }
        foreach (var (name, value) in f.SetHeaders) sb.Append(name).Append(": ").Append(value).Append("\r\n");
        sb.Append("content-length: ").Append(body.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        sb.Append("x-envoy-original-path: ").Append(originalPath).Append("\r\n");
        sb.Append("x-gateway-destination-endpoint: ").Append(f.PodIp).Append(':').Append(f.Port.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        sb.Append("x-forwarded-proto: http\r\nconnection: close\r\n\r\n");
        await up.WriteAsync(Encoding.UTF8.GetBytes(sb.ToString()), ct).ConfigureAwait(false);
        if (body.Length > 0) await up.WriteAsync(body, ct).ConfigureAwait(false);
        await up.FlushAsync(ct).ConfigureAwait(false);

        var reader = new HttpReader(up);
        var head = await reader.ReadHeadAsync(ct).ConfigureAwait(false);
        if (head is null)
        {
            await WriteLocalAsync(client, 503, "upstream connect error or disconnect/reset before headers. reset reason: connection termination", "UC", keepAlive, ct, entry).ConfigureAwait(false);
            return true;
        }
        var (statusLine, respHeaders) = head.Value;
        var chunked = string.Equals(Header(respHeaders, "transfer-encoding"), "chunked", StringComparison.OrdinalIgnoreCase);
        var length = long.TryParse(Header(respHeaders, "content-length"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : (long?)null;
        var untilClose = !chunked && length is null && !(statusLine.Contains(" 204 ", StringComparison.Ordinal) || statusLine.Contains(" 304 ", StringComparison.Ordinal));
        var clientKeepAlive = keepAlive && !untilClose;
        var outHead = new StringBuilder();
        outHead.Append("HTTP/1.1").Append(statusLine[(statusLine.IndexOf(' ') < 0 ? statusLine.Length : statusLine.IndexOf(' '))..]).Append("\r\n");
        foreach (var (name, value) in respHeaders)
        {
            if (name.Equals("connection", StringComparison.OrdinalIgnoreCase) || name.Equals("keep-alive", StringComparison.OrdinalIgnoreCase) ||
                name.Equals("x-inference-pod", StringComparison.OrdinalIgnoreCase) || name.Equals("server", StringComparison.OrdinalIgnoreCase)) continue;
            outHead.Append(name).Append(": ").Append(value).Append("\r\n");
        }
        outHead.Append("x-inference-pod: ").Append(f.Pod).Append("\r\n");
        entry.ServiceTime = ((int)(DateTime.UtcNow - started).TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        entry.Status = int.TryParse(statusLine.Split(' ').ElementAtOrDefault(1), NumberStyles.Integer, CultureInfo.InvariantCulture, out var code) ? code : 0;
        entry.Details = "via_upstream";
        outHead.Append("x-envoy-upstream-service-time: ").Append(entry.ServiceTime).Append("\r\n");
        outHead.Append(_google ? "via: 1.1 google\r\n" : "server: istio-envoy\r\n");
        if (!clientKeepAlive) outHead.Append("connection: close\r\n");
        outHead.Append("\r\n");
        await client.WriteAsync(Encoding.UTF8.GetBytes(outHead.ToString()), ct).ConfigureAwait(false);
        await client.FlushAsync(ct).ConfigureAwait(false);
        var counted = new CountingStream(client);
        var complete = true;
        try
        {
            if (chunked) complete = await reader.RelayChunkedAsync(counted, ct).ConfigureAwait(false);
            else if (length is { } len) complete = await reader.RelayAsync(counted, len, ct).ConfigureAwait(false);
            else if (untilClose) await reader.RelayAsync(counted, long.MaxValue, ct).ConfigureAwait(false);
        }
        finally { entry.BytesSent = counted.Written; }
        await client.FlushAsync(ct).ConfigureAwait(false);
        if (!complete)
        {
            // the pod went away mid-response (deleted, crashed): Envoy cannot finish the HTTP/1.1 response and resets the
            // downstream connection, so the client sees the body end early instead of waiting for the rest
            (entry.Flags, entry.Details, entry.Failure) = ("UC", "upstream_reset_after_response_started{connection_termination}", "-");
            return false;
        }
        return clientKeepAlive;
    }

    public void Dispose()
    {
        _cts.Cancel();
        foreach (var l in _listeners) { try { l.Stop(); } catch (SocketException) { } }
        lock (_clients) foreach (var c in _clients) { try { c.Dispose(); } catch (Exception) { } }
        _cts.Dispose();
    }
}

/// <summary>A write-through stream that counts the bytes written (the access log's BYTES_SENT).</summary>
internal sealed class CountingStream(Stream inner) : Stream
{
    public long Written { get; private set; }
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() => inner.Flush();
    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) { inner.Write(buffer, offset, count); Written += count; }
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        Written += buffer.Length;
    }
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
}

/// <summary>A small buffered HTTP/1.1 reader: head, bodies (Content-Length or chunked), relaying.</summary>
internal sealed class HttpReader(Stream stream)
{
    private readonly byte[] _buf = new byte[16384];
    private int _start, _end;

    private async Task<bool> FillAsync(CancellationToken ct)
    {
        if (_start > 0 && _start == _end) { _start = _end = 0; }
        if (_end == _buf.Length)
        {
            if (_start == 0) throw new InvalidDataException("HTTP head too large");
            Buffer.BlockCopy(_buf, _start, _buf, 0, _end - _start);
            _end -= _start; _start = 0;
        }
        var n = await stream.ReadAsync(_buf.AsMemory(_end), ct).ConfigureAwait(false);
        if (n <= 0) return false;
        _end += n;
        return true;
    }

    private async Task<string?> ReadLineAsync(CancellationToken ct)
    {
        while (true)
        {
            var idx = Array.IndexOf(_buf, (byte)'\n', _start, _end - _start);
            if (idx >= 0)
            {
                var line = Encoding.Latin1.GetString(_buf, _start, idx - _start).TrimEnd('\r');
                _start = idx + 1;
                return line;
            }
            if (!await FillAsync(ct).ConfigureAwait(false)) return null;
        }
    }

    public async Task<(string Line, List<(string Name, string Value)> Headers)?> ReadHeadAsync(CancellationToken ct)
    {
        var first = await ReadLineAsync(ct).ConfigureAwait(false);
        while (first is "") first = await ReadLineAsync(ct).ConfigureAwait(false);
        if (first is null) return null;
        var headers = new List<(string, string)>();
        while (true)
        {
            var line = await ReadLineAsync(ct).ConfigureAwait(false);
            if (line is null) return null;
            if (line.Length == 0) break;
            var colon = line.IndexOf(':');
            if (colon > 0) headers.Add((line[..colon].Trim(), line[(colon + 1)..].Trim()));
        }
        return (first, headers);
    }

    public async Task<byte[]> ReadBodyAsync(List<(string Name, string Value)> headers, CancellationToken ct)
    {
        var te = headers.FirstOrDefault(h => h.Name.Equals("transfer-encoding", StringComparison.OrdinalIgnoreCase)).Value;
        if (string.Equals(te, "chunked", StringComparison.OrdinalIgnoreCase))
        {
            using var ms = new MemoryStream();
            await RelayChunkedAsync(ms, ct, decode: true).ConfigureAwait(false);
            return ms.ToArray();
        }
        var cl = headers.FirstOrDefault(h => h.Name.Equals("content-length", StringComparison.OrdinalIgnoreCase)).Value;
        if (!long.TryParse(cl, NumberStyles.Integer, CultureInfo.InvariantCulture, out var len) || len <= 0) return [];
        using var body = new MemoryStream();
        await RelayAsync(body, len, ct).ConfigureAwait(false);
        return body.ToArray();
    }

    /// <summary>Copies <paramref name="length"/> bytes (or until end of stream); false when the stream ended first.</summary>
    public async Task<bool> RelayAsync(Stream to, long length, CancellationToken ct)
    {
        while (length > 0)
        {
            if (_start == _end && !await FillAsync(ct).ConfigureAwait(false)) return false;
            var n = (int)Math.Min(length, _end - _start);
            await to.WriteAsync(_buf.AsMemory(_start, n), ct).ConfigureAwait(false);
            _start += n;
            length -= n;
            if (to is NetworkStream) await to.FlushAsync(ct).ConfigureAwait(false);
        }
        return true;
    }

    /// <summary>
    /// Relays a chunked body chunk by chunk (flushing each), or decodes it into <paramref name="to"/>; false when the
    /// stream ended before the last chunk (the sender went away mid-body).
    /// </summary>
    public async Task<bool> RelayChunkedAsync(Stream to, CancellationToken ct, bool decode = false)
    {
        while (true)
        {
            var sizeLine = await ReadLineAsync(ct).ConfigureAwait(false);
            if (sizeLine is null) return false;
            var semi = sizeLine.IndexOf(';');
            var size = long.Parse(semi < 0 ? sizeLine.Trim() : sizeLine[..semi].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (!decode) await to.WriteAsync(Encoding.ASCII.GetBytes(sizeLine + "\r\n"), ct).ConfigureAwait(false);
            if (size == 0)
            {
                // trailers until the blank line
                string? t;
                while ((t = await ReadLineAsync(ct).ConfigureAwait(false)) is { Length: > 0 })
                    if (!decode) await to.WriteAsync(Encoding.ASCII.GetBytes(t + "\r\n"), ct).ConfigureAwait(false);
                if (!decode) { await to.WriteAsync("\r\n"u8.ToArray(), ct).ConfigureAwait(false); await to.FlushAsync(ct).ConfigureAwait(false); }
                return true;
            }
            if (!await RelayAsync(to, size, ct).ConfigureAwait(false)) return false;
            if (await ReadLineAsync(ct).ConfigureAwait(false) is null) return false; // CRLF after the data
            if (!decode) { await to.WriteAsync("\r\n"u8.ToArray(), ct).ConfigureAwait(false); await to.FlushAsync(ct).ConfigureAwait(false); }
        }
    }
}
