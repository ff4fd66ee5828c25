using System.Net;
using System.Security;
using Google.Apis.Auth.OAuth2;
using Google.Apis.Auth.OAuth2.Responses;

namespace RhaiiGke.Engine.Gke;

/// <summary>Where bearer tokens for Google APIs come from. Implementations never log or expose the token.</summary>
internal interface IAccessTokenSource
{
    /// <summary>What kind of credential this is, for messages: "access token", "service-account key sa@p.iam...", "ADC".</summary>
    string Description { get; }
    /// <summary>The project the credential belongs to, when it says.</summary>
    string? ProjectId { get; }
    Task<string> GetTokenAsync(CancellationToken cancellationToken);
}

internal static class GkeAuth
{
    public const string CloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform";

    /// <summary>Builds the token source without making a network call (tokens are fetched on first use).</summary>
    public static IAccessTokenSource Create(GkeConnectionOptions options)
    {
        if (options.AccessToken is { Length: > 0 } token) return new StaticTokenSource(token);
        if (!string.IsNullOrWhiteSpace(options.CredentialFile)) return FromKeyFile(options.CredentialFile);
        return new ApplicationDefaultTokenSource();
    }

    private static IAccessTokenSource FromKeyFile(string path)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
            throw new RhaiiException("CredentialFileNotFound", RhaiiErrorCategory.ObjectNotFound,
                $"The credential file '{full}' does not exist.", "Pass the path of a service-account key (JSON) with -CredentialFile.", path);
        ServiceAccountCredential sa;
        try
        {
            sa = CredentialFactory.FromFile<ServiceAccountCredential>(full);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or Newtonsoft.Json.JsonException or FormatException)
        {
            // The message names the problem (wrong type, bad JSON) but never echoes the key.
            throw new RhaiiException("InvalidCredentialFile", RhaiiErrorCategory.InvalidData,
                $"'{full}' is not a usable service-account key: {ex.GetType().Name}.",
                "Create a key with 'gcloud iam service-accounts keys create' or use Application Default Credentials.", path);
        }
        var credential = sa.ToGoogleCredential().CreateScoped(CloudPlatformScope);
        return new GoogleCredentialTokenSource(credential, $"service-account key {sa.Id}", sa.ProjectId);
    }

    /// <summary>Maps token-endpoint failures to typed errors without including any secret.</summary>
    internal static RhaiiException TokenFailure(Exception ex, string description) => ex switch
    {
        TokenResponseException tre => new GkeApiException("GkeAuthenticationFailed", RhaiiErrorCategory.AuthenticationError,
            $"Could not get an access token from the {description}: {tre.Error?.Error ?? "error"} {tre.Error?.ErrorDescription}".TrimEnd(),
            "Check that the credential is valid and not disabled; for ADC run 'gcloud auth application-default login'.", description, ex)
        { HttpStatus = (int?)tre.StatusCode ?? 0 },
        HttpRequestException hre => new GkeApiException("GkeAuthenticationFailed", RhaiiErrorCategory.ConnectionError,
            $"Could not reach the token endpoint for the {description}: {hre.Message}",
            "Check network access to oauth2.googleapis.com (or the key's token_uri).", description, ex) { Retryable = true },
        _ => new GkeApiException("GkeAuthenticationFailed", RhaiiErrorCategory.AuthenticationError,
            $"Could not get an access token from the {description}: {ex.GetType().Name}: {ex.Message}",
            "Check the credential.", description, ex),
    };

    private sealed class StaticTokenSource(SecureString token) : IAccessTokenSource
    {
        public string Description => "access token";
        public string? ProjectId => null;
        public Task<string> GetTokenAsync(CancellationToken cancellationToken) =>
            Task.FromResult(new NetworkCredential(string.Empty, token).Password);
    }

    private sealed class GoogleCredentialTokenSource(GoogleCredential credential, string description, string? projectId) : IAccessTokenSource
    {
        public string Description => description;
        public string? ProjectId => projectId;

        public async Task<string> GetTokenAsync(CancellationToken cancellationToken)
        {
            try
            {
                return await ((ITokenAccess)credential).GetAccessTokenForRequestAsync(null, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested) { throw; }
            catch (Exception ex) { throw TokenFailure(ex, description); }
        }
    }

    /// <summary>Application Default Credentials, loaded on first use.</summary>
    private sealed class ApplicationDefaultTokenSource : IAccessTokenSource
    {
        private readonly SemaphoreSlim _gate = new(1, 1);
        private GoogleCredential? _credential;
        private string? _projectId;

        public string Description => "Application Default Credentials";

        public string? ProjectId
        {
            get
            {
                if (_projectId is not null) return _projectId;
                // Read the project from the ADC file without building a credential (no network).
                var path = Environment.GetEnvironmentVariable("GOOGLE_APPLICATION_CREDENTIALS");
                if (string.IsNullOrEmpty(path) || !File.Exists(path)) return null;
                try
                {
                    using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
                    var root = doc.RootElement;
                    foreach (var key in new[] { "project_id", "quota_project_id" })
                        if (root.TryGetProperty(key, out var v) && v.ValueKind == System.Text.Json.JsonValueKind.String) return _projectId = v.GetString();
                }
                catch (Exception) { }
                return null;
            }
        }

        public async Task<string> GetTokenAsync(CancellationToken cancellationToken)
        {
            var credential = await LoadAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                return await ((ITokenAccess)credential).GetAccessTokenForRequestAsync(null, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested) { throw; }
            catch (Exception ex) { throw TokenFailure(ex, Description); }
        }

        private async Task<GoogleCredential> LoadAsync(CancellationToken cancellationToken)
        {
            if (_credential is not null) return _credential;
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (_credential is not null) return _credential;
                GoogleCredential adc;
                try
                {
                    adc = await GoogleCredential.GetApplicationDefaultAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested) { throw; }
                catch (Exception ex)
                {
                    throw new GkeApiException("GkeCredentialsNotFound", RhaiiErrorCategory.AuthenticationError,
                        "No Google credentials: Application Default Credentials were not found (GOOGLE_APPLICATION_CREDENTIALS, gcloud's application_default_credentials.json, the metadata server). "
                        + ex.Message.Split('\n')[0],
                        "Run 'gcloud auth application-default login', set GOOGLE_APPLICATION_CREDENTIALS to a key file, or pass -CredentialFile or -AccessToken.",
                        null, ex);
                }
                if (adc.UnderlyingCredential is ServiceAccountCredential sa && sa.ProjectId is { Length: > 0 } p) _projectId ??= p;
                return _credential = adc.IsCreateScopedRequired ? adc.CreateScoped(CloudPlatformScope) : adc;
            }
            finally { _gate.Release(); }
        }
    }
}
