using System.Text.Json.Nodes;
using RhaiiGke.Engine.Manifests;

namespace RhaiiGke.Engine.Serving.Diagnosis;

/// <summary>
/// A read-only view of cluster objects that checks look at. It is filled from a live cluster or from a
/// dump (`kubectl get ... -o json` / `-o yaml`, a List or single objects), so a diagnosis can run on a
/// support bundle as well as live.
/// </summary>
public sealed class ClusterSnapshot
{
    private readonly List<JsonObject> _objects = [];

    public IReadOnlyList<JsonObject> Objects => _objects;

    public void Add(JsonNode? node)
    {
        if (node is not JsonObject o) return;
        if (o["items"] is JsonArray items && (o["kind"]?.GetValue<string>()?.EndsWith("List", StringComparison.Ordinal) ?? true))
        {
            // A List's items may omit apiVersion/kind (kubectl includes them; raw API lists do not).
            var itemKind = o["kind"]?.GetValue<string>() is { } lk && lk != "List" ? lk[..^4] : null;
            foreach (var i in items)
                if (i is JsonObject io)
                {
                    if (io["kind"] is null && itemKind is not null) io["kind"] = itemKind;
                    _objects.Add(io);
                }
            return;
        }
        _objects.Add(o);
    }

    /// <summary>Reads JSON or (multi-document) YAML text.</summary>
    public void AddText(string text)
    {
        var t = text.TrimStart();
        if (t.StartsWith('{') || t.StartsWith('[')) Add(JsonNode.Parse(text));
        else foreach (var d in YamlCodec.ReadAll(text)) Add(d);
    }

    public static ClusterSnapshot FromText(params string[] texts)
    {
        var s = new ClusterSnapshot();
        foreach (var t in texts) s.AddText(t);
        return s;
    }

    public IEnumerable<JsonObject> OfKind(string kind, string? ns = null) =>
        _objects.Where(o => Str(o, "kind") == kind && (ns is null || Namespace(o) == ns));

    public JsonObject? Get(string kind, string? ns, string name) =>
        OfKind(kind, ns).FirstOrDefault(o => Name(o) == name);

    public IEnumerable<JsonObject> EventsFor(JsonObject involved)
    {
        var kind = Str(involved, "kind");
        var name = Name(involved);
        var ns = Namespace(involved);
        return OfKind("Event").Where(e =>
            e["involvedObject"] is JsonObject io && Str(io, "kind") == kind && Str(io, "name") == name &&
            (ns is null || Str(io, "namespace") == ns || Namespace(e) == ns));
    }

    public IEnumerable<JsonObject> PodsMatching(string? ns, IReadOnlyDictionary<string, string> labels) =>
        OfKind("Pod", ns).Where(p => Matches(Labels(p), labels));

    public static bool Matches(IReadOnlyDictionary<string, string> have, IReadOnlyDictionary<string, string> want) =>
        want.All(kv => have.TryGetValue(kv.Key, out var v) && v == kv.Value);

    public static string? Str(JsonNode? o, string key) => o?[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
    public static string Name(JsonObject o) => Str(o["metadata"], "name") ?? "";
    public static string? Namespace(JsonObject o) => Str(o["metadata"], "namespace");

    public static Dictionary<string, string> Labels(JsonObject o) => StringMap(o["metadata"]?["labels"]);

    public static Dictionary<string, string> StringMap(JsonNode? node)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        if (node is JsonObject m)
            foreach (var (k, v) in m)
                if (v is JsonValue jv) d[k] = jv.ToString();
        return d;
    }

    /// <summary>The condition of the given type in status.conditions (or status.parents[*].conditions).</summary>
    public static JsonObject? Condition(JsonNode? status, string type) =>
        (status?["conditions"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault(c => Str(c, "type") == type);

    public static bool IsTrue(JsonObject? condition) => Str(condition, "status") == "True";
}
