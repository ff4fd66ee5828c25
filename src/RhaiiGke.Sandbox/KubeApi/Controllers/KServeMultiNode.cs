using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.KubeApi.Controllers;

/// <summary>
/// What KServe release-v0.15 renders for an LLMInferenceService with <c>spec.worker</c>
/// (pkg/controller/llmisvc/workload_multi_node.go, config_merge.go): the preset it merges (worker + data
/// parallelism: kserve-config-llm-worker-data-parallel; worker + pipeline: kserve-config-llm-worker-pipeline-parallel,
/// which KServe does not ship), the ServiceAccount &lt;name&gt;-kserve-mn copied from the template's, and the
/// LeaderWorkerSet &lt;name&gt;-kserve-mn with the group size from ParallelismSpec.GetSize, leader and worker labels,
/// RecreateGroupOnPodRestart, RollingUpdate, LeaderCreated and the leaderworkerset.sigs.k8s.io/* annotations of the
/// service propagated to the set and both templates.
/// </summary>
internal static class MultiNode
{
    public static string PresetName(JsonObject spec) =>
        spec.Long("parallelism", "pipeline") is > 0 && !(spec.Long("parallelism", "data") is > 0 || spec.Long("parallelism", "dataLocal") is > 0)
            ? "kserve-config-llm-worker-pipeline-parallel"
            : "kserve-config-llm-worker-data-parallel";

    /// <summary>ParallelismSpec.GetSize: data / dataLocal (at least 1) with data parallelism, else pipeline, else unset (1).</summary>
    public static long? Size(JsonObject merged)
    {
        var data = merged.Long("parallelism", "data");
        var dataLocal = merged.Long("parallelism", "dataLocal");
        if (data is > 0 || dataLocal is > 0) return Math.Max(Math.Max(data ?? 1, 1) / Math.Max(dataLocal ?? 1, 1), 1);
        return merged.Long("parallelism", "pipeline") is > 0 and var p ? p : null;
    }

    /// <summary>GetWorkloadLabelSelector: the Service and InferencePool select the serving pods by these three labels.</summary>
    public static JsonObject WorkloadSelector(string name) => new()
    {
        ["app.kubernetes.io/part-of"] = "llminferenceservice", ["app.kubernetes.io/name"] = name, ["kserve.io/component"] = "workload",
    };

    public static string? ExistingServiceAccount(JsonObject merged) =>
        merged.Str("template", "serviceAccountName") is { Length: > 0 } t ? t : merged.Str("worker", "serviceAccountName") is { Length: > 0 } w ? w : null;

