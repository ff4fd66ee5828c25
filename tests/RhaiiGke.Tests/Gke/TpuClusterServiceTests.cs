using RhaiiGke.Engine.Gke;
using Xunit;

namespace RhaiiGke.Tests.Gke;

public class TpuClusterServiceTests
{
    private static readonly GkeShouldProcess Yes = (_, _) => true;

    [Theory]
    [InlineData("CREATE_CLUSTER")]
    [InlineData("CREATE_NODE_POOL")]
    public async Task AnInterruptedCreateResumesWithoutDuplicates(string interruptDuring)
    {
        // the interruption (50 ms into the operation) must land while the operation runs, even on a loaded machine
        using var bed = new GkeTestBed(TimeSpan.FromSeconds(3));
        using var session = bed.Session();
        var service = new TpuClusterService(session);
        using var cts = new CancellationTokenSource();
        bed.Simulator.OperationStarted += (type, _, _) => { if (type == interruptDuring) cts.CancelAfter(50); };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => service.EnsureAsync(GkeTestBed.Spec("resume"), Yes, false, false, cts.Token));

        var cluster = await service.EnsureAsync(GkeTestBed.Spec("resume"), Yes, false, false, default);
        Assert.NotNull(cluster);
        Assert.Equal("RUNNING", cluster.Status);
        var pool = Assert.Single(cluster.TpuNodePools);
        Assert.Equal("RUNNING", pool.Status);
        Assert.Equal(1, pool.NodeCount);
        Assert.Equal(1, bed.Simulator.CountRequests("POST", "/locations/europe-west4-a/clusters") - bed.Simulator.CountRequests("POST", "/nodePools"));
        Assert.Equal(1, bed.Simulator.CountRequests("POST", "/clusters/resume/nodePools"));
        Assert.Contains(bed.Log.Lines, l => l.Contains("Resuming", StringComparison.Ordinal));
        Assert.Empty(cluster.Drift);
    }

    [Fact]
    public async Task NoWaitStartsOneStepAtATimeAndNeverDuplicates()
    {
        using var bed = new GkeTestBed(TimeSpan.FromMilliseconds(150));
        using var session = bed.Session();
        var service = new TpuClusterService(session);
        var first = await service.EnsureAsync(GkeTestBed.Spec("nw"), Yes, true, false, default);
        Assert.Equal("PROVISIONING", first!.Status);
        Assert.Equal("CREATE_CLUSTER", first.PendingOperation!.OperationType);

        TpuCluster? c = first;
        var rounds = 0;
        while (c!.PendingOperation is not null && rounds++ < 50)
        {
            await Task.Delay(60);
            c = await service.EnsureAsync(GkeTestBed.Spec("nw"), Yes, true, false, default);
        }
        Assert.Null(c.PendingOperation);
        Assert.Equal("RUNNING", Assert.Single(c.TpuNodePools).Status);
        Assert.Equal(1, bed.Simulator.CountRequests("POST", "/clusters/nw/nodePools"));
    }

    [Fact]
    public async Task ValidationHappensBeforeAnyRequest()
    {
        using var bed = new GkeTestBed();
        using var session = bed.Session();
        var service = new TpuClusterService(session);
        var bad = GkeTestBed.Spec("Bad_Name");
        Assert.Equal("InvalidGkeName", (await Assert.ThrowsAsync<RhaiiException>(() => service.EnsureAsync(bad, Yes, false, false, default))).ErrorId);
        var mismatch = GkeTestBed.Spec("ok");
        mismatch.MachineType = "ct6e-standard-8t";
        Assert.Equal("TopologyMachineTypeMismatch", (await Assert.ThrowsAsync<RhaiiException>(() => service.EnsureAsync(mismatch, Yes, false, false, default))).ErrorId);
        var multi = GkeTestBed.Spec("multi");
        multi.Topology = "4x4";
        multi.MaxNodes = 8;
        Assert.Equal("MultiHostPoolIsAtomic", (await Assert.ThrowsAsync<RhaiiException>(() => service.EnsureAsync(multi, Yes, false, false, default))).ErrorId);
        var region = GkeTestBed.Spec("region", "europe-west4");
        Assert.Equal("InvalidZone", (await Assert.ThrowsAsync<RhaiiException>(() => service.EnsureAsync(region, Yes, false, false, default))).ErrorId);
        Assert.Empty(bed.Simulator.RequestLog);
    }

    [Fact]
    public void MultiHostPoolsAreCompactAndCarryTheTopology()
    {
        var spec = GkeTestBed.Spec("mh");
        spec.Topology = "4x4";
        spec.InitialNodeCount = 0;
        spec.MaxNodes = 0;
        var plan = TpuClusterPlan.Create(spec);
        Assert.Equal(4, plan.MaxNodes);
        Assert.Equal(16, plan.ChipsAtMax);
        var body = ClusterRequests.TpuNodePool(plan);
        Assert.Equal("COMPACT", body["placementPolicy"]!["type"]!.GetValue<string>());
        Assert.Equal("4x4", body["placementPolicy"]!["tpuTopology"]!.GetValue<string>());
        Assert.Equal("ct6e-standard-4t", body["config"]!["machineType"]!.GetValue<string>());
        Assert.Equal("google.com/tpu", body["config"]!["taints"]![0]!["key"]!.GetValue<string>());
        var cluster = ClusterRequests.Cluster(plan);
        Assert.Equal("ADVANCED_DATAPATH", cluster["networkConfig"]!["datapathProvider"]!.GetValue<string>());
        Assert.Equal("CHANNEL_STANDARD", cluster["networkConfig"]!["gatewayApiConfig"]!["channel"]!.GetValue<string>());
        Assert.True(cluster["ipAllocationPolicy"]!["useIpAliases"]!.GetValue<bool>());
        Assert.True(cluster["shieldedNodes"]!["enabled"]!.GetValue<bool>());
        Assert.Equal("rhaii-test.svc.id.goog", cluster["workloadIdentityConfig"]!["workloadPool"]!.GetValue<string>());
    }
}
