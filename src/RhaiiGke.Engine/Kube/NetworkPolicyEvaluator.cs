using System.Globalization;
using System.Text.Json.Nodes;

namespace RhaiiGke.Engine.Kube;

/// <summary>The answer of <see cref="NetworkPolicyEvaluator.EvaluateIngress"/>.</summary>
/// <param name="Allowed">True when the connection is admitted (no policy isolates the destination, or one admits it).</param>
/// <param name="Selecting">Ingress policies in the destination namespace whose podSelector selects the destination pod (they isolate it).</param>
/// <param name="Allowing">The selecting policies that have a rule admitting this source and port.</param>
public sealed record NetworkPolicyVerdict(bool Allowed, IReadOnlyList<JsonObject> Selecting, IReadOnlyList<JsonObject> Allowing);

/// <summary>
/// Kubernetes NetworkPolicy ingress semantics as a pure function over policy objects (networking.k8s.io/v1
/// JSON): a pod is isolated for ingress when a policy in its namespace with policyType Ingress selects it;
/// an isolated pod admits a connection when any selecting policy has a rule whose <c>from</c> peers match
/// the source (namespaceSelector and podSelector together; no namespaceSelector = the policy's namespace;
/// empty or missing <c>from</c> = everyone; ipBlock peers do not match pod-to-pod traffic) and whose
/// <c>ports</c> include the port (none = all ports; named ports http/https are taken to mean the serving port).
/// Used by the diagnosis checks and the simulated gateway data plane.
/// </summary>
public static class NetworkPolicyEvaluator
{
    /// <summary>Evaluates a TCP connection from a source pod to <paramref name="port"/> on a destination pod.</summary>
    /// <param name="policies">NetworkPolicies (any namespaces; only the destination's count).</param>
    /// <param name="namespaceLabels">Labels of a namespace by name (kubernetes.io/metadata.name is added).</param>
    public static NetworkPolicyVerdict EvaluateIngress(
        IEnumerable<JsonObject> policies, Func<string, IReadOnlyDictionary<string, string>?> namespaceLabels,
        string sourceNamespace, IReadOnlyDictionary<string, string> sourceLabels,
        string destinationNamespace, IReadOnlyDictionary<string, string> destinationLabels, int port)
    {
        var selecting = policies.Where(p => Namespace(p) == destinationNamespace && AppliesToIngress(p) && SelectorMatches(p["spec"]?["podSelector"], destinationLabels)).ToList();
        if (selecting.Count == 0) return new NetworkPolicyVerdict(true, selecting, []);
        var srcNsLabels = NamespaceLabels(namespaceLabels, sourceNamespace);
        var allowing = selecting.Where(p => Items(p["spec"]?["ingress"]).OfType<JsonObject>().Any(rule =>
            PeerAllows(rule["from"], destinationNamespace, sourceNamespace, srcNsLabels, sourceLabels) && PortAllows(rule["ports"], port))).ToList();
        return new NetworkPolicyVerdict(allowing.Count > 0, selecting, allowing);
    }

    /// <summary>
    /// Evaluates a TCP connection from an address outside the pod network (a load balancer's proxy in the
    /// proxy-only subnet, Google's health checkers in 35.191.0.0/16 and 130.211.0.0/22) to a pod: only
    /// ipBlock peers (cidr, minus except) and rules without <c>from</c> admit it; pod and namespace selectors never match.
    /// </summary>
    public static NetworkPolicyVerdict EvaluateIngressFromIp(
        IEnumerable<JsonObject> policies, string sourceIp, string destinationNamespace, IReadOnlyDictionary<string, string> destinationLabels, int port)
    {
        var selecting = policies.Where(p => Namespace(p) == destinationNamespace && AppliesToIngress(p) && SelectorMatches(p["spec"]?["podSelector"], destinationLabels)).ToList();
        if (selecting.Count == 0) return new NetworkPolicyVerdict(true, selecting, []);
        var allowing = selecting.Where(p => Items(p["spec"]?["ingress"]).OfType<JsonObject>().Any(rule =>
            IpPeerAllows(rule["from"], sourceIp) && PortAllows(rule["ports"], port))).ToList();
        return new NetworkPolicyVerdict(allowing.Count > 0, selecting, allowing);
    }

    private static bool IpPeerAllows(JsonNode? from, string ip)
    {
        if (from is not JsonArray peers || peers.Count == 0) return true;
        foreach (var p in peers.OfType<JsonObject>())
        {
            if (p["ipBlock"] is not JsonObject block || Str(block, "cidr") is not { } cidr) continue;
            if (InCidr(ip, cidr) && !Items(block["except"]).Any(e => e?.ToString() is { } ex && InCidr(ip, ex))) return true;
        }
        return false;
    }

