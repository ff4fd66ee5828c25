using System.Management.Automation;
using RhaiiGke.Engine.Serving.Diagnosis;

namespace RhaiiGke.Cmdlets.Serving;

/// <summary>Finds the runbooks' known failure modes in cluster state and says how to fix each.</summary>
[Cmdlet(VerbsCommon.Get, "RhaiiDiagnosis", DefaultParameterSetName = DumpSet)]
[OutputType(typeof(DiagnosisFinding))]
public sealed class GetRhaiiDiagnosisCommand : RhaiiCmdlet
{
    private const string DumpSet = "Dump";
    private readonly List<string> _files = [];

    /// <summary>Files or folders of `kubectl get ... -o json|yaml` output (a support bundle).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = DumpSet)]
    [Alias("FullName")]
    public string[] Path { get; set; } = [];

    /// <summary>Only these checks.</summary>
    [Parameter]
    [ArgumentCompleter(typeof(CheckIdCompleter))]
    public string[]? CheckId { get; set; }

    /// <summary>Lowest severity to report (default Information: everything).</summary>
    [Parameter]
    public FindingSeverity MinimumSeverity { get; set; } = FindingSeverity.Information;

    protected override Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        foreach (var p in Path) _files.AddRange(SnapshotLoader.Expand(GetResolvedProviderPathFromPSPath(p, out _)));
        return Task.CompletedTask;
    }

    protected override Task EndProcessingAsync(CancellationToken cancellationToken)
    {
        if (_files.Count == 0)
            Fail("ClusterDumpEmpty", RhaiiErrorCategory.ObjectNotFound, "No JSON or YAML files were found to diagnose.",
                "Point -Path at files or a folder written by kubectl get <kinds> -A -o json.");
        WriteVerbose($"Diagnosing {_files.Count} file(s).");
        var findings = SnapshotLoader.Diagnose(_files, CheckId);
        foreach (var f in findings.Where(f => f.Severity >= MinimumSeverity)) WriteObject(f);
        return Task.CompletedTask;
    }
}

/// <summary>Completes diagnosis check ids.</summary>
public sealed class CheckIdCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        System.Management.Automation.Language.CommandAst commandAst, System.Collections.IDictionary fakeBoundParameters) =>
        Completers.CompletionHelper.Complete(Diagnoser.CheckIds, wordToComplete);
}
