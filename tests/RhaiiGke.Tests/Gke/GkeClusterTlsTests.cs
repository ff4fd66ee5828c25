using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using RhaiiGke.Engine.Gke;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Sandbox;
using RhaiiGke.Tests.KubeApi;
using Xunit;

namespace RhaiiGke.Tests.Gke;

/// <summary>
/// A simulated GKE cluster is reached as a real one: its endpoint is a bare host:port served over HTTPS, its CA is
/// masterAuth.clusterCaCertificate, and its API accepts only Google access tokens the GKE simulator issued.
/// </summary>
[Collection("GkeCmdlets")]
public class GkeClusterTlsTests
{
    [Fact]
    public async Task TheClusterEndpointIsAHostServedOverHttpsWithTheMasterAuthCaAndGoogleTokens()
    {
        using var clusters = new GkeClusterSimulators(TimeSpan.FromMilliseconds(5));
        using var bed = new GkeTestBed(configure: clusters.Attach);
        using var ps = new GkeCmdletHost(bed);
        ps.Ok("New-TpuCluster @c -Name tls -Zone europe-west4-a -Accelerator v6e -Topology 2x2 -InitialNodeCount 1 -SystemNodeCount 1");
        ps.Ok("New-TpuCluster @c -Name other -Zone europe-west4-a -Accelerator v6e -Topology 2x2 -InitialNodeCount 0 -SystemNodeCount 1");
        var api = clusters.For(GkeTestBed.Project, GkeTestBed.Zone, "tls")!;
        var otherApi = clusters.For(GkeTestBed.Project, GkeTestBed.Zone, "other")!;

        // the GKE API's own view: endpoint host:port (no scheme), the CA as base64 PEM
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bed.Token);
        var raw = JsonNode.Parse(await http.GetStringAsync($"{bed.Simulator.ContainerEndpoint}v1/projects/{GkeTestBed.Project}/locations/{GkeTestBed.Zone}/clusters/tls"))!;
        Assert.Equal(new Uri(api.Server).Authority, raw["endpoint"]!.GetValue<string>());
        Assert.Matches(@"^127\.0\.0\.1:\d+$", raw["endpoint"]!.GetValue<string>());
        var ca = raw["masterAuth"]!["clusterCaCertificate"]!.GetValue<string>();
        Assert.Equal(api.CaCertificateData, ca);
        Assert.StartsWith("-----BEGIN CERTIFICATE-----", Encoding.ASCII.GetString(Convert.FromBase64String(ca)));

        // the module: Get-TpuClusterCredential | Connect-RhaiiCluster verifies that CA and sends the Google token
        var conn = ps.Ok("Get-TpuClusterCredential @c -Name tls -Zone europe-west4-a -AuthMode Token | Connect-RhaiiCluster -NoDefault").Single<ClusterConnection>();
        Assert.Equal(api.Server, conn.Server);
        Assert.Equal(ca, conn.CertificateAuthorityData);
        Assert.False(conn.SkipTlsVerify);
        Assert.False(string.IsNullOrEmpty(conn.ServerVersion));

