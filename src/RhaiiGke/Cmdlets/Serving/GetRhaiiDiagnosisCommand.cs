using System.Management.Automation;
using RhaiiGke.Engine.Serving.Diagnosis;

namespace RhaiiGke.Cmdlets.Serving;

/// <summary>Finds the runbooks' known failure modes in cluster state and says how to fix each.</summary>
[Cmdlet(VerbsCommon.Get, "RhaiiDiagnosis", DefaultParameterSetName = ClusterSet)]
[OutputType(typeof(DiagnosisFinding))]
public sealed class GetRhaiiDiagnosisCommand : SnapshotCommandBase
{
    /// <summary>Only these checks.</summary>
    [Parameter]
    [ArgumentCompleter(typeof(CheckIdCompleter))]
    public string[]? CheckId { get; set; }

    /// <summary>Lowest severity to report (default Information: everything).</summary>
    [Parameter]
    public FindingSeverity MinimumSeverity { get; set; } = FindingSeverity.Information;

    protected override void Evaluate(ClusterSnapshot snapshot)
    {
        foreach (var f in Diagnoser.Run(snapshot, CheckId).Where(f => f.Severity >= MinimumSeverity)) WriteObject(f);
    }
}

/// <summary>Completes diagnosis check ids.</summary>
public sealed class CheckIdCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        System.Management.Automation.Language.CommandAst commandAst, System.Collections.IDictionary fakeBoundParameters) =>
        Completers.CompletionHelper.Complete(Diagnoser.CheckIds, wordToComplete);
}
