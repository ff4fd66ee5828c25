using System.Text.Json.Nodes;
using RhaiiGke.Engine.Inference;
using RhaiiGke.Engine.Manifests;
using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.Manifests;

/// <summary>The multi-model pattern's objects (body-based router, model route): shape, upstream schemas, bad input; and the benchmark's weighted mix.</summary>
public class MultiModelManifestTests
{
    private static LlmInferenceServiceSpec Spec(string name, string model, string ns = "llm", DeploymentPattern pattern = DeploymentPattern.Baseline) =>
        SpecFactory.Create(new SpecRequest { Name = name, Model = model, Namespace = ns, Pattern = pattern });

    private static IReadOnlyList<ModelRouteMember> Members(params LlmInferenceServiceSpec[] specs) => specs.Select(MultiModelBuilder.MemberFromSpec).ToList();

    [Fact]
    public void TheModelRouteHasOneHeaderMatchedRulePerModelToItsOwnPool()
    {
        var objects = MultiModelBuilder.Build("models", Members(Spec("small", "Qwen/Qwen2.5-1.5B-Instruct"), Spec("large", "Qwen/Qwen2.5-3B-Instruct")), "inference-gateway", "opendatahub");
        Assert.Equal(["ConfigMap", "Deployment", "Deployment", "DestinationRule", "EnvoyFilter", "HTTPRoute", "Service", "Service"], objects.Select(o => o.Kind).Order(StringComparer.Ordinal));
        var route = YamlCodec.ReadOne(Assert.Single(objects, o => o.Kind == "HTTPRoute").Yaml)!.AsObject();
        Assert.Equal("models-model-route", route["metadata"]!["name"]!.GetValue<string>());
        Assert.Equal("llm", route["metadata"]!["namespace"]!.GetValue<string>());
        var all = route["spec"]!["rules"]!.AsArray().OfType<JsonObject>().ToList();
        Assert.Equal(3, all.Count);
        var rules = all.Take(2).ToList();
        Assert.Equal("small,large", route["metadata"]!["annotations"]![MultiModelBuilder.ServicesAnnotation]!.GetValue<string>());
        var byModel = rules.ToDictionary(r => r["matches"]![0]!["headers"]![0]!["value"]!.GetValue<string>());
        Assert.Equal("small-inference-pool", byModel["Qwen/Qwen2.5-1.5B-Instruct"]["backendRefs"]![0]!["name"]!.GetValue<string>());
        Assert.Equal("large-inference-pool", byModel["Qwen/Qwen2.5-3B-Instruct"]["backendRefs"]![0]!["name"]!.GetValue<string>());
        Assert.All(rules, r =>
        {
            Assert.Equal("X-Gateway-Model-Name", r["matches"]![0]!["headers"]![0]!["name"]!.GetValue<string>());
            Assert.Equal("Exact", r["matches"]![0]!["headers"]![0]!["type"]!.GetValue<string>());
            Assert.Equal("/llm/models", r["matches"]![0]!["path"]!["value"]!.GetValue<string>());
            Assert.Equal("/", r["filters"]![0]!["urlRewrite"]!["path"]!["replacePrefixMatch"]!.GetValue<string>());
        });
        var filter = YamlCodec.ReadOne(Assert.Single(objects, o => o.Kind == "EnvoyFilter").Yaml)!.AsObject();
        Assert.Equal("opendatahub", filter["metadata"]!["namespace"]!.GetValue<string>());
        var value = filter["spec"]!["configPatches"]![0]!["patch"]!["value"]!;
        Assert.Equal("envoy.filters.http.ext_proc", value["name"]!.GetValue<string>());
        Assert.Equal("outbound|9004||body-based-router.opendatahub.svc.cluster.local", value["typed_config"]!["grpc_service"]!["envoy_grpc"]!["cluster_name"]!.GetValue<string>());
        Assert.Equal("INSERT_FIRST", filter["spec"]!["configPatches"]![0]!["patch"]!["operation"]!.GetValue<string>());
    }

