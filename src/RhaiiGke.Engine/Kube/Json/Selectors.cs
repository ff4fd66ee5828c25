using System.Text.Json.Nodes;

namespace RhaiiGke.Engine.Kube.Json;

/// <summary>A Kubernetes label selector from a LabelSelector object or a map selector (the client side; the sandbox parses query strings itself).</summary>
internal sealed class LabelSelector
{
    private readonly List<(string Key, string Op, HashSet<string> Values)> _reqs = [];
    private readonly bool _matchesNothing;

    private LabelSelector(bool matchesNothing = false) => _matchesNothing = matchesNothing;

    public static readonly LabelSelector Everything = new();
    public static readonly LabelSelector Nothing = new(matchesNothing: true);

    public bool IsEmpty => _reqs.Count == 0 && !_matchesNothing;

    /// <summary>From a LabelSelector object (matchLabels/matchExpressions). Null matches nothing, {} everything.</summary>
    public static LabelSelector FromObject(JsonNode? node)
    {
        if (node is not JsonObject o) return Nothing;
        var sel = new LabelSelector();
        foreach (var (k, v) in o["matchLabels"].StringMap()) sel._reqs.Add((k, "=", [v]));
        if (o["matchExpressions"] is JsonArray exprs)
            foreach (var e in exprs)
            {
                var key = e.Str("key") ?? "";
                var op = e.Str("operator") ?? "";
                var vals = (e.Arr("values") ?? []).Select(x => x?.ToString() ?? "").ToHashSet(StringComparer.Ordinal);
                sel._reqs.Add((key, op switch { "In" => "in", "NotIn" => "notin", "Exists" => "exists", "DoesNotExist" => "!", _ => op }, vals));
            }
        return sel;
    }

    /// <summary>From a map selector (Service.spec.selector). Null or empty matches nothing.</summary>
    public static LabelSelector FromMap(JsonNode? node)
    {
        var map = node.StringMap();
        if (map.Count == 0) return Nothing;
        var sel = new LabelSelector();
        foreach (var (k, v) in map) sel._reqs.Add((k, "=", [v]));
        return sel;
    }

    public bool Matches(IReadOnlyDictionary<string, string> labels)
    {
        if (_matchesNothing) return false;
        foreach (var (key, op, values) in _reqs)
        {
            var has = labels.TryGetValue(key, out var v);
            var ok = op switch
            {
                "=" => has && values.Contains(v!),
                "!=" => !has || !values.Contains(v!),
                "in" => has && values.Contains(v!),
                "notin" => !has || !values.Contains(v!),
                "exists" => has,
                "!" => !has,
                _ => false,
            };
            if (!ok) return false;
        }
        return true;
    }

    public bool Matches(JsonNode? obj) => Matches(obj.Labels());
}
