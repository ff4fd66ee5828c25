using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Sandbox.KubeApi;
using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.KubeApi;

/// <summary>The Kubernetes sandbox is served like a real cluster: HTTPS only with its own CA, bearer-token authentication.</summary>
public sealed class SandboxTlsTests : IDisposable
{
    private readonly KubeApiSimulator _sim = new(KubeApiSimulatorOptions.Fast());
    private readonly KubeApiSimulator _other = new(KubeApiSimulatorOptions.Fast());

    public SandboxTlsTests()
    {
        _sim.Start();
        _other.Start();
    }

    public void Dispose()
    {
        _sim.Dispose();
        _other.Dispose();
    }

    /// <summary>Trusts only <paramref name="ca"/> (no system roots), checking the host name as any client does.</summary>
    private static HttpClient Trusting(X509Certificate2 ca) => new(new SocketsHttpHandler
    {
        SslOptions = new SslClientAuthenticationOptions
        {
            RemoteCertificateValidationCallback = (_, cert, _, errors) =>
            {
                if (cert is null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0) return false;
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(new X509Certificate2(cert));
            },
        },
    });

    [Fact]
    public async Task ServesHttpsOnlyWithACertificateItsOwnCaSignsFor127001AndLocalhost()
    {
        Assert.StartsWith("https://127.0.0.1:", _sim.Server);
        var port = new Uri(_sim.Server).Port;

        // the handshake: ALPN settles on http/1.1 even when h2 is offered (kubectl offers both)
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        await using var tls = new SslStream(tcp.GetStream());
        X509Certificate2? served = null;
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "127.0.0.1",
            ApplicationProtocols = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11],
            RemoteCertificateValidationCallback = (_, c, _, _) => { served = new X509Certificate2(c!); return true; },
        });
        Assert.Equal(SslApplicationProtocol.Http11, tls.NegotiatedApplicationProtocol);
        Assert.NotNull(served);
        var san = served!.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Contains(IPAddress.Loopback, san.EnumerateIPAddresses());
        Assert.Contains("localhost", san.EnumerateDnsNames());
        Assert.Contains(served.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>(), o => o.Value == "1.3.6.1.5.5.7.3.1");
        Assert.False(served.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        Assert.Equal(_sim.CaCertificate.Subject, served.Issuer);
        Assert.True(_sim.CaCertificate.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        Assert.NotEqual(_sim.CaCertificate.Thumbprint, _other.CaCertificate.Thumbprint);
        Assert.NotEqual(_sim.Token, _other.Token);

        // both names clients dial verify against the sandbox CA; the other sandbox's CA does not
        using var ok = Trusting(_sim.CaCertificate);
        ok.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _sim.Token);
        Assert.Equal(HttpStatusCode.OK, (await ok.GetAsync(_sim.Server + "/version")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ok.GetAsync(_sim.Server.Replace("127.0.0.1", "localhost") + "/api/v1/namespaces")).StatusCode);
        using var wrongCa = Trusting(_other.CaCertificate);
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => wrongCa.GetAsync(_sim.Server + "/version"));
        Assert.NotNull(ClusterConnector.TlsFailure(refused));

        // plain HTTP to the HTTPS port gets what Go's TLS server answers
        using var plain = new HttpClient();
        var res = await plain.GetAsync(_sim.Server.Replace("https://", "http://") + "/version");
        Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
        Assert.Equal("Client sent an HTTP request to an HTTPS server.\n", await res.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AMissingOrWrongTokenIs401WithTheApiServersStatusBody()
    {
        using var http = Trusting(_sim.CaCertificate);
        foreach (var auth in new[] { null, "Bearer " + _other.Token, "Bearer ", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:" + _sim.Token)), "Bearer " + _sim.Token + "x" })
        {
            foreach (var path in new[] { "/api/v1/namespaces", "/version", "/apis" })
            {
                using var req = new HttpRequestMessage(HttpMethod.Get, _sim.Server + path);
                if (auth is not null) req.Headers.TryAddWithoutValidation("Authorization", auth);
                using var res = await http.SendAsync(req);
                Assert.Equal(HttpStatusCode.Unauthorized, res.StatusCode);
                Assert.Equal("application/json", res.Content.Headers.ContentType?.MediaType);
                var body = JsonNode.Parse(await res.Content.ReadAsStringAsync())!;
                Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"""), body), body.ToJsonString());
            }
        }
        // a write without a token changes nothing
        using var create = new HttpRequestMessage(HttpMethod.Post, _sim.Server + "/api/v1/namespaces")
        {
            Content = new StringContent("""{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"sneaky"}}""", Encoding.UTF8, "application/json"),
        };
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(create)).StatusCode);
        Assert.Null(_sim.GetObject("v1", "Namespace", null, "sneaky"));

        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _sim.Token);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(_sim.Server + "/api/v1/namespaces")).StatusCode);
    }

    [Fact]
    public async Task TheModulesConnectionVerifiesTheSandboxCaAndToken()
    {
        var good = await ClusterConnector.VerifyAsync(_sim.Connection(), CancellationToken.None);
        Assert.Equal("v1.32.4", good.ServerVersion);

        // another sandbox's CA: the certificate is rejected, with no retries and a clear error
        var wrongCa = ClusterConnector.FromEndpoint(new Uri(_sim.Server), new NetworkCredential("", _sim.Token).SecurePassword, _other.CaCertificateData, false, "default", "wrong-ca");
        var sw = Stopwatch.StartNew();
        var tls = await Assert.ThrowsAsync<RhaiiException>(() => ClusterConnector.VerifyAsync(wrongCa, CancellationToken.None));
        Assert.Equal("KubeApiTlsFailed", tls.ErrorId);
        Assert.Equal(RhaiiErrorCategory.SecurityError, tls.Category);
        Assert.Contains(_sim.Server, tls.Message);
        Assert.Contains("CA", tls.RecommendedAction);
        var before = _sim.Stats.Requests;

        // no CA at all: the system trust store does not know the sandbox CA either
        var noCa = ClusterConnector.FromEndpoint(new Uri(_sim.Server), new NetworkCredential("", _sim.Token).SecurePassword, null, false, "default", "no-ca");
        Assert.Equal("KubeApiTlsFailed", (await Assert.ThrowsAsync<RhaiiException>(() => ClusterConnector.VerifyAsync(noCa, CancellationToken.None))).ErrorId);
        Assert.Equal(before, _sim.Stats.Requests); // nothing reached the API

        // another sandbox's token: 401, an authentication error that names the server and never the token
        var wrongToken = ClusterConnector.FromEndpoint(new Uri(_sim.Server), new NetworkCredential("", _other.Token).SecurePassword, _sim.CaCertificateData, false, "default", "wrong-token");
        var unauthorized = await Assert.ThrowsAsync<RhaiiException>(() => ClusterConnector.VerifyAsync(wrongToken, CancellationToken.None));
        Assert.Equal("KubeApiUnauthorized", unauthorized.ErrorId);
        Assert.Equal(RhaiiErrorCategory.AuthenticationError, unauthorized.Category);
        Assert.Contains(_sim.Server, unauthorized.Message);
        Assert.DoesNotContain(_other.Token, unauthorized.ToString());
        Assert.DoesNotContain(_sim.Token, tls.ToString());

        // and through the cmdlet, as a user sees it
        using var ps = new PowerShellHost();
        var (_, errors) = ps.Invoke("Connect-RhaiiCluster -Endpoint $s -Token $t -CertificateAuthority $ca -NoDefault",
            new Dictionary<string, object?> { ["s"] = new Uri(_sim.Server), ["t"] = new NetworkCredential("", _sim.Token).SecurePassword, ["ca"] = _other.CaCertificatePem });
        Assert.StartsWith("KubeApiTlsFailed,", Assert.Single(errors).FullyQualifiedErrorId);
        (_, errors) = ps.Invoke("Connect-RhaiiCluster -Endpoint $s -Token $t -CertificateAuthority $ca -NoDefault",
            new Dictionary<string, object?> { ["s"] = new Uri(_sim.Server), ["t"] = new NetworkCredential("", "not-the-token").SecurePassword, ["ca"] = _sim.CaCertificatePem });
        Assert.StartsWith("KubeApiUnauthorized,", Assert.Single(errors).FullyQualifiedErrorId);
    }

    [Fact]
    public async Task AWatchStreamsEventsThroughTheTlsFrontAsTheyHappen()
    {
        using var client = new Kubernetes(_sim.ClientConfig());
        var list = await client.CoreV1.ListNamespacedConfigMapAsync("default");
        var seen = new System.Collections.Concurrent.BlockingCollection<string>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var watching = Task.Run(async () =>
        {
            await foreach (var (type, cm) in client.CoreV1.WatchListNamespacedConfigMapAsync("default", resourceVersion: list.Metadata.ResourceVersion, cancellationToken: cts.Token))
                seen.Add($"{type} {cm.Metadata.Name}");
        });
        for (var i = 0; i < 3; i++)
        {
            await client.CoreV1.CreateNamespacedConfigMapAsync(new k8s.Models.V1ConfigMap { Metadata = new() { Name = $"cm{i}" } }, "default");
            // each event arrives before the next write: the front forwards bytes as they come, nothing is buffered
            Assert.True(seen.TryTake(out var ev, TimeSpan.FromSeconds(30)), $"no event for cm{i}");
            Assert.Equal($"Added cm{i}", ev);
        }
        cts.Cancel();
        await Task.WhenAny(watching, Task.Delay(TimeSpan.FromSeconds(10)));
    }

    [KubectlFact]
    public void KubectlUsesTheSandboxKubeconfigOverTlsAndIsRefusedWithAWrongTokenOrCa()
    {
        var dir = Directory.CreateTempSubdirectory("rhaii-kubectl-tls-");
        try
        {
            var cache = Path.Combine(dir.FullName, "cache");
            var kc = Path.Combine(dir.FullName, "kubeconfig");
            var text = _sim.Kubeconfig("tls");
            Assert.Contains("certificate-authority-data: " + _sim.CaCertificateData, text);
            Assert.DoesNotContain("insecure-skip-tls-verify", text);
            File.WriteAllText(kc, text);
            var ok = Kubectl.Run(kc, cache, "get ns -o name");
            Assert.True(ok.Code == 0, ok.Err);
            Assert.Contains("namespace/kube-system", ok.Out);

            var badToken = Path.Combine(dir.FullName, "bad-token");
            File.WriteAllText(badToken, text.Replace(_sim.Token, _other.Token));
            var denied = Kubectl.Run(badToken, cache, "get ns");
            Assert.NotEqual(0, denied.Code);
            Assert.Contains("You must be logged in to the server (Unauthorized)", denied.Err);

            var badCa = Path.Combine(dir.FullName, "bad-ca");
            File.WriteAllText(badCa, text.Replace(_sim.CaCertificateData, _other.CaCertificateData));
            var untrusted = Kubectl.Run(badCa, cache + "-2", "get ns");
            Assert.NotEqual(0, untrusted.Code);
            Assert.Contains("certificate signed by unknown authority", untrusted.Err);
        }
        finally { dir.Delete(true); }
    }

    [PythonKubernetesFact]
    public void ThePythonKubernetesClientConnectsWithTheKubeconfigCaAndToken()
    {
        var dir = Directory.CreateTempSubdirectory("rhaii-python-tls-");
        try
        {
            var kc = Path.Combine(dir.FullName, "kubeconfig");
            File.WriteAllText(kc, _sim.Kubeconfig("py"));
            var script = """
                import sys
                from kubernetes import client, config
                config.load_kube_config(config_file=sys.argv[1])
                assert client.Configuration.get_default_copy().verify_ssl
                names = sorted(n.metadata.name for n in client.CoreV1Api().list_namespace().items)
                print(",".join(names))
                """;
            var (code, stdout, stderr) = PythonKubernetes.Run(script, kc);
            Assert.True(code == 0, stderr);
            Assert.Contains("kube-system", stdout);
        }
        finally { dir.Delete(true); }
    }
}

/// <summary>Runs with python3 and Debian's python3-kubernetes (skipped when they are not installed).</summary>
public sealed class PythonKubernetesFactAttribute : FactAttribute
{
    public PythonKubernetesFactAttribute()
    {
        if (!PythonKubernetes.Available) Skip = "python3 with the kubernetes package is not installed (apt-get install python3-kubernetes) to run the Python-client test";
    }
}

internal static class PythonKubernetes
{
    /// <summary>The first python3 that imports kubernetes: Debian's (/usr/bin/python3, where python3-kubernetes installs) before the one on PATH.</summary>
    private static readonly string? Python = new[] { "/usr/bin/python3", "python3" }.FirstOrDefault(p =>
    {
        try { return Run(p, "import kubernetes").Code == 0; }
        catch (System.ComponentModel.Win32Exception) { return false; }
    });

    public static bool Available => Python is not null;

    public static (int Code, string Out, string Err) Run(string script, params string[] args) => Run(Python!, script, args);

    private static (int Code, string Out, string Err) Run(string python, string script, params string[] args)
    {
        var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove("KUBECONFIG");
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000)) { p.Kill(true); throw new TimeoutException("python3"); }
        return (p.ExitCode, o.Result, e.Result);
    }
}
