using System.Globalization;
using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.KubeApi.Controllers;

/// <summary>
/// sail-operator (OSSM 3) when its Deployment runs: an Istio CR gets an istiod Deployment and Service;
/// once istiod is Available the Istio CR is Ready and GatewayClasses istio/istio-remote exist. IstioCNI
/// gets the istio-cni-node DaemonSet.
/// </summary>
internal sealed class SailController(ControllerManager m) : SimController(m)
{
    private const string Group = "sailoperator.io";
    public static readonly string[] OperatorNames = ["servicemesh-operator3", "sail-operator"];
    protected override string Name => "sail-operator";
    private readonly Dictionary<string, DateTime> _at = new();

    public override void OnEvent(WatchEvent ev)
    {
        if (IsOperatorDeployment(ev, OperatorNames) || (ev.StoreKey == "apps/deployments" && ev.Object.Name() == "istiod") ||
            (ev.StoreKey == "apps/daemonsets" && ev.Object.Name() == "istio-cni-node") || ev.StoreKey == "apiextensions.k8s.io/customresourcedefinitions" ||
            ev.StoreKey == "/namespaces")
        {
            foreach (var i in All(Group, "istios")) Enqueue("istio:" + i.Name());
            foreach (var i in All(Group, "istiocnis")) Enqueue("cni:" + i.Name());
            return;
        }
        if (ev.StoreKey == Group + "/istios" && ev.Type != "DELETED") Enqueue("istio:" + ev.Object.Name());
        if (ev.StoreKey == Group + "/istiocnis" && ev.Type != "DELETED") Enqueue("cni:" + ev.Object.Name());
    }

    private bool Due(string key)
    {
        if (!_at.TryGetValue(key, out var at)) { at = DateTime.UtcNow + Delays.IstioReconcile; _at[key] = at; }
        if (at > DateTime.UtcNow) { Enqueue(key, at - DateTime.UtcNow); return false; }
        return true;
    }

