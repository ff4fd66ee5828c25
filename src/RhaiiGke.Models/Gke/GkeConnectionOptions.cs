using System.Security;

namespace RhaiiGke;

/// <summary>
/// Where and as whom RhaiiGke talks to Google Cloud. Credentials, in order: <see cref="AccessToken"/>,
/// <see cref="CredentialFile"/> (a service-account key), then Application Default Credentials
/// (GOOGLE_APPLICATION_CREDENTIALS, gcloud's application_default_credentials.json, the metadata server).
/// Endpoints default to the public Google APIs and can be overridden by parameter or environment variable
/// (RHAII_GKE_ENDPOINT, RHAII_COMPUTE_ENDPOINT, RHAII_SERVICEUSAGE_ENDPOINT) for tests and sandboxes.
/// </summary>
public sealed class GkeConnectionOptions
{
    /// <summary>Google Cloud project id. Falls back to the cluster's, GOOGLE_CLOUD_PROJECT, CLOUDSDK_CORE_PROJECT, the gcloud configuration, then the credential's project.</summary>
    public string? Project { get; set; }

    /// <summary>An OAuth 2.0 access token (never written anywhere). Wins over every other credential.</summary>
    public SecureString? AccessToken { get; set; }

    /// <summary>Path of a service-account key file (JSON).</summary>
    public string? CredentialFile { get; set; }

    /// <summary>GKE API base URL, e.g. https://container.googleapis.com/ (env RHAII_GKE_ENDPOINT).</summary>
    public string? ContainerEndpoint { get; set; }

    /// <summary>Compute Engine API base URL, e.g. https://compute.googleapis.com/compute/v1/ (env RHAII_COMPUTE_ENDPOINT).</summary>
    public string? ComputeEndpoint { get; set; }

    /// <summary>Service Usage API base URL, e.g. https://serviceusage.googleapis.com/ (env RHAII_SERVICEUSAGE_ENDPOINT).</summary>
    public string? ServiceUsageEndpoint { get; set; }

    /// <summary>Turns TLS certificate validation off. Only for sandboxes with self-signed endpoints; never the default.</summary>
    public bool SkipCertificateCheck { get; set; }

    /// <summary>How often long-running operations are polled. Default 5 s, 0.1 s for loopback endpoints (env RHAII_GKE_POLL_INTERVAL, seconds).</summary>
    public TimeSpan? PollInterval { get; set; }

    /// <summary>How long to wait for one operation before giving up (the operation goes on in GKE). Default 60 min.</summary>
    public TimeSpan? OperationTimeout { get; set; }

    /// <summary>How long to keep retrying while another operation holds the cluster. Default 20 min.</summary>
    public TimeSpan? BusyRetryTimeout { get; set; }

    /// <summary>A description without secrets.</summary>
    public override string ToString() =>
        $"Project={Project ?? "(default)"}; Credential={(AccessToken is not null ? "access token" : CredentialFile is not null ? "key file" : "ADC")}; Endpoint={ContainerEndpoint ?? "(default)"}";
}
