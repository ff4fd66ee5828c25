using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using RhaiiGke.Engine.Gke;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Engine.Kube.Platform;
using RhaiiGke.Engine.Net;
using RhaiiGke.Sandbox.KubeApi;
using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.Kube;

/// <summary>
/// Every failure below HTTP reaches the user classified: an API server that is gone (refused, reset), a host name that
/// does not resolve, a TLS handshake that fails, a timeout; with a stable ErrorId and a fix, on the Kubernetes and the
/// GKE paths, and without retrying what retrying cannot fix.
/// </summary>
public sealed class FailureClassificationTests
{
    [Fact]
    public void TransportExceptionsAreClassifiedByKind()
    {
        Assert.Equal(TransportFailureKind.Unreachable, TransportFailure.Classify(
            new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused (127.0.0.1:1)", new SocketException((int)SocketError.ConnectionRefused))));
        Assert.Equal(TransportFailureKind.NameResolution, TransportFailure.Classify(
            new HttpRequestException(HttpRequestError.NameResolutionError, "Name or service not known (nosuch.invalid:443)", new SocketException((int)SocketError.HostNotFound))));
        Assert.Equal(TransportFailureKind.Tls, TransportFailure.Classify(
            new HttpRequestException(HttpRequestError.SecureConnectionError, "The SSL connection could not be established", new AuthenticationException("The remote certificate is invalid: RemoteCertificateNameMismatch"))));
        Assert.Equal(TransportFailureKind.Timeout, TransportFailure.Classify(new TaskCanceledException("timeout", new TimeoutException())));
        Assert.Equal(TransportFailureKind.Unreachable, TransportFailure.Classify(
            new HttpRequestException(HttpRequestError.ResponseEnded, "The response ended prematurely.", new IOException("reset"))));
        Assert.Null(TransportFailure.Classify(new InvalidOperationException("not a transport failure")));
        Assert.True(TransportFailure.IsPermanent(new HttpRequestException(HttpRequestError.SecureConnectionError, "x", new AuthenticationException("y"))));
        Assert.False(TransportFailure.IsPermanent(new HttpRequestException(HttpRequestError.ConnectionError, "x", new SocketException((int)SocketError.ConnectionRefused))));
    }

    [Fact]
    public async Task ARefusedConnectionIsClusterUnreachableAndNotRetriedPastItsBudget()
    {
        var port = ClosedPort();
        var conn = ClusterConnector.FromEndpoint(new Uri($"http://127.0.0.1:{port}"), null, null, false, "default", "gone");
        using var client = new KubeClient(ClusterConnector.ToConfig(conn)) { UnreachableRetryBudget = TimeSpan.Zero };
        var ex = await Assert.ThrowsAnyAsync<HttpRequestException>(() => client.SendAsync(HttpMethod.Get, "/api/v1/namespaces", null, null, CancellationToken.None));
        // the budget is spent: the first failure is final, not 6 read retries deep
        Assert.Equal(0, client.ReadRetriesDone);
        var rhaii = FailureClassifier.Classify(ex)!;
        Assert.Equal("ClusterUnreachable", rhaii.ErrorId);
        Assert.Equal(RhaiiErrorCategory.ConnectionError, rhaii.Category);
        Assert.Contains($"127.0.0.1:{port}", rhaii.Message);
        Assert.False(string.IsNullOrEmpty(rhaii.RecommendedAction));
    }

    [Fact]
    public async Task AnUntrustedOrMismatchedCertificateIsKubeApiTlsFailedAndNeverRetried()
    {
        using var server = new TlsServer();
        var conn = ClusterConnector.FromEndpoint(new Uri($"https://127.0.0.1:{server.Port}"), null, null, false, "default", "tls");
        var ex = await Assert.ThrowsAsync<RhaiiException>(() => ClusterConnector.VerifyAsync(conn, CancellationToken.None));
        Assert.Equal("KubeApiTlsFailed", ex.ErrorId);
        Assert.Equal(RhaiiErrorCategory.SecurityError, ex.Category);
        Assert.Contains("certificate", ex.RecommendedAction);
        Assert.Equal(1, server.Handshakes); // DNS and TLS failures are final: one attempt, no retries
    }

    [Fact]
    public async Task OnTheGkePathATlsFailureIsGkeTlsFailed()
    {
        using var server = new TlsServer();
        using var transport = new GoogleApiTransport(new FixedToken(), NullRhaiiLog.Instance, false, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(5));
        var ex = await Assert.ThrowsAsync<GkeApiException>(() => transport.GetAsync(new Uri($"https://127.0.0.1:{server.Port}/v1/projects/p/locations/z/clusters"), "clusters of p", CancellationToken.None));
        Assert.Equal("GkeTlsFailed", ex.ErrorId);
        Assert.Equal(RhaiiErrorCategory.SecurityError, ex.Category);
        Assert.Equal(1, server.Handshakes);
    }

    [Fact]
    public async Task OnTheGkePathAnUnresolvableHostIsGkeNameNotResolved()
    {
        using var transport = new GoogleApiTransport(new FixedToken(), NullRhaiiLog.Instance, false, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(5));
        var ex = await Assert.ThrowsAsync<GkeApiException>(() => transport.GetAsync(new Uri("https://container.nosuch-host.invalid/v1/projects/p"), "project p", CancellationToken.None));
        Assert.Equal("GkeNameNotResolved", ex.ErrorId);
    }

    [Fact]
    public async Task StoppingTheApiServerMidInstallGivesClusterUnreachable()
    {
        var options = KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(15));
        var sim = new KubeApiSimulator(options);
        sim.Start();
        var install = new PlatformInstaller(Fast.Connect(sim)).InstallAsync(new RhaiiInstallOptions { Apply = Fast.Options(timeout: TimeSpan.FromMinutes(3)) }, CancellationToken.None);
        // mid-install: once cert-manager's namespace exists (an event, not a sleep), the server goes away
        await Until(() => sim.GetObject("v1", "Namespace", null, "cert-manager") is not null || install.IsCompleted);
        Assert.False(install.IsCompleted);
        sim.Dispose();
        var ex = await Assert.ThrowsAsync<RhaiiException>(() => install);
        Assert.Equal("ClusterUnreachable", ex.ErrorId);
        Assert.Equal(RhaiiErrorCategory.ConnectionError, ex.Category);
        Assert.Contains("Start-RhaiiSandbox", ex.RecommendedAction);
    }

    [Fact]
    public async Task A401Or403FromTheApiServerIsAnAuthenticationOrPermissionError()
    {
        var options = KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(15));
        options.BearerToken = "the-right-token";
        using var sim = new KubeApiSimulator(options);
        sim.Start();
        // no token: the server answers 401 to everything
        var anonymous = ClusterConnector.FromEndpoint(new Uri(sim.Server), null, sim.CaCertificateData, false, "default", "anonymous");
        var ex = await Assert.ThrowsAsync<RhaiiException>(() => new ApplyEngine(anonymous).ApplyAsync(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: default}\ndata: {a: b}\n", Fast.Options("demo"), CancellationToken.None));
        Assert.Equal("KubeApiUnauthorized", ex.ErrorId);
        Assert.Equal(RhaiiErrorCategory.AuthenticationError, ex.Category);
        Assert.Contains("Connect-RhaiiCluster", ex.RecommendedAction);

        var wrong = new System.Security.SecureString();
        foreach (var ch in "a-wrong-token") wrong.AppendChar(ch);
        var conn = ClusterConnector.FromEndpoint(new Uri(sim.Server), wrong, sim.CaCertificateData, false, "default", "wrong");
        ex = await Assert.ThrowsAsync<RhaiiException>(() => ClusterConnector.VerifyAsync(conn, CancellationToken.None));
        Assert.Equal("KubeApiUnauthorized", ex.ErrorId);
        Assert.DoesNotContain("a-wrong-token", ex.Message);

        Assert.Equal("KubeForbidden", FailureClassifier.Classify(new KubeApiException(403, "Forbidden",
            "namespaces is forbidden: User \"dev\" cannot create resource \"namespaces\"", null, null, "POST", "/api/v1/namespaces"))!.ErrorId);
    }

    [Fact]
    public void TheCmdletsReportAStoppedSandboxWithAnErrorIdAndAFix()
    {
        using var ps = new PowerShellHost();
        var name = "gone-" + Guid.NewGuid().ToString("N")[..6];
        ps.Run($"$sb = Start-RhaiiSandbox -Name {name} -NoConnect -ControllerDelay 00:00:00.01; Stop-RhaiiSandbox {name}");
        var (_, errors) = ps.Invoke("Install-RhaiiOperators -Cluster $sb.Connection -Confirm:$false");
        var e = Assert.Single(errors);
        Assert.StartsWith("ClusterUnreachable,", e.FullyQualifiedErrorId);
        Assert.Equal(System.Management.Automation.ErrorCategory.ConnectionError, e.CategoryInfo.Category);
        Assert.False(string.IsNullOrEmpty(e.ErrorDetails?.RecommendedAction));
    }

    private static async Task Until(Func<bool> condition)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        while (!condition()) await Task.Delay(5, cts.Token);
    }

