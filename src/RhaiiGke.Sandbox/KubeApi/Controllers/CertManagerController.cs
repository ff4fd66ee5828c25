using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.KubeApi.Controllers;

/// <summary>Real X.509 material for the simulated cert-manager (System.Security.Cryptography only).</summary>
internal static class SimPki
{
    public sealed record Issued(string CertPem, string KeyPem, string CaPem);

    public static Issued Issue(string? commonName, IReadOnlyList<string> dnsNames, bool isCa, TimeSpan duration, string algorithm, int size,
        (X509Certificate2 Cert, AsymmetricAlgorithm Key)? signer)
    {
        var subject = new X500DistinguishedName(string.IsNullOrEmpty(commonName) ? "" : "CN=" + commonName.Replace(",", "\\,"));
        AsymmetricAlgorithm key;
        CertificateRequest req;
        if (algorithm.Equals("ECDSA", StringComparison.OrdinalIgnoreCase))
        {
            var ec = ECDsa.Create(size switch { 384 => ECCurve.NamedCurves.nistP384, 521 => ECCurve.NamedCurves.nistP521, _ => ECCurve.NamedCurves.nistP256 });
            key = ec;
            req = new CertificateRequest(subject, ec, HashAlgorithmName.SHA256);
        }
        else
        {
            var rsa = RSA.Create(size is >= 2048 ? size : 2048);
            key = rsa;
            req = new CertificateRequest(subject, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        }
        if (dnsNames.Count > 0)
        {
            var san = new SubjectAlternativeNameBuilder();
            foreach (var d in dnsNames) san.AddDnsName(d);
            req.CertificateExtensions.Add(san.Build());
        }
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(isCa, false, 0, true));
        req.CertificateExtensions.Add(new X509KeyUsageExtension(
            isCa ? X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.CrlSign
                 : X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        if (!isCa)
            req.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        req.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(req.PublicKey, false));
        var notBefore = DateTimeOffset.UtcNow.AddMinutes(-1);
        var notAfter = DateTimeOffset.UtcNow + duration;
        X509Certificate2 cert;
        string caPem;
        if (signer is { } s)
        {
            if (notAfter > s.Cert.NotAfter) notAfter = s.Cert.NotAfter.ToUniversalTime();
            var serial = RandomNumberGenerator.GetBytes(16);
            serial[0] &= 0x7f;
            var gen = s.Key switch
            {
                RSA r => X509SignatureGenerator.CreateForRSA(r, RSASignaturePadding.Pkcs1),
                ECDsa e => X509SignatureGenerator.CreateForECDsa(e),
                _ => throw new CryptographicException("unsupported CA key"),
            };
            cert = req.Create(s.Cert.SubjectName, gen, notBefore, notAfter, serial);
            caPem = s.Cert.ExportCertificatePem();
        }
        else
        {
            cert = key switch
            {
                RSA r => req.CreateSelfSigned(notBefore, notAfter),
                ECDsa e => req.CreateSelfSigned(notBefore, notAfter),
                _ => throw new CryptographicException("unsupported key"),
            };
            caPem = cert.ExportCertificatePem();
        }
        var keyPem = key switch
        {
            RSA r => r.ExportRSAPrivateKeyPem(),
            ECDsa e => e.ExportECPrivateKeyPem(),
            _ => throw new CryptographicException("unsupported key"),
        };
        var pem = cert.ExportCertificatePem();
        key.Dispose();
        return new Issued(pem + "\n", keyPem + "\n", caPem + "\n");
    }

    public static (X509Certificate2 Cert, AsymmetricAlgorithm Key) Load(string certPem, string keyPem)
    {
        var cert = X509Certificate2.CreateFromPem(certPem);
        AsymmetricAlgorithm key;
        if (keyPem.Contains("EC PRIVATE KEY", StringComparison.Ordinal) || (keyPem.Contains("PRIVATE KEY", StringComparison.Ordinal) && cert.GetECDsaPublicKey() is not null))
        {
            var ec = ECDsa.Create();
            ec.ImportFromPem(keyPem);
            key = ec;
        }
        else
        {
            var rsa = RSA.Create();
            rsa.ImportFromPem(keyPem);
            key = rsa;
        }
        return (cert, key);
    }

    public static string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));
    public static string UnB64(string? s) => s is null ? "" : Encoding.UTF8.GetString(Convert.FromBase64String(s));

    public static TimeSpan ParseDuration(string? s, TimeSpan fallback)
    {
        if (string.IsNullOrEmpty(s)) return fallback;
        var total = TimeSpan.Zero;
        var m = System.Text.RegularExpressions.Regex.Matches(s, @"(\d+(?:\.\d+)?)(h|m|s|ms)");
        foreach (System.Text.RegularExpressions.Match x in m)
        {
            var v = double.Parse(x.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            total += x.Groups[2].Value switch { "h" => TimeSpan.FromHours(v), "m" => TimeSpan.FromMinutes(v), "s" => TimeSpan.FromSeconds(v), _ => TimeSpan.FromMilliseconds(v) };
        }
        return total > TimeSpan.Zero ? total : fallback;
    }
}

