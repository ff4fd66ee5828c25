using System.Security;
using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube.Json;
using RhaiiGke.Engine.Manifests;
using RhaiiGke.Engine.Serving;
using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.Serving;

/// <summary>Pod stage classification, the typed service view, and the objects a deploy creates (strict upstream schemas).</summary>
public class LlmServiceStateTests
{
    private static JsonObject Pod(string status) => KJson.ParseObject($$$"""
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"qwen-kserve-abc","namespace":"llm",
          "labels":{"app.kubernetes.io/component":"llminferenceservice-workload","app.kubernetes.io/name":"qwen"}},
         "spec":{"nodeName":"gke-tpu-1","containers":[{"name":"main","image":"registry.redhat.io/rhaiis/vllm-tpu-rhel9:3.2.5"}]},
         "status":{{{status}}}}
        """);

    [Theory]
    [InlineData("""{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"False","reason":"Unschedulable","message":"0/4 nodes are available: 4 node(s) didn't match Pod's node affinity/selector."}]}""",
        ServingStage.Unschedulable, "didn't match")]
    [InlineData("""{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"True"}],"containerStatuses":[{"name":"main","ready":false,"restartCount":0,"state":{"waiting":{"reason":"ImagePullBackOff","message":"Back-off pulling image"}}}]}""",
        ServingStage.ImagePullFailed, "ImagePullBackOff")]
    [InlineData("""{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"True"},{"type":"Initialized","status":"False","reason":"ContainersNotInitialized"}],"initContainerStatuses":[{"name":"storage-initializer","ready":false,"restartCount":0,"state":{"running":{"startedAt":"2026-11-25T10:00:00Z"}}}],"containerStatuses":[{"name":"main","ready":false,"restartCount":0,"state":{"waiting":{"reason":"PodInitializing"}}}]}""",
        ServingStage.DownloadingModel, "downloading")]
    [InlineData("""{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"True"},{"type":"Initialized","status":"False"}],"initContainerStatuses":[{"name":"storage-initializer","ready":false,"restartCount":3,"lastState":{"terminated":{"exitCode":1,"reason":"Error","message":"huggingface_hub.errors.GatedRepoError: 401 Client Error.\nCannot access gated repo for url https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct."}},"state":{"waiting":{"reason":"CrashLoopBackOff","message":"back-off 40s restarting failed container"}}}]}""",
        ServingStage.ModelDownloadFailed, "gated repo")]
    [InlineData("""{"phase":"Running","conditions":[{"type":"PodScheduled","status":"True"},{"type":"Initialized","status":"True"},{"type":"Ready","status":"False"}],"initContainerStatuses":[{"name":"storage-initializer","ready":false,"restartCount":0,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}}],"containerStatuses":[{"name":"main","ready":false,"started":false,"restartCount":0,"state":{"running":{"startedAt":"2026-11-25T10:05:00Z"}}}]}""",
        ServingStage.Compiling, "startup probe")]
    [InlineData("""{"phase":"Running","conditions":[{"type":"PodScheduled","status":"True"}],"containerStatuses":[{"name":"main","ready":false,"restartCount":4,"lastState":{"terminated":{"exitCode":1,"reason":"Error","message":"ValueError: Total number of attention heads (28) must be divisible by tensor parallel size (8)."}},"state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}""",
        ServingStage.CrashLoop, "tensor parallel")]
    [InlineData("""{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"True"},{"type":"Initialized","status":"False"}],"initContainerStatuses":[{"name":"storage-initializer","ready":false,"restartCount":3,"lastState":{"terminated":{"exitCode":1,"reason":"Error","message":"401 Client Error"}},"state":{"running":{"startedAt":"2026-11-25T10:00:00Z"}}}]}""",
        ServingStage.ModelDownloadFailed, "restarts 3")]
    [InlineData("""{"phase":"Running","conditions":[{"type":"PodScheduled","status":"True"},{"type":"Ready","status":"True"}],"containerStatuses":[{"name":"main","ready":true,"started":true,"restartCount":0,"state":{"running":{}}}]}""",
        ServingStage.Ready, null)]
    public void PodsAreClassifiedIntoStages(string status, ServingStage expected, string? messagePart)
    {
        var (stage, message) = LlmServiceState.Classify(Pod(status));
        Assert.Equal(expected, stage);
        if (messagePart is not null) Assert.Contains(messagePart, message);
    }

