using System.Text.Json.Nodes;

namespace RhaiiGke.Engine.Manifests;

/// <summary>One model behind a shared, model-routed URL: its LLMInferenceService, served name and the backend KServe routes it to.</summary>
public sealed record ModelRouteMember(string Service, string Namespace, string Model, string BackendGroup, string BackendKind, string BackendName, int? BackendPort, bool CacheAware);

/// <summary>
/// Several LLMInferenceServices behind one OpenAI base URL, routed by the request body's <c>model</c> the way the
/// Gateway API Inference Extension does it at the pinned v1.2.0 ("Serve multiple generative AI models", chart
/// <c>body-based-routing</c>, provider istio): the body-based router (BBR) runs as an ext_proc server that the gateway
/// calls first; it copies the body's <c>model</c> into the <c>X-Gateway-Model-Name</c> header and clears the route
/// cache, and one HTTPRoute has a rule per model matching that header exactly and sending to the model's own
/// InferencePool (so each model keeps its EPP) or, without a scheduler, its workload Service. KServe's per-service
/// routes (/&lt;ns&gt;/&lt;service&gt;/...) stay as they are. Clients can also set the header themselves (the guides'
/// header-based routing), e.g. for GET /v1/models, which has no body.
/// </summary>
public static class MultiModelBuilder
{
    public const string ModelHeader = "X-Gateway-Model-Name";
    public const string BbrName = "body-based-router";
    public const string BbrImage = "registry.k8s.io/gateway-api-inference-extension/bbr:v1.2.0";
    public const int BbrPort = 9004, BbrHealthPort = 9005;
    public const string RouteSuffix = "-model-route";

    /// <summary>The shared URL path: /&lt;namespace&gt;/&lt;name&gt;; clients use http://&lt;gateway&gt;/&lt;ns&gt;/&lt;name&gt;/v1.</summary>
    public static string PathPrefix(string ns, string name) => $"/{ns}/{name}";

    /// <summary>What KServe's route sends a spec's model traffic to, before the cluster says otherwise (Istio 1.27 speaks the x-k8s InferencePool group).</summary>
    public static ModelRouteMember MemberFromSpec(LlmInferenceServiceSpec s) => s.Scheduler
        ? new(s.Name, s.Namespace, string.IsNullOrEmpty(s.ModelName) ? s.Name : s.ModelName, "inference.networking.x-k8s.io", "InferencePool", $"{s.Name}-inference-pool", null, s.Pattern == DeploymentPattern.CacheAware)
        : new(s.Name, s.Namespace, string.IsNullOrEmpty(s.ModelName) ? s.Name : s.ModelName, "", "Service", $"{s.Name}-kserve-workload-svc", 8000, false);

    /// <summary>Checks the members can share one route; throws RhaiiException otherwise.</summary>
    public static void Validate(string name, IReadOnlyList<ModelRouteMember> members, InferenceGatewayClass gatewayClass)
    {
        if (!System.Text.RegularExpressions.Regex.IsMatch(name, "^[a-z]([-a-z0-9]{0,40}[a-z0-9])?$"))
            throw new RhaiiException("InvalidModelRouteName", RhaiiErrorCategory.InvalidArgument,
                $"'{name}' is not a valid model route name: lower-case letters, digits and '-', starting with a letter, at most 42 characters.", "Use a name such as 'models' or 'chat'.", name);
        if (gatewayClass != InferenceGatewayClass.Istio)
            throw new RhaiiException("ModelRoutingNeedsIstioGateway", RhaiiErrorCategory.NotImplemented,
                $"Body-based model routing is generated for the Istio inference gateway; the {gatewayClass} gateway would need a GCPRoutingExtension, which RhaiiGke does not create.",
                "Deploy the services behind the Istio gateway (-GatewayClass Istio), or reach each model on its own path (/<namespace>/<service>/v1).", name);
        if (members.Count < 2)
            throw new RhaiiException("ModelRouteNeedsTwoModels", RhaiiErrorCategory.InvalidArgument,
                $"A model route needs at least two services; {members.Count} given.", "Pass two or more LLMInferenceServices (or specs) that serve different models.", name);
        var namespaces = members.Select(m => m.Namespace).Distinct(StringComparer.Ordinal).ToList();
        if (namespaces.Count > 1)
            throw new RhaiiException("ModelRouteNamespaceMismatch", RhaiiErrorCategory.InvalidArgument,
                $"The services are in different namespaces ({string.Join(", ", namespaces)}); an HTTPRoute reaches backends of other namespaces only with ReferenceGrants.",
                "Deploy every model of a shared URL in one namespace (-Namespace).", name);
        var dup = members.GroupBy(m => m.Model, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null)
            throw new RhaiiException("DuplicateServedModel", RhaiiErrorCategory.InvalidArgument,
                $"Services {string.Join(", ", dup.Select(m => m.Service))} all serve the model name '{dup.Key}': a request for it could reach either.",
                "Give each service its own served model name (New-LlmInferenceServiceSpec -ModelName), or scale one service instead (-Replicas).", dup.Key);
        if (members.FirstOrDefault(m => m.Service == name) is { } clash)
            throw new RhaiiException("ModelRouteNameClash", RhaiiErrorCategory.InvalidArgument,
                $"The model route '{name}' has the name of service {clash.Service}: its URL /{clash.Namespace}/{name}/v1 would shadow the service's own route.",
                "Pick a route name that is no service's name, e.g. 'models'.", name);
    }

