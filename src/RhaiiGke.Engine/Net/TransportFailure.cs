using System.Net.Http;
using System.Net.Sockets;
using System.Security.Authentication;

namespace RhaiiGke.Engine.Net;

/// <summary>What went wrong below HTTP: the classes a user can act on differently.</summary>
public enum TransportFailureKind
{
    /// <summary>Nothing listens (connection refused), the host or network is unreachable, or the server went away mid-request (reset, closed).</summary>
    Unreachable,
    /// <summary>The host name does not resolve.</summary>
    NameResolution,
    /// <summary>The TLS handshake failed: certificate not trusted, expired, or issued for another host name.</summary>
    Tls,
    /// <summary>No answer in time.</summary>
    Timeout,
}

/// <summary>
/// Classifies transport exceptions (HttpRequestException, SocketException, AuthenticationException, IOException,
/// timeouts) into <see cref="TransportFailureKind"/>, and says which ones are worth retrying: a refused or reset
/// connection may be a restart and gets a short budget; a name that does not resolve or a certificate that is not
/// trusted never fixes itself by retrying.
/// </summary>
public static class TransportFailure
{
    /// <summary>The kind of transport failure <paramref name="e"/> is (looking through inner exceptions), or null when it is not one.</summary>
    public static TransportFailureKind? Classify(Exception? e)
    {
        TransportFailureKind? found = null;
        for (var x = e; x is not null; x = x.InnerException)
        {
            switch (x)
            {
                case AuthenticationException:
                    return TransportFailureKind.Tls;
                case HttpRequestException h:
                    switch (h.HttpRequestError)
                    {
                        case HttpRequestError.NameResolutionError: return TransportFailureKind.NameResolution;
                        case HttpRequestError.SecureConnectionError: found ??= TransportFailureKind.Tls; break;
                        case HttpRequestError.ConnectionError or HttpRequestError.ResponseEnded or HttpRequestError.ProxyTunnelError:
                            found ??= TransportFailureKind.Unreachable; break;
                        default: found ??= TransportFailureKind.Unreachable; break;
                    }
                    break;
                case SocketException s:
                    switch (s.SocketErrorCode)
                    {
                        case SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData or SocketError.NoRecovery:
                            return TransportFailureKind.NameResolution;
                        case SocketError.TimedOut:
                            return TransportFailureKind.Timeout;
                        default:
                            return TransportFailureKind.Unreachable;
                    }
                case TimeoutException:
                    return TransportFailureKind.Timeout;
                case TaskCanceledException when x.InnerException is TimeoutException:
                    return TransportFailureKind.Timeout;
                case IOException:
                    found ??= TransportFailureKind.Unreachable;
                    break;
            }
        }
        return found;
    }

    /// <summary>True for failures that retrying cannot fix (DNS, TLS).</summary>
    public static bool IsPermanent(Exception e) => Classify(e) is TransportFailureKind.NameResolution or TransportFailureKind.Tls;

    /// <summary>
    /// The failure as users see it: a stable ErrorId (<paramref name="prefix"/> + Unreachable, NameNotResolved,
    /// TlsFailed, Timeout; <paramref name="tlsErrorId"/> overrides the TLS one), the category and a fix. <paramref name="what"/> names the service ("the Kubernetes API").
    /// </summary>
    public static RhaiiException ToRhaii(TransportFailureKind kind, Exception inner, string prefix, string what, string endpoint, string? doing, string unreachableFix, object? target = null,
        string? tlsErrorId = null)
    {
        var subject = doing is { Length: > 0 } d ? d + ": " : "";
        var detail = Detail(inner);
        return kind switch
        {
            TransportFailureKind.NameResolution => new RhaiiException(prefix + "NameNotResolved", RhaiiErrorCategory.ConnectionError,
                $"{subject}the host name of {what} at {endpoint} does not resolve: {detail}",
                "Check the endpoint's host name and this machine's DNS (for GKE: the cluster endpoint in the kubeconfig, private endpoints need a VPN or peering).", target ?? endpoint, inner),
            TransportFailureKind.Tls => new RhaiiException(tlsErrorId ?? prefix + "TlsFailed", RhaiiErrorCategory.SecurityError,
                $"{subject}the TLS handshake with {what} at {endpoint} failed (certificate not trusted, expired, or issued for another host name): {detail}",
                "Give the server's CA (kubeconfig certificate-authority-data, Connect-RhaiiCluster -CertificateAuthority) or connect with the host name the certificate names; turn verification off only for a throwaway test cluster (-SkipTlsVerify).", target ?? endpoint, inner),
            TransportFailureKind.Timeout => new RhaiiException(prefix + "Timeout", RhaiiErrorCategory.OperationTimeout,
                $"{subject}{what} at {endpoint} did not answer in time: {detail}",
                "Check that the server is up and reachable (network, firewall, authorized networks); retry when it answers again.", target ?? endpoint, inner),
            _ => new RhaiiException(prefix + "Unreachable", RhaiiErrorCategory.ConnectionError,
                $"{subject}cannot reach {what} at {endpoint}: {detail}",
                unreachableFix, target ?? endpoint, inner),
        };
    }

    /// <summary>The innermost useful message (the socket's or the TLS stack's), without stack noise.</summary>
    public static string Detail(Exception e)
    {
        var parts = new List<string>();
        for (var x = e; x is not null; x = x.InnerException)
            if (!string.IsNullOrWhiteSpace(x.Message) && !parts.Any(p => p.Contains(x.Message, StringComparison.Ordinal))) parts.Add(x.Message.Trim());
        return parts.Count == 0 ? e.GetType().Name : string.Join(" ", parts.Take(3));
    }
}
