using System.Management.Automation;
using RhaiiGke.Engine.Serving;
using RhaiiGke.Engine.Serving.Diagnosis;
using RhaiiGke.Validation;

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

    /// <summary>Live mode: do not send /health, /v1/models and a completion through the gateway.</summary>
    [Parameter(ParameterSetName = ClusterSet)]
    public SwitchParameter SkipTraffic { get; set; }

    /// <summary>Longest wait for each request through the gateway (the first one after a start can wait for XLA compilation).</summary>
    [Parameter(ParameterSetName = ClusterSet)]
    [ValidateTimeout]
    public TimeSpan TrafficTimeout { get; set; } = TimeSpan.FromSeconds(30);

    protected override async Task EvaluateLiveAsync(ClusterSnapshot snapshot, ClusterConnection connection, CancellationToken cancellationToken)
    {
        foreach (var result in DeploymentVerifier.Verify(snapshot, Namespace, Name))
        {
            var output = result;
            var svc = snapshot.Get("LLMInferenceService", result.Namespace, result.Name);
            var url = ClusterSnapshot.Str(svc?["status"], "url");
            if (!SkipTraffic && url is not null && result.Checks.Any(c => c.Name == "GatewayAddress" && c.Passed))
            {
                WriteVerbose($"{result.Namespace}/{result.Name}: sending /health, /v1/models and one completion to {url}");
                var traffic = await GatewayProbe.ProbeAsync(url, ClusterSnapshot.Str(svc?["spec"]?["model"], "name"), TrafficTimeout, cancellationToken);
                output = new TestRhaiiDeploymentResult { Namespace = result.Namespace, Name = result.Name, Checks = result.Checks.Concat(traffic).ToArray() };
            }
            Write(output);
        }
    }

    private void Write(TestRhaiiDeploymentResult result)
    {
        foreach (var c in result.Checks.Where(c => !c.Passed)) WriteVerbose($"{result.Namespace}/{result.Name}: {c}");
        WriteObject(result);
    }

    protected override void Evaluate(ClusterSnapshot snapshot)
    {
        foreach (var result in DeploymentVerifier.Verify(snapshot, Namespace, Name)) Write(result);
    }
}
