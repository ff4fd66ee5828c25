using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;

namespace RhaiiGke.Sandbox.KubeApi;

/// <summary>
/// The HTTPS side of the Kubernetes API simulator. The managed HttpListener cannot serve TLS on Linux, so this
/// terminates TLS on the public loopback port (ALPN http/1.1 only, so kubectl does not try h2) and pipes the
/// plaintext bytes of each connection to the HttpListener on a private loopback port. Bytes are forwarded as
/// they arrive, so watch streams and chunked responses flush as before. The listener accepts only connections
/// that come through this pipe (<see cref="IsPiped"/>); a client speaking plain HTTP to the HTTPS port gets the
/// answer Go's TLS server (the real kube-apiserver) gives.
/// </summary>
internal sealed class TlsFrontEnd : IDisposable
{
    private static readonly byte[] PlainHttpAnswer = Encoding.ASCII.GetBytes("HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n");
    private readonly SslStreamCertificateContext _certificate;
    private readonly IPEndPoint _backend;
    private readonly CancellationTokenSource _cts = new();
    private readonly ConcurrentDictionary<int, byte> _pipePorts = new();
    private readonly ConcurrentDictionary<Socket, byte> _open = new();
    private TcpListener? _listener;
    private Task? _loop;

    public TlsFrontEnd(SandboxPki pki, IPEndPoint backend)
    {
        _certificate = pki.ServerContext;
        _backend = backend;
    }

    public int Port { get; private set; }

    /// <summary>
    /// Takes a connection whose first request is one it serves itself on the raw stream (the port-forward upgrade,
    /// which the HttpListener cannot hand over): called with that request's head; true when it served the connection.
    /// </summary>
    public Func<string, Stream, CancellationToken, Task<bool>>? Upgrade { get; init; }

    /// <summary>TLS handshakes that failed (client rejected the certificate, spoke plain HTTP, went away).</summary>
    public long HandshakeFailures => Interlocked.Read(ref _handshakeFailures);
    private long _handshakeFailures;

