using System.Text.Json.Nodes;

namespace RhaiiGke.Engine.Kube.Platform;

/// <summary>
/// Stand-in bundles the sandbox installs: the same CRD names, groups, versions and scopes, the same
/// operator Deployments, Services, ServiceAccounts and admission webhooks (with the same cert-manager
/// CA-injection wiring) as the upstream releases, with open CRD schemas. They are generated, not
/// copied, so the install path (phases, waits, webhooks, PKI) is the real one.
/// </summary>
internal static class SandboxBundles
{
    public static List<JsonObject> For(string component) => component switch
    {
        "cert-manager" => CertManager(),
        "istio" => Istio(),
        "lws" => Lws(),
        "kserve" => KServe(),
        _ => throw new ArgumentException($"unknown component {component}"),
    };

    // ------------------------------------------------------------------ builders

    private static JsonArray A(params JsonNode?[] items) => new(items);

    private static JsonObject Meta(string name, string? ns = null, JsonObject? labels = null, JsonObject? annotations = null)
    {
        var m = new JsonObject { ["name"] = name };
        if (ns is not null) m["namespace"] = ns;
        if (labels is not null) m["labels"] = labels;
        if (annotations is not null) m["annotations"] = annotations;
        return m;
    }

    private static JsonObject Ns(string name, JsonObject? labels = null) => new() { ["apiVersion"] = "v1", ["kind"] = "Namespace", ["metadata"] = Meta(name, labels: labels) };

    private static JsonObject Sa(string name, string ns) => new() { ["apiVersion"] = "v1", ["kind"] = "ServiceAccount", ["metadata"] = Meta(name, ns) };

    private static JsonObject ClusterRole(string name, params (string[] Groups, string[] Resources, string[] Verbs)[] rules) => new()
    {
        ["apiVersion"] = "rbac.authorization.k8s.io/v1", ["kind"] = "ClusterRole", ["metadata"] = Meta(name),
        ["rules"] = new JsonArray(rules.Select(r => (JsonNode)new JsonObject
        {
            ["apiGroups"] = new JsonArray(r.Groups.Select(g => (JsonNode)g).ToArray()),
            ["resources"] = new JsonArray(r.Resources.Select(g => (JsonNode)g).ToArray()),
            ["verbs"] = new JsonArray(r.Verbs.Select(g => (JsonNode)g).ToArray()),
        }).ToArray()),
    };

    private static JsonObject ClusterRoleBinding(string name, string role, string sa, string ns) => new()
    {
        ["apiVersion"] = "rbac.authorization.k8s.io/v1", ["kind"] = "ClusterRoleBinding", ["metadata"] = Meta(name),
        ["roleRef"] = new JsonObject { ["apiGroup"] = "rbac.authorization.k8s.io", ["kind"] = "ClusterRole", ["name"] = role },
        ["subjects"] = A(new JsonObject { ["kind"] = "ServiceAccount", ["name"] = sa, ["namespace"] = ns }),
    };

    private static readonly string[] All = ["*"];

    private static JsonObject Deployment(string name, string ns, JsonObject labels, string image, string sa, JsonArray? ports = null, JsonArray? args = null,
        JsonArray? volumes = null, JsonArray? mounts = null, JsonArray? env = null)
    {
        var container = new JsonObject { ["name"] = "manager", ["image"] = image, ["imagePullPolicy"] = "IfNotPresent" };
        if (args is not null) container["args"] = args;
        if (ports is not null) container["ports"] = ports;
        if (env is not null) container["env"] = env;
        if (mounts is not null) container["volumeMounts"] = mounts;
        container["resources"] = new JsonObject { ["requests"] = new JsonObject { ["cpu"] = "10m", ["memory"] = "64Mi" } };
        var podSpec = new JsonObject { ["serviceAccountName"] = sa, ["containers"] = A(container) };
        if (volumes is not null) podSpec["volumes"] = volumes;
        return new JsonObject
        {
            ["apiVersion"] = "apps/v1", ["kind"] = "Deployment",
            ["metadata"] = Meta(name, ns, labels.DeepClone().AsObject()),
            ["spec"] = new JsonObject
            {
                ["replicas"] = 1,
                ["selector"] = new JsonObject { ["matchLabels"] = labels.DeepClone() },
                ["template"] = new JsonObject { ["metadata"] = new JsonObject { ["labels"] = labels.DeepClone() }, ["spec"] = podSpec },
            },
        };
    }

