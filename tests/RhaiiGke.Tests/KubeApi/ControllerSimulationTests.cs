using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using RhaiiGke.Sandbox.KubeApi;
using Xunit;

namespace RhaiiGke.Tests.KubeApi;

/// <summary>Minimal CRDs (names, scope, status subresource, open schema) for controller tests.</summary>
internal static class TestCrds
{
    public static string Crd(string group, string kind, string plural, bool cluster = false, params string[] versions)
    {
        if (versions.Length == 0) versions = ["v1"];
        var sb = new StringBuilder();
        sb.Append($"apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {{name: {plural}.{group}}}\nspec:\n  group: {group}\n  scope: {(cluster ? "Cluster" : "Namespaced")}\n");
        sb.Append($"  names: {{plural: {plural}, singular: {kind.ToLowerInvariant()}, kind: {kind}}}\n  versions:\n");
        for (var i = 0; i < versions.Length; i++)
            sb.Append($"  - name: {versions[i]}\n    served: true\n    storage: {(i == 0 ? "true" : "false")}\n    subresources: {{status: {{}}}}\n    schema:\n      openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}\n");
        return sb.ToString();
    }

    public static string Operator(string ns, string name) =>
        $"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  selector: {{matchLabels: {{app: {name}}}}}\n" +
        $"  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      containers: [{{name: manager, image: \"example/{name}:1\"}}]\n";
}

