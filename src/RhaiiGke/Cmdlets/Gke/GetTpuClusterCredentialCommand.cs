using System.Management.Automation;
using RhaiiGke.Engine.Gke;
using RhaiiGke.Engine.Kube;

namespace RhaiiGke.Cmdlets.Gke;

/// <summary>
/// Gets what kubectl and Kubernetes clients need to reach a cluster. Plugin mode writes the context into a kubeconfig
/// (-Path, else the first $KUBECONFIG file, else ~/.kube/config), as gcloud container clusters get-credentials does, and
/// outputs its KubeconfigPath and ContextName, which Connect-RhaiiCluster takes from the pipeline.
/// </summary>
[Cmdlet(VerbsCommon.Get, "TpuClusterCredential", DefaultParameterSetName = NameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
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

    /// <summary>kubeconfig file to create or update; default: the first $KUBECONFIG file, else ~/.kube/config.</summary>
    [Parameter]
    public string? Path { get; set; }

    /// <summary>Do not switch the kubeconfig's current-context to this cluster.</summary>
    [Parameter]
    public SwitchParameter KeepCurrentContext { get; set; }

    /// <summary>The plugin uses Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud auth application-default login) instead of gcloud's account.</summary>
    [Parameter]
    public SwitchParameter UseApplicationDefaultCredentials { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        if (AuthMode == ClusterAuthMode.Token && UseApplicationDefaultCredentials)
            Fail("ParameterConflict", RhaiiErrorCategory.InvalidArgument, "-UseApplicationDefaultCredentials configures gke-gcloud-auth-plugin; -AuthMode Token uses no plugin.",
                "Drop one of them: -AuthMode Token for a token in memory, or -UseApplicationDefaultCredentials for a kubeconfig context whose plugin uses ADC.");
        var service = new TpuClusterService(Session);
        var cluster = InputCluster;
        if (cluster is null || cluster.Status != "RUNNING" || string.IsNullOrEmpty(cluster.Endpoint))
        {
            var (project, zone, name) = cluster is null ? (Session.RequireProject(Project), Zone, Name) : (cluster.Project, cluster.Location, cluster.Name);
            cluster = await service.GetAsync(project, zone, name, cancellationToken)
                ?? throw new GkeApiException("GkeNotFound", RhaiiErrorCategory.ObjectNotFound, $"Cluster {project}/{zone}/{name} does not exist.", "Get-TpuCluster lists clusters.", name);
        }
        string? path = null;
        KubeconfigExec? exec = null;
        if (AuthMode == ClusterAuthMode.GcloudAuthPlugin)
        {
            // like gcloud container clusters get-credentials: -Path, else the first $KUBECONFIG file, else ~/.kube/config
            path = Path is not null ? GetUnresolvedProviderPathFromPSPath(Path) : ClusterConnector.KubeconfigFiles(null)[0];
            exec = PluginOptions();
            if (!ShouldProcess(path, $"Write kubeconfig context {cluster.ContextName}{(KeepCurrentContext ? "" : " and make it the current context")}")) path = null;
            if (ClusterConnector.FindExecPlugin(Engine.Gke.Kubeconfig.PluginCommand) is null)
                WriteWarning($"{Engine.Gke.Kubeconfig.PluginCommand} is not on PATH: kubectl and Connect-RhaiiCluster cannot use context {cluster.ContextName} until it is installed "
                    + "(google-cloud-cli-gke-gcloud-auth-plugin, or 'gcloud components install gke-gcloud-auth-plugin'). -AuthMode Token gives an access token in memory instead.");
        }
        else if (Path is not null) path = GetUnresolvedProviderPathFromPSPath(Path);   // refused by the service with TokenKubeconfigRefused
        WriteObject(await service.GetCredentialAsync(cluster, AuthMode, path, !KeepCurrentContext, cancellationToken, exec));
    }

    /// <summary>
    /// The plugin's arguments and environment: --use_application_default_credentials when asked; on a GKE sandbox of this session,
    /// gcloud's auth/access_token_file pointed at the sandbox's token file, so the real plugin and gcloud answer with a token the
    /// simulated clusters accept, with no gcloud account (a real project uses the user's gcloud login instead).
    /// </summary>
    private KubeconfigExec? PluginOptions()
    {
        var args = UseApplicationDefaultCredentials ? new[] { KubeconfigExec.UseApplicationDefaultCredentials } : null;
        Dictionary<string, string>? env = null;
        if (AccessToken is null && CredentialFile is null && Sandbox.SandboxRegistry.GkeSandboxFor(Endpoint)?.GcloudAccessTokenFile is { } tokenFile && !UseApplicationDefaultCredentials)
            env = new() { ["CLOUDSDK_AUTH_ACCESS_TOKEN_FILE"] = tokenFile };
        return args is null && env is null ? null : new KubeconfigExec(args, env);
    }
}
