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
    /// <summary>The model list behind GET /&lt;ns&gt;/&lt;name&gt;/v1/models: a Red Hat UBI nginx serving a static OpenAI list from a ConfigMap.</summary>
    public const string ModelsSuffix = "-models";
    public const string ModelsImage = "registry.access.redhat.com/ubi9/nginx-124:9.5-1744135631";
    public const int ModelsPort = 8080;
    /// <summary>Where the UBI nginx image includes server-level snippets (its default server on 8080), and where the list is mounted.</summary>
    public const string NginxServerConfDir = "/opt/app-root/etc/nginx.default.d", ModelsDir = "/opt/app-root/models";
    public const string ChecksumAnnotation = "rhaiigke.io/models-checksum";
    /// <summary>The HTTPRoute annotation listing the member LLMInferenceServices (Remove-InferenceModelRoute reads it).</summary>
    public const string ServicesAnnotation = "rhaiigke.io/model-route-services";
    /// <summary>Gateway API allows 16 rules per HTTPRoute: one per model plus the model list.</summary>
    public const int MaxModels = 15;

    /// <summary>The shared URL path: /&lt;namespace&gt;/&lt;name&gt;; clients use http://&lt;gateway&gt;/&lt;ns&gt;/&lt;name&gt;/v1.</summary>
    public static string PathPrefix(string ns, string name) => $"/{ns}/{name}";

    /// <summary>What KServe's route sends a spec's model traffic to, before the cluster says otherwise (Istio 1.27 speaks the x-k8s InferencePool group).</summary>
    public static ModelRouteMember MemberFromSpec(LlmInferenceServiceSpec s) => s.Scheduler
        ? new(s.Name, s.Namespace, string.IsNullOrEmpty(s.ModelName) ? s.Name : s.ModelName, "inference.networking.x-k8s.io", "InferencePool", $"{s.Name}-inference-pool", null, s.Pattern == DeploymentPattern.CacheAware)
        : new(s.Name, s.Namespace, string.IsNullOrEmpty(s.ModelName) ? s.Name : s.ModelName, "", "Service", $"{s.Name}-kserve-workload-svc", 8000, false);

    /// <summary>Checks the members can share one route; throws RhaiiException otherwise.</summary>
    public static void Validate(string name, IReadOnlyList<ModelRouteMember> members, InferenceGatewayClass gatewayClass, int minimum = 2)
    {
        if (!System.Text.RegularExpressions.Regex.IsMatch(name, "^[a-z]([-a-z0-9]{0,40}[a-z0-9])?$"))
            throw new RhaiiException("InvalidModelRouteName", RhaiiErrorCategory.InvalidArgument,
                $"'{name}' is not a valid model route name: lower-case letters, digits and '-', starting with a letter, at most 42 characters.", "Use a name such as 'models' or 'chat'.", name);
        if (gatewayClass != InferenceGatewayClass.Istio)
            throw new RhaiiException("ModelRoutingNeedsIstioGateway", RhaiiErrorCategory.NotImplemented,
                $"Body-based model routing is generated for the Istio inference gateway; the {gatewayClass} gateway would need a GCPRoutingExtension, which RhaiiGke does not create.",
                "Deploy the services behind the Istio gateway (-GatewayClass Istio), or reach each model on its own path (/<namespace>/<service>/v1).", name);
        if (members.Count > MaxModels)
            throw new RhaiiException("TooManyRoutedModels", RhaiiErrorCategory.InvalidArgument,
                $"A model route holds at most {MaxModels} models (an HTTPRoute has at most 16 rules: one per model and one for /v1/models); {members.Count} given.",
                "Split the models over two routes (two New-InferenceModelRoute names).", name);
        if (members.Count < minimum)
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
    public static IReadOnlyList<ManifestObject> Build(string name, IReadOnlyList<ModelRouteMember> members, string gatewayName, string gatewayNamespace, InferenceGatewayClass gatewayClass = InferenceGatewayClass.Istio,
        int minimum = 2)
    {
        Validate(name, members, gatewayClass, minimum);
        var list = new List<ManifestObject>();
        list.AddRange(BodyBasedRouter(gatewayName, gatewayNamespace));
        var ns = members[0].Namespace;
        list.AddRange(ModelList(name, ns, members.Select(m => m.Model).ToList()));
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
        route["metadata"]!["annotations"] = new JsonObject { [ServicesAnnotation] = string.Join(",", members.Select(m => m.Service)) };
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
        // GET /v1/models has no body, so the body-based router cannot pick a model for it: an Exact path match (which
        // Gateway API ranks above every PathPrefix match, whatever their headers) sends it to the model list. Last rule,
        // so the per-model rule indices (route names the body-forwarding EnvoyFilter patches) stay 0..n-1.
        rules.Add(new JsonObject
        {
            ["backendRefs"] = new JsonArray(new JsonObject { ["kind"] = "Service", ["name"] = name + ModelsSuffix, ["port"] = ModelsPort }),
            ["matches"] = new JsonArray(new JsonObject
            {
                ["path"] = new JsonObject { ["type"] = "Exact", ["value"] = PathPrefix(ns, name) + "/v1/models" },
                ["method"] = "GET",
            }),
            ["filters"] = new JsonArray(new JsonObject
            {
                ["type"] = "URLRewrite",
                ["urlRewrite"] = new JsonObject { ["path"] = new JsonObject { ["type"] = "ReplaceFullPath", ["replaceFullPath"] = "/v1/models" } },
            }),
        });
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

    /// <summary>The OpenAI model list of a route (GET /v1/models): every served name, in the route's order.</summary>
    public static string ModelListJson(IReadOnlyList<string> models)
    {
        var data = new JsonArray();
        foreach (var m in models)
            data.Add(new JsonObject { ["id"] = m, ["object"] = "model", ["created"] = 0, ["owned_by"] = "rhaiigke", ["root"] = m });
        return new JsonObject { ["object"] = "list", ["data"] = data }.ToJsonString();
    }

    /// <summary>
    /// The model list service: a ConfigMap with the list and an nginx server snippet, a Deployment of the Red Hat UBI nginx
    /// image that serves it on 8080 (readiness probe on the list itself), and a Service. The pod template carries a checksum
    /// of the list, so adding or removing a model rolls the pod (a mounted ConfigMap alone changes only after the kubelet's sync).
    /// </summary>
    public static IReadOnlyList<ManifestObject> ModelList(string name, string ns, IReadOnlyList<string> models)
    {
        var app = name + ModelsSuffix;
        var labels = new JsonObject { ["app.kubernetes.io/name"] = app, ["rhaiigke.io/model-route"] = name, [ManifestBuilder.ManagedByLabel] = "rhaiigke" };
        var json = ModelListJson(models);
        var checksum = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(json)))[..16].ToLowerInvariant();
        var cm = ManifestBuilder.Obj("v1", "ConfigMap", app, ns);
        cm["metadata"]!["labels"] = labels.DeepClone();
        cm["data"] = new JsonObject
        {
            ["models.json"] = json,
            ["models.conf"] = "location = /v1/models {\n    default_type application/json;\n    alias " + ModelsDir + "/models.json;\n}\n",
        };
        var selector = new JsonObject { ["app.kubernetes.io/name"] = app };
        var deployment = ManifestBuilder.Obj("apps/v1", "Deployment", app, ns);
        deployment["metadata"]!["labels"] = labels.DeepClone();
        deployment["spec"] = new JsonObject
        {
            ["replicas"] = 1,
            ["selector"] = new JsonObject { ["matchLabels"] = selector.DeepClone() },
            ["template"] = new JsonObject
            {
                ["metadata"] = new JsonObject { ["labels"] = labels.DeepClone(), ["annotations"] = new JsonObject { [ChecksumAnnotation] = checksum } },
                ["spec"] = new JsonObject
                {
                    ["containers"] = new JsonArray(new JsonObject
                    {
                        ["name"] = "nginx",
                        ["image"] = ModelsImage,
                        ["imagePullPolicy"] = "IfNotPresent",
                        // the image's own CMD is the s2i usage script, which prints help and exits
                        ["command"] = new JsonArray("nginx", "-g", "daemon off;"),
                        ["ports"] = new JsonArray(new JsonObject { ["containerPort"] = ModelsPort, ["name"] = "http" }),
                        ["readinessProbe"] = new JsonObject
                        {
                            ["httpGet"] = new JsonObject { ["path"] = "/v1/models", ["port"] = ModelsPort },
                            ["periodSeconds"] = 5,
                        },
                        ["resources"] = new JsonObject { ["requests"] = new JsonObject { ["cpu"] = "10m", ["memory"] = "32Mi" } },
                        ["volumeMounts"] = new JsonArray(
                            new JsonObject { ["name"] = "server-conf", ["mountPath"] = NginxServerConfDir, ["readOnly"] = true },
                            new JsonObject { ["name"] = "models", ["mountPath"] = ModelsDir, ["readOnly"] = true }),
                    }),
                    ["volumes"] = new JsonArray(
                        new JsonObject
                        {
                            ["name"] = "server-conf",
                            ["configMap"] = new JsonObject { ["name"] = app, ["items"] = new JsonArray(new JsonObject { ["key"] = "models.conf", ["path"] = "models.conf" }) },
                        },
                        new JsonObject
                        {
                            ["name"] = "models",
                            ["configMap"] = new JsonObject { ["name"] = app, ["items"] = new JsonArray(new JsonObject { ["key"] = "models.json", ["path"] = "models.json" }) },
                        }),
                },
            },
        };
        var service = ManifestBuilder.Obj("v1", "Service", app, ns);
        service["metadata"]!["labels"] = labels.DeepClone();
        service["spec"] = new JsonObject
        {
            ["type"] = "ClusterIP",
            ["selector"] = selector.DeepClone(),
            ["ports"] = new JsonArray(new JsonObject { ["name"] = "http", ["protocol"] = "TCP", ["port"] = ModelsPort, ["targetPort"] = ModelsPort }),
        };
        return
        [
            ManifestBuilder.Make(cm, "routing", ManifestBuilder.OrderRouting - 3), // before the Deployment: its new pod mounts the new list
            ManifestBuilder.Make(deployment, "routing", ManifestBuilder.OrderRouting - 2),
            ManifestBuilder.Make(service, "routing", ManifestBuilder.OrderRouting - 2),
        ];
    }

    /// <summary>The EPP body-forwarding override (as for a cache-aware service's own route) on the model route's pool rules.</summary>
    public static JsonObject BodyForwarding(string name, string ns, IReadOnlyList<int> poolRules, string gatewayName, string gatewayNamespace)
    {
        var spec = new LlmInferenceServiceSpec { Name = name, Namespace = ns, GatewayName = gatewayName, GatewayNamespace = gatewayNamespace };
        var filter = ManifestBuilder.BodyForwardingEnvoyFilter(spec, poolRules);
        filter["metadata"]!["name"] = $"{name}-{ns}-model-route-epp-body"; // ModelRouteDeployer.BodyForwardingName
        foreach (var patch in filter["spec"]!["configPatches"]!.AsArray().OfType<JsonObject>().Select((p, i) => (p, i)))
            patch.p["match"]!["routeConfiguration"]!["vhost"]!["route"]!["name"] = $"{ns}.{name}{RouteSuffix}.{poolRules[patch.i]}";
        return filter;
    }
}
