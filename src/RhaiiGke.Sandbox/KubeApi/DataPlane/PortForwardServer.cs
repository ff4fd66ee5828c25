using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using RhaiiGke.Sandbox.Protocol;
using RhaiiGke;

namespace RhaiiGke.Sandbox.KubeApi.DataPlane;

/// <summary>
/// <c>POST|GET /api/v1/namespaces/{ns}/pods/{name}/portforward</c> as the API server and kubelet serve it, on the raw
/// connection the request came on (so it works behind any HTTP front end that can hand over the stream):
/// <list type="bullet">
/// <item>SPDY/3.1 upgrade (<c>Upgrade: SPDY/3.1</c>, <c>X-Stream-Protocol-Version: portforward.k8s.io</c>): what kubectl up to 1.30
/// speaks, and what kubectl 1.31+ falls back to;</item>
/// <item>WebSocket with the subprotocol <c>SPDY/3.1+portforward.k8s.io</c>: the same SPDY bytes tunnelled in binary messages, what
/// kubectl 1.31+ tries first (KUBECTL_PORT_FORWARD_WEBSOCKETS, on by default).</item>
/// </list>
/// Per forwarded connection the client opens an error stream and a data stream with the same <c>requestID</c> and <c>port</c>;
/// the data stream is joined to the pod's port (the simulated container behind the pod IP, see <see cref="EndpointOverrides"/>,
/// or a gateway pod's listener), and a failure to connect is written to the error stream as the kubelet words it.
/// </summary>
internal static class PortForwardServer
{
    public const string SpdyProtocol = "portforward.k8s.io";
    public const string TunnelProtocol = "SPDY/3.1+portforward.k8s.io";

    private static long _tunnelSessions, _spdySessions;
    /// <summary>Port-forward sessions served over the SPDY-over-WebSocket tunnel, in this process (diagnostics).</summary>
    public static long TunnelSessions => Interlocked.Read(ref _tunnelSessions);
    /// <summary>Port-forward sessions served over a plain SPDY/3.1 upgrade, in this process (diagnostics).</summary>
    public static long SpdySessions => Interlocked.Read(ref _spdySessions);

