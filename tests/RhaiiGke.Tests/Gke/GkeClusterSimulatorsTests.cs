using RhaiiGke.Sandbox;
using Xunit;

namespace RhaiiGke.Tests.Gke;

/// <summary>A cluster the GKE simulator creates is served by a Kubernetes API simulator whose TPU nodes follow the pools.</summary>
[Collection("GkeCmdlets")]
public class GkeClusterSimulatorsTests
{
    [Fact]
    public void CreatedClusterServesTpuNodesThatFollowThePoolSize()
    {
        using var clusters = new GkeClusterSimulators(TimeSpan.FromMilliseconds(5));
        using var bed = new GkeTestBed(configure: clusters.Attach);
        using var ps = new GkeCmdletHost(bed);

        var created = ps.Ok("New-TpuCluster @c -Name live -Zone europe-west4-a -Accelerator v6e -Topology 2x2 -InitialNodeCount 1 -MaxNodes 3 -SystemNodeCount 1").Single<TpuCluster>();
        var api = clusters.For(GkeTestBed.Project, GkeTestBed.Zone, "live");
        Assert.NotNull(api);
        Assert.Equal(api!.Server, created.Endpoint!.TrimEnd('/'));

        var tpuNodes = api.ListObjects("v1", "Node").Where(n => n["metadata"]!["labels"]!["cloud.google.com/gke-tpu-accelerator"] is not null).ToList();
        var node = Assert.Single(tpuNodes);
        Assert.Equal("tpu-v6e-slice", node["metadata"]!["labels"]!["cloud.google.com/gke-tpu-accelerator"]!.GetValue<string>());
        Assert.Equal("2x2", node["metadata"]!["labels"]!["cloud.google.com/gke-tpu-topology"]!.GetValue<string>());
        Assert.Equal("4", node["status"]!["capacity"]!["google.com/tpu"]!.ToString());
        Assert.Contains(node["spec"]!["taints"]!.AsArray(), t => t!["key"]!.GetValue<string>() == "google.com/tpu" && t["effect"]!.GetValue<string>() == "NoSchedule");

        ps.Ok("Set-TpuNodePool @c -ClusterName live -Zone europe-west4-a -Size 3");
        Assert.Equal(3, api.ListObjects("v1", "Node").Count(n => n["metadata"]!["labels"]!["cloud.google.com/gke-tpu-accelerator"] is not null));
        ps.Ok("Set-TpuNodePool @c -ClusterName live -Zone europe-west4-a -ScaleToZero");
        Assert.Equal(0, api.ListObjects("v1", "Node").Count(n => n["metadata"]!["labels"]!["cloud.google.com/gke-tpu-accelerator"] is not null));

        ps.Ok("Remove-TpuCluster @c -Name live -Zone europe-west4-a -Confirm:$false");
        Assert.Null(clusters.For(GkeTestBed.Project, GkeTestBed.Zone, "live"));
    }
}

/// <summary>The card's pipeline from an empty project to installed operators, with no cloud.</summary>
[Collection("GkeCmdlets")]
public class EmptyProjectToOperatorsTests
{
    [Fact]
    public void NewTpuClusterPipesIntoCredentialsConnectAndInstall()
    {
        using var clusters = new GkeClusterSimulators(TimeSpan.FromMilliseconds(5));
        using var bed = new GkeTestBed(configure: clusters.Attach);
        using var ps = new GkeCmdletHost(bed);

        var platform = ps.Ok("""
            New-TpuCluster @c -Name e2e -Zone europe-west4-a -Accelerator v6e -Topology 2x2 -InitialNodeCount 1 -SystemNodeCount 2 |
                Get-TpuClusterCredential @c -AuthMode Token |
                Connect-RhaiiCluster |
                Install-RhaiiOperators
            """).Single<RhaiiPlatform>();
        Assert.True(platform.Ready, platform.ToString());
        var api = clusters.For(GkeTestBed.Project, GkeTestBed.Zone, "e2e")!;
        Assert.True(api.Serves("serving.kserve.io/v1alpha1", "LLMInferenceService"));
    }
    [Fact]
    public void TheCardsWholePipelineEndsInABenchmarkThroughTheGateway()
    {
        using var clusters = new GkeClusterSimulators(TimeSpan.FromMilliseconds(5));
        using var bed = new GkeTestBed(configure: clusters.Attach);
        using var ps = new GkeCmdletHost(bed);

        // New-TpuCluster ... | Install-RhaiiOperators | Deploy-LlmInferenceService ... | Test-InferenceEndpoint | Invoke-InferenceBenchmark
        var result = ps.Ok("""
            $cred = [pscredential]::new('svc', (ConvertTo-SecureString 'registry-password' -AsPlainText -Force))
            New-TpuCluster @c -Name card -Zone europe-west4-a -Accelerator v6e -Topology 2x2 -InitialNodeCount 1 -SystemNodeCount 2 |
                Get-TpuClusterCredential @c -AuthMode Token |
                Connect-RhaiiCluster |
                Install-RhaiiOperators |
                Deploy-LlmInferenceService -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -RegistryCredential $cred -Wait -Timeout 00:05:00 -WarningAction SilentlyContinue |
                Test-InferenceEndpoint |
                Invoke-InferenceBenchmark -Concurrency 2 -NumPrompts 20 -InputTokens 64 -OutputTokens 8
            """).Single<InferenceBenchmarkResult>();
        Assert.Equal(20, result.Completed);
        Assert.Equal(0, result.Failed);
        Assert.Contains("/rhaii-inference/qwen", result.BaseUrl);
        Assert.Equal("Qwen/Qwen2.5-1.5B-Instruct", result.Model);
        var api = clusters.For(GkeTestBed.Project, GkeTestBed.Zone, "card")!;
        Assert.Contains(api.ListObjects("gateway.networking.k8s.io/v1", "Gateway"), g => g["metadata"]!["name"]!.GetValue<string>() == "inference-gateway");
    }
}

