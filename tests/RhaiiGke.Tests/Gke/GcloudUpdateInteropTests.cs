using System.Diagnostics;
using System.Text.Json.Nodes;
using RhaiiGke.Sandbox.Gke;
using Xunit;

namespace RhaiiGke.Tests.Gke;

/// <summary>
/// The real gcloud (528) against the GKE simulator for what it sends beyond clusters list: get-server-config,
/// clusters create (which reads Service Usage), clusters update --gateway-api, node-pools update --enable-autoscaling
/// and --node-labels, operations wait, and GKE's refusal of multi-host TPU pools whose size is not the slice's.
/// </summary>
public class GcloudUpdateInteropTests
{
    private sealed class Cli : IDisposable
    {
        private readonly string _dir = Directory.CreateTempSubdirectory("rhaii-gcloud-upd-").FullName;
        private readonly string _token;

        public Cli(GkeTestBed bed)
        {
            _token = Path.Combine(_dir, "token");
            File.WriteAllText(_token, bed.Token);
            Directory.CreateDirectory(Path.Combine(_dir, "config"));
            var url = bed.Simulator.ContainerEndpoint;
            foreach (var (api, endpoint) in new[] { ("container", url), ("serviceusage", bed.Simulator.ServiceUsageEndpoint), ("compute", bed.Simulator.ComputeEndpoint) })
            {
                var set = Raw("config", "set", $"api_endpoint_overrides/{api}", endpoint);
                Assert.True(set.Code == 0, set.Err);
            }
        }

        /// <summary>gcloud with its own configuration and kubeconfig (clusters create writes one), no prompts.</summary>
        public (int Code, string Out, string Err) Raw(params string[] args)
        {
            var psi = new ProcessStartInfo(Gcloud.Path!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in args) psi.ArgumentList.Add(a);
            psi.Environment["CLOUDSDK_CONFIG"] = Path.Combine(_dir, "config");
            psi.Environment["KUBECONFIG"] = Path.Combine(_dir, "kubeconfig");
            psi.Environment["CLOUDSDK_CORE_DISABLE_PROMPTS"] = "1";
            psi.Environment["CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK"] = "1";
            psi.Environment["CLOUDSDK_CORE_DISABLE_USAGE_REPORTING"] = "1";
            psi.Environment.Remove("GOOGLE_APPLICATION_CREDENTIALS");
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(180_000)) { p.Kill(entireProcessTree: true); throw new TimeoutException("gcloud " + string.Join(' ', args)); }
            return (p.ExitCode, stdout.Result, stderr.Result);
        }

        public (int Code, string Out, string Err) Run(params string[] args) =>
            Raw([.. args, "--project", GkeTestBed.Project, "--access-token-file", _token]);

        public JsonNode Json(params string[] args)
        {
            var r = Run([.. args, "--format", "json"]);
            Assert.True(r.Code == 0, $"gcloud {string.Join(' ', args)}: {r.Err}");
            return JsonNode.Parse(r.Out)!;
        }

