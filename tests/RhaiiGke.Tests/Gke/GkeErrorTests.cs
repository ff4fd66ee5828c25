using System.Net;
using RhaiiGke.Engine.Gke;
using Xunit;

namespace RhaiiGke.Tests.Gke;

public class GkeErrorClassificationTests
{
    private static string Body(int code, string status, string message, string? reason = null)
    {
        var err = new System.Text.Json.Nodes.JsonObject { ["code"] = code, ["message"] = message.Replace("\\\"", "\""), ["status"] = status };
        if (reason is not null)
            err["details"] = new System.Text.Json.Nodes.JsonArray(new System.Text.Json.Nodes.JsonObject { ["@type"] = "type.googleapis.com/google.rpc.ErrorInfo", ["reason"] = reason });
        return new System.Text.Json.Nodes.JsonObject { ["error"] = err }.ToJsonString();
    }

    [Theory]
    [InlineData(403, "PERMISSION_DENIED", "Insufficient regional quota to satisfy request: resource \\\"TPU_V6E_SLICE\\\": request requires '8.0' and is short '4.0'.", null, "GkeQuotaExceeded", RhaiiErrorCategory.QuotaExceeded)]
    [InlineData(429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute'", null, "GkeRateLimited", RhaiiErrorCategory.LimitsExceeded)]
    [InlineData(403, "PERMISSION_DENIED", "Required \\\"container.clusters.create\\\" permission(s) for \\\"projects/p\\\".", "IAM_PERMISSION_DENIED", "GkePermissionDenied", RhaiiErrorCategory.PermissionDenied)]
    [InlineData(403, "PERMISSION_DENIED", "Kubernetes Engine API has not been used in project p before or it is disabled.", "SERVICE_DISABLED", "GkeApiDisabled", RhaiiErrorCategory.NotEnabled)]
    [InlineData(404, "NOT_FOUND", "Not found: projects/p/locations/z/clusters/c.", null, "GkeNotFound", RhaiiErrorCategory.ObjectNotFound)]
    [InlineData(400, "INVALID_ARGUMENT", "Invalid TPU topology \\\"3x3\\\".", null, "GkeInvalidArgument", RhaiiErrorCategory.InvalidArgument)]
    [InlineData(400, "FAILED_PRECONDITION", "Cluster is running incompatible operation operation-1.", null, "GkeClusterBusy", RhaiiErrorCategory.ResourceBusy)]
    [InlineData(409, "ALREADY_EXISTS", "Already exists: projects/p/locations/z/clusters/c.", null, "GkeAlreadyExists", RhaiiErrorCategory.ResourceExists)]
    [InlineData(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.", null, "GkeAuthenticationFailed", RhaiiErrorCategory.AuthenticationError)]
    [InlineData(503, "UNAVAILABLE", "The service is currently unavailable.", null, "GkeServiceUnavailable", RhaiiErrorCategory.ConnectionError)]
    [InlineData(429, "RESOURCE_EXHAUSTED", "ZONE_RESOURCE_POOL_EXHAUSTED: The zone 'projects/p/zones/z' does not have enough resources available to fulfill the request.", null, "GkeStockout", RhaiiErrorCategory.ResourceUnavailable)]
    public void GoogleErrorBodiesBecomeTypedErrors(int http, string status, string message, string? reason, string errorId, RhaiiErrorCategory category)
    {
        var ex = GkeErrors.FromHttp((HttpStatusCode)http, Body(http, status, message, reason), "cluster c");
        Assert.Equal(errorId, ex.ErrorId);
        Assert.Equal(category, ex.Category);
        Assert.Equal(http, ex.HttpStatus);
        Assert.Equal(status, ex.GoogleStatus);
        Assert.False(string.IsNullOrEmpty(ex.RecommendedAction));
    }

    [Fact]
    public void QuotaErrorNamesTheMetricToRaise()
    {
        var ex = GkeErrors.FromHttp(HttpStatusCode.Forbidden,
            Body(403, "PERMISSION_DENIED", "Insufficient regional quota to satisfy request: resource \\\"TPU_V6E_SLICE\\\": request requires '8.0'"), "pool");
        Assert.Equal("TPU_V6E_SLICE", ex.Reason);
        Assert.Contains("TPU_V6E_SLICE", ex.RecommendedAction);
    }

    [Theory]
    [InlineData(8, "Google Compute Engine: Not all instances running in IGM after 35m6s. Current errors: [GCE_STOCKOUT]: Instance creation failed", "GkeStockout", "GCE_STOCKOUT")]
    [InlineData(8, "[ZONE_RESOURCE_POOL_EXHAUSTED]: The zone 'projects/p/zones/us-east5-a' does not have enough resources available", "GkeStockout", "ZONE_RESOURCE_POOL_EXHAUSTED")]
    [InlineData(8, "Insufficient quota to satisfy the request: Quota 'TPU_V6E_SLICE' exceeded. Limit: 4.0 in region us-east5.", "GkeQuotaExceeded", "TPU_V6E_SLICE")]
    [InlineData(7, "Permission denied on 'locations/us-east5-a' (or it may not exist).", "GkePermissionDenied", null)]
    [InlineData(3, "Node pool topology 2x2 does not match machine type ct6e-standard-8t.", "GkeInvalidArgument", null)]
    [InlineData(13, "Internal error.", "GkeServiceUnavailable", null)]
    public void FailedOperationsAreClassifiedToo(int code, string message, string errorId, string? reason)
    {
        var op = new GkeOperation { Name = "operation-1", Status = "DONE", ErrorCode = code, ErrorMessage = message, OperationType = "CREATE_NODE_POOL" };
        var ex = GkeErrors.FromOperation(op, "node pool c/tpu-pool");
        Assert.Equal(errorId, ex.ErrorId);
        Assert.Equal("operation-1", ex.OperationName);
        if (reason is not null) Assert.Equal(reason, ex.Reason);
        Assert.Contains("operation-1", ex.Message);
    }

    [Fact]
    public void NonJsonBodiesStillGiveAnError()
    {
        var ex = GkeErrors.FromHttp(HttpStatusCode.BadGateway, "<html>bad gateway</html>", "cluster c");
        Assert.Equal("GkeRequestFailed", ex.ErrorId);
        Assert.Contains("bad gateway", ex.Message);
    }

    [Theory]
    [InlineData("http://container.example.com/", "InsecureGoogleEndpoint")]
    [InlineData("ftp://127.0.0.1/", "InvalidGoogleEndpoint")]
    [InlineData("not a url", "InvalidGoogleEndpoint")]
    public void EndpointsMustBeHttpsUnlessLoopback(string url, string errorId)
    {
        var ex = Assert.Throws<RhaiiException>(() => GkeEndpoints.Resolve(new GkeConnectionOptions { ContainerEndpoint = url }, _ => null));
        Assert.Equal(errorId, ex.ErrorId);
    }

    [Fact]
    public void EndpointsComeFromOptionThenEnvironmentThenDefault()
    {
        var env = new Dictionary<string, string?> { ["RHAII_GKE_ENDPOINT"] = "http://127.0.0.1:9/", ["RHAII_COMPUTE_ENDPOINT"] = "https://compute.example.test/compute/v1" };
        var e = GkeEndpoints.Resolve(new GkeConnectionOptions(), k => env.GetValueOrDefault(k));
        Assert.Equal("http://127.0.0.1:9/", e.Container.ToString());
        Assert.Equal("https://compute.example.test/compute/v1/", e.Compute.ToString());
        Assert.Equal(GkeEndpoints.DefaultServiceUsage, e.ServiceUsage.ToString());
        var o = GkeEndpoints.Resolve(new GkeConnectionOptions { ContainerEndpoint = "https://c.example.test" }, k => env.GetValueOrDefault(k));
        Assert.Equal("https://c.example.test/", o.Container.ToString());
        Assert.Equal(TimeSpan.FromSeconds(5), o.PollInterval(new GkeConnectionOptions(), _ => null));
    }
}

/// <summary>Every classified error, produced by the simulator in GKE's own shapes.</summary>
public class GkeSimulatedErrorTests
{
    [Fact]
    public async Task PermissionDeniedIsTyped()
    {
        using var bed = new GkeTestBed();
        bed.Simulator.Faults.DeniedPermissions.Add("container.clusters.create");
        using var session = bed.Session();
        var ex = await Assert.ThrowsAsync<GkeApiException>(() => new GkeClient(session).CreateClusterAsync(GkeTestBed.Project, GkeTestBed.Zone,
            ClusterRequests.Cluster(TpuClusterPlan.Create(GkeTestBed.Spec())), default));
        Assert.Equal("GkePermissionDenied", ex.ErrorId);
        Assert.Contains("container.clusters.create", ex.Message);
        Assert.Contains("roles/container.admin", ex.RecommendedAction);
        Assert.Empty(bed.Simulator.ClusterKeys);
    }

    [Fact]
    public async Task ApiDisabledIsTyped()
    {
        using var bed = new GkeTestBed(configure: o => o.DisabledApis.Add("container.googleapis.com"));
        using var session = bed.Session();
        var ex = await Assert.ThrowsAsync<GkeApiException>(() => new GkeClient(session).ListClustersAsync(GkeTestBed.Project, "-", default));
        Assert.Equal("GkeApiDisabled", ex.ErrorId);
        Assert.Contains("gcloud services enable", ex.RecommendedAction);
    }

    [Fact]
    public async Task UnknownTokenIsUnauthenticated()
    {
        using var bed = new GkeTestBed();
        var options = bed.Connection();
        options.AccessToken = GkeTestBed.Secure("ya29.not-issued-by-the-simulator");
        using var session = GkeSession.Open(options, bed.Log, _ => null);
        var ex = await Assert.ThrowsAsync<GkeApiException>(() => new GkeClient(session).ListClustersAsync(GkeTestBed.Project, "-", default));
        Assert.Equal("GkeAuthenticationFailed", ex.ErrorId);
        Assert.DoesNotContain("ya29.not-issued", ex.Message + ex.RecommendedAction + bed.Log.All);
    }

    [Fact]
    public async Task InvalidArgumentIsTyped()
    {
        using var bed = new GkeTestBed();
        using var session = bed.Session();
        var gke = new GkeClient(session);
        var plan = TpuClusterPlan.Create(GkeTestBed.Spec("inv"));
        await gke.WaitAsync(await gke.CreateClusterAsync(GkeTestBed.Project, GkeTestBed.Zone, ClusterRequests.Cluster(plan), default), "c", default);
        var pool = ClusterRequests.TpuNodePool(plan);
        pool["placementPolicy"]!["tpuTopology"] = "4x4x4";
        var ex = await Assert.ThrowsAsync<GkeApiException>(() => gke.CreateNodePoolAsync(GkeTestBed.Project, GkeTestBed.Zone, "inv", pool, default));
        Assert.Equal("GkeInvalidArgument", ex.ErrorId);
        Assert.Contains("4x4x4", ex.Message);
    }

    [Fact]
    public async Task QuotaShortfallIsTypedFromGkesPermissionDeniedShape()
    {
        using var bed = new GkeTestBed();
        bed.Simulator.SetQuota(GkeTestBed.Project, "europe-west4", "TPU_V6E_SLICE", 2);
        using var session = bed.Session();
        var gke = new GkeClient(session);
        var plan = TpuClusterPlan.Create(GkeTestBed.Spec("q"));
        await gke.WaitAsync(await gke.CreateClusterAsync(GkeTestBed.Project, GkeTestBed.Zone, ClusterRequests.Cluster(plan), default), "c", default);
        var ex = await Assert.ThrowsAsync<GkeApiException>(() => gke.CreateNodePoolAsync(GkeTestBed.Project, GkeTestBed.Zone, "q", ClusterRequests.TpuNodePool(plan), default));
        Assert.Equal("GkeQuotaExceeded", ex.ErrorId);
        Assert.Equal("PERMISSION_DENIED", ex.GoogleStatus);
        Assert.Equal("TPU_V6E_SLICE", ex.Reason);
    }

    [Fact]
    public async Task StockoutEndsTheOperationInError()
    {
        using var bed = new GkeTestBed();
        bed.Simulator.Faults.StockoutZones.Add(GkeTestBed.Zone);
        using var session = bed.Session();
        var gke = new GkeClient(session);
        var plan = TpuClusterPlan.Create(GkeTestBed.Spec("so"));
        await gke.WaitAsync(await gke.CreateClusterAsync(GkeTestBed.Project, GkeTestBed.Zone, ClusterRequests.Cluster(plan), default), "c", default);
        var op = await gke.CreateNodePoolAsync(GkeTestBed.Project, GkeTestBed.Zone, "so", ClusterRequests.TpuNodePool(plan), default);
        var ex = await Assert.ThrowsAsync<GkeApiException>(() => gke.WaitAsync(op, "pool", default));
        Assert.Equal("GkeStockout", ex.ErrorId);
        Assert.Equal("ZONE_RESOURCE_POOL_EXHAUSTED", ex.Reason);
        Assert.Equal(op.Name, ex.OperationName);
        Assert.Equal("ERROR", (await gke.GetNodePoolAsync(GkeTestBed.Project, GkeTestBed.Zone, "so", "tpu-pool", default))!.Status);
    }
}
