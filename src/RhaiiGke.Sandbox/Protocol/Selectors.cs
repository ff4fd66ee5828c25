using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.Protocol;

/// <summary>
/// A label selector as the API server evaluates it: parsed from the <c>labelSelector</c> query parameter
/// with the grammar of k8s.io/apimachinery/pkg/labels (a lexer of identifiers, <c>= == != ! in notin
/// gt lt ( ) ,</c>, then requirements joined by commas), or built from a LabelSelector object or a
/// Service-style map.
/// </summary>
internal sealed class LabelSelector
{
    private enum Op { Equals, NotEquals, In, NotIn, Exists, DoesNotExist, GreaterThan, LessThan }

    private sealed record Requirement(string Key, Op Op, IReadOnlySet<string> Values);

    private readonly List<Requirement> _requirements = [];
    private readonly bool _none;

    private LabelSelector(bool none = false) => _none = none;

    public static readonly LabelSelector Everything = new();
    public static readonly LabelSelector Nothing = new(none: true);

    public bool IsEmpty => !_none && _requirements.Count == 0;

    // ------------------------------------------------------------------ lexer

    private enum Tok { End, Ident, Bang, Eq, DoubleEq, NotEq, In, NotIn, Gt, Lt, Open, Close, Comma }

    private sealed class Lexer(string text)
    {
        private int _pos;