    public override void Reconcile(string key)
    {
        if (!OperatorRunning(OperatorNames)) return;
        if (key.StartsWith("cni:", StringComparison.Ordinal)) { Cni(key[4..]); return; }
        var name = key[6..];
        var istio = Get(Group, "istios", null, name);
        if (istio is null || Deleting(istio)) return;
        var ns = istio.Str("spec", "namespace") ?? "istio-system";
        var gen = istio.Long("metadata", "generation") ?? 1;
        var prev = istio.Obj("status");
        if (Get("", "namespaces", null, ns) is null)
        {
            SetStatus(Group, "istios", istio, new JsonObject
            {
                ["observedGeneration"] = gen, ["state"] = "ReconcileError",
                ["conditions"] = new JsonArray(
                    Condition("Reconciled", false, "ReconcileError", $"failed to reconcile IstioRevision: namespace \"{ns}\" doesn't exist", previous: prev),
                    Condition("Ready", false, "ReconcileError", "not reconciled", previous: prev)),
            });
            return;
        }
        if (!Due(key)) return;
        var version = istio.Str("spec", "version") ?? "v1.27-latest";
        var owner = new JsonArray(OwnerRef(istio));
        var labels = new JsonObject { ["app"] = "istiod", ["istio.io/rev"] = "default", ["install.operator.istio.io/owning-resource"] = "unknown", ["operator.istio.io/component"] = "Pilot" };
        if (T(Group, "istiorevisions") is not null)
            Upsert(new JsonObject
            {
                ["apiVersion"] = "sailoperator.io/v1", ["kind"] = "IstioRevision",
                ["metadata"] = new JsonObject { ["name"] = "default", ["ownerReferences"] = owner.DeepClone() },
                ["spec"] = new JsonObject { ["namespace"] = ns, ["version"] = version, ["values"] = istio.At("spec", "values")?.DeepClone() ?? new JsonObject() },
            });
        if (Get("", "serviceaccounts", ns, "istiod") is null)
            Upsert(new JsonObject { ["apiVersion"] = "v1", ["kind"] = "ServiceAccount", ["metadata"] = new JsonObject { ["name"] = "istiod", ["namespace"] = ns, ["ownerReferences"] = owner.DeepClone() } });
        if (Get("apps", "deployments", ns, "istiod") is null)
            Upsert(new JsonObject
            {
                ["apiVersion"] = "apps/v1", ["kind"] = "Deployment",
                ["metadata"] = new JsonObject { ["name"] = "istiod", ["namespace"] = ns, ["labels"] = labels.DeepClone(), ["ownerReferences"] = owner.DeepClone() },
                ["spec"] = new JsonObject
                {
                    ["replicas"] = 1,
                    ["selector"] = new JsonObject { ["matchLabels"] = new JsonObject { ["app"] = "istiod", ["istio.io/rev"] = "default" } },
                    ["template"] = new JsonObject
                    {
                        ["metadata"] = new JsonObject { ["labels"] = labels.DeepClone() },
                        ["spec"] = new JsonObject
                        {
                            ["serviceAccountName"] = "istiod",
                            ["containers"] = new JsonArray(new JsonObject
                            {
                                ["name"] = "discovery", ["image"] = $"registry.redhat.io/openshift-service-mesh/istio-pilot-rhel9:{version.TrimStart('v').Replace("-latest", "")}",
                                ["ports"] = new JsonArray(new JsonObject { ["containerPort"] = 15010 }, new JsonObject { ["containerPort"] = 15017 }, new JsonObject { ["containerPort"] = 8080 }),
                                ["env"] = new JsonArray(Env("PILOT_ENABLE_GATEWAY_API", "true"), Env("ENABLE_GATEWAY_API_INFERENCE_EXTENSION", "true")),
                            }),
                        },
                    },
                },
            });
        if (Get("", "services", ns, "istiod") is null)
            Upsert(new JsonObject
            {
                ["apiVersion"] = "v1", ["kind"] = "Service",
                ["metadata"] = new JsonObject { ["name"] = "istiod", ["namespace"] = ns, ["labels"] = labels.DeepClone(), ["ownerReferences"] = owner.DeepClone() },
                ["spec"] = new JsonObject
                {
                    ["selector"] = new JsonObject { ["app"] = "istiod", ["istio.io/rev"] = "default" },
                    ["ports"] = new JsonArray(
                        new JsonObject { ["name"] = "grpc-xds", ["port"] = 15010 }, new JsonObject { ["name"] = "https-dns", ["port"] = 15012 },
                        new JsonObject { ["name"] = "https-webhook", ["port"] = 443, ["targetPort"] = 15017 }, new JsonObject { ["name"] = "http-monitoring", ["port"] = 15014 }),
                },
            });
        var istiod = Get("apps", "deployments", ns, "istiod");
        var ready = ConditionTrue(istiod, "Available");
        if (ready && T("gateway.networking.k8s.io", "gatewayclasses") is not null)
        {
            foreach (var (cls, desc) in new[] { ("istio", "The default Istio GatewayClass"), ("istio-remote", "A GatewayClass for a remote Istio gateway") })
            {
                if (Get("gateway.networking.k8s.io", "gatewayclasses", null, cls) is null)
                    Upsert(new JsonObject
                    {
                        ["apiVersion"] = "gateway.networking.k8s.io/v1", ["kind"] = "GatewayClass",
                        ["metadata"] = new JsonObject { ["name"] = cls },
                        ["spec"] = new JsonObject { ["controllerName"] = cls == "istio" ? "istio.io/gateway-controller" : "istio.io/unmanaged-gateway", ["description"] = desc },
                    });
                var gc = Get("gateway.networking.k8s.io", "gatewayclasses", null, cls)!;
                if (!ConditionTrue(gc, "Accepted"))
                    SetStatus("gateway.networking.k8s.io", "gatewayclasses", gc, new JsonObject
                    {
                        ["conditions"] = new JsonArray(Condition("Accepted", true, "Accepted", "Handled by Istio controller", gc.Long("metadata", "generation") ?? 1)),
                    });
            }
        }
        var rev = T(Group, "istiorevisions") is not null ? Get(Group, "istiorevisions", null, "default") : null;
        if (rev is not null)
            SetStatus(Group, "istiorevisions", rev, new JsonObject
            {
                ["observedGeneration"] = rev.Long("metadata", "generation") ?? 1, ["state"] = ready ? "Healthy" : "NotReady",
                ["conditions"] = new JsonArray(Condition("Reconciled", true, "Reconciled", "", previous: rev.Obj("status")),
                    Condition("Ready", ready, ready ? "Healthy" : "IstiodNotReady", ready ? "" : "istiod Deployment is not ready", previous: rev.Obj("status"))),
            });
        SetStatus(Group, "istios", istio, new JsonObject
        {
            ["observedGeneration"] = gen, ["state"] = ready ? "Healthy" : "IstiodNotReady", ["activeRevisionName"] = "default",
            ["revisions"] = new JsonObject { ["total"] = 1, ["ready"] = ready ? 1 : 0, ["inUse"] = 0 },
            ["conditions"] = new JsonArray(
                Condition("Reconciled", true, "Reconciled", "", previous: prev),
                Condition("Ready", ready, ready ? "Healthy" : "IstiodNotReady", ready ? "" : "readiness probe on active revision failed: istiod Deployment is not ready", previous: prev)),
        });
        if (!ready) Enqueue(key, TimeSpan.FromMilliseconds(50));
    }

