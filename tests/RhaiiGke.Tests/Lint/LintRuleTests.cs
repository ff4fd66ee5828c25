using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using RhaiiGke.Engine.Manifests.Lint;
using Xunit;

namespace RhaiiGke.Tests.Lint;

/// <summary>Rules and engine behaviour on inline YAML.</summary>
public class LintRuleTests
{
    /// <summary>A TPU LLMISVC whose template is given; everything else is correct.</summary>
    private static string Service(string template, string spec = "", string meta = "") => $$"""
        apiVersion: serving.kserve.io/v1alpha1
        kind: LLMInferenceService
        metadata:
          name: svc
          namespace: ns
        {{meta}}
        spec:
          model:
            uri: hf://Qwen/Qwen2.5-3B-Instruct
            name: Qwen/Qwen2.5-3B-Instruct
          router:
            route: {}
            gateway: {}
            scheduler: {}
        {{spec}}
          template:
        {{template}}
        """;

    private const string TpuPod = """
            nodeSelector:
              cloud.google.com/gke-tpu-accelerator: tpu-v6e-slice
              cloud.google.com/gke-tpu-topology: 2x2
            tolerations:
            - {key: google.com/tpu, operator: Exists}
        """ + "\n";

    private static string MainContainer(string extra, string chips = "4") => $$"""
            containers:
            - name: main
              image: registry.redhat.io/rhaiis/vllm-tpu-rhel9:3.2.5
              resources:
                limits: {google.com/tpu: "{{chips}}"}
              startupProbe:
                httpGet: {path: /health, port: 8000, scheme: HTTPS}
                failureThreshold: 60
        {{extra}}
        """;

    private static string Env(string flags) => $"""
              env:
              - name: VLLM_ADDITIONAL_ARGS
                value: "{flags}"
        """;

    private static IReadOnlyList<ManifestFinding> Lint(string yaml) => ManifestLinter.LintYaml(yaml);

    [Fact]
    public void TheCorrectInlineServiceHasNoFindings()
    {
        var findings = Lint(Service(TpuPod + MainContainer(Env("--tensor-parallel-size=4"))));
        Assert.True(findings.Count == 0, Fixtures.Describe(findings));
    }

    [Theory]
    [InlineData("--tensor-parallel-size=2", FindingSeverity.Warning, "uses 2 of the pod's 4")]
    [InlineData("--tensor-parallel-size 3", FindingSeverity.Error, "does not divide")]
    [InlineData("-tp 8", FindingSeverity.Error, "needs more TPU chips")]
    [InlineData("--tensor_parallel_size=16", FindingSeverity.Error, "needs more TPU chips")]
    [InlineData("--tensor-parallel-size=2 --pipeline-parallel-size=2", null, null)]
    public void TensorParallelSizeMustUseTheChips(string flags, FindingSeverity? severity, string? text)
    {
        var findings = Lint(Service(TpuPod + MainContainer(Env(flags))));
        if (severity is null) { Assert.Empty(findings); return; }
        var f = Fixtures.Single(findings, "RHAII101");
        Assert.Equal(severity, f.Severity);
        Assert.Contains(text!, f.Message);
        Assert.Equal("spec.template.containers[0].env[0].value", f.ObjectPath);
    }

    [Fact]
    public void OnlyVllmIsExpectedToSetATensorParallelSize()
    {
        var deployment = File.ReadAllText(Fixtures.PathOf("deployment-good.yaml")).Replace("        - --tensor-parallel-size=4\n", "");
        Assert.Contains(Lint(deployment), f => f.RuleId == "RHAII101" && f.Message.StartsWith("No --tensor-parallel-size"));
        var jetstream = deployment.Replace("docker.io/vllm/vllm-tpu:v0.11.1", "us-docker.pkg.dev/cloud-tpu-images/inference/jetstream-pytorch-server:v0.2.4")
            .Replace("command: [\"vllm\", \"serve\", \"Qwen/Qwen2.5-3B-Instruct\"]", "command: [\"jetstream-server\"]");
        Assert.DoesNotContain(Lint(jetstream), f => f.RuleId == "RHAII101");
    }

