using System.Text.Json.Nodes;
using RhaiiGke.Sandbox.KubeApi.Controllers;

namespace RhaiiGke.Sandbox.KubeApi.DataPlane;

/// <summary>What the gateway does with one request.</summary>
internal abstract record RouteDecision;

/// <summary>Envoy answers itself (no route, no healthy upstream, invalid backend).</summary>
internal sealed record LocalReply(int Status, string Body, string Flag) : RouteDecision;

/// <summary>Proxy to a pod: <paramref name="Blocked"/> when a NetworkPolicy drops the connection (connect timeout).
/// <paramref name="Route"/> is Envoy's route name (<c>ns.httproute.ruleIndex</c>), <paramref name="Cluster"/> its upstream cluster.</summary>
internal sealed record Forward(string Pod, string PodIp, int Port, string Path, bool Blocked, PrefixPicker? Picker, string Route, string Cluster = "-") : RouteDecision;

/// <summary>No gateway pod is ready behind the load balancer: the connection is reset.</summary>
internal sealed record ResetConnection : RouteDecision;

/// <summary>
/// Decides, from the simulator's store, what an Istio gateway's Envoy does with a request: the HTTPRoutes
/// attached to the Gateway (parentRefs, with the istio controller's parent status Accepted), the most
/// specific path match (Exact before the longest PathPrefix), the URLRewrite filter, then the backend:
/// a Service's ready endpoints, or an InferencePool's ready pods (prefix-aware when the EPP Service has ready
/// endpoints, else the pool's failure mode), the InferencePool group Istio speaks (by version), and
/// NetworkPolicies between the gateway pod and the chosen pod when the cluster enforces them.
/// </summary>
internal sealed class GatewayRouter(SimCore core)
{
    public const string NoHealthyUpstream = "no healthy upstream";
    /// <summary>The body GKE's managed load balancers answer with for a path no HTTPRoute rule matches.</summary>
    public const string GkeNoRoute = "fault filter abort";
    public const string ConnectTimeout = "upstream connect error or disconnect/reset before headers. reset reason: connection timeout";
    private readonly Dictionary<string, PrefixPicker> _pickers = new(StringComparer.Ordinal);