        public (Tok Kind, string Text) Next()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos])) _pos++;
            if (_pos >= text.Length) return (Tok.End, "");
            var c = text[_pos];
            switch (c)
            {
                case '(': _pos++; return (Tok.Open, "(");
                case ')': _pos++; return (Tok.Close, ")");
                case ',': _pos++; return (Tok.Comma, ",");
                case '>': _pos++; return (Tok.Gt, ">");
                case '<': _pos++; return (Tok.Lt, "<");
                case '=':
                    _pos++;
                    if (_pos < text.Length && text[_pos] == '=') { _pos++; return (Tok.DoubleEq, "=="); }
                    return (Tok.Eq, "=");
                case '!':
                    _pos++;
                    if (_pos < text.Length && text[_pos] == '=') { _pos++; return (Tok.NotEq, "!="); }
                    return (Tok.Bang, "!");
            }
            var start = _pos;
            while (_pos < text.Length && !char.IsWhiteSpace(text[_pos]) && "()<>,=!".IndexOf(text[_pos]) < 0) _pos++;
            var word = text[start.._pos];
            return word switch { "in" => (Tok.In, word), "notin" => (Tok.NotIn, word), _ => (Tok.Ident, word) };
        }
    }

    private sealed class Parser(string text)
    {
        private readonly Lexer _lexer = new(text);
        private (Tok Kind, string Text) _look;
        private bool _peeked;

        private (Tok Kind, string Text) Peek()
        {
            if (!_peeked) { _look = _lexer.Next(); _peeked = true; }
            return _look;
        }

        private (Tok Kind, string Text) Take() { var t = Peek(); _peeked = false; return t; }

        private static FormatException Unexpected((Tok Kind, string Text) t, string expected) =>
            new($"found '{t.Text}', expected: {expected}");

        public List<Requirement> Requirements()
        {
            var list = new List<Requirement>();
            while (true)
            {
                var t = Peek();
                if (t.Kind == Tok.End) return list;
                if (t.Kind is not (Tok.Ident or Tok.Bang)) throw Unexpected(t, "!, identifier, or 'end of string'");
                list.Add(Requirement());
                t = Take();
                if (t.Kind == Tok.End) return list;
                if (t.Kind != Tok.Comma) throw Unexpected(t, "',' or 'end of string'");
                if (Peek().Kind == Tok.End) throw Unexpected(Peek(), "!, identifier");
            }
        }

        private Requirement Requirement()
        {
            if (Peek().Kind == Tok.Bang)
            {
                Take();
                var negated = Take();
                if (negated.Kind != Tok.Ident) throw Unexpected(negated, "identifier");
                return new Requirement(CheckKey(negated.Text), Op.DoesNotExist, new HashSet<string>());
            }
            var key = CheckKey(Take().Text);
            var op = Peek();
            if (op.Kind is Tok.End or Tok.Comma) return new Requirement(key, Op.Exists, new HashSet<string>());
            Take();
            switch (op.Kind)
            {
                case Tok.Eq or Tok.DoubleEq or Tok.NotEq:
                    return new Requirement(key, op.Kind == Tok.NotEq ? Op.NotEquals : Op.Equals, new HashSet<string>(StringComparer.Ordinal) { SingleValue() });
                case Tok.Gt or Tok.Lt:
                    var bound = SingleValue();
                    if (!long.TryParse(bound, NumberStyles.Integer, CultureInfo.InvariantCulture, out _))
                        throw new FormatException($"for 'Gt', 'Lt' operators, the value must be an integer");
                    return new Requirement(key, op.Kind == Tok.Gt ? Op.GreaterThan : Op.LessThan, new HashSet<string> { bound });
                case Tok.In or Tok.NotIn:
                    return new Requirement(key, op.Kind == Tok.In ? Op.In : Op.NotIn, ValueSet());
                default:
                    throw Unexpected(op, "=, !=, ==, in, notin, gt, lt");
            }
        }

        private string SingleValue()
        {
            var t = Peek();
            if (t.Kind is Tok.End or Tok.Comma) return CheckValue("");
            if (t.Kind != Tok.Ident) throw Unexpected(t, "identifier");
            return CheckValue(Take().Text);
        }

        private HashSet<string> ValueSet()
        {
            var open = Take();
            if (open.Kind != Tok.Open) throw Unexpected(open, "'('");
            var values = new HashSet<string>(StringComparer.Ordinal);
            var expectValue = true;
            while (true)
            {
                var t = Take();
                switch (t.Kind)
                {
                    case Tok.Close:
                        if (values.Count == 0 && expectValue) values.Add("");
                        return values;
                    case Tok.Comma:
                        if (expectValue) values.Add("");
                        expectValue = true;
                        break;
                    case Tok.Ident when expectValue:
                        values.Add(CheckValue(t.Text));
                        expectValue = false;
                        break;
                    default:
                        throw Unexpected(t, "',', ')' or identifier");
                }
            }
        }
    }

    // ------------------------------------------------------------------ validation (label keys and values)

    private static string CheckKey(string key)
    {
        var slash = key.IndexOf('/');
        var name = slash < 0 ? key : key[(slash + 1)..];
        if (slash >= 0)
        {
            var prefix = key[..slash];
            if (prefix.Length == 0 || prefix.Length > 253 || !prefix.Split('.').All(IsDnsLabel))
                throw new FormatException($"invalid label key \"{key}\": prefix part must be a lowercase RFC 1123 subdomain");
        }
        if (!IsQualifiedName(name, allowEmpty: false))
            throw new FormatException($"invalid label key \"{key}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
        return key;
    }

    private static string CheckValue(string value) =>
        IsQualifiedName(value, allowEmpty: true) ? value
            : throw new FormatException($"invalid label value: \"{value}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");

    private static bool IsQualifiedName(string s, bool allowEmpty)
    {
        if (s.Length == 0) return allowEmpty;
        if (s.Length > 63 || !char.IsAsciiLetterOrDigit(s[0]) || !char.IsAsciiLetterOrDigit(s[^1])) return false;
        return s.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');
    }

    private static bool IsDnsLabel(string s) =>
        s.Length is > 0 and <= 63 && char.IsAsciiLetterLower(s[0]) | char.IsAsciiDigit(s[0]) && char.IsAsciiLetterLower(s[^1]) | char.IsAsciiDigit(s[^1])
        && s.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-');

    // ------------------------------------------------------------------ constructors

    /// <summary>The query-string form; a syntax error is a <see cref="FormatException"/> worded like the apiserver's.</summary>
    public static LabelSelector Parse(string? text)
    {
        var selector = new LabelSelector();
        if (string.IsNullOrWhiteSpace(text)) return selector;
        selector._requirements.AddRange(new Parser(text).Requirements());
        return selector;
    }

    /// <summary>A metav1.LabelSelector object; null selects nothing and an empty object everything.</summary>
    public static LabelSelector FromObject(JsonNode? node)
    {
        if (node is not JsonObject spec) return Nothing;
        var selector = new LabelSelector();
        foreach (var (k, v) in spec["matchLabels"].StringMap())
            selector._requirements.Add(new Requirement(k, Op.Equals, new HashSet<string>(StringComparer.Ordinal) { v }));
        foreach (var expression in spec.Arr("matchExpressions") ?? [])
        {
            var values = new HashSet<string>((expression.Arr("values") ?? []).Select(v => v?.ToString() ?? ""), StringComparer.Ordinal);
            Op? op = expression.Str("operator") switch
            {
                "In" => Op.In, "NotIn" => Op.NotIn, "Exists" => Op.Exists, "DoesNotExist" => Op.DoesNotExist, _ => null,
            };
            // An unknown operator never matches (the object would have failed validation anyway).
            if (op is null) return Nothing;
            selector._requirements.Add(new Requirement(expression.Str("key") ?? "", op.Value, values));
        }
        return selector;
    }

    /// <summary>A map selector (Service.spec.selector, ReplicaSet-less controllers); null or empty selects nothing.</summary>
    public static LabelSelector FromMap(JsonNode? node)
    {
        var pairs = node.StringMap();
        if (pairs.Count == 0) return Nothing;
        var selector = new LabelSelector();
        foreach (var (k, v) in pairs) selector._requirements.Add(new Requirement(k, Op.Equals, new HashSet<string>(StringComparer.Ordinal) { v }));
        return selector;
    }

    // ------------------------------------------------------------------ matching

    public bool Matches(IReadOnlyDictionary<string, string> labels) => !_none && _requirements.All(r => Satisfies(r, labels));

    public bool Matches(JsonNode? obj) => Matches(obj.Labels());

    private static bool Satisfies(Requirement r, IReadOnlyDictionary<string, string> labels)
    {
        var present = labels.TryGetValue(r.Key, out var value);
        return r.Op switch
        {
            Op.Equals or Op.In => present && r.Values.Contains(value!),
            Op.NotEquals or Op.NotIn => !present || !r.Values.Contains(value!),
            Op.Exists => present,
            Op.DoesNotExist => !present,
            Op.GreaterThan or Op.LessThan => present && long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var have)
                && long.TryParse(r.Values.First(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var bound)
                && (r.Op == Op.GreaterThan ? have > bound : have < bound),
            _ => false,
        };
    }
}

