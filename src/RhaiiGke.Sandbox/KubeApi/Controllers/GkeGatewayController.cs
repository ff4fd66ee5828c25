using System.Globalization;
using System.Text.Json.Nodes;

using RhaiiGke.Sandbox.KubeApi.DataPlane;

namespace RhaiiGke.Sandbox.KubeApi.Controllers;

/// <summary>
/// What a GKE cluster with the Gateway API enabled has from the start, and the rules GKE's gateway controller
/// (networking.gke.io/gateway) applies. Sources: GKE GatewayClass capabilities and Gateway docs, the
/// networking.gke.io/v1 API reference (HealthCheckPolicy requestPath defaults to "/"), llm-d's GKE guide (GKE
/// 1.34.0-gke.1626000+ installs the GA Gateway API and Inference Extension CRDs itself), kserve/kserve#5311
/// (timeouts → Accepted=False UnsupportedValue) and the GWCER104 message users report
/// ("Error GWCER104: HTTPRoute \"ns/name\" is misconfigured, err: Timeouts are not supported.").
/// </summary>
internal static class GkeGateway
{
    public const string ControllerName = "networking.gke.io/gateway";
    public const string RegionalExternal = "gke-l7-regional-external-managed";
    public const string RegionalInternal = "gke-l7-rilb";
    public const string GlobalExternal = "gke-l7-global-external-managed";
    public const string PoolGroup = "inference.networking.k8s.io";
    public static readonly string[] Classes = [RegionalExternal, RegionalInternal, GlobalExternal];

    /// <summary>Google's health-check ranges (35.191.0.0/16, 130.211.0.0/22): health probes come from here; so do the global load balancer's GFEs.</summary>
    public const string HealthCheckerIp = "35.191.0.8";

    public static bool IsGkeClass(string? cls) => cls is not null && Classes.Contains(cls, StringComparer.Ordinal);

    public static bool IsRegional(string? cls) => cls is RegionalExternal or RegionalInternal;

    /// <summary>The address the load balancer's proxy connects to pods from: the proxy-only subnet for the regional classes, a GFE for the global one.</summary>
    public static string ProxySourceIp(SimCore core, string? cls)
    {
        if (!IsRegional(cls)) return "35.191.12.34";
        var cidr = core.Options.GkeProxyOnlySubnet;
        var slash = cidr.IndexOf('/');
        var parts = (slash < 0 ? cidr : cidr[..slash]).Split('.');
        return parts.Length == 4 ? $"{parts[0]}.{parts[1]}.{parts[2]}.17" : "10.129.0.17";
    }

    /// <summary>GKE's own CRDs (addon-manager labels, left alone by our installer) and GatewayClasses, established and accepted at once.</summary>
    public static void Bootstrap(SimCore core)
    {
        var crdType = core.Registry.BuiltIn("apiextensions.k8s.io", "customresourcedefinitions");
        // GKE 1.34.0-gke.1626000+ installs the GA Inference Extension CRD (InferencePool v1) too; never the x-k8s alpha kinds
        var crds = GkeAddonCrds.For(MinorVersion(core.Options.KubernetesVersion)).ToList();
        foreach (var crd in crds)
        {
            var meta = crd.Ensure("metadata");
            if (meta["labels"] is not JsonObject labels) { labels = new JsonObject(); meta["labels"] = labels; }
            labels["addonmanager.kubernetes.io/mode"] = "Reconcile";
            meta["annotations"] = new JsonObject { ["components.gke.io/component-name"] = "gateway-api", ["components.gke.io/layer"] = "addon" };
            if (core.Peek(crdType, null, crd.Name()) is not null) continue;
            core.Create(crdType, null, crd, WriteOptions.Controller("addon-manager"));
            core.Registry.AddCrd(core.Peek(crdType, null, crd.Name())!);
            core.WriteStatus(crdType, null, crd.Name(), new JsonObject
            {
                ["conditions"] = new JsonArray(
                    Cond("NamesAccepted", "NoConflicts", "no conflicts found"),
                    Cond("Established", "InitialNamesAccepted", "the initial names have been accepted")),
                ["acceptedNames"] = crd.At("spec", "names")?.DeepClone(),
                ["storedVersions"] = new JsonArray((crd.Arr("spec", "versions") ?? []).Where(v => v.Bool("storage") == true).Select(v => (JsonNode)v.Str("name")!).ToArray()),
            }, "apiextensions-apiserver");
        }
        var gcType = core.Registry.FindKind("gateway.networking.k8s.io/v1", "GatewayClass")!;
        foreach (var (cls, description) in new[]
                 {
                     (RegionalExternal, "Regional External Application Load Balancer"),
                     (RegionalInternal, "Regional Internal Application Load Balancer"),
                     (GlobalExternal, "Global External Application Load Balancer"),
                 })
        {
            if (core.Peek(gcType, null, cls) is not null) continue;
            core.Create(gcType, null, new JsonObject
            {
                ["apiVersion"] = "gateway.networking.k8s.io/v1", ["kind"] = "GatewayClass",
                ["metadata"] = new JsonObject { ["name"] = cls, ["labels"] = new JsonObject { ["addonmanager.kubernetes.io/mode"] = "Reconcile" } },
                ["spec"] = new JsonObject { ["controllerName"] = ControllerName, ["description"] = description },
            }, WriteOptions.Controller("addon-manager"));
            core.WriteStatus(gcType, null, cls, new JsonObject { ["conditions"] = new JsonArray(Cond("Accepted", "Accepted", "")) }, "gke-gateway-controller");
        }
    }

