using RhaiiGke.Engine.Manifests;
using RhaiiGke.Engine.Serving.Diagnosis;
using Xunit;

namespace RhaiiGke.Tests.Serving;

/// <summary>Each runbook troubleshooting symptom, seeded into a small cluster snapshot, must be found with its fix.</summary>
public class DiagnosisTests
{
    private const string Node = """
        apiVersion: v1
        kind: Node
        metadata:
          name: gke-tpu-1
          labels:
            cloud.google.com/gke-tpu-accelerator: tpu-v6e-slice
            cloud.google.com/gke-tpu-topology: 2x2
        status:
          allocatable: { google.com/tpu: "4" }
        """;

    private static string Pod(string name = "qwen-kserve-abc", string accel = "tpu-v6e-slice", string topo = "2x2", string tpu = "4", bool toleration = true,
        string phase = "Pending", string statuses = "", string extraContainer = "") => $$"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: {{name}}
          namespace: demo
          labels:
            app.kubernetes.io/component: llminferenceservice-workload
            app.kubernetes.io/name: qwen
            app.kubernetes.io/part-of: llminferenceservice
        spec:
          serviceAccountName: qwen-sa
          nodeSelector:
            cloud.google.com/gke-tpu-accelerator: {{accel}}
            cloud.google.com/gke-tpu-topology: {{topo}}
          tolerations: {{(toleration ? "[{key: google.com/tpu, operator: Equal, value: present, effect: NoSchedule}]" : "[]")}}
          containers:
          - name: main
            image: registry.redhat.io/rhaiis/vllm-tpu-rhel9:3.2.5
            resources:
              requests: { google.com/tpu: "{{tpu}}" }
              limits: { google.com/tpu: "{{tpu}}" }
        {{extraContainer}}
        status:
          phase: {{phase}}
          conditions:
          - { type: PodScheduled, status: "{{(phase == "Pending" ? "False" : "True")}}" }
        {{statuses}}
        """;

    private const string Service = """
        apiVersion: serving.kserve.io/v1alpha1
        kind: LLMInferenceService
        metadata: { name: qwen, namespace: demo }
        spec:
          model: { uri: "hf://Qwen/Qwen2.5-3B-Instruct" }
          template: { serviceAccountName: qwen-sa, containers: [{name: main}] }
          router:
            route: {}
            gateway: { refs: [{ name: inference-gateway, namespace: opendatahub }] }
            scheduler: {}
        """;

    private static IReadOnlyList<DiagnosisFinding> Diagnose(params string[] docs) => Diagnoser.Run(ClusterSnapshot.FromText(docs));

    private static DiagnosisFinding Single(IReadOnlyList<DiagnosisFinding> f, string id)
    {
        var matches = f.Where(x => x.CheckId == id).ToList();
        Assert.True(matches.Count == 1, $"expected one {id}, got: {string.Join("; ", f)}");
        Assert.False(string.IsNullOrWhiteSpace(matches[0].Fix));
        return matches[0];
    }

    [Theory]
    [InlineData("30s", true)]
    [InlineData("1m30s", true)]
    [InlineData("0s", false)]
    [InlineData("10m", false)]
    public void ARouteTimeoutShorterThanXlaCompilationIsFound(string timeout, bool found)
    {
        var route = $$"""
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: { name: qwen-kserve-route, namespace: demo }
            spec:
              parentRefs: [{ name: inference-gateway, namespace: opendatahub }]
              rules:
              - matches: [{ path: { type: PathPrefix, value: /demo/qwen } }]
                timeouts: { request: {{timeout}} }
                backendRefs: [{ name: qwen-kserve-workload-svc, port: 8000 }]
            """;
        var f = Diagnose(route).Where(x => x.CheckId == "FirstInferenceTimeout").ToList();
        Assert.Equal(found, f.Count == 1);
        if (found)
        {
            Assert.Contains(timeout, f[0].Message);
            Assert.Contains("0s", f[0].Fix);
        }
    }

    [Theory]
    [InlineData("gke-l7-regional-external-managed", true)]
    [InlineData("istio", false)]
    public void GkeBackendsWithoutAHealthCheckPolicyAreFound(string gatewayClass, bool found)
    {
        var gateway = $$"""
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: { name: inference-gateway, namespace: opendatahub }
            spec: { gatewayClassName: {{gatewayClass}}, listeners: [{ name: http, port: 80, protocol: HTTP }] }
            """;
        const string route = """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: { name: qwen-kserve-route, namespace: demo }
            spec:
              parentRefs: [{ name: inference-gateway, namespace: opendatahub }]
              rules:
              - backendRefs: [{ group: inference.networking.k8s.io, kind: InferencePool, name: qwen-inference-pool, port: 8000 }]
              - backendRefs: [{ name: qwen-kserve-workload-svc, port: 8000 }]
            """;
        const string policy = """
            apiVersion: networking.gke.io/v1
            kind: HealthCheckPolicy
            metadata: { name: qwen-workload-health, namespace: demo }
            spec:
              targetRef: { group: "", kind: Service, name: qwen-kserve-workload-svc }
              default: { config: { type: HTTPS, httpsHealthCheck: { port: 8000, requestPath: /health } } }
            """;
        var f = Diagnose(gateway, route, policy).Where(x => x.CheckId == "GkeHealthCheckMissing").ToList();
        if (!found) { Assert.Empty(f); return; }
        var only = Assert.Single(f); // the Service has its policy; the pool has none
        Assert.Contains("InferencePool demo/qwen-inference-pool", only.Message);
        Assert.Contains("/health", only.Fix);
    }

    [Theory]
    [InlineData("1h2m3.5s", 3723.5)]
    [InlineData("500ms", 0.5)]
    [InlineData("0s", 0)]
    public void GatewayApiDurationsParse(string text, double seconds) =>
        Assert.Equal(seconds, RhaiiGke.Engine.Serving.Diagnosis.FirstInferenceTimeoutCheck.ParseDuration(text)!.Value.TotalSeconds, 3);

    [Fact]
    public void WrongAcceleratorLabelFromSeed004IsFoundWithTheRightValue()
    {
        var f = Single(Diagnose(Node, Pod(accel: "tpu-v6e")), "TpuAcceleratorLabelUnknown");
        Assert.Contains("tpu-v6e-slice", f.Fix);
        Assert.Equal("Pod", f.Kind);
    }

    [Fact]
    public void WrongTopologyNamesWhatTheNodesOffer()
    {
        var f = Single(Diagnose(Node, Pod(topo: "2x4", tpu: "8")), "TpuTopologyUnavailable");
        Assert.Contains("tpu-v6e-slice 2x2", f.Message);
    }

    [Fact]
    public void PartialChipRequestAndMissingTolerationAreFound()
    {
        var f = Diagnose(Node, Pod(tpu: "1", toleration: false));
        Assert.Contains("\"4\"", Single(f, "TpuRequestMismatch").Fix);
        Single(f, "TpuTolerationMissing");
    }

    [Fact]
    public void NoTpuNodesMeansCapacityWithEventsAsEvidence()
    {
        var ev = """
            apiVersion: v1
            kind: Event
            metadata: { name: e1, namespace: demo }
            involvedObject: { kind: Pod, name: qwen-kserve-abc, namespace: demo }
            reason: FailedScheduling
            type: Warning
            message: "0/2 nodes are available: 2 Insufficient google.com/tpu."
            """;
        var f = Single(Diagnose(Pod(), ev), "TpuCapacityUnavailable");
        Assert.Contains(f.Evidence, e => e.Contains("Insufficient google.com/tpu"));
        Assert.Contains("Set-TpuNodePool", f.Fix);
    }

    [Fact]
    public void HealthyScheduledPodYieldsNothing()
    {
        Assert.Empty(Diagnose(Node, Pod(phase: "Running")));
    }

    [Fact]
    public void GatewayPodWithoutPullSecretIsFound()
    {
        var gwPod = """
            apiVersion: v1
            kind: Pod
            metadata:
              name: inference-gateway-istio-123
              namespace: opendatahub
              labels: { gateway.networking.k8s.io/gateway-name: inference-gateway }
            spec:
              serviceAccountName: inference-gateway-istio
              containers: [{ name: istio-proxy, image: registry.redhat.io/openshift-service-mesh/istio-proxyv2-rhel9:1.27 }]
            status:
              phase: Pending
              containerStatuses:
              - name: istio-proxy
                image: registry.redhat.io/openshift-service-mesh/istio-proxyv2-rhel9:1.27
                state: { waiting: { reason: ImagePullBackOff, message: "Back-off pulling image: unauthorized" } }
            """;
        var sa = "apiVersion: v1\nkind: ServiceAccount\nmetadata: { name: inference-gateway-istio, namespace: opendatahub }\n";
        var f = Single(Diagnose(gwPod, sa), "GatewayImagePullFailed");
        Assert.Contains("inference-gateway-istio", f.Message);
        Assert.Contains("parametersRef", f.Fix);
        Assert.Contains(f.Evidence, e => e.Contains("no imagePullSecrets"));
    }

    [Fact]
    public void GatedModelWithoutTokenIsFoundInTheStorageInitializer()
    {
        var statuses = """
              initContainerStatuses:
              - name: storage-initializer
                state: { waiting: { reason: CrashLoopBackOff } }
                lastState: { terminated: { exitCode: 1, message: "401 Client Error: Unauthorized. Access to model meta-llama/Llama-3.1-8B-Instruct is restricted." } }
            """;
        var sa = "apiVersion: v1\nkind: ServiceAccount\nmetadata: { name: qwen-sa, namespace: demo }\n";
        var secret = "apiVersion: v1\nkind: Secret\nmetadata: { name: other, namespace: demo }\ndata: { x: eA== }\n";
        var f = Diagnose(Node, Pod(phase: "Running", statuses: statuses.Replace("  initContainerStatuses", "  initContainerStatuses")), Service, sa, secret);
        Assert.Contains("secrets:", Single(f, "HuggingFaceTokenRejected").Fix);
        // Qwen is public, but this download was refused: the finding says so, without calling the model gated
        var onSa = Single(f, "HuggingFaceTokenNotOnServiceAccount");
        Assert.Contains("refused (401/403)", onSa.Message);
        Assert.DoesNotContain("is gated", onSa.Message);
    }

    [Fact]
    public void OnlyAModelKnownToBeGatedIsCalledGated()
    {
        var sa = "apiVersion: v1\nkind: ServiceAccount\nmetadata: { name: qwen-sa, namespace: demo }\n";
        var secret = "apiVersion: v1\nkind: Secret\nmetadata: { name: other, namespace: demo }\ndata: { x: eA== }\n";
        // a public model without a token and no refused download: nothing to report
        Assert.DoesNotContain(Diagnose(Service, sa, secret), x => x.CheckId == "HuggingFaceTokenNotOnServiceAccount");

        var llama = Single(Diagnose(Service.Replace("Qwen/Qwen2.5-3B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"), sa, secret), "HuggingFaceTokenNotOnServiceAccount");
        Assert.Equal(FindingSeverity.Warning, llama.Severity);
        Assert.Contains("meta-llama/Llama-3.1-8B-Instruct is gated", llama.Message);

        var unknown = Single(Diagnose(Service.Replace("Qwen/Qwen2.5-3B-Instruct", "acme/house-model"), sa, secret), "HuggingFaceTokenNotOnServiceAccount");
        Assert.Contains("public models download without one", unknown.Message);
        Assert.DoesNotContain("is gated", unknown.Message);
    }

    [Fact]
    public void TokenListedOnTheServiceAccountSatisfiesTheStaticCheck()
    {
        var sa = "apiVersion: v1\nkind: ServiceAccount\nmetadata: { name: qwen-sa, namespace: demo }\nsecrets: [{ name: hf-token }]\n";
        var secret = "apiVersion: v1\nkind: Secret\nmetadata: { name: hf-token, namespace: demo }\ndata: { HF_TOKEN: eA== }\n";
        Assert.DoesNotContain(Diagnose(Service, sa, secret), x => x.CheckId.StartsWith("HuggingFace"));
    }

    [Fact]
    public void InferencePoolVersionMismatchOnIstio127IsFound()
    {
        var istiod = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: { name: istiod, namespace: istio-system }
            spec: { template: { spec: { containers: [{ name: discovery, image: "registry.redhat.io/openshift-service-mesh/istio-pilot-rhel9:1.27.3" }] } } }
            """;
        var gw = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: { name: inference-gateway, namespace: opendatahub }\nspec: { gatewayClassName: istio }\nstatus: { addresses: [{value: 10.0.0.1}], conditions: [{type: Programmed, status: \"True\"}] }\n";
        var route = """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: { name: qwen-kserve-route, namespace: demo }
            spec:
              parentRefs: [{ name: inference-gateway, namespace: opendatahub }]
              rules:
              - backendRefs: [{ group: inference.networking.k8s.io, kind: InferencePool, name: qwen-inference-pool, port: 8000 }]
            status:
              parents:
              - conditions: [{ type: ResolvedRefs, status: "False", reason: InvalidKind, message: "unsupported backend kind" }]
            """;
        var f = Single(Diagnose(istiod, gw, route), "InferencePoolGroupMismatch");
        Assert.Contains("Istio 1.27", string.Join(" ", f.Evidence));
        Assert.Contains("x-k8s", f.Fix);
    }

    [Fact]
    public void MissingInferencePoolNamesTheMissingCrd()
    {
        var crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: { name: inferencepools.inference.networking.k8s.io }\n";
        var f = Single(Diagnose(Service, crd), "InferencePoolMissing");
        Assert.Contains("inferencepools.inference.networking.x-k8s.io", f.Fix);
    }

    [Fact]
    public void NetworkPolicyThatAdmitsOnlyItsOwnNamespaceBlocksTheGateway()
    {
        var deny = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: { name: same-ns-only, namespace: demo }\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n  ingress: [{ from: [{ podSelector: {} }] }]\n";
        var f = Single(Diagnose(Service, deny), "NetworkPolicyBlocksGateway");
        Assert.Contains("same-ns-only", string.Join(" ", f.Evidence));
    }

    [Fact]
    public void PoliciesRenderedByRhaiiGkeAdmitTheGateway()
    {
        var spec = SpecFactory.Create(new SpecRequest { Name = "qwen", Namespace = "demo", Model = "hf://Qwen/Qwen2.5-3B-Instruct" });
        var docs = ManifestBuilder.BuildService(spec).Where(o => o.Kind == "NetworkPolicy").Select(o => o.Yaml).Append(Service).ToArray();
        Assert.DoesNotContain(Diagnose(docs), x => x.CheckId == "NetworkPolicyBlocksGateway");
    }

    [Fact]
    public void PoliciesOnAClusterWithoutAPolicyDataplaneAreReported()
    {
        var np = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: { name: x, namespace: demo }\nspec: { podSelector: { matchLabels: { a: b } } }\n";
        var kubeProxy = "apiVersion: v1\nkind: Pod\nmetadata: { name: kube-proxy-abc, namespace: kube-system }\nspec: { containers: [{name: p}] }\n";
        Single(Diagnose(np, kubeProxy), "NetworkPolicyNotEnforced");
        var anetd = kubeProxy.Replace("kube-proxy-abc", "anetd-xyz");
        Assert.DoesNotContain(Diagnose(np, anetd), x => x.CheckId == "NetworkPolicyNotEnforced");
    }

    [Fact]
    public void WebhookWithoutEndpointsPointsAtTheControllerDeployment()
    {
        var vwc = """
            apiVersion: admissionregistration.k8s.io/v1
            kind: ValidatingWebhookConfiguration
            metadata: { name: llminferenceservice.serving.kserve.io }
            webhooks:
            - name: llminferenceservice.kserve-webhook-server.validator
              clientConfig: { service: { name: kserve-webhook-server-service, namespace: opendatahub } }
            """;
        var svc = "apiVersion: v1\nkind: Service\nmetadata: { name: kserve-webhook-server-service, namespace: opendatahub }\nspec: { selector: { control-plane: kserve-controller-manager } }\n";
        var ep = "apiVersion: v1\nkind: Endpoints\nmetadata: { name: kserve-webhook-server-service, namespace: opendatahub }\nsubsets: []\n";
        var dep = "apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: kserve-controller-manager, namespace: opendatahub }\nspec: { template: { metadata: { labels: { control-plane: kserve-controller-manager } } } }\nstatus: { conditions: [{ type: Available, status: \"False\", message: \"Deployment does not have minimum availability.\" }] }\n";
        var f = Single(Diagnose(vwc, svc, ep, dep), "WebhookWithoutEndpoints");
        Assert.Contains("kserve-controller-manager", f.Fix);
        Assert.Contains("do not delete", f.Fix);
    }

    [Fact]
    public void CrashLoopFromTpuSettingsAndTooShortProbesAreFound()
    {
        var statuses = """
              containerStatuses:
              - name: main
                restartCount: 4
                state: { waiting: { reason: CrashLoopBackOff } }
                lastState: { terminated: { exitCode: 1, reason: Error, message: "RuntimeError: TPU initialization failed: No TPU devices found" } }
            """;
        var f = Diagnose(Node, Pod(phase: "Running", statuses: statuses));
        Assert.Contains("every chip", Single(f, "WorkloadCrashLoop").Fix);
        var pod = Pod(phase: "Running", statuses: statuses).Replace("      limits: { google.com/tpu: \"4\" }", "      limits: { google.com/tpu: \"4\" }\n    livenessProbe: { httpGet: { path: /health, port: 8000 }, initialDelaySeconds: 30, periodSeconds: 10, failureThreshold: 3 }");
        Assert.Contains("startupProbe", Single(Diagnose(Node, pod), "ProbeBudgetTooShort").Fix);
    }

    [Fact]
    public void GkeRouteRejectedForTimeoutsPointsAtTheLocalRouteConfig()
    {
        var route = """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: { name: qwen-kserve-route, namespace: demo }
            spec: { parentRefs: [{ name: inference-gateway, namespace: opendatahub }], rules: [] }
            status:
              parents:
              - conditions: [{ type: Accepted, status: "False", reason: UnsupportedValue, message: "Error GWCER104: HTTPRoute timeouts are not supported" }]
            """;
        var f = Single(Diagnose(Service, route), "HttpRouteNotAccepted");
        Assert.Contains("kserve-config-llm-router-route", f.Fix);
    }

    [Fact]
    public void ReadsKubectlListOutput()
    {
        var list = """{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Node","metadata":{"name":"n","labels":{"cloud.google.com/gke-tpu-accelerator":"tpu-v6e-slice","cloud.google.com/gke-tpu-topology":"2x2"}}}]}""";
        var s = ClusterSnapshot.FromText(list);
        Assert.Single(s.OfKind("Node"));
    }
}