    [Fact]
    public void TensorParallelismFromTheSpecCountsAndMustAgreeWithTheFlag()
    {
        var fromSpec = Lint(Service(TpuPod + MainContainer(""), spec: "  parallelism: {tensor: 8}"));
        var f = Fixtures.Single(fromSpec, "RHAII101");
        Assert.Equal("spec.parallelism.tensor", f.ObjectPath);

        var both = Lint(Service(TpuPod + MainContainer(Env("--tensor-parallel-size=4")), spec: "  parallelism: {tensor: 2}"));
        Assert.Contains(both, x => x.RuleId == "RHAII101" && x.Message.Contains("contradicts"));
    }

    [Fact]
    public void ModelsThatDoNotFitTheSlicesHbmAreFound()
    {
        var big = Lint(Service(TpuPod + MainContainer(Env("--tensor-parallel-size=4 --max-model-len=8192"))).Replace("Qwen2.5-3B-Instruct", "Qwen2.5-72B-Instruct"));
        var f = Fixtures.Single(big, "RHAII008");
        Assert.Equal("spec.model.uri", f.ObjectPath);
        Assert.Contains("Qwen/Qwen2.5-72B-Instruct needs", f.Message);
        Assert.DoesNotContain("Lower --max-model-len", f.Fix); // the weights alone do not fit
        Assert.Contains("Get-TpuTopology -Model Qwen/Qwen2.5-72B-Instruct -FitOnly", f.Fix);

        // Llama 3.1 8B fits one v6e chip, but not with the KV cache of its default 131072-token context.
        var oneChip = Service(TpuPod.Replace("2x2", "1x1") + MainContainer("", chips: "1")).Replace("Qwen/Qwen2.5-3B-Instruct", "meta-llama/Llama-3.1-8B-Instruct");
        var longContext = Fixtures.Single(Lint(oneChip), "RHAII008");
        Assert.Contains("131072-token sequence", longContext.Message);
        Assert.StartsWith("Lower --max-model-len", longContext.Fix);
        Assert.DoesNotContain(Lint(oneChip.Replace("      startupProbe:", Env("--max-model-len=8192") + "\n      startupProbe:")), x => x.RuleId == "RHAII008");
    }

    [Fact]
    public void LabelsInRequiredNodeAffinityCountLikeANodeSelector()
    {
        var pod = """
                affinity:
                  nodeAffinity:
                    requiredDuringSchedulingIgnoredDuringExecution:
                      nodeSelectorTerms:
                      - matchExpressions:
                        - {key: cloud.google.com/gke-tpu-accelerator, operator: In, values: [tpu-v6e]}
                        - {key: cloud.google.com/gke-tpu-topology, operator: In, values: [2x2]}
                tolerations:
                - {key: google.com/tpu, operator: Exists}
            """ + "\n";
        var findings = Lint(Service(pod + MainContainer(Env("--tensor-parallel-size=4"))));
        var f = Fixtures.Single(findings, "RHAII001");
        Assert.EndsWith(".matchExpressions[0].values[0]", f.ObjectPath);
        Assert.DoesNotContain(findings, x => x.RuleId == "RHAII003");
    }

    [Fact]
    public void TpuNodesWithoutAChipRequestAndBoundsOnTheWrongGridAreFound()
    {
        var noChips = Lint(Service(TpuPod + """
                containers:
                - name: main
                  image: registry.redhat.io/rhaiis/vllm-tpu-rhel9:3.2.5
                  startupProbe: {httpGet: {path: /health, port: 8000, scheme: HTTPS}, failureThreshold: 60}
            """));
        var f = Fixtures.Single(noChips, "RHAII005");
        Assert.Contains("google.com/tpu: \"4\"", f.Fix);

        var grid = Lint(Service(TpuPod + MainContainer("""
                  env:
                  - {name: TPU_CHIPS_PER_HOST_BOUNDS, value: "4,1,1"}
                  - {name: TPU_HOST_BOUNDS, value: "1,1,2"}
                  - {name: VLLM_ADDITIONAL_ARGS, value: "--tensor-parallel-size=4"}
            """)));
        Assert.Contains(grid, x => x.RuleId == "RHAII007" && x.Severity == FindingSeverity.Warning && x.Fix.Contains("\"2,2,1\""));
        Assert.Contains(grid, x => x.RuleId == "RHAII007" && x.Severity == FindingSeverity.Error && x.Message.StartsWith("TPU_HOST_BOUNDS"));
    }