/// <summary>
/// A field selector (<c>metadata.name=x,status.phase!=Running</c>) as k8s.io/apimachinery/pkg/fields parses
/// it: comma-separated terms, <c>=</c>/<c>==</c>/<c>!=</c>, and backslash escapes for <c>, = \</c> in values.
/// </summary>
internal sealed class FieldSelector
{
    public IReadOnlyList<(string Field, bool Equal, string Value)> Requirements { get; }

    private FieldSelector(IReadOnlyList<(string, bool, string)> terms) => Requirements = terms;

    public static readonly FieldSelector Everything = new([]);

    public static FieldSelector Parse(string? text)
    {
        if (string.IsNullOrEmpty(text)) return Everything;
        var terms = new List<(string, bool, string)>();
        foreach (var term in SplitTerms(text))
        {
            if (term.Length == 0) continue;
            var (at, width, equal) = FindOperator(term);
            if (at <= 0) throw new FormatException($"invalid selector: '{text}'; can't understand '{term}'");
            terms.Add((term[..at].Trim(), equal, Unescape(term[(at + width)..].Trim(), text)));
        }
        return new FieldSelector(terms);
    }

    private static IEnumerable<string> SplitTerms(string text)
    {
        var current = new StringBuilder();
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\' && i + 1 < text.Length) { current.Append(text[i]).Append(text[++i]); continue; }
            if (text[i] == ',') { yield return current.ToString(); current.Clear(); continue; }
            current.Append(text[i]);
        }
        yield return current.ToString();
    }

    private static (int At, int Width, bool Equal) FindOperator(string term)
    {
        for (var i = 0; i < term.Length; i++)
        {
            if (term[i] == '\\') { i++; continue; }
            if (term[i] == '!' && i + 1 < term.Length && term[i + 1] == '=') return (i, 2, false);
            if (term[i] == '=') return (i, i + 1 < term.Length && term[i + 1] == '=' ? 2 : 1, true);
        }
        return (-1, 0, true);
    }

    private static string Unescape(string value, string whole)
    {
        if (!value.Contains('\\')) return value;
        var sb = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] != '\\') { sb.Append(value[i]); continue; }
            if (i + 1 >= value.Length || value[i + 1] is not ('\\' or ',' or '='))
                throw new FormatException($"invalid field selector: '{whole}': invalid escape sequence");
            sb.Append(value[++i]);
        }
        return sb.ToString();
    }

    public bool Matches(JsonNode? obj) =>
        Requirements.All(r => string.Equals(obj.Str(Path(r.Field)) ?? "", r.Value, StringComparison.Ordinal) == r.Equal);

    // the Event field label "source" is source.component (k8s.io/kubernetes pkg/apis/core/v1 conversion: EventToSelectableFields)
    private static string[] Path(string field) => field == "source" ? ["source", "component"] : field.Split('.');
}