    [Fact]
    public void TheServiceViewCarriesTheConditionTreeAndTheLeastAdvancedPod()
    {
        var svc = KJson.ParseObject("""
            {"apiVersion":"serving.kserve.io/v1alpha1","kind":"LLMInferenceService",
             "metadata":{"name":"qwen","namespace":"llm","generation":2,"labels":{"rhaiigke.io/pattern":"CacheAware"}},
             "spec":{"model":{"uri":"hf://Qwen/Qwen2.5-7B-Instruct","name":"Qwen/Qwen2.5-7B-Instruct"},"replicas":2,
               "template":{"nodeSelector":{"cloud.google.com/gke-tpu-accelerator":"tpu-v6e-slice","cloud.google.com/gke-tpu-topology":"2x2"},
                 "containers":[{"name":"main","image":"vllm:1"}]},
               "router":{"route":{},"scheduler":{},"gateway":{"refs":[{"name":"inference-gateway","namespace":"opendatahub"}]}}},
             "status":{"observedGeneration":2,"url":"http://34.1.2.3/llm/qwen","conditions":[
               {"type":"Ready","status":"False","reason":"WorkloadsNotReady"},
               {"type":"WorkloadsReady","status":"False","reason":"WorkloadsNotReady"},
               {"type":"MainWorkloadReady","status":"False","reason":"MinimumReplicasUnavailable","message":"pod qwen-kserve-abc is Pending"},
               {"type":"RouterReady","status":"True"}]}}
            """);
        var ready = Pod("""{"phase":"Running","conditions":[{"type":"PodScheduled","status":"True"},{"type":"Ready","status":"True"}],"containerStatuses":[{"name":"main","ready":true,"started":true,"restartCount":0,"state":{"running":{}}}]}""");
        var compiling = Pod("""{"phase":"Running","conditions":[{"type":"PodScheduled","status":"True"},{"type":"Ready","status":"False"}],"containerStatuses":[{"name":"main","ready":false,"started":false,"restartCount":0,"state":{"running":{}}}]}""");
        compiling["metadata"]!["name"] = "qwen-kserve-def";
        var gw = KJson.ParseObject("""{"metadata":{"name":"inference-gateway","namespace":"opendatahub"},"status":{"addresses":[{"type":"IPAddress","value":"34.1.2.3"}]}}""");
        var route = KJson.ParseObject("""{"spec":{"rules":[{"backendRefs":[{"group":"inference.networking.x-k8s.io","kind":"InferencePool","name":"qwen-inference-pool"}]},{"backendRefs":[{"kind":"Service","name":"qwen-kserve-workload-svc"}]}]}}""");

        var s = LlmServiceState.Read(svc, [ready, compiling], gw, route, "sandbox");
        Assert.False(s.Ready);
        Assert.Equal(ServingStage.Compiling, s.Stage);
        Assert.Equal(2, s.Replicas);
        Assert.Equal(1, s.ReadyReplicas);
        Assert.Equal("http://34.1.2.3/llm/qwen/v1", s.BaseUrl);
        Assert.Equal("34.1.2.3", s.GatewayAddress);
        Assert.Equal("opendatahub/inference-gateway", s.Gateway);
        Assert.Equal("inference.networking.x-k8s.io", s.InferencePoolGroup);
        Assert.Equal("tpu-v6e-slice", s.Accelerator);
        Assert.Equal("CacheAware", s.Pattern);
        Assert.Equal(["Ready", "RouterReady", "WorkloadsReady", "MainWorkloadReady"], s.Conditions.Select(c => c.Type));
        Assert.Equal("WorkloadsReady", s.Condition("MainWorkloadReady")!.Parent);
        Assert.Contains("qwen-kserve-def", s.Message);

        svc["metadata"]!["annotations"] = new JsonObject { ["serving.kserve.io/stop"] = "true" };
        // right after the stop the pods are still there: Stopping, nothing counted ready, never "1/0"
        var stopping = LlmServiceState.Read(svc, [ready, compiling], gw, route, "sandbox");
        Assert.True(stopping.Stopped);
        Assert.Equal(ServingStage.Stopping, stopping.Stage);
        Assert.Equal(0, stopping.Replicas);
        Assert.Equal(0, stopping.ReadyReplicas);
        Assert.Contains("2 workload pod(s) still shutting down", stopping.Message);
        Assert.Equal(2, stopping.Pods.Length);
        Assert.EndsWith("Stopping 0/0", stopping.ToString());

        var stopped = LlmServiceState.Read(svc, [], gw, route, "sandbox");
        Assert.True(stopped.Stopped);
        Assert.Equal(ServingStage.Stopped, stopped.Stage);
        Assert.Equal(0, stopped.Replicas);
    }

