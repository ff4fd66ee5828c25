using System.Net;
using System.Security.Cryptography.X509Certificates;
using k8s;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Sandbox.KubeApi;

namespace RhaiiGke.Tests.KubeApi;

/// <summary>How tests reach a Kubernetes API simulator: like any cluster, over HTTPS verifying its CA, with its bearer token.</summary>
internal static class SimClients
{
    /// <summary>KubernetesClient configuration trusting only the simulator's CA, with its token (or <paramref name="token"/>).</summary>
    public static KubernetesClientConfiguration ClientConfig(this KubeApiSimulator sim, string? token = null) => new()
    {
        Host = sim.Server,
        AccessToken = token ?? sim.Token,
        SslCaCerts = new X509Certificate2Collection { sim.CaCertificate },
    };

    /// <summary>A raw HttpClient that trusts only the simulator's CA and sends its bearer token.</summary>
    public static HttpClient HttpClient(this KubeApiSimulator sim)
    {
        var ca = sim.CaCertificate;
        var http = new System.Net.Http.HttpClient(new SocketsHttpHandler
        {
            SslOptions = new System.Net.Security.SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, cert, _, errors) =>
                {
                    if (cert is null || (errors & System.Net.Security.SslPolicyErrors.RemoteCertificateNameMismatch) != 0) return false;
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.Add(ca);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return chain.Build(new X509Certificate2(cert));
                },
            },
        });
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", sim.Token);
        return http;
    }

    /// <summary>A module connection (endpoint, token, CA) to the simulator.</summary>
    public static ClusterConnection Connection(this KubeApiSimulator sim, string name = "sandbox", string @namespace = "default") =>
        ClusterConnector.FromEndpoint(new Uri(sim.Server), new NetworkCredential("", sim.Token).SecurePassword, sim.CaCertificateData, false, @namespace, name);
}
