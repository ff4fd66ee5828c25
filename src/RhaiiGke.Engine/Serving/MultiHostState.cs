using System.Globalization;
using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube.Json;
using RhaiiGke.Engine.Manifests;

namespace RhaiiGke.Engine.Serving;

/// <summary>
/// Multi-host services (a LeaderWorkerSet group per replica): the leader (KServe labels it
/// <c>llminferenceservice-workload-leader</c> and <c>kserve.io/component=workload</c>) is the serving pod; the
/// workers are listed with role <c>worker</c>, and while the service is not Ready its stage and message say how far
/// each group is ("group 0: 3/4 hosts ready"), or which worker holds the group back.
/// </summary>
public static class MultiHostState
{
    public const string SetNameLabel = "leaderworkerset.sigs.k8s.io/name";
    public const string GroupIndexLabel = "leaderworkerset.sigs.k8s.io/group-index";
    public const string WorkerIndexLabel = "leaderworkerset.sigs.k8s.io/worker-index";
    public const string SizeAnnotation = "leaderworkerset.sigs.k8s.io/size";

    /// <summary>The role of a pod of a multi-host group, or null for other pods.</summary>
    public static string? Role(IReadOnlyDictionary<string, string> labels) =>
        labels.GetValueOrDefault("app.kubernetes.io/component") switch
        {
            MultiHostManifests.LeaderComponent => "workload",
            MultiHostManifests.WorkerComponent => "worker",
            _ => null,
        };

    /// <summary>Refines the stage and message of a service that is not Ready with its groups' progress.</summary>
    public static (ServingStage Stage, string? Message) Groups(IReadOnlyList<JsonObject> pods, IReadOnlyList<ServicePod> typed, ServingStage stage, string? message)
    {
        var members = pods.Where(p => p.Labels().ContainsKey(SetNameLabel) && Role(p.Labels()) is not null).ToList();
        if (members.Count == 0) return (stage, message);
        var byName = typed.ToDictionary(p => p.Name, StringComparer.Ordinal);
        var parts = new List<string>();
        ServicePod? blocking = null;
        foreach (var g in members.GroupBy(p => p.Labels().GetValueOrDefault(GroupIndexLabel) ?? "?").OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var size = g.Select(p => int.TryParse(p.Annotations().GetValueOrDefault(SizeAnnotation), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0).DefaultIfEmpty(0).Max();
            size = Math.Max(size, g.Count());
            var groupPods = g.Select(p => byName.GetValueOrDefault(p.Name())).OfType<ServicePod>().ToList();
            var ready = groupPods.Count(p => p.Ready || (p.Role == "worker" && p.Stage == ServingStage.Ready));
            parts.Add($"group {g.Key}: {ready}/{size} hosts ready");
            var worst = groupPods.Where(p => p.Role == "worker" && (p.Stage == ServingStage.Unschedulable || (int)p.Stage >= 10)).OrderByDescending(p => p.Stage).FirstOrDefault();
            if (worst is not null && (blocking is null || worst.Stage > blocking.Stage)) blocking = worst;
        }
        var summary = string.Join("; ", parts);
        if (blocking is not null && (stage < ServingStage.Ready || blocking.Stage > stage) && (int)stage < 10)
            return (blocking.Stage, $"{summary}; worker {blocking.Name}: {blocking.Message}");
        return (stage, message is null ? summary : $"{summary}; {message}");
    }
}
