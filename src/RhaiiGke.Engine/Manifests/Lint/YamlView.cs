using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace RhaiiGke.Engine.Manifests.Lint;

/// <summary>
/// A read-only view of a YAML node that knows its field path inside the Kubernetes object
/// (<c>spec.template.containers[0].args</c>) and its position in the file. Internal: YamlDotNet
/// types never cross the Engine boundary.
/// </summary>
internal sealed class YamlView
{
    private readonly Mark? _keyStart;

    private YamlView(YamlNode node, string path, Mark? keyStart = null)
    {
        Node = node;
        Path = path;
        _keyStart = keyStart;
    }

    public static YamlView Root(YamlNode node) => new(node, "");

    public YamlNode Node { get; }

    /// <summary>Field path from the object root; empty for the root itself.</summary>
    public string Path { get; }

    /// <summary>
    /// Where a finding about this node points: a mapping or sequence under a key points at its key
    /// (<c>args:</c>, not the first item); scalars and sequence items point at themselves.
    /// </summary>
    private Mark Anchor => _keyStart is { } k && Node is not YamlScalarNode ? k : Node.Start;

    public int Line => (int)Math.Min(int.MaxValue, Anchor.Line);

    public int Column => (int)Math.Min(int.MaxValue, Anchor.Column);

    public bool IsMapping => Node is YamlMappingNode;

    public bool IsSequence => Node is YamlSequenceNode;

    public bool IsScalar => Node is YamlScalarNode;

    /// <summary>A YAML null (<c>~</c>, <c>null</c> or an empty plain scalar).</summary>
    public bool IsNull => Node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any } s &&
                          (s.Value is null or "" or "~" or "null" or "Null" or "NULL");

    /// <summary>The scalar's text, or null for mappings, sequences and YAML nulls.</summary>
    public string? Scalar => IsNull ? null : (Node as YamlScalarNode)?.Value;

    /// <summary>The child of a mapping, or null when absent (or when this is not a mapping).</summary>
    public YamlView? this[string key]
    {
        get
        {
            if (Node is not YamlMappingNode m) return null;
            foreach (var (k, v) in m.Children)
                if (k is YamlScalarNode ks && string.Equals(ks.Value, key, StringComparison.Ordinal))
                    return new YamlView(v, Append(Path, key), k.Start);
            return null;
        }
    }

    /// <summary>Follows a dotted chain of mapping keys (keys themselves must not contain dots).</summary>
    public YamlView? Get(string dottedPath)
    {
        var cur = this;
        foreach (var part in dottedPath.Split('.'))
        {
            cur = cur[part];
            if (cur is null) return null;
        }
        return cur;
    }

    /// <summary>The scalar text of a child, or null.</summary>
    public string? Str(string key) => this[key]?.Scalar;

    /// <summary>Items of a sequence (empty when this is not a sequence).</summary>
    public IEnumerable<YamlView> Items
    {
        get
        {
            if (Node is not YamlSequenceNode s) yield break;
            var i = 0;
            foreach (var item in s.Children)
                yield return new YamlView(item, $"{Path}[{i++}]");
        }
    }

    /// <summary>Key/value pairs of a mapping with scalar keys (empty when this is not a mapping).</summary>
    public IEnumerable<(string Key, YamlView Value)> Entries
    {
        get
        {
            if (Node is not YamlMappingNode m) yield break;
            foreach (var (k, v) in m.Children)
                if (k is YamlScalarNode { Value: { } key })
                    yield return (key, new YamlView(v, Append(Path, key), k.Start));
        }
    }

    /// <summary>The scalar as an integer when it is one (quoted or not).</summary>
    public int? Int => int.TryParse(Scalar?.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : null;

    /// <summary>Builds <c>a.b</c>, or <c>a['cloud.google.com/x']</c> for keys that are not simple identifiers.</summary>
    public static string Append(string path, string key)
    {
        var simple = key.Length > 0 && key.All(c => char.IsLetterOrDigit(c) || c is '_' or '-');
        if (!simple) return $"{path}['{key.Replace("'", "\\'")}']";
        return path.Length == 0 ? key : $"{path}.{key}";
    }

    public override string ToString() => $"{Path} (line {Line})";
}
