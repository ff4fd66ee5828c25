using System.Management.Automation;
using RhaiiGke.Engine.Serving;
using RhaiiGke.Engine.Serving.Diagnosis;

namespace RhaiiGke.Cmdlets.Serving;

/// <summary>The runbooks' deployment verification as typed checks with an overall Passed.</summary>
[Cmdlet(VerbsDiagnostic.Test, "RhaiiDeployment")]
[OutputType(typeof(TestRhaiiDeploymentResult))]
public sealed class TestRhaiiDeploymentCommand : RhaiiCmdlet
{
    private readonly List<string> _files = [];

    /// <summary>Files or folders of `kubectl get ... -o json|yaml` output.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    public string[] Path { get; set; } = [];

    [Parameter]
    public string? Namespace { get; set; }

    [Parameter]
    public string? Name { get; set; }

    protected override Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        foreach (var p in Path) _files.AddRange(SnapshotLoader.Expand(GetResolvedProviderPathFromPSPath(p, out _)));
        return Task.CompletedTask;
    }

    protected override Task EndProcessingAsync(CancellationToken cancellationToken)
    {
        foreach (var result in DeploymentVerifier.Verify(SnapshotLoader.FromFiles(_files), Namespace, Name))
        {
            foreach (var c in result.Checks.Where(c => !c.Passed)) WriteVerbose($"{result.Namespace}/{result.Name}: {c}");
            WriteObject(result);
        }
        return Task.CompletedTask;
    }
}
