using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace RhaiiGke.Engine.Manifests;

/// <summary>
/// YAML in and out of System.Text.Json nodes. Reading resolves plain scalars as Kubernetes does
/// (sigs.k8s.io/yaml over go-yaml: YAML 1.1, so yes/no/on/off are booleans and 0x1F, 017 and 1_000
/// are numbers); quoted scalars are strings. Writing quotes every string that a YAML 1.1 or 1.2 reader
/// would take as another type ("4", "true", "no"; "2x2" stays plain), so what we emit round-trips
/// through kubectl exactly.
/// </summary>
public static partial class YamlCodec
{
    [GeneratedRegex(@"^[-+]?(0|[1-9][0-9]*)$")] private static partial Regex IntPattern();
    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")] private static partial Regex FloatPattern();
    [GeneratedRegex(@"^0x[0-9a-fA-F]+$|^0o[0-7]+$|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$")] private static partial Regex SpecialNumberPattern();
    [GeneratedRegex(@"^[-+]?0x[0-9a-fA-F]+$")] private static partial Regex HexPattern();
    [GeneratedRegex(@"^[-+]?0[0-7]+$")] private static partial Regex OctalPattern();

    /// <summary>
    /// Every document in <paramref name="yaml"/>, empty documents skipped. Nesting depth and alias
    /// expansion are bounded while parsing (<see cref="YamlLimits"/>): a RhaiiException, never a stack
    /// overflow or unbounded memory.
    /// </summary>
    public static List<JsonNode?> ReadAll(string yaml, string? source = null)
    {
        var stream = new YamlStream();
        stream.Load(YamlLimits.Bound(new Parser(new StringReader(yaml)), yaml.Length, source));
        var list = new List<JsonNode?>();
        foreach (var doc in stream.Documents)
        {
            if (doc.RootNode is YamlScalarNode s && s.Style == ScalarStyle.Plain && PlainValue(s.Value ?? "") is null) continue;
            list.Add(Convert(doc.RootNode));
        }
        return list;
    }

    public static JsonNode? ReadOne(string yaml) => ReadAll(yaml).FirstOrDefault();

    private static JsonNode? Convert(YamlNode node) => node switch
    {
        YamlMappingNode m => ConvertMapping(m),
        YamlSequenceNode seq => new JsonArray(seq.Children.Select(Convert).ToArray()),
        YamlScalarNode s => ConvertScalar(s),
        _ => null,
    };

    private static JsonObject ConvertMapping(YamlMappingNode m)
    {
        var o = new JsonObject();
        foreach (var (k, v) in m.Children)
        {
            if (k is YamlScalarNode { Value: "<<", Style: ScalarStyle.Plain } && v is YamlMappingNode merge)
            {
                // YAML merge key: the merged mapping's keys, unless this mapping sets them itself.
                foreach (var (mk, mv) in ConvertMapping(merge)) if (!o.ContainsKey(mk)) o[mk] = mv?.DeepClone();
                continue;
            }
            var key = k is YamlScalarNode ks ? ks.Value ?? "" : k.ToString();
            o.Remove(key);
            o[key] = Convert(v); // a later duplicate key wins, as kubectl does
        }
        return o;
    }

    private static JsonNode? ConvertScalar(YamlScalarNode s)
    {
        var v = s.Value ?? "";
        if (s.Style != ScalarStyle.Plain || s.Tag == "tag:yaml.org,2002:str") return JsonValue.Create(v);
        return PlainValue(v);
    }