    public int Start()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start(512);
        _listener = l;
        Port = ((IPEndPoint)l.LocalEndpoint).Port;
        _loop = Task.Run(AcceptLoop);
        return Port;
    }

    /// <summary>True when <paramref name="remote"/> (as the HttpListener sees a client) is one of this front's pipes.</summary>
    public bool IsPiped(IPEndPoint? remote) => remote is not null && IPAddress.IsLoopback(remote.Address) && _pipePorts.ContainsKey(remote.Port);

    private async Task AcceptLoop()
    {
        while (!_cts.IsCancellationRequested && _listener is { } l)
        {
            Socket client;
            try { client = await l.AcceptSocketAsync(_cts.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            catch (SocketException) when (_cts.IsCancellationRequested) { return; }
            catch (SocketException) { continue; }
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(Socket client)
    {
        _open[client] = 0;
        Socket? back = null;
        var reset = false;
        try
        {
            client.NoDelay = true;
            using var handshake = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token);
            handshake.CancelAfter(TimeSpan.FromSeconds(30));
            var first = new byte[1];
            if (await client.ReceiveAsync(first, SocketFlags.Peek, handshake.Token).ConfigureAwait(false) == 0) return;
            if (first[0] != 0x16) // not a TLS handshake record: someone speaks plain HTTP to the HTTPS port
            {
                Interlocked.Increment(ref _handshakeFailures);
                await client.SendAsync(PlainHttpAnswer, SocketFlags.None, handshake.Token).ConfigureAwait(false);
                // close gracefully: unread request bytes at close would turn the FIN into a reset and lose the answer
                client.Shutdown(SocketShutdown.Send);
                using var drain = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token);
                drain.CancelAfter(TimeSpan.FromSeconds(2));
                var sink = new byte[4096];
                while (await client.ReceiveAsync(sink, SocketFlags.None, drain.Token).ConfigureAwait(false) > 0) { }
                return;
            }
            await using var tls = new SslStream(new NetworkStream(client, ownsSocket: false), leaveInnerStreamOpen: false);
            try
            {
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                {
                    ServerCertificateContext = _certificate,
                    ApplicationProtocols = [SslApplicationProtocol.Http11],
                    ClientCertificateRequired = false,
                    EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                }, handshake.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException or SocketException)
            {
                Interlocked.Increment(ref _handshakeFailures);
                return;
            }

            var head = Upgrade is null ? [] : await ReadHeadAsync(tls, _cts.Token).ConfigureAwait(false);
            if (head.Length > 0 && await Upgrade!(Encoding.Latin1.GetString(head), tls, _cts.Token).ConfigureAwait(false)) return;

            back = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            back.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            var localPort = ((IPEndPoint)back.LocalEndPoint!).Port;
            _pipePorts[localPort] = 0; // registered before a byte is forwarded, so the listener always knows the pipe
            _open[back] = 0;
            try
            {
                await back.ConnectAsync(_backend, _cts.Token).ConfigureAwait(false);
                await using var plain = new NetworkStream(back, ownsSocket: false);
                if (head.Length > 0) await plain.WriteAsync(head, _cts.Token).ConfigureAwait(false);
                var up = PumpAsync(tls, plain);
                var down = PumpAsync(plain, tls);
                var done = await Task.WhenAny(up, down).ConfigureAwait(false);
                if (done == down && await down.ConfigureAwait(false))
                {
                    // the server finished (Connection: close, or a watch that ended): close_notify, as Go's server does
                    try { await tls.ShutdownAsync().ConfigureAwait(false); } catch (Exception) { }
                }
                else if (done == down) reset = true;
                // either side gone: tear both down (a reset backend, e.g. a dropped watch, resets the client too)
            }
            finally
            {
                _pipePorts.TryRemove(localPort, out _);
            }
        }
        catch (Exception) { /* client or server went away */ }
        finally
        {
            if (back is not null)
            {
                _open.TryRemove(back, out _);
                try { back.Close(0); } catch (Exception) { }
            }
            _open.TryRemove(client, out _);
            try { if (reset) client.Close(0); else client.Close(); } catch (Exception) { }
        }
    }

    /// <summary>
    /// The bytes of the connection's first request head, through its blank line (or whatever came before the client
    /// stopped sending or 16 KiB, which are forwarded as they are). Read a byte at a time, so no body byte is taken.
    /// </summary>
    private static async Task<byte[]> ReadHeadAsync(Stream s, CancellationToken ct)
    {
        var head = new List<byte>(512);
        var one = new byte[1];
        while (head.Count < 16 * 1024)
        {
            if (await s.ReadAsync(one, ct).ConfigureAwait(false) == 0) break;
            head.Add(one[0]);
            if (one[0] == '\n' && head.Count >= 4 && head[^2] == '\r' && head[^3] == '\n' && head[^4] == '\r') break;
        }
        return [.. head];
    }

    /// <summary>Copies until the source ends; true when it ended cleanly (EOF), false on an error or reset.</summary>
    private async Task<bool> PumpAsync(Stream from, Stream to)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            while (true)
            {
                var n = await from.ReadAsync(buffer, _cts.Token).ConfigureAwait(false);
                if (n == 0) return true;
                await to.WriteAsync(buffer.AsMemory(0, n), _cts.Token).ConfigureAwait(false);
                await to.FlushAsync(_cts.Token).ConfigureAwait(false);
            }
        }
        catch (Exception) { return false; }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
    }

    public void Stop()
    {
        if (_cts.IsCancellationRequested) return;
        _cts.Cancel();
        try { _listener?.Stop(); } catch (Exception) { }
        foreach (var s in _open.Keys) { try { s.Close(0); } catch (Exception) { } }
        try { _loop?.Wait(TimeSpan.FromSeconds(2)); } catch (Exception) { }
    }

    public void Dispose() => Stop();
}
