using System.Management.Automation;
using RhaiiGke.Engine.Serving;
using RhaiiGke.Engine.Serving.Diagnosis;

namespace RhaiiGke.Cmdlets.Serving;

/// <summary>The runbooks' deployment verification as typed checks with an overall Passed.</summary>
[Cmdlet(VerbsDiagnostic.Test, "RhaiiDeployment", DefaultParameterSetName = ClusterSet)]
[OutputType(typeof(TestRhaiiDeploymentResult))]
public sealed class TestRhaiiDeploymentCommand : SnapshotCommandBase
{
    [Parameter]
    public string? Namespace { get; set; }

    [Parameter]
    public string? Name { get; set; }

    protected override void Evaluate(ClusterSnapshot snapshot)
    {
        foreach (var result in DeploymentVerifier.Verify(snapshot, Namespace, Name))
        {
            foreach (var c in result.Checks.Where(c => !c.Passed)) WriteVerbose($"{result.Namespace}/{result.Name}: {c}");
            WriteObject(result);
        }
    }
}
