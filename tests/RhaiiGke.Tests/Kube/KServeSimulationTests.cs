using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Engine.Kube.Platform;
using RhaiiGke.Sandbox.KubeApi;
using Xunit;

namespace RhaiiGke.Tests.Kube;

/// <summary>An LLMInferenceService on the sandbox after Install-RhaiiOperators: the KServe, Istio gateway and scheduler simulations together.</summary>
public sealed class KServeSimulationTests
{
    private const string Gateway = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata:
          name: inference-gateway
          namespace: opendatahub
          labels: {serving.kserve.io/gateway: kserve-ingress-gateway}
        spec:
          gatewayClassName: istio
          listeners:
          - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}
        """;

    private static string Service(string name, int replicas) => $$"""
        apiVersion: v1
        kind: Namespace
        metadata: {name: rhaii-inference}
        ---
        apiVersion: serving.kserve.io/v1alpha1
        kind: LLMInferenceService
        metadata: {name: {{name}}, namespace: rhaii-inference}
        spec:
          model: {uri: "hf://Qwen/Qwen2.5-3B-Instruct", name: Qwen/Qwen2.5-3B-Instruct}
          replicas: {{replicas}}
          template:
            nodeSelector: {cloud.google.com/gke-tpu-accelerator: tpu-v6e-slice, cloud.google.com/gke-tpu-topology: 2x2}
            tolerations: [{key: google.com/tpu, operator: Exists, effect: NoSchedule}]
            containers:
            - name: main
              image: registry.redhat.io/rhaiis/vllm-tpu-rhel9:3.2
              resources:
                requests: {google.com/tpu: "4"}
                limits: {google.com/tpu: "4"}
          router:
            route: {}
            gateway: {}
            scheduler: {}
        """;

    [Fact]
    public async Task AnLlmInferenceServiceBecomesReadyBehindTheGatewayWhenTheTpuNodesFit()
    {
        var options = KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(15));
        options.Nodes.AddRange(SimulatedNode.TpuPool("tpu-pool", 1, "tpu-v6e-slice", "2x2", "ct6e-standard-4t", 4));
        using var sim = new KubeApiSimulator(options);
        sim.Start();
        var conn = Fast.Connect(sim);
        var platform = await new PlatformInstaller(conn).InstallAsync(new RhaiiInstallOptions { Apply = Fast.Options() }, CancellationToken.None);
        Assert.True(platform.Ready);
        var engine = new ApplyEngine(conn);
        await engine.ApplyAsync(Gateway, Fast.Options("gateway"), CancellationToken.None);

        // the webhook rejects an invalid spec with the controller's rule
        var invalid = Service("bad", 1).Replace("  router:", "  worker: {containers: [{name: w, image: x}]}\n  router:");
        var ex = await Assert.ThrowsAsync<RhaiiException>(() => engine.ApplyAsync(invalid, Fast.Options("llmisvc"), CancellationToken.None));
        Assert.Equal("KubeForbidden", ex.ErrorId);
        Assert.Contains("admission webhook \"llminferenceservice.kserve-webhook-server.validator\" denied the request", ex.Message);

        await engine.ApplyAsync(Service("qwen", 1), Fast.Options("llmisvc"), CancellationToken.None);
        JsonObject? svc = null;
        for (var i = 0; i < 400; i++)
        {
            svc = sim.GetObject("serving.kserve.io/v1alpha1", "LLMInferenceService", "rhaii-inference", "qwen");
            if (svc?["status"]?["conditions"]?.AsArray().Any(c => c!["type"]!.GetValue<string>() == "Ready" && c["status"]!.GetValue<string>() == "True") == true) break;
            await Task.Delay(20);
        }
        var conditions = svc!["status"]!["conditions"]!.AsArray().ToDictionary(c => c!["type"]!.GetValue<string>(), c => c!["status"]!.GetValue<string>());
        Assert.True(conditions["Ready"] == "True", svc.ToJsonString());
        Assert.Equal("True", conditions["PresetsCombined"]);
        Assert.Equal("True", conditions["SchedulerWorkloadReady"]);
        Assert.Equal("True", conditions["HTTPRoutesReady"]);
        Assert.StartsWith("http://", svc["status"]!["url"]!.GetValue<string>());
        Assert.EndsWith("/rhaii-inference/qwen", svc["status"]!["url"]!.GetValue<string>());
        Assert.NotNull(sim.GetObject("apps/v1", "Deployment", "rhaii-inference", "qwen-kserve"));
        Assert.NotNull(sim.GetObject("apps/v1", "Deployment", "rhaii-inference", "qwen-kserve-router-scheduler"));
        Assert.NotNull(sim.GetObject("inference.networking.x-k8s.io/v1alpha2", "InferencePool", "rhaii-inference", "qwen-inference-pool"));
        var route = sim.GetObject("gateway.networking.k8s.io/v1", "HTTPRoute", "rhaii-inference", "qwen-kserve-route")!;
        Assert.Equal("/rhaii-inference/qwen/v1/completions", route["spec"]!["rules"]![0]!["matches"]![0]!["path"]!["value"]!.GetValue<string>());

        // two replicas need two TPU hosts: the second pod stays Pending and Ready says why
        var noWait = Fast.Options("llmisvc");
        noWait.Wait = false;
        await engine.ApplyAsync(Service("qwen", 2), noWait, CancellationToken.None);
        string? message = null;
        for (var i = 0; i < 400 && message?.Contains("nodes are available") != true; i++)
        {
            var s = sim.GetObject("serving.kserve.io/v1alpha1", "LLMInferenceService", "rhaii-inference", "qwen")!;
            var ready = s["status"]!["conditions"]!.AsArray().First(c => c!["type"]!.GetValue<string>() == "Ready")!;
            if (ready["status"]!.GetValue<string>() == "False") message = ready["message"]!.GetValue<string>();
            await Task.Delay(20);
        }
        Assert.Contains("Insufficient google.com/tpu", message);
    }
}