public class CertManagerSimulationTests : SimulatorTestBase
{
    private async Task InstallCertManager()
    {
        foreach (var (kind, plural, cluster) in new[] { ("Certificate", "certificates", false), ("Issuer", "issuers", false), ("ClusterIssuer", "clusterissuers", true) })
            await Client.ApiextensionsV1.PatchCustomResourceDefinitionAsync(Apply(TestCrds.Crd("cert-manager.io", kind, plural, cluster)), plural + ".cert-manager.io", fieldManager: "test");
        await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "cert-manager" } });
        foreach (var d in new[] { "cert-manager", "cert-manager-webhook", "cert-manager-cainjector" })
            await Client.AppsV1.PatchNamespacedDeploymentAsync(Apply(TestCrds.Operator("cert-manager", d)), d, "cert-manager", fieldManager: "test");
        await Eventually(() => Task.FromResult(Sim.Serves("cert-manager.io/v1", "ClusterIssuer") && Sim.Serves("cert-manager.io/v1", "Certificate")), "CRDs served");
    }

    private Task<object> Create(string yaml)
    {
        var o = RhaiiGke.Engine.Kube.Json.KubeYaml.ReadOne(yaml)!.AsObject();
        var plural = o["kind"]!.GetValue<string>().ToLowerInvariant() + "s";
        var body = System.Text.Json.JsonSerializer.Deserialize<System.Text.Json.JsonElement>(o.ToJsonString());
        return o["metadata"]!["namespace"] is { } ns
            ? Client.CustomObjects.CreateNamespacedCustomObjectAsync(body, "cert-manager.io", "v1", ns.GetValue<string>(), plural)
            : Client.CustomObjects.CreateClusterCustomObjectAsync(body, "cert-manager.io", "v1", plural);
    }

    [Fact]
    public async Task TheKServePkiChainIssuesRealCertificatesSignedByTheCa()
    {
        await InstallCertManager();
        await Create("apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: selfsigned}\nspec: {selfSigned: {}}\n");
        await Create("""
            apiVersion: cert-manager.io/v1
            kind: Certificate
            metadata: {name: opendatahub-ca, namespace: cert-manager}
            spec:
              isCA: true
              commonName: opendatahub-ca
              secretName: opendatahub-ca
              privateKey: {algorithm: ECDSA, size: 256}
              issuerRef: {name: selfsigned, kind: ClusterIssuer}
            """);
        await Create("apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: opendatahub-ca-issuer}\nspec: {ca: {secretName: opendatahub-ca}}\n");
        await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "opendatahub" } });
        await Create("""
            apiVersion: cert-manager.io/v1
            kind: Certificate
            metadata: {name: llmisvc-webhook-server-cert, namespace: opendatahub}
            spec:
              secretName: llmisvc-webhook-server-cert
              dnsNames: [llmisvc-webhook-server-service.opendatahub.svc, llmisvc-webhook-server-service.opendatahub.svc.cluster.local]
              privateKey: {algorithm: ECDSA}
              issuerRef: {name: opendatahub-ca-issuer, kind: ClusterIssuer}
            """);
        V1Secret? leaf = null;
        await Eventually(async () =>
        {
            try { leaf = await Client.CoreV1.ReadNamespacedSecretAsync("llmisvc-webhook-server-cert", "opendatahub"); return true; }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { return false; }
        }, "leaf secret");
        Assert.Equal("kubernetes.io/tls", leaf!.Type);
        var cert = X509Certificate2.CreateFromPem(Encoding.UTF8.GetString(leaf.Data["tls.crt"]));
        var ca = X509Certificate2.CreateFromPem(Encoding.UTF8.GetString(leaf.Data["ca.crt"]));
        Assert.Equal("CN=opendatahub-ca", ca.Subject);
        Assert.Equal("CN=opendatahub-ca", cert.Issuer);
        Assert.Contains("llmisvc-webhook-server-service.opendatahub.svc", cert.GetNameInfo(X509NameType.DnsName, false) + string.Join(",", cert.Extensions.OfType<X509SubjectAlternativeNameExtension>().SelectMany(e => e.EnumerateDnsNames())));
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        Assert.True(chain.Build(cert), string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation)));
        var issuer = Sim.GetObject("cert-manager.io/v1", "ClusterIssuer", null, "opendatahub-ca-issuer")!;
        Assert.Equal("KeyPairVerified", issuer["status"]!["conditions"]![0]!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task AWebhookWithEndpointsFailsWithX509UntilTheCainjectorInjectsTheCa()
    {
        var options = KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(10));
        options.Delays.CaInjection = TimeSpan.FromMilliseconds(400);
        using var sim = new KubeApiSimulator(options);
        sim.Start();
        using var client = new Kubernetes(sim.ClientConfig());
        sim.Seed(TestCrds.Crd("cert-manager.io", "Issuer", "issuers"));
        sim.Seed("apiVersion: v1\nkind: Namespace\nmetadata: {name: cert-manager}\n");
        await Eventually(() => Task.FromResult(sim.Serves("cert-manager.io/v1", "Issuer")), "Issuer served");
        sim.Seed("""
            apiVersion: v1
            kind: Service
            metadata: {name: cert-manager-webhook, namespace: cert-manager}
            spec:
              selector: {app: cert-manager-webhook}
              ports: [{name: https, port: 443, targetPort: 10250}]
            ---
            apiVersion: admissionregistration.k8s.io/v1
            kind: ValidatingWebhookConfiguration
            metadata:
              name: cert-manager-webhook
              annotations: {cert-manager.io/inject-ca-from-secret: cert-manager/cert-manager-webhook-ca}
            webhooks:
            - name: webhook.cert-manager.io
              sideEffects: None
              admissionReviewVersions: [v1]
              timeoutSeconds: 30
              clientConfig:
                service: {name: cert-manager-webhook, namespace: cert-manager, path: /validate}
              rules:
              - {apiGroups: [cert-manager.io], apiVersions: [v1], operations: [CREATE, UPDATE], resources: ["*/*"]}
            """);
        var issuer = System.Text.Json.JsonSerializer.Deserialize<System.Text.Json.JsonElement>("""{"apiVersion":"cert-manager.io/v1","kind":"Issuer","metadata":{"name":"x"},"spec":{"selfSigned":{}}}""");
        async Task<string?> TryCreate()
        {
            try { await client.CustomObjects.CreateNamespacedCustomObjectAsync(issuer, "cert-manager.io", "v1", "default", "issuers", dryRun: "All"); return null; }
            catch (HttpOperationException e) { return JsonNode.Parse(e.Response.Content)!["message"]!.GetValue<string>(); }
        }
        Assert.EndsWith("no endpoints available for service \"cert-manager-webhook\"", await TryCreate());
        foreach (var d in new[] { "cert-manager", "cert-manager-webhook", "cert-manager-cainjector" }) sim.Seed(TestCrds.Operator("cert-manager", d));
        var sawX509 = false;
        await Eventually(async () =>
        {
            var m = await TryCreate();
            sawX509 |= m?.Contains("x509: certificate signed by unknown authority") == true;
            return m is null;
        }, "CA injected");
        Assert.True(sawX509, "the stale-CA window was never observed");
        var cfg = sim.GetObject("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", null, "cert-manager-webhook")!;
        Assert.False(string.IsNullOrEmpty(cfg["webhooks"]![0]!["clientConfig"]!["caBundle"]?.GetValue<string>()));
    }
}

/// <summary>Runs the real kubectl against the simulator (skipped when kubectl is not on PATH).</summary>
public sealed class KubectlFactAttribute : FactAttribute
{
    public KubectlFactAttribute()
    {
        if (Kubectl.Path is null) Skip = "kubectl is not on PATH; install kubectl to run the kubectl-against-simulator test";
    }
}

