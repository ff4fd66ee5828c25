using System.Management.Automation;
using RhaiiGke.Cmdlets.Platform;
using RhaiiGke.Engine.Serving;
using RhaiiGke.Validation;

namespace RhaiiGke.Cmdlets.Serving;

/// <summary>Creates (or converges) the inference Gateway and waits until it is programmed with an address.</summary>
[Cmdlet(VerbsCommon.New, "InferenceGateway", SupportsShouldProcess = true)]
[OutputType(typeof(InferenceGateway))]
public sealed class NewInferenceGatewayCommand : RhaiiCmdlet
{
    [Parameter(Position = 0)]
    public string Name { get; set; } = "inference-gateway";

    [Parameter]
    public string Namespace { get; set; } = "opendatahub";

    [Parameter]
    public InferenceGatewayClass GatewayClass { get; set; } = InferenceGatewayClass.Istio;

    /// <summary>Existing image pull secret (in -Namespace) the generated gateway ServiceAccount should use.</summary>
    [Parameter]
    public string? PullSecretName { get; set; }

    /// <summary>The cluster; defaults to the session's (Connect-RhaiiCluster, Start-RhaiiSandbox).</summary>
    [Parameter(ValueFromPipeline = true)]
    [Alias("Connection")]
    public ClusterConnection? Cluster { get; set; }

    [Parameter]
    [ValidateTimeout]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(10);

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        var connection = ClusterSession.Resolve(Cluster);
        var dryRun = !ShouldProcess($"{Namespace}/{Name} on {connection.Name}", $"Create or update the {GatewayClass} inference Gateway");
        var options = new KubeApplyOptions { DryRun = dryRun, Timeout = Timeout };
        ClusterSession.TuneForSandbox(connection, options);
        var gateway = await GatewayDeployer.DeployAsync(connection, Name, Namespace, GatewayClass, PullSecretName, options, this, cancellationToken);
        if (!dryRun && gateway.Address is null)
            WriteWarning($"Gateway {Namespace}/{Name} is programmed but has no address yet; GKE load balancers can take a few minutes.");
        WriteObject(gateway);
    }
}