    private static JsonObject Env(string n, string v) => new() { ["name"] = n, ["value"] = v };

    private void Cni(string name)
    {
        var cni = Get(Group, "istiocnis", null, name);
        if (cni is null || Deleting(cni)) return;
        var ns = cni.Str("spec", "namespace") ?? "istio-cni";
        if (Get("", "namespaces", null, ns) is null)
        {
            SetStatus(Group, "istiocnis", cni, new JsonObject
            {
                ["state"] = "ReconcileError",
                ["conditions"] = new JsonArray(Condition("Reconciled", false, "ReconcileError", $"namespace \"{ns}\" doesn't exist", previous: cni.Obj("status")),
                    Condition("Ready", false, "ReconcileError", "not reconciled", previous: cni.Obj("status"))),
            });
            return;
        }
        if (!Due("cni:" + name)) return;
        if (Get("apps", "daemonsets", ns, "istio-cni-node") is null)
            Upsert(new JsonObject
            {
                ["apiVersion"] = "apps/v1", ["kind"] = "DaemonSet",
                ["metadata"] = new JsonObject { ["name"] = "istio-cni-node", ["namespace"] = ns, ["ownerReferences"] = new JsonArray(OwnerRef(cni)) },
                ["spec"] = new JsonObject
                {
                    ["selector"] = new JsonObject { ["matchLabels"] = new JsonObject { ["k8s-app"] = "istio-cni-node" } },
                    ["template"] = new JsonObject
                    {
                        ["metadata"] = new JsonObject { ["labels"] = new JsonObject { ["k8s-app"] = "istio-cni-node" } },
                        ["spec"] = new JsonObject { ["containers"] = new JsonArray(new JsonObject { ["name"] = "install-cni", ["image"] = "registry.redhat.io/openshift-service-mesh/istio-cni-rhel9:1.27" }) },
                    },
                },
            });
        var ds = Get("apps", "daemonsets", ns, "istio-cni-node");
        var ready = ds is not null && (ds.Long("status", "desiredNumberScheduled") ?? 0) > 0 && ds.Long("status", "numberReady") == ds.Long("status", "desiredNumberScheduled");
        SetStatus(Group, "istiocnis", cni, new JsonObject
        {
            ["observedGeneration"] = cni.Long("metadata", "generation") ?? 1, ["state"] = ready ? "Healthy" : "NotReady",
            ["conditions"] = new JsonArray(Condition("Reconciled", true, "Reconciled", "", previous: cni.Obj("status")),
                Condition("Ready", ready, ready ? "Healthy" : "CNINotReady", ready ? "" : "istio-cni-node DaemonSet is not ready", previous: cni.Obj("status"))),
        });
    }
}

/// <summary>Istio's Gateway API controller: Gateways of class istio get a Deployment and LoadBalancer Service, then Accepted/Programmed; HTTPRoutes get parent status.</summary>
internal sealed class GatewayController(ControllerManager m) : SimController(m)
{
    private const string Group = "gateway.networking.k8s.io";
    protected override string Name => "istio.io/gateway-controller";
    private readonly Dictionary<string, DateTime> _at = new();