    [Fact]
    public void GetModelsOnTheSharedUrlGoesToAStaticListOfEveryModelThatChangesWithTheModels()
    {
        var members = Members(Spec("small", "Qwen/Qwen2.5-1.5B-Instruct"), Spec("large", "Qwen/Qwen2.5-3B-Instruct"));
        var objects = MultiModelBuilder.Build("models", members, "inference-gateway", "opendatahub");
        var route = YamlCodec.ReadOne(Assert.Single(objects, o => o.Kind == "HTTPRoute").Yaml)!.AsObject();
        // last rule (the per-model rule indices stay 0..n-1), Exact GET /<ns>/<name>/v1/models rewritten to /v1/models, to the list Service
        var list = route["spec"]!["rules"]!.AsArray().Last()!.AsObject();
        Assert.Equal("Exact", list["matches"]![0]!["path"]!["type"]!.GetValue<string>());
        Assert.Equal("/llm/models/v1/models", list["matches"]![0]!["path"]!["value"]!.GetValue<string>());
        Assert.Equal("GET", list["matches"]![0]!["method"]!.GetValue<string>());
        Assert.Null(list["matches"]![0]!["headers"]);
        Assert.Equal("/v1/models", list["filters"]![0]!["urlRewrite"]!["path"]!["replaceFullPath"]!.GetValue<string>());
        Assert.Equal("models-models", list["backendRefs"]![0]!["name"]!.GetValue<string>());
        Assert.Equal("8080", list["backendRefs"]![0]!["port"]!.ToString());

        var cm = YamlCodec.ReadOne(Assert.Single(objects, o => o.Kind == "ConfigMap").Yaml)!.AsObject();
        var listed = JsonNode.Parse(cm["data"]!["models.json"]!.GetValue<string>())!;
        Assert.Equal("list", listed["object"]!.GetValue<string>());
        Assert.Equal(["Qwen/Qwen2.5-1.5B-Instruct", "Qwen/Qwen2.5-3B-Instruct"], listed["data"]!.AsArray().Select(d => d!["id"]!.GetValue<string>()));
        Assert.Contains("location = /v1/models", cm["data"]!["models.conf"]!.GetValue<string>());
        var deployment = YamlCodec.ReadOne(Assert.Single(objects, o => o.Kind == "Deployment" && o.Name == "models-models").Yaml)!.AsObject();
        var container = deployment["spec"]!["template"]!["spec"]!["containers"]![0]!;
        Assert.StartsWith("registry.access.redhat.com/ubi9/nginx-", container["image"]!.GetValue<string>());
        Assert.Equal("/v1/models", container["readinessProbe"]!["httpGet"]!["path"]!.GetValue<string>());
        string Checksum(IReadOnlyList<ManifestObject> objs) => YamlCodec.ReadOne(Assert.Single(objs, o => o.Kind == "Deployment" && o.Name == "models-models").Yaml)!
            ["spec"]!["template"]!["metadata"]!["annotations"]![MultiModelBuilder.ChecksumAnnotation]!.GetValue<string>();
        // another model list rolls the pod (a mounted ConfigMap alone reaches a running pod only after the kubelet's sync)
        var three = MultiModelBuilder.Build("models", [.. members, MultiModelBuilder.MemberFromSpec(Spec("tiny", "Qwen/Qwen2.5-0.5B-Instruct"))], "inference-gateway", "opendatahub");
        Assert.NotEqual(Checksum(objects), Checksum(three));
        Assert.Equal(Checksum(objects), Checksum(MultiModelBuilder.Build("models", members, "inference-gateway", "opendatahub")));
        // one model is allowed only when asked for (what is left after Remove-InferenceModelRoute -ServiceName)
        Assert.Equal("ModelRouteNeedsTwoModels", Assert.Throws<RhaiiException>(() => MultiModelBuilder.Build("models", members.Take(1).ToList(), "inference-gateway", "opendatahub")).ErrorId);
        Assert.NotEmpty(MultiModelBuilder.Build("models", members.Take(1).ToList(), "inference-gateway", "opendatahub", minimum: 1));
    }

    [Fact]
    public void CacheAwareMembersGetTheEppBodyOverrideOnTheirModelRouteRules()
    {
        var objects = MultiModelBuilder.Build("models", Members(Spec("small", "Qwen/Qwen2.5-1.5B-Instruct", pattern: DeploymentPattern.CacheAware), Spec("large", "Qwen/Qwen2.5-3B-Instruct")), "inference-gateway", "opendatahub");
        var epp = YamlCodec.ReadOne(Assert.Single(objects, o => o.Kind == "EnvoyFilter" && o.Name != MultiModelBuilder.BbrName).Yaml)!.AsObject();
        var names = epp["spec"]!["configPatches"]!.AsArray().Select(p => p!["match"]!["routeConfiguration"]!["vhost"]!["route"]!["name"]!.GetValue<string>()).ToList();
        Assert.Equal(["llm.models-model-route.0"], names);
    }