    private static JsonObject Service(string name, string ns, JsonObject selector, params (string Name, int Port, int Target)[] ports) => new()
    {
        ["apiVersion"] = "v1", ["kind"] = "Service", ["metadata"] = Meta(name, ns, selector.DeepClone().AsObject()),
        ["spec"] = new JsonObject
        {
            ["selector"] = selector.DeepClone(),
            ["ports"] = new JsonArray(ports.Select(p => (JsonNode)new JsonObject { ["name"] = p.Name, ["port"] = p.Port, ["targetPort"] = p.Target, ["protocol"] = "TCP" }).ToArray()),
        },
    };

    private static JsonObject Webhook(string kind, string cfgName, string whName, string svc, string ns, string path, JsonArray rules, JsonObject? annotations,
        JsonObject? namespaceSelector = null, int timeout = 10, string failurePolicy = "Fail") => new()
    {
        ["apiVersion"] = "admissionregistration.k8s.io/v1", ["kind"] = kind, ["metadata"] = Meta(cfgName, annotations: annotations),
        ["webhooks"] = A(new JsonObject
        {
            ["name"] = whName, ["admissionReviewVersions"] = A("v1"), ["sideEffects"] = "None", ["failurePolicy"] = failurePolicy, ["timeoutSeconds"] = timeout,
            ["clientConfig"] = new JsonObject { ["service"] = new JsonObject { ["name"] = svc, ["namespace"] = ns, ["path"] = path, ["port"] = 443 } },
            ["rules"] = rules,
            ["namespaceSelector"] = namespaceSelector ?? new JsonObject(),
        }),
    };

    private static JsonObject Rule(string[] groups, string[] versions, string[] ops, string[] resources) => new()
    {
        ["apiGroups"] = new JsonArray(groups.Select(g => (JsonNode)g).ToArray()),
        ["apiVersions"] = new JsonArray(versions.Select(g => (JsonNode)g).ToArray()),
        ["operations"] = new JsonArray(ops.Select(g => (JsonNode)g).ToArray()),
        ["resources"] = new JsonArray(resources.Select(g => (JsonNode)g).ToArray()),
    };

    /// <summary>A CRD with the upstream names, scope and versions and an open (preserve-unknown-fields) schema.</summary>
    public static JsonObject Crd(string group, string kind, string plural, bool cluster, string[] versions, string[]? shortNames = null, string[]? categories = null,
        (string Name, string Path, string Type)[]? columns = null, bool status = true, JsonObject? specSchema = null, JsonObject? labels = null)
    {
        var names = new JsonObject { ["kind"] = kind, ["listKind"] = kind + "List", ["plural"] = plural, ["singular"] = kind.ToLowerInvariant() };
        if (shortNames is { Length: > 0 }) names["shortNames"] = new JsonArray(shortNames.Select(s => (JsonNode)s).ToArray());
        if (categories is { Length: > 0 }) names["categories"] = new JsonArray(categories.Select(s => (JsonNode)s).ToArray());
        var vs = new JsonArray();
        for (var i = 0; i < versions.Length; i++)
        {
            var props = new JsonObject
            {
                ["spec"] = specSchema?.DeepClone() ?? new JsonObject { ["type"] = "object", ["x-kubernetes-preserve-unknown-fields"] = true },
            };
            if (status) props["status"] = new JsonObject { ["type"] = "object", ["x-kubernetes-preserve-unknown-fields"] = true };
            var v = new JsonObject
            {
                ["name"] = versions[i], ["served"] = true, ["storage"] = i == 0,
                ["schema"] = new JsonObject { ["openAPIV3Schema"] = new JsonObject { ["type"] = "object", ["properties"] = props, ["x-kubernetes-preserve-unknown-fields"] = true } },
            };
            if (status) v["subresources"] = new JsonObject { ["status"] = new JsonObject() };
            if (columns is { Length: > 0 })
            {
                var cols = new JsonArray(columns.Select(c => (JsonNode)new JsonObject { ["name"] = c.Name, ["jsonPath"] = c.Path, ["type"] = c.Type }).ToArray());
                cols.Add(new JsonObject { ["name"] = "Age", ["jsonPath"] = ".metadata.creationTimestamp", ["type"] = "date" });
                v["additionalPrinterColumns"] = cols;
            }
            vs.Add(v);
        }
        return new JsonObject
        {
            ["apiVersion"] = "apiextensions.k8s.io/v1", ["kind"] = "CustomResourceDefinition",
            ["metadata"] = Meta($"{plural}.{group}", labels: labels),
            ["spec"] = new JsonObject { ["group"] = group, ["names"] = names, ["scope"] = cluster ? "Cluster" : "Namespaced", ["versions"] = vs },
        };
    }

