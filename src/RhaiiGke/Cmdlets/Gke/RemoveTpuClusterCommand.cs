using System.Management.Automation;
using RhaiiGke.Engine.Gke;

namespace RhaiiGke.Cmdlets.Gke;

/// <summary>Deletes a GKE cluster and its node pools; refuses while Gateways exist unless -Force.</summary>
[Cmdlet(VerbsCommon.Remove, "TpuCluster", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(GkeOperation))]
public sealed class RemoveTpuClusterCommand : GkeCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Location")]
    [ValidateNotNullOrEmpty]
    public string Zone { get; set; } = "";

    /// <summary>Delete the Gateways and LoadBalancer Services first, then the cluster, without asking for confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    [Parameter]
    public SwitchParameter NoWait { get; set; }

    /// <summary>Write the delete operation.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        var project = Session.RequireProject(Project);
        GkeShouldProcess ask = ShouldProcessDelegate;
        if (Force && !MyInvocation.BoundParameters.ContainsKey("Confirm"))
        {
            // -Force skips the confirmation prompt but still honours -WhatIf.
            var whatIf = MyInvocation.BoundParameters.TryGetValue("WhatIf", out var w) && ((SwitchParameter)w).IsPresent;
            ask = whatIf ? ask : (_, _) => true;
        }
        var op = await new TpuClusterService(Session).RemoveAsync(project, Zone, Name, Force, ask, NoWait, cancellationToken);
        if (op is not null && (PassThru || NoWait)) WriteObject(op);
    }
}
