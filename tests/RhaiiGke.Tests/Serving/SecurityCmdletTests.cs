using System.Management.Automation;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Engine.Manifests;
using RhaiiGke.Engine.Net;
using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.Serving;

/// <summary>
/// Credentials stay off plain-text networks (UnencryptedAuthenticationRefused unless
/// -AllowUnencryptedAuthentication), and Deploy-LlmInferenceService -Path refuses kinds outside the
/// service's own set (RHAII601, ManifestKindNotAllowed unless -AllowKind), before anything is sent.
/// </summary>
public sealed class SecurityCmdletTests : IDisposable
{
    // A non-loopback address; nothing is ever sent to it here (every case is refused, or a -WhatIf that stops before connecting).
    private const string Remote = "192.0.2.10";
    private readonly PowerShellHost _ps = new();
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "rhaii-sec-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        _ps.Dispose();
        if (Directory.Exists(_dir)) Directory.Delete(_dir, true);
    }

    private static ErrorRecord Refused(IReadOnlyList<ErrorRecord> errors, string id = TransportSecurity.RefusedErrorId)
    {
        var e = Assert.Single(errors);
        Assert.StartsWith(id, e.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.SecurityError, e.CategoryInfo.Category);
        return e;
    }

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("127.10.20.30", true)]
    [InlineData("[::1]", true)]
    [InlineData("::ffff:127.0.0.1", true)]
    [InlineData("localhost", true)]
    [InlineData("api.localhost", true)]
    [InlineData("10.0.0.5", false)]
    [InlineData("192.0.2.10", false)]
    [InlineData("localhost.example.com", false)]
    [InlineData("128.0.0.1", false)]
    public void LoopbackIsWhatStaysOnThisMachine(string host, bool loopback) => Assert.Equal(loopback, TransportSecurity.IsLoopback(host));

    [Fact]
    public void ConnectRefusesATokenOverPlainHttpToARemoteServerUnlessOptedIn()
    {
        _ps.Run("$t = ConvertTo-SecureString 'cluster-token-123' -AsPlainText -Force");
        var (_, errors) = _ps.Invoke($"Connect-RhaiiCluster -Endpoint http://{Remote}:6443 -Token $t -NoDefault");
        var e = Refused(errors);
        Assert.Contains("-AllowUnencryptedAuthentication", e.ErrorDetails?.RecommendedAction ?? "");
        Assert.DoesNotContain("cluster-token-123", e.ToString() + e.Exception);
        // refused even for a preview: the check is on the input, not on the outcome
        Refused(_ps.Invoke($"Connect-RhaiiCluster -Endpoint http://{Remote}:6443 -Token $t -NoDefault -WhatIf").Errors);

        // allowed: opted in, https, loopback, or no credential
        Assert.Empty(_ps.Invoke($"Connect-RhaiiCluster -Endpoint http://{Remote}:6443 -Token $t -NoDefault -WhatIf -AllowUnencryptedAuthentication").Errors);
        Assert.Empty(_ps.Invoke($"Connect-RhaiiCluster -Endpoint https://{Remote}:6443 -Token $t -NoDefault -WhatIf").Errors);
        Assert.Empty(_ps.Invoke("Connect-RhaiiCluster -Endpoint http://127.0.0.1:1 -Token $t -NoDefault -WhatIf").Errors);
        Assert.Empty(_ps.Invoke($"Connect-RhaiiCluster -Endpoint http://{Remote}:6443 -NoDefault -WhatIf").Errors);
    }

    [Fact]
    public void ConnectRefusesAKubeconfigWhoseUserTokenWouldGoOverPlainHttp()
    {
        Directory.CreateDirectory(_dir);
        var kc = Path.Combine(_dir, "kubeconfig");
        File.WriteAllText(kc, $"apiVersion: v1\nkind: Config\nclusters:\n- name: a\n  cluster: {{server: 'http://{Remote}:8080'}}\nusers:\n- name: a\n  user: {{token: kube-token-456}}\n" +
                              "contexts:\n- name: a\n  context: {cluster: a, user: a}\ncurrent-context: a\n");
        var e = Refused(_ps.Invoke($"Connect-RhaiiCluster -Kubeconfig '{kc}' -NoDefault").Errors);
        Assert.DoesNotContain("kube-token-456", e.ToString() + e.Exception);
        Assert.Empty(_ps.Invoke($"Connect-RhaiiCluster -Kubeconfig '{kc}' -NoDefault -WhatIf -AllowUnencryptedAuthentication").Errors);
    }

    [Fact]
    public async Task EveryKubeRequestChecksTheAuthorizationHeaderBeforeSending()
    {
        // a connection built elsewhere (a pipeline object, a session default) gets the same check on the wire
        var token = new System.Security.SecureString();
        foreach (var ch in "wire-token-789") token.AppendChar(ch);
        var c = ClusterConnector.FromEndpoint(new Uri($"http://{Remote}:6443"), token, null, false, "default");
        var ex = await Assert.ThrowsAsync<RhaiiException>(() => KubeClients.For(c).GetAsync("api/v1/namespaces", CancellationToken.None));
        Assert.Equal(TransportSecurity.RefusedErrorId, ex.ErrorId);
        Assert.Equal(0, KubeClients.For(c).Requests);
    }

    [Theory]
    [InlineData("Test-InferenceEndpoint -BaseUrl http://{0}:8000")]
    [InlineData("Invoke-InferenceBenchmark -BaseUrl http://{0}:8000 -Model m -NumPrompts 2")]
    [InlineData("Test-InferenceCacheRouting -BaseUrl http://{0}:8000 -Model m")]
    [InlineData("Get-InferenceMetrics -Url http://{0}:8000/metrics")]
    public void InferenceCommandsRefuseAnApiKeyOverPlainHttpToARemoteHost(string command)
    {
        var e = Refused(_ps.Invoke(string.Format(System.Globalization.CultureInfo.InvariantCulture, command, Remote) + " -ApiKey 'api-key-secret-1'").Errors);
        Assert.DoesNotContain("api-key-secret-1", e.ToString() + e.Exception + e.ErrorDetails?.RecommendedAction);
        Assert.Contains("-AllowUnencryptedAuthentication", e.ErrorDetails?.RecommendedAction ?? "");
    }

    [Fact]
    public async Task AnOptedInApiKeyGoesOverPlainHttpToANonLoopbackAddress()
    {
        var ip = NetworkInterface.GetAllNetworkInterfaces().Where(n => n.OperationalStatus == OperationalStatus.Up)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses).Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a));
        if (ip is null) return; // no non-loopback IPv4 address on this machine: nothing to prove here
        using var listener = new TcpListener(ip, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var served = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            var stream = client.GetStream();
            var buf = new byte[8192];
            var head = new StringBuilder();
            while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                var n = await stream.ReadAsync(buf);
                if (n == 0) break;
                head.Append(Encoding.ASCII.GetString(buf, 0, n));
            }
            var body = "vllm:num_requests_running 1\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}"));
            return head.ToString();
        });
        var url = $"http://{ip}:{port}/metrics";
        Refused(_ps.Invoke($"Get-InferenceMetrics -Url {url} -ApiKey 'opted-in-key'").Errors);
        var (output, errors) = _ps.Invoke($"Get-InferenceMetrics -Url {url} -ApiKey 'opted-in-key' -AllowUnencryptedAuthentication");
        Assert.Empty(errors);
        Assert.Contains(output, o => ((InferenceMetricSample)o.BaseObject).Name == "vllm:num_requests_running");
        Assert.Contains("Authorization: Bearer opted-in-key", await served.WaitAsync(TimeSpan.FromMinutes(2)));
    }

    private const string AdminBinding = """
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRoleBinding
        metadata: {name: everyone-admin}
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
        subjects:
        - {kind: ServiceAccount, name: default, namespace: rbac}
        """;

    [Fact]
    public async Task LintNamesKindsOutsideTheServiceSetAcrossFilesAndDeployRefusesThemBeforeSending()
    {
        Directory.CreateDirectory(_dir);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Lint", "Fixtures", "good-llmisvc.yaml"), Path.Combine(_dir, "service.yaml"));
        File.WriteAllText(Path.Combine(_dir, "rbac.yaml"), AdminBinding);

        var findings = _ps.Run($"Test-LlmInferenceServiceManifest -Path '{_dir}'").Select(o => (ManifestFinding)o.BaseObject).ToList();
        var f = Assert.Single(findings, x => x.RuleId == "RHAII601");
        Assert.Equal("KindOutsideService", f.RuleName);
        Assert.Equal(FindingSeverity.Error, f.Severity);
        Assert.Equal("ClusterRoleBinding", f.Kind);
        Assert.Contains("ClusterRoleBinding", f.Message);
        Assert.Contains("-AllowKind ClusterRoleBinding", f.Fix);
        // the same binding alone (no service in the set) is not a service's file: no finding
        Assert.DoesNotContain(_ps.Run($"Test-LlmInferenceServiceManifest -Path '{Path.Combine(_dir, "rbac.yaml")}'").Select(o => (ManifestFinding)o.BaseObject), x => x.RuleId == "RHAII601");

        _ps.Run($"$sb = Start-RhaiiSandbox -Name sec-{Guid.NewGuid().ToString("N")[..6]} -TpuNodes 1");
        var connection = (ClusterConnection)_ps.Run("$sb.Connection")[0].BaseObject;
        var client = KubeClients.For(connection);
        var before = client.MutatingRequests;
        var e = Refused(_ps.Invoke($"Deploy-LlmInferenceService -Path '{_dir}' -HuggingFaceToken (ConvertTo-SecureString hf_x -AsPlainText -Force)").Errors, "ManifestKindNotAllowed");
        Assert.Contains("ClusterRoleBinding everyone-admin", e.Exception.Message);
        Assert.Contains("-AllowKind ClusterRoleBinding", e.ErrorDetails?.RecommendedAction ?? "");
        Assert.Equal(before, client.MutatingRequests);
        Assert.Null(await client.GetAsync("apis/rbac.authorization.k8s.io/v1/clusterrolebindings/everyone-admin", CancellationToken.None));
        Assert.Null(await client.GetAsync("api/v1/namespaces/rhaii-inference", CancellationToken.None));

        // a kind: List hides nothing
        File.Delete(Path.Combine(_dir, "rbac.yaml"));
        File.WriteAllText(Path.Combine(_dir, "list.yaml"), "apiVersion: v1\nkind: List\nitems:\n- " + string.Join("\n  ", AdminBinding.Split('\n')));
        Refused(_ps.Invoke($"Deploy-LlmInferenceService -Path '{_dir}' -HuggingFaceToken (ConvertTo-SecureString hf_x -AsPlainText -Force)").Errors, "ManifestKindNotAllowed");

        // named in -AllowKind: past the gate (here the sandbox has no KServe, so the next check stops it)
        var (_, allowed) = _ps.Invoke($"Deploy-LlmInferenceService -Path '{_dir}' -AllowKind ClusterRoleBinding -HuggingFaceToken (ConvertTo-SecureString hf_x -AsPlainText -Force) -WarningVariable w -WarningAction SilentlyContinue");
        Assert.StartsWith("KServeNotInstalled", Assert.Single(allowed).FullyQualifiedErrorId);
        Assert.Contains(_ps.Run("$w").Select(x => x.ToString()), w => w.Contains("ClusterRoleBinding", StringComparison.Ordinal) && w.Contains("-AllowKind", StringComparison.Ordinal));
    }

    [Fact]
    public void TheServiceSetIsWhatTheModuleEmits()
    {
        foreach (var kind in new[] { "/Secret", "/ServiceAccount", "/ConfigMap", "/Namespace", "networking.k8s.io/NetworkPolicy", "serving.kserve.io/LLMInferenceService",
                     "serving.kserve.io/LLMInferenceServiceConfig", "gateway.networking.k8s.io/Gateway", "gateway.networking.k8s.io/HTTPRoute",
                     "networking.istio.io/EnvoyFilter", "networking.gke.io/HealthCheckPolicy", "networking.gke.io/GCPBackendPolicy" })
            Assert.Contains(kind, ServiceKinds.Allowed);
        foreach (var pattern in Enum.GetValues<DeploymentPattern>())
            foreach (var m in ManifestBuilder.BuildPattern(SpecFactory.Create(PatternDefaults.For(pattern))))
                Assert.True(ServiceKinds.IsAllowed(m.ApiVersion, m.Kind), m.ToString());
        Assert.False(ServiceKinds.IsAllowed("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"));
        Assert.False(ServiceKinds.IsAllowed("rbac.authorization.k8s.io/v1", "ClusterRole"));
        Assert.False(ServiceKinds.IsAllowed("apps/v1", "Deployment"));
        Assert.False(ServiceKinds.IsAllowed("evil.example.com/v1", "Secret")); // kind names alone do not pass
    }
}