    [Fact]
    public void RequestsThatDifferFromLimitsAreRejected()
    {
        var findings = Lint(Service(TpuPod + """
                containers:
                - name: main
                  image: registry.redhat.io/rhaiis/vllm-tpu-rhel9:3.2.5
                  env: [{name: VLLM_ADDITIONAL_ARGS, value: "--tensor-parallel-size=4"}]
                  resources:
                    requests: {google.com/tpu: "2"}
                    limits: {google.com/tpu: "4"}
                  startupProbe: {httpGet: {path: /health, port: 8000, scheme: HTTPS}, failureThreshold: 60}
            """));
        var f = Fixtures.Single(findings, "RHAII005");
        Assert.Contains("requests 2", f.Message);
        Assert.Equal("spec.template.containers[0].resources.requests['google.com/tpu']", f.ObjectPath);
    }

    [Fact]
    public void GpuImagesAndKServesDefaultImageAreFlaggedOnTpu()
    {
        var cuda = Lint(Service(TpuPod + MainContainer(Env("--tensor-parallel-size=4")).Replace("rhaiis/vllm-tpu-rhel9", "rhaiis/vllm-cuda-rhel9")));
        Assert.Equal("spec.template.containers[0].image", Fixtures.Single(cuda, "RHAII107").ObjectPath);

        var noImage = Lint(Service(TpuPod + MainContainer(Env("--tensor-parallel-size=4")).Replace("      image: registry.redhat.io/rhaiis/vllm-tpu-rhel9:3.2.5\n", "")));
        Assert.Contains("stock template", Fixtures.Single(noImage, "RHAII107").Message);
    }

    [Fact]
    public void AdditionalArgsAreIgnoredWhenArgsReplaceTheTemplate()
    {
        var findings = Lint(Service(TpuPod + MainContainer("""
                  args: ["--served-model-name=Qwen/Qwen2.5-3B-Instruct", "--ssl-certfile=/var/run/kserve/tls/tls.crt", "--ssl-keyfile=/var/run/kserve/tls/tls.key", "--tensor-parallel-size=4"]
                  env: [{name: VLLM_ADDITIONAL_ARGS, value: "--max-model-len=8192"}]
            """)));
        Fixtures.AssertRules(findings, "RHAII108");
        Assert.DoesNotContain("8192", findings[0].Message); // env values are not echoed
    }

    [Fact]
    public void OwnCommandThatDownloadsTheModelItselfIsFlagged()
    {
        var findings = Lint(Service(TpuPod + MainContainer("""
                  command: ["python3", "-m", "vllm.entrypoints.openai.api_server"]
                  args: ["--model=Qwen/Qwen2.5-3B-Instruct", "--served-model-name=Qwen/Qwen2.5-3B-Instruct", "--tensor-parallel-size=4", "--enable-ssl-refresh", "--ssl-certfile=/var/run/kserve/tls/tls.crt", "--ssl-keyfile=/var/run/kserve/tls/tls.key"]
            """)));
        var f = Fixtures.Single(findings, "RHAII103");
        Assert.Contains("downloaded twice", f.Message);
        Fixtures.AssertRules(findings, "RHAII103");
    }

    [Fact]
    public void ShellScriptArgsAreSplitIntoFlags()
    {
        var findings = Lint(Service(TpuPod + MainContainer("""
                  command: ["/bin/bash", "-c"]
                  args:
                  - |
                    python3 -m vllm.entrypoints.openai.api_server \
                      --model=/mnt/models \
                      --dtype=half \
                      --tensor-parallel-size=4 \
                      --ssl-certfile=/var/run/kserve/tls/tls.crt \
                      --ssl-keyfile=/var/run/kserve/tls/tls.key
            """)));
        // The upstream caching manifest: the script has no --served-model-name and asks for float16.
        Fixtures.AssertRules(findings, "RHAII102", "RHAII105");
        Assert.Equal("spec.template.containers[0].args[0]", Fixtures.Single(findings, "RHAII105").ObjectPath);
    }

