using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace RhaiiGke.Engine.Kube.Json;

/// <summary>
/// Kubernetes YAML (sigs.k8s.io/yaml: YAML 1.1 scalars as go-yaml v2 resolves them) to JSON nodes and
/// back. Multi-document streams and <c>kind: List</c> are flattened into objects.
/// </summary>
internal static partial class KubeYaml
{
    [GeneratedRegex(@"^[-+]?(0|[1-9][0-9_]*)$")] private static partial Regex DecInt();
    [GeneratedRegex(@"^[-+]?0x[0-9a-fA-F_]+$")] private static partial Regex HexInt();
    [GeneratedRegex(@"^[-+]?0[0-7_]+$")] private static partial Regex OctInt();
    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?$")] private static partial Regex Float();

    private static readonly HashSet<string> True = ["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"];
    private static readonly HashSet<string> False = ["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"];
    private static readonly HashSet<string> Null = ["", "~", "null", "Null", "NULL"];

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

    public static List<JsonNode?> ReadAll(string text)
    {
        var stream = new YamlStream();
        try { stream.Load(new StringReader(text)); }
        catch (YamlException ex) { throw new FormatException($"invalid YAML at line {ex.Start.Line}, column {ex.Start.Column}: {ex.Message}", ex); }
        var list = new List<JsonNode?>();
        foreach (var doc in stream.Documents)
        {
            if (doc.RootNode is YamlScalarNode s && s.Style == ScalarStyle.Plain && Null.Contains(s.Value ?? "")) continue;
            list.Add(Convert(doc.RootNode));
        }
        return list;
    }

    public static JsonNode? ReadOne(string text) => ReadAll(text).FirstOrDefault();

    private static JsonNode? Convert(YamlNode node) => node switch
    {
        YamlMappingNode m => ConvertMap(m),
        YamlSequenceNode s => new JsonArray(s.Children.Select(Convert).ToArray()),
        YamlScalarNode sc => Scalar(sc),
        _ => null,
    };

    private static JsonObject ConvertMap(YamlMappingNode m)
    {
        var o = new JsonObject();
        foreach (var (k, v) in m.Children)
        {
            if (k is YamlScalarNode { Value: "<<" } && v is YamlMappingNode merge)
            {
                foreach (var (mk, mv) in ConvertMap(merge)) if (!o.ContainsKey(mk)) o[mk] = mv?.DeepClone();
                continue;
            }
            var key = k is YamlScalarNode ks ? ks.Value ?? "" : k.ToString();
            o.Remove(key);
            o[key] = Convert(v);
        }
        return o;
    }

    private static JsonNode? Scalar(YamlScalarNode s)
    {
        var v = s.Value ?? "";
        if (s.Style != ScalarStyle.Plain || s.Tag == "tag:yaml.org,2002:str") return JsonValue.Create(v);
        if (Null.Contains(v)) return null;
        if (True.Contains(v)) return JsonValue.Create(true);
        if (False.Contains(v)) return JsonValue.Create(false);
        var clean = v.Replace("_", "");
        if (DecInt().IsMatch(v) && long.TryParse(clean, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return JsonValue.Create(l);
        if (HexInt().IsMatch(v))
        {
            var neg = clean.StartsWith('-');
            var digits = clean.TrimStart('+', '-')[2..];
            if (long.TryParse(digits, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var h)) return JsonValue.Create(neg ? -h : h);
        }
        if (OctInt().IsMatch(v))
        {
            try { var neg = clean.StartsWith('-'); var o = System.Convert.ToInt64(clean.TrimStart('+', '-'), 8); return JsonValue.Create(neg ? -o : o); }
            catch (FormatException) { }
        }
        if (Float().IsMatch(v) && double.TryParse(clean, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
            return JsonNode.Parse(d.ToString("R", CultureInfo.InvariantCulture));
        return JsonValue.Create(v);
    }

    /// <summary>Block-style YAML for one node; strings that would read back as another type are quoted.</summary>
    public static string Write(JsonNode? node)
    {
        var sb = new StringBuilder();
        WriteNode(sb, node, 0, inSequence: false);
        return sb.ToString();
    }

    /// <summary>Several objects as one stream separated by <c>---</c>.</summary>
    public static string WriteAll(IEnumerable<JsonNode?> nodes) => string.Join("---\n", nodes.Select(Write));

    private static void WriteNode(StringBuilder sb, JsonNode? node, int indent, bool inSequence)
    {
        switch (node)
        {
            case JsonObject o when o.Count > 0:
            {
                var first = true;
                foreach (var (k, v) in o)
                {
                    if (!(first && inSequence)) sb.Append(' ', indent);
                    first = false;
                    sb.Append(Quote(k)).Append(':');
                    WriteChild(sb, v, indent);
                }
                break;
            }
            case JsonArray a when a.Count > 0:
            {
                var first = true;
                foreach (var item in a)
                {
                    if (!(first && inSequence)) sb.Append(' ', indent);
                    first = false;
                    sb.Append("- ");
                    if (item is JsonObject io && io.Count > 0) WriteNode(sb, item, indent + 2, inSequence: true);
                    else if (item is JsonArray ia && ia.Count > 0) WriteNode(sb, item, indent + 2, inSequence: true);
                    else sb.Append(Inline(item)).Append('\n');
                }
                break;
            }
            default:
                sb.Append(Inline(node)).Append('\n');
                break;
        }
    }

    private static void WriteChild(StringBuilder sb, JsonNode? v, int indent)
    {
        if (v is JsonObject co && co.Count > 0) { sb.Append('\n'); WriteNode(sb, v, indent + 2, false); }
        else if (v is JsonArray ca && ca.Count > 0) { sb.Append('\n'); WriteNode(sb, v, indent, false); }
        else if (v is JsonValue sv && sv.TryGetValue<string>(out var str) && str.Contains('\n'))
        {
            sb.Append(str.EndsWith('\n') ? " |\n" : " |-\n");
            foreach (var line in str.TrimEnd('\n').Split('\n')) sb.Append(' ', indent + 2).Append(line).Append('\n');
        }
        else sb.Append(' ').Append(Inline(v)).Append('\n');
    }

    private static string Inline(JsonNode? n) => n switch
    {
        null => "null",
        JsonObject => "{}",
        JsonArray => "[]",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => Quote(v.GetValue<string>()),
        _ => n.ToJsonString(),
    };

    private static string Quote(string s)
    {
        if (s.Length == 0) return "\"\"";
        var plainOk = !Null.Contains(s) && !True.Contains(s) && !False.Contains(s) && !DecInt().IsMatch(s) && !HexInt().IsMatch(s) &&
                      !OctInt().IsMatch(s) && !Float().IsMatch(s) && !s.StartsWith(' ') && !s.EndsWith(' ') &&
                      "-?:,[]{}#&*!|>'\"%@`".IndexOf(s[0]) < 0 && !s.Contains(": ") && !s.Contains(" #") && !s.EndsWith(':') &&
                      s.All(c => c >= ' ' && c != '\u007f');
        return plainOk ? s : JsonSerializer.Serialize(s);
    }
}
