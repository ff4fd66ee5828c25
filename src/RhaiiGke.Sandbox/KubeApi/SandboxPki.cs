using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace RhaiiGke.Sandbox.KubeApi;

/// <summary>
/// A Kubernetes sandbox's own certificate authority and the API server's serving certificate signed by it,
/// as kubeadm or GKE make them: a CA (basicConstraints CA:TRUE, keyCertSign) and a server certificate with
/// serverAuth and the SANs clients dial (127.0.0.1, localhost, the in-cluster kubernetes names). ECDSA P-256
/// keys, generated in memory per sandbox (milliseconds, unlike RSA); the private keys never leave the process.
/// </summary>
internal sealed class SandboxPki : IDisposable
{
    private SandboxPki(X509Certificate2 ca, X509Certificate2 server)
    {
        Ca = ca;
        Server = server;
        CaPem = ca.ExportCertificatePem() + "\n";
        // built once here (it is the slow part of a first TLS server in a process), not per handshake
        ServerContext = SslStreamCertificateContext.Create(server, additionalCertificates: null, offline: true);
    }

    /// <summary>What SslStream serves: the serving certificate, ready for handshakes.</summary>
    public SslStreamCertificateContext ServerContext { get; }

    /// <summary>The CA certificate (public part only).</summary>
    public X509Certificate2 Ca { get; }

    /// <summary>The serving certificate with its private key.</summary>
    public X509Certificate2 Server { get; }

    /// <summary>The CA as PEM: what kubeconfig's certificate-authority-data and GKE's masterAuth.clusterCaCertificate carry (base64 of this).</summary>
    public string CaPem { get; }

    public static SandboxPki Create(string name)
    {
        var notBefore = DateTimeOffset.UtcNow.AddHours(-1);
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caReq = new CertificateRequest(new X500DistinguishedName($"CN={name}-ca"), caKey, HashAlgorithmName.SHA256);
        caReq.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caReq.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
        caReq.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caReq.PublicKey, false));
        using var caWithKey = caReq.CreateSelfSigned(notBefore, notBefore.AddYears(10));

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest(new X500DistinguishedName("CN=kube-apiserver"), key, HashAlgorithmName.SHA256);
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        req.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        foreach (var dns in new[] { "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local" }) san.AddDnsName(dns);
        req.CertificateExtensions.Add(san.Build());
        req.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(req.PublicKey, false));
        req.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(caWithKey, true, false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] = (byte)((serial[0] & 0x3F) | 0x40); // positive, minimal DER
        using var signed = req.Create(caWithKey, notBefore, notBefore.AddYears(1), serial);
        var server = signed.CopyWithPrivateKey(key);
        if (OperatingSystem.IsWindows())
        {
            // SChannel cannot use an ephemeral key: round-trip through PKCS#12
            var pfx = server.Export(X509ContentType.Pkcs12);
            server.Dispose();
            server = new X509Certificate2(pfx, (string?)null, X509KeyStorageFlags.Exportable);
        }
        var ca = new X509Certificate2(caWithKey.RawData);
        return new SandboxPki(ca, server);
    }

    public void Dispose()
    {
        Ca.Dispose();
        Server.Dispose();
    }
}