    public static JsonObject ServiceAccount(JsonObject svc, JsonObject merged, JsonObject? existing, JsonArray owner)
    {
        var labels = existing?.Obj("metadata", "labels")?.Clone() ?? new JsonObject();
        labels["app.kubernetes.io/name"] = svc.Name();
        labels["app.kubernetes.io/part-of"] = "llminferenceservice";
        var meta = new JsonObject { ["name"] = svc.Name() + "-kserve-mn", ["namespace"] = svc.Namespace(), ["labels"] = labels, ["ownerReferences"] = owner.DeepClone() };
        if (existing?.Obj("metadata", "annotations") is { } ann) meta["annotations"] = ann.Clone();
        var sa = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "ServiceAccount", ["metadata"] = meta };
        if (existing?.Arr("secrets") is { } secrets) sa["secrets"] = secrets.DeepClone();
        if (existing?.Arr("imagePullSecrets") is { } pulls) sa["imagePullSecrets"] = pulls.DeepClone();
        if (existing?["automountServiceAccountToken"] is { } auto) sa["automountServiceAccountToken"] = auto.DeepClone();
        return sa;
    }

    /// <summary>The TLS Secret &lt;name&gt;-kserve-self-signed-certs KServe creates for the workload's HTTPS (a stand-in key pair).</summary>
    public static JsonObject SelfSignedCertificate(JsonObject svc, JsonArray owner) => new()
    {
        ["apiVersion"] = "v1", ["kind"] = "Secret", ["type"] = "kubernetes.io/tls",
        ["metadata"] = new JsonObject
        {
            ["name"] = svc.Name() + "-kserve-self-signed-certs", ["namespace"] = svc.Namespace(), ["ownerReferences"] = owner.DeepClone(),
            ["labels"] = new JsonObject { ["app.kubernetes.io/name"] = svc.Name(), ["app.kubernetes.io/part-of"] = "llminferenceservice" },
        },
        ["data"] = new JsonObject
        {
            ["tls.crt"] = Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes("-----BEGIN CERTIFICATE-----\nsandbox\n-----END CERTIFICATE-----\n")),
            ["tls.key"] = Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes("-----BEGIN PRIVATE KEY-----\nsandbox\n-----END PRIVATE KEY-----\n")),
        },
    };

    public static JsonObject LeaderWorkerSet(JsonObject svc, JsonObject merged, JsonObject? leaderSpec, JsonObject workerSpec, long replicas, JsonArray owner)
    {
        var name = svc.Name();
        var workerLabels = new JsonObject
        {
            ["app.kubernetes.io/component"] = "llminferenceservice-workload-worker", ["app.kubernetes.io/name"] = name,
            ["app.kubernetes.io/part-of"] = "llminferenceservice",
        };
        if (leaderSpec is null)
        {
            // without a leader template the workers are the serving pods
            workerLabels["kserve.io/component"] = "workload";
            workerLabels["llm-d.ai/role"] = "decode";
        }
        var leaderLabels = new JsonObject
        {
            ["app.kubernetes.io/component"] = "llminferenceservice-workload-leader", ["app.kubernetes.io/name"] = name,
            ["app.kubernetes.io/part-of"] = "llminferenceservice", ["kserve.io/component"] = "workload",
            ["llm-d.ai/role"] = merged["prefill"] is null ? "both" : "decode",
        };
        var propagated = new JsonObject();
        foreach (var (k, v) in svc.Annotations())
            if (k.StartsWith("leaderworkerset.sigs.k8s.io", StringComparison.Ordinal) || k.StartsWith("k8s.v1.cni.cncf.io", StringComparison.Ordinal) || k.StartsWith("kueue.x-k8s.io", StringComparison.Ordinal))
                propagated[k] = v;
        JsonObject Meta(JsonObject labels)
        {
            var m = new JsonObject { ["labels"] = labels.DeepClone() };
            if (propagated.Count > 0) m["annotations"] = propagated.DeepClone();
            return m;
        }
        var lwt = new JsonObject
        {
            ["workerTemplate"] = new JsonObject { ["metadata"] = Meta(workerLabels), ["spec"] = workerSpec },
            ["restartPolicy"] = "RecreateGroupOnPodRestart",
        };
        if (Size(merged) is { } size) lwt["size"] = size;
        if (leaderSpec is not null) lwt["leaderTemplate"] = new JsonObject { ["metadata"] = Meta(leaderLabels), ["spec"] = leaderSpec };
        var meta = new JsonObject { ["name"] = name + "-kserve-mn", ["namespace"] = svc.Namespace(), ["labels"] = workerLabels.DeepClone(), ["ownerReferences"] = owner.DeepClone() };
        if (propagated.Count > 0) meta["annotations"] = propagated.DeepClone();
        return new JsonObject
        {
            ["apiVersion"] = "leaderworkerset.x-k8s.io/v1", ["kind"] = "LeaderWorkerSet",
            ["metadata"] = meta,
            ["spec"] = new JsonObject
            {
                ["replicas"] = replicas,
                ["leaderWorkerTemplate"] = lwt,
                ["rolloutStrategy"] = new JsonObject { ["type"] = "RollingUpdate" },
                ["startupPolicy"] = "LeaderCreated",
            },
        };
    }
}
