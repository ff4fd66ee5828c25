using System.Text.Json.Nodes;

namespace RhaiiGke.Engine.Manifests;

/// <summary>
/// Renders specs into Kubernetes objects. Names, labels and ports follow what KServe's
/// LLMInferenceService controller creates (release-v0.15), so policies and filters select the real
/// pods and routes.
/// </summary>
public static class ManifestBuilder
{
    public const string PartOfLabel = "app.kubernetes.io/part-of";
    public const string ManagedByLabel = "app.kubernetes.io/managed-by";
    public const string WorkloadComponent = "llminferenceservice-workload";
    public const string SchedulerComponent = "llminferenceservice-router-scheduler";
    public const string GatewayNameLabel = "gateway.networking.k8s.io/gateway-name";
    public const string TpuAcceleratorLabel = "cloud.google.com/gke-tpu-accelerator";
    public const string TpuTopologyLabel = "cloud.google.com/gke-tpu-topology";
    public const string Placeholder = "REPLACE_ME";

    // Apply order bands.
    public const int OrderNamespace = 0, OrderPki = 10, OrderSecret = 20, OrderConfig = 25, OrderGateway = 30,
        OrderServiceAccount = 35, OrderRouteConfig = 38, OrderService = 40, OrderPolicy = 50, OrderRouting = 60;

    /// <summary>The whole stack of a pattern: platform objects (PKI, gateway) plus the service.</summary>
    public static IReadOnlyList<ManifestObject> BuildPattern(LlmInferenceServiceSpec spec) =>
        Sort(BuildPlatform(spec.GatewayName, spec.GatewayNamespace, spec.GatewayClass, spec.PullSecretName).Concat(BuildService(spec)));

    /// <summary>Objects every service shares: the KServe PKI chain and the inference Gateway.</summary>
    public static IReadOnlyList<ManifestObject> BuildPlatform(string gatewayName, string gatewayNamespace, InferenceGatewayClass gatewayClass, string? pullSecret)
    {
        var list = new List<ManifestObject>
        {
            Make(Namespace(gatewayNamespace, null), "namespace", OrderNamespace),
        };
        list.AddRange(BuildPki());
        list.AddRange(BuildGateway(gatewayName, gatewayNamespace, gatewayClass, pullSecret));
        return Sort(list);
    }

    /// <summary>
    /// The cert-manager chain KServe's odh-xks overlay expects: a self-signed ClusterIssuer, the CA
    /// Certificate in cert-manager, and the CA ClusterIssuer opendatahub-ca-issuer.
    /// </summary>
    public static IReadOnlyList<ManifestObject> BuildPki()
    {
        var selfSigned = Obj("cert-manager.io/v1", "ClusterIssuer", "opendatahub-selfsigned-issuer", null);
        selfSigned["spec"] = new JsonObject { ["selfSigned"] = new JsonObject() };
        var ca = Obj("cert-manager.io/v1", "Certificate", "opendatahub-ca", "cert-manager");
        ca["spec"] = new JsonObject
        {
            ["secretName"] = "opendatahub-ca",
            ["isCA"] = true,
            ["commonName"] = "opendatahub-ca",
            ["duration"] = "87600h",
            ["renewBefore"] = "2160h",
            ["privateKey"] = new JsonObject { ["algorithm"] = "ECDSA", ["size"] = 256 },
            ["issuerRef"] = IssuerRef("opendatahub-selfsigned-issuer"),
        };
        var caIssuer = Obj("cert-manager.io/v1", "ClusterIssuer", "opendatahub-ca-issuer", null);
        caIssuer["spec"] = new JsonObject { ["ca"] = new JsonObject { ["secretName"] = "opendatahub-ca" } };
        return
        [
            Make(selfSigned, "pki", OrderPki),
            Make(ca, "pki", OrderPki + 1),
            Make(caIssuer, "pki", OrderPki + 2),
        ];
    }