    /// <summary>Everything the shared URL needs: the body-based router in the gateway's namespace, and the model route in the services' namespace.</summary>
    public static IReadOnlyList<ManifestObject> Build(string name, IReadOnlyList<ModelRouteMember> members, string gatewayName, string gatewayNamespace, InferenceGatewayClass gatewayClass = InferenceGatewayClass.Istio)
    {
        Validate(name, members, gatewayClass);
        var list = new List<ManifestObject>();
        list.AddRange(BodyBasedRouter(gatewayName, gatewayNamespace));
        var ns = members[0].Namespace;
        list.Add(ManifestBuilder.Make(Route(name, ns, members, gatewayName, gatewayNamespace), "routing", ManifestBuilder.OrderRouting));
        var cacheAware = members.Select((m, i) => (m, i)).Where(x => x.m.CacheAware && x.m.BackendKind == "InferencePool").Select(x => x.i).ToList();
        if (cacheAware.Count > 0) list.Add(ManifestBuilder.Make(BodyForwarding(name, ns, cacheAware, gatewayName, gatewayNamespace), "routing", ManifestBuilder.OrderRouting + 1));
        return ManifestBuilder.Sort(list);
    }

    /// <summary>The BBR Deployment, Service, the EnvoyFilter that inserts it first in the gateway's HTTP filters, and the DestinationRule for its self-signed TLS (chart body-based-routing v1.2.0, provider istio).</summary>
    public static IReadOnlyList<ManifestObject> BodyBasedRouter(string gatewayName, string gatewayNamespace)
    {
        var labels = new JsonObject { ["app"] = BbrName };
        var deployment = ManifestBuilder.Obj("apps/v1", "Deployment", BbrName, gatewayNamespace);
        deployment["metadata"]!["labels"] = labels.DeepClone();
        deployment["spec"] = new JsonObject
        {
            ["replicas"] = 1,
            ["selector"] = new JsonObject { ["matchLabels"] = labels.DeepClone() },
            ["template"] = new JsonObject
            {
                ["metadata"] = new JsonObject { ["labels"] = labels.DeepClone() },
                ["spec"] = new JsonObject
                {
                    ["containers"] = new JsonArray(new JsonObject
                    {
                        ["name"] = "bbr",
                        ["image"] = BbrImage,
                        ["imagePullPolicy"] = "IfNotPresent",
                        ["args"] = new JsonArray("--streaming", "--v", "3"),
                        ["ports"] = new JsonArray(
                            new JsonObject { ["containerPort"] = BbrPort, ["name"] = "grpc" },
                            new JsonObject { ["containerPort"] = BbrHealthPort, ["name"] = "grpc-health" }),
                        ["resources"] = new JsonObject { ["requests"] = new JsonObject { ["cpu"] = "100m", ["memory"] = "128Mi" } },
                    }),
                },
            },
        };
        var service = ManifestBuilder.Obj("v1", "Service", BbrName, gatewayNamespace);
        service["metadata"]!["labels"] = labels.DeepClone();
        service["spec"] = new JsonObject
        {
            ["type"] = "ClusterIP",
            ["selector"] = labels.DeepClone(),
            ["ports"] = new JsonArray(new JsonObject { ["name"] = "grpc", ["protocol"] = "TCP", ["port"] = BbrPort, ["targetPort"] = BbrPort, ["appProtocol"] = "HTTP2" }),
        };
        var filter = ManifestBuilder.Obj("networking.istio.io/v1alpha3", "EnvoyFilter", BbrName, gatewayNamespace);
        filter["spec"] = new JsonObject
        {
            // the chart applies to every workload of its namespace; only the inference gateway needs it
            ["workloadSelector"] = new JsonObject { ["labels"] = new JsonObject { [ManifestBuilder.GatewayNameLabel] = gatewayName } },
            ["configPatches"] = new JsonArray(new JsonObject
            {
                ["applyTo"] = "HTTP_FILTER",
                ["match"] = new JsonObject
                {
                    ["context"] = "GATEWAY",
                    ["listener"] = new JsonObject { ["filterChain"] = new JsonObject { ["filter"] = new JsonObject { ["name"] = "envoy.filters.network.http_connection_manager" } } },
                },
                ["patch"] = new JsonObject
                {
                    ["operation"] = "INSERT_FIRST",
                    ["value"] = new JsonObject
                    {
                        ["name"] = "envoy.filters.http.ext_proc",
                        ["typed_config"] = new JsonObject
                        {
                            ["@type"] = "type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor",
                            ["failure_mode_allow"] = false,
                            ["allow_mode_override"] = true,
                            ["processing_mode"] = new JsonObject
                            {
                                ["request_header_mode"] = "SEND",
                                ["response_header_mode"] = "SKIP",
                                ["request_body_mode"] = "FULL_DUPLEX_STREAMED",
                                ["response_body_mode"] = "NONE",
                                ["request_trailer_mode"] = "SEND",
                                ["response_trailer_mode"] = "SKIP",
                            },
                            ["grpc_service"] = new JsonObject
                            {
                                ["envoy_grpc"] = new JsonObject { ["cluster_name"] = $"outbound|{BbrPort}||{BbrName}.{gatewayNamespace}.svc.cluster.local" },
                            },
                        },
                    },
                },
            }),
        };
        var dr = ManifestBuilder.Obj("networking.istio.io/v1", "DestinationRule", BbrName, gatewayNamespace);
        dr["spec"] = new JsonObject
        {
            ["host"] = $"{BbrName}.{gatewayNamespace}.svc.cluster.local",
            ["trafficPolicy"] = new JsonObject { ["tls"] = new JsonObject { ["mode"] = "SIMPLE", ["insecureSkipVerify"] = true } },
        };
        return
        [
            ManifestBuilder.Make(deployment, "routing", ManifestBuilder.OrderRouting - 2),
            ManifestBuilder.Make(service, "routing", ManifestBuilder.OrderRouting - 2),
            ManifestBuilder.Make(dr, "routing", ManifestBuilder.OrderRouting - 1),
            ManifestBuilder.Make(filter, "routing", ManifestBuilder.OrderRouting - 1),
        ];
    }