    private static readonly (string, string, string)[] ReadyColumns = [("Ready", ".status.conditions[?(@.type==\"Ready\")].status", "string")];

    // ------------------------------------------------------------------ cert-manager v1.21.1 (cert-manager.yaml)

    private static List<JsonObject> CertManager()
    {
        const string ns = "cert-manager";
        const string v = "v1.21.1";
        var list = new List<JsonObject> { Ns(ns) };
        var crdLabels = new JsonObject { ["app.kubernetes.io/name"] = "cert-manager", ["app.kubernetes.io/instance"] = "cert-manager", ["app.kubernetes.io/version"] = v };
        list.Add(Crd("cert-manager.io", "Certificate", "certificates", false, ["v1"], ["cert", "certs"], ["cert-manager"],
            [("Ready", ".status.conditions[?(@.type==\"Ready\")].status", "string"), ("Secret", ".spec.secretName", "string")], labels: crdLabels.DeepClone().AsObject()));
        list.Add(Crd("cert-manager.io", "CertificateRequest", "certificaterequests", false, ["v1"], ["cr", "crs"], ["cert-manager"], ReadyColumns, labels: crdLabels.DeepClone().AsObject()));
        list.Add(Crd("cert-manager.io", "Issuer", "issuers", false, ["v1"], ["iss"], ["cert-manager"], ReadyColumns, labels: crdLabels.DeepClone().AsObject()));
        list.Add(Crd("cert-manager.io", "ClusterIssuer", "clusterissuers", true, ["v1"], ["ciss"], ["cert-manager"], ReadyColumns, labels: crdLabels.DeepClone().AsObject()));
        list.Add(Crd("acme.cert-manager.io", "Order", "orders", false, ["v1"], null, ["cert-manager", "cert-manager-acme"], labels: crdLabels.DeepClone().AsObject()));
        list.Add(Crd("acme.cert-manager.io", "Challenge", "challenges", false, ["v1"], null, ["cert-manager", "cert-manager-acme"], labels: crdLabels.DeepClone().AsObject()));
        foreach (var (name, component, image, port) in new[]
                 {
                     ("cert-manager", "controller", "quay.io/jetstack/cert-manager-controller", 9402),
                     ("cert-manager-cainjector", "cainjector", "quay.io/jetstack/cert-manager-cainjector", 9402),
                     ("cert-manager-webhook", "webhook", "quay.io/jetstack/cert-manager-webhook", 10250),
                 })
        {
            var labels = new JsonObject { ["app"] = name == "cert-manager" ? "cert-manager" : name[13..], ["app.kubernetes.io/name"] = name == "cert-manager" ? "cert-manager" : name[13..], ["app.kubernetes.io/instance"] = "cert-manager", ["app.kubernetes.io/component"] = component };
            list.Add(Sa(name, ns));
            list.Add(ClusterRole(name, (All, All, ["get", "list", "watch", "create", "update", "patch", "delete"])));
            list.Add(ClusterRoleBinding(name, name, name, ns));
            list.Add(Deployment(name, ns, labels, $"{image}:{v}", name, ports: A(new JsonObject { ["containerPort"] = port, ["name"] = component == "webhook" ? "https" : "http-metrics" })));
            if (component == "controller") list.Add(Service(name, ns, labels, ("tcp-prometheus-servicemonitor", 9402, 9402)));
            if (component == "webhook") list.Add(Service(name, ns, labels, ("https", 443, 10250)));
        }
        var inject = new JsonObject { ["cert-manager.io/inject-ca-from-secret"] = "cert-manager/cert-manager-webhook-ca" };
        var notDisabled = new JsonObject
        {
            ["matchExpressions"] = A(new JsonObject { ["key"] = "cert-manager.io/disable-validation", ["operator"] = "NotIn", ["values"] = A("true") }),
        };
        var rules = A(Rule(["cert-manager.io", "acme.cert-manager.io"], ["v1"], ["CREATE", "UPDATE"], ["*/*"]));
        list.Add(Webhook("ValidatingWebhookConfiguration", "cert-manager-webhook", "webhook.cert-manager.io", "cert-manager-webhook", ns, "/validate", rules, inject, notDisabled, 30));
        list.Add(Webhook("MutatingWebhookConfiguration", "cert-manager-webhook", "webhook.cert-manager.io", "cert-manager-webhook", ns, "/mutate",
            A(Rule(["cert-manager.io", "acme.cert-manager.io"], ["v1"], ["CREATE"], ["*/*"])), inject.DeepClone().AsObject(), null, 30));
        return list;
    }

