using System.Text.Json.Nodes;
using RhaiiGke.Engine.Manifests;
using Xunit;

namespace RhaiiGke.Tests.KubeApi;

/// <summary>
/// LLMInferenceService updates reach the workload as KServe release-v0.15 does it (semanticDeploymentIsEqual: the
/// whole pod spec is pushed down), and the Deployment controller rolls them out as kube-controller-manager does
/// (a new ReplicaSet; RollingUpdate 25%/25% keeps the old pods until new ones are available).
/// </summary>
public sealed class LlmisvcRolloutTests
{
    private static JsonObject Service(string name, Action<JsonObject>? change = null)
    {
        var o = ManifestBuilder.LlmInferenceService(DataPlaneCluster.Spec(name));
        change?.Invoke(o["spec"]!["template"]!.AsObject());
        return o;
    }

    private static bool Unschedulable(JsonObject? pod) =>
        pod?["status"]?["conditions"]?.AsArray().Any(c => c!["type"]!.GetValue<string>() == "PodScheduled" && c["status"]!.GetValue<string>() == "False") == true;

    private static List<JsonObject> ReplicaSets(DataPlaneCluster c, string deployment) =>
        c.Sim.ListObjects("apps/v1", "ReplicaSet", DataPlaneCluster.Ns)
            .Where(rs => rs["metadata"]?["ownerReferences"]?.AsArray().Any(r => r!["name"]!.GetValue<string>() == deployment) == true).ToList();

