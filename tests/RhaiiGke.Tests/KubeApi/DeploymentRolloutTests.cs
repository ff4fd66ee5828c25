using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using RhaiiGke.Sandbox.KubeApi;
using RhaiiGke.Sandbox.KubeApi.Controllers;
using Xunit;

namespace RhaiiGke.Tests.KubeApi;

/// <summary>
/// The sandbox's Deployment controller rolls a template change out as kube-controller-manager does
/// (pkg/controller/deployment rolling.go, recreate.go, progress.go): RollingUpdate within maxSurge/maxUnavailable,
/// Recreate, the ScalingReplicaSet events and the Progressing condition with its reasons and deadline.
/// </summary>
public class DeploymentRolloutTests : SimulatorTestBase
{
    public DeploymentRolloutTests() : base(Options()) { }

    private static KubeApiSimulatorOptions Options()
    {
        var o = KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(10));
        o.DataPlane = false;
        o.Nodes.AddRange(SimulatedNode.TpuPool("tpu", 1, "tpu-v6e-slice", "2x2", "ct6e-standard-4t", 4));
        return o;
    }

    [Theory]
    [InlineData(1, null, null, 1, 0)]        // the default 25%/25%: surge rounds up to 1, unavailable down to 0
    [InlineData(4, null, null, 1, 1)]
    [InlineData(10, null, null, 3, 2)]
    [InlineData(3, "50%", "50%", 2, 1)]
    [InlineData(3, "0", "0", 0, 1)]          // both 0 is not allowed to stall: maxUnavailable becomes 1
    [InlineData(5, "2", "0", 2, 0)]
    public void MaxSurgeRoundsUpAndMaxUnavailableRoundsDownAsResolveFenceposts(int replicas, string? surge, string? unavailable, int wantSurge, int wantUnavailable)
    {
        var strategy = new JsonObject { ["type"] = "RollingUpdate", ["rollingUpdate"] = new JsonObject() };
        if (surge is not null) strategy["rollingUpdate"]!["maxSurge"] = int.TryParse(surge, out var s) ? JsonValue.Create(s) : JsonValue.Create(surge);
        if (unavailable is not null) strategy["rollingUpdate"]!["maxUnavailable"] = int.TryParse(unavailable, out var u) ? JsonValue.Create(u) : JsonValue.Create(unavailable);
        Assert.Equal((wantSurge, wantUnavailable), RhaiiGke.Sandbox.KubeApi.Controllers.DeploymentController.Fenceposts(strategy, replicas));
        Assert.Equal((0, 0), RhaiiGke.Sandbox.KubeApi.Controllers.DeploymentController.Fenceposts(new JsonObject { ["type"] = "Recreate" }, replicas));
    }

    private async Task<V1Deployment> CompleteAsync(string name, string what)
    {
        V1Deployment? d = null;
        await Eventually(async () =>
        {
            d = await Client.ReadNamespacedDeploymentAsync(name, "default");
            var want = d.Spec.Replicas ?? 1;
            return d.Status?.ObservedGeneration >= d.Metadata.Generation && d.Status.UpdatedReplicas == want && d.Status.Replicas == want && d.Status.AvailableReplicas == want &&
                   d.Status.Conditions?.Any(c => c.Type == "Progressing" && c.Reason == "NewReplicaSetAvailable") == true;
        }, what, 60000);
        return d!;
    }

    private async Task<List<Corev1Event>> ScalingEventsAsync() =>
        (await Client.CoreV1.ListNamespacedEventAsync("default")).Items.Where(e => e.Reason == "ScalingReplicaSet")
            .OrderBy(e => long.Parse(e.Metadata.ResourceVersion, System.Globalization.CultureInfo.InvariantCulture)).ToList();

    private async Task<(string Old, string New)> ReplicaSetNamesAsync(string deployment)
    {
        var sets = (await Client.ListNamespacedReplicaSetAsync("default")).Items.Where(rs => rs.Metadata.Name.StartsWith(deployment + "-", StringComparison.Ordinal)).ToList();
        string Rev(V1ReplicaSet rs) => rs.Metadata.Annotations["deployment.kubernetes.io/revision"];
        return (sets.Single(rs => Rev(rs) == "1").Metadata.Name, sets.Single(rs => Rev(rs) == "2").Metadata.Name);
    }

    [Fact]
    public async Task ARollingUpdateOfFourReplicasSurgesOneAndKeepsThreeAvailable()
    {
        await Client.CreateNamespacedDeploymentAsync(Deployment("web", replicas: 4), "default");
        var before = await CompleteAsync("web", "the first rollout");
        Assert.Contains(before.Status.Conditions, c => c.Type == "Progressing" && c.Status == "True" && c.Message.EndsWith("has successfully progressed.", StringComparison.Ordinal));

        await Client.PatchNamespacedDeploymentAsync(Merge(new { spec = new { template = new { spec = new { containers = new[] { new { name = "main", image = "registry.example/app:2.0" } } } } } }), "web", "default");
        var after = await CompleteAsync("web", "the second rollout");
        var (old, neu) = await ReplicaSetNamesAsync("web");
        var events = (await ScalingEventsAsync()).Select(e => e.Message).ToList();
        // kube-controller-manager's first step with all four old pods available: the new ReplicaSet gets the one surge pod
        // (4 + 1 = replicas + maxSurge), the old one gives up the one pod maxUnavailable allows
        var i = events.IndexOf($"Scaled up replica set {neu} to 1");
        Assert.True(i > 0, string.Join(" | ", events));
        Assert.Equal($"Scaled down replica set {old} to 3 from 4", events[i + 1]);
        Assert.Contains(events, m => m == $"Scaled up replica set {neu} to 4 from 3" || m.StartsWith($"Scaled up replica set {neu} to 4 from", StringComparison.Ordinal));
        Assert.Contains(events, m => m.StartsWith($"Scaled down replica set {old} to 0 from", StringComparison.Ordinal));
        // every step: the old set shrinks by what has become available, never below replicas - maxUnavailable
        foreach (var m in events.Where(m => m.StartsWith($"Scaled down replica set {old} to ", StringComparison.Ordinal)))
        {
            var parts = m.Split(' ');
            Assert.True(int.Parse(parts[^3], System.Globalization.CultureInfo.InvariantCulture) < int.Parse(parts[^1], System.Globalization.CultureInfo.InvariantCulture), m);
        }
        Assert.Equal(0, (await Client.ReadNamespacedReplicaSetAsync(old, "default")).Spec.Replicas);
        Assert.Equal($"ReplicaSet \"{neu}\" has successfully progressed.", after.Status.Conditions.Single(c => c.Type == "Progressing").Message);
    }

    [Fact]
    public async Task RecreateOnAFullTpuNodeScalesTheOldSetToZeroAndCreatesTheNewOneOnlyOnceItsPodsAreGone()
    {
        var d = Deployment("tpu", nodeSelector: new Dictionary<string, string> { ["cloud.google.com/gke-tpu-accelerator"] = "tpu-v6e-slice", ["cloud.google.com/gke-tpu-topology"] = "2x2" },
            resources: new V1ResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["google.com/tpu"] = new("4") }, Limits = new Dictionary<string, ResourceQuantity> { ["google.com/tpu"] = new("4") } },
            tolerations: [new V1Toleration { Key = "google.com/tpu", OperatorProperty = "Equal", Value = "present", Effect = "NoSchedule" }]);
        d.Spec.Strategy = new V1DeploymentStrategy { Type = "Recreate" };
        await Client.CreateNamespacedDeploymentAsync(d, "default");
        await CompleteAsync("tpu", "the first rollout");

        await Client.PatchNamespacedDeploymentAsync(Merge(new { spec = new { template = new { spec = new { containers = new[] { new { name = "main", image = "registry.example/app:2.0" } } } } } }), "tpu", "default");
        await CompleteAsync("tpu", "the Recreate rollout on the full TPU node");
        var (old, neu) = await ReplicaSetNamesAsync("tpu");
        var events = (await ScalingEventsAsync()).Select(e => e.Message).ToList();
        var down = events.IndexOf($"Scaled down replica set {old} to 0 from 1");
        var up = events.IndexOf($"Scaled up replica set {neu} to 1");
        Assert.True(down >= 0 && up > down, string.Join(" | ", events));
        // the new ReplicaSet was created after the old pod was deleted (never two pods asking for the node's chips)
        var oldPodDeleted = (await Client.CoreV1.ListNamespacedEventAsync("default")).Items.Single(e => e.Reason == "SuccessfulDelete" && e.InvolvedObject.Name == old);
        var newRs = await Client.ReadNamespacedReplicaSetAsync(neu, "default");
        Assert.True(long.Parse(newRs.Metadata.ResourceVersion, System.Globalization.CultureInfo.InvariantCulture) > long.Parse(oldPodDeleted.Metadata.ResourceVersion, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task ARolloutThatCannotProgressIsMarkedProgressDeadlineExceededAfterProgressDeadlineSeconds()
    {
        var d = Deployment("stuck", nodeSelector: new Dictionary<string, string> { ["pool"] = "none" });
        d.Spec.ProgressDeadlineSeconds = 1;
        await Client.CreateNamespacedDeploymentAsync(d, "default");
        V1DeploymentCondition? progressing = null;
        await Eventually(async () =>
        {
            progressing = (await Client.ReadNamespacedDeploymentAsync("stuck", "default")).Status?.Conditions?.FirstOrDefault(c => c.Type == "Progressing");
            return progressing?.Reason == "ProgressDeadlineExceeded";
        }, "ProgressDeadlineExceeded", 60000);
        var rs = (await Client.ListNamespacedReplicaSetAsync("default")).Items.Single();
        Assert.Equal("False", progressing!.Status);
        Assert.Equal($"ReplicaSet \"{rs.Metadata.Name}\" has timed out progressing.", progressing.Message);
        Assert.NotNull(progressing.LastUpdateTime);
        var available = (await Client.ReadNamespacedDeploymentAsync("stuck", "default")).Status.Conditions.Single(c => c.Type == "Available");
        Assert.Equal(("False", "MinimumReplicasUnavailable"), (available.Status, available.Reason));
    }
}