    // ------------------------------------------------------------------ istio: Gateway API v1.4.0 + GAIE, sail-operator 3.2.1, Istio v1.27

    public const string IstioVersion = "v1.27.3";

    public static List<JsonObject> GatewayApiCrds()
    {
        var labels = new JsonObject { ["gateway.networking.k8s.io/bundle-version"] = "v1.4.0", ["gateway.networking.k8s.io/channel"] = "standard" };
        JsonObject L() => labels.DeepClone().AsObject();
        return
        [
            Crd("gateway.networking.k8s.io", "GatewayClass", "gatewayclasses", true, ["v1", "v1beta1"], ["gc"], ["gateway-api"],
                [("Controller", ".spec.controllerName", "string"), ("Accepted", ".status.conditions[?(@.type==\"Accepted\")].status", "string")], labels: L()),
            Crd("gateway.networking.k8s.io", "Gateway", "gateways", false, ["v1", "v1beta1"], ["gtw"], ["gateway-api"],
                [("Class", ".spec.gatewayClassName", "string"), ("Address", ".status.addresses[*].value", "string"), ("Programmed", ".status.conditions[?(@.type==\"Programmed\")].status", "string")], labels: L()),
            Crd("gateway.networking.k8s.io", "HTTPRoute", "httproutes", false, ["v1", "v1beta1"], null, ["gateway-api"], [("Hostnames", ".spec.hostnames", "string")], labels: L()),
            Crd("gateway.networking.k8s.io", "GRPCRoute", "grpcroutes", false, ["v1"], null, ["gateway-api"], labels: L()),
            Crd("gateway.networking.k8s.io", "ReferenceGrant", "referencegrants", false, ["v1beta1"], ["refgrant"], ["gateway-api"], status: false, labels: L()),
            Crd("gateway.networking.k8s.io", "BackendTLSPolicy", "backendtlspolicies", false, ["v1"], ["btlspolicy"], ["gateway-api"], labels: L()),
        ];
    }

    /// <summary>GAIE InferencePool v1 (v1.2.0) and the v1alpha2 x-k8s kinds (v0.5.1) KServe's EPP still watches.</summary>
    public static List<JsonObject> InferenceCrds() =>
    [
        Crd("inference.networking.k8s.io", "InferencePool", "inferencepools", false, ["v1"], ["infpool"], null, labels: new JsonObject { ["inference.networking.k8s.io/bundle-version"] = "v1.2.0" }),
        Crd("inference.networking.x-k8s.io", "InferencePool", "inferencepools", false, ["v1alpha2"], null, null, labels: new JsonObject { ["inference.networking.k8s.io/bundle-version"] = "v0.5.1" }),
        Crd("inference.networking.x-k8s.io", "InferenceModel", "inferencemodels", false, ["v1alpha2"], null, null, labels: new JsonObject { ["inference.networking.k8s.io/bundle-version"] = "v0.5.1" }),
        Crd("inference.networking.x-k8s.io", "InferenceObjective", "inferenceobjectives", false, ["v1alpha2"], null, null, labels: new JsonObject { ["inference.networking.k8s.io/bundle-version"] = "v1.2.0" }),
    ];