    [Fact]
    public void LiteralApiKeysOnTheCommandLineAreSecrets()
    {
        var findings = Lint(Service(TpuPod + MainContainer(Env("--tensor-parallel-size=4 --api-key sk-very-secret"))));
        var f = Fixtures.Single(findings, "RHAII303");
        Assert.DoesNotContain("sk-very-secret", f.Message + f.Fix);
    }

    [Fact]
    public void ContainersMergeWithKServesByName()
    {
        var findings = Lint(Service(TpuPod + MainContainer(Env("--tensor-parallel-size=4")).Replace("name: main", "name: vllm")));
        var f = Fixtures.Single(findings, "RHAII401");
        Assert.Equal("spec.template.containers[0].name", f.ObjectPath);
        Assert.Equal("Rename it to main.", f.Fix);
    }

    [Fact]
    public void WebhookRulesForParallelismAndRouterAreChecked()
    {
        var worker = Lint(Service(TpuPod + MainContainer(Env("--tensor-parallel-size=4")),
            spec: "  parallelism: {data: 2}\n  worker:\n    containers: [{name: main}]"));
        // data is set, so the worker is allowed, but data needs dataLocal.
        Assert.Equal("spec.parallelism.dataLocal", Fixtures.Single(worker, "RHAII402").ObjectPath);

        var noPar = Lint(Service(TpuPod + MainContainer(Env("--tensor-parallel-size=4")), spec: "  worker:\n    containers: [{name: main}]"));
        Assert.Contains(noPar, f => f.RuleId == "RHAII402" && f.ObjectPath == "spec.worker");

        var refs = Lint(Service(TpuPod + MainContainer(Env("--tensor-parallel-size=4"))).Replace("route: {}", "route: {http: {refs: [{name: my-route}]}}"));
        Assert.Equal("spec.router.gateway.refs", Fixtures.Single(refs, "RHAII403").ObjectPath);

        var noRouter = Lint(Service(TpuPod + MainContainer(Env("--tensor-parallel-size=4")))
            .Replace("  router:\n    route: {}\n    gateway: {}\n    scheduler: {}\n", ""));
        Assert.Equal(FindingSeverity.Information, Fixtures.Single(noRouter, "RHAII403").Severity);
    }

    [Fact]
    public void WorkloadNamespacesWithSidecarInjectionAreFlagged()
    {
        var yaml = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns\n  labels:\n    istio-injection: enabled\n---\n"
                   + Service(TpuPod + MainContainer(Env("--tensor-parallel-size=4")));
        var f = Fixtures.Single(Lint(yaml), "RHAII404");
        Assert.Equal("Namespace", f.Kind);
        Assert.Equal("metadata.labels.istio-injection", f.ObjectPath);
        Assert.Equal(6, f.Line);
    }

    [Fact]
    public void ApiVersionNameDefaultAndStopAreReported()
    {
        var v2 = Lint(Service(TpuPod + MainContainer(Env("--tensor-parallel-size=4"))).Replace("v1alpha1", "v1alpha2"));
        Assert.Equal(FindingSeverity.Warning, Fixtures.Single(v2, "RHAII405").Severity);
        var wrongGroup = Lint(Service(TpuPod + MainContainer(Env("--tensor-parallel-size=4"))).Replace("serving.kserve.io/v1alpha1", "kserve.io/v1alpha1"));
        Fixtures.AssertRules(wrongGroup, "RHAII405");
        Assert.Equal(FindingSeverity.Error, wrongGroup[0].Severity);

        var unnamed = Lint(Service(TpuPod + MainContainer(Env("--tensor-parallel-size=4"))).Replace("    name: Qwen/Qwen2.5-3B-Instruct\n", ""));
        var info = Fixtures.Single(unnamed, "RHAII406");
        Assert.Equal(FindingSeverity.Information, info.Severity);
        Assert.Contains("'svc'", info.Message);
        Assert.Contains("spec.model.name: Qwen/Qwen2.5-3B-Instruct", info.Fix);

        var stopped = Lint(Service(TpuPod + MainContainer(Env("--tensor-parallel-size=4")), meta: "  annotations:\n    serving.kserve.io/stop: \"true\""));
        Assert.Equal(FindingSeverity.Information, Fixtures.Single(stopped, "RHAII407").Severity);
    }