/// <summary>
/// GKE's cluster autoscaler on a simulated cluster: a TPU pool autoscaled from zero grows for a pending vLLM pod
/// (TriggeredScaleUp, the node joins, the service becomes Ready), and once the pool is at its maximum a further
/// replica gets NotTriggerScaleUp, on which Deploy/Set -Wait stops after the failure grace with the autoscaler's
/// reason instead of waiting out the scheduling limit.
/// </summary>
[Collection("GkeCmdlets")]
public class ClusterAutoscalerTests
{
    [Fact]
    public void APoolAutoscaledFromZeroGrowsForTheServiceAndAFullPoolFailsTheWaitFast()
    {
        using var clusters = new GkeClusterSimulators(TimeSpan.FromMilliseconds(5));
        using var bed = new GkeTestBed(configure: clusters.Attach);
        using var ps = new GkeCmdletHost(bed);

        var svc = ps.Ok("""
            $cred = [pscredential]::new('svc', (ConvertTo-SecureString 'registry-password' -AsPlainText -Force))
            New-TpuCluster @c -Name auto -Zone europe-west4-a -Accelerator v6e -Topology 2x2 -InitialNodeCount 0 -MinNodes 0 -MaxNodes 1 -SystemNodeCount 2 |
                Get-TpuClusterCredential @c -AuthMode Token |
                Connect-RhaiiCluster |
                Install-RhaiiOperators |
                Deploy-LlmInferenceService -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -Pattern Baseline -RegistryCredential $cred -Wait -Timeout 00:05:00 -WarningAction SilentlyContinue
            """).Single<LlmInferenceService>();
        Assert.True(svc.Ready);
        var api = clusters.For(GkeTestBed.Project, GkeTestBed.Zone, "auto")!;
        Assert.Single(api.ListObjects("v1", "Node"), n => n["metadata"]!["labels"]!["cloud.google.com/gke-tpu-accelerator"] is not null);
        var events = api.ListObjects("v1", "Event", svc.Namespace);
        var triggered = Assert.Single(events, e => e["reason"]?.GetValue<string>() == "TriggeredScaleUp");
        Assert.Equal("cluster-autoscaler", triggered["source"]!["component"]!.GetValue<string>());
        Assert.Matches(@"pod triggered scale-up: \[\{https://www\.googleapis\.com/compute/v1/projects/.+/instanceGroups/gke-auto-tpu-pool-grp 0->1 \(max: 1\)\}\]", triggered["message"]!.GetValue<string>());
        // the pool's size in the GKE API follows (what gcloud and Get-TpuCluster show)
        var pool = ps.Ok("Get-TpuCluster @c -Name auto -Zone europe-west4-a").Single<TpuCluster>().NodePools.Single(p => p.Name == "tpu-pool");
        Assert.Equal(1, pool.NodeCount);

        // a second replica needs a second TPU host; the pool is at its maximum of 1
        var error = ps.Run("Set-LlmInferenceService -Namespace rhaii-inference -Name qwen -Replicas 2 -Wait -Timeout 00:05:00").Error;
        Assert.StartsWith("LlmInferenceServiceUnschedulable", error.FullyQualifiedErrorId);
        Assert.Equal(System.Management.Automation.ErrorCategory.ResourceUnavailable, error.CategoryInfo.Category);
        Assert.Contains("the cluster autoscaler will not add a node", error.Exception.Message);
        Assert.Contains("NotTriggerScaleUp: pod didn't trigger scale-up:", error.Exception.Message);
        Assert.Contains("max node group size reached", error.Exception.Message);
        Assert.False(string.IsNullOrWhiteSpace(error.ErrorDetails?.RecommendedAction));
    }
}
