using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.KubeApi.Controllers;

/// <summary>
/// The scheduler's inter-pod affinity (required terms only, namespace of the pod): a node fits a required
/// podAffinity term when a matching pod runs on a node with the same value of the term's topologyKey (or no pod
/// matches anywhere and the pod matches its own term, as kube-scheduler allows the first pod of a group), and fits a
/// required podAntiAffinity term when no matching pod runs in that topology domain. LeaderWorkerSet's
/// exclusive-topology placement is built from exactly these two terms.
/// </summary>
internal sealed partial class PodController
{
    private string? PodAffinityMismatch(JsonObject pod, JsonObject node, IReadOnlyList<JsonObject> nodes)
    {
        var affinity = pod.Arr("spec", "affinity", "podAffinity", "requiredDuringSchedulingIgnoredDuringExecution") ?? [];
        var anti = pod.Arr("spec", "affinity", "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution") ?? [];
        if (affinity.Count == 0 && anti.Count == 0) return null;
        var nodeLabels = node.Labels();
        var placed = All("", "pods", pod.Namespace())
            .Where(p => p.Name() != pod.Name() && !Deleting(p) && p.Str("spec", "nodeName") is not null && p.Str("status", "phase") is not ("Succeeded" or "Failed"))
            .ToList();
        var nodeByName = nodes.ToDictionary(n => n.Name(), n => n.Labels(), StringComparer.Ordinal);
        bool SameDomain(JsonObject other, string key, string value) =>
            nodeByName.TryGetValue(other.Str("spec", "nodeName")!, out var l) && l.TryGetValue(key, out var v) && v == value;

        foreach (var term in affinity)
        {
            var key = term.Str("topologyKey") ?? "";
            if (!nodeLabels.TryGetValue(key, out var value)) return "node(s) didn't match pod affinity rules";
            var matching = placed.Where(p => MatchesSelector(term?["labelSelector"], p.Labels())).ToList();
            if (matching.Count == 0 && MatchesSelector(term?["labelSelector"], pod.Labels())) continue;
            if (!matching.Any(p => SameDomain(p, key, value))) return "node(s) didn't match pod affinity rules";
        }
        foreach (var term in anti)
        {
            var key = term.Str("topologyKey") ?? "";
            if (!nodeLabels.TryGetValue(key, out var value)) continue;
            if (placed.Any(p => MatchesSelector(term?["labelSelector"], p.Labels()) && SameDomain(p, key, value)))
                return "node(s) didn't match pod anti-affinity rules";
        }
        return null;
    }

    private static bool MatchesSelector(JsonNode? selector, Dictionary<string, string> labels)
    {
        if (selector is null) return false;
        foreach (var (k, v) in selector.Obj("matchLabels") ?? new JsonObject())
            if (!labels.TryGetValue(k, out var have) || have != v?.ToString()) return false;
        foreach (var e in selector.Arr("matchExpressions") ?? [])
        {
            var key = e.Str("key") ?? "";
            var values = (e.Arr("values") ?? []).Select(x => x?.ToString()).ToHashSet();
            var has = labels.TryGetValue(key, out var val);
            var ok = e.Str("operator") switch
            {
                "In" => has && values.Contains(val),
                "NotIn" => !has || !values.Contains(val),
                "Exists" => has,
                "DoesNotExist" => !has,
                _ => false,
            };
            if (!ok) return false;
        }
        return true;
    }
}
