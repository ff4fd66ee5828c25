using System.Management.Automation;
using RhaiiGke.Cmdlets.Platform;
using RhaiiGke.Engine.Serving;
using RhaiiGke.Validation;

namespace RhaiiGke.Cmdlets.Serving;

/// <summary>
/// Puts several deployed LLMInferenceServices behind one OpenAI base URL that routes by the request body's model
/// (the Gateway API Inference Extension's body-based router and one HTTPRoute with a header match per model).
/// </summary>
[Cmdlet(VerbsCommon.New, "InferenceModelRoute", SupportsShouldProcess = true, DefaultParameterSetName = ObjectSet)]
[OutputType(typeof(InferenceModelRoute))]
public sealed class NewInferenceModelRouteCommand : RhaiiCmdlet
{
    private const string ObjectSet = "Object";
    private const string NameSet = "Name";
    private readonly List<LlmInferenceService> _services = [];

    /// <summary>The route's name: the shared URL is http://&lt;gateway&gt;/&lt;namespace&gt;/&lt;name&gt;/v1.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    /// <summary>The services (from Deploy-LlmInferenceService or Get-LlmInferenceService), one per model.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = ObjectSet)]
    public LlmInferenceService[] InputObject { get; set; } = [];

    /// <summary>Names of the LLMInferenceServices in -Namespace.</summary>
    [Parameter(Mandatory = true, ParameterSetName = NameSet)]
    [ValidateNotNullOrEmpty]
    public string[] ServiceName { get; set; } = [];

    [Parameter(ParameterSetName = NameSet)]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = "rhaii-inference";

    /// <summary>The cluster; defaults to the session's (Connect-RhaiiCluster, Start-RhaiiSandbox).</summary>
    [Parameter]
    [Alias("Connection")]
    public ClusterConnection? Cluster { get; set; }

    [Parameter]
    [ValidateTimeout]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(5);

    protected override Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        if (ParameterSetName == ObjectSet) _services.AddRange(InputObject.Where(s => s is not null));
        return Task.CompletedTask;
    }

    protected override async Task EndProcessingAsync(CancellationToken cancellationToken)
    {
        string ns;
        List<string> names;
        if (ParameterSetName == ObjectSet)
        {
            var namespaces = _services.Select(s => s.Namespace).Distinct(StringComparer.Ordinal).ToList();
            if (namespaces.Count > 1)
                Fail("ModelRouteNamespaceMismatch", RhaiiErrorCategory.InvalidArgument,
                    $"The services are in different namespaces ({string.Join(", ", namespaces)}); an HTTPRoute reaches backends of other namespaces only with ReferenceGrants.",
                    "Deploy every model of a shared URL in one namespace.", Name);
            ns = namespaces.FirstOrDefault() ?? Namespace;
            names = _services.Select(s => s.Name).ToList();
        }
        else
        {
            ns = Namespace;
            names = [.. ServiceName];
        }
        var connection = ClusterSession.Resolve(Cluster);
        var dryRun = !ShouldProcess($"{ns}/{Name} on {connection.Name}",
            $"Route {string.Join(", ", names)} by model through one URL (body-based router and HTTPRoute {Name}-model-route)");
        var options = new KubeApplyOptions { DryRun = dryRun, Timeout = Timeout };
        ClusterSession.TuneForSandbox(connection, options);
        var route = await ModelRouteDeployer.DeployAsync(connection, Name, ns, names, options, this, cancellationToken);
        ReportProgress(1, "New-InferenceModelRoute", "done", 100, completed: true);
        WriteObject(route);
    }
}
