using System.Globalization;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace RhaiiGke.Sandbox.Protocol;

/// <summary>
/// YAML to JSON nodes the way the apiserver decodes a YAML body (sigs.k8s.io/yaml over go-yaml v2, so
/// YAML 1.1 plain scalars: yes/no/on/off/y/n are booleans, 0x1F, 017 and 1_000 are integers), read from
/// YamlDotNet's event stream. Anchors are kept as nodes and copied at each alias, within a budget.
/// </summary>
internal static class ServerYaml
{
    private const int MaxDepth = 512;
    private const int MaxNodes = 2_000_000;

    /// <summary>The objects of a YAML (or JSON) stream: empty documents skipped, <c>*List</c> kinds expanded.</summary>
    public static List<JsonObject> ReadObjects(string text)
    {
        var objects = new List<JsonObject>();
        var pending = new Stack<JsonNode?>(ReadDocuments(text).AsEnumerable().Reverse());
        while (pending.Count > 0)
        {
            if (pending.Pop() is not JsonObject o) continue;
            if ((o.Str("kind") ?? "").EndsWith("List", StringComparison.Ordinal) && o["items"] is JsonArray items)
                foreach (var item in items.Reverse()) pending.Push(item?.DeepClone());
            else objects.Add(o);
        }
        return objects;
    }

    /// <summary>The first document, or null for an empty stream.</summary>
    public static JsonNode? ReadOne(string text) => ReadDocuments(text).FirstOrDefault();

    /// <summary>Every non-empty document; malformed YAML is a <see cref="FormatException"/> naming line and column.</summary>
    public static List<JsonNode?> ReadDocuments(string text)
    {
        var reader = new Reader(new Parser(new StringReader(text)));
        try { return reader.Stream(); }
        catch (YamlException ex) { throw new FormatException($"invalid YAML at line {ex.Start.Line}, column {ex.Start.Column}: {ex.Message}", ex); }
    }

    private sealed class Reader(IParser events)
    {
        private readonly Dictionary<string, JsonNode?> _anchors = new(StringComparer.Ordinal);
        private int _nodes;

        public List<JsonNode?> Stream()
        {
            var docs = new List<JsonNode?>();
            events.Consume<StreamStart>();
            while (events.TryConsume<DocumentStart>(out _))
            {
                _anchors.Clear();
                var (value, empty) = Node(0);
                events.Consume<DocumentEnd>();
                if (!empty) docs.Add(value);
            }
            events.Consume<StreamEnd>();
            return docs;
        }

        private void Count(int depth, Mark at)
        {
            if (++_nodes > MaxNodes) throw new FormatException($"invalid YAML at line {at.Line}: the document expands to more than {MaxNodes} nodes");
            if (depth > MaxDepth) throw new FormatException($"invalid YAML at line {at.Line}: nesting deeper than {MaxDepth} levels");
        }

        /// <summary>The next node; <c>Empty</c> marks a document that is only a null plain scalar.</summary>
        private (JsonNode? Value, bool Empty) Node(int depth)
        {
            var current = events.Current!;
            Count(depth, current.Start);
            switch (current)
            {
                case AnchorAlias alias:
                    events.MoveNext();
                    if (!_anchors.TryGetValue(alias.Value.Value, out var target))
                        throw new FormatException($"invalid YAML at line {alias.Start.Line}: unknown anchor '{alias.Value.Value}'");
                    _nodes += Size(target);
                    Count(depth, alias.Start);
                    return (target?.DeepClone(), false);
                case Scalar scalar:
                    events.MoveNext();
                    var (value, isNull) = Resolve(scalar);
                    Remember(scalar.Anchor, value);
                    return (value, isNull && scalar.Style == ScalarStyle.Plain);
                case SequenceStart seq:
                    events.MoveNext();
                    var list = new JsonArray();
                    while (!events.TryConsume<SequenceEnd>(out _)) list.Add(Node(depth + 1).Value);
                    Remember(seq.Anchor, list);
                    return (list, false);
                case MappingStart map:
                    events.MoveNext();
                    var obj = new JsonObject();
                    while (!events.TryConsume<MappingEnd>(out _))
                    {
                        var keyEvent = events.Current!;
                        var key = Node(depth + 1).Value;
                        var value2 = Node(depth + 1).Value;
                        if (keyEvent is Scalar { Value: "<<", Style: ScalarStyle.Plain } && value2 is JsonObject merged)
                        {
                            foreach (var (k, v) in merged) if (!obj.ContainsKey(k)) obj[k] = v?.DeepClone();
                            continue;
                        }
                        var name = key switch { null => "null", JsonValue kv when kv.GetValueKind() == System.Text.Json.JsonValueKind.String => kv.GetValue<string>(), _ => key.ToJsonString() };
                        obj.Remove(name); // the last of duplicate keys wins, as with kubectl
                        obj[name] = value2;
                    }
                    Remember(map.Anchor, obj);
                    return (obj, false);
                default:
                    throw new FormatException($"invalid YAML at line {current.Start.Line}: unexpected {current.GetType().Name}");
            }
        }