        // the cluster accepts only tokens the GKE simulator issued, and only its own CA verifies it
        var notIssued = ClusterConnector.FromEndpoint(new Uri(api.Server), GkeTestBed.Secure("ya29.never-issued"), ca, false, "default", "x");
        Assert.Equal("KubeApiUnauthorized", (await Assert.ThrowsAsync<RhaiiException>(() => ClusterConnector.VerifyAsync(notIssued, default))).ErrorId);
        var wrongCa = ClusterConnector.FromEndpoint(new Uri(api.Server), GkeTestBed.Secure(bed.Token), otherApi.CaCertificateData, false, "default", "x");
        Assert.Equal("KubeApiTlsFailed", (await Assert.ThrowsAsync<RhaiiException>(() => ClusterConnector.VerifyAsync(wrongCa, default))).ErrorId);
        var fresh = bed.Simulator.IssueToken(); // any token the simulator issues later works too, as with gcloud's refreshed tokens
        var refreshed = await ClusterConnector.VerifyAsync(ClusterConnector.FromEndpoint(new Uri(api.Server), GkeTestBed.Secure(fresh), ca, false, "default", "x"), default);
        Assert.NotNull(refreshed.ServerVersion);
    }

    [GcloudKubectlFact]
    public async Task GcloudGetCredentialsWritesAKubeconfigKubectlUsesOverTls()
    {
        using var clusters = new GkeClusterSimulators(TimeSpan.FromMilliseconds(5));
        using var bed = new GkeTestBed(configure: clusters.Attach);
        using var session = bed.Session();
        await new TpuClusterService(session).EnsureAsync(GkeTestBed.Spec("creds"), (_, _) => true, false, false, default);
        var api = clusters.For(GkeTestBed.Project, GkeTestBed.Zone, "creds")!;

        var dir = Directory.CreateTempSubdirectory("rhaii-gcloud-creds-").FullName;
        try
        {
            var config = Directory.CreateDirectory(Path.Combine(dir, "config")).FullName;
            var tokenFile = Path.Combine(dir, "token");
            File.WriteAllText(tokenFile, bed.Token);
            var kc = Path.Combine(dir, "kubeconfig");
            var env = new Dictionary<string, string> { ["KUBECONFIG"] = kc, ["HOME"] = dir };
            Assert.Equal(0, Gcloud.Run(config, "config", "set", "api_endpoint_overrides/container", bed.Simulator.ContainerEndpoint).Code);
            // gke-gcloud-auth-plugin asks gcloud for the token: give gcloud the simulator's token
            Assert.Equal(0, Gcloud.Run(config, "config", "set", "auth/access_token_file", tokenFile).Code);

            var get = Gcloud.Run(config, env, "container", "clusters", "get-credentials", "creds", "--project", GkeTestBed.Project, "--zone", GkeTestBed.Zone,
                "--access-token-file", tokenFile);
            Assert.True(get.Code == 0, get.Err);
            Assert.DoesNotContain("missing certificate authority", get.Err, StringComparison.OrdinalIgnoreCase);
            var text = File.ReadAllText(kc);
            Assert.Contains("server: " + api.Server, text);
            Assert.DoesNotContain("https://http", text);
            Assert.Contains("certificate-authority-data: " + api.CaCertificateData, text);
            Assert.DoesNotContain("insecure-skip-tls-verify", text);

            // kubectl with the kubeconfig gcloud wrote: TLS verified with the cluster CA, the token from the auth plugin
            Assert.Contains("command: gke-gcloud-auth-plugin", text);
            var usesPlugin = GcloudKubectlFactAttribute.AuthPlugin is not null;
            var kubeconfig = kc;
            if (!usesPlugin)
            {
                // no gke-gcloud-auth-plugin here: the same kubeconfig with the token inserted in place of the exec entry
                kubeconfig = Path.Combine(dir, "kubeconfig-token");
                var users = text.IndexOf("users:", StringComparison.Ordinal);
                File.WriteAllText(kubeconfig, text[..users] + $"users:\n- name: gke_{GkeTestBed.Project}_{GkeTestBed.Zone}_creds\n  user:\n    token: {bed.Token}\n");
            }
            var nodes = RunKubectl(kubeconfig, config, dir, "get nodes -o name");
            Assert.True(nodes.Code == 0, nodes.Err);
            Assert.Contains("node/gke-creds-tpu-pool-0000", nodes.Out);

            // a token the GKE simulator never issued: the cluster refuses it as GKE does
            File.WriteAllText(tokenFile, "ya29.never-issued");
            var refusedConfig = Path.Combine(dir, "kubeconfig-bad");
            var t = File.ReadAllText(kubeconfig);
            File.WriteAllText(refusedConfig, usesPlugin ? t : t.Replace(bed.Token, "ya29.never-issued"));
            var cache = Path.Combine(dir, ".kube", "gke_gcloud_auth_plugin_cache");
            if (File.Exists(cache)) File.Delete(cache);
            var refused = RunKubectl(refusedConfig, config, dir, "get nodes");
            Assert.NotEqual(0, refused.Code);
            Assert.Contains("Unauthorized", refused.Err);
        }
        finally { Directory.Delete(dir, true); }
    }

    private static (int Code, string Out, string Err) RunKubectl(string kubeconfig, string gcloudConfig, string home, string args)
    {
        var psi = new ProcessStartInfo(Kubectl.Path!, $"--kubeconfig {kubeconfig} --cache-dir {Path.Combine(home, "kcache")} {args}")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.Environment.Remove("KUBECONFIG");
        psi.Environment["CLOUDSDK_CONFIG"] = gcloudConfig;
        psi.Environment["HOME"] = home;
        psi.Environment["CLOUDSDK_CORE_DISABLE_PROMPTS"] = "1";
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(90_000)) { p.Kill(true); throw new TimeoutException("kubectl " + args); }
        return (p.ExitCode, o.Result, e.Result);
    }
}

/// <summary>Needs both gcloud and kubectl on PATH.</summary>
public sealed class GcloudKubectlFactAttribute : FactAttribute
{
    public static readonly string? AuthPlugin = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
        .Select(d => Path.Combine(d, OperatingSystem.IsWindows() ? "gke-gcloud-auth-plugin.exe" : "gke-gcloud-auth-plugin")).FirstOrDefault(File.Exists);

    public GcloudKubectlFactAttribute()
    {
        if (Gcloud.Path is null) Skip = "gcloud is not on PATH; install the Google Cloud CLI to run the get-credentials test";
        else if (Kubectl.Path is null) Skip = "kubectl is not on PATH; install kubectl to run the get-credentials test";
    }
}