/// <summary>
/// cert-manager when its Deployments run: Issuers/ClusterIssuers (selfSigned, ca) become Ready,
/// Certificates get a Secret with a real certificate and key, the webhook creates its serving CA and
/// the cainjector injects caBundle into annotated webhook configurations after a delay.
/// </summary>
internal sealed class CertManagerController(ControllerManager m) : SimController(m)
{
    private const string Group = "cert-manager.io";
    protected override string Name => "cert-manager-controller";
    private static readonly string[] ControllerNames = ["cert-manager"];
    private static readonly string[] WebhookNames = ["cert-manager-webhook"];
    private static readonly string[] CainjectorNames = ["cert-manager-cainjector"];
    private readonly Dictionary<string, DateTime> _issueAt = new();
    private readonly Dictionary<string, DateTime> _injectAt = new();

    public override void OnEvent(WatchEvent ev)
    {
        if (IsOperatorDeployment(ev, [.. ControllerNames, .. WebhookNames, .. CainjectorNames]))
        {
            EnqueueAll();
            return;
        }
        switch (ev.StoreKey)
        {
            case "cert-manager.io/issuers" or "cert-manager.io/clusterissuers":
                if (ev.Type != "DELETED") Enqueue((ev.StoreKey.EndsWith("clusterissuers") ? "ci:" : "i:") + KeyOf(ev.Object), Delays.IssuerReady);
                foreach (var c in All(Group, "certificates")) Enqueue("c:" + KeyOf(c));
                break;
            case "cert-manager.io/certificates":
                if (ev.Type != "DELETED") Enqueue("c:" + KeyOf(ev.Object));
                break;
            case "/secrets":
                foreach (var c in All(Group, "certificates", ev.Namespace)) if (c.Str("spec", "secretName") == ev.Object.Name()) Enqueue("c:" + KeyOf(c));
                foreach (var i in All(Group, "issuers", ev.Namespace)) Enqueue("i:" + KeyOf(i));
                foreach (var i in All(Group, "clusterissuers")) Enqueue("ci:" + i.Name());
                EnqueueInjection();
                break;
            case "admissionregistration.k8s.io/validatingwebhookconfigurations" or "admissionregistration.k8s.io/mutatingwebhookconfigurations" or "apiextensions.k8s.io/customresourcedefinitions":
                if (ev.Type != "DELETED" && Annotated(ev.Object)) Enqueue("inject:" + ev.StoreKey + ":" + ev.Object.Name());
                break;
        }
    }

    private void EnqueueAll()
    {
        foreach (var i in All(Group, "issuers")) Enqueue("i:" + KeyOf(i), Delays.IssuerReady);
        foreach (var i in All(Group, "clusterissuers")) Enqueue("ci:" + i.Name(), Delays.IssuerReady);
        foreach (var c in All(Group, "certificates")) Enqueue("c:" + KeyOf(c));
        Enqueue("webhook-ca");
        EnqueueInjection();
    }