    private static List<JsonObject> Istio()
    {
        const string opNs = "sail-operator";
        var list = new List<JsonObject>();
        list.AddRange(GatewayApiCrds());
        list.AddRange(InferenceCrds());
        list.Add(Ns(opNs));
        list.Add(Ns("istio-system"));
        list.Add(Crd("sailoperator.io", "Istio", "istios", true, ["v1", "v1alpha1"], null, ["istio-io"],
            [("Revisions", ".status.revisions.total", "string"), ("Ready", ".status.revisions.ready", "string"), ("Status", ".status.state", "string"), ("Version", ".spec.version", "string")]));
        list.Add(Crd("sailoperator.io", "IstioRevision", "istiorevisions", true, ["v1", "v1alpha1"], ["istiorev"], ["istio-io"],
            [("Ready", ".status.conditions[?(@.type==\"Ready\")].status", "string"), ("Status", ".status.state", "string"), ("Version", ".spec.version", "string")]));
        list.Add(Crd("sailoperator.io", "IstioRevisionTag", "istiorevisiontags", true, ["v1", "v1alpha1"], null, ["istio-io"]));
        list.Add(Crd("sailoperator.io", "IstioCNI", "istiocnis", true, ["v1", "v1alpha1"], null, ["istio-io"], [("Ready", ".status.conditions[?(@.type==\"Ready\")].status", "string"), ("Version", ".spec.version", "string")]));
        list.Add(Crd("sailoperator.io", "ZTunnel", "ztunnels", true, ["v1", "v1alpha1"], null, ["istio-io"]));
        // The sail-operator chart also ships Istio's own CRDs (networking/security.istio.io): EnvoyFilter is the one RhaiiGke uses.
        var istioLabels = new JsonObject { ["app.kubernetes.io/part-of"] = "istio" };
        list.Add(Crd("networking.istio.io", "EnvoyFilter", "envoyfilters", false, ["v1alpha3"], null, ["istio-io", "networking-istio-io"], labels: istioLabels.DeepClone().AsObject()));
        list.Add(Crd("networking.istio.io", "DestinationRule", "destinationrules", false, ["v1", "v1beta1", "v1alpha3"], ["dr"], ["istio-io", "networking-istio-io"], labels: istioLabels.DeepClone().AsObject()));
        list.Add(Crd("networking.istio.io", "VirtualService", "virtualservices", false, ["v1", "v1beta1", "v1alpha3"], ["vs"], ["istio-io", "networking-istio-io"], labels: istioLabels.DeepClone().AsObject()));
        list.Add(Crd("networking.istio.io", "ServiceEntry", "serviceentries", false, ["v1", "v1beta1", "v1alpha3"], ["se"], ["istio-io", "networking-istio-io"], labels: istioLabels.DeepClone().AsObject()));
        list.Add(Crd("security.istio.io", "PeerAuthentication", "peerauthentications", false, ["v1", "v1beta1"], ["pa"], ["istio-io", "security-istio-io"], labels: istioLabels.DeepClone().AsObject()));
        list.Add(Crd("security.istio.io", "AuthorizationPolicy", "authorizationpolicies", false, ["v1", "v1beta1"], ["ap"], ["istio-io", "security-istio-io"], labels: istioLabels.DeepClone().AsObject()));
        var labels = new JsonObject { ["app.kubernetes.io/name"] = "sail-operator", ["app.kubernetes.io/component"] = "operator", ["control-plane"] = "sail-operator" };
        list.Add(Sa("sail-operator", opNs));
        list.Add(ClusterRole("sail-operator", (All, All, All)));
        list.Add(ClusterRoleBinding("sail-operator", "sail-operator", "sail-operator", opNs));
        list.Add(Deployment("sail-operator", opNs, labels, "registry.redhat.io/openshift-service-mesh/istio-sail-operator-rhel9:3.2.1", "sail-operator",
            args: A("--zap-log-level=info", "--default-profile=openshift")));
        list.Add(new JsonObject
        {
            ["apiVersion"] = "sailoperator.io/v1", ["kind"] = "Istio", ["metadata"] = Meta("default"),
            ["spec"] = new JsonObject
            {
                ["namespace"] = "istio-system", ["version"] = IstioVersion, ["updateStrategy"] = new JsonObject { ["type"] = "InPlace" },
                ["values"] = new JsonObject
                {
                    ["pilot"] = new JsonObject
                    {
                        ["env"] = new JsonObject
                        {
                            ["PILOT_ENABLE_GATEWAY_API"] = "true", ["PILOT_ENABLE_GATEWAY_API_STATUS"] = "true",
                            ["PILOT_ENABLE_GATEWAY_API_DEPLOYMENT_CONTROLLER"] = "true", ["ENABLE_GATEWAY_API_INFERENCE_EXTENSION"] = "true",
                        },
                    },
                    // Envoy access logs on the gateway pods (kubectl logs, Get-LlmInferenceServiceLog -Component Gateway)
                    ["meshConfig"] = new JsonObject { ["accessLogFile"] = "/dev/stdout" },
                },
            },
        });
        return list;
    }

    // ------------------------------------------------------------------ LWS v0.10.0 (manifests.yaml)

