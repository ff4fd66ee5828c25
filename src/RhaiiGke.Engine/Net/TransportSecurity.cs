using System.Net;

namespace RhaiiGke.Engine.Net;

/// <summary>
/// Keeps credentials off plain-text networks: a bearer token, API key or password is sent over http only
/// to a loopback address (127.0.0.0/8, ::1, localhost) unless the user opts in with
/// -AllowUnencryptedAuthentication (as Invoke-RestMethod names it). Checked before anything is sent.
/// </summary>
public static class TransportSecurity
{
    public const string RefusedErrorId = "UnencryptedAuthenticationRefused";

    /// <summary>127.0.0.0/8, ::1 (also IPv4-mapped), localhost and *.localhost.</summary>
    public static bool IsLoopback(string? host)
    {
        if (string.IsNullOrEmpty(host)) return false;
        var h = host.Trim('[', ']').TrimEnd('.');
        if (h.Equals("localhost", StringComparison.OrdinalIgnoreCase) || h.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)) return true;
        if (!IPAddress.TryParse(h, out var ip)) return false;
        if (ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
        return IPAddress.IsLoopback(ip);
    }

    /// <summary>Whether credentials sent to <paramref name="uri"/> (connecting to <paramref name="connectHost"/>, when an in-process override serves it) travel unencrypted off this machine.</summary>
    public static bool IsExposed(Uri uri, string? connectHost = null) =>
        !uri.Scheme.Equals("https", StringComparison.OrdinalIgnoreCase) && !IsLoopback(connectHost ?? uri.Host);

    /// <summary>
    /// Throws <c>UnencryptedAuthenticationRefused</c> (SecurityError) when <paramref name="credential"/> would
    /// go to <paramref name="uri"/> over plain http off this machine and the user has not opted in.
    /// </summary>
    public static void EnsureAllowed(Uri uri, string credential, bool allowUnencrypted, string? connectHost = null)
    {
        if (allowUnencrypted || !IsExposed(uri, connectHost)) return;
        var where = $"{uri.Scheme}://{uri.Authority}";
        throw new RhaiiException(RefusedErrorId, RhaiiErrorCategory.SecurityError,
            $"Refusing to send {credential} to {where} over plain http: anyone on the network path could read it. Nothing was sent.",
            $"Use the https:// address of {uri.Host}, or reach it through a tunnel on localhost (kubectl port-forward, ssh -L); " +
            "if the network path is trusted, pass -AllowUnencryptedAuthentication.",
            where);
    }
}
