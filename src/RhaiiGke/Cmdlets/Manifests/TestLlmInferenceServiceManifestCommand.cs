using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using RhaiiGke.Engine.Manifests.Lint;

namespace RhaiiGke.Cmdlets.Manifests;

/// <summary>
/// Lints LLMInferenceService manifests (and the pod specs of Deployments, LeaderWorkerSets and Pods)
/// for the mistakes that leave TPU workloads Pending, crash-looping or unreachable.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "LlmInferenceServiceManifest", DefaultParameterSetName = PathSet)]
[OutputType(typeof(ManifestFinding))]
[OutputType(typeof(TestManifestResult))]
[OutputType(typeof(bool))]
public sealed class TestLlmInferenceServiceManifestCommand : RhaiiCmdlet
{
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";
    private const string YamlSet = "Yaml";

    private readonly List<string> _files = [];
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private readonly List<ManifestSource> _texts = [];

    /// <summary>Files or folders; wildcards allowed; folders are searched recursively for *.yaml and *.yml.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    [SupportsWildcards]
    public string[] Path { get; set; } = [];

    /// <summary>Files or folders taken exactly as written (no wildcard expansion).</summary>
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet)]
    [Alias("LP")]
    public string[] LiteralPath { get; set; } = [];

    /// <summary>YAML text (one or more documents).</summary>
    [Parameter(Mandatory = true, ParameterSetName = YamlSet, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    public string Yaml { get; set; } = "";

    /// <summary>A name for the YAML text, reported as the findings' File (binds FileName from Export-RhaiiManifest output).</summary>
    [Parameter(ParameterSetName = YamlSet, ValueFromPipelineByPropertyName = true)]
    [Alias("FileName")]
    public string? SourceName { get; set; }

    /// <summary>Report only findings of these severities.</summary>
    [Parameter]
    public FindingSeverity[]? Severity { get; set; }

    /// <summary>Report only these rules (IDs such as RHAII101 or names such as TensorParallelMismatch; wildcards allowed).</summary>
    [Parameter]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(LintRuleCompleter))]
    public string[]? IncludeRule { get; set; }

    /// <summary>Do not report these rules (IDs or names; wildcards allowed).</summary>
    [Parameter]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(LintRuleCompleter))]
    public string[]? ExcludeRule { get; set; }

    /// <summary>Write one result per file (counts, findings, Passed) instead of the findings.</summary>
    [Parameter]
    public SwitchParameter Summary { get; set; }

    /// <summary>Write only $true when nothing is reported, else $false.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    protected override Task BeginProcessingAsync(CancellationToken cancellationToken)
    {
        if (Summary && Quiet)
            Fail("LintSummaryAndQuiet", RhaiiErrorCategory.InvalidArgument,
                "-Summary and -Quiet ask for different outputs.", "Use -Summary for one result per file, or -Quiet for a single $true/$false.");
        foreach (var pattern in (IncludeRule ?? []).Concat(ExcludeRule ?? []))
        {
            var p = new WildcardPattern(pattern, WildcardOptions.IgnoreCase);
            if (!ManifestLinter.Rules.Any(r => p.IsMatch(r.Id) || p.IsMatch(r.Name)))
                WriteWarning($"No lint rule matches '{pattern}'. Rule IDs are RHAII001 to {ManifestLinter.Rules[^1].Id}; see Get-Help Test-LlmInferenceServiceManifest -Full.");
        }
        return Task.CompletedTask;
    }

    protected override Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        switch (ParameterSetName)
        {
            case YamlSet:
                _texts.Add(new ManifestSource(SourceName, Yaml ?? ""));
                break;
            case LiteralPathSet:
                foreach (var p in LiteralPath) AddResolved(p, GetUnresolvedProviderPathFromPSPath(p));
                break;
            default:
                foreach (var p in Path) AddPath(p);
                break;
        }
        return Task.CompletedTask;
    }

    protected override Task EndProcessingAsync(CancellationToken cancellationToken)
    {
        var sources = new List<ManifestSource>();
        for (var i = 0; i < _files.Count; i++)
        {
            ReportProgress(3, "Test-LlmInferenceServiceManifest", $"Reading {_files[i]}", i * 100 / Math.Max(1, _files.Count));
            try
            {
                sources.Add(ManifestSource.FromFile(_files[i]));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                WriteError(new RhaiiException("ManifestReadFailed", RhaiiErrorCategory.ReadError,
                    $"Cannot read '{_files[i]}': {ex.Message}", "Check that the file exists and is readable.", _files[i], ex));
            }
        }
        if (_files.Count > 0) ReportProgress(3, "Test-LlmInferenceServiceManifest", "done", 100, completed: true);
        sources.AddRange(_texts);
        if (sources.Count == 0)
        {
            if (Quiet) WriteObject(true);
            return Task.CompletedTask;
        }

        var results = ManifestLinter.Lint(sources, cancellationToken);
        var include = Patterns(IncludeRule);
        var exclude = Patterns(ExcludeRule);
        var reported = new List<TestManifestResult>();
        foreach (var r in results)
        {
            if (r.ParseError is not null) WriteError(r.ParseError);
            var kept = r.Findings.Where(f => Keep(f, include, exclude)).ToArray();
            reported.Add(new TestManifestResult
            {
                File = r.File,
                ObjectCount = r.ObjectCount,
                CheckedObjectCount = r.CheckedObjectCount,
                ParseError = r.ParseError,
                Findings = kept,
            });
            if (r.CheckedObjectCount == 0 && r.ParseError is null)
                WriteVerbose($"{r.File ?? "YAML text"}: no LLMInferenceService or workload objects to check ({r.ObjectCount} object(s)).");
        }

        var all = reported.SelectMany(r => r.Findings).ToList();
        WriteVerbose($"Checked {reported.Sum(r => r.CheckedObjectCount)} of {reported.Sum(r => r.ObjectCount)} object(s) in {reported.Count} source(s): " +
                     $"{all.Count(f => f.Severity == FindingSeverity.Error)} error(s), {all.Count(f => f.Severity == FindingSeverity.Warning)} warning(s), " +
                     $"{all.Count(f => f.Severity == FindingSeverity.Information)} information finding(s) reported.");

        if (Quiet) WriteObject(all.Count == 0 && reported.All(r => r.ParseError is null));
        else if (Summary) foreach (var r in reported) WriteObject(r);
        else foreach (var f in all) WriteObject(f);
        return Task.CompletedTask;
    }

    private void AddPath(string path)
    {
        if (WildcardPattern.ContainsWildcardCharacters(path))
        {
            // A real file named with brackets wins over wildcard expansion.
            var literal = GetUnresolvedProviderPathFromPSPath(path);
            if (File.Exists(literal) || Directory.Exists(literal))
            {
                AddResolved(path, literal);
                return;
            }
        }

        System.Collections.ObjectModel.Collection<string> resolved;
        ProviderInfo provider;
        try
        {
            resolved = GetResolvedProviderPathFromPSPath(path, out provider);
        }
        catch (Exception ex) when (ex is ItemNotFoundException or System.Management.Automation.DriveNotFoundException)
        {
            throw ManifestLinter.PathNotFound(path);
        }
        if (provider.Name != "FileSystem")
            throw new RhaiiException("ManifestPathNotFileSystem", RhaiiErrorCategory.InvalidArgument,
                $"'{path}' is on the {provider.Name} provider; manifests must be files.", "Give a file system path, or pass YAML text with -Yaml.", path);
        if (resolved.Count == 0) throw ManifestLinter.PathNotFound(path);
        foreach (var r in resolved) AddResolved(path, r);
    }

    private void AddResolved(string given, string full)
    {
        if (Directory.Exists(full))
        {
            var files = ManifestLinter.YamlFilesUnder(full);
            if (files.Count == 0) WriteWarning($"No *.yaml or *.yml files under '{full}'.");
            foreach (var f in files) AddFile(f);
        }
        else if (File.Exists(full)) AddFile(full);
        else throw ManifestLinter.PathNotFound(given);
    }

    private void AddFile(string file)
    {
        if (_seen.Add(file)) _files.Add(file);
    }

    private static WildcardPattern[]? Patterns(string[]? values) =>
        values is { Length: > 0 } ? values.Select(v => new WildcardPattern(v, WildcardOptions.IgnoreCase)).ToArray() : null;

    private bool Keep(ManifestFinding f, WildcardPattern[]? include, WildcardPattern[]? exclude)
    {
        if (Severity is { Length: > 0 } sev && !sev.Contains(f.Severity)) return false;
        bool Matches(WildcardPattern[] ps) => ps.Any(p => p.IsMatch(f.RuleId) || p.IsMatch(f.RuleName));
        if (include is not null && !Matches(include)) return false;
        if (exclude is not null && Matches(exclude)) return false;
        return true;
    }
}

/// <summary>Completes rule IDs (with the rule name and description as tooltip) for -IncludeRule and -ExcludeRule.</summary>
public sealed class LintRuleCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var word = wordToComplete.Trim('\'', '"');
        foreach (var r in ManifestLinter.Rules)
            if (r.Id.StartsWith(word, StringComparison.OrdinalIgnoreCase) || r.Name.StartsWith(word, StringComparison.OrdinalIgnoreCase))
                yield return new CompletionResult(r.Id, $"{r.Id} {r.Name}", CompletionResultType.ParameterValue, $"{r.Name} ({r.Severity}): {r.Description}");
    }
}