    /// <summary>
    /// Serves <paramref name="head"/> (the first request head of a connection, through the blank line) when it is a
    /// port-forward upgrade, and returns true once the connection is done; false, without touching the stream, otherwise.
    /// </summary>
    public static async Task<bool> TryServeAsync(SimCore core, Func<string?, bool> authenticate, string head, Stream stream, CancellationToken ct)
    {
        var lines = head.Split("\r\n");
        var parts = lines[0].Split(' ');
        if (parts.Length < 3) return false;
        var path = parts[1];
        var q = path.IndexOf('?');
        var segs = (q < 0 ? path : path[..q]).Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.UnescapeDataString).ToArray();
        if (segs is not ["api", "v1", "namespaces", var ns, "pods", var name, "portforward"]) return false;
        var headers = new List<(string Name, string Value)>();
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':');
            if (colon > 0) headers.Add((line[..colon].Trim(), line[(colon + 1)..].Trim()));
        }
        string? H(string n) => headers.FirstOrDefault(h => h.Name.Equals(n, StringComparison.OrdinalIgnoreCase)).Value;
        IEnumerable<string> All(string n) => headers.Where(h => h.Name.Equals(n, StringComparison.OrdinalIgnoreCase))
            .SelectMany(h => h.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        var upgrade = H("Upgrade");
        if (upgrade is null) return false; // a plain request: the API server's own answer (it needs an upgrade)

        if (!authenticate(H("Authorization")))
        {
            await WriteStatusAsync(stream, 401, "Unauthorized", "Unauthorized", null, ct).ConfigureAwait(false);
            return true;
        }
        JsonObject? pod;
        lock (core.Gate) pod = core.Peek("", "pods", ns, name);
        if (pod is null)
        {
            await WriteStatusAsync(stream, 404, $"pods \"{name}\" not found", "NotFound", new JsonObject { ["name"] = name, ["kind"] = "pods" }, ct).ConfigureAwait(false);
            return true;
        }
        if (pod.Str("spec", "nodeName") is null)
        {
            await WriteStatusAsync(stream, 400, $"pod {name} does not have a host assigned", "BadRequest", null, ct).ConfigureAwait(false);
            return true;
        }

        Stream spdy;
        if (upgrade.Equals("websocket", StringComparison.OrdinalIgnoreCase))
        {
            if (!All("Sec-WebSocket-Protocol").Contains(TunnelProtocol, StringComparer.Ordinal))
            {
                await WriteStatusAsync(stream, 400, $"unable to upgrade: no supported subprotocol in {string.Join(", ", All("Sec-WebSocket-Protocol"))} (want {TunnelProtocol})", "BadRequest", null, ct).ConfigureAwait(false);
                return true;
            }
            var key = H("Sec-WebSocket-Key") ?? "";
            var accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
            await WriteHeadAsync(stream, $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: {TunnelProtocol}\r\n\r\n", ct).ConfigureAwait(false);
            var ws = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero } /* the subprotocol was negotiated above: .NET rejects "/" in SubProtocol */);
            spdy = new WebSocketByteStream(ws);
            Interlocked.Increment(ref _tunnelSessions);
        }
        else if (upgrade.StartsWith("SPDY/3.1", StringComparison.OrdinalIgnoreCase))
        {
            var offered = All("X-Stream-Protocol-Version").ToList();
            if (offered.Count > 0 && !offered.Contains(SpdyProtocol, StringComparer.Ordinal))
            {
                await WriteStatusAsync(stream, 403, $"unable to upgrade: unable to negotiate protocol: client supports {string.Join(", ", offered)}, server supports [{SpdyProtocol}]", "Forbidden", null, ct).ConfigureAwait(false);
                return true;
            }
            await WriteHeadAsync(stream, $"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: {SpdyProtocol}\r\nDate: {DateTime.UtcNow.ToString("R", CultureInfo.InvariantCulture)}\r\n\r\n", ct).ConfigureAwait(false);
            spdy = stream;
            Interlocked.Increment(ref _spdySessions);
        }
        else
        {
            await WriteStatusAsync(stream, 400, $"unable to upgrade: unsupported protocol {upgrade}", "BadRequest", null, ct).ConfigureAwait(false);
            return true;
        }

        var forwarder = new Forwarder(core, ns, name);
        var session = new SpdySession(spdy, forwarder.OnStreamAsync);
        await session.RunAsync(ct).ConfigureAwait(false);
        return true;
    }

    private static async Task WriteHeadAsync(Stream s, string head, CancellationToken ct)
    {
        await s.WriteAsync(Encoding.ASCII.GetBytes(head), ct).ConfigureAwait(false);
        await s.FlushAsync(ct).ConfigureAwait(false);
    }

    private static async Task WriteStatusAsync(Stream s, int code, string message, string reason, JsonObject? details, CancellationToken ct)
    {
        var status = new JsonObject
        {
            ["kind"] = "Status", ["apiVersion"] = "v1", ["metadata"] = new JsonObject(), ["status"] = "Failure",
            ["message"] = message, ["reason"] = reason, ["code"] = code,
        };
        if (details is not null) status["details"] = details;
        var body = Encoding.UTF8.GetBytes(status.ToJsonString());
        var reasonPhrase = code switch { 400 => "Bad Request", 401 => "Unauthorized", 403 => "Forbidden", 404 => "Not Found", _ => "Error" };
        await WriteHeadAsync(s, $"HTTP/1.1 {code} {reasonPhrase}\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n", ct).ConfigureAwait(false);
        await s.WriteAsync(body, ct).ConfigureAwait(false);
        await s.FlushAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Pairs each requestID's error and data streams and joins the data stream to the pod's port.</summary>
    private sealed class Forwarder(SimCore core, string ns, string podName)
    {
        private readonly Dictionary<string, (SpdyStream? Error, SpdyStream? Data)> _pairs = new(StringComparer.Ordinal);

        public async Task OnStreamAsync(SpdyStream stream)
        {
            var type = stream.Headers.GetValueOrDefault("streamType");
            var id = stream.Headers.GetValueOrDefault("requestID") ?? stream.Id.ToString(CultureInfo.InvariantCulture);
            if (type is not ("error" or "data"))
            {
                await stream.ResetAsync().ConfigureAwait(false);
                return;
            }
            (SpdyStream? Error, SpdyStream? Data) pair;
            lock (_pairs)
            {
                pair = _pairs.GetValueOrDefault(id);
                pair = type == "error" ? (stream, pair.Data) : (pair.Error, stream);
                if (pair.Error is null || pair.Data is null) { _pairs[id] = pair; return; }
                _pairs.Remove(id);
            }
            await ForwardAsync(pair.Error, pair.Data).ConfigureAwait(false);
        }

        private async Task ForwardAsync(SpdyStream error, SpdyStream data)
        {
            try
            {
                var portText = data.Headers.GetValueOrDefault("port");
                if (!ushort.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port == 0)
                {
                    await FailAsync(error, data, $"error forwarding port {portText} to pod {podName}: unable to parse port \"{portText}\"").ConfigureAwait(false);
                    return;
                }
                var (uid, target) = Target(port);
                using var upstream = new TcpClient { NoDelay = true };
                try
                {
                    if (target is null) throw new SocketException((int)SocketError.ConnectionRefused);
                    using var connect = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    await upstream.ConnectAsync(target.Value.Host, target.Value.Port, connect.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException)
                {
                    await FailAsync(error, data,
                        $"error forwarding port {port} to pod {uid}, uid : failed to execute portforward in network namespace \"/var/run/netns/cni-{uid}\": " +
                        $"failed to connect to localhost:{port} inside namespace \"{uid}\", IPv4: dial tcp4 127.0.0.1:{port}: connect: connection refused " +
                        $"IPv6 dial tcp6 [::1]:{port}: connect: connection refused ").ConfigureAwait(false);
                    return;
                }
                var socket = upstream.GetStream();
                var toPod = Task.Run(async () =>
                {
                    var buf = new byte[16384];
                    int n;
                    while ((n = await data.ReadAsync(buf, CancellationToken.None).ConfigureAwait(false)) > 0)
                        await socket.WriteAsync(buf.AsMemory(0, n)).ConfigureAwait(false);
                    // the client half-closed (or reset): the pod sees the end of its request
                    try { upstream.Client.Shutdown(SocketShutdown.Send); } catch (Exception) { }
                });
                var fromPod = Task.Run(async () =>
                {
                    var buf = new byte[16384];
                    int n;
                    while ((n = await socket.ReadAsync(buf).ConfigureAwait(false)) > 0)
                        await data.WriteAsync(buf.AsMemory(0, n)).ConfigureAwait(false);
                });
                // done when the pod closes its side, or the client resets the data stream
                await Task.WhenAny(fromPod, data.Reset).ConfigureAwait(false);
                await data.CloseAsync().ConfigureAwait(false);
                await error.CloseAsync().ConfigureAwait(false);
                upstream.Close();
                await Task.WhenAny(Task.WhenAll(toPod, fromPod), Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
            }
            catch (Exception) when (error.IsReset || data.IsReset) { }
            finally
            {
                error.Forget();
                data.Forget();
            }
        }

        private static async Task FailAsync(SpdyStream error, SpdyStream data, string message)
        {
            await error.WriteAsync(Encoding.UTF8.GetBytes(message)).ConfigureAwait(false);
            await error.CloseAsync().ConfigureAwait(false);
            await data.CloseAsync().ConfigureAwait(false);
        }

        /// <summary>
        /// What listens on the pod's port: the simulated container registered for the pod IP (vLLM on 8000), or, in a
        /// gateway pod, the gateway proxy on the Gateway's address and listener port. Null when nothing does.
        /// </summary>
        private (string Uid, (string Host, int Port)? Target) Target(int port)
        {
            lock (core.Gate)
            {
                var pod = core.Peek("", "pods", ns, podName);
                var uid = pod?.Str("metadata", "uid") ?? "";
                if (pod is null || pod.Str("status", "phase") != "Running") return (uid, null);
                var ip = pod.Str("status", "podIP");
                if (ip is not null && EndpointOverrides.IsOverridden(ip, port)) return (uid, EndpointOverrides.Resolve(ip, port));
                if (pod.Labels().GetValueOrDefault("gateway.networking.k8s.io/gateway-name") is { } gwName &&
                    core.Peek("gateway.networking.k8s.io", "gateways", ns, gwName) is { } gw &&
                    (gw.Arr("spec", "listeners") ?? []).Any(l => (l.Long("port") ?? 80) == port) &&
                    gw.Arr("status", "addresses")?.FirstOrDefault().Str("value") is { } address)
                    return (uid, EndpointOverrides.Resolve(address, port));
                return (uid, null);
            }
        }
    }

    /// <summary>The bytes of a WebSocket's binary messages as a duplex stream (the SPDY-over-WebSocket tunnel).</summary>
    private sealed class WebSocketByteStream(WebSocket ws) : Stream
    {
        private readonly SemaphoreSlim _send = new(1, 1);

        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            while (true)
            {
                if (ws.State is not (WebSocketState.Open or WebSocketState.CloseSent)) return 0;
                ValueWebSocketReceiveResult r;
                try { r = await ws.ReceiveAsync(buffer, cancellationToken).ConfigureAwait(false); }
                catch (WebSocketException) { return 0; }
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    try { await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None).ConfigureAwait(false); } catch (Exception) { }
                    return 0;
                }
                if (r.Count > 0) return r.Count;
            }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await _send.WaitAsync(cancellationToken).ConfigureAwait(false);
            try { await ws.SendAsync(buffer, WebSocketMessageType.Binary, true, cancellationToken).ConfigureAwait(false); }
            catch (WebSocketException e) { throw new IOException(e.Message, e); }
            finally { _send.Release(); }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();
        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) ws.Dispose();
            base.Dispose(disposing);
        }
    }
}