        private void Remember(AnchorName anchor, JsonNode? node)
        {
            if (!anchor.IsEmpty) _anchors[anchor.Value] = node;
        }

        private static int Size(JsonNode? n) => n switch
        {
            JsonObject o => 1 + o.Sum(kv => Size(kv.Value)),
            JsonArray a => 1 + a.Sum(Size),
            _ => 1,
        };
    }

    // ------------------------------------------------------------------ YAML 1.1 scalar resolution

    private static readonly HashSet<string> Nulls = new(StringComparer.Ordinal) { "", "~", "null", "Null", "NULL" };
    private static readonly HashSet<string> Trues = new(StringComparer.Ordinal) { "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON" };
    private static readonly HashSet<string> Falses = new(StringComparer.Ordinal) { "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF" };

    private static (JsonNode? Value, bool IsNull) Resolve(Scalar s)
    {
        var text = s.Value;
        var tag = s.Tag.IsEmpty ? null : s.Tag.Value;
        if (tag is "tag:yaml.org,2002:str" || (s.Style != ScalarStyle.Plain && tag is null)) return (JsonValue.Create(text), false);
        if (Nulls.Contains(text)) return (null, true);
        if (Trues.Contains(text)) return (JsonValue.Create(true), false);
        if (Falses.Contains(text)) return (JsonValue.Create(false), false);
        if (Integer(text) is { } whole) return (JsonValue.Create(whole), false);
        if (Real(text) is { } real) return (real, false);
        return (JsonValue.Create(text), false);
    }

    private static long? Integer(string text)
    {
        var t = text.Replace("_", "", StringComparison.Ordinal);
        if (t.Length == 0) return null;
        var negative = t[0] == '-';
        if (t[0] is '-' or '+') t = t[1..];
        if (t.Length == 0) return null;
        long? magnitude = null;
        if (t.StartsWith("0x", StringComparison.Ordinal) && t.Length > 2 && t[2..].All(char.IsAsciiHexDigit))
            magnitude = long.TryParse(t[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var h) ? h : null;
        else if (t.StartsWith("0b", StringComparison.Ordinal) && t.Length > 2 && t[2..].All(c => c is '0' or '1'))
            magnitude = Based(t[2..], 2);
        else if (t.Length > 1 && t[0] == '0' && t.All(c => c is >= '0' and <= '7'))
            magnitude = Based(t[1..], 8);
        else if (t.All(char.IsAsciiDigit) && (t.Length == 1 || t[0] != '0'))
            magnitude = long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var d) ? d : null;
        return magnitude is { } m ? negative ? -m : m : null;
    }

    private static long? Based(string digits, int radix)
    {
        try { return Convert.ToInt64(digits, radix); }
        catch (OverflowException) { return null; }
    }

    private static JsonNode? Real(string text)
    {
        switch (text)
        {
            case ".inf" or ".Inf" or ".INF" or "+.inf" or "+.Inf" or "+.INF":
            case "-.inf" or "-.Inf" or "-.INF":
            case ".nan" or ".NaN" or ".NAN":
                return JsonValue.Create(text); // JSON has no infinities: the apiserver refuses them as numbers too
        }
        var t = text.Replace("_", "", StringComparison.Ordinal);
        var body = t.TrimStart('+', '-');
        if (body.Length == 0 || !(char.IsAsciiDigit(body[0]) || body[0] == '.')) return null;
        if (!body.All(c => char.IsAsciiDigit(c) || c is '.' or 'e' or 'E' or '+' or '-')) return null;
        if (!body.Any(char.IsAsciiDigit)) return null;
        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) || double.IsInfinity(d)) return null;
        // Keep the spelling the document used (as go's float64 round trip would print it for ordinary values).
        return JsonNode.Parse(d.ToString("R", CultureInfo.InvariantCulture));
    }
}