    [Fact]
    public void TheServiceRoundTripsThroughJson()
    {
        var s = new LlmInferenceService
        {
            Name = "qwen", Namespace = "llm", Model = "Qwen/Qwen2.5-7B-Instruct", Stage = ServingStage.Compiling, Replicas = 3, ReadyReplicas = 2,
            Url = "http://34.1.2.3/llm/qwen", Conditions = [new ServiceCondition { Type = "Ready", Status = "False", Reason = "WorkloadsNotReady" }],
            Pods = [new ServicePod { Name = "qwen-kserve-a", Role = "workload", Stage = ServingStage.Compiling, Restarts = 1 }],
            Objects = [new KubeObjectResult { Kind = "Secret", Name = "hf-token", Namespace = "llm", Action = KubeApplyAction.Created }],
        };
        var json = System.Text.Json.JsonSerializer.Serialize(s);
        var back = System.Text.Json.JsonSerializer.Deserialize<LlmInferenceService>(json)!;
        Assert.Equal(s.Name, back.Name);
        Assert.Equal(s.Stage, back.Stage);
        Assert.Equal(s.BaseUrl, back.BaseUrl);
        Assert.Equal("WorkloadsNotReady", Assert.Single(back.Conditions).Reason);
        Assert.Equal(1, Assert.Single(back.Pods).Restarts);
        Assert.Equal(KubeApplyAction.Created, Assert.Single(back.Objects).Action);
        Assert.Equal(json, System.Text.Json.JsonSerializer.Serialize(back));
    }

    [Fact]
    public void TheEnvoyFilterTargetsOnlyTheRulesThatReachAnInferencePool()
    {
        var route = KJson.ParseObject("""
            {"spec":{"rules":[
            {"backendRefs":[{"kind":"Service","name":"a"}]},
            {"backendRefs":[{"group":"inference.networking.k8s.io","kind":"InferencePool","name":"p"}]},
            {"backendRefs":[{"kind":"Service","name":"b"}]},
            {"backendRefs":[{"group":"inference.networking.k8s.io","kind":"InferencePool","name":"p"}]}]}}
            """);
        var idx = LlmServiceManager.PoolRuleIndexes(route);
        Assert.Equal([1, 3], idx);
        var spec = SpecFactory.Create(PatternDefaults.For(DeploymentPattern.CacheAware));
        var filter = ManifestBuilder.BodyForwardingEnvoyFilter(spec, idx);
        var names = filter["spec"]!["configPatches"]!.AsArray().Select(p => p!["match"]!["routeConfiguration"]!["vhost"]!["route"]!["name"]!.GetValue<string>());
        Assert.Equal([ManifestBuilder.IstioRouteName(spec.Namespace, spec.Name, 1), ManifestBuilder.IstioRouteName(spec.Namespace, spec.Name, 3)], names);
    }

    private static SecureString Secure(string s)
    {
        var ss = new SecureString();
        foreach (var c in s) ss.AppendChar(c);
        return ss;
    }

    [SchemaFact]
    public async Task EveryObjectADeploySendsPassesStrictSchemaValidation()
    {
        var cat = UpstreamSchemas.Catalog;
        // No request is needed when both credentials are given; the connection is never dialled.
        var manager = new LlmServiceManager(new ClusterConnection { Name = "offline", Server = "https://127.0.0.1:1", AuthKind = ClusterAuthKind.None });
        var kinds = new HashSet<string>();
        foreach (var p in new[] { DeploymentPattern.Baseline, DeploymentPattern.CacheAware, DeploymentPattern.GkeNativeGateway })
        {
            var spec = SpecFactory.Create(PatternDefaults.For(p));
            var objects = await manager.PlanAsync(new LlmDeployRequest
            {
                Spec = spec,
                HuggingFaceToken = Secure("hf_abc"),
                PullSecretConfig = Secure("""{"auths":{"registry.redhat.io":{"auth":"dTpw"}}}"""),
                TokenFromEnvironment = false,
            }, CancellationToken.None);
            objects.Add(ManifestBuilder.BodyForwardingEnvoyFilter(spec, [0, 1]));
            foreach (var o in objects)
            {
                if (o["kind"]!.GetValue<string>() == "HealthCheckPolicy") continue; // no upstream schema file
                var errors = cat.Validate(o);
                Assert.True(errors.Count == 0, $"{p} {o["kind"]}/{o["metadata"]!["name"]}:\n{string.Join("\n", errors)}");
                kinds.Add(o["kind"]!.GetValue<string>());
                Assert.DoesNotContain(ManifestBuilder.Placeholder, o.ToJsonString());
            }
        }
        foreach (var k in new[] { "Namespace", "Secret", "ServiceAccount", "LLMInferenceService", "LLMInferenceServiceConfig", "NetworkPolicy", "EnvoyFilter" })
            Assert.Contains(k, kinds);
    }
}
