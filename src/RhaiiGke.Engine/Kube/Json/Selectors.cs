using System.Text.Json.Nodes;

namespace RhaiiGke.Engine.Kube.Json;

/// <summary>A Kubernetes label selector: the string form (<c>a=b,c!=d,e in (x,y),!f</c>) or a LabelSelector object.</summary>
internal sealed class LabelSelector
{
    private readonly List<(string Key, string Op, HashSet<string> Values)> _reqs = [];
    private readonly bool _matchesNothing;

    private LabelSelector(bool matchesNothing = false) => _matchesNothing = matchesNothing;

    public static readonly LabelSelector Everything = new();
    public static readonly LabelSelector Nothing = new(matchesNothing: true);

    public bool IsEmpty => _reqs.Count == 0 && !_matchesNothing;

    /// <summary>Parses the query-string form. Throws <see cref="FormatException"/> with the apiserver's wording.</summary>
    public static LabelSelector Parse(string? text)
    {
        var sel = new LabelSelector();
        if (string.IsNullOrWhiteSpace(text)) return sel;
        var i = 0;
        var s = text;
        while (i < s.Length)
        {
            SkipWs(s, ref i);
            if (i >= s.Length) break;
            var not = false;
            if (s[i] == '!') { not = true; i++; SkipWs(s, ref i); }
            var key = ReadToken(s, ref i);
            if (key.Length == 0) throw new FormatException($"unable to parse requirement: found '{(i < s.Length ? s[i] : ' ')}', expected: identifier");
            SkipWs(s, ref i);
            if (not)
            {
                sel._reqs.Add((key, "!", []));
            }
            else if (i >= s.Length || s[i] == ',')
            {
                sel._reqs.Add((key, "exists", []));
            }
            else if (s[i] == '=' || s[i] == '!')
            {
                string op;
                if (s[i] == '!') { if (i + 1 < s.Length && s[i + 1] == '=') { op = "!="; i += 2; } else throw new FormatException("unable to parse requirement: expected '='"); }
                else if (i + 1 < s.Length && s[i + 1] == '=') { op = "="; i += 2; }
                else { op = "="; i++; }
                SkipWs(s, ref i);
                var val = ReadToken(s, ref i);
                sel._reqs.Add((key, op, [val]));
            }
            else
            {
                var word = ReadToken(s, ref i);
                if (word is not ("in" or "notin")) throw new FormatException($"unable to parse requirement: found '{word}', expected: in, notin, =, ==, !=, gt, lt");
                SkipWs(s, ref i);
                if (i >= s.Length || s[i] != '(') throw new FormatException("unable to parse requirement: found '', expected: '('");
                i++;
                var close = s.IndexOf(')', i);
                if (close < 0) throw new FormatException("unable to parse requirement: found '', expected: ')'");
                var vals = s[i..close].Split(',').Select(v => v.Trim()).Where(v => v.Length > 0).ToHashSet(StringComparer.Ordinal);
                i = close + 1;
                sel._reqs.Add((key, word, vals));
            }
            SkipWs(s, ref i);
            if (i < s.Length)
            {
                if (s[i] != ',') throw new FormatException($"found '{s[i]}', expected: ',' or 'end of string'");
                i++;
            }
        }
        return sel;
    }

    private static void SkipWs(string s, ref int i) { while (i < s.Length && char.IsWhiteSpace(s[i])) i++; }

    private static string ReadToken(string s, ref int i)
    {
        var start = i;
        while (i < s.Length && !char.IsWhiteSpace(s[i]) && s[i] is not (',' or '=' or '!' or '(' or ')')) i++;
        return s[start..i];
    }

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

/// <summary>A field selector: <c>metadata.name=x,status.phase!=Running</c>.</summary>
internal sealed class FieldSelector
{
    public IReadOnlyList<(string Field, bool Equal, string Value)> Requirements { get; }

    private FieldSelector(List<(string, bool, string)> reqs) => Requirements = reqs;

    public static readonly FieldSelector Everything = new([]);

    public static FieldSelector Parse(string? text)
    {
        var reqs = new List<(string, bool, string)>();
        if (string.IsNullOrWhiteSpace(text)) return new FieldSelector(reqs);
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var p = part.Trim();
            int idx;
            if ((idx = p.IndexOf("!=", StringComparison.Ordinal)) > 0) reqs.Add((p[..idx].Trim(), false, p[(idx + 2)..].Trim()));
            else if ((idx = p.IndexOf("==", StringComparison.Ordinal)) > 0) reqs.Add((p[..idx].Trim(), true, p[(idx + 2)..].Trim()));
            else if ((idx = p.IndexOf('=')) > 0) reqs.Add((p[..idx].Trim(), true, p[(idx + 1)..].Trim()));
            else throw new FormatException($"invalid selector: '{text}'; can't understand '{p}'");
        }
        return new FieldSelector(reqs);
    }

    public bool Matches(JsonNode? obj)
    {
        foreach (var (field, equal, value) in Requirements)
        {
            var actual = obj.Str(field.Split('.')) ?? "";
            if ((actual == value) != equal) return false;
        }
        return true;
    }
}