    /// <summary>True when the IPv4 address lies in the CIDR block (false for anything unparsable).</summary>
    public static bool InCidr(string ip, string cidr)
    {
        var slash = cidr.IndexOf('/');
        if (!System.Net.IPAddress.TryParse(ip, out var a) || !System.Net.IPAddress.TryParse(slash < 0 ? cidr : cidr[..slash], out var n)) return false;
        var bits = slash < 0 ? 32 : int.TryParse(cidr[(slash + 1)..], NumberStyles.Integer, CultureInfo.InvariantCulture, out var b) ? b : -1;
        var ab = a.GetAddressBytes();
        var nb = n.GetAddressBytes();
        if (ab.Length != nb.Length || bits < 0 || bits > ab.Length * 8) return false;
        for (var i = 0; i < ab.Length && bits > 0; i++, bits -= 8)
        {
            var mask = bits >= 8 ? 0xFF : (byte)(0xFF << (8 - bits));
            if ((ab[i] & mask) != (nb[i] & mask)) return false;
        }
        return true;
    }

    /// <summary>True when the policy has policyTypes Ingress, or no policyTypes (Ingress is then implied).</summary>
    public static bool AppliesToIngress(JsonObject policy)
    {
        var types = Items(policy["spec"]?["policyTypes"]).Select(t => t?.ToString()).ToList();
        return types.Count == 0 || types.Contains("Ingress");
    }

    /// <summary>A LabelSelector (matchLabels and matchExpressions) against labels; a missing selector matches everything.</summary>
    public static bool SelectorMatches(JsonNode? selector, IReadOnlyDictionary<string, string> labels)
    {
        if (selector is null) return true;
        if (selector["matchLabels"] is JsonObject ml)
            foreach (var (k, v) in ml)
                if (!labels.TryGetValue(k, out var have) || have != (v is JsonValue jv ? jv.ToString() : null)) return false;
        foreach (var e in Items(selector["matchExpressions"]).OfType<JsonObject>())
        {
            var key = Str(e, "key") ?? "";
            var values = Items(e["values"]).Select(v => v?.ToString()).ToList();
            var has = labels.TryGetValue(key, out var val);
            var ok = Str(e, "operator") switch
            {
                "In" => has && values.Contains(val),
                "NotIn" => !has || !values.Contains(val),
                "Exists" => has,
                "DoesNotExist" => !has,
                _ => false,
            };
            if (!ok) return false;
        }
        return true;
    }

    private static Dictionary<string, string> NamespaceLabels(Func<string, IReadOnlyDictionary<string, string>?> lookup, string ns)
    {
        var labels = lookup(ns) is { } l ? new Dictionary<string, string>(l, StringComparer.Ordinal) : new Dictionary<string, string>(StringComparer.Ordinal);
        labels["kubernetes.io/metadata.name"] = ns;
        return labels;
    }

    private static bool PeerAllows(JsonNode? from, string policyNs, string srcNs, IReadOnlyDictionary<string, string> srcNsLabels, IReadOnlyDictionary<string, string> srcPodLabels)
    {
        if (from is not JsonArray peers || peers.Count == 0) return true; // empty from: everyone
        foreach (var p in peers.OfType<JsonObject>())
        {
            if (p["ipBlock"] is not null) continue; // pod-to-pod traffic is not matched by ipBlock rules
            var nsSel = p["namespaceSelector"];
            var podSel = p["podSelector"];
            var nsOk = nsSel is null ? srcNs == policyNs : SelectorMatches(nsSel, srcNsLabels);
            if (nsOk && SelectorMatches(podSel, srcPodLabels)) return true;
        }
        return false;
    }

    private static bool PortAllows(JsonNode? ports, int port)
    {
        if (ports is not JsonArray arr || arr.Count == 0) return true;
        var text = port.ToString(CultureInfo.InvariantCulture);
        return arr.OfType<JsonObject>().Any(p =>
            (Str(p, "protocol") ?? "TCP") == "TCP" &&
            (p["port"] is null || p["port"]!.ToString() == text || p["port"]!.ToString() is "https" or "http" ||
             p["endPort"] is not null && int.TryParse(p["port"]!.ToString(), out var lo) && int.TryParse(p["endPort"]!.ToString(), out var hi) && port >= lo && port <= hi));
    }

    private static JsonArray Items(JsonNode? n) => n as JsonArray ?? [];

    private static string? Str(JsonNode? o, string key) => o?[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static string? Namespace(JsonObject o) => Str(o["metadata"], "namespace");
}
