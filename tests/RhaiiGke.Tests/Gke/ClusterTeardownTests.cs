using RhaiiGke.Engine.Gke;
using RhaiiGke.Engine.Simulators.Sandbox;
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
        using (var http = new HttpClient())
            Assert.True((await http.DeleteAsync(api.Server.TrimEnd('/') + "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/httproutes.gateway.networking.k8s.io")).IsSuccessStatusCode);
        Assert.True(SpinWait.SpinUntil(() => api.GetObject("apiextensions.k8s.io/v1", "CustomResourceDefinition", null, "httproutes.gateway.networking.k8s.io") is null, TimeSpan.FromSeconds(60)));
        var missing = ps.Ok("Test-RhaiiPrerequisites @c -ServiceUsageEndpoint $sim.ServiceUsageEndpoint -Zone europe-west4-a -Cluster pc").Single<TestRhaiiPrerequisitesResult>();
        var failed = missing.Checks.Single(c => c.Name == "RequiredCrds");
        Assert.Equal(PrerequisiteStatus.Failed, failed.Status);
        Assert.Contains("httproutes.gateway.networking.k8s.io", failed.Message);
        Assert.Contains("--gateway-api=standard", failed.RecommendedAction);
        Assert.False(missing.Passed);
    }
}
