using System.Text.Json.Nodes;
using RhaiiGke.Engine.Manifests;
using YamlDotNet.Core;

namespace RhaiiGke.Engine.Kube.Json;

/// <summary>
/// Kubernetes YAML to JSON nodes and back, over <see cref="YamlCodec"/> (YAML 1.1 scalars as go-yaml v2
/// resolves them). Multi-document streams and <c>kind: List</c> are flattened into objects.
/// </summary>
internal static class KubeYaml
{
    /// <summary>All objects of a YAML or JSON stream; empty documents skipped, <c>List</c> kinds expanded.</summary>
    public static List<JsonObject> ReadObjects(string text)
    {
        var result = new List<JsonObject>();
        foreach (var n in ReadAll(text)) Flatten(n, result);
        return result;
    }

    private static void Flatten(JsonNode? n, List<JsonObject> into)
    {
        if (n is not JsonObject o) return;
        var kind = o.Str("kind");
        if (kind is not null && kind.EndsWith("List", StringComparison.Ordinal) && o["items"] is JsonArray items)
        {
            foreach (var i in items) Flatten(i?.DeepClone(), into);
            return;
        }
        into.Add(o);
    }

    /// <summary>Every document; invalid YAML is a <see cref="FormatException"/> naming line and column.</summary>
    public static List<JsonNode?> ReadAll(string text)
    {
        try { return YamlCodec.ReadAll(text); }
        catch (YamlException ex) { throw new FormatException($"invalid YAML at line {ex.Start.Line}, column {ex.Start.Column}: {ex.Message}", ex); }
    }

    public static JsonNode? ReadOne(string text) => ReadAll(text).FirstOrDefault();

    /// <summary>Block-style YAML for one node; strings that would read back as another type are quoted.</summary>
    public static string Write(JsonNode? node) => YamlCodec.Write(node);

    /// <summary>Several objects as one stream separated by <c>---</c>.</summary>
    public static string WriteAll(IEnumerable<JsonNode?> nodes) => YamlCodec.WriteAll(nodes);
}