    public static IReadOnlyList<ManifestObject> BuildGateway(string name, string ns, InferenceGatewayClass gatewayClass, string? pullSecret)
    {
        var list = new List<ManifestObject>();
        var gw = Obj("gateway.networking.k8s.io/v1", "Gateway", name, ns);
        var spec = new JsonObject
        {
            ["gatewayClassName"] = GatewayClassName(gatewayClass),
            ["listeners"] = new JsonArray(new JsonObject
            {
                ["name"] = "http",
                ["port"] = 80,
                ["protocol"] = "HTTP",
                ["allowedRoutes"] = new JsonObject { ["namespaces"] = new JsonObject { ["from"] = "All" } },
            }),
        };
        gw["spec"] = spec;

        if (gatewayClass == InferenceGatewayClass.Istio)
        {
            // The CA bundle the gateway needs to trust KServe's backends: a certificate issued by the CA
            // issuer carries the CA in ca.crt, so no manual copy of the CA secret is needed.
            var bundle = Obj("cert-manager.io/v1", "Certificate", $"{name}-ca-bundle", ns);
            bundle["spec"] = new JsonObject
            {
                ["secretName"] = $"{name}-ca-bundle",
                ["commonName"] = $"{name}.{ns}.svc",
                ["dnsNames"] = new JsonArray($"{name}-istio.{ns}.svc", $"{name}-istio.{ns}.svc.cluster.local"),
                ["duration"] = "8760h",
                ["issuerRef"] = IssuerRef("opendatahub-ca-issuer"),
            };
            list.Add(Make(bundle, "gateway", OrderConfig));

            // Istio gateway customization (parametersRef): mount the CA where KServe expects it and give the
            // generated ServiceAccount the pull secret from the start (no patch-and-restart).
            var deployment = $"spec:\n  template:\n    spec:\n      volumes:\n      - name: odh-ca-bundle\n        secret:\n          secretName: {name}-ca-bundle\n          items:\n          - key: ca.crt\n            path: ca.crt\n      containers:\n      - name: istio-proxy\n        volumeMounts:\n        - name: odh-ca-bundle\n          mountPath: /var/run/secrets/opendatahub\n          readOnly: true\n";
            var data = new JsonObject { ["deployment"] = deployment };
            if (pullSecret is not null) data["serviceAccount"] = $"imagePullSecrets:\n- name: {pullSecret}\n";
            var cfg = Obj("v1", "ConfigMap", $"{name}-config", ns);
            cfg["data"] = data;
            list.Add(Make(cfg, "gateway", OrderConfig + 1));
            spec["infrastructure"] = new JsonObject
            {
                ["labels"] = new JsonObject { ["serving.kserve.io/gateway"] = "kserve-ingress-gateway" },
                ["parametersRef"] = new JsonObject { ["group"] = "", ["kind"] = "ConfigMap", ["name"] = $"{name}-config" },
            };
            if (pullSecret is not null) list.Add(Make(PullSecret(pullSecret, ns), "secret", OrderSecret, placeholders: true));
        }
        else
        {
            spec["infrastructure"] = new JsonObject { ["labels"] = new JsonObject { ["serving.kserve.io/gateway"] = "kserve-ingress-gateway" } };
        }
        list.Add(Make(gw, "gateway", OrderGateway));
        return list;
    }

    public static string GatewayClassName(InferenceGatewayClass c) => c switch
    {
        InferenceGatewayClass.Istio => "istio",
        InferenceGatewayClass.GkeRegionalExternal => "gke-l7-regional-external-managed",
        InferenceGatewayClass.GkeRegionalInternal => "gke-l7-rilb",
        _ => throw new ArgumentOutOfRangeException(nameof(c)),
    };

