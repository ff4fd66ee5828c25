using System.Diagnostics;
using System.Text.Json.Nodes;
using RhaiiGke.Engine.Gke;
using Xunit;

namespace RhaiiGke.Tests.Gke;

/// <summary>Runs the real gcloud against the simulator (skipped when gcloud is not on PATH).</summary>
public sealed class GcloudFactAttribute : FactAttribute
{
    public GcloudFactAttribute()
    {
        if (Gcloud.Path is null) Skip = "gcloud is not on PATH; install the Google Cloud CLI to run the gcloud-against-simulator test";
    }
}

internal static class Gcloud
{
    public static readonly string? Path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator)
        .Select(d => System.IO.Path.Combine(d, OperatingSystem.IsWindows() ? "gcloud.cmd" : "gcloud")).FirstOrDefault(File.Exists);

    /// <summary>gcloud with its own configuration folder, no prompts, no update checks, no usage reporting.</summary>
    public static (int Code, string Out, string Err) Run(string configDir, params string[] args) => Run(configDir, null, args);

    /// <summary>gcloud as above, with extra environment variables (KUBECONFIG for get-credentials).</summary>
    public static (int Code, string Out, string Err) Run(string configDir, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var psi = new ProcessStartInfo(Path!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["CLOUDSDK_CONFIG"] = configDir;
        psi.Environment["CLOUDSDK_CORE_DISABLE_PROMPTS"] = "1";
        psi.Environment["CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK"] = "1";
        psi.Environment["CLOUDSDK_CORE_DISABLE_USAGE_REPORTING"] = "1";
        psi.Environment.Remove("GOOGLE_APPLICATION_CREDENTIALS");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000)) { p.Kill(entireProcessTree: true); throw new TimeoutException("gcloud " + string.Join(' ', args)); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}

public class GcloudInteropTests
{
    /// <summary>gcloud lists through api_endpoint_overrides/container and --access-token-file; the simulator also serves the version fields gcloud's default table needs.</summary>
    [GcloudFact]
    public async Task GcloudSeesTheClustersAndNodePoolsWeCreated()
    {
        using var bed = new GkeTestBed();
        using var session = bed.Session();
        var service = new TpuClusterService(session);
        await service.EnsureAsync(GkeTestBed.Spec("gcloud-demo"), (_, _) => true, false, false, default);
        var spec = GkeTestBed.Spec("gcloud-spot");
        spec.Topology = "2x4";
        spec.Spot = true;
        spec.InitialNodeCount = 0;
        await service.EnsureAsync(spec, (_, _) => true, false, false, default);

        var dir = Directory.CreateTempSubdirectory("rhaii-gcloud-").FullName;
        try
        {
            var config = Directory.CreateDirectory(System.IO.Path.Combine(dir, "config")).FullName;
            var tokenFile = System.IO.Path.Combine(dir, "token");
            File.WriteAllText(tokenFile, bed.Token);
            var set = Gcloud.Run(config, "config", "set", "api_endpoint_overrides/container", bed.Simulator.ContainerEndpoint);
            Assert.True(set.Code == 0, set.Err);

            var list = Gcloud.Run(config, "container", "clusters", "list", "--project", GkeTestBed.Project, "--zone", GkeTestBed.Zone,
                "--access-token-file", tokenFile, "--format", "json");
            Assert.True(list.Code == 0, list.Err);
            var clusters = JsonNode.Parse(list.Out)!.AsArray();
            Assert.Equal(["gcloud-demo", "gcloud-spot"], clusters.Select(c => c!["name"]!.GetValue<string>()).Order());
            Assert.All(clusters, c => Assert.Equal("RUNNING", c!["status"]!.GetValue<string>()));
            var demo = clusters.Single(c => c!["name"]!.GetValue<string>() == "gcloud-demo")!;
            Assert.Equal("ADVANCED_DATAPATH", demo["networkConfig"]!["datapathProvider"]!.GetValue<string>());
            Assert.Equal("CHANNEL_STANDARD", demo["networkConfig"]!["gatewayApiConfig"]!["channel"]!.GetValue<string>());

            var pools = Gcloud.Run(config, "container", "node-pools", "list", "--cluster", "gcloud-spot", "--project", GkeTestBed.Project,
                "--zone", GkeTestBed.Zone, "--access-token-file", tokenFile, "--format", "json");
            Assert.True(pools.Code == 0, pools.Err);
            var tpu = JsonNode.Parse(pools.Out)!.AsArray().Single(p => p!["name"]!.GetValue<string>() == "tpu-pool")!;
            Assert.Equal("ct6e-standard-8t", tpu["config"]!["machineType"]!.GetValue<string>());
            Assert.True(tpu["config"]!["spot"]!.GetValue<bool>());
            Assert.Equal("2x4", tpu["placementPolicy"]!["tpuTopology"]!.GetValue<string>());
            Assert.Equal("google.com/tpu", tpu["config"]!["taints"]![0]!["key"]!.GetValue<string>());

            // The simulator authenticates gcloud like GKE would: an unknown token is refused.
            File.WriteAllText(tokenFile, "ya29.unknown");
            var refused = Gcloud.Run(config, "container", "clusters", "list", "--project", GkeTestBed.Project, "--zone", GkeTestBed.Zone, "--access-token-file", tokenFile);
            Assert.NotEqual(0, refused.Code);
            Assert.Contains("401", refused.Err);
        }
        finally { Directory.Delete(dir, true); }
    }
}