        public void Dispose() { try { Directory.Delete(_dir, true); } catch (IOException) { } }
    }

    [GcloudFact]
    public void GcloudCreatesUpdatesAndResizesAsGkeAllowsIt()
    {
        using var bed = new GkeTestBed();
        using var cli = new Cli(bed);
        const string zone = GkeTestBed.Zone;

        var config = cli.Json("container", "get-server-config", "--zone", zone);
        Assert.Equal(bed.Simulator.Options.MasterVersion, config["defaultClusterVersion"]!.GetValue<string>());
        Assert.Contains(bed.Simulator.Options.MasterVersion, config["validMasterVersions"]!.AsArray().Select(v => v!.GetValue<string>()));
        Assert.NotEmpty(config["validNodeVersions"]!.AsArray());
        Assert.Equal(["RAPID", "REGULAR", "STABLE", "EXTENDED"], config["channels"]!.AsArray().Select(c => c!["channel"]!.GetValue<string>()));

        // clusters create asks Service Usage whether the GKE API is enabled before it creates, then waits on the operation
        var create = cli.Run("container", "clusters", "create", "demo", "--zone", zone, "--num-nodes", "1");
        Assert.True(create.Code == 0, create.Err);
        Assert.Contains(bed.Simulator.RequestLog, l => l.StartsWith("GET /serviceusage/v1/projects/" + GkeTestBed.Project + "/services/", StringComparison.Ordinal));
        Assert.True(bed.Simulator.CountRequests("GET", "/operations/") > 0);
        var cluster = cli.Json("container", "clusters", "describe", "demo", "--zone", zone);
        Assert.Equal("RUNNING", cluster["status"]!.GetValue<string>());
        Assert.Equal("e2-medium", cluster["nodePools"]![0]!["config"]!["machineType"]!.GetValue<string>());
        Assert.Null(cluster["networkConfig"]?["gatewayApiConfig"]);

        var update = cli.Run("container", "clusters", "update", "demo", "--zone", zone, "--gateway-api=standard");
        Assert.True(update.Code == 0, update.Err);
        Assert.Equal("CHANNEL_STANDARD", cli.Json("container", "clusters", "describe", "demo", "--zone", zone)["networkConfig"]!["gatewayApiConfig"]!["channel"]!.GetValue<string>());

        var autoscale = cli.Run("container", "node-pools", "update", "default-pool", "--cluster", "demo", "--zone", zone, "--enable-autoscaling", "--min-nodes", "1", "--max-nodes", "3");
        Assert.True(autoscale.Code == 0, autoscale.Err);
        var pool = cli.Json("container", "node-pools", "describe", "default-pool", "--cluster", "demo", "--zone", zone);
        Assert.True(pool["autoscaling"]!["enabled"]!.GetValue<bool>());
        Assert.Equal(1, pool["autoscaling"]!["minNodeCount"]!.GetValue<int>());
        Assert.Equal(3, pool["autoscaling"]!["maxNodeCount"]!.GetValue<int>());

        // a 2x4 v6e slice on ct6e-standard-4t spans 2 hosts: a pool of 1 node is refused, 2 is accepted
        var one = cli.Run("container", "node-pools", "create", "tpu", "--cluster", "demo", "--zone", zone, "--machine-type", "ct6e-standard-4t", "--tpu-topology", "2x4", "--num-nodes", "1");
        Assert.NotEqual(0, one.Code);
        Assert.Contains("code=400", one.Err);
        Assert.Contains("Initial node count 1 is not a valid size of TPU pod slice with topology \"2x4\"", one.Err);
        var two = cli.Run("container", "node-pools", "create", "tpu", "--cluster", "demo", "--zone", zone, "--machine-type", "ct6e-standard-4t", "--tpu-topology", "2x4", "--num-nodes", "2");
        Assert.True(two.Code == 0, two.Err);

        // the slice is atomic: 3 nodes is refused; 0 (no slice) is a size GKE accepts, waited for with operations wait
        var three = cli.Run("container", "clusters", "resize", "demo", "--node-pool", "tpu", "--num-nodes", "3", "--zone", zone);
        Assert.NotEqual(0, three.Code);
        Assert.Contains("INVALID_ARGUMENT: Node count 3 is not a valid size of TPU pod slice with topology \"2x4\"", three.Err);
        var zero = cli.Run("container", "clusters", "resize", "demo", "--node-pool", "tpu", "--num-nodes", "0", "--zone", zone, "--async");
        Assert.True(zero.Code == 0, zero.Err);
        var ops = cli.Json("container", "operations", "list", "--zone", zone).AsArray();
        var resize = ops.Single(o => o!["operationType"]!.GetValue<string>() == "SET_NODE_POOL_SIZE")!["name"]!.GetValue<string>();
        var wait = cli.Run("container", "operations", "wait", resize, "--zone", zone);
        Assert.True(wait.Code == 0, wait.Err);
        Assert.Equal("DONE", cli.Json("container", "operations", "describe", resize, "--zone", zone)["status"]!.GetValue<string>());
        Assert.Equal(0, bed.Simulator.GetCluster(GkeTestBed.Project, zone, "demo")!.NodePools.Single(p => p.Name == "tpu").NodeCount);

        var labels = cli.Run("container", "node-pools", "update", "tpu", "--cluster", "demo", "--zone", zone, "--node-labels=team=ml");
        Assert.True(labels.Code == 0, labels.Err);
        Assert.Equal("ml", cli.Json("container", "node-pools", "describe", "tpu", "--cluster", "demo", "--zone", zone)["config"]!["labels"]!["team"]!.GetValue<string>());
    }
}