    /// <summary>Everything one LLMInferenceService needs in its own namespace.</summary>
    public static IReadOnlyList<ManifestObject> BuildService(LlmInferenceServiceSpec s)
    {
        var list = new List<ManifestObject>
        {
            Make(Namespace(s.Namespace, new JsonObject { ["istio-injection"] = "disabled" }), "namespace", OrderNamespace),
        };
        if (s.HuggingFaceTokenSecret is not null) list.Add(Make(HfSecret(s.HuggingFaceTokenSecret, s.Namespace), "secret", OrderSecret, placeholders: true));
        if (s.PullSecretName is not null) list.Add(Make(PullSecret(s.PullSecretName, s.Namespace), "secret", OrderSecret + 1, placeholders: true));
        list.Add(Make(ServiceAccount(s), "workload", OrderServiceAccount));
        if (s.GatewayClass != InferenceGatewayClass.Istio) list.Add(Make(RouteConfigWithoutTimeouts(s), "routing", OrderRouteConfig));
        if (s.Hosts > 1) list.Add(Make(MultiHostManifests.PipelineConfig(s), "workload", OrderRouteConfig + 1));
        list.Add(Make(LlmInferenceService(s), "workload", OrderService));
        var order = OrderPolicy;
        foreach (var p in NetworkPolicies(s)) list.Add(Make(p, "policy", order++));
        foreach (var p in MultiHostManifests.NetworkPolicies(s)) list.Add(Make(p, "policy", order++));
        if (s.Pattern == DeploymentPattern.CacheAware && s.Scheduler && s.GatewayClass == InferenceGatewayClass.Istio)
            list.Add(Make(BodyForwardingEnvoyFilter(s), "routing", OrderRouting));
        if (s.GatewayClass != InferenceGatewayClass.Istio)
            foreach (var hc in HealthCheckPolicies(s)) list.Add(Make(hc, "routing", OrderRouting + 1));
        return Sort(list);
    }

    public static JsonObject LlmInferenceService(LlmInferenceServiceSpec s)
    {
        var o = Obj("serving.kserve.io/v1alpha1", "LLMInferenceService", s.Name, s.Namespace);
        var args = new List<string> { $"--tensor-parallel-size={s.TensorParallelSize}", $"--max-model-len={s.MaxModelLength}" };
        if (s.PrefixCaching) args.Add("--enable-prefix-caching");
        args.AddRange(MultiHostManifests.VllmArguments(s));
        args.AddRange(s.VllmArguments);
        var env = new JsonArray(
            new JsonObject { ["name"] = "VLLM_ADDITIONAL_ARGS", ["value"] = string.Join(' ', args) },
            new JsonObject { ["name"] = "PJRT_DEVICE", ["value"] = "TPU" });
        var container = new JsonObject
        {
            ["name"] = "main",
            ["image"] = s.Image,
            ["env"] = env,
            ["resources"] = new JsonObject
            {
                ["requests"] = new JsonObject { ["google.com/tpu"] = s.ChipsPerHost.ToString() },
                ["limits"] = new JsonObject { ["google.com/tpu"] = s.ChipsPerHost.ToString() },
            },
            // Model download plus XLA compilation take minutes: the startup probe holds liveness off until
            // /health answers, without slowing the detection of a hung server afterwards.
            ["startupProbe"] = new JsonObject
            {
                ["httpGet"] = new JsonObject { ["path"] = "/health", ["port"] = 8000, ["scheme"] = "HTTPS" },
                ["periodSeconds"] = 10,
                ["timeoutSeconds"] = 5,
                ["failureThreshold"] = (int)Math.Ceiling(s.StartupTimeoutSeconds / 10.0),
            },
        };
        var template = new JsonObject
        {
            ["serviceAccountName"] = s.ServiceAccountName,
            ["nodeSelector"] = new JsonObject
            {
                [TpuAcceleratorLabel] = s.NodeLabel,
                [TpuTopologyLabel] = s.Topology,
            },
            ["tolerations"] = new JsonArray(new JsonObject
            {
                ["key"] = "google.com/tpu",
                ["operator"] = "Equal",
                ["value"] = "present",
                ["effect"] = "NoSchedule",
            }),
            ["containers"] = new JsonArray(container),
        };
        var router = new JsonObject
        {
            ["route"] = new JsonObject(),
            ["gateway"] = new JsonObject
            {
                ["refs"] = new JsonArray(new JsonObject { ["name"] = s.GatewayName, ["namespace"] = s.GatewayNamespace }),
            },
        };
        if (s.Scheduler)
        {
            // KServe (release-v0.15) gives the EPP's <name>-epp-sa no imagePullSecrets and runs the EPP pod from the
            // merged scheduler template (pkg/controller/llmisvc/scheduler.go), so the pull secret for the
            // registry.redhat.io scheduler image goes on the template; it merges with the preset's containers by name.
            router["scheduler"] = s.PullSecretName is null ? new JsonObject() : new JsonObject
            {
                ["template"] = new JsonObject { ["imagePullSecrets"] = new JsonArray(new JsonObject { ["name"] = s.PullSecretName }) },
            };
        }
        o["metadata"]!["labels"] = new JsonObject
        {
            [ManagedByLabel] = "rhaiigke",
            ["rhaiigke.io/pattern"] = s.Pattern.ToString(),
        };
        o["metadata"]!["annotations"] = new JsonObject
        {
            ["rhaiigke.io/accelerator"] = $"{s.Accelerator} {s.MachineType} {s.Topology}",
        };
        GcsModels.AddDownload(s, o, template, container);
        o["spec"] = new JsonObject
        {
            ["model"] = new JsonObject { ["uri"] = GcsModels.KServeModelUri(s), ["name"] = s.ModelName },
            ["replicas"] = s.Replicas,
            ["parallelism"] = new JsonObject { ["tensor"] = s.TensorParallelSize },
            ["template"] = template,
            ["router"] = router,
        };
        MultiHostManifests.Apply(s, o);
        if (Catalog.GpuCatalog.IsGpu(s.Accelerator)) GpuManifests.ApplyGpu(o, s);
        return o;
    }