    private static JsonObject Cond(string type, string reason, string message) =>
        new() { ["type"] = type, ["status"] = "True", ["reason"] = reason, ["message"] = message, ["lastTransitionTime"] = SimCore.Now() };

    private static int MinorVersion(string version)
    {
        var parts = version.TrimStart('v').Split('.', '-');
        return parts.Length > 1 && int.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var m) ? m : 0;
    }

    /// <summary>
    /// Whether the load balancer's health check passes on <paramref name="pod"/> behind a backend (a Service or
    /// an InferencePool), as GKE configures it:
    /// <list type="bullet">
    /// <item>a HealthCheckPolicy in the backend's namespace whose targetRef names the backend sets type (HTTP,
    /// HTTPS, HTTP2, TCP), port and requestPath (default "/");</item>
    /// <item>without one, GKE's default check: the serving port, path "/", protocol from the Service port's
    /// appProtocol (https → HTTPS, http2/h2c → HTTP2, else HTTP; HTTP for a pool). vLLM answers 404 on "/",
    /// so a backend without a policy stays unhealthy (llm-d-xks-gke ISSUES #5, #13);</item>
    /// <item>the protocol must match the pod: KServe's vLLM serves TLS (--ssl-certfile), so an HTTP check
    /// fails against it and an HTTPS check fails against plain-HTTP vLLM (ISSUES #6, #15);</item>
    /// <item>vLLM answers 200 on /health, /ping, /v1/models, /version, /metrics, /load;</item>
    /// <item>probes come from 35.191.0.0/16 and 130.211.0.0/22: a NetworkPolicy isolating the pod must admit
    /// those ranges on the port (when the cluster enforces policies).</item>
    /// </list>
    /// </summary>
    public static (bool Healthy, string Why) Health(SimCore core, string ns, string group, string kind, string name, JsonObject? service, JsonObject pod, int port)
    {
        var policy = core.PeekAll("networking.gke.io", "healthcheckpolicies", ns).FirstOrDefault(p =>
            p.Str("spec", "targetRef", "kind") == kind && p.Str("spec", "targetRef", "name") == name && (p.Str("spec", "targetRef", "group") ?? "") == group);
        string type, path;
        int checkPort = port;
        if (policy is not null)
        {
            var config = policy.Obj("spec", "default", "config");
            type = config?.Str("type") ?? "HTTP";
            var hc = type switch { "HTTPS" => config?.Obj("httpsHealthCheck"), "HTTP2" => config?.Obj("http2HealthCheck"), "TCP" => config?.Obj("tcpHealthCheck"), _ => config?.Obj("httpHealthCheck") };
            path = hc?.Str("requestPath") is { Length: > 0 } rp ? rp : "/";
            if (hc?.Long("port") is { } p && hc.Str("portSpecification") is null or "USE_FIXED_PORT") checkPort = (int)p;
        }
        else
        {
            var appProtocol = (service?.Arr("spec", "ports") ?? []).FirstOrDefault()?.Str("appProtocol")?.ToLowerInvariant();
            type = appProtocol switch { "https" => "HTTPS", "http2" or "kubernetes.io/h2c" => "HTTP2", _ => "HTTP" };
            path = "/";
        }
        var label = policy is null ? $"default {type} health check on port {checkPort}, path {path} (no HealthCheckPolicy targets {kind} {ns}/{name})"
                                   : $"HealthCheckPolicy {ns}/{policy.Name()} ({type} port {checkPort}, path {path})";
        if (checkPort != port) return (false, $"{label}: connection refused on port {checkPort}");
        if (core.Options.EnforceNetworkPolicy)
        {
            if (!NetworkPolicies.AdmitsFromAddress(core.PeekAll("networking.k8s.io", "networkpolicies"), HealthCheckerIp, pod, port)) return (false, $"{label}: probes from 35.191.0.0/16 and 130.211.0.0/22 time out (a NetworkPolicy isolates the pod)");
        }
        if (type == "TCP") return (true, label);
        var tls = ServesTls(pod);
        if (type == "HTTP" && tls) return (false, $"{label}: the pod serves TLS, an HTTP probe gets the connection reset");
        if (type is "HTTPS" or "HTTP2" && !tls) return (false, $"{label}: the pod serves plain HTTP, the TLS handshake fails");
        var p0 = path.Split('?')[0].TrimEnd('/');
        if (p0 is not ("/health" or "/ping" or "/v1/models" or "/version" or "/metrics" or "/load"))
            return (false, $"{label}: the pod answers 404 Not Found for {path}");
        return (true, label);
    }

    /// <summary>vLLM started with --ssl-certfile (KServe's template) serves HTTPS on its port.</summary>
    public static bool ServesTls(JsonObject pod)
    {
        var containers = (pod.Arr("spec", "containers") ?? []).OfType<JsonObject>().ToList();
        var main = containers.FirstOrDefault(c => c.Str("name") == "main") ?? containers.FirstOrDefault();
        var text = string.Join(' ', (main?.Arr("command") ?? []).Concat(main?.Arr("args") ?? []).Select(a => a?.ToString()));
        return text.Contains("--ssl-certfile", StringComparison.Ordinal);
    }
}