    [Fact]
    public void ConfigsAndServicesWithBaseRefsDoNotReportMissingFields()
    {
        var config = """
            apiVersion: serving.kserve.io/v1alpha1
            kind: LLMInferenceServiceConfig
            metadata: {name: tpu-v6e-2x2}
            spec:
              template:
                nodeSelector: {cloud.google.com/gke-tpu-accelerator: tpu-v6e-slice}
                containers:
                - name: main
                  env: [{name: VLLM_ADDITIONAL_ARGS, value: "--tensor-parallel-size=4"}]
            """;
        Assert.Empty(Lint(config));

        var withBase = """
            apiVersion: serving.kserve.io/v1alpha1
            kind: LLMInferenceService
            metadata: {name: svc}
            spec:
              baseRefs: [{name: tpu-v6e-2x2}]
              model: {name: q}
              template:
                containers: [{name: main, image: registry.redhat.io/rhaiis/vllm-tpu-rhel9:3.2.5, resources: {limits: {google.com/tpu: "4"}}}]
            """;
        Assert.DoesNotContain(Lint(withBase), f => f.Severity != FindingSeverity.Information);

        // Values that are present are still checked in a Config.
        Assert.Contains(Lint(config.Replace("tpu-v6e-slice", "tpu-v6e")), f => f.RuleId == "RHAII001");
    }

