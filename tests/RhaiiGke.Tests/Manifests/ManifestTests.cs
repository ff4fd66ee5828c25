using System.Text.Json.Nodes;
using RhaiiGke.Engine.Manifests;
using RhaiiGke.Engine.Serving.Autoscaling;
using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.Manifests;

public class YamlCodecTests
{
    [Fact]
    public void RoundTripsTypesThatPlainYamlWouldChange()
    {
        var o = new JsonObject
        {
            ["count"] = "4", ["flag"] = "true", ["topology"] = "2x2", ["version"] = "1.10", ["empty"] = "",
            ["n"] = 4, ["b"] = false, ["null"] = null, ["multi"] = "a\nb\n", ["arg"] = "--x=1", ["no"] = "no",
            ["list"] = new JsonArray(1, "2", new JsonObject()), ["obj"] = new JsonObject(),
        };
        var yaml = YamlCodec.Write(o);
        var back = YamlCodec.ReadOne(yaml);
        Assert.True(JsonNode.DeepEquals(o, back), yaml);
        Assert.Contains("topology: 2x2", yaml);
        Assert.Contains("count: \"4\"", yaml);
    }

    [Fact]
    public void ReadsPlainScalarsAsKubernetesDoes()
    {
        var o = YamlCodec.ReadOne("a: yes\nb: off\nc: 0x1F\nd: 017\ne: 1_000\nf: 'no'\ng: 2x2\nh: 1.5\ni: ~\n")!;
        Assert.True(o["a"]!.GetValue<bool>());
        Assert.False(o["b"]!.GetValue<bool>());
        Assert.Equal(31, o["c"]!.GetValue<long>());
        Assert.Equal(15, o["d"]!.GetValue<long>());
        Assert.Equal(1000, o["e"]!.GetValue<long>());
        Assert.Equal("no", o["f"]!.GetValue<string>());
        Assert.Equal("2x2", o["g"]!.GetValue<string>());
        Assert.Equal(1.5, o["h"]!.GetValue<double>());
        Assert.Null(o["i"]);
    }

    [Fact]
    public void ReadsMultipleDocumentsAndSkipsEmptyOnes()
    {
        var docs = YamlCodec.ReadAll("a: 1\n---\n---\nb: '1'\n");
        Assert.Equal(2, docs.Count);
        Assert.Equal(1, docs[0]!["a"]!.GetValue<long>());
        Assert.Equal("1", docs[1]!["b"]!.GetValue<string>());
    }
}

public class SpecFactoryTests
{
    private static LlmInferenceServiceSpec Make(Func<SpecRequest, SpecRequest>? f = null) =>
        SpecFactory.Create((f ?? (r => r))(new SpecRequest { Name = "qwen", Model = "hf://Qwen/Qwen2.5-3B-Instruct" }));

    [Fact]
    public void DerivesTpuSettingsFromAcceleratorAndTopology()
    {
        var s = Make();
        Assert.Equal("tpu-v6e-slice", s.NodeLabel);
        Assert.Equal("ct6e-standard-4t", s.MachineType);
        Assert.Equal(4, s.ChipsPerHost);
        Assert.Equal(4, s.TensorParallelSize);
        Assert.Equal("Qwen/Qwen2.5-3B-Instruct", s.ModelName);
        Assert.Equal("hf-token", s.HuggingFaceTokenSecret);
        Assert.Equal("redhat-pull-secret", s.PullSecretName);
        Assert.Equal(1, s.Replicas);
        Assert.False(s.PrefixCaching);
    }

    [Fact]
    public void CacheAwareDefaultsToThreeReplicasWithPrefixCaching()
    {
        var s = Make(r => r with { Pattern = DeploymentPattern.CacheAware });
        Assert.Equal(3, s.Replicas);
        Assert.True(s.PrefixCaching);
    }

    [Fact]
    public void BareRepositoryIdBecomesHfUri() =>
        Assert.Equal("hf://Qwen/Qwen2.5-3B-Instruct", Make(r => r with { Model = "Qwen/Qwen2.5-3B-Instruct" }).ModelUri);

    [Theory]
    [InlineData("gs://bucket/qwen", "GcpServiceAccountRequired")]
    [InlineData("https://example.com/m", "UnsupportedModelUriScheme")]
    [InlineData("qwen", "InvalidModelUri")]
    public void RejectsModelUrisKServeCannotRead(string uri, string errorId)
    {
        var ex = Assert.Throws<RhaiiException>(() => Make(r => r with { Model = uri }));
        Assert.Equal(errorId, ex.ErrorId);
        Assert.NotNull(ex.RecommendedAction);
    }