    /// <summary>One rule per model: /&lt;ns&gt;/&lt;name&gt; with X-Gateway-Model-Name equal to the served name, rewritten to / (as KServe's catch-all rule), to the model's backend.</summary>
    public static JsonObject Route(string name, string ns, IReadOnlyList<ModelRouteMember> members, string gatewayName, string gatewayNamespace)
    {
        var route = ManifestBuilder.Obj("gateway.networking.k8s.io/v1", "HTTPRoute", name + RouteSuffix, ns);
        route["metadata"]!["labels"] = new JsonObject { [ManifestBuilder.ManagedByLabel] = "rhaiigke", ["rhaiigke.io/model-route"] = name };
        var rules = new JsonArray();
        foreach (var m in members)
        {
            var backend = new JsonObject();
            if (m.BackendGroup.Length > 0) backend["group"] = m.BackendGroup;
            backend["kind"] = m.BackendKind;
            backend["name"] = m.BackendName;
            if (m.BackendPort is { } port) backend["port"] = port;
            rules.Add(new JsonObject
            {
                ["backendRefs"] = new JsonArray(backend),
                ["matches"] = new JsonArray(new JsonObject
                {
                    ["path"] = new JsonObject { ["type"] = "PathPrefix", ["value"] = PathPrefix(ns, name) },
                    ["headers"] = new JsonArray(new JsonObject { ["type"] = "Exact", ["name"] = ModelHeader, ["value"] = m.Model }),
                }),
                ["filters"] = new JsonArray(new JsonObject
                {
                    ["type"] = "URLRewrite",
                    ["urlRewrite"] = new JsonObject { ["path"] = new JsonObject { ["type"] = "ReplacePrefixMatch", ["replacePrefixMatch"] = "/" } },
                }),
                // as KServe's own route: no gateway timeout on long generations
                ["timeouts"] = new JsonObject { ["request"] = "0s", ["backendRequest"] = "0s" },
            });
        }
        route["spec"] = new JsonObject
        {
            ["parentRefs"] = new JsonArray(new JsonObject
            {
                ["group"] = "gateway.networking.k8s.io",
                ["kind"] = "Gateway",
                ["name"] = gatewayName,
                ["namespace"] = gatewayNamespace,
            }),
            ["rules"] = rules,
        };
        return route;
    }

    /// <summary>The EPP body-forwarding override (as for a cache-aware service's own route) on the model route's pool rules.</summary>
    public static JsonObject BodyForwarding(string name, string ns, IReadOnlyList<int> poolRules, string gatewayName, string gatewayNamespace)
    {
        var spec = new LlmInferenceServiceSpec { Name = name, Namespace = ns, GatewayName = gatewayName, GatewayNamespace = gatewayNamespace };
        var filter = ManifestBuilder.BodyForwardingEnvoyFilter(spec, poolRules);
        filter["metadata"]!["name"] = $"{name}-{ns}-model-route-epp-body";
        foreach (var patch in filter["spec"]!["configPatches"]!.AsArray().OfType<JsonObject>().Select((p, i) => (p, i)))
            patch.p["match"]!["routeConfiguration"]!["vhost"]!["route"]!["name"] = $"{ns}.{name}{RouteSuffix}.{poolRules[patch.i]}";
        return filter;
    }
}
