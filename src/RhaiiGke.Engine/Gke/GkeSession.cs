namespace RhaiiGke.Engine.Gke;

/// <summary>
/// One authenticated connection to the Google APIs: endpoints, credentials (fetched lazily), HTTP and
/// timing settings. Cmdlets open one per invocation; nothing here mentions a third-party type.
/// </summary>
public sealed partial class GkeSession : IDisposable
{
    private readonly GkeConnectionOptions _options;

    private GkeSession(GkeConnectionOptions options, IRhaiiLog log, Func<string, string?>? environment)
    {
        _options = options;
        Log = log;
        Endpoints = GkeEndpoints.Resolve(options, environment);
        PollInterval = Endpoints.PollInterval(options, environment);
        OperationTimeout = options.OperationTimeout ?? TimeSpan.FromMinutes(60);
        BusyRetryTimeout = options.BusyRetryTimeout ?? (Endpoints.AllLoopback ? TimeSpan.FromSeconds(30) : TimeSpan.FromMinutes(20));
        var tokens = GkeAuth.Create(options);
        Transport = new GoogleApiTransport(tokens, log, options.SkipCertificateCheck,
            Endpoints.AllLoopback ? TimeSpan.FromMilliseconds(50) : TimeSpan.FromSeconds(2), BusyRetryTimeout);
        DefaultProject = ResolveDefaultProject(options, tokens, environment ?? Environment.GetEnvironmentVariable);
    }

    /// <summary>Opens a session; makes no network call.</summary>
    public static GkeSession Open(GkeConnectionOptions options, IRhaiiLog? log = null, Func<string, string?>? environment = null) =>
        new(options, log ?? NullRhaiiLog.Instance, environment);

    public GkeEndpoints Endpoints { get; }
    public IRhaiiLog Log { get; }
    public TimeSpan PollInterval { get; }
    public TimeSpan OperationTimeout { get; }
    public TimeSpan BusyRetryTimeout { get; }
    /// <summary>The project used when none is passed; null when nothing names one.</summary>
    public string? DefaultProject { get; }
    /// <summary>"access token", "service-account key ...", "Application Default Credentials".</summary>
    public string CredentialDescription => Transport.Tokens.Description;

    internal GoogleApiTransport Transport { get; }

    /// <summary>The explicit project, else the default, else a clear error.</summary>
    public string RequireProject(string? project = null)
    {
        var p = string.IsNullOrWhiteSpace(project) ? DefaultProject : project.Trim();
        return ValidateProjectId(p ?? throw new RhaiiException("GkeProjectRequired", RhaiiErrorCategory.InvalidArgument,
            "No Google Cloud project: pass -Project, or set GOOGLE_CLOUD_PROJECT, or 'gcloud config set project <id>'.",
            "Add -Project <project-id>."));
    }

    /// <summary>
    /// Returns <paramref name="project"/> when it is a Google Cloud project id: 6-30 lowercase letters, digits
    /// or hyphens, starting with a letter and not ending with a hyphen; or a legacy domain-scoped id
    /// (<c>example.com:my-project</c>). Otherwise throws <c>InvalidProjectId</c> before any request is made.
    /// </summary>
    public static string ValidateProjectId(string project)
    {
        if (ProjectIdPattern().IsMatch(project)) return project;
        throw new RhaiiException("InvalidProjectId", RhaiiErrorCategory.InvalidArgument,
            $"'{project}' is not a Google Cloud project id: ids are 6 to 30 lowercase letters, digits or hyphens, start with a letter and do not end with a hyphen (or are domain-scoped, as example.com:my-project). Nothing was sent.",
            "Pass the project ID (not its display name or number), e.g. -Project my-project-123; 'gcloud projects list' shows the IDs.", project);
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")]
    private static partial System.Text.RegularExpressions.Regex ProjectIdPattern();

    /// <summary>Obtains a token to prove the credential works; returns its expiry estimate. The token itself is not returned.</summary>
    public async Task VerifyCredentialsAsync(CancellationToken ct) => _ = await Transport.GetTokenAsync(ct).ConfigureAwait(false);

    /// <summary>For Get-TpuClusterCredential -AuthMode Token only: the bearer token as a SecureString.</summary>
    public async Task<System.Security.SecureString> GetAccessTokenAsync(CancellationToken ct)
    {
        var token = await Transport.GetTokenAsync(ct).ConfigureAwait(false);
        var secure = new System.Security.SecureString();
        foreach (var c in token) secure.AppendChar(c);
        secure.MakeReadOnly();
        return secure;
    }

    private static string? ResolveDefaultProject(GkeConnectionOptions options, IAccessTokenSource tokens, Func<string, string?> env)
    {
        if (!string.IsNullOrWhiteSpace(options.Project)) return options.Project.Trim();
        foreach (var v in new[] { "GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT", "GCLOUD_PROJECT" })
            if (env(v) is { Length: > 0 } p) return p;
        return GcloudConfigProject(env) ?? tokens.ProjectId;
    }

    /// <summary>The [core] project of gcloud's active configuration, read from its files.</summary>
    internal static string? GcloudConfigProject(Func<string, string?> env)
    {
        try
        {
            var dir = env("CLOUDSDK_CONFIG");
            if (string.IsNullOrEmpty(dir))
            {
                var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
                dir = OperatingSystem.IsWindows() ? Path.Combine(env("APPDATA") ?? home, "gcloud") : Path.Combine(home, ".config", "gcloud");
            }
            var active = env("CLOUDSDK_ACTIVE_CONFIG_NAME");
            if (string.IsNullOrEmpty(active))
            {
                var activeFile = Path.Combine(dir, "active_config");
                active = File.Exists(activeFile) ? File.ReadAllText(activeFile).Trim() : "default";
            }
            var config = Path.Combine(dir, "configurations", "config_" + active);
            if (!File.Exists(config)) return null;
            var section = "";
            foreach (var raw in File.ReadLines(config))
            {
                var line = raw.Trim();
                if (line.StartsWith('[') && line.EndsWith(']')) { section = line[1..^1].Trim(); continue; }
                var eq = line.IndexOf('=');
                if (section == "core" && eq > 0 && line[..eq].Trim() == "project") return line[(eq + 1)..].Trim() is { Length: > 0 } p ? p : null;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    public void Dispose() => Transport.Dispose();
}
