using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.Protocol;

/// <summary>
/// The API server's own view of stored objects as System.Text.Json nodes: field lookups along a path of
/// member names, typed reads the way the apiserver's unstructured helpers do them (NestedString,
/// NestedInt64...), and the equality used for "did this field change" (numbers by value, member order
/// ignored). Written for the simulators only; the module's clients have their own.
/// </summary>
internal static class ServerJson
{
    private static readonly JsonSerializerOptions Wire = new() { WriteIndented = false };
    private static readonly JsonDocumentOptions Lenient = new() { AllowTrailingCommas = true };

    /// <summary>The node reached by following member names; null as soon as a step is missing or not an object.</summary>
    public static JsonNode? At(this JsonNode? node, params string[] path)
    {
        for (var i = 0; i < path.Length && node is not null; i++)
            node = node is JsonObject map && map.TryGetPropertyValue(path[i], out var child) ? child : null;
        return node;
    }

    /// <summary>A string field; scalars that are not strings come back in their JSON spelling.</summary>
    public static string? Str(this JsonNode? node, params string[] path) => node.At(path) is JsonValue leaf ? Text(leaf) : null;

    /// <summary>A scalar as text: a JSON string's value (whatever CLR value backs it: string, Guid, DateTime...), otherwise its JSON spelling.</summary>
    private static string Text(JsonNode leaf)
    {
        if (leaf is JsonValue v && v.TryGetValue<string>(out var s)) return s;
        var json = leaf.ToJsonString();
        return leaf.GetValueKind() == JsonValueKind.String ? JsonSerializer.Deserialize<string>(json)! : json;
    }

    /// <summary>An integer field (numbers truncate, numeric strings parse), or null.</summary>
    public static long? Long(this JsonNode? node, params string[] path)
    {
        if (node.At(path) is not JsonValue leaf) return null;
        switch (leaf.GetValueKind())
        {
            case JsonValueKind.Number:
                var text = leaf.ToJsonString();
                if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var whole)) return whole;
                return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var real) ? (long)real : null;
            case JsonValueKind.String:
                return long.TryParse(leaf.Str(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed) ? parsed : null;
            default:
                return null;
        }
    }

    public static bool? Bool(this JsonNode? node, params string[] path) =>
        node.At(path) is JsonValue leaf ? leaf.GetValueKind() switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => null } : null;

    public static JsonObject? Obj(this JsonNode? node, params string[] path) => node.At(path) as JsonObject;

    public static JsonArray? Arr(this JsonNode? node, params string[] path) => node.At(path) as JsonArray;

    /// <summary>Walks (and creates where missing or not a map) nested objects; returns the last one.</summary>
    public static JsonObject Ensure(this JsonObject node, params string[] path)
    {
        var here = node;
        foreach (var name in path)
        {
            if (here[name] is not JsonObject child)
            {
                child = [];
                here[name] = child;
            }
            here = child;
        }
        return here;
    }

    public static JsonObject Clone(this JsonObject o) => o.DeepClone().AsObject();

    public static JsonObject ParseObject(string json) =>
        JsonNode.Parse(json, documentOptions: Lenient) is JsonObject o ? o : throw new FormatException("expected a JSON object");

    /// <summary>A map[string]string field (labels, annotations, selectors); non-string values keep their JSON text.</summary>
    public static Dictionary<string, string> StringMap(this JsonNode? node)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (node is not JsonObject map) return result;
        foreach (var entry in map)
        {
            if (entry.Value is null) continue;
            result[entry.Key] = Text(entry.Value);
        }
        return result;
    }

    public static Dictionary<string, string> Labels(this JsonNode? obj) => StringMap(obj?["metadata"]?["labels"]);
    public static Dictionary<string, string> Annotations(this JsonNode? obj) => StringMap(obj?["metadata"]?["annotations"]);
    public static string Name(this JsonNode? obj) => obj.Str("metadata", "name") ?? "";
    public static string? Namespace(this JsonNode? obj) => obj.Str("metadata", "namespace");

    /// <summary>Compact JSON as the server writes it on the wire.</summary>
    public static string ToJson(this JsonNode? n) => n is null ? "null" : n.ToJsonString(Wire);

    public static byte[] Utf8(this JsonNode? n) => Encoding.UTF8.GetBytes(ToJson(n));

    /// <summary>True for a missing node and for an explicit JSON null.</summary>
    public static bool IsAbsent(JsonNode? n) => n is null || n.GetValueKind() == JsonValueKind.Null;

    /// <summary>
    /// Semantic equality of two values: maps compare member by member whatever the order, lists element by
    /// element, numbers by their decimal value (1 equals 1.0), null equals missing.
    /// </summary>
    public static bool DeepEquals(JsonNode? a, JsonNode? b)
    {
        if (IsAbsent(a) || IsAbsent(b)) return IsAbsent(a) && IsAbsent(b);
        var kind = a!.GetValueKind();
        if (kind != b!.GetValueKind()) return false;
        return kind switch
        {
            JsonValueKind.Object => SameMembers(a.AsObject(), b.AsObject()),
            JsonValueKind.Array => SameElements(a.AsArray(), b.AsArray()),
            JsonValueKind.Number => SameNumber(a.ToJsonString(), b.ToJsonString()),
            JsonValueKind.String => string.Equals(Text(a), Text(b), StringComparison.Ordinal),
            _ => true, // true/true, false/false
        };
    }

    private static bool SameMembers(JsonObject x, JsonObject y)
    {
        if (x.Count != y.Count) return false;
        foreach (var member in x)
        {
            if (!y.TryGetPropertyValue(member.Key, out var other)) return false;
            if (!DeepEquals(member.Value, other)) return false;
        }
        return true;
    }

    private static bool SameElements(JsonArray x, JsonArray y) =>
        x.Count == y.Count && x.Zip(y).All(pair => DeepEquals(pair.First, pair.Second));

    private static bool SameNumber(string x, string y)
    {
        if (x == y) return true;
        const NumberStyles style = NumberStyles.Float;
        return decimal.TryParse(x, style, CultureInfo.InvariantCulture, out var dx)
            && decimal.TryParse(y, style, CultureInfo.InvariantCulture, out var dy) && dx == dy;
    }

    // The patch formats live in Patches.cs; these forwarders keep the call sites short.
    public static JsonNode? MergePatch(JsonNode? target, JsonNode? patch) => Patches.Merge(target, patch);
    public static JsonNode? JsonPatch(JsonNode? target, JsonArray ops) => Patches.ApplyOperations(target, ops);
    public static JsonNode? StrategicMerge(JsonNode? target, JsonNode? patch, string fieldName = "") => Patches.Strategic(target, patch, fieldName);
}
