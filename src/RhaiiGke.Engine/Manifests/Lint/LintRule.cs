namespace RhaiiGke.Engine.Manifests.Lint;

/// <summary>What a lint rule checks: its stable ID, name, usual severity and a one-line description.</summary>
public sealed record LintRuleInfo(string Id, string Name, FindingSeverity Severity, string Description);

/// <summary>
/// One lint rule. A rule looks at whole objects (<see cref="CheckObject"/>) and/or at each pod spec
/// inside them (<see cref="CheckPod"/>) and reports findings through the context.
/// </summary>
internal abstract class LintRule
{
    /// <summary>Stable ID such as RHAII001; never reused for another meaning.</summary>
    public abstract string Id { get; }

    public abstract string Name { get; }

    /// <summary>The usual severity; a rule may report a finding at another severity when the case is milder or worse.</summary>
    public abstract FindingSeverity Severity { get; }

    public abstract string Description { get; }

    public LintRuleInfo Info => new(Id, Name, Severity, Description);

    public virtual void CheckObject(LintDocument doc, LintContext ctx) { }

    public virtual void CheckPod(PodView pod, LintContext ctx) { }

    /// <summary>Reports a finding at <paramref name="at"/>; <paramref name="path"/> overrides the field path (for missing fields).</summary>
    protected void Report(LintContext ctx, LintDocument doc, YamlView at, string message, string fix,
        FindingSeverity? severity = null, string? path = null) =>
        ctx.Add(doc, new ManifestFinding
        {
            RuleId = Id,
            RuleName = Name,
            Severity = severity ?? Severity,
            File = doc.File,
            Line = at.Line,
            Column = at.Column,
            Kind = doc.Kind,
            Namespace = doc.Namespace,
            Name = doc.Name,
            ObjectPath = path ?? at.Path,
            Message = message,
            Fix = fix,
        });
}

/// <summary>Everything one lint run sees (all files, for cross-object checks) and the findings so far.</summary>
internal sealed class LintContext
{
    private readonly List<(int Source, ManifestFinding Finding)> _findings = [];

    public LintContext(IReadOnlyList<LintDocument> documents) => Documents = documents;

    /// <summary>Every object of every source in the run.</summary>
    public IReadOnlyList<LintDocument> Documents { get; }

    public IEnumerable<ManifestFinding> Findings => _findings.Select(f => f.Finding);

    /// <summary>Findings of one source, in file order.</summary>
    public ManifestFinding[] FindingsOf(int sourceIndex) =>
        _findings.Where(f => f.Source == sourceIndex).Select(f => f.Finding)
            .OrderBy(f => f.Line).ThenBy(f => f.Column)
            .ThenBy(f => f.RuleId, StringComparer.Ordinal).ThenBy(f => f.ObjectPath, StringComparer.Ordinal)
            .ToArray();

    public void Add(LintDocument doc, ManifestFinding finding) => _findings.Add((doc.SourceIndex, finding));

    /// <summary>Finds an object by kind and name; a namespace of null on either side matches any.</summary>
    public LintDocument? FindObject(string kind, string name, string? ns) =>
        Documents.FirstOrDefault(d => d.Kind == kind && d.Name == name &&
                                      (ns is null || d.Namespace is null || d.Namespace == ns));
}