    [Fact]
    public async Task ACorrectedNodeSelectorAndTolerationReachTheDeploymentAndTheServiceConverges()
    {
        await using var c = await DataPlaneCluster.StartAsync(DataPlaneCluster.Options());
        var spec = DataPlaneCluster.Spec("qwen");
        await c.ApplyAsync(DataPlaneCluster.ServiceYaml(spec, skip: o => o.Kind == "LLMInferenceService"));
        // wrong: a topology no pool has, and no TPU toleration
        await c.ApplyAsync(Service("qwen", t =>
        {
            t["nodeSelector"]!["cloud.google.com/gke-tpu-topology"] = "4x4";
            t.Remove("tolerations");
        }).ToJsonString());
        var pending = await c.WaitAsync(() => c.Pods(DataPlaneCluster.Ns, "kserve.io/component", "workload").FirstOrDefault(), Unschedulable, "the workload pod unschedulable");
        Assert.Equal("4x4", pending["spec"]!["nodeSelector"]!["cloud.google.com/gke-tpu-topology"]!.GetValue<string>());
        var svc = await c.WaitAsync(() => c.Get("serving.kserve.io/v1alpha1", "LLMInferenceService", DataPlaneCluster.Ns, "qwen"),
            s => s?["status"]?["conditions"]?.AsArray().Any(x => x!["type"]!.GetValue<string>() == "MainWorkloadReady" && x["message"]!.GetValue<string>().Contains("Pending")) == true,
            "MainWorkloadReady names the Pending pod");
        Assert.False(DataPlaneCluster.Ready(svc));

        // re-applied corrected: the generation moves, KServe replaces the Deployment's pod spec, a new ReplicaSet rolls out
        await c.ApplyAsync(Service("qwen").ToJsonString());
        svc = await c.ServiceReadyAsync("qwen");
        Assert.Equal(2, svc["metadata"]!["generation"]!.GetValue<long>());
        Assert.Equal(2, svc["status"]!["observedGeneration"]!.GetValue<long>());
        var dep = c.Get("apps/v1", "Deployment", DataPlaneCluster.Ns, "qwen-kserve")!;
        var template = dep["spec"]!["template"]!["spec"]!;
        Assert.Equal("2x2", template["nodeSelector"]!["cloud.google.com/gke-tpu-topology"]!.GetValue<string>());
        Assert.Equal("google.com/tpu", template["tolerations"]![0]!["key"]!.GetValue<string>());
        var sets = ReplicaSets(c, "qwen-kserve");
        Assert.Equal(2, sets.Count);
        var old = await c.WaitAsync(() => ReplicaSets(c, "qwen-kserve").FirstOrDefault(rs => rs["spec"]!["template"]!["spec"]!["nodeSelector"]!["cloud.google.com/gke-tpu-topology"]!.GetValue<string>() == "4x4"),
            rs => rs?["spec"]?["replicas"]?.GetValue<int>() == 0, "the old ReplicaSet scaled to 0");
        Assert.Equal("1", old!["metadata"]!["annotations"]!["deployment.kubernetes.io/revision"]!.GetValue<string>());
        var running = await c.WaitAsync(() => c.Pods(DataPlaneCluster.Ns, "kserve.io/component", "workload"), p => p?.Count == 1 && !Unschedulable(p[0]), "one scheduled workload pod");
        Assert.Equal("2x2", running[0]["spec"]!["nodeSelector"]!["cloud.google.com/gke-tpu-topology"]!.GetValue<string>());
        Assert.Contains(c.Sim.ListObjects("v1", "Event", DataPlaneCluster.Ns), e => e["reason"]?.GetValue<string>() == "Updated" &&
            e["involvedObject"]!["kind"]!.GetValue<string>() == "LLMInferenceService" && e["message"]!.GetValue<string>() == $"Updated v1.Deployment {DataPlaneCluster.Ns}/qwen-kserve");

        // re-applying the same spec changes nothing
        var rv = c.Get("apps/v1", "Deployment", DataPlaneCluster.Ns, "qwen-kserve")!["metadata"]!["generation"]!.GetValue<long>();
        await c.ApplyAsync(Service("qwen").ToJsonString());
        await c.Sim.WaitIdleAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(rv, c.Get("apps/v1", "Deployment", DataPlaneCluster.Ns, "qwen-kserve")!["metadata"]!["generation"]!.GetValue<long>());
    }
    [Fact]
    public async Task ATemplateChangeOnAFullTpuPoolKeepsTheOldPodServingAsARollingUpdateDoes()
    {
        // one TPU node, one replica: maxSurge 1, maxUnavailable 0 — the new pod needs the TPUs the old one holds
        await using var c = await DataPlaneCluster.StartAsync(DataPlaneCluster.Options());
        var spec = DataPlaneCluster.Spec("qwen");
        await c.ApplyAsync(DataPlaneCluster.ServiceYaml(spec));
        await c.ServiceReadyAsync("qwen");
        var first = Assert.Single(c.Pods(DataPlaneCluster.Ns, "kserve.io/component", "workload"));

        await c.ApplyAsync(Service("qwen", t =>
        {
            var env = t["containers"]![0]!["env"] as JsonArray ?? [];
            env.Add(new JsonObject { ["name"] = "ROLLOUT_MARKER", ["value"] = "2" });
            t["containers"]![0]!["env"] = env;
        }).ToJsonString());
        var surge = await c.WaitAsync(() => c.Pods(DataPlaneCluster.Ns, "kserve.io/component", "workload").FirstOrDefault(p => p["metadata"]!["name"]!.GetValue<string>() != first["metadata"]!["name"]!.GetValue<string>()),
            Unschedulable, "the surge pod unschedulable");
        Assert.Contains("Insufficient google.com/tpu", surge["status"]!["conditions"]!.AsArray().First(x => x!["type"]!.GetValue<string>() == "PodScheduled")!["message"]!.GetValue<string>());
        await c.Sim.WaitIdleAsync(TimeSpan.FromSeconds(30));
        // the old ReplicaSet cannot shrink below replicas - maxUnavailable = 1 while the new pod is unavailable: a deadlock, as on GKE
        var sets = ReplicaSets(c, "qwen-kserve");
        Assert.Equal(2, sets.Count);
        Assert.All(sets, rs => Assert.Equal(1, rs["spec"]!["replicas"]!.GetValue<int>()));
        var dep = c.Get("apps/v1", "Deployment", DataPlaneCluster.Ns, "qwen-kserve")!;
        var conditions = dep["status"]!["conditions"]!.AsArray();
        Assert.Equal("True", conditions.First(x => x!["type"]!.GetValue<string>() == "Available")!["status"]!.GetValue<string>());
        var progressing = conditions.First(x => x!["type"]!.GetValue<string>() == "Progressing")!;
        Assert.Contains(progressing["reason"]!.GetValue<string>(), new[] { "NewReplicaSetCreated", "ReplicaSetUpdated" });
        var newRs = sets.Single(rs => rs["metadata"]!["annotations"]!["deployment.kubernetes.io/revision"]!.GetValue<string>() == "2");
        Assert.Equal("2", newRs["metadata"]!["annotations"]!["deployment.kubernetes.io/max-replicas"]!.GetValue<string>());
        Assert.Contains(c.Sim.ListObjects("v1", "Event", DataPlaneCluster.Ns), e => e["reason"]?.GetValue<string>() == "ScalingReplicaSet" &&
            e["message"]!.GetValue<string>() == $"Scaled up replica set {newRs["metadata"]!["name"]!.GetValue<string>()} to 1");
        var svc = c.Get("serving.kserve.io/v1alpha1", "LLMInferenceService", DataPlaneCluster.Ns, "qwen")!;
        Assert.True(DataPlaneCluster.Ready(svc)); // Available stays True: KServe reports Ready during the stuck rollout, as real
        Assert.Contains(c.Pods(DataPlaneCluster.Ns, "kserve.io/component", "workload"), p => p["metadata"]!["name"]!.GetValue<string>() == first["metadata"]!["name"]!.GetValue<string>() && DataPlaneCluster.Ready(p));
    }
}
