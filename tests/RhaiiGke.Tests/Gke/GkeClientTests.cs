using System.Text.Json.Nodes;
using RhaiiGke.Engine.Gke;
using Xunit;

namespace RhaiiGke.Tests.Gke;

public class GkeClientTests
{
    private static JsonObject Cluster(string name) => ClusterRequests.Cluster(TpuClusterPlan.Create(GkeTestBed.Spec(name)));

    [Fact]
    public async Task CreatesAClusterAndPollsItsOperationToDone()
    {
        // long enough that the cluster is still PROVISIONING when read right after the create, even on a loaded machine
        using var bed = new GkeTestBed(TimeSpan.FromSeconds(3));
        using var session = bed.Session();
        var gke = new GkeClient(session);

        var op = await gke.CreateClusterAsync(GkeTestBed.Project, GkeTestBed.Zone, Cluster("c1"), default);
        Assert.Equal("CREATE_CLUSTER", op.OperationType);
        Assert.False(op.Done);
        var provisioning = await gke.GetClusterAsync(GkeTestBed.Project, GkeTestBed.Zone, "c1", default);
        Assert.Equal("PROVISIONING", provisioning!.Status);
        Assert.Null(provisioning.Endpoint);

        var done = await gke.WaitAsync(op, "create", default);
        Assert.True(done.Done);
        Assert.False(done.Failed);
        var c = await gke.GetClusterAsync(GkeTestBed.Project, GkeTestBed.Zone, "c1", default);
        Assert.Equal("RUNNING", c!.Status);
        Assert.Equal("https://127.0.0.1:6443", c.Endpoint);
        Assert.Contains("BEGIN CERTIFICATE", System.Text.Encoding.ASCII.GetString(Convert.FromBase64String(c.CaCertificate!)));
        Assert.Equal("ADVANCED_DATAPATH", c.DatapathProvider);
        Assert.True(c.NetworkPolicyEnforced);
        Assert.Equal("CHANNEL_STANDARD", c.GatewayApiChannel);
        Assert.Equal($"{GkeTestBed.Project}.svc.id.goog", c.WorkloadPool);
        Assert.True(c.VpcNative);
        Assert.Equal("platform", c.Labels["team"]);
        Assert.Equal(1, Assert.Single(c.NodePools).NodeCount);
        Assert.Contains(bed.Log.Lines, l => l.StartsWith("P create:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task NodePoolLifecycleReportsTpuFactsSizeAndAutoscaling()
    {
        using var bed = new GkeTestBed();
        using var session = bed.Session();
        var gke = new GkeClient(session);
        var plan = TpuClusterPlan.Create(GkeTestBed.Spec("c2"));
        await gke.WaitAsync(await gke.CreateClusterAsync(GkeTestBed.Project, GkeTestBed.Zone, ClusterRequests.Cluster(plan), default), "c", default);

        await gke.WaitAsync(await gke.CreateNodePoolAsync(GkeTestBed.Project, GkeTestBed.Zone, "c2", ClusterRequests.TpuNodePool(plan), default), "p", default);
        var pool = await gke.GetNodePoolAsync(GkeTestBed.Project, GkeTestBed.Zone, "c2", "tpu-pool", default);
        Assert.NotNull(pool);
        Assert.Equal("v6e", pool.Accelerator);
        Assert.Equal("2x2", pool.Topology);
        Assert.Equal("ct6e-standard-4t", pool.MachineType);
        Assert.Equal(4, pool.ChipsPerNode);
        Assert.Equal(1, pool.NodeCount);
        Assert.True(pool.AutoscalingEnabled);
        Assert.Equal((0, 2), (pool.MinNodes, pool.MaxNodes));
        Assert.Contains("google.com/tpu=present:NoSchedule", pool.Taints);

        await gke.WaitAsync(await gke.SetNodePoolSizeAsync(GkeTestBed.Project, GkeTestBed.Zone, "c2", "tpu-pool", 2, default), "s", default);
        Assert.Equal(2, (await gke.GetNodePoolAsync(GkeTestBed.Project, GkeTestBed.Zone, "c2", "tpu-pool", default))!.NodeCount);
        await gke.WaitAsync(await gke.SetNodePoolAutoscalingAsync(GkeTestBed.Project, GkeTestBed.Zone, "c2", "tpu-pool", false, 0, 0, default), "a", default);
        Assert.False((await gke.GetNodePoolAsync(GkeTestBed.Project, GkeTestBed.Zone, "c2", "tpu-pool", default))!.AutoscalingEnabled);

        var del = await gke.DeleteNodePoolAsync(GkeTestBed.Project, GkeTestBed.Zone, "c2", "tpu-pool", default);
        await gke.WaitAsync(del!, "d", default);
        Assert.Null(await gke.GetNodePoolAsync(GkeTestBed.Project, GkeTestBed.Zone, "c2", "tpu-pool", default));
    }

    [Fact]
    public async Task RetriesWhileAnotherOperationHoldsTheCluster()
    {
        using var bed = new GkeTestBed(TimeSpan.FromMilliseconds(300));
        using var session = bed.Session();
        var gke = new GkeClient(session);
        var plan = TpuClusterPlan.Create(GkeTestBed.Spec("busy"));
        var create = await gke.CreateClusterAsync(GkeTestBed.Project, GkeTestBed.Zone, ClusterRequests.Cluster(plan), default);

        // The cluster create is still running: the pool create is refused with FAILED_PRECONDITION and retried.
        var poolOp = await gke.CreateNodePoolAsync(GkeTestBed.Project, GkeTestBed.Zone, "busy", ClusterRequests.TpuNodePool(plan), default);
        Assert.Equal("CREATE_NODE_POOL", poolOp.OperationType);
        Assert.True(bed.Simulator.CountRequests("POST", "/clusters/busy/nodePools") >= 2, "the first attempt must have been refused and retried");
        Assert.Contains(bed.Log.Lines, l => l.Contains("another operation holds the cluster", StringComparison.Ordinal));
        Assert.True((await gke.GetOperationAsync(GkeTestBed.Project, GkeTestBed.Zone, create.Name, default)).Done);
    }

    [Fact]
    public async Task BusyClusterGivesUpWithATypedErrorAfterTheRetryTimeout()
    {
        using var bed = new GkeTestBed(TimeSpan.FromMinutes(5));
        var options = bed.Connection();
        options.BusyRetryTimeout = TimeSpan.FromMilliseconds(200);
        using var session = GkeSession.Open(options, bed.Log, _ => null);
        var gke = new GkeClient(session);
        var plan = TpuClusterPlan.Create(GkeTestBed.Spec("held"));
        await gke.CreateClusterAsync(GkeTestBed.Project, GkeTestBed.Zone, ClusterRequests.Cluster(plan), default);
        var ex = await Assert.ThrowsAsync<GkeApiException>(() => gke.CreateNodePoolAsync(GkeTestBed.Project, GkeTestBed.Zone, "held", ClusterRequests.TpuNodePool(plan), default));
        Assert.Equal("GkeClusterBusy", ex.ErrorId);
        Assert.Equal(RhaiiErrorCategory.ResourceBusy, ex.Category);
        Assert.True(ex.Retryable);
    }

    [Fact]
    public async Task MissingClusterIsNullAndListIsScopedToTheLocation()
    {
        using var bed = new GkeTestBed();
        using var session = bed.Session();
        var gke = new GkeClient(session);
        Assert.Null(await gke.GetClusterAsync(GkeTestBed.Project, GkeTestBed.Zone, "nope", default));
        await gke.WaitAsync(await gke.CreateClusterAsync(GkeTestBed.Project, GkeTestBed.Zone, Cluster("a1"), default), "a", default);
        await gke.WaitAsync(await gke.CreateClusterAsync(GkeTestBed.Project, "us-east5-a", ClusterRequests.Cluster(TpuClusterPlan.Create(GkeTestBed.Spec("b1", "us-east5-a"))), default), "b", default);
        Assert.Equal(["a1"], (await gke.ListClustersAsync(GkeTestBed.Project, GkeTestBed.Zone, default)).Select(c => c.Name));
        Assert.Equal(["a1", "b1"], (await gke.ListClustersAsync(GkeTestBed.Project, "-", default)).Select(c => c.Name).Order());
        Assert.Null(await gke.DeleteNodePoolAsync(GkeTestBed.Project, GkeTestBed.Zone, "a1", "gone", default)); // deleting what is gone is not an error
        var ex = await Assert.ThrowsAsync<GkeApiException>(() => gke.SetNodePoolSizeAsync(GkeTestBed.Project, GkeTestBed.Zone, "nope", "x", 1, default));
        Assert.Equal("GkeNotFound", ex.ErrorId);
    }

    [Fact]
    public async Task WaitingCanBeCancelledWithoutStoppingTheOperation()
    {
        using var bed = new GkeTestBed(TimeSpan.FromMinutes(5));
        using var session = bed.Session();
        var gke = new GkeClient(session);
        var op = await gke.CreateClusterAsync(GkeTestBed.Project, GkeTestBed.Zone, Cluster("slow"), default);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(150));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gke.WaitAsync(op, "slow", cts.Token));
        Assert.False((await gke.GetOperationAsync(GkeTestBed.Project, GkeTestBed.Zone, op.Name, default)).Done);
        Assert.Single(await gke.RunningOperationsAsync(GkeTestBed.Project, GkeTestBed.Zone, "slow", default));
    }

    [Fact]
    public async Task OperationTimeoutIsTypedAndSaysTheWorkGoesOn()
    {
        using var bed = new GkeTestBed(TimeSpan.FromMinutes(5));
        using var session = bed.Session();
        var gke = new GkeClient(session);
        var op = await gke.CreateClusterAsync(GkeTestBed.Project, GkeTestBed.Zone, Cluster("late"), default);
        var ex = await Assert.ThrowsAsync<GkeApiException>(() => gke.WaitAsync(op, "late", default, TimeSpan.FromMilliseconds(100)));
        Assert.Equal("GkeOperationTimeout", ex.ErrorId);
        Assert.Contains("goes on in GKE", ex.Message);
    }
}