/// <summary>
/// GKE's gateway controller (networking.gke.io/gateway) for the gke-l7-* classes: Gateways are Accepted at
/// once and Programmed with an address when the load balancer exists (after <see cref="KubeControllerDelays.GkeLoadBalancer"/>;
/// never for the regional classes without a proxy-only subnet); HTTPRoutes attached to them are rejected when
/// a rule sets timeouts (GWCER104), and backends resolve only to Services and v1 InferencePools
/// (inference.networking.k8s.io). The global class programs, but reports InferencePools as not supported: its
/// pool backends never turn healthy. HealthCheckPolicies get Attached, and unhealthy backends a Warning event.
/// </summary>
internal sealed class GkeGatewayController(ControllerManager m) : SimController(m)
{
    private const string Group = "gateway.networking.k8s.io";
    protected override string Name => "gke-gateway-controller";
    private readonly Dictionary<string, DateTime> _at = new(StringComparer.Ordinal);

    public override void OnEvent(WatchEvent ev)
    {
        switch (ev.StoreKey)
        {
            case Group + "/gateways" when ev.Type != "DELETED":
                Enqueue("gw:" + KeyOf(ev.Object));
                break;
            case Group + "/httproutes" when ev.Type != "DELETED":
                Enqueue("rt:" + KeyOf(ev.Object));
                break;
            case "networking.gke.io/healthcheckpolicies" when ev.Type != "DELETED":
                Enqueue("hc:" + KeyOf(ev.Object));
                foreach (var r in All(Group, "httproutes", ev.Namespace)) Enqueue("rt:" + KeyOf(r));
                break;
            case "/services" or "/endpoints" or "inference.networking.k8s.io/inferencepools" or "inference.networking.x-k8s.io/inferencepools":
                foreach (var r in All(Group, "httproutes", ev.Namespace)) Enqueue("rt:" + KeyOf(r));
                foreach (var h in All("networking.gke.io", "healthcheckpolicies", ev.Namespace)) Enqueue("hc:" + KeyOf(h));
                break;
        }
    }

    public override void Reconcile(string key)
    {
        var kind = key[..2];
        var rest = key[3..];
        if (kind == "gw") Gateway(key, rest);
        else if (kind == "rt") Route(rest);
        else if (kind == "hc") Policy(rest);
    }

