using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube.Json;
using RhaiiGke.Engine.Manifests;

namespace RhaiiGke.Engine.Serving;

/// <summary>
/// A Deployment update that cannot finish: the new revision's pod is Pending with "Insufficient google.com/tpu" while
/// pods of an older revision of the same Deployment hold the chips of the nodes it selects. KServe (release-v0.15)
/// gives an LLMInferenceService's Deployment no strategy, so the API server defaults RollingUpdate with maxSurge 25%
/// and maxUnavailable 25% (for one replica: one extra pod, none unavailable); the deployment controller keeps the old
/// pods until the new one is available, which it never becomes on a full TPU pool. LLMInferenceService v1alpha1 has
/// no field for the strategy, and KServe puts the default back if the Deployment is edited.
/// </summary>
public sealed record RolloutBlock(
    string Namespace,
    string Deployment,
    string PendingPod,
    string SchedulerMessage,
    IReadOnlyList<string> OldReplicaSets,
    IReadOnlyList<(string Pod, string? Node, bool Ready)> Holders)
{
    /// <summary>Whether any old pod is Ready (replacing them then takes the service down until the new pod is Ready).</summary>
    public bool OldPodsServing => Holders.Any(h => h.Ready);

    public string HoldersText => string.Join(", ", Holders.Select(h => $"{h.Pod}{(h.Node is null ? "" : " on " + h.Node)}{(h.Ready ? " (Ready)" : " (not Ready)")}"));

    public string Describe() =>
        $"the update of Deployment {Namespace}/{Deployment} cannot progress: its new pod {PendingPod} is Pending ({SchedulerMessage.TrimEnd('.')}) " +
        $"because the pod(s) of the previous revision hold the google.com/tpu chips ({HoldersText}). A RollingUpdate (the default KServe leaves on the " +
        "Deployment: maxSurge 25% rounded up, maxUnavailable 25% rounded down, so one extra pod and none unavailable for one replica) keeps the old " +
        "pods until the new one is available, which it cannot become; LLMInferenceService v1alpha1 has no field to choose another strategy";

    public static string Fix(string ns, string service) =>
        $"Replace the pods, with downtime until the new pod is Ready: Set-LlmInferenceService -Name {service} -Namespace {ns} -Stop -Wait, then -Start -Wait " +
        "(or re-run the command with -Recreate -Wait); or add a TPU node or slice so both revisions fit (Set-TpuNodePool -NodeCount <n+1>, or raise the pool's " +
        "autoscaling maximum) and the rollout continues without downtime.";
}

/// <summary>Finds <see cref="RolloutBlock"/>s among pods (live, or from a snapshot). Pure.</summary>
public static class RolloutBlocks
{
    public const string ErrorId = "RolloutBlockedByAccelerator";

    public static IReadOnlyList<RolloutBlock> Find(IEnumerable<JsonObject> pods)
    {
        var all = pods.Where(p => p.Str("metadata", "deletionTimestamp") is null).ToList();
        var result = new List<RolloutBlock>();
        foreach (var p in all)
        {
            var scheduled = (p.Arr("status", "conditions") ?? []).OfType<JsonObject>().FirstOrDefault(c => c.Str("type") == "PodScheduled");
            var message = scheduled.Str("message") ?? "";
            if (scheduled.Str("status") != "False" || !message.Contains("Insufficient google.com/tpu", StringComparison.Ordinal)) continue;
            if (DeploymentOf(p) is not { } dep) continue;
            var ns = p.Namespace();
            var holders = all.Where(q => q.Namespace() == ns && !ReferenceEquals(q, p) && q.Str("spec", "nodeName") is not null
                                         && q.Str("status", "phase") is not ("Succeeded" or "Failed")
                                         && DeploymentOf(q) is { } other && other.Name == dep.Name && other.Hash != dep.Hash
                                         && TpuChips(q) > 0 && SameTpuSelector(p, q))
                .OrderBy(q => q.Name(), StringComparer.Ordinal).ToList();
            if (holders.Count == 0) continue;
            result.Add(new RolloutBlock(ns ?? "default", dep.Name, p.Name(), message,
                holders.Select(q => DeploymentOf(q)!.Value.ReplicaSet).Distinct(StringComparer.Ordinal).ToList(),
                holders.Select(q => (q.Name(), q.Str("spec", "nodeName"), Ready(q))).ToList()));
        }
        return result;
    }

    /// <summary>The Deployment a pod's ReplicaSet belongs to: ReplicaSets are named &lt;deployment&gt;-&lt;pod-template-hash&gt;.</summary>
    private static (string Name, string Hash, string ReplicaSet)? DeploymentOf(JsonObject pod)
    {
        var rs = (pod.Arr("metadata", "ownerReferences") ?? []).OfType<JsonObject>().FirstOrDefault(r => r.Str("kind") == "ReplicaSet").Str("name");
        if (rs is null || !pod.Labels().TryGetValue("pod-template-hash", out var hash) || !rs.EndsWith("-" + hash, StringComparison.Ordinal)) return null;
        return (rs[..^(hash.Length + 1)], hash, rs);
    }

    private static bool Ready(JsonObject pod) =>
        pod.Str("status", "phase") == "Running" && (pod.Arr("status", "conditions") ?? []).OfType<JsonObject>().Any(c => c.Str("type") == "Ready" && c.Str("status") == "True");

    private static bool SameTpuSelector(JsonObject a, JsonObject b) =>
        a.Str("spec", "nodeSelector", ManifestBuilder.TpuAcceleratorLabel) == b.Str("spec", "nodeSelector", ManifestBuilder.TpuAcceleratorLabel) &&
        a.Str("spec", "nodeSelector", ManifestBuilder.TpuTopologyLabel) == b.Str("spec", "nodeSelector", ManifestBuilder.TpuTopologyLabel);

    private static int TpuChips(JsonObject pod) =>
        (pod.Arr("spec", "containers") ?? []).OfType<JsonObject>()
            .Sum(c => int.TryParse(c.Str("resources", "requests", "google.com/tpu") ?? c.Str("resources", "limits", "google.com/tpu"), out var n) ? n : 0);
}