    private static int ClosedPort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private sealed class FixedToken : IAccessTokenSource
    {
        public string Description => "access token";
        public string? ProjectId => null;
        public Task<string> GetTokenAsync(CancellationToken cancellationToken) => Task.FromResult("ya29.test");
    }

    /// <summary>An HTTPS server whose self-signed certificate is for another host name: the handshake must fail on the client.</summary>
    private sealed class TlsServer : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly X509Certificate2 _cert;
        private readonly CancellationTokenSource _cts = new();
        private int _handshakes;

        public TlsServer()
        {
            using var key = RSA.Create(2048);
            var req = new CertificateRequest("CN=not-this-host.example", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName("not-this-host.example");
            req.CertificateExtensions.Add(san.Build());
            using var c = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            _cert = X509CertificateLoader.LoadPkcs12(c.Export(X509ContentType.Pfx), null);
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            _ = AcceptAsync();
        }

        public int Port { get; }
        public int Handshakes => Volatile.Read(ref _handshakes);

        private async Task AcceptAsync()
        {
            while (!_cts.IsCancellationRequested)
            {
                TcpClient tcp;
                try { tcp = await _listener.AcceptTcpClientAsync(_cts.Token); }
                catch (Exception) { return; }
                Interlocked.Increment(ref _handshakes);
                _ = Task.Run(async () =>
                {
                    using (tcp)
                    using (var ssl = new SslStream(tcp.GetStream()))
                    {
                        try
                        {
                            await ssl.AuthenticateAsServerAsync(_cert, false, false);
                            await ssl.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}"));
                        }
                        catch (Exception) { }
                    }
                });
            }
        }

        public void Dispose()
        {
            _cts.Cancel();
            _listener.Stop();
            _cert.Dispose();
        }
    }
}