internal static class Kubectl
{
    public static readonly string? Path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator)
        .Select(d => System.IO.Path.Combine(d, OperatingSystem.IsWindows() ? "kubectl.exe" : "kubectl")).FirstOrDefault(File.Exists);

    public static (int Code, string Out, string Err) Run(string kubeconfig, string cacheDir, string args, string? stdin = null)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(Path!, $"--kubeconfig {kubeconfig} --cache-dir {cacheDir} {args}")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin is not null, UseShellExecute = false,
        };
        psi.Environment.Remove("KUBECONFIG");
        using var p = System.Diagnostics.Process.Start(psi)!;
        if (stdin is not null) { p.StandardInput.Write(stdin); p.StandardInput.Close(); }
        var outTask = p.StandardOutput.ReadToEndAsync();
        var errTask = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60000)) { p.Kill(true); throw new TimeoutException("kubectl " + args); }
        return (p.ExitCode, outTask.Result, errTask.Result);
    }
}

public class KubectlAgainstSimulatorTests : SimulatorTestBase
{
    [KubectlFact]
    public void KubectlAppliesServerSideGetsJsonWaitsForConditionsAndDeletes()
    {
        var dir = Directory.CreateTempSubdirectory("rhaii-kubectl-");
        try
        {
            var kc = System.IO.Path.Combine(dir.FullName, "kubeconfig");
            File.WriteAllText(kc, Sim.Kubeconfig());
            var cache = System.IO.Path.Combine(dir.FullName, "cache");
            (int Code, string Out, string Err) K(string args, string? stdin = null)
            {
                var r = Kubectl.Run(kc, cache, args, stdin);
                return r;
            }
            var manifest = TestCrds.Crd("example.com", "Widget", "widgets") + "---\n" + """
                apiVersion: v1
                kind: Namespace
                metadata: {name: demo}
                ---
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: web, namespace: demo}
                spec:
                  replicas: 2
                  selector: {matchLabels: {app: web}}
                  template:
                    metadata: {labels: {app: web}}
                    spec:
                      containers: [{name: web, image: "nginx:1.27", ports: [{containerPort: 80}]}]
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: demo}
                spec:
                  selector: {app: web}
                  ports: [{port: 80}]
                """;
            var apply = K("apply --server-side -f -", manifest);
            Assert.True(apply.Code == 0, apply.Err);
            Assert.Contains("deployment.apps/web serverside-applied", apply.Out);
            Assert.Contains("customresourcedefinition.apiextensions.k8s.io/widgets.example.com serverside-applied", apply.Out);

            var wait = K("wait --for=condition=Established crd/widgets.example.com --timeout=20s");
            Assert.True(wait.Code == 0, wait.Err);
            var cr = K("apply --server-side -f -", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1, namespace: demo}\nspec: {size: 3}\n");
            Assert.True(cr.Code == 0, cr.Err);
            Assert.Contains("widget.example.com/w1 serverside-applied", cr.Out);

            wait = K("wait --for=condition=Available deployment/web -n demo --timeout=20s");
            Assert.True(wait.Code == 0, wait.Err);
            Assert.Contains("condition met", wait.Out);

            var get = K("get deployment web -n demo -o json --show-managed-fields");
            Assert.True(get.Code == 0, get.Err);
            var d = JsonNode.Parse(get.Out)!;
            Assert.Equal(2, d["status"]!["readyReplicas"]!.GetValue<int>());
            Assert.Contains(d["metadata"]!["managedFields"]!.AsArray(), e => e!["manager"]!.GetValue<string>() == "kubectl" && e["operation"]!.GetValue<string>() == "Apply");

            // a second manager changing the same field conflicts, with the apiserver's wording
            var conflict = K("apply --server-side --field-manager=other -f -",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: demo}\nspec: {replicas: 5}\n");
            Assert.NotEqual(0, conflict.Code);
            Assert.Contains("Apply failed with 1 conflict: conflict with \"kubectl\" using apps/v1: .spec.replicas", conflict.Err);

            var del = K("delete deployment web -n demo --timeout=20s");
            Assert.True(del.Code == 0, del.Err);
            var pods = K("get pods -n demo -o json");
            Assert.Empty(JsonNode.Parse(pods.Out)!["items"]!.AsArray());
            var delNs = K("delete namespace demo --timeout=20s");
            Assert.True(delNs.Code == 0, delNs.Err);
            Assert.NotEqual(0, K("get namespace demo").Code);
        }
        finally { dir.Delete(true); }
    }
}
