using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.KubeApi.DataPlane;

/// <summary>
/// How the simulated dataplane (Dataplane V2 / Cilium on GKE) enforces NetworkPolicy ingress on a pod:
/// the pod is isolated once any policy of its namespace selects it for Ingress; an isolated pod accepts a
/// TCP connection when one selecting policy has an ingress rule whose peers include the source and whose
/// ports include the destination port (a named port is looked up in the pod's containers).
/// </summary>
internal static class NetworkPolicies
{
    private sealed record Source(string? Ip, string? Namespace, IReadOnlyDictionary<string, string>? NamespaceLabels, IReadOnlyDictionary<string, string>? PodLabels);

    /// <summary>A connection from an address outside the pod network (a proxy subnet, a health checker).</summary>
    public static bool AdmitsFromAddress(IEnumerable<JsonObject> policies, string sourceIp, JsonObject pod, int port) =>
        Admits(policies, new Source(sourceIp, null, null, null), pod, port);

    /// <summary>A connection from another pod.</summary>
    public static bool AdmitsFromPod(IEnumerable<JsonObject> policies, Func<string, IReadOnlyDictionary<string, string>?> namespaceLabels,
        string sourceNamespace, IReadOnlyDictionary<string, string> sourceLabels, JsonObject pod, int port)
    {
        var nsLabels = new Dictionary<string, string>(namespaceLabels(sourceNamespace) ?? new Dictionary<string, string>(), StringComparer.Ordinal)
        {
            ["kubernetes.io/metadata.name"] = sourceNamespace, // set on every namespace by the apiserver
        };
        return Admits(policies, new Source(null, sourceNamespace, nsLabels, sourceLabels), pod, port);
    }

    private static bool Admits(IEnumerable<JsonObject> policies, Source from, JsonObject pod, int port)
    {
        var ns = pod.Namespace();
        var podLabels = pod.Labels();
        var isolating = policies.Where(p => p.Namespace() == ns && ForIngress(p) && Selects(p.At("spec", "podSelector"), podLabels)).ToList();
        return isolating.Count == 0 || isolating.Any(p =>
            (p.Arr("spec", "ingress") ?? []).OfType<JsonObject>().Any(rule => PeersInclude(rule["from"], p.Namespace()!, from) && PortsInclude(rule["ports"], pod, port)));
    }

    /// <summary>policyTypes names Ingress, or is absent (then every policy governs ingress).</summary>
    private static bool ForIngress(JsonObject policy) =>
        policy.Arr("spec", "policyTypes") is not { Count: > 0 } types || types.Any(t => t?.ToString() == "Ingress");

    /// <summary>A metav1.LabelSelector where absent means everything (a NetworkPolicy's podSelector, a peer's selectors).</summary>
    private static bool Selects(JsonNode? selector, IReadOnlyDictionary<string, string> labels) =>
        selector is null || LabelSelector.FromObject(selector).Matches(labels);

    private static bool PeersInclude(JsonNode? peers, string policyNamespace, Source from)
    {
        if (peers is not JsonArray { Count: > 0 } list) return true; // no "from": all sources
        foreach (var peer in list.OfType<JsonObject>())
        {
            if (peer["ipBlock"] is JsonObject block)
            {
                // ipBlock speaks of addresses outside the cluster; pod traffic never matches it.
                if (from.Ip is not null && block.Str("cidr") is { } cidr && Contains(cidr, from.Ip)
                    && !(block.Arr("except") ?? []).Any(x => x?.ToString() is { } ex && Contains(ex, from.Ip)))
                    return true;
                continue;
            }
            if (from.Namespace is null) continue; // selectors only ever match pods
            var nsMatch = peer["namespaceSelector"] is { } nsSel ? Selects(nsSel, from.NamespaceLabels!) : from.Namespace == policyNamespace;
            if (nsMatch && Selects(peer["podSelector"], from.PodLabels!)) return true;
        }
        return false;
    }

    private static bool PortsInclude(JsonNode? ports, JsonObject pod, int port)
    {
        if (ports is not JsonArray { Count: > 0 } list) return true; // no "ports": every port
        foreach (var p in list.OfType<JsonObject>())
        {
            if ((p.Str("protocol") ?? "TCP") != "TCP") continue;
            var wanted = p["port"];
            if (wanted is null) return true;
            var text = wanted.ToString();
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
            {
                var end = p.Long("endPort") ?? number;
                if (port >= number && port <= end) return true;
            }
            else if (NamedPort(pod, text) == port) return true;
        }
        return false;
    }

    private static int? NamedPort(JsonObject pod, string name) =>
        (pod.Arr("spec", "containers") ?? []).SelectMany(c => c.Arr("ports") ?? [])
            .Where(p => p.Str("name") == name && (p.Str("protocol") ?? "TCP") == "TCP")
            .Select(p => (int?)p.Long("containerPort")).FirstOrDefault();

    private static bool Contains(string cidr, string ip)
    {
        var slash = cidr.IndexOf('/');
        if (!IPAddress.TryParse(slash < 0 ? cidr : cidr[..slash], out var network) || !IPAddress.TryParse(ip, out var address)) return false;
        var net = network.GetAddressBytes();
        var addr = address.GetAddressBytes();
        if (net.Length != addr.Length) return false;
        var prefix = slash < 0 ? net.Length * 8 : int.TryParse(cidr.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : -1;
        if (prefix < 0 || prefix > net.Length * 8) return false;
        for (var bit = 0; bit < prefix; bit++)
        {
            var mask = 0x80 >> (bit % 8);
            if ((net[bit / 8] & mask) != (addr[bit / 8] & mask)) return false;
        }
        return true;
    }
}