    private void Gateway(string key, string nsName)
    {
        var (ns, name) = Split(nsName);
        var gw = Get(Group, "gateways", ns, name);
        if (gw is null || Deleting(gw)) { _at.Remove(key); return; }
        var cls = gw.Str("spec", "gatewayClassName");
        if (!GkeGateway.IsGkeClass(cls) || Get(Group, "gatewayclasses", null, cls!) is null) return;
        var gen = gw.Long("metadata", "generation") ?? 1;
        var prev = gw.Obj("status");
        if (!_at.TryGetValue(key, out var at)) { at = DateTime.UtcNow + Delays.GkeLoadBalancer; _at[key] = at; }
        var noSubnet = GkeGateway.IsRegional(cls) && !Core.Options.GkeProxyOnlySubnetExists;
        var lbReady = at <= DateTime.UtcNow && !noSubnet;
        var routes = All(Group, "httproutes").Where(r => (r.Arr("spec", "parentRefs") ?? []).Any(p => p.Str("name") == name && (p.Str("namespace") ?? r.Namespace()) == ns)).ToList();
        var listeners = new JsonArray();
        foreach (var l in gw.Arr("spec", "listeners") ?? [])
            listeners.Add(new JsonObject
            {
                ["name"] = l.Str("name"), ["attachedRoutes"] = routes.Count,
                ["supportedKinds"] = new JsonArray(new JsonObject { ["group"] = Group, ["kind"] = "HTTPRoute" }),
                ["conditions"] = new JsonArray(Condition("Accepted", true, "Accepted", "", gen, null), Condition("Conflicted", false, "NoConflicts", "", gen, null),
                    Condition("Programmed", lbReady, lbReady ? "Programmed" : "Pending", "", gen, null), Condition("ResolvedRefs", true, "ResolvedRefs", "", gen, null)),
            });
        string programmedMessage;
        if (noSubnet)
            programmedMessage = $"Error GWCER101: Gateway \"{ns}/{name}\" failed to sync: googleapi: Error 400: Invalid value for field 'resource.target': An active proxy-only subnetwork is required in the same region and VPC as the forwarding rule., invalid";
        else programmedMessage = lbReady ? "" : "Waiting for the load balancer to be provisioned";
        var status = new JsonObject
        {
            ["conditions"] = new JsonArray(
                Condition("Accepted", true, "Accepted", "", gen, prev),
                Condition("Programmed", lbReady, lbReady ? "Programmed" : noSubnet ? "Invalid" : "Pending", programmedMessage, gen, prev)),
            ["listeners"] = listeners,
        };
        if (lbReady) status["addresses"] = new JsonArray(new JsonObject { ["type"] = "IPAddress", ["value"] = PreviousAddress(gw) ?? Address(cls!, ns!, name, gw) });
        SetStatus(Group, "gateways", gw, status);
        if (noSubnet) RecordEvent(gw, "Warning", "SYNC", programmedMessage, "sc-gateway-controller");
        else if (lbReady) RecordEvent(gw, "Normal", "SYNC", $"SYNC on {ns}/{name} was a success", "sc-gateway-controller");
        if (!lbReady && !noSubnet) Enqueue(key, at - DateTime.UtcNow + TimeSpan.FromMilliseconds(5));
        foreach (var r in routes) Enqueue("rt:" + KeyOf(r));
    }

    /// <summary>The address the Gateway already reports (kept while the Gateway lives).</summary>
    private static string? PreviousAddress(JsonObject gw) => gw.Arr("status", "addresses")?.FirstOrDefault().Str("value");

    /// <summary>
    /// With the data plane, a loopback address this machine answers on with the listeners' ports
    /// (DataPlane.LoopbackAddresses); otherwise, or when those ports cannot be bound here, <see cref="Address(string, string, string)"/>.
    /// </summary>
    private string Address(string cls, string ns, string name, JsonObject gw)
    {
        var ports = (gw.Arr("spec", "listeners") ?? []).Select(l => (int)(l.Long("port") ?? 80)).Distinct().ToList();
        return (Core.Options.DataPlane ? DataPlane.LoopbackAddresses.Allocate($"{ns}/{name}/{gw.Str("metadata", "uid")}", ports) : null)
               ?? Address(cls, ns, name);
    }