    [Theory]
    [InlineData("one", "ModelRouteNeedsTwoModels")]
    [InlineData("namespaces", "ModelRouteNamespaceMismatch")]
    [InlineData("duplicate", "DuplicateServedModel")]
    [InlineData("clash", "ModelRouteNameClash")]
    [InlineData("badname", "InvalidModelRouteName")]
    [InlineData("gke", "ModelRoutingNeedsIstioGateway")]
    [InlineData("toomany", "TooManyRoutedModels")]
    public void BadCombinationsFailWithAStableErrorIdBeforeAnythingIsBuilt(string scenario, string errorId)
    {
        var a = Spec("small", "Qwen/Qwen2.5-1.5B-Instruct");
        var b = Spec("large", "Qwen/Qwen2.5-3B-Instruct");
        var (name, members, cls) = scenario switch
        {
            "one" => ("models", Members(a), InferenceGatewayClass.Istio),
            "namespaces" => ("models", Members(a, Spec("large", "Qwen/Qwen2.5-3B-Instruct", ns: "other")), InferenceGatewayClass.Istio),
            "duplicate" => ("models", Members(a, Spec("again", "Qwen/Qwen2.5-1.5B-Instruct")), InferenceGatewayClass.Istio),
            "clash" => ("small", Members(a, b), InferenceGatewayClass.Istio),
            "badname" => ("Models!", Members(a, b), InferenceGatewayClass.Istio),
            "toomany" => ("models", Members([.. Enumerable.Range(0, 16).Select(i => { var s = Spec($"m{i}", "Qwen/Qwen2.5-1.5B-Instruct"); s.ModelName = $"model-{i}"; return s; })]), InferenceGatewayClass.Istio),
            _ => ("models", Members(a, b), InferenceGatewayClass.GkeRegionalExternal),
        };
        var e = Assert.Throws<RhaiiException>(() => MultiModelBuilder.Build(name, members, "inference-gateway", "opendatahub", cls));
        Assert.Equal(errorId, e.ErrorId);
        Assert.False(string.IsNullOrWhiteSpace(e.RecommendedAction));
    }

    [SchemaFact]
    public void EveryObjectOfTheMultiModelPatternPassesStrictSchemaValidation()
    {
        var cat = UpstreamSchemas.Catalog;
        var specs = new[] { Spec("small", "Qwen/Qwen2.5-1.5B-Instruct", pattern: DeploymentPattern.CacheAware), Spec("large", "Qwen/Qwen2.5-3B-Instruct") };
        var objects = specs.SelectMany(ManifestBuilder.BuildService).Concat(MultiModelBuilder.Build("models", Members(specs), "inference-gateway", "opendatahub")).ToList();
        var checkedKinds = new HashSet<string>();
        foreach (var o in objects)
        {
            if (o.Kind == "DestinationRule") continue; // no upstream schema file for Istio's DestinationRule here
            var errors = cat.Validate(YamlCodec.ReadOne(o.Yaml)!.AsObject());
            Assert.True(errors.Count == 0, $"{o.Kind}/{o.Name}:\n{string.Join("\n", errors)}\n{o.Yaml}");
            checkedKinds.Add(o.Kind);
        }
        foreach (var k in new[] { "HTTPRoute", "EnvoyFilter", "Deployment", "Service", "ConfigMap", "LLMInferenceService" }) Assert.Contains(k, checkedKinds);
    }

    [Fact]
    public void TheMixDrawsModelsByWeightRepeatablyAndRefusesBadWeights()
    {
        var spec = new InferenceBenchmarkSpec { ModelMix = new Dictionary<string, double> { ["b"] = 1, ["a"] = 3 } };
        var mix = MultiModelMix.From(spec)!;
        Assert.Equal(["a", "b"], mix.Models);
        var slots = mix.Assign(4000, 7);
        Assert.Equal(slots, mix.Assign(4000, 7));
        var share = slots.Count(s => s == 0) / 4000.0;
        Assert.InRange(share, 0.70, 0.80);
        Assert.Null(MultiModelMix.From(new InferenceBenchmarkSpec()));
        Assert.Equal("InvalidModelMix", Assert.Throws<RhaiiException>(() => MultiModelMix.From(new InferenceBenchmarkSpec { ModelMix = new Dictionary<string, double> { ["a"] = 0 } })).ErrorId);
        Assert.Equal("ModelAndModelMix", Assert.Throws<RhaiiException>(() => MultiModelMix.From(new InferenceBenchmarkSpec { Model = "a", ModelMix = new Dictionary<string, double> { ["a"] = 1 } })).ErrorId);
        Assert.True(MultiModelMix.IsModelNotFound(404, "{\"error\":{\"message\":\"The model `x` does not exist.\",\"type\":\"NotFoundError\"}}"));
        Assert.False(MultiModelMix.IsModelNotFound(404, ""));
    }
}
