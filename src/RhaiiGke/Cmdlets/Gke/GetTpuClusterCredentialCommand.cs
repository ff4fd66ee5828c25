using System.Management.Automation;
using RhaiiGke.Engine.Gke;

namespace RhaiiGke.Cmdlets.Gke;

/// <summary>Gets what kubectl and Kubernetes clients need to reach a cluster; optionally writes a kubeconfig.</summary>
[Cmdlet(VerbsCommon.Get, "TpuClusterCredential", DefaultParameterSetName = NameSet)]
[OutputType(typeof(TpuClusterCredential))]
public sealed class GetTpuClusterCredentialCommand : GkeCmdlet
{
    private const string NameSet = "Name";
    private const string ClusterSet = "Cluster";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = NameSet)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    [Parameter(Mandatory = true, ParameterSetName = NameSet)]
    [Alias("Location")]
    public string Zone { get; set; } = "";

    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = ClusterSet)]
    public TpuCluster? InputCluster { get; set; }

    [Parameter]
    public ClusterAuthMode AuthMode { get; set; } = ClusterAuthMode.GcloudAuthPlugin;

    /// <summary>kubeconfig file to create or update (e.g. ~/.kube/config).</summary>
    [Parameter]
    public string? Path { get; set; }

    /// <summary>With -Path: do not switch current-context to this cluster.</summary>
    [Parameter]
    public SwitchParameter KeepCurrentContext { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        var service = new TpuClusterService(Session);
        var cluster = InputCluster;
        if (cluster is null || cluster.Status != "RUNNING" || string.IsNullOrEmpty(cluster.Endpoint))
        {
            var (project, zone, name) = cluster is null ? (Session.RequireProject(Project), Zone, Name) : (cluster.Project, cluster.Location, cluster.Name);
            cluster = await service.GetAsync(project, zone, name, cancellationToken)
                ?? throw new GkeApiException("GkeNotFound", RhaiiErrorCategory.ObjectNotFound, $"Cluster {project}/{zone}/{name} does not exist.", "Get-TpuCluster lists clusters.", name);
        }
        var path = Path is null ? null : GetUnresolvedProviderPathFromPSPath(Path);
        WriteObject(await service.GetCredentialAsync(cluster, AuthMode, path, !KeepCurrentContext, cancellationToken));
    }
}