    /// <summary>A stable address per Gateway: public-looking for the external classes, from the node subnet for gke-l7-rilb.</summary>
    private static string Address(string cls, string ns, string name)
    {
        var h = (uint)StableHash(ns + "/" + name);
        return cls == GkeGateway.RegionalInternal
            ? $"10.128.{15 - h % 4}.{h / 7 % 250 + 2}"
            : $"34.{(cls == GkeGateway.GlobalExternal ? 160 : 30) + h % 60}.{h / 61 % 256}.{h / 15661 % 250 + 2}";
    }

    private static int StableHash(string s)
    {
        unchecked
        {
            var h = (int)2166136261;
            foreach (var c in s) h = (h ^ c) * 16777619;
            return h;
        }
    }

    private void Route(string nsName)
    {
        var (ns, name) = Split(nsName);
        var route = Get(Group, "httproutes", ns, name);
        if (route is null || Deleting(route)) return;
        var gen = route.Long("metadata", "generation") ?? 1;
        var ours = new JsonArray();
        var touched = false;
        var poolParents = new Dictionary<string, List<(JsonObject Gw, bool Supported)>>(StringComparer.Ordinal);
        foreach (var p in route.Arr("spec", "parentRefs") ?? [])
        {
            var gwNs = p.Str("namespace") ?? ns;
            var gw = Get(Group, "gateways", gwNs, p.Str("name") ?? "");
            var cls = gw?.Str("spec", "gatewayClassName");
            if (gw is null || !GkeGateway.IsGkeClass(cls)) continue;
            touched = true;
            var prevParent = route.Arr("status", "parents")?.FirstOrDefault(x => x.Str("parentRef", "name") == p.Str("name") && x.Str("controllerName") == GkeGateway.ControllerName) as JsonObject;
            var routeRef = $"{ns}/{name}";

            // Accepted: listeners must admit the namespace; GKE implements no HTTPRoute timeouts (GWCER104)
            var allowed = (gw.Arr("spec", "listeners") ?? []).Any(l => (l.Str("allowedRoutes", "namespaces", "from") ?? "Same") switch
            {
                "All" => true, "Same" => gwNs == ns,
                "Selector" => l?["allowedRoutes"]?["namespaces"]?["selector"] is not { } nsSel
                    || LabelSelector.FromObject(nsSel).Matches(Get("", "namespaces", null, ns!)?.Labels() ?? new Dictionary<string, string>()),
                _ => false,
            });
            var hasTimeouts = (route.Arr("spec", "rules") ?? []).Any(r => r?["timeouts"] is JsonObject { Count: > 0 });
            JsonObject accepted = !allowed
                ? Condition("Accepted", false, "NotAllowedByListeners", $"Error GWCER104: HTTPRoute \"{routeRef}\" is misconfigured, err: no listener of Gateway \"{gwNs}/{gw.Name()}\" allows routes from namespace \"{ns}\"", gen, prevParent)
                : hasTimeouts
                    ? Condition("Accepted", false, "UnsupportedValue", $"Error GWCER104: HTTPRoute \"{routeRef}\" is misconfigured, err: Timeouts are not supported.", gen, prevParent)
                    : Condition("Accepted", true, "Accepted", "", gen, prevParent);

            // ResolvedRefs: Services and inference.networking.k8s.io/v1 InferencePools only
            var unresolved = new List<string>();
            string? reason = null;
            foreach (var rule in route.Arr("spec", "rules") ?? [])
                foreach (var b in rule.Arr("backendRefs") ?? [])
                {
                    var kind = b.Str("kind") ?? "Service";
                    var group = b.Str("group") ?? "";
                    var bn = b.Str("name") ?? "";
                    var bns = b.Str("namespace") ?? ns!;
                    if (kind == "Service" && group is "" or "core")
                    {
                        var svc = Get("", "services", bns, bn);
                        if (svc is null) { reason ??= "BackendNotFound"; unresolved.Add($"Error GWCER102: services {bns}/{bn} not found"); }
                        else ReportHealth(bns, "", "Service", bn, svc, Pods.Ready);
                    }
                    else if (kind == "InferencePool" && group == GkeGateway.PoolGroup)
                    {
                        var pool = T(group, "inferencepools") is null ? null : Get(group, "inferencepools", bns, bn);
                        if (pool is null) { reason ??= "BackendNotFound"; unresolved.Add($"Error GWCER102: inferencepools.{group} {bns}/{bn} not found"); continue; }
                        var key = K(bns, bn);
                        if (!poolParents.TryGetValue(key, out var list)) poolParents[key] = list = [];
                        list.Add((gw, cls != GkeGateway.GlobalExternal));
                        if (cls != GkeGateway.GlobalExternal) ReportHealth(bns, group, "InferencePool", bn, null, Pods.Ready);
                    }
                    else
                    {
                        reason ??= "InvalidKind";
                        unresolved.Add($"Error GWCER104: HTTPRoute \"{routeRef}\" is misconfigured, err: unsupported backendRef group \"{group}\" kind \"{kind}\"");
                    }
                }
            var resolved = unresolved.Count == 0
                ? Condition("ResolvedRefs", true, "ResolvedRefs", "", gen, prevParent)
                : Condition("ResolvedRefs", false, reason ?? "BackendNotFound",
                    $"Object reference of HTTPRoute \"{routeRef}\" failed to be resolved: {string.Join("; ", unresolved)}", gen, prevParent);
            ours.Add(new JsonObject { ["parentRef"] = p?.DeepClone(), ["controllerName"] = GkeGateway.ControllerName, ["conditions"] = new JsonArray(accepted, resolved) });
        }
        if (!touched) return;
        var parents = new JsonArray();
        foreach (var other in route.Arr("status", "parents") ?? [])
            if (other.Str("controllerName") != GkeGateway.ControllerName) parents.Add(other?.DeepClone());
        foreach (var o in ours.ToList()) { ours.Remove(o); parents.Add(o); }
        if (!ServerJson.DeepEquals(parents, route.Arr("status", "parents") ?? new JsonArray()))
            SetStatus(Group, "httproutes", route, new JsonObject { ["parents"] = parents });
        foreach (var (poolKey, gws) in poolParents) PoolStatus(poolKey, gws);
    }