    private static JsonObject ServiceAccount(LlmInferenceServiceSpec s)
    {
        var sa = Obj("v1", "ServiceAccount", s.ServiceAccountName, s.Namespace);
        // KServe's storage initializer reads HF_TOKEN only from secrets listed on the pod's ServiceAccount.
        if (s.HuggingFaceTokenSecret is not null) sa["secrets"] = new JsonArray(new JsonObject { ["name"] = s.HuggingFaceTokenSecret });
        if (s.PullSecretName is not null) sa["imagePullSecrets"] = new JsonArray(new JsonObject { ["name"] = s.PullSecretName });
        GcsModels.AnnotateServiceAccount(s, sa);
        return sa;
    }

    public static JsonObject HfSecret(string name, string ns)
    {
        var o = Obj("v1", "Secret", name, ns);
        o["type"] = "Opaque";
        o["stringData"] = new JsonObject { ["HF_TOKEN"] = Placeholder };
        return o;
    }

    public static JsonObject PullSecret(string name, string ns)
    {
        var o = Obj("v1", "Secret", name, ns);
        o["type"] = "kubernetes.io/dockerconfigjson";
        o["stringData"] = new JsonObject
        {
            [".dockerconfigjson"] = $"{{\"auths\":{{\"registry.redhat.io\":{{\"auth\":\"{Placeholder}\"}}}}}}",
        };
        return o;
    }