    [Theory]
    [InlineData("--served-model-name=x")]
    [InlineData("--model=Qwen/Qwen2.5-3B-Instruct")]
    [InlineData("--tensor-parallel-size=2")]
    [InlineData("--dtype=half")]
    [InlineData("--prefix-cache-block-size=64")]
    public void RejectsFlagsThatBreakServingOnTpu(string flag)
    {
        var ex = Assert.Throws<RhaiiException>(() => Make(r => r with { VllmArguments = [flag] }));
        Assert.Equal("VllmArgumentNotAllowed", ex.ErrorId);
    }

    [Fact]
    public void AllowsOtherFlagsAndBfloat16()
    {
        var s = Make(r => r with { VllmArguments = ["--dtype=bfloat16", "--max-num-seqs=128"] });
        Assert.Equal(2, s.VllmArguments.Length);
    }

    [Fact]
    public void AcceptsMultiHostTopologyAndRejectsWrongTensorParallelSize()
    {
        Assert.Equal(4, Make(r => r with { Topology = "4x4" }).Hosts);
        Assert.Equal("TensorParallelMismatch", Assert.Throws<RhaiiException>(() => Make(r => r with { TensorParallelSize = 3 })).ErrorId);
        Assert.Equal("InvalidServiceName", Assert.Throws<RhaiiException>(() => Make(r => r with { Name = "Qwen_3B" })).ErrorId);
    }

    [Fact]
    public void RejectsAModelThatDoesNotFitAndNamesOneThatDoes()
    {
        var ex = Assert.Throws<RhaiiException>(() => Make(r => r with { Model = "hf://meta-llama/Llama-3.1-70B-Instruct" }));
        Assert.Equal("ModelDoesNotFitTopology", ex.ErrorId);
        Assert.Contains("-Topology 2x4", ex.RecommendedAction);
    }

    [Fact]
    public void WarnsWhenTheSliceWastesChips()
    {
        var log = new RecordingLog();
        SpecFactory.Create(new SpecRequest { Name = "q", Model = "hf://Qwen/Qwen2.5-3B-Instruct" }, log);
        Assert.Contains(log.Warnings, w => w.Contains("4 replicas at TP=1"));
    }

    private sealed class RecordingLog : IRhaiiLog
    {
        public List<string> Warnings { get; } = [];
        public void Verbose(string message) { }
        public void Debug(string message) { }
        public void Warning(string message) => Warnings.Add(message);
        public void Progress(string activity, string status, int percent) { }
    }
}

public class ManifestBuilderTests
{
    private static JsonObject Find(IEnumerable<ManifestObject> objs, string kind, string? nameContains = null) =>
        YamlCodec.ReadOne(objs.First(o => o.Kind == kind && (nameContains is null || o.Name.Contains(nameContains))).Yaml)!.AsObject();

    private static IReadOnlyList<ManifestObject> Pattern(DeploymentPattern p) => ManifestBuilder.BuildPattern(SpecFactory.Create(PatternDefaults.For(p)));

    [Fact]
    public void WorkloadIsTpuCorrectAndKeepsKServesArgs()
    {
        var svc = Find(Pattern(DeploymentPattern.Baseline), "LLMInferenceService");
        var template = svc["spec"]!["template"]!;
        var c = template["containers"]![0]!;
        Assert.Null(c["args"]); // replacing args loses --served-model-name and TLS
        Assert.Equal("4", c["resources"]!["requests"]!["google.com/tpu"]!.GetValue<string>());
        Assert.Equal("4", c["resources"]!["limits"]!["google.com/tpu"]!.GetValue<string>());
        Assert.Equal("tpu-v6e-slice", template["nodeSelector"]!["cloud.google.com/gke-tpu-accelerator"]!.GetValue<string>());
        Assert.Equal("2x2", template["nodeSelector"]!["cloud.google.com/gke-tpu-topology"]!.GetValue<string>());
        Assert.Equal("google.com/tpu", template["tolerations"]![0]!["key"]!.GetValue<string>());
        var extra = c["env"]!.AsArray().Single(e => e!["name"]!.GetValue<string>() == "VLLM_ADDITIONAL_ARGS")!["value"]!.GetValue<string>();
        Assert.Contains("--tensor-parallel-size=4", extra);
        Assert.True(c["startupProbe"]!["failureThreshold"]!.GetValue<long>() * 10 >= 600);
        Assert.Equal("HTTPS", c["startupProbe"]!["httpGet"]!["scheme"]!.GetValue<string>());
    }

