using System.Management.Automation;
using RhaiiGke.Cmdlets.Platform;
using RhaiiGke.Engine.Serving;
using RhaiiGke.Validation;

namespace RhaiiGke.Cmdlets.Serving;

/// <summary>
/// Takes models off a shared, model-routed URL (New-InferenceModelRoute), or removes the whole route. With -ServiceName the
/// route, its /v1/models list and its body forwarding are regenerated for the remaining services and the updated route is
/// written; without it (or when no service would remain) the HTTPRoute, the model list and the body forwarding are deleted
/// and nothing is written. The LLMInferenceServices themselves and the gateway's body-based router stay. Idempotent.
/// </summary>
[Cmdlet(VerbsCommon.Remove, "InferenceModelRoute", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(InferenceModelRoute))]
public sealed class RemoveInferenceModelRouteCommand : RhaiiCmdlet
{
    /// <summary>The route's name (binds from an InferenceModelRoute's Name).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    /// <summary>The namespace of the route and its services (binds from an InferenceModelRoute's Namespace).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = "rhaii-inference";

    /// <summary>Only take these LLMInferenceServices' models off the route; the others keep the shared URL.</summary>
    [Parameter(Position = 1)]
    [ValidateNotNullOrEmpty]
    public string[]? ServiceName { get; set; }

    /// <summary>The cluster; defaults to the session's (Connect-RhaiiCluster, Start-RhaiiSandbox).</summary>
    [Parameter]
    [Alias("Connection")]
    public ClusterConnection? Cluster { get; set; }

    [Parameter]
    [ValidateTimeout]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(5);

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        var connection = ClusterSession.Resolve(Cluster);
        var what = ServiceName is { Length: > 0 } names
            ? $"Take {string.Join(", ", names)} off the shared URL (the route and its /v1/models list keep the other models; none left removes the route)"
            : $"Remove the model route (HTTPRoute {Name}-model-route, the /v1/models list {Name}-models and its body forwarding)";
        var dryRun = !ShouldProcess($"{Namespace}/{Name} on {connection.Name}", what);
        var options = new KubeApplyOptions { DryRun = dryRun, Timeout = Timeout };
        ClusterSession.TuneForSandbox(connection, options);
        var (route, deleted) = await ModelRouteDeployer.RemoveAsync(connection, Name, Namespace, ServiceName is { Length: > 0 } ? ServiceName : null, options, this, cancellationToken);
        if (route is null && deleted > 0) WriteVerbose($"{(dryRun ? "Would remove" : "Removed")} model route {Namespace}/{Name} ({deleted} objects).");
        if (route is not null) WriteObject(route);
    }
}