    /// <summary>
    /// A namespace-local copy of kserve-config-llm-router-route without HTTPRoute timeouts, which GKE
    /// gateways reject (GWCER104). KServe looks configs up in the service's namespace first, so the
    /// global config stays untouched. GKE implements the v1 InferencePool group only.
    /// </summary>
    public static JsonObject RouteConfigWithoutTimeouts(LlmInferenceServiceSpec s)
    {
        var o = Obj("serving.kserve.io/v1alpha1", "LLMInferenceServiceConfig", "kserve-config-llm-router-route", s.Namespace);
        JsonObject PoolRule(string path) => new()
        {
            ["backendRefs"] = new JsonArray(new JsonObject
            {
                ["group"] = "inference.networking.k8s.io",
                ["kind"] = "InferencePool",
                ["name"] = "{{ ChildName .ObjectMeta.Name `-inference-pool` }}",
                ["port"] = 8000,
            }),
            ["matches"] = new JsonArray(new JsonObject
            {
                ["path"] = new JsonObject { ["type"] = "PathPrefix", ["value"] = "/{{ .ObjectMeta.Namespace }}/{{ .ObjectMeta.Name }}" + path },
            }),
            ["filters"] = new JsonArray(Rewrite(path)),
        };
        var catchAll = new JsonObject
        {
            ["backendRefs"] = new JsonArray(new JsonObject
            {
                ["kind"] = "Service",
                ["name"] = "{{ ChildName .ObjectMeta.Name `-kserve-workload-svc` }}",
                ["port"] = 8000,
            }),
            ["matches"] = new JsonArray(new JsonObject
            {
                ["path"] = new JsonObject { ["type"] = "PathPrefix", ["value"] = "/{{ .ObjectMeta.Namespace }}/{{ .ObjectMeta.Name }}" },
            }),
            ["filters"] = new JsonArray(Rewrite("/")),
        };
        o["spec"] = new JsonObject
        {
            ["router"] = new JsonObject
            {
                ["route"] = new JsonObject
                {
                    ["http"] = new JsonObject
                    {
                        ["spec"] = new JsonObject
                        {
                            ["parentRefs"] = new JsonArray(new JsonObject
                            {
                                ["group"] = "gateway.networking.k8s.io",
                                ["kind"] = "Gateway",
                                ["name"] = s.GatewayName,
                                ["namespace"] = s.GatewayNamespace,
                            }),
                            ["rules"] = new JsonArray(PoolRule("/v1/completions"), PoolRule("/v1/chat/completions"), catchAll),
                        },
                    },
                },
            },
        };
        return o;

        static JsonObject Rewrite(string to) => new()
        {
            ["type"] = "URLRewrite",
            ["urlRewrite"] = new JsonObject { ["path"] = new JsonObject { ["type"] = "ReplacePrefixMatch", ["replacePrefixMatch"] = to } },
        };
    }

    /// <summary>Istio route names KServe's HTTPRoute produces: &lt;ns&gt;.&lt;name&gt;-kserve-route.&lt;rule index&gt;.</summary>
    public static string IstioRouteName(string ns, string name, int rule) => $"{ns}.{name}-kserve-route.{rule}";

    /// <summary>
    /// Forwards request bodies to the EPP (FULL_DUPLEX_STREAMED) on the two InferencePool rules only;
    /// rule 2 is the catch-all Service route, which never reaches the EPP.
    /// </summary>
    public static JsonObject BodyForwardingEnvoyFilter(LlmInferenceServiceSpec s) => BodyForwardingEnvoyFilter(s, [0, 1]);

    /// <summary>The filter for the given rule indexes of the service's HTTPRoute (those whose backend is an InferencePool).</summary>
    public static JsonObject BodyForwardingEnvoyFilter(LlmInferenceServiceSpec s, IReadOnlyList<int> poolRules)
    {
        var o = Obj("networking.istio.io/v1alpha3", "EnvoyFilter", $"{s.Name}-{s.Namespace}-epp-body", s.GatewayNamespace);
        var patches = new JsonArray();
        foreach (var rule in poolRules)
        {
            patches.Add(new JsonObject
            {
                ["applyTo"] = "HTTP_ROUTE",
                ["match"] = new JsonObject
                {
                    ["context"] = "GATEWAY",
                    ["routeConfiguration"] = new JsonObject
                    {
                        ["vhost"] = new JsonObject { ["route"] = new JsonObject { ["name"] = IstioRouteName(s.Namespace, s.Name, rule) } },
                    },
                },
                ["patch"] = new JsonObject
                {
                    ["operation"] = "MERGE",
                    ["value"] = new JsonObject
                    {
                        ["typed_per_filter_config"] = new JsonObject
                        {
                            ["envoy.filters.http.ext_proc"] = new JsonObject
                            {
                                ["@type"] = "type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute",
                                ["overrides"] = new JsonObject
                                {
                                    ["processing_mode"] = new JsonObject
                                    {
                                        ["request_header_mode"] = "SEND",
                                        ["response_header_mode"] = "SEND",
                                        ["request_body_mode"] = "FULL_DUPLEX_STREAMED",
                                        ["request_trailer_mode"] = "SEND",
                                        ["response_body_mode"] = "NONE",
                                    },
                                },
                            },
                        },
                    },
                },
            });
        }
        o["spec"] = new JsonObject
        {
            ["workloadSelector"] = new JsonObject { ["labels"] = new JsonObject { [GatewayNameLabel] = s.GatewayName } },
            ["configPatches"] = patches,
        };
        return o;
    }