    [Fact]
    public void HfTokenIsListedOnTheServiceAccountTheWorkloadUses()
    {
        var objs = Pattern(DeploymentPattern.Baseline);
        var sa = Find(objs, "ServiceAccount");
        var svc = Find(objs, "LLMInferenceService");
        Assert.Equal(sa["metadata"]!["name"]!.GetValue<string>(), svc["spec"]!["template"]!["serviceAccountName"]!.GetValue<string>());
        Assert.Equal("hf-token", sa["secrets"]![0]!["name"]!.GetValue<string>());
    }

    [Fact]
    public void SecretsHoldPlaceholdersOnly()
    {
        foreach (var o in Pattern(DeploymentPattern.CacheAware).Where(o => o.Kind == "Secret"))
        {
            Assert.True(o.HasPlaceholders);
            var node = YamlCodec.ReadOne(o.Yaml)!;
            Assert.Null(node["data"]);
            foreach (var (_, v) in node["stringData"]!.AsObject()) Assert.Contains(ManifestBuilder.Placeholder, v!.GetValue<string>());
        }
    }

    [Fact]
    public void EnvoyFilterPatchesOnlyThePoolRulesOfTheRealRoute()
    {
        var ef = Find(Pattern(DeploymentPattern.CacheAware), "EnvoyFilter");
        var names = ef["spec"]!["configPatches"]!.AsArray().Select(p => p!["match"]!["routeConfiguration"]!["vhost"]!["route"]!["name"]!.GetValue<string>()).ToList();
        Assert.Equal(["rhaii-inference.qwen-cache-aware-kserve-route.0", "rhaii-inference.qwen-cache-aware-kserve-route.1"], names);
        Assert.Equal("opendatahub", ef["metadata"]!["namespace"]!.GetValue<string>());
        Assert.DoesNotContain(Pattern(DeploymentPattern.Baseline), o => o.Kind == "EnvoyFilter");
    }

    [Fact]
    public void GkePatternUsesRegionalClassLocalRouteConfigWithoutTimeoutsAndHealthChecks()
    {
        var objs = Pattern(DeploymentPattern.GkeNativeGateway);
        Assert.Equal("gke-l7-regional-external-managed", Find(objs, "Gateway")["spec"]!["gatewayClassName"]!.GetValue<string>());
        var route = objs.Single(o => o.Kind == "LLMInferenceServiceConfig");
        Assert.Equal("rhaii-inference", route.Namespace);
        Assert.Equal("kserve-config-llm-router-route", route.Name);
        Assert.DoesNotContain("timeouts", route.Yaml);
        Assert.Equal(2, objs.Count(o => o.Kind == "HealthCheckPolicy"));
        Assert.DoesNotContain(objs, o => o.Kind == "EnvoyFilter");
        Assert.Contains("type: HTTPS", objs.First(o => o.Kind == "HealthCheckPolicy").Yaml);
    }

    [Fact]
    public void NetworkPoliciesSelectKServesRealLabelsAndOnlyTheGatewayNamespace()
    {
        var objs = Pattern(DeploymentPattern.CacheAware);
        var vllm = Find(objs, "NetworkPolicy", "allow-gateway-to-vllm");
        Assert.Equal("llminferenceservice-workload", vllm["spec"]!["podSelector"]!["matchLabels"]!["app.kubernetes.io/component"]!.GetValue<string>());
        var peer = vllm["spec"]!["ingress"]![0]!["from"]![0]!;
        Assert.Equal("opendatahub", peer["namespaceSelector"]!["matchLabels"]!["kubernetes.io/metadata.name"]!.GetValue<string>());
        Assert.Equal("inference-gateway", peer["podSelector"]!["matchLabels"]!["gateway.networking.k8s.io/gateway-name"]!.GetValue<string>());
        Assert.Contains(objs, o => o.Kind == "NetworkPolicy" && o.Name.EndsWith("default-deny"));
    }

