using System.Security;

namespace RhaiiGke;

/// <summary>How a <see cref="ClusterConnection"/> authenticates.</summary>
public enum ClusterAuthKind
{
    /// <summary>Whatever the kubeconfig user entry says (token, client certificate, exec plugin such as gke-gcloud-auth-plugin).</summary>
    Kubeconfig,
    /// <summary>A bearer token held as a SecureString.</summary>
    Token,
    /// <summary>No credentials (anonymous; servers that require authentication answer 401).</summary>
    None,
}

/// <summary>
/// A Kubernetes API server RhaiiGke talks to (<c>Connect-RhaiiCluster</c>, <c>Start-RhaiiSandbox</c>).
/// Cluster commands take it from the pipeline, from -Cluster, or use the session default. It never
/// exposes its token.
/// </summary>
public sealed class ClusterConnection
{
    /// <summary>Context name, or the endpoint's host when connected by endpoint.</summary>
    public string Name { get; init; } = "";
    /// <summary>API server URL.</summary>
    public string Server { get; init; } = "";
    /// <summary>kubeconfig file(s) the connection came from, when it did.</summary>
    public string? KubeconfigPath { get; init; }
    /// <summary>kubeconfig context, when connected from a kubeconfig.</summary>
    public string? Context { get; init; }
    /// <summary>Default namespace for namespaced operations.</summary>
    public string Namespace { get; init; } = "default";
    public ClusterAuthKind AuthKind { get; init; }
    /// <summary>Bearer token (Token auth only). A SecureString: it never prints.</summary>
    public SecureString? Token { get; init; }
    /// <summary>Base64 PEM of the CA that signs the server certificate, when given explicitly.</summary>
    public string? CertificateAuthorityData { get; init; }
    public bool SkipTlsVerify { get; init; }
    /// <summary>The user opted in (-AllowUnencryptedAuthentication) to sending credentials over plain http to a non-loopback server.</summary>
    public bool AllowUnencryptedAuthentication { get; init; }
    /// <summary>gitVersion reported by /version when the connection was checked.</summary>
    public string? ServerVersion { get; init; }
    /// <summary>True when the server is a RhaiiGke sandbox (Start-RhaiiSandbox).</summary>
    public bool IsSandbox { get; init; }
    public DateTimeOffset ConnectedAt { get; init; } = DateTimeOffset.UtcNow;

    public override string ToString() => $"{Name} ({Server})";
}