    /// <summary>GAIE v1 InferencePool status.parents: the global class does not support pools (it never turned healthy for them upstream).</summary>
    private void PoolStatus(string poolKey, List<(JsonObject Gw, bool Supported)> gws)
    {
        var (ns, name) = Split(poolKey);
        var pool = Get(GkeGateway.PoolGroup, "inferencepools", ns, name);
        if (pool is null) return;
        var gen = pool.Long("metadata", "generation") ?? 1;
        var parents = new JsonArray();
        foreach (var other in pool.Arr("status", "parents") ?? [])
            if (!gws.Any(g => g.Gw.Name() == other.Str("parentRef", "name") && g.Gw.Namespace() == other.Str("parentRef", "namespace")))
                parents.Add(other?.DeepClone());
        foreach (var (gw, supported) in gws.DistinctBy(g => KeyOf(g.Gw)))
        {
            var prev = pool.Arr("status", "parents")?.FirstOrDefault(x => x.Str("parentRef", "name") == gw.Name()) as JsonObject;
            parents.Add(new JsonObject
            {
                ["parentRef"] = new JsonObject { ["group"] = Group, ["kind"] = "Gateway", ["name"] = gw.Name(), ["namespace"] = gw.Namespace() },
                ["conditions"] = new JsonArray(
                    supported ? Condition("Accepted", true, "Accepted", "", gen, prev)
                              : Condition("Accepted", false, "NotSupportedByGateway",
                                  $"InferencePool backends are not supported by GatewayClass {GkeGateway.GlobalExternal}; its backends never become healthy. Use {GkeGateway.RegionalExternal} or {GkeGateway.RegionalInternal}.", gen, prev),
                    Condition("ResolvedRefs", true, "ResolvedRefs", "", gen, prev)),
            });
        }
        if (!ServerJson.DeepEquals(parents, pool.Arr("status", "parents") ?? new JsonArray()))
            SetStatus(GkeGateway.PoolGroup, "inferencepools", pool, new JsonObject { ["parents"] = parents });
    }