    [Fact]
    public void OrderAndFileNamesAreStable()
    {
        var a = Pattern(DeploymentPattern.CacheAware).Select(o => o.FileName).ToList();
        var b = Pattern(DeploymentPattern.CacheAware).Select(o => o.FileName).ToList();
        Assert.Equal(a, b);
        Assert.Equal(a.Count, a.Distinct().Count());
        Assert.True(a.IndexOf(a.First(f => f.Contains("customresource") || f.Contains("llminferenceservice-"))) > a.IndexOf(a.First(f => f.Contains("serviceaccount"))));
        Assert.StartsWith("00-namespace", a[0]);
    }
}

public class UpstreamSchemaTests
{
    public static TheoryData<DeploymentPattern> Patterns => new() { DeploymentPattern.Baseline, DeploymentPattern.CacheAware, DeploymentPattern.GkeNativeGateway };

    /// <summary>Kinds that have no upstream schema here (GKE's own CRDs are not published as files).</summary>
    private static readonly HashSet<string> NoSchema = ["HealthCheckPolicy"];

    [SchemaFact]
    public void EveryObjectOfEveryPatternPassesStrictSchemaValidation()
    {
        var cat = UpstreamSchemas.Catalog;
        var checkedKinds = new HashSet<string>();
        foreach (var p in new[] { DeploymentPattern.Baseline, DeploymentPattern.CacheAware, DeploymentPattern.GkeNativeGateway })
        {
            foreach (var o in ManifestBuilder.BuildPattern(SpecFactory.Create(PatternDefaults.For(p))))
            {
                if (NoSchema.Contains(o.Kind)) continue;
                var errors = cat.Validate(YamlCodec.ReadOne(o.Yaml)!.AsObject());
                Assert.True(errors.Count == 0, $"{p} {o.Kind}/{o.Name}:\n{string.Join("\n", errors)}\n{o.Yaml}");
                checkedKinds.Add(o.Kind);
            }
        }
        foreach (var k in new[] { "LLMInferenceService", "LLMInferenceServiceConfig", "Gateway", "Certificate", "ClusterIssuer", "EnvoyFilter", "NetworkPolicy", "Namespace", "Secret", "ServiceAccount", "ConfigMap" })
            Assert.Contains(k, checkedKinds);
    }

