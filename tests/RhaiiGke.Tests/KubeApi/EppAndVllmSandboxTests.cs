using System.Text.Json.Nodes;
using RhaiiGke.Engine.Manifests;
using RhaiiGke.Sandbox.Vllm;
using Xunit;

namespace RhaiiGke.Tests.KubeApi;

/// <summary>
/// The sandbox's KServe controller treats the EPP's pull secrets as KServe release-v0.15 does (none on
/// &lt;name&gt;-epp-sa, the pod is the scheduler template), and the vLLM behind a pod reports its image's version
/// and the deployment's --max-model-len.
/// </summary>
public sealed class EppAndVllmSandboxTests
{
    private static bool Running(JsonObject? pod) =>
        pod?["status"]?["containerStatuses"]?.AsArray().All(s => s?["state"]?["running"] is not null) == true && pod["status"]!["containerStatuses"]!.AsArray().Count > 0;

    [Fact]
    public async Task TheDeployedEppPullsWithTheTemplatePullSecretWhileItsServiceAccountHasNone()
    {
        await using var c = await DataPlaneCluster.StartAsync(DataPlaneCluster.Options());
        var spec = DataPlaneCluster.Spec("qwen");
        var llmisvc = ManifestBuilder.LlmInferenceService(spec);
        Assert.Equal(spec.PullSecretName, llmisvc["spec"]!["router"]!["scheduler"]!["template"]!["imagePullSecrets"]![0]!["name"]!.GetValue<string>());
        await c.ApplyAsync(DataPlaneCluster.ServiceYaml(spec));
        await c.ServiceReadyAsync("qwen");

        var sa = c.Get("v1", "ServiceAccount", DataPlaneCluster.Ns, "qwen-epp-sa");
        Assert.NotNull(sa);
        Assert.Null(sa!["imagePullSecrets"]);
        var epp = await c.WaitAsync(() => c.Pods(DataPlaneCluster.Ns, "app.kubernetes.io/component", "llminferenceservice-router-scheduler").FirstOrDefault(), Running, "EPP pod running");
        Assert.Equal("qwen-epp-sa", epp["spec"]!["serviceAccountName"]!.GetValue<string>());
        Assert.StartsWith("registry.redhat.io/", epp["spec"]!["containers"]![0]!["image"]!.GetValue<string>());
        Assert.Equal(spec.PullSecretName, epp["spec"]!["imagePullSecrets"]![0]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task WithPullSecretsOnlyOnTheWorkloadServiceAccountTheEppCannotPull()
    {
        await using var c = await DataPlaneCluster.StartAsync(DataPlaneCluster.Options());
        var spec = DataPlaneCluster.Spec("qwen");
        // as upstream samples do it: the pull secret on the workload ServiceAccount only, an empty scheduler
        var docs = new List<string> { DataPlaneCluster.ServiceYaml(spec, skip: o => o.Kind == "LLMInferenceService") };
        var llmisvc = ManifestBuilder.LlmInferenceService(spec);
        llmisvc["spec"]!["router"]!["scheduler"] = new JsonObject();
        docs.Add(llmisvc.ToJsonString());
        await c.ApplyAsync(string.Join("\n---\n", docs));

        var epp = await c.WaitAsync(() => c.Pods(DataPlaneCluster.Ns, "app.kubernetes.io/component", "llminferenceservice-router-scheduler").FirstOrDefault(),
            p => p?["status"]?["containerStatuses"]?[0]?["state"]?["waiting"]?["reason"]?.GetValue<string>() is "ErrImagePull" or "ImagePullBackOff", "EPP pull failure");
        Assert.Null(epp["spec"]!["imagePullSecrets"]);
        Assert.Contains("401 Unauthorized", epp["status"]!["containerStatuses"]![0]!["state"]!["waiting"]!["message"]!.GetValue<string>());
        // the vLLM pods pull: the workload ServiceAccount carries the secret
        await c.WaitAsync(() => c.Pods(DataPlaneCluster.Ns, "kserve.io/component", "workload").FirstOrDefault(), Running, "vLLM pod running");

        // a pull secret added to the EPP ServiceAccount by hand survives reconciles (DeepDerivative) and reaches new pods
        using var k = new k8s.Kubernetes(k8s.KubernetesClientConfiguration.BuildConfigFromConfigFile(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(c.Sim.Kubeconfig()))));
        await k8s.CoreV1OperationsExtensions.PatchNamespacedServiceAccountAsync(k,
            new k8s.Models.V1Patch($"{{\"imagePullSecrets\":[{{\"name\":\"{spec.PullSecretName}\"}}]}}", k8s.Models.V1Patch.PatchType.MergePatch), "qwen-epp-sa", DataPlaneCluster.Ns);
        foreach (var p in c.Pods(DataPlaneCluster.Ns, "app.kubernetes.io/component", "llminferenceservice-router-scheduler"))
            await k8s.CoreV1OperationsExtensions.DeleteNamespacedPodAsync(k, p["metadata"]!["name"]!.GetValue<string>(), DataPlaneCluster.Ns);
        await c.ServiceReadyAsync("qwen");
        Assert.Equal(spec.PullSecretName, c.Get("v1", "ServiceAccount", DataPlaneCluster.Ns, "qwen-epp-sa")!["imagePullSecrets"]![0]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task TheVllmBehindAPodReportsItsImageVersionAndTheDeploymentsMaxModelLen()
    {
        await using var c = await DataPlaneCluster.StartAsync(DataPlaneCluster.Options());
        var spec = DataPlaneCluster.Spec("qwen");
        Assert.Equal(4096, spec.MaxModelLength);
        await c.ApplyAsync(DataPlaneCluster.ServiceYaml(spec));
        var svc = await c.ServiceReadyAsync("qwen");
        var url = svc["status"]!["url"]!.GetValue<string>();

        var (status, body, _) = await DataPlaneCluster.SendAsync(url, "GET", "/v1/models");
        Assert.True(status == 200, body);
        Assert.Equal(4096, JsonNode.Parse(body)!["data"]![0]!["max_model_len"]!.GetValue<int>());
        (status, body, _) = await DataPlaneCluster.SendAsync(url, "GET", "/version");
        Assert.True(status == 200, body);
        Assert.Equal(VllmVersions.ForImage(spec.Image), JsonNode.Parse(body)!["version"]!.GetValue<string>());

        // a prompt plus max_tokens beyond 4096 gets vLLM's context-length error from the pod
        (status, body, _) = await DataPlaneCluster.SendAsync(url, "POST", "/v1/completions",
            new JsonObject { ["model"] = spec.ModelName, ["prompt"] = "hi", ["max_tokens"] = 4096 }.ToJsonString());
        Assert.Equal(400, status);
        Assert.Contains("maximum context length is 4096 tokens", body);
    }
}