    /// <summary>A Warning event on the backend when none of its ready pods passes the load balancer's health check.</summary>
    private void ReportHealth(string ns, string group, string kind, string name, JsonObject? svc, Func<JsonObject, bool> ready)
    {
        var backend = kind == "Service" ? svc : Get(group, "inferencepools", ns, name);
        if (backend is null) return;
        var pods = GatewayBackends.Pods(Core, ns, group, kind, name).Where(x => ready(x.Pod)).ToList();
        if (pods.Count == 0) return;
        var checks = pods.Select(x => GkeGateway.Health(Core, ns, group, kind, name, svc, x.Pod, x.Port)).ToList();
        if (checks.Any(c => c.Healthy)) return;
        RecordEvent(backend, "Warning", "BackendUnhealthy", $"0/{pods.Count} endpoints healthy: {checks[0].Why}", "sc-gateway-controller");
    }

    private void Policy(string nsName)
    {
        var (ns, name) = Split(nsName);
        var hc = Get("networking.gke.io", "healthcheckpolicies", ns, name);
        if (hc is null || Deleting(hc)) return;
        var kind = hc.Str("spec", "targetRef", "kind") ?? "";
        var group = hc.Str("spec", "targetRef", "group") ?? "";
        var target = hc.Str("spec", "targetRef", "name") ?? "";
        var exists = kind switch
        {
            "Service" => Get("", "services", ns, target) is not null,
            "InferencePool" => T(group, "inferencepools") is not null && group == GkeGateway.PoolGroup && Get(group, "inferencepools", ns, target) is not null,
            _ => false,
        };
        var cond = exists
            ? Condition("Attached", true, "Attached", $"Application of HealthCheckPolicy \"{ns}/{name}\" was a success", hc.Long("metadata", "generation"), hc.Obj("status"))
            : Condition("Attached", false, "TargetNotFound", $"HealthCheckPolicy \"{ns}/{name}\" targets {kind} \"{ns}/{target}\"{(group.Length > 0 ? $" (group {group})" : "")}, which does not exist", hc.Long("metadata", "generation"), hc.Obj("status"));
        var status = new JsonObject { ["conditions"] = new JsonArray(cond) };
        if (!ServerJson.DeepEquals(status["conditions"]!.AsArray()[0]!["status"], hc.Arr("status", "conditions")?.FirstOrDefault()?["status"]) ||
            hc.Arr("status", "conditions")?.FirstOrDefault().Str("reason") != cond.Str("reason"))
            SetStatus("networking.gke.io", "healthcheckpolicies", hc, status);
    }
}

/// <summary>The pods (and target ports) behind a route backend, shared by the gateway controllers and the data plane.</summary>
internal static class GatewayBackends
{
    public static List<(JsonObject Pod, int Port)> Pods(SimCore core, string ns, string group, string kind, string name, long? servicePort = null)
    {
        if (kind == "Service")
        {
            var svc = core.Peek("", "services", ns, name);
            if (svc is null) return [];
            var ports = (svc.Arr("spec", "ports") ?? []).OfType<JsonObject>().ToList();
            var sp = ports.FirstOrDefault(p => servicePort is null || p.Long("port") == servicePort) ?? ports.FirstOrDefault();
            var target = (int)(sp?["targetPort"] is JsonValue v && v.TryGetValue<long>(out var n) ? n : sp?.Long("port") ?? 80);
            var ep = core.Peek("", "endpoints", ns, name);
            var list = new List<(JsonObject, int)>();
            foreach (var subset in ep?.Arr("subsets") ?? [])
                foreach (var a in subset.Arr("addresses") ?? [])
                    if (a.Str("targetRef", "name") is { } podName && core.Peek("", "pods", ns, podName) is { } pod)
                        list.Add((pod, target));
            return list;
        }
        var pool = core.Peek(group, "inferencepools", ns, name);
        if (pool is null) return [];
        var selector = group == "inference.networking.x-k8s.io" ? pool.At("spec", "selector").StringMap() : pool.At("spec", "selector", "matchLabels").StringMap();
        var port = (int)(pool.Long("spec", "targetPortNumber") ?? pool.Arr("spec", "targetPorts")?.FirstOrDefault().Long("number") ?? 8000);
        return core.PeekAll("", "pods", ns)
            .Where(p => selector.Count > 0 && selector.All(kv => p.Labels().GetValueOrDefault(kv.Key) == kv.Value) && p.Str("status", "podIP") is not null)
            .OrderBy(p => p.Name(), StringComparer.Ordinal).Select(p => (p, port)).ToList();
    }
}
