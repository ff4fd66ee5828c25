using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace RhaiiGke.Engine.Manifests;

/// <summary>
/// Bounds on YAML that every reader in the client applies while the parser's event stream goes by,
/// before anything recursive (YamlDotNet's representation model, the JSON conversion, the kubeconfig
/// deserializer) sees a node:
/// <list type="bullet">
/// <item>nesting depth at most <see cref="MaxDepth"/> (a 50,000-deep file would otherwise overflow the
/// stack, which no catch can handle);</item>
/// <item>alias expansion: the size of the documents with every alias replaced by what it stands for at
/// most <see cref="ExpansionMultiple"/> times the text's size, and never less than
/// <see cref="MinExpansionBudget"/> (a "billion laughs" file of a few hundred bytes would otherwise
/// expand to gigabytes). Kubernetes' own decoder (go-yaml) refuses such files the same way
/// ("document contains excessive aliasing").</item>
/// </list>
/// Both are counted in O(1) per event: the expanded size of an anchored node is remembered when it closes.
/// </summary>
public static class YamlLimits
{
    /// <summary>Deepest nesting of mappings and sequences accepted. Real manifests (CRDs included) stay well under 100.</summary>
    public const int MaxDepth = 512;

    /// <summary>Alias expansion may grow a document to this many times the size of its text.</summary>
    public const int ExpansionMultiple = 10;

    /// <summary>Expansion always allowed, whatever the text's size (4 MiB: above the API server's 3 MiB request limit).</summary>
    public const long MinExpansionBudget = 4L * 1024 * 1024;

    /// <summary>
    /// Reads the whole stream once and throws <see cref="RhaiiException"/> (<c>YamlNestingTooDeep</c> or
    /// <c>YamlAliasExpansionTooLarge</c>, LimitsExceeded) when it exceeds a bound. Syntax errors surface
    /// as the parser's <see cref="YamlException"/>, as they would from loading.
    /// </summary>
    public static void Check(string yaml, string? source = null)
    {
        var parser = Bound(new Parser(new StringReader(yaml)), yaml.Length, source);
        while (parser.MoveNext()) { }
    }

    /// <summary>Checks a file's text (see <see cref="Check(string, string?)"/>); syntax errors are left to the real reader.</summary>
    public static void CheckFile(string path)
    {
        var text = File.ReadAllText(path);
        try { Check(text, path); }
        catch (YamlException) { } // the caller's reader reports it in its own words
    }

    /// <summary>A parser that applies the bounds to the events it passes on; give it to YamlStream.Load.</summary>
    public static IParser Bound(IParser inner, long textLength, string? source) => new BoundedParser(inner, textLength, source);

    private sealed class BoundedParser(IParser inner, long textLength, string? source) : IParser
    {
        private readonly long _budget = Math.Max(MinExpansionBudget, textLength * ExpansionMultiple);
        private readonly Dictionary<string, long> _anchors = new(StringComparer.Ordinal);
        private readonly Stack<(string? Anchor, long Start)> _open = new();
        private long _expanded;

        public ParsingEvent? Current => inner.Current;

        public bool MoveNext()
        {
            if (!inner.MoveNext()) return false;
            switch (inner.Current)
            {
                case DocumentStart:
                    _anchors.Clear(); // anchors are scoped to their document
                    break;
                case MappingStart or SequenceStart:
                    var start = (NodeEvent)inner.Current;
                    if (_open.Count >= MaxDepth) throw TooDeep(start.Start);
                    _open.Push((start.Anchor.IsEmpty ? null : start.Anchor.Value, _expanded));
                    Add(2, start.Start);
                    break;
                case MappingEnd or SequenceEnd:
                    if (_open.Count > 0)
                    {
                        var (anchor, from) = _open.Pop();
                        if (anchor is not null) _anchors[anchor] = _expanded - from;
                    }
                    break;
                case Scalar s:
                    var size = 2L + s.Value.Length;
                    Add(size, s.Start);
                    if (!s.Anchor.IsEmpty) _anchors[s.Anchor.Value] = size;
                    break;
                case AnchorAlias a:
                    Add(_anchors.TryGetValue(a.Value.Value, out var n) ? n : 1, a.Start);
                    break;
            }
            return true;
        }

        private void Add(long size, Mark at)
        {
            _expanded += size;
            if (_expanded > _budget) throw TooLarge(at);
        }

        private string Name => source is null ? "The YAML text" : $"'{source}'";

        private RhaiiException TooDeep(Mark at) => new("YamlNestingTooDeep", RhaiiErrorCategory.LimitsExceeded,
            $"{Name} nests mappings and sequences deeper than {MaxDepth} levels (line {at.Line}, column {at.Column}); nothing was read from it.",
            "Kubernetes manifests and kubeconfig files nest a few dozen levels at most: check that this is the file you meant (a generated or hostile file?) and flatten it.",
            source ?? "<yaml>");

        private RhaiiException TooLarge(Mark at) => new("YamlAliasExpansionTooLarge", RhaiiErrorCategory.LimitsExceeded,
            $"{Name} uses YAML aliases that expand beyond {_budget:N0} bytes ({ExpansionMultiple} times its size, at least {MinExpansionBudget / (1024 * 1024)} MiB) by line {at.Line}, column {at.Column}: " +
            "nested anchors and aliases ('billion laughs') would exhaust memory; nothing was read from it. Kubernetes refuses such files too (\"document contains excessive aliasing\").",
            "Write out the content the aliases (*name) stand for, or remove the nested anchors (&name) that multiply each other.",
            source ?? "<yaml>");
    }
}