    /// <summary>
    /// Every pattern as a user exports it (Export-RhaiiManifest, the files it writes): the three -Pattern bundles with
    /// the platform, a multi-host slice (LeaderWorkerSet worker and pipeline preset), a GPU service, a gs:// model with
    /// Workload Identity, two models behind one model-routed URL, and the HorizontalPodAutoscaler
    /// Enable-LlmInferenceServiceAutoscaling applies. Each object is validated strictly against the upstream schemas;
    /// kinds with no upstream schema file here (GKE's HealthCheckPolicy, Istio's DestinationRule) are named and skipped.
    /// </summary>
    [SchemaFact]
    public void EveryExportedObjectOfEveryPatternPassesStrictSchemaValidation()
    {
        var cat = UpstreamSchemas.Catalog;
        var root = Directory.CreateTempSubdirectory("rhaii-export-").FullName;
        try
        {
            using var ps = new PowerShellHost();
            ps.Run($$"""
                Export-RhaiiManifest -Pattern Baseline -Path '{{root}}/baseline' | Out-Null
                Export-RhaiiManifest -Pattern CacheAware -Path '{{root}}/cache-aware' | Out-Null
                Export-RhaiiManifest -Pattern GkeNativeGateway -Path '{{root}}/gke-native' | Out-Null
                New-LlmInferenceServiceSpec -Name big -Model Qwen/Qwen2.5-72B-Instruct -Namespace llm -Topology 4x4 | Export-RhaiiManifest -IncludePlatform -Path '{{root}}/multihost-4x4' | Out-Null
                New-LlmInferenceServiceSpec -Name big -Model Qwen/Qwen2.5-72B-Instruct -Namespace llm -Accelerator v5p -Topology 2x2x2 | Export-RhaiiManifest -Path '{{root}}/multihost-v5p' | Out-Null
                New-LlmInferenceServiceSpec -Name gpu -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace llm -Accelerator nvidia-l4 | Export-RhaiiManifest -Path '{{root}}/gpu' | Out-Null
                New-LlmInferenceServiceSpec -Name gcs -Model gs://models/qwen -ModelName Qwen/Qwen2.5-1.5B-Instruct -Namespace llm -GcpServiceAccount model-reader@rhaii-project.iam.gserviceaccount.com | Export-RhaiiManifest -Path '{{root}}/gcs' | Out-Null
                $a = New-LlmInferenceServiceSpec -Name small -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace llm -Pattern CacheAware
                $b = New-LlmInferenceServiceSpec -Name large -Model Qwen/Qwen2.5-3B-Instruct -Namespace llm
                $a, $b | Export-RhaiiManifest -IncludePlatform -ModelRoute models -Path '{{root}}/multi-model' | Out-Null
                """);
            var hpa = AutoscalingBuilder.Hpa(new AutoscalingPlan { Name = "qwen", Namespace = "llm",
                Signals = [AutoscalingSignal.RequestsWaiting, AutoscalingSignal.KvCacheUsage, AutoscalingSignal.RequestsRunning, AutoscalingSignal.PoolQueueSize] });
            var objects = Directory.EnumerateFiles(root, "*.yaml", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
                .SelectMany(f => YamlCodec.ReadAll(File.ReadAllText(f)).Select(n => (File: Path.GetRelativePath(root, f), Obj: n!.AsObject())))
                .Append((File: "autoscaling/hpa", Obj: hpa)).ToList();
            var checkedKinds = new HashSet<string>();
            var skipped = new HashSet<string>();
            var failures = new List<string>();
            foreach (var (file, obj) in objects)
            {
                var kind = obj["kind"]!.GetValue<string>();
                if (kind is "HealthCheckPolicy" or "DestinationRule") { skipped.Add(kind); continue; }
                var errors = cat.Validate(obj);
                if (errors.Count > 0) failures.Add($"{file} {kind}: {string.Join("; ", errors)}");
                checkedKinds.Add(kind);
            }
            Assert.True(failures.Count == 0, string.Join("\n", failures));
            foreach (var folder in new[] { "baseline", "cache-aware", "gke-native", "multihost-4x4", "multihost-v5p", "gpu", "gcs", "multi-model" })
                Assert.Contains(objects, o => o.File.StartsWith(folder + Path.DirectorySeparatorChar, StringComparison.Ordinal));
            foreach (var k in new[] { "LLMInferenceService", "LLMInferenceServiceConfig", "HTTPRoute", "Deployment", "Service", "EnvoyFilter", "NetworkPolicy", "ServiceAccount", "HorizontalPodAutoscaler", "Gateway", "Namespace", "Secret" })
                Assert.Contains(k, checkedKinds);
            Assert.Equal(["DestinationRule", "HealthCheckPolicy"], skipped.Order(StringComparer.Ordinal));
        }
        finally { Directory.Delete(root, true); }
    }

    [SchemaFact]
    public void TheValidatorRejectsUnknownFieldsWrongTypesAndMissingRequiredFields()
    {
        var cat = UpstreamSchemas.Catalog;
        var obj = YamlCodec.ReadOne(ManifestBuilder.BuildPattern(SpecFactory.Create(PatternDefaults.For(DeploymentPattern.Baseline)))
            .First(o => o.Kind == "LLMInferenceService").Yaml)!.AsObject();
        obj["spec"]!["modle"] = new JsonObject();                       // typo
        obj["spec"]!["replicas"] = "three";                             // wrong type
        obj["spec"]!["model"]!.AsObject().Remove("uri");                // required
        obj["metadata"]!["labelz"] = new JsonObject();                  // ObjectMeta is strict too
        obj["spec"]!["template"]!["containers"]![0]!["resourcez"] = 1;  // PodSpec inside the CRD
        var errors = cat.Validate(obj).Select(e => e.ToString()).ToList();
        Assert.Contains(errors, e => e.Contains(".spec.modle") && e.Contains("unknown field"));
        Assert.Contains(errors, e => e.Contains(".spec.replicas") && e.Contains("integer"));
        Assert.Contains(errors, e => e.Contains(".spec.model") && e.Contains("'uri'"));
        Assert.Contains(errors, e => e.Contains(".metadata.labelz"));
        Assert.Contains(errors, e => e.Contains("containers[0].resourcez"));
    }

    [SchemaFact]
    public void BuiltInKindsAreValidatedFromTheKubernetesOpenApi()
    {
        var cat = UpstreamSchemas.Catalog;
        var np = YamlCodec.ReadOne("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x}\nspec:\n  podSelector: {}\n  ingress:\n  - ports:\n    - port: http\n      protocol: TCP\n      bogus: 1\n")!.AsObject();
        var errors = cat.Validate(np);
        Assert.Single(errors);
        Assert.Contains("bogus", errors[0].Path);
    }
}