    private static List<JsonObject> Lws()
    {
        const string ns = "lws-system";
        var labels = new JsonObject { ["control-plane"] = "controller-manager", ["app.kubernetes.io/name"] = "lws" };
        return
        [
            Ns(ns),
            Crd("leaderworkerset.x-k8s.io", "LeaderWorkerSet", "leaderworkersets", false, ["v1"], ["lws"], null),
            Sa("lws-controller-manager", ns),
            ClusterRole("lws-manager-role", (All, All, All)),
            ClusterRoleBinding("lws-manager-rolebinding", "lws-manager-role", "lws-controller-manager", ns),
            Deployment("lws-controller-manager", ns, labels, "registry.k8s.io/lws/lws:v0.10.0", "lws-controller-manager",
                ports: A(new JsonObject { ["containerPort"] = 9443, ["name"] = "webhook-server" })),
            Service("lws-webhook-service", ns, labels, ("https", 443, 9443)),
            Webhook("ValidatingWebhookConfiguration", "lws-validating-webhook-configuration", "vleaderworkerset.kb.io", "lws-webhook-service", ns,
                "/validate-leaderworkerset-x-k8s-io-v1-leaderworkerset", A(Rule(["leaderworkerset.x-k8s.io"], ["v1"], ["CREATE", "UPDATE"], ["leaderworkersets"])), null),
            Webhook("MutatingWebhookConfiguration", "lws-mutating-webhook-configuration", "mleaderworkerset.kb.io", "lws-webhook-service", ns,
                "/mutate-leaderworkerset-x-k8s-io-v1-leaderworkerset", A(Rule(["leaderworkerset.x-k8s.io"], ["v1"], ["CREATE", "UPDATE"], ["leaderworkersets"])), null),
        ];
    }

    // ------------------------------------------------------------------ KServe odh-xks (release-v0.15): PKI prereq, LLMISVC controller, webhooks, presets

    /// <summary>rhaii-on-xks manifests/pki-prereq.yaml: self-signed issuer, the opendatahub CA, and the CA ClusterIssuer.</summary>
    public static List<JsonObject> KServePki() =>
    [
        new() { ["apiVersion"] = "cert-manager.io/v1", ["kind"] = "ClusterIssuer", ["metadata"] = Meta("opendatahub-selfsigned-issuer"), ["spec"] = new JsonObject { ["selfSigned"] = new JsonObject() } },
        new()
        {
            ["apiVersion"] = "cert-manager.io/v1", ["kind"] = "Certificate", ["metadata"] = Meta("opendatahub-ca", "cert-manager"),
            ["spec"] = new JsonObject
            {
                ["isCA"] = true, ["commonName"] = "opendatahub-ca", ["secretName"] = "opendatahub-ca",
                ["privateKey"] = new JsonObject { ["algorithm"] = "ECDSA", ["size"] = 256 },
                ["issuerRef"] = new JsonObject { ["name"] = "opendatahub-selfsigned-issuer", ["kind"] = "ClusterIssuer", ["group"] = "cert-manager.io" },
            },
        },
        new() { ["apiVersion"] = "cert-manager.io/v1", ["kind"] = "ClusterIssuer", ["metadata"] = Meta("opendatahub-ca-issuer"), ["spec"] = new JsonObject { ["ca"] = new JsonObject { ["secretName"] = "opendatahub-ca" } } },
    ];

    public static readonly string[] PresetNames =
    [
        "kserve-config-llm-template", "kserve-config-llm-decode-template", "kserve-config-llm-prefill-template", "kserve-config-llm-worker-data-parallel",
        "kserve-config-llm-decode-worker-data-parallel", "kserve-config-llm-prefill-worker-data-parallel", "kserve-config-llm-scheduler", "kserve-config-llm-router-route",
    ];

