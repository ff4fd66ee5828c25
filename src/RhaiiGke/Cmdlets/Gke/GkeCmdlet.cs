using System.Collections;
using System.Management.Automation;
using System.Security;
using RhaiiGke.Engine.Gke;

namespace RhaiiGke.Cmdlets.Gke;

/// <summary>
/// Base of the cmdlets that call Google Cloud: project, credentials (access token, key file or ADC) and
/// endpoint overrides. Opens one <see cref="GkeSession"/> per invocation.
/// </summary>
public abstract class GkeCmdlet : RhaiiCmdlet
{
    private GkeSession? _session;

    /// <summary>Google Cloud project id.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    public string? Project { get; set; }

    /// <summary>An OAuth access token (e.g. from gcloud auth print-access-token), as a SecureString.</summary>
    [Parameter]
    public SecureString? AccessToken { get; set; }

    /// <summary>A service-account key file (JSON).</summary>
    [Parameter]
    [Alias("KeyFile")]
    public string? CredentialFile { get; set; }

    /// <summary>GKE API base URL (default https://container.googleapis.com/, env RHAII_GKE_ENDPOINT).</summary>
    [Parameter]
    public string? Endpoint { get; set; }

    /// <summary>Compute Engine API base URL (default https://compute.googleapis.com/compute/v1/, env RHAII_COMPUTE_ENDPOINT).</summary>
    [Parameter]
    public string? ComputeEndpoint { get; set; }

    /// <summary>Turns TLS certificate validation off for the Google API endpoints. Never the default.</summary>
    [Parameter]
    public SwitchParameter SkipCertificateCheck { get; set; }

    /// <summary>The session for this invocation (opened on first use).</summary>
    protected GkeSession Session => _session ??= OpenSession();

    /// <summary>Connection options from the common parameters (resolve on the pipeline thread: paths use the PowerShell location).</summary>
    protected GkeConnectionOptions ConnectionOptions() => new()
    {
        Project = string.IsNullOrWhiteSpace(Project) ? null : Project,
        // A GKE sandbox (Start-RhaiiSandbox -Gke) in this session answers with its own token when no credential is given.
        AccessToken = AccessToken ?? (CredentialFile is null ? Sandbox.SandboxRegistry.GkeTokenFor(Endpoint) : null),
        CredentialFile = CredentialFile is null ? null : GetUnresolvedProviderPathFromPSPath(CredentialFile),
        ContainerEndpoint = Endpoint,
        ComputeEndpoint = ComputeEndpoint,
        SkipCertificateCheck = SkipCertificateCheck,
    };

    /// <summary>A new session from the common parameters, optionally adjusted; the caller disposes it.</summary>
    protected GkeSession OpenSession(Action<GkeConnectionOptions>? adjust = null)
    {
        var options = ConnectionOptions();
        adjust?.Invoke(options);
        return GkeSession.Open(options, this);
    }

    /// <summary>
    /// ShouldProcess as the Engine's delegate. Read it on the pipeline thread; Engine code may call it from
    /// any thread: the question is marshalled to the pipeline thread and answered synchronously.
    /// </summary>
    protected GkeShouldProcess ShouldProcessDelegate
    {
        get
        {
            var context = SynchronizationContext.Current;
            var pipelineThread = Environment.CurrentManagedThreadId;
            return (target, action) =>
            {
                if (context is null || Environment.CurrentManagedThreadId == pipelineThread) return ShouldProcess(target, action);
                var answer = false;
                Exception? error = null;
                context.Send(_ =>
                {
                    try { answer = ShouldProcess(target, action); }
                    catch (Exception ex) { error = ex; }
                }, null);
                if (error is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
                return answer;
            };
        }
    }

    protected static Dictionary<string, string> ToDictionary(Hashtable? table)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        if (table is null) return d;
        foreach (DictionaryEntry e in table) d[e.Key.ToString()!] = e.Value?.ToString() ?? "";
        return d;
    }

    protected override Task EndProcessingAsync(CancellationToken cancellationToken)
    {
        _session?.Dispose();
        _session = null;
        return Task.CompletedTask;
    }
}