    [Fact]
    public void ServiceAccountInAnotherSourceSatisfiesTheTokenRule()
    {
        var service = Service(TpuPod.Replace("nodeSelector", "serviceAccountName: qwen-sa\n    nodeSelector") + MainContainer("""
                  env:
                  - {name: VLLM_ADDITIONAL_ARGS, value: "--tensor-parallel-size=4"}
                  - name: HF_TOKEN
                    valueFrom: {secretKeyRef: {name: hf-token, key: HF_TOKEN}}
            """));
        var alone = ManifestLinter.Lint([new ManifestSource("svc.yaml", service)]);
        Assert.Contains(alone.Single().Findings, f => f.RuleId == "RHAII302" && f.Message.Contains("'qwen-sa'"));

        var sa = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: qwen-sa, namespace: ns}\nsecrets: [{name: hf-token}]\n";
        var together = ManifestLinter.Lint([new ManifestSource("svc.yaml", service), new ManifestSource("sa.yaml", sa)]);
        Assert.Equal(2, together.Count);
        Assert.All(together, r => Assert.Empty(r.Findings));
    }

    [Fact]
    public void ListItemsAreLintedWithPathsRelativeToTheItem()
    {
        var yaml = """
            apiVersion: v1
            kind: List
            items:
            - apiVersion: v1
              kind: Pod
              metadata: {name: p}
              spec:
                nodeSelector:
                  cloud.google.com/gke-tpu-accelerator: tpu-v6e-slice
                  cloud.google.com/gke-tpu-topology: 2x2
                containers:
                - name: vllm
                  image: docker.io/vllm/vllm-tpu:v0.11.1
                  resources: {limits: {google.com/tpu: "4"}}
            """;
        var result = ManifestLinter.Lint([new ManifestSource(null, yaml)]).Single();
        Assert.Equal(1, result.ObjectCount);
        Assert.Equal(1, result.CheckedObjectCount);
        var f = Fixtures.Single(result.Findings, "RHAII006");
        Assert.Equal("Pod", f.Kind);
        Assert.Equal("p", f.Name);
        Assert.Equal("spec.tolerations", f.ObjectPath);
        Assert.Null(f.File);
        Assert.StartsWith("<yaml>:", f.Location);
    }

    [Fact]
    public void MultiHostLeaderWorkerSetsMustMatchTheSlicesHosts()
    {
        var lws = File.ReadAllText(Fixtures.PathOf("lws-good.yaml")).Replace("size: 4", "size: 2");
        var findings = Lint(lws);
        Assert.Equal(2, findings.Count(f => f.RuleId == "RHAII004" && f.Message.Contains("has 4 host(s)")));
    }

    [Fact]
    public void ShortStartupProbeGetsARaisedFailureThreshold()
    {
        var findings = Lint(Service(TpuPod + MainContainer(Env("--tensor-parallel-size=4")).Replace("failureThreshold: 60", "failureThreshold: 18")));
        var f = Fixtures.Single(findings, "RHAII201");
        Assert.Equal(FindingSeverity.Warning, f.Severity); // 180 s: short, but not hopeless
        Assert.Equal("spec.template.containers[0].startupProbe", f.ObjectPath);
        Assert.Contains("failureThreshold to 60", f.Fix);
    }

    [Fact]
    public void UnparsableYamlIsAStableErrorAndOtherSourcesAreStillLinted()
    {
        var ex = Assert.Throws<RhaiiException>(() => Fixtures.Lint("invalid.yaml"));
        Assert.Equal("ManifestYamlInvalid", ex.ErrorId);
        Assert.Equal(RhaiiErrorCategory.ParserError, ex.Category);
        Assert.Contains("line 7", ex.Message);

        var results = ManifestLinter.Lint([ManifestSource.FromFile(Fixtures.PathOf("invalid.yaml")), ManifestSource.FromFile(Fixtures.PathOf("gs-uri.yaml"))]);
        Assert.NotNull(results[0].ParseError);
        Assert.False(results[0].Passed);
        Assert.Empty(results[0].Findings);
        Assert.Null(results[1].ParseError);
        Assert.Contains(results[1].Findings, f => f.RuleId == "RHAII301");

        Assert.Equal("ManifestYamlInvalid", Assert.Throws<RhaiiException>(() => Lint("a: 1\na: 2\n")).ErrorId); // duplicate key
        Assert.Equal("ManifestPathNotFound", Assert.Throws<RhaiiException>(() => ManifestLinter.LintFiles(["/no/such/file.yaml"])).ErrorId);
    }

    [Fact]
    public void FoldersAreSearchedRecursivelyForYamlOnly()
    {
        var dir = Path.Combine(Path.GetTempPath(), "rhaii-lint-" + Guid.NewGuid().ToString("n"));
        try
        {
            Directory.CreateDirectory(Path.Combine(dir, "sub"));
            File.Copy(Fixtures.PathOf("gs-uri.yaml"), Path.Combine(dir, "sub", "a.YML"));
            File.Copy(Fixtures.PathOf("dtype-half.yaml"), Path.Combine(dir, "b.yaml"));
            File.WriteAllText(Path.Combine(dir, "notes.txt"), "not: [yaml");
            var files = ManifestLinter.ExpandFiles([dir]);
            Assert.Equal(2, files.Count);
            var rules = ManifestLinter.LintFiles([dir]).Select(f => f.RuleId).OrderBy(x => x).ToArray();
            Assert.Equal(["RHAII105", "RHAII301"], rules);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void EveryRuleHasAStableUniqueIdAndIsDocumented()
    {
        var rules = ManifestLinter.Rules;
        Assert.True(rules.Count >= 20);
        Assert.Equal(rules.Count, rules.Select(r => r.Id).Distinct().Count());
        Assert.Equal(rules.Count, rules.Select(r => r.Name).Distinct().Count());
        var doc = File.ReadAllText(Path.Combine(RepoRoot(), "docs", "Test-LlmInferenceServiceManifest.md"));
        foreach (var r in rules)
        {
            Assert.Matches(new Regex(@"^RHAII\d{3}$"), r.Id);
            Assert.False(string.IsNullOrWhiteSpace(r.Description));
            Assert.Contains($"{r.Id} {r.Name} ({r.Severity}", doc);
        }
    }

    private static string RepoRoot([CallerFilePath] string file = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, "..", "..", ".."));
}