    /// <summary>
    /// Default deny, then exactly the flows the pattern needs, selected by the labels KServe puts on the
    /// workload and scheduler pods. Ingress to vLLM is admitted from the gateway's pods in the gateway's
    /// namespace and from the service's own EPP, not from every namespace.
    /// </summary>
    public static IReadOnlyList<JsonObject> NetworkPolicies(LlmInferenceServiceSpec s)
    {
        var list = new List<JsonObject>();
        var deny = Obj("networking.k8s.io/v1", "NetworkPolicy", $"{s.Name}-default-deny", s.Namespace);
        deny["spec"] = new JsonObject
        {
            ["podSelector"] = Selector(new JsonObject { [PartOfLabel] = "llminferenceservice", ["app.kubernetes.io/name"] = s.Name }),
            ["policyTypes"] = new JsonArray("Ingress"),
        };
        list.Add(deny);

        var workload = Selector(new JsonObject { ["app.kubernetes.io/component"] = WorkloadComponent, ["app.kubernetes.io/name"] = s.Name });
        var scheduler = Selector(new JsonObject { ["app.kubernetes.io/component"] = SchedulerComponent, ["app.kubernetes.io/name"] = s.Name });
        var gatewayPeer = s.GatewayClass == InferenceGatewayClass.Istio
            ? new JsonArray(new JsonObject
            {
                ["namespaceSelector"] = Selector(new JsonObject { ["kubernetes.io/metadata.name"] = s.GatewayNamespace }),
                ["podSelector"] = Selector(new JsonObject { [GatewayNameLabel] = s.GatewayName }),
            })
            // GKE's managed proxies and health checkers reach pods from the proxy-only subnet and Google's
            // health-check ranges, not from pods.
            : new JsonArray(
                new JsonObject { ["ipBlock"] = new JsonObject { ["cidr"] = "35.191.0.0/16" } },
                new JsonObject { ["ipBlock"] = new JsonObject { ["cidr"] = "130.211.0.0/22" } },
                new JsonObject { ["ipBlock"] = new JsonObject { ["cidr"] = "10.0.0.0/8" } });

        var toWorkload = Obj("networking.k8s.io/v1", "NetworkPolicy", $"{s.Name}-allow-gateway-to-vllm", s.Namespace);
        var from = gatewayPeer.DeepClone().AsArray();
        if (s.Scheduler) from.Add(new JsonObject { ["podSelector"] = scheduler.DeepClone() });
        toWorkload["spec"] = new JsonObject
        {
            ["podSelector"] = workload.DeepClone(),
            ["policyTypes"] = new JsonArray("Ingress"),
            ["ingress"] = new JsonArray(new JsonObject { ["from"] = from, ["ports"] = Ports(8000) }),
        };
        list.Add(toWorkload);

        if (s.Scheduler)
        {
            var toEpp = Obj("networking.k8s.io/v1", "NetworkPolicy", $"{s.Name}-allow-gateway-to-epp", s.Namespace);
            toEpp["spec"] = new JsonObject
            {
                ["podSelector"] = scheduler.DeepClone(),
                ["policyTypes"] = new JsonArray("Ingress"),
                ["ingress"] = new JsonArray(
                    new JsonObject { ["from"] = gatewayPeer.DeepClone(), ["ports"] = Ports(9002, 9003) },
                    new JsonObject { ["from"] = new JsonArray(new JsonObject { ["podSelector"] = new JsonObject() }), ["ports"] = Ports(9090) }),
            };
            list.Add(toEpp);
        }
        return list;
    }

