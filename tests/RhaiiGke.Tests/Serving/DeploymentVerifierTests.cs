using RhaiiGke.Engine.Manifests;
using RhaiiGke.Engine.Serving;
using RhaiiGke.Engine.Serving.Diagnosis;
using Xunit;

namespace RhaiiGke.Tests.Serving;

public class DeploymentVerifierTests
{
    private static string Deployment(string ns, string name, bool available = true) =>
        $"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{ name: {name}, namespace: {ns} }}\nspec: {{ template: {{ metadata: {{ labels: {{ app: {name} }} }} }} }}\nstatus: {{ conditions: [{{ type: Available, status: \"{(available ? "True" : "False")}\" }}] }}\n";

    private static List<string> Healthy()
    {
        var spec = SpecFactory.Create(new SpecRequest { Name = "qwen", Namespace = "demo", Model = "hf://Qwen/Qwen2.5-3B-Instruct" });
        var docs = ManifestBuilder.BuildService(spec).Where(o => o.Kind == "NetworkPolicy").Select(o => o.Yaml).ToList();
        var svc = ManifestBuilder.BuildService(spec).Single(o => o.Kind == "LLMInferenceService").Yaml;
        docs.Add(svc + "status:\n  conditions:\n  - { type: Ready, status: \"True\" }\n  - { type: RouterReady, status: \"True\" }\n  - { type: WorkloadsReady, status: \"True\" }\n");
        foreach (var (ns, names, _) in DeploymentVerifier.Operators) docs.Add(Deployment(ns, names[0]));
        docs.Add(Deployment("demo", "qwen-kserve-router-scheduler"));
        docs.Add("apiVersion: inference.networking.x-k8s.io/v1alpha2\nkind: InferencePool\nmetadata: { name: qwen-inference-pool, namespace: demo }\n");
        docs.Add("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: { name: qwen-kserve-route, namespace: demo }\nspec: { parentRefs: [{ name: inference-gateway, namespace: opendatahub }], rules: [{ backendRefs: [{ group: inference.networking.x-k8s.io, kind: InferencePool, name: qwen-inference-pool }] }] }\nstatus: { parents: [{ conditions: [{ type: Accepted, status: \"True\" }] }] }\n");
        docs.Add("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: { name: inference-gateway, namespace: opendatahub }\nspec: { gatewayClassName: istio }\nstatus: { addresses: [{ value: 34.1.2.3 }], conditions: [{ type: Programmed, status: \"True\" }] }\n");
        docs.Add("apiVersion: v1\nkind: Pod\nmetadata: { name: anetd-abc, namespace: kube-system }\nspec: { containers: [{ name: a }] }\n");
        docs.Add(Deployment("istio-system", "istiod").Replace("spec: { template: { metadata: { labels: { app: istiod } } } }", "spec: { template: { spec: { containers: [{ name: discovery, image: \"istio/pilot:1.27.3\" }] } } }"));
        return docs;
    }

    [Fact]
    public void AHealthyDeploymentPassesEveryCheck()
    {
        var r = Assert.Single(DeploymentVerifier.Verify(ClusterSnapshot.FromText(Healthy().ToArray())));
        Assert.True(r.Passed, string.Join("\n", r.Checks.Where(c => !c.Passed)));
        Assert.Contains(r.Checks, c => c.Name == "GatewayAddress" && c.Detail.Contains("http://34.1.2.3/demo/qwen/v1"));
        Assert.Contains(r.Checks, c => c.Name == "Operator:kserve" && c.Status == CheckStatus.Passed);
    }

    [Fact]
    public void AMissingPoolAndAnUnavailableOperatorFailWithFixes()
    {
        var docs = Healthy().Where(d => !d.Contains("kind: InferencePool")).Select(d => d.Contains("llmisvc-controller-manager") ? Deployment("opendatahub", "llmisvc-controller-manager", available: false) : d).ToArray();
        var r = Assert.Single(DeploymentVerifier.Verify(ClusterSnapshot.FromText(docs)));
        Assert.False(r.Passed);
        Assert.Contains("InferencePool", r.Failed);
        Assert.Contains("Operator:kserve", r.Failed);
        Assert.All(r.Checks.Where(c => !c.Passed), c => Assert.False(string.IsNullOrEmpty(c.Fix)));
    }

    [Fact]
    public void PolicyThatBlocksTheGatewayFailsTheRun()
    {
        var docs = Healthy().Where(d => !d.Contains("allow-gateway-to-vllm")).ToArray();
        var r = Assert.Single(DeploymentVerifier.Verify(ClusterSnapshot.FromText(docs)));
        Assert.Contains("NetworkPolicyAdmitsGateway", r.Failed);
    }

    [Fact]
    public void UnknownServiceIsAClearError()
    {
        var ex = Assert.Throws<RhaiiException>(() => DeploymentVerifier.Verify(ClusterSnapshot.FromText(Healthy().ToArray()), "demo", "nope"));
        Assert.Equal("LlmInferenceServiceNotFound", ex.ErrorId);
    }
}