    public RouteDecision Decide(string gatewayNs, string gatewayName, string pathAndQuery, string body)
    {
        lock (core.Gate)
        {
            var gw = core.Peek("gateway.networking.k8s.io", "gateways", gatewayNs, gatewayName);
            if (gw is null) return new ResetConnection();
            var gwClass = gw.Str("spec", "gatewayClassName");
            // a GKE gateway is a Google-managed load balancer: no gateway pods; its proxies connect from the
            // proxy-only subnet (regional) or Google's front ends (global), outside the pod network
            var gke = core.Options.GkeGatewayApi && GkeGateway.IsGkeClass(gwClass);
            IReadOnlyDictionary<string, string> gwLabels = new Dictionary<string, string>();
            if (!gke)
            {
                var gwPods = core.PeekAll("", "pods", gatewayNs)
                    .Where(p => p.Labels().GetValueOrDefault("gateway.networking.k8s.io/gateway-name") == gatewayName && Pods.Ready(p)).ToList();
                if (gwPods.Count == 0) return new ResetConnection();
                gwLabels = gwPods[0].Labels();
            }
            else if (!ConditionTrue(gw, "Programmed")) return new ResetConnection();

            var q = pathAndQuery.IndexOf('?');
            var path = q < 0 ? pathAndQuery : pathAndQuery[..q];
            var query = q < 0 ? "" : pathAndQuery[q..];

            // the best match over every attached, accepted route
            (JsonObject Route, JsonObject Rule, string Type, string Value)? best = null;
            foreach (var route in core.PeekAll("gateway.networking.k8s.io", "httproutes"))
            {
                if (!Attached(route, gatewayNs, gatewayName)) continue;
                foreach (var rule in (route.Arr("spec", "rules") ?? []).OfType<JsonObject>())
                {
                    var matches = rule.Arr("matches") is { Count: > 0 } m ? m.OfType<JsonObject>().ToList() : [new JsonObject()];
                    foreach (var match in matches)
                    {
                        var type = match.Str("path", "type") ?? "PathPrefix";
                        var value = match.Str("path", "value") ?? "/";
                        if (!PathMatches(type, value, path)) continue;
                        if (best is null || Better(type, value, best.Value.Type, best.Value.Value)) best = (route, rule, type, value);
                    }
                }
            }
            // GKE's URL map sends unmatched requests to a default that answers 404 "fault filter abort"
            if (best is not { } chosen) return gke ? new LocalReply(404, GkeNoRoute, "NR") : new LocalReply(404, "", "NR");
            var ruleIndex = (chosen.Route.Arr("spec", "rules") ?? []).IndexOf(chosen.Rule);
            var routeName = $"{chosen.Route.Namespace()}.{chosen.Route.Name()}.{ruleIndex}";

            var newPath = Rewrite(chosen.Rule, chosen.Type, chosen.Value, path) + query;
            var backends = (chosen.Rule.Arr("backendRefs") ?? []).OfType<JsonObject>().Where(b => (b.Long("weight") ?? 1) > 0).ToList();
            if (backends.Count == 0) return new LocalReply(500, "", "NR");
            var total = backends.Sum(b => b.Long("weight") ?? 1);
            var roll = Random.Shared.NextInt64(total);
            var backend = backends[0];
            foreach (var b in backends) { roll -= b.Long("weight") ?? 1; if (roll < 0) { backend = b; break; } }
            var kind = backend.Str("kind") ?? "Service";
            var group = backend.Str("group") ?? "";
            var bns = backend.Str("namespace") ?? chosen.Route.Namespace()!;
            var bname = backend.Str("name") ?? "";

            List<(JsonObject Pod, int Port)> candidates;
            PrefixPicker? picker = null;
            JsonObject? backendSvc = null;
            if (kind == "Service" && group is "" or "core")
            {
                var svc = core.Peek("", "services", bns, bname);
                if (svc is null) return new LocalReply(500, "", "UH"); // Istio: the route points at a backend that does not exist
                backendSvc = svc;
                candidates = ServiceEndpoints(svc, backend.Long("port"));
            }
            else if (kind == "InferencePool")
            {
                // GKE speaks only the v1 group; the global class never gets healthy pool backends
                if (gke && (group != GkeGateway.PoolGroup || core.Peek(group, "inferencepools", bns, bname) is null)) return new LocalReply(500, "", "NR");
                if (gke && gwClass == GkeGateway.GlobalExternal) return new LocalReply(503, NoHealthyUpstream, "UH");
                var spoken = gke ? GkeGateway.PoolGroup : GatewayController.SpokenPoolGroup(core);
                if ((spoken is not null && group != spoken) || core.Registry.All.All(t => !(t.Group == group && t.Plural == "inferencepools")))
                    return new LocalReply(500, "", "NR"); // Istio drops the unsupported backend and answers 500
                var pool = core.Peek(group, "inferencepools", bns, bname);
                if (pool is null) return new LocalReply(500, "", "NR");
                var selector = group == "inference.networking.x-k8s.io" ? pool.At("spec", "selector").StringMap() : pool.At("spec", "selector", "matchLabels").StringMap();
                var port = (int)(pool.Long("spec", "targetPortNumber") ?? pool.Arr("spec", "targetPorts")?.FirstOrDefault().Long("number") ?? 8000);
                candidates = core.PeekAll("", "pods", bns)
                    .Where(p => selector.Count > 0 && selector.All(kv => p.Labels().GetValueOrDefault(kv.Key) == kv.Value) && Pods.Ready(p) && p.Str("status", "podIP") is not null)
                    .OrderBy(p => p.Name(), StringComparer.Ordinal).Select(p => (p, port)).ToList();
                if (candidates.Count == 0) return new LocalReply(503, NoHealthyUpstream, "UH");
                var epp = pool.Obj("spec", "extensionRef") ?? pool.Obj("spec", "endpointPickerRef");
                var eppSvc = epp is null ? null : core.Peek("", "services", bns, epp.Str("name") ?? "");
                var eppUp = eppSvc is not null && ServiceEndpoints(eppSvc, null).Count > 0;
                if (eppUp)
                {
                    picker = Picker($"{bns}/{group}/{bname}");
                    var names = candidates.Select(c => c.Pod.Name()).ToList();
                    var pick = picker.Pick(PromptOf(body), names);
                    EppMetrics.Count(core, bns, epp!.Str("name") ?? "", body);
                    candidates = candidates.Where(c => c.Pod.Name() == pick).ToList();
                }
                else if ((epp?.Str("failureMode") ?? "FailClose") == "FailClose")
                    return new LocalReply(503, NoHealthyUpstream, "UH");
            }
            else return new LocalReply(500, "", "NR");

            if (gke)
            {
                // the load balancer sends only to endpoints that pass its health check (see GkeGateway.Health)
                var hcKind = kind == "InferencePool" ? "InferencePool" : "Service";
                var hcGroup = kind == "InferencePool" ? group : "";
                candidates = candidates.Where(c => GkeGateway.Health(core, bns, hcGroup, hcKind, bname, backendSvc, c.Pod, c.Port).Healthy).ToList();
            }
            if (candidates.Count == 0) return new LocalReply(503, NoHealthyUpstream, "UH");
            var (target, targetPort) = candidates[Random.Shared.Next(candidates.Count)];
            var blocked = false;
            if (gke && core.Options.EnforceNetworkPolicy)
            {
                blocked = !NetworkPolicies.AdmitsFromAddress(core.PeekAll("networking.k8s.io", "networkpolicies"),
                    GkeGateway.ProxySourceIp(core, gwClass), target, targetPort);
            }
            else if (core.Options.EnforceNetworkPolicy)
            {
                blocked = !NetworkPolicies.AdmitsFromPod(core.PeekAll("networking.k8s.io", "networkpolicies"),
                    n => core.Peek("", "namespaces", null, n)?.Labels(), gatewayNs, gwLabels, target, targetPort);
            }
            // Istio's outbound cluster: the Service's FQDN, or for an InferencePool the shadow Service Istio makes for it
            var cluster = $"outbound|{backend.Long("port") ?? targetPort}||{bname}{(kind == "InferencePool" ? "-ip" : "")}.{bns}.svc.cluster.local";
            return new Forward(target.Name(), target.Str("status", "podIP")!, targetPort, newPath, blocked, picker, routeName, cluster);
        }
    }