    /// <summary>GKE health checks for the workload Service and the InferencePool, over HTTPS as KServe serves.</summary>
    public static IReadOnlyList<JsonObject> HealthCheckPolicies(LlmInferenceServiceSpec s)
    {
        JsonObject Policy(string name, string group, string kind, string target)
        {
            var o = Obj("networking.gke.io/v1", "HealthCheckPolicy", name, s.Namespace);
            o["spec"] = new JsonObject
            {
                ["default"] = new JsonObject
                {
                    ["checkIntervalSec"] = 15,
                    ["timeoutSec"] = 5,
                    ["healthyThreshold"] = 1,
                    ["unhealthyThreshold"] = 3,
                    ["logConfig"] = new JsonObject { ["enabled"] = true },
                    ["config"] = new JsonObject
                    {
                        ["type"] = "HTTPS",
                        ["httpsHealthCheck"] = new JsonObject { ["port"] = 8000, ["requestPath"] = "/health" },
                    },
                },
                ["targetRef"] = new JsonObject { ["group"] = group, ["kind"] = kind, ["name"] = target },
            };
            return o;
        }
        return
        [
            Policy($"{s.Name}-workload-health", "", "Service", $"{s.Name}-kserve-workload-svc"),
            Policy($"{s.Name}-pool-health", "inference.networking.k8s.io", "InferencePool", $"{s.Name}-inference-pool"),
        ];
    }

    private static JsonArray Ports(params int[] ports) =>
        new(ports.Select(p => (JsonNode)new JsonObject { ["protocol"] = "TCP", ["port"] = p }).ToArray());

    private static JsonObject Selector(JsonObject labels) => new() { ["matchLabels"] = labels };

    private static JsonObject IssuerRef(string name) => new() { ["name"] = name, ["kind"] = "ClusterIssuer", ["group"] = "cert-manager.io" };

    public static JsonObject Namespace(string name, JsonObject? labels)
    {
        var o = Obj("v1", "Namespace", name, null);
        if (labels is not null) o["metadata"]!["labels"] = labels;
        return o;
    }

    public static JsonObject Obj(string apiVersion, string kind, string name, string? ns)
    {
        var meta = new JsonObject { ["name"] = name };
        if (ns is not null) meta["namespace"] = ns;
        return new JsonObject { ["apiVersion"] = apiVersion, ["kind"] = kind, ["metadata"] = meta };
    }

    public static ManifestObject Make(JsonObject o, string component, int order, bool placeholders = false)
    {
        var kind = o["kind"]!.GetValue<string>();
        var name = o["metadata"]!["name"]!.GetValue<string>();
        var ns = o["metadata"]!["namespace"]?.GetValue<string>();
        return new ManifestObject
        {
            ApiVersion = o["apiVersion"]!.GetValue<string>(),
            Kind = kind,
            Name = name,
            Namespace = ns,
            Component = component,
            Order = order,
            FileName = $"{order:00}-{kind.ToLowerInvariant()}-{(ns is null ? "" : ns + "-")}{name}.yaml",
            Yaml = YamlCodec.Write(o),
            HasPlaceholders = placeholders,
        };
    }

    /// <summary>Stable order: apply band, then kind, namespace and name; duplicates (same object twice) removed.</summary>
    public static IReadOnlyList<ManifestObject> Sort(IEnumerable<ManifestObject> objects) =>
        objects.GroupBy(o => (o.ApiVersion, o.Kind, o.Namespace, o.Name)).Select(g => g.First())
            .OrderBy(o => o.Order).ThenBy(o => o.Kind, StringComparer.Ordinal).ThenBy(o => o.Namespace, StringComparer.Ordinal).ThenBy(o => o.Name, StringComparer.Ordinal)
            .ToList();
}
