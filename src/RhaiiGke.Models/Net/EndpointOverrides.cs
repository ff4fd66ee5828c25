using System.Collections.Concurrent;
using System.Globalization;

namespace RhaiiGke;

/// <summary>
/// Process-wide "connect here instead" table, like curl's <c>--resolve</c>: an address a cluster reports
/// (a Gateway's load-balancer IP and listener port, a pod IP and container port) mapped to a loopback
/// endpoint that serves it. Only in-process simulators register entries; against a real cluster the table
/// is empty and every address is used as given. The Host header and URLs stay the cluster's.
/// </summary>
public static class EndpointOverrides
{
    private static readonly ConcurrentDictionary<string, (string Host, int Port)> Map = new(StringComparer.OrdinalIgnoreCase);

    private static string Key(string host, int port) => host + ":" + port.ToString(CultureInfo.InvariantCulture);

    /// <summary>Routes connections for <paramref name="host"/>:<paramref name="port"/> to <paramref name="targetHost"/>:<paramref name="targetPort"/>.</summary>
    public static void Register(string host, int port, string targetHost, int targetPort) => Map[Key(host, port)] = (targetHost, targetPort);

    /// <summary>Removes an entry; only when it still points at <paramref name="targetPort"/> if one is given.</summary>
    public static void Unregister(string host, int port, int? targetPort = null)
    {
        var key = Key(host, port);
        if (targetPort is null) { Map.TryRemove(key, out _); return; }
        if (Map.TryGetValue(key, out var t) && t.Port == targetPort) Map.TryRemove(new KeyValuePair<string, (string, int)>(key, t));
    }

    /// <summary>The endpoint to connect to for host:port (itself when nothing is registered).</summary>
    public static (string Host, int Port) Resolve(string host, int port) =>
        !Map.IsEmpty && Map.TryGetValue(Key(host, port), out var t) ? t : (host, port);

    /// <summary>True when host:port is served by an in-process simulator.</summary>
    public static bool IsOverridden(string host, int port) => !Map.IsEmpty && Map.ContainsKey(Key(host, port));

    /// <summary>A snapshot of the table (for diagnostics and tests).</summary>
    public static IReadOnlyDictionary<string, string> Snapshot() =>
        Map.ToDictionary(kv => kv.Key, kv => Key(kv.Value.Host, kv.Value.Port), StringComparer.OrdinalIgnoreCase);
}