    private static JsonNode? PlainValue(string v)
    {
        switch (v)
        {
            case "" or "~" or "null" or "Null" or "NULL": return null;
            case "true" or "True" or "TRUE" or "y" or "Y" or "yes" or "Yes" or "YES" or "on" or "On" or "ON": return JsonValue.Create(true);
            case "false" or "False" or "FALSE" or "n" or "N" or "no" or "No" or "NO" or "off" or "Off" or "OFF": return JsonValue.Create(false);
        }
        var digits = v.Replace("_", "");
        if (IntPattern().IsMatch(digits) && long.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return JsonValue.Create(l);
        if (HexPattern().IsMatch(digits))
        {
            var neg = digits.StartsWith('-');
            var hex = digits.TrimStart('+', '-')[2..];
            if (long.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var h)) return JsonValue.Create(neg ? -h : h);
        }
        if (OctalPattern().IsMatch(digits))
        {
            try { var o = System.Convert.ToInt64(digits.TrimStart('+', '-'), 8); return JsonValue.Create(digits.StartsWith('-') ? -o : o); }
            catch (OverflowException) { }
        }
        if (FloatPattern().IsMatch(digits) && double.TryParse(digits, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return JsonValue.Create(d);
        return JsonValue.Create(v);
    }

    /// <summary>True when a plain scalar with this text would read back as something other than this string.</summary>
    private static bool NeedsQuotes(string v)
    {
        if (v.Length == 0) return true;
        if (PlainValue(v) is not JsonValue jv || jv.GetValueKind() != JsonValueKind.String) return true;
        if (SpecialNumberPattern().IsMatch(v)) return true;
        if (char.IsWhiteSpace(v[0]) || char.IsWhiteSpace(v[^1])) return true;
        if ("-?:,[]{}#&*!|>'\"%@`".Contains(v[0])) return true;
        if (v.Contains(": ") || v.Contains(" #") || v.EndsWith(':')) return true;
        foreach (var c in v) if (char.IsControl(c)) return true;
        return false;
    }

    /// <summary>Writes documents separated by ---.</summary>
    public static string WriteAll(IEnumerable<JsonNode?> documents)
    {
        var sb = new StringBuilder();
        var first = true;
        foreach (var d in documents)
        {
            if (!first) sb.Append("---\n");
            first = false;
            sb.Append(Write(d));
        }
        return sb.ToString();
    }

    public static string Write(JsonNode? node)
    {
        var sw = new StringWriter { NewLine = "\n" };
        var emitter = new Emitter(sw, bestIndent: 2, bestWidth: int.MaxValue, isCanonical: false);
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart(null, null, isImplicit: true));
        Emit(emitter, node);
        emitter.Emit(new DocumentEnd(isImplicit: true));
        emitter.Emit(new StreamEnd());
        return sw.ToString().Replace("\r\n", "\n");
    }

    private static void Emit(IEmitter e, JsonNode? node)
    {
        switch (node)
        {
            case null:
                e.Emit(new Scalar(null, null, "null", ScalarStyle.Plain, true, false));
                break;
            case JsonObject o:
                e.Emit(new MappingStart(null, null, true, MappingStyle.Block));
                foreach (var (k, v) in o)
                {
                    e.Emit(new Scalar(null, null, k, NeedsQuotes(k) ? ScalarStyle.DoubleQuoted : ScalarStyle.Plain, true, true));
                    Emit(e, v);
                }
                e.Emit(new MappingEnd());
                break;
            case JsonArray a:
                e.Emit(new SequenceStart(null, null, true, SequenceStyle.Block));
                foreach (var v in a) Emit(e, v);
                e.Emit(new SequenceEnd());
                break;
            case JsonValue v:
                switch (v.GetValueKind())
                {
                    case JsonValueKind.String:
                        var s = v.GetValue<string>();
                        var style = s.Contains('\n') && !s.Any(c => char.IsControl(c) && c != '\n') && !s.EndsWith(' ') ? ScalarStyle.Literal
                            : NeedsQuotes(s) ? ScalarStyle.DoubleQuoted : ScalarStyle.Plain;
                        e.Emit(new Scalar(null, null, s, style, true, style != ScalarStyle.Plain));
                        break;
                    case JsonValueKind.True: e.Emit(new Scalar(null, null, "true", ScalarStyle.Plain, true, false)); break;
                    case JsonValueKind.False: e.Emit(new Scalar(null, null, "false", ScalarStyle.Plain, true, false)); break;
                    case JsonValueKind.Null: e.Emit(new Scalar(null, null, "null", ScalarStyle.Plain, true, false)); break;
                    default: e.Emit(new Scalar(null, null, v.ToJsonString(), ScalarStyle.Plain, true, false)); break;
                }
                break;
        }
    }
}