    private static bool ConditionTrue(JsonObject o, string type) =>
        o.Arr("status", "conditions")?.Any(c => c.Str("type") == type && c.Str("status") == "True") == true;

    private PrefixPicker Picker(string key)
    {
        if (!_pickers.TryGetValue(key, out var p)) _pickers[key] = p = new PrefixPicker();
        return p;
    }

    private static bool Attached(JsonObject route, string gwNs, string gwName)
    {
        var refs = (route.Arr("spec", "parentRefs") ?? []).Where(p => (p.Str("kind") ?? "Gateway") == "Gateway" && p.Str("name") == gwName && (p.Str("namespace") ?? route.Namespace()) == gwNs).ToList();
        if (refs.Count == 0) return false;
        return (route.Arr("status", "parents") ?? []).Any(p =>
            p.Str("parentRef", "name") == gwName && (p.Str("parentRef", "namespace") ?? route.Namespace()) == gwNs &&
            p.Arr("conditions")?.Any(c => c.Str("type") == "Accepted" && c.Str("status") == "True") == true);
    }

    private static bool PathMatches(string type, string value, string path) => type switch
    {
        "Exact" => path == value,
        "PathPrefix" => value == "/" || path == value.TrimEnd('/') || path.StartsWith(value.TrimEnd('/') + "/", StringComparison.Ordinal),
        _ => false,
    };

    private static bool Better(string type, string value, string bestType, string bestValue)
    {
        if (type == "Exact" && bestType != "Exact") return true;
        if (type != "Exact" && bestType == "Exact") return false;
        return value.TrimEnd('/').Length > bestValue.TrimEnd('/').Length;
    }

    private static string Rewrite(JsonObject rule, string type, string value, string path)
    {
        foreach (var f in (rule.Arr("filters") ?? []).OfType<JsonObject>())
        {
            if (f.Str("type") != "URLRewrite" || f.Obj("urlRewrite", "path") is not { } p) continue;
            if (p.Str("type") == "ReplaceFullPath") return p.Str("replaceFullPath") ?? "/";
            if (p.Str("type") == "ReplacePrefixMatch" && type == "PathPrefix")
            {
                var replace = p.Str("replacePrefixMatch") ?? "/";
                var rest = path.Length >= value.TrimEnd('/').Length ? path[value.TrimEnd('/').Length..] : "";
                var result = replace.EndsWith('/') && rest.StartsWith('/') ? replace + rest[1..] : replace + rest;
                return result.Length == 0 ? "/" : result;
            }
        }
        return path;
    }

    private List<(JsonObject Pod, int Port)> ServiceEndpoints(JsonObject svc, long? servicePort)
    {
        var ports = (svc.Arr("spec", "ports") ?? []).OfType<JsonObject>().ToList();
        var sp = ports.FirstOrDefault(p => servicePort is null || p.Long("port") == servicePort) ?? ports.FirstOrDefault();
        var target = (int)(sp?["targetPort"] is JsonValue v && v.TryGetValue<long>(out var n) ? n : sp?.Long("port") ?? 80);
        var ep = core.Peek("", "endpoints", svc.Namespace(), svc.Name());
        var list = new List<(JsonObject, int)>();
        foreach (var subset in ep?.Arr("subsets") ?? [])
            foreach (var a in subset.Arr("addresses") ?? [])
                if (a.Str("targetRef", "name") is { } podName && core.Peek("", "pods", svc.Namespace(), podName) is { } pod && Pods.Ready(pod))
                    list.Add((pod, target));
        return list;
    }

    /// <summary>The text the EPP hashes: the completion prompt, or the chat messages' contents in order.</summary>
    internal static string PromptOf(string body)
    {
        try
        {
            var o = JsonNode.Parse(body);
            if (o?["prompt"] is JsonValue pv && pv.TryGetValue<string>(out var prompt)) return prompt;
            if (o?["prompt"] is JsonArray pa) return string.Concat(pa.Select(x => x?.ToString()));
            if (o?["messages"] is JsonArray msgs)
                return string.Concat(msgs.Select(m => (m?["role"]?.ToString() ?? "") + ":" + (m?["content"] is JsonArray parts
                    ? string.Concat(parts.Select(x => x?["text"]?.ToString())) : m?["content"]?.ToString()) + "\n"));
        }
        catch (System.Text.Json.JsonException) { }
        return body;
    }
}
