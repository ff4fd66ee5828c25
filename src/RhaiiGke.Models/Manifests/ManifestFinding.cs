namespace RhaiiGke;

/// <summary>How bad a lint finding is. Numeric order is severity order (Error is highest).</summary>
public enum FindingSeverity
{
    /// <summary>The manifest will fail: rejected, Pending forever, crash-looping or unreachable.</summary>
    Error = 2,
    /// <summary>Likely wrong or fragile: works only by luck, wastes chips, or misleads.</summary>
    Warning = 1,
    /// <summary>Worth knowing; nothing to fix.</summary>
    Information = 0,
}

/// <summary>
/// One problem that Test-LlmInferenceServiceManifest found in a manifest: which rule, where (file,
/// line, object, field path), what is wrong and how to fix it.
/// </summary>
public sealed class ManifestFinding
{
    /// <summary>Stable rule identifier such as <c>RHAII001</c>; safe to switch on in scripts.</summary>
    public string RuleId { get; init; } = "";

    /// <summary>Short rule name such as <c>TpuAcceleratorLabelUnknown</c>.</summary>
    public string RuleName { get; init; } = "";

    public FindingSeverity Severity { get; init; }

    /// <summary>Full path of the linted file; null when the YAML came from text.</summary>
    public string? File { get; init; }

    /// <summary>1-based line of the offending node (or of its parent when something is missing).</summary>
    public int Line { get; init; }

    /// <summary>1-based column of the offending node.</summary>
    public int Column { get; init; }

    /// <summary>Kind of the Kubernetes object, e.g. LLMInferenceService.</summary>
    public string Kind { get; init; } = "";

    public string? Namespace { get; init; }

    public string? Name { get; init; }

    /// <summary>Field path inside the object, e.g. <c>spec.template.containers[0].args</c>.</summary>
    public string ObjectPath { get; init; } = "";

    public string Message { get; init; } = "";

    /// <summary>The concrete change that resolves the finding.</summary>
    public string Fix { get; init; } = "";

    /// <summary>File name and line, e.g. <c>llmisvc.yaml:42</c> (or <c>&lt;yaml&gt;:42</c> for text input).</summary>
    public string Location => $"{(File is null ? "<yaml>" : System.IO.Path.GetFileName(File))}:{Line}";

    /// <summary>Kind/name of the object, e.g. <c>LLMInferenceService/qwen</c>.</summary>
    public string Object => string.IsNullOrEmpty(Name) ? Kind : $"{Kind}/{Name}";

    public override string ToString() => $"{Location}: {RuleId} {Severity}: {Message}";
}

/// <summary>The lint verdict for one file (or one YAML text): counts, findings and a pass/fail.</summary>
public sealed class TestManifestResult
{
    /// <summary>Full path of the file; null for YAML text.</summary>
    public string? File { get; init; }

    /// <summary>Kubernetes objects in the file (items of a List count one each).</summary>
    public int ObjectCount { get; init; }

    /// <summary>Objects the rules apply to: LLMInferenceService(Config), Deployments, LeaderWorkerSets, Pods and similar.</summary>
    public int CheckedObjectCount { get; init; }

    /// <summary>The findings, in file order.</summary>
    public RhaiiList<ManifestFinding> Findings { get; init; } = [];

    /// <summary>Set when the YAML could not be parsed; then there are no findings.</summary>
    public RhaiiException? ParseError { get; init; }

    public int ErrorCount => Findings.Count(f => f.Severity == FindingSeverity.Error);

    public int WarningCount => Findings.Count(f => f.Severity == FindingSeverity.Warning);

    public int InformationCount => Findings.Count(f => f.Severity == FindingSeverity.Information);

    /// <summary>True when the YAML parsed and no finding is an Error (warnings do not fail a file).</summary>
    public bool Passed => ParseError is null && ErrorCount == 0;

    public override string ToString() =>
        $"{File ?? "<yaml>"}: {(Passed ? "passed" : "failed")} ({ErrorCount} error(s), {WarningCount} warning(s))";
}