    public override void OnEvent(WatchEvent ev)
    {
        switch (ev.StoreKey)
        {
            case "gateway.networking.k8s.io/gateways" when ev.Type != "DELETED":
                Enqueue("gw:" + KeyOf(ev.Object));
                break;
            case "gateway.networking.k8s.io/httproutes" when ev.Type != "DELETED":
                Enqueue("rt:" + KeyOf(ev.Object));
                break;
            case "apps/deployments" or "/services" or "gateway.networking.k8s.io/gatewayclasses":
                foreach (var g in All(Group, "gateways")) Enqueue("gw:" + KeyOf(g));
                if (ev.Object.Name() == "istiod") foreach (var r in All(Group, "httproutes")) Enqueue("rt:" + KeyOf(r));
                break;
            case "inference.networking.k8s.io/inferencepools" or "inference.networking.x-k8s.io/inferencepools":
                foreach (var r in All(Group, "httproutes", ev.Namespace)) Enqueue("rt:" + KeyOf(r));
                break;
        }
    }

    private bool IstiodReady() => All("apps", "deployments").Any(d => d.Name() == "istiod" && ConditionTrue(d, "Available"));

    public override void Reconcile(string key)
    {
        if (!IstiodReady()) return;
        if (key.StartsWith("rt:", StringComparison.Ordinal)) { Route(key[3..]); return; }
        var (ns, name) = Split(key[3..]);
        var gw = Get(Group, "gateways", ns, name);
        if (gw is null || Deleting(gw) || gw.Str("spec", "gatewayClassName") != "istio") return;
        if (!_at.TryGetValue(key, out var at)) { at = DateTime.UtcNow + Delays.GatewayProgrammed; _at[key] = at; }
        if (at > DateTime.UtcNow) { Enqueue(key, at - DateTime.UtcNow); return; }
        var child = name + "-istio";
        var labels = new JsonObject { ["gateway.networking.k8s.io/gateway-name"] = name, ["istio.io/gateway-name"] = name, ["gateway.istio.io/managed"] = "istio.io-gateway-controller" };
        var owner = new JsonArray(OwnerRef(gw));
        // the parametersRef ConfigMap customizes the generated objects (Istio 1.24+): its serviceAccount key
        // is merged into the ServiceAccount (imagePullSecrets), as New-InferenceGateway relies on
        var parameters = gw.Str("spec", "infrastructure", "parametersRef", "kind") == "ConfigMap"
            ? Get("", "configmaps", ns, gw.Str("spec", "infrastructure", "parametersRef", "name") ?? "") : null;
        if (Get("", "serviceaccounts", ns, child) is null)
        {
            var sa = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "ServiceAccount", ["metadata"] = new JsonObject { ["name"] = child, ["namespace"] = ns, ["labels"] = labels.DeepClone(), ["ownerReferences"] = owner.DeepClone() } };
            if (ParametersPullSecrets(parameters) is { Count: > 0 } pulls) sa["imagePullSecrets"] = pulls;
            Upsert(sa);
        }
        if (Get("apps", "deployments", ns, child) is null)
            Upsert(new JsonObject
            {
                ["apiVersion"] = "apps/v1", ["kind"] = "Deployment",
                ["metadata"] = new JsonObject { ["name"] = child, ["namespace"] = ns, ["labels"] = labels.DeepClone(), ["ownerReferences"] = owner.DeepClone() },
                ["spec"] = new JsonObject
                {
                    ["replicas"] = 1,
                    ["selector"] = new JsonObject { ["matchLabels"] = new JsonObject { ["gateway.networking.k8s.io/gateway-name"] = name } },
                    ["template"] = new JsonObject
                    {
                        ["metadata"] = new JsonObject { ["labels"] = labels.DeepClone() },
                        ["spec"] = GatewayPodSpec(child),
                    },
                },
            });
        if (Get("", "services", ns, child) is null)
        {
            var ports = new JsonArray(new JsonObject { ["name"] = "status-port", ["port"] = 15021 });
            foreach (var l in gw.Arr("spec", "listeners") ?? [])
                ports.Add(new JsonObject { ["name"] = l.Str("name"), ["port"] = l.Long("port") ?? 80 });
            Upsert(new JsonObject
            {
                ["apiVersion"] = "v1", ["kind"] = "Service",
                ["metadata"] = new JsonObject { ["name"] = child, ["namespace"] = ns, ["labels"] = labels.DeepClone(), ["ownerReferences"] = owner.DeepClone() },
                ["spec"] = new JsonObject { ["type"] = "LoadBalancer", ["selector"] = new JsonObject { ["gateway.networking.k8s.io/gateway-name"] = name }, ["ports"] = ports },
            });
        }
        var dep = Get("apps", "deployments", ns, child);
        var svc = Get("", "services", ns, child);
        var ip = svc?.Arr("status", "loadBalancer", "ingress")?.FirstOrDefault().Str("ip");
        var programmed = ConditionTrue(dep, "Available") && ip is not null;
        var gen = gw.Long("metadata", "generation") ?? 1;
        var prev = gw.Obj("status");
        var routes = All(Group, "httproutes").Where(r => (r.Arr("spec", "parentRefs") ?? []).Any(p => p.Str("name") == name && (p.Str("namespace") ?? r.Namespace()) == ns)).ToList();
        var listeners = new JsonArray();
        foreach (var l in gw.Arr("spec", "listeners") ?? [])
            listeners.Add(new JsonObject
            {
                ["name"] = l.Str("name"), ["attachedRoutes"] = routes.Count,
                ["supportedKinds"] = new JsonArray(new JsonObject { ["group"] = Group, ["kind"] = "HTTPRoute" }, new JsonObject { ["group"] = Group, ["kind"] = "GRPCRoute" }),
                ["conditions"] = new JsonArray(Condition("Accepted", true, "Accepted", "No errors found", gen), Condition("NoConflicts", false, "NoConflicts", "No conflicts", gen),
                    Condition("Programmed", true, "Programmed", "No errors found", gen), Condition("ResolvedRefs", true, "ResolvedRefs", "No errors found", gen)),
            });
        var status = new JsonObject
        {
            ["conditions"] = new JsonArray(
                Condition("Accepted", true, "Accepted", "Resource accepted", gen, prev),
                Condition("Programmed", programmed, programmed ? "Programmed" : "AddressNotAssigned",
                    programmed ? $"Resource programmed, assigned to service(s) {child}.{ns}.svc.cluster.local:{gw.Arr("spec", "listeners")?.FirstOrDefault().Long("port") ?? 80}"
                               : $"Assigned to service(s) {child}.{ns}.svc.cluster.local, but failed to assign to all requested addresses: address pending for hostname \"{child}.{ns}.svc.cluster.local\"", gen, prev)),
            ["listeners"] = listeners,
        };
        if (ip is not null) status["addresses"] = new JsonArray(new JsonObject { ["type"] = "IPAddress", ["value"] = ip });
        SetStatus(Group, "gateways", gw, status);
        if (!programmed) Enqueue(key, TimeSpan.FromMilliseconds(50));
        foreach (var r in routes) Enqueue("rt:" + KeyOf(r));
    }

    /// <summary>
    /// The gateway pod as Istio's deployment controller renders it: the proxy image is "auto" (the injector
    /// fills in the mesh's proxy image) unless the Istio CR sets values.global.hub, then
    /// {hub}/{values.global.proxy.image or proxyv2}:{values.global.tag or the Istio version};
    /// values.global.imagePullSecrets are added to the pod.
    /// </summary>
    private JsonObject GatewayPodSpec(string serviceAccount)
    {
        var istio = All("sailoperator.io", "istios").FirstOrDefault();
        var global = istio?.Obj("spec", "values", "global");
        var image = "auto";
        if (global?.Str("hub") is { Length: > 0 } hub)
        {
            var tag = global.Str("tag") ?? (istio!.Str("spec", "version") ?? "v1.27.3").TrimStart('v').Replace("-latest", "", StringComparison.Ordinal);
            image = $"{hub.TrimEnd('/')}/{global.Str("proxy", "image") ?? "proxyv2"}:{tag}";
        }
        var spec = new JsonObject { ["serviceAccountName"] = serviceAccount, ["containers"] = new JsonArray(new JsonObject { ["name"] = "istio-proxy", ["image"] = image }) };
        if (global?.Arr("imagePullSecrets") is { Count: > 0 } secrets)
            spec["imagePullSecrets"] = new JsonArray(secrets.Select(x => (JsonNode)new JsonObject { ["name"] = x is JsonObject o ? o.Str("name") : x?.ToString() }).ToArray());
        return spec;
    }

    private static JsonArray? ParametersPullSecrets(JsonObject? configMap)
    {
        if (configMap?.Str("data", "serviceAccount") is not { } yaml) return null;
        try
        {
            var doc = ServerYaml.ReadDocuments(yaml).OfType<JsonObject>().FirstOrDefault();
            return doc?["imagePullSecrets"] is JsonArray a ? (JsonArray)a.DeepClone() : null;
        }
        catch (Exception) { return null; }
    }

    /// <summary>The Istio minor version from istiod's image tag (or the Istio CR's spec.version), e.g. (1, 27).</summary>
    internal static (int Major, int Minor)? IstioVersion(SimCore core)
    {
        var image = core.PeekAll("apps", "deployments").FirstOrDefault(d => d.Name() == "istiod")?.Arr("spec", "template", "spec", "containers")?.FirstOrDefault().Str("image");
        var m = image is null ? null : System.Text.RegularExpressions.Regex.Match(image, @":v?(\d+)\.(\d+)");
        if (m is not { Success: true })
        {
            var v = core.PeekAll("sailoperator.io", "istios").FirstOrDefault()?.Str("spec", "version");
            m = v is null ? null : System.Text.RegularExpressions.Regex.Match(v, @"^v?(\d+)\.(\d+)");
        }
        return m is { Success: true } ? (int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)) : null;
    }

    /// <summary>The InferencePool group Istio routes to: 1.28+ only inference.networking.k8s.io, before only inference.networking.x-k8s.io; null when unknown.</summary>
    internal static string? SpokenPoolGroup(SimCore core) => IstioVersion(core) is { } v
        ? (v.Major > 1 || v.Minor >= 28 ? "inference.networking.k8s.io" : "inference.networking.x-k8s.io")
        : null;

    private void Route(string key)
    {
        var (ns, name) = Split(key);
        var route = Get(Group, "httproutes", ns, name);
        if (route is null || Deleting(route)) return;
        var gen = route.Long("metadata", "generation") ?? 1;
        var parents = new JsonArray();
        foreach (var p in route.Arr("spec", "parentRefs") ?? [])
        {
            var gwNs = p.Str("namespace") ?? ns;
            var gw = Get(Group, "gateways", gwNs, p.Str("name") ?? "");
            if (gw is null || gw.Str("spec", "gatewayClassName") != "istio") continue;
            var unresolved = new List<string>();
            string? unresolvedReason = null;
            var spoken = SpokenPoolGroup(Core);
            foreach (var rule in route.Arr("spec", "rules") ?? [])
                foreach (var b in rule.Arr("backendRefs") ?? [])
                {
                    var kind = b.Str("kind") ?? "Service";
                    var group = b.Str("group") ?? "";
                    var bn = b.Str("name") ?? "";
                    var bns = b.Str("namespace") ?? ns;
                    if (kind == "InferencePool" && spoken is not null && group != spoken)
                    {
                        unresolvedReason ??= "InvalidKind";
                        unresolved.Add($"referencing unsupported backendRef: group \"{group}\" kind \"{kind}\"");
                        continue;
                    }
                    var exists = kind switch
                    {
                        "Service" => Get("", "services", bns, bn) is not null,
                        "InferencePool" => (T(group, "inferencepools") is not null && Get(group, "inferencepools", bns, bn) is not null),
                        _ => true,
                    };
                    if (!exists) unresolvedReason ??= "BackendNotFound";
                    if (!exists) unresolved.Add(kind == "InferencePool" && T(group, "inferencepools") is null ? $"unsupported backendRef group {group} kind InferencePool" : $"backend({bn}.{bns}) not found");
                }
            var prevParent = route.Arr("status", "parents")?.FirstOrDefault(x => x.Str("parentRef", "name") == p.Str("name")) as JsonObject;
            parents.Add(new JsonObject
            {
                ["parentRef"] = p?.DeepClone(), ["controllerName"] = "istio.io/gateway-controller",
                ["conditions"] = new JsonArray(
                    Condition("Accepted", true, "Accepted", "Route was valid", gen, prevParent),
                    Condition("ResolvedRefs", unresolved.Count == 0, unresolved.Count == 0 ? "ResolvedRefs" : unresolvedReason ?? "BackendNotFound",
                        unresolved.Count == 0 ? "All references resolved" : string.Join("; ", unresolved), gen, prevParent)),
            });
        }
        if (parents.Count == 0) return;
        // keep the parents other controllers (GKE's gateway controller) own
        foreach (var other in (route.Arr("status", "parents") ?? []).Where(x => x.Str("controllerName") is { } c && c != "istio.io/gateway-controller").Reverse())
            parents.Insert(0, other?.DeepClone());
        SetStatus(Group, "httproutes", route, new JsonObject { ["parents"] = parents });
    }
}
