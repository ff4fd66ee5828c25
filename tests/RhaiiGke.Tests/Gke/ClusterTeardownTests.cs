using RhaiiGke.Engine.Gke;
using RhaiiGke.Sandbox;
using Xunit;

namespace RhaiiGke.Tests.Gke;

/// <summary>Issue 10 #10: Remove-TpuCluster's Gateway check and Test-RhaiiPrerequisites -Cluster's CRD check reach the cluster's API server.</summary>
[Collection("GkeCmdlets")]
public class ClusterTeardownTests
{
    private const string Gateway = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: opendatahub}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: inference-gateway, namespace: opendatahub}
        spec:
          gatewayClassName: gke-l7-regional-external-managed
          listeners: [{name: http, port: 80, protocol: HTTP}]
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: web}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: public-lb, namespace: web}
        spec:
          type: LoadBalancer
          selector: {app: web}
          ports: [{port: 80, targetPort: 8080}]
        """;

    [Fact]
    public void RemoveRefusesWhileGatewaysOrLoadBalancersExistAndForceDeletesThemFirst()
    {
        using var clusters = new GkeClusterSimulators(TimeSpan.FromMilliseconds(5));
        using var bed = new GkeTestBed(configure: clusters.Attach);
        using var ps = new GkeCmdletHost(bed);
        ps.Ok("New-TpuCluster @c -Name gw -Zone europe-west4-a -SystemNodeCount 1");
        var api = clusters.For(GkeTestBed.Project, GkeTestBed.Zone, "gw")!;
        api.Seed(Gateway);

        var refused = ps.Run("Remove-TpuCluster @c -Name gw -Zone europe-west4-a -Confirm:$false").Error;
        Assert.StartsWith("ClusterHasGateways", refused.FullyQualifiedErrorId);
        Assert.Equal(System.Management.Automation.ErrorCategory.InvalidOperation, refused.CategoryInfo.Category);
        Assert.Contains("Gateway opendatahub/inference-gateway", refused.Exception.Message);
        Assert.Contains("Service web/public-lb", refused.Exception.Message);
        Assert.Contains("-Force", refused.ErrorDetails.RecommendedAction);
        Assert.Single(bed.Simulator.ClusterKeys);
        Assert.Equal(0, bed.Simulator.CountRequests("DELETE", "/"));
        Assert.DoesNotContain(api.Requests, r => r.Method == "DELETE");

        // -WhatIf with -Force says what it would delete and deletes nothing
        ps.Ok("Remove-TpuCluster @c -Name gw -Zone europe-west4-a -Force -WhatIf");
        Assert.DoesNotContain(api.Requests, r => r.Method == "DELETE");
        Assert.Single(bed.Simulator.ClusterKeys);

        ps.Ok("Remove-TpuCluster @c -Name gw -Zone europe-west4-a -Force");
        Assert.Empty(bed.Simulator.ClusterKeys);
        // the load balancer holders went first
        Assert.Null(api.GetObject("gateway.networking.k8s.io/v1", "Gateway", "opendatahub", "inference-gateway"));
        Assert.Null(api.GetObject("v1", "Service", "web", "public-lb"));
        Assert.Contains(api.Requests, r => r.Method == "DELETE" && r.Path.Contains("/gateways/inference-gateway", StringComparison.Ordinal));
    }

    [Fact]
    public void RemoveDeletesAClusterWithoutLoadBalancersAfterCheckingIt()
    {
        using var clusters = new GkeClusterSimulators(TimeSpan.FromMilliseconds(5));
        using var bed = new GkeTestBed(configure: clusters.Attach);
        using var ps = new GkeCmdletHost(bed);
        ps.Ok("New-TpuCluster @c -Name clean -Zone europe-west4-a -SystemNodeCount 1");
        var api = clusters.For(GkeTestBed.Project, GkeTestBed.Zone, "clean")!;
        var r = ps.Ok("Remove-TpuCluster @c -Name clean -Zone europe-west4-a -Confirm:$false");
        Assert.DoesNotContain("W ", r.Streams);
        Assert.Empty(bed.Simulator.ClusterKeys);
        Assert.Contains(api.Requests, q => q.Method == "GET" && q.Path.StartsWith("/apis/gateway.networking.k8s.io/v1/gateways", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PrerequisitesWithClusterCheckTheCrdsOnTheClustersApiServer()
    {
        using var clusters = new GkeClusterSimulators(TimeSpan.FromMilliseconds(5));
        using var bed = new GkeTestBed(configure: clusters.Attach);
        using var ps = new GkeCmdletHost(bed);
        ps.Ok("New-TpuCluster @c -Name pc -Zone europe-west4-a -SystemNodeCount 1");
        var r = ps.Ok("Test-RhaiiPrerequisites @c -ServiceUsageEndpoint $sim.ServiceUsageEndpoint -Zone europe-west4-a -Cluster pc").Single<TestRhaiiPrerequisitesResult>();
        var crds = r.Checks.Single(c => c.Name == "RequiredCrds");
        Assert.Equal(PrerequisiteStatus.Passed, crds.Status);
        Assert.Contains("gateways.gateway.networking.k8s.io", crds.Message);
        var platform = r.Checks.Single(c => c.Name == "PlatformCrds");
        Assert.Equal(PrerequisiteStatus.Warning, platform.Status);
        Assert.Contains("llminferenceservices.serving.kserve.io", platform.Message);
        Assert.Contains("Install-RhaiiOperators", platform.RecommendedAction);

        // without the Gateway API CRDs the check fails with the command that enables it
        var api = clusters.For(GkeTestBed.Project, GkeTestBed.Zone, "pc")!;
        // as a cluster admin would, with the same token and the cluster's CA
        var admin = RhaiiGke.Engine.Kube.ClusterConnector.FromEndpoint(new Uri(api.Server), GkeTestBed.Secure(bed.Token), api.CaCertificateData, false, "default");
        await RhaiiGke.Engine.Kube.KubeClient.For(admin).DeleteAsync("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/httproutes.gateway.networking.k8s.io", "Background", false, CancellationToken.None);
        Assert.True(SpinWait.SpinUntil(() => api.GetObject("apiextensions.k8s.io/v1", "CustomResourceDefinition", null, "httproutes.gateway.networking.k8s.io") is null, TimeSpan.FromSeconds(60)));
        var missing = ps.Ok("Test-RhaiiPrerequisites @c -ServiceUsageEndpoint $sim.ServiceUsageEndpoint -Zone europe-west4-a -Cluster pc").Single<TestRhaiiPrerequisitesResult>();
        var failed = missing.Checks.Single(c => c.Name == "RequiredCrds");
        Assert.Equal(PrerequisiteStatus.Failed, failed.Status);
        Assert.Contains("httproutes.gateway.networking.k8s.io", failed.Message);
        Assert.Contains("--gateway-api=standard", failed.RecommendedAction);
        Assert.False(missing.Passed);
    }
}

/// <summary>Issue 10 #15: a New-TpuCluster whose TPU pool fails after the cluster was created says what it left, or removes it.</summary>
[Collection("GkeCmdlets")]
public class NewClusterFailureTests
{
    [Fact]
    public void AStockoutAfterTheClusterWasCreatedNamesWhatIsLeftAndHowToRemoveIt()
    {
        using var bed = new GkeTestBed();
        bed.Simulator.Faults.StockoutZones.Add("europe-west4-a");
        using var ps = new GkeCmdletHost(bed);
        var error = ps.Run("New-TpuCluster @c -Name so -Zone europe-west4-a -InitialNodeCount 1").Error;
        Assert.StartsWith("GkeStockout", error.FullyQualifiedErrorId);
        var left = bed.Simulator.GetCluster(GkeTestBed.Project, GkeTestBed.Zone, "so")!;
        Assert.NotEmpty(left.NodePools);
        var message = error.Exception.Message;
        Assert.Contains($"{GkeTestBed.Project}/europe-west4-a/so", message);
        Assert.Contains("created by this run", message);
        Assert.Contains("zone europe-west4-a", message);
        foreach (var pool in left.NodePools) Assert.Contains(pool.Name, message);
        var fix = error.ErrorDetails.RecommendedAction;
        Assert.Contains($"Remove-TpuCluster -Name so -Zone europe-west4-a -Project {GkeTestBed.Project}", fix);
        Assert.Contains("-RemoveOnFailure", fix);
        Assert.Contains("us-central1-b", fix); // the stockout advice is kept
        var ex = Assert.IsType<GkeApiException>(error.Exception);
        Assert.Equal("ZONE_RESOURCE_POOL_EXHAUSTED", ex.Reason);
        Assert.Contains("us-east5-a", ex.AlternativeZones);
    }

    [Fact]
    public void RemoveOnFailureDeletesTheClusterThisRunCreatedWhenQuotaRunsOut()
    {
        using var bed = new GkeTestBed();
        bed.Simulator.SetQuota(GkeTestBed.Project, "europe-west4", "TPU_V6E_SLICE", 0);
        using var ps = new GkeCmdletHost(bed);
        var error = ps.Run("New-TpuCluster @c -Name q -Zone europe-west4-a -InitialNodeCount 1 -SkipPreflight -RemoveOnFailure").Error;
        Assert.StartsWith("GkeQuotaExceeded", error.FullyQualifiedErrorId);
        Assert.Equal(System.Management.Automation.ErrorCategory.QuotaExceeded, error.CategoryInfo.Category);
        Assert.Contains("was removed (-RemoveOnFailure)", error.Exception.Message);
        Assert.Empty(bed.Simulator.ClusterKeys);
    }

    [Fact]
    public void RemoveOnFailureNeverDeletesAClusterThatExistedBefore()
    {
        using var bed = new GkeTestBed();
        using var ps = new GkeCmdletHost(bed);
        ps.Ok("New-TpuCluster @c -Name keep -Zone europe-west4-a -SystemNodeCount 1 -NodePoolName first");
        bed.Simulator.SetQuota(GkeTestBed.Project, "europe-west4", "TPU_V6E_SLICE", 0);
        var error = ps.Run("New-TpuCluster @c -Name keep -Zone europe-west4-a -InitialNodeCount 1 -NodePoolName second -SkipPreflight -RemoveOnFailure").Error;
        Assert.StartsWith("GkeQuotaExceeded", error.FullyQualifiedErrorId);
        Assert.Single(bed.Simulator.ClusterKeys);
        Assert.DoesNotContain("created by this run", error.Exception.Message);
        Assert.Contains("Left in place", error.Exception.Message);
        Assert.Contains(bed.Simulator.GetCluster(GkeTestBed.Project, GkeTestBed.Zone, "keep")!.NodePools, p => p.Name == "first");
    }
}