    private void EnqueueInjection()
    {
        foreach (var sk in new[] { ("admissionregistration.k8s.io", "validatingwebhookconfigurations"), ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"), ("apiextensions.k8s.io", "customresourcedefinitions") })
            foreach (var o in All(sk.Item1, sk.Item2).Where(Annotated)) Enqueue($"inject:{sk.Item1}/{sk.Item2}:{o.Name()}");
    }

    private static bool Annotated(JsonObject o)
    {
        var a = o.Annotations();
        return a.ContainsKey("cert-manager.io/inject-ca-from") || a.ContainsKey("cert-manager.io/inject-ca-from-secret");
    }

    private string ClusterResourceNamespace() => FindOperator(ControllerNames)?.Namespace() ?? "cert-manager";

    public override void Reconcile(string key)
    {
        if (key == "webhook-ca") { WebhookCa(); return; }
        if (key.StartsWith("inject:", StringComparison.Ordinal)) { Inject(key[7..]); return; }
        if (!OperatorRunning(ControllerNames)) return;
        if (key.StartsWith("ci:", StringComparison.Ordinal)) { IssuerStatus("clusterissuers", null, key[3..]); return; }
        if (key.StartsWith("i:", StringComparison.Ordinal)) { var (ns, n) = Split(key[2..]); IssuerStatus("issuers", ns, n); return; }
        if (key.StartsWith("c:", StringComparison.Ordinal)) { var (ns, n) = Split(key[2..]); CertificateReconcile(ns!, n); }
    }

    private void WebhookCa()
    {
        var wh = FindOperator(WebhookNames);
        if (wh is null) return;
        var ns = wh.Namespace()!;
        if (Get("", "secrets", ns, "cert-manager-webhook-ca") is not null) return;
        var ca = SimPki.Issue("cert-manager-webhook-ca", [], true, TimeSpan.FromDays(365), "ECDSA", 256, null);
        Upsert(new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Secret", ["type"] = "Opaque",
            ["metadata"] = new JsonObject { ["name"] = "cert-manager-webhook-ca", ["namespace"] = ns },
            ["data"] = new JsonObject { ["ca.crt"] = SimPki.B64(ca.CertPem), ["tls.crt"] = SimPki.B64(ca.CertPem), ["tls.key"] = SimPki.B64(ca.KeyPem) },
        });
    }

    private void Inject(string rest)
    {
        if (!OperatorRunning(CainjectorNames)) return;
        var colon = rest.LastIndexOf(':');
        var storeKey = rest[..colon];
        var name = rest[(colon + 1)..];
        var slash = storeKey.IndexOf('/');
        var t = T(storeKey[..slash], storeKey[(slash + 1)..]);
        if (t is null) return;
        var obj = Core.Peek(t, null, name);
        if (obj is null) return;
        var expected = Core.ExpectedCaBundle(obj);
        if (expected is null || expected.StartsWith('<')) return; // the secret will trigger us again
        var k = rest + ":" + expected.GetHashCode();
        if (!_injectAt.TryGetValue(k, out var at)) { at = DateTime.UtcNow + Delays.CaInjection; _injectAt[k] = at; }
        if (at > DateTime.UtcNow) { Enqueue("inject:" + rest, at - DateTime.UtcNow); return; }
        Core.Mutate(t, obj, o =>
        {
            if (t.Kind == "CustomResourceDefinition")
            {
                if (o.Obj("spec", "conversion", "webhook", "clientConfig") is { } cc) cc["caBundle"] = expected;
                return;
            }
            foreach (var w in o.Arr("webhooks")?.OfType<JsonObject>() ?? [])
                w.Ensure("clientConfig")["caBundle"] = expected;
        }, "cert-manager-cainjector");
    }

    private void IssuerStatus(string plural, string? ns, string name)
    {
        var issuer = Get(Group, plural, ns, name);
        if (issuer is null || Deleting(issuer)) return;
        var prev = issuer.Obj("status");
        JsonObject cond;
        var spec = issuer.Obj("spec");
        if (spec?["selfSigned"] is not null) cond = Condition("Ready", true, "IsReady", "", issuer.Long("metadata", "generation"), prev);
        else if (spec?.Obj("ca") is { } ca)
        {
            var secretNs = plural == "clusterissuers" ? ClusterResourceNamespace() : ns;
            var secretName = ca.Str("secretName") ?? "";
            var secret = Get("", "secrets", secretNs, secretName);
            cond = secret is null
                ? Condition("Ready", false, "ErrorGetKeyPair", $"Error getting keypair for CA issuer: secrets \"{secretName}\" not found", issuer.Long("metadata", "generation"), prev)
                : secret.Str("data", "tls.crt") is null || secret.Str("data", "tls.key") is null
                    ? Condition("Ready", false, "ErrorInvalidKeyPair", "Error getting keypair for CA issuer: tls.crt or tls.key missing", issuer.Long("metadata", "generation"), prev)
                    : Condition("Ready", true, "KeyPairVerified", "Signing CA verified", issuer.Long("metadata", "generation"), prev);
        }
        else cond = Condition("Ready", true, "IsReady", "The sandbox accepts this issuer type without contacting anyone", issuer.Long("metadata", "generation"), prev);
        SetStatus(Group, plural, issuer, new JsonObject { ["conditions"] = new JsonArray(cond) });
    }

    private void CertificateReconcile(string ns, string name)
    {
        var cert = Get(Group, "certificates", ns, name);
        if (cert is null || Deleting(cert)) return;
        var spec = cert.Obj("spec") ?? new JsonObject();
        var secretName = spec.Str("secretName") ?? name;
        var issuerKind = spec.Str("issuerRef", "kind") ?? "Issuer";
        var issuerName = spec.Str("issuerRef", "name") ?? "";
        var issuer = issuerKind == "ClusterIssuer" ? Get(Group, "clusterissuers", null, issuerName) : Get(Group, "issuers", ns, issuerName);
        var prev = cert.Obj("status");
        var gen = cert.Long("metadata", "generation") ?? 1;
        var secret = Get("", "secrets", ns, secretName);
        var upToDate = secret is not null && secret.Annotations().TryGetValue("cert-manager.io/certificate-name", out var cn) && cn == name &&
                       ConditionTrue(cert, "Ready") && cert.Arr("status", "conditions")!.First(c => c.Str("type") == "Ready").Long("observedGeneration") == gen;
        if (upToDate) return;

        if (issuer is null || !ConditionTrue(issuer, "Ready"))
        {
            var msg = issuer is null
                ? $"Referenced \"{issuerKind}\" not found: {issuerKind.ToLowerInvariant()}s.cert-manager.io \"{issuerName}\" not found"
                : $"Issuing certificate as Secret does not exist";
            SetStatus(Group, "certificates", cert, new JsonObject
            {
                ["conditions"] = new JsonArray(
                    Condition("Ready", false, secret is null ? "DoesNotExist" : "Pending", secret is null ? "Issuing certificate as Secret does not exist" : msg, gen, prev),
                    Condition("Issuing", true, secret is null ? "DoesNotExist" : "Reissuing", msg, gen, prev)),
            });
            return;
        }
        var uid = cert.Str("metadata", "uid") + ":" + gen;
        if (!_issueAt.TryGetValue(uid, out var at)) { at = DateTime.UtcNow + Delays.CertificateIssued; _issueAt[uid] = at; }
        if (at > DateTime.UtcNow) { Enqueue("c:" + ns + "/" + name, at - DateTime.UtcNow); return; }
        _issueAt.Remove(uid);

        (X509Certificate2, AsymmetricAlgorithm)? signer = null;
        if (issuer.Obj("spec", "ca") is { } ca)
        {
            var secretNs = issuerKind == "ClusterIssuer" ? ClusterResourceNamespace() : ns;
            var caSecret = Get("", "secrets", secretNs, ca.Str("secretName") ?? "")!;
            signer = SimPki.Load(SimPki.UnB64(caSecret.Str("data", "tls.crt")), SimPki.UnB64(caSecret.Str("data", "tls.key")));
        }
        var dns = (spec.Arr("dnsNames") ?? []).Select(d => d?.ToString() ?? "").ToList();
        var duration = SimPki.ParseDuration(spec.Str("duration"), TimeSpan.FromDays(90));
        var issued = SimPki.Issue(spec.Str("commonName") ?? dns.FirstOrDefault(), dns, spec.Bool("isCA") == true, duration,
            spec.Str("privateKey", "algorithm") ?? "RSA", (int)(spec.Long("privateKey", "size") ?? (spec.Str("privateKey", "algorithm") == "ECDSA" ? 256 : 2048)), signer);
        var labels = new JsonObject { ["controller.cert-manager.io/fao"] = "true" };
        foreach (var (k, v) in spec.At("secretTemplate", "labels").StringMap()) labels[k] = v;
        var annotations = new JsonObject
        {
            ["cert-manager.io/certificate-name"] = name, ["cert-manager.io/issuer-name"] = issuerName, ["cert-manager.io/issuer-kind"] = issuerKind,
            ["cert-manager.io/issuer-group"] = spec.Str("issuerRef", "group") ?? Group, ["cert-manager.io/common-name"] = spec.Str("commonName") ?? "",
            ["cert-manager.io/alt-names"] = string.Join(",", dns), ["cert-manager.io/ip-sans"] = "", ["cert-manager.io/uri-sans"] = "",
        };
        foreach (var (k, v) in spec.At("secretTemplate", "annotations").StringMap()) annotations[k] = v;
        Upsert(new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Secret", ["type"] = "kubernetes.io/tls",
            ["metadata"] = new JsonObject { ["name"] = secretName, ["namespace"] = ns, ["labels"] = labels, ["annotations"] = annotations },
            ["data"] = new JsonObject { ["ca.crt"] = SimPki.B64(issued.CaPem), ["tls.crt"] = SimPki.B64(issued.CertPem), ["tls.key"] = SimPki.B64(issued.KeyPem) },
        });
        var x = X509Certificate2.CreateFromPem(issued.CertPem);
        var revision = (prev?.Long("revision") ?? 0) + 1;
        SetStatus(Group, "certificates", cert, new JsonObject
        {
            ["conditions"] = new JsonArray(Condition("Ready", true, "Ready", "Certificate is up to date and has not expired", gen, prev)),
            ["notBefore"] = x.NotBefore.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"),
            ["notAfter"] = x.NotAfter.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"),
            ["renewalTime"] = (x.NotBefore + (x.NotAfter - x.NotBefore) * 2 / 3).ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"),
            ["revision"] = revision,
        });
    }
}