    private static List<JsonObject> KServe()
    {
        const string ns = "opendatahub";
        var list = new List<JsonObject> { Ns(ns) };
        list.AddRange(KServePki());
        var modelSchema = new JsonObject
        {
            ["type"] = "object", ["x-kubernetes-preserve-unknown-fields"] = true, ["required"] = A("model"),
            ["properties"] = new JsonObject
            {
                ["model"] = new JsonObject
                {
                    ["type"] = "object", ["x-kubernetes-preserve-unknown-fields"] = true, ["required"] = A("uri"),
                    ["properties"] = new JsonObject { ["uri"] = new JsonObject { ["type"] = "string" }, ["name"] = new JsonObject { ["type"] = "string" } },
                },
                ["replicas"] = new JsonObject { ["type"] = "integer", ["minimum"] = 0 },
            },
        };
        list.Add(Crd("serving.kserve.io", "LLMInferenceService", "llminferenceservices", false, ["v1alpha1"], ["llmisvc"], null,
            [("URL", ".status.url", "string"), ("Ready", ".status.conditions[?(@.type=='Ready')].status", "string"), ("Reason", ".status.conditions[?(@.type=='Ready')].reason", "string")], specSchema: modelSchema));
        list.Add(Crd("serving.kserve.io", "LLMInferenceServiceConfig", "llminferenceserviceconfigs", false, ["v1alpha1"], ["llmisvcconfig"], null, status: false));
        var labels = new JsonObject { ["control-plane"] = "llmisvc-controller-manager", ["app.kubernetes.io/name"] = "llmisvc-controller-manager", ["app.kubernetes.io/part-of"] = "kserve" };
        list.Add(Sa("llmisvc-controller-manager", ns));
        list.Add(ClusterRole("llmisvc-manager-role", (All, All, All)));
        list.Add(ClusterRoleBinding("llmisvc-manager-rolebinding", "llmisvc-manager-role", "llmisvc-controller-manager", ns));
        list.Add(new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "ConfigMap", ["metadata"] = Meta("inferenceservice-config", ns),
            ["data"] = new JsonObject
            {
                ["ingress"] = """{"enableGatewayApi": true, "kserveIngressGateway": "opendatahub/inference-gateway", "ingressGateway": "opendatahub/inference-gateway", "urlScheme": "https", "disableIstioVirtualHost": true}""",
            },
        });
        list.Add(new JsonObject
        {
            ["apiVersion"] = "cert-manager.io/v1", ["kind"] = "Certificate", ["metadata"] = Meta("llmisvc-webhook-server-cert", ns),
            ["spec"] = new JsonObject
            {
                ["secretName"] = "llmisvc-webhook-server-cert",
                ["dnsNames"] = A("llmisvc-webhook-server-service.opendatahub.svc", "llmisvc-webhook-server-service.opendatahub.svc.cluster.local"),
                ["issuerRef"] = new JsonObject { ["name"] = "opendatahub-ca-issuer", ["kind"] = "ClusterIssuer", ["group"] = "cert-manager.io" },
            },
        });
        list.Add(Deployment("llmisvc-controller-manager", ns, labels, "registry.redhat.io/rhoai/odh-kserve-llmisvc-controller-rhel9:v2.25", "llmisvc-controller-manager",
            ports: A(new JsonObject { ["containerPort"] = 9443, ["name"] = "webhook-server" }),
            env: A(
                new JsonObject { ["name"] = "ENABLE_LLMISVC_CONTROLLER", ["value"] = "true" },
                new JsonObject { ["name"] = "SERVICE_CA_SIGNING_SECRET_NAME", ["value"] = "opendatahub-ca" },
                new JsonObject { ["name"] = "SERVICE_CA_SIGNING_SECRET_NAMESPACE", ["value"] = "cert-manager" },
                new JsonObject { ["name"] = "ISTIO_CA_CERTIFICATE_PATH", ["value"] = "/var/run/secrets/opendatahub/ca.crt" },
                new JsonObject { ["name"] = "LLMISVC_AUTH_DISABLED", ["value"] = "true" },
                new JsonObject { ["name"] = "LLMISVC_MONITORING_DISABLED", ["value"] = "true" },
                new JsonObject { ["name"] = "LLMISVC_SCC_DISABLED", ["value"] = "true" }),
            volumes: A(new JsonObject { ["name"] = "cert", ["secret"] = new JsonObject { ["secretName"] = "llmisvc-webhook-server-cert", ["defaultMode"] = 420 } }),
            mounts: A(new JsonObject { ["name"] = "cert", ["mountPath"] = "/tmp/k8s-webhook-server/serving-certs", ["readOnly"] = true })));
        list.Add(Service("llmisvc-webhook-server-service", ns, labels, ("https", 443, 9443)));
        var inject = new JsonObject { ["cert-manager.io/inject-ca-from"] = "opendatahub/llmisvc-webhook-server-cert" };
        list.Add(Webhook("ValidatingWebhookConfiguration", "llminferenceservice.serving.kserve.io", "llminferenceservice.kserve-webhook-server.validator",
            "llmisvc-webhook-server-service", ns, "/validate-serving-kserve-io-v1alpha1-llminferenceservice",
            A(Rule(["serving.kserve.io"], ["v1alpha1"], ["CREATE", "UPDATE"], ["llminferenceservices"])), inject));
        list.Add(Webhook("ValidatingWebhookConfiguration", "llminferenceserviceconfig.serving.kserve.io", "llminferenceserviceconfig.kserve-webhook-server.validator",
            "llmisvc-webhook-server-service", ns, "/validate-serving-kserve-io-v1alpha1-llminferenceserviceconfig",
            A(Rule(["serving.kserve.io"], ["v1alpha1"], ["CREATE", "UPDATE"], ["llminferenceserviceconfigs"])), inject.DeepClone().AsObject()));
        list.AddRange(Presets(ns));
        return list;
    }

    private static JsonObject VllmContainer(string role) => new()
    {
        ["name"] = "main",
        ["image"] = "registry.redhat.io/rhaiis/vllm-tpu-rhel9:3.2",
        ["command"] = A("/bin/bash", "-c"),
        ["args"] = A("vllm serve /mnt/models --served-model-name \"{{ .Spec.Model.Name }}\" --port 8000 ${VLLM_ADDITIONAL_ARGS} --enable-ssl-refresh --ssl-certfile /var/run/kserve/tls/tls.crt --ssl-keyfile /var/run/kserve/tls/tls.key"),
        ["env"] = A(new JsonObject { ["name"] = "VLLM_ADDITIONAL_ARGS", ["value"] = "" }, new JsonObject { ["name"] = "LLM_D_ROLE", ["value"] = role }),
        ["ports"] = A(new JsonObject { ["containerPort"] = 8000, ["protocol"] = "TCP" }),
        ["readinessProbe"] = new JsonObject { ["httpGet"] = new JsonObject { ["path"] = "/health", ["port"] = 8000, ["scheme"] = "HTTPS" }, ["periodSeconds"] = 10 },
    };

    private static IEnumerable<JsonObject> Presets(string ns)
    {
        JsonObject Cfg(string name, JsonObject spec) => new()
        {
            ["apiVersion"] = "serving.kserve.io/v1alpha1", ["kind"] = "LLMInferenceServiceConfig",
            ["metadata"] = Meta(name, ns, new JsonObject { ["app.kubernetes.io/component"] = "llminferenceservice-presets", ["app.kubernetes.io/part-of"] = "kserve" }),
            ["spec"] = spec,
        };
        yield return Cfg("kserve-config-llm-template", new JsonObject { ["template"] = new JsonObject { ["containers"] = A(VllmContainer("both")) } });
        yield return Cfg("kserve-config-llm-decode-template", new JsonObject { ["template"] = new JsonObject { ["containers"] = A(VllmContainer("decode")) } });
        yield return Cfg("kserve-config-llm-prefill-template", new JsonObject { ["prefill"] = new JsonObject { ["template"] = new JsonObject { ["containers"] = A(VllmContainer("prefill")) } } });
        foreach (var (name, role) in new[] { ("kserve-config-llm-worker-data-parallel", "both"), ("kserve-config-llm-decode-worker-data-parallel", "decode"), ("kserve-config-llm-prefill-worker-data-parallel", "prefill") })
            yield return Cfg(name, new JsonObject
            {
                ["template"] = new JsonObject { ["containers"] = A(VllmContainer(role)) },
                ["worker"] = new JsonObject { ["containers"] = A(VllmContainer(role)) },
            });
        yield return Cfg("kserve-config-llm-scheduler", new JsonObject
        {
            ["router"] = new JsonObject
            {
                ["scheduler"] = new JsonObject
                {
                    ["pool"] = new JsonObject { ["spec"] = new JsonObject { ["selector"] = new JsonObject(), ["targetPortNumber"] = 8000, ["extensionRef"] = new JsonObject { ["kind"] = "Service", ["name"] = "{{ ChildName .ObjectMeta.Name \"-epp-service\" }}", ["failureMode"] = "FailOpen" } } },
                    ["template"] = new JsonObject
                    {
                        ["containers"] = A(new JsonObject
                        {
                            ["name"] = "main", ["image"] = "registry.redhat.io/rhaii/llm-d-inference-scheduler-rhel9:v0.3",
                            ["args"] = A("--pool-name", "{{ ChildName .ObjectMeta.Name \"-inference-pool\" }}", "--pool-namespace", "{{ .ObjectMeta.Namespace }}",
                                "--pool-group", "inference.networking.x-k8s.io", "--grpc-port", "9002", "--grpc-health-port", "9003", "--secure-serving", "--cert-path", "/var/run/kserve/tls"),
                            ["ports"] = A(new JsonObject { ["containerPort"] = 9002, ["name"] = "grpc" }, new JsonObject { ["containerPort"] = 9003, ["name"] = "grpc-health" },
                                new JsonObject { ["containerPort"] = 9090, ["name"] = "metrics" }, new JsonObject { ["containerPort"] = 5557, ["name"] = "zmq" }),
                        }),
                    },
                },
            },
        });
        yield return Cfg("kserve-config-llm-router-route", new JsonObject
        {
            ["router"] = new JsonObject { ["route"] = new JsonObject { ["http"] = new JsonObject() }, ["gateway"] = new JsonObject() },
        });
    }
}
