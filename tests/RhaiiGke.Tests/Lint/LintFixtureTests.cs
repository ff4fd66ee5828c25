using RhaiiGke.Engine.Manifests.Lint;
using Xunit;

namespace RhaiiGke.Tests.Lint;

/// <summary>Each listed mistake in a small fixture (the correct manifest with one change), found at the right place.</summary>
public class LintFixtureTests
{
    private const string Main = "spec.template.containers[0]";

    [Theory]
    [InlineData("accelerator-label.yaml", "RHAII001", FindingSeverity.Error, "spec.template.nodeSelector['cloud.google.com/gke-tpu-accelerator']", "gke-tpu-accelerator: tpu-v6e")]
    [InlineData("topology-unknown.yaml", "RHAII002", FindingSeverity.Error, "spec.template.nodeSelector['cloud.google.com/gke-tpu-topology']", "gke-tpu-topology: 2x2x1")]
    [InlineData("selector-incomplete.yaml", "RHAII003", FindingSeverity.Error, "spec.template.nodeSelector['cloud.google.com/gke-tpu-topology']", "nodeSelector:")]
    [InlineData("request-without-limit.yaml", "RHAII005", FindingSeverity.Error, Main + ".resources.limits['google.com/tpu']", "google.com/tpu: \"4\"")]
    [InlineData("toleration-missing.yaml", "RHAII006", FindingSeverity.Warning, "spec.template.tolerations", "  template:")]
    [InlineData("host-bounds.yaml", "RHAII007", FindingSeverity.Error, Main + ".env[2].value", "value: \"2,4,1\"")]
    [InlineData("tensor-parallel.yaml", "RHAII101", FindingSeverity.Error, Main + ".env[0].value", "--tensor-parallel-size=8")]
    [InlineData("dtype-half.yaml", "RHAII105", FindingSeverity.Warning, Main + ".env[0].value", "value: \"--tensor-parallel-size=4")]
    [InlineData("prefix-cache-block-size.yaml", "RHAII106", FindingSeverity.Error, Main + ".env[0].value", "value: \"--tensor-parallel-size=4")]
    [InlineData("probes-short.yaml", "RHAII201", FindingSeverity.Error, Main + ".livenessProbe", "livenessProbe:")]
    [InlineData("gs-uri.yaml", "RHAII301", FindingSeverity.Error, "spec.model.uri", "uri: gs://")]
    [InlineData("hf-token-env.yaml", "RHAII302", FindingSeverity.Warning, Main + ".env[2]", "- name: HF_TOKEN")]
    [InlineData("literal-token.yaml", "RHAII303", FindingSeverity.Error, Main + ".env[2].value", "value: hf_not_a_real_token")]
    public void FindsTheOneMistake(string fixture, string ruleId, FindingSeverity severity, string objectPath, string lineText)
    {
        var findings = Fixtures.Lint(fixture);
        Fixtures.AssertRules(findings, ruleId);
        var f = findings[0];
        Assert.Equal(severity, f.Severity);
        Assert.Equal(objectPath, f.ObjectPath);
        Assert.Equal(Fixtures.LineOf(fixture, lineText), f.Line);
        Assert.Equal(Fixtures.PathOf(fixture), f.File);
        Assert.Equal("LLMInferenceService", f.Kind);
        Assert.Equal("qwen", f.Name);
        Assert.Equal("rhaii-inference", f.Namespace);
        Assert.False(string.IsNullOrWhiteSpace(f.Message));
        Assert.False(string.IsNullOrWhiteSpace(f.Fix));
        Assert.Equal(ManifestLinter.Rules.Single(r => r.Id == ruleId).Name, f.RuleName);
    }

    [Fact]
    public void ChipsThatAreNotTheHostsChipsAreAMismatch()
    {
        var findings = Fixtures.Lint("chips-mismatch.yaml");
        var f = Fixtures.Single(findings, "RHAII004");
        Fixtures.AssertRules(findings, "RHAII004");
        Assert.Equal(Main + ".resources.limits['google.com/tpu']", f.ObjectPath);
        Assert.Equal(Fixtures.LineOf("chips-mismatch.yaml", "google.com/tpu: \"8\"", occurrence: 2), f.Line);
        Assert.Contains("has 4 chips", f.Message);
        Assert.StartsWith("Set google.com/tpu requests and limits to 4", f.Fix);
        Assert.Contains("2x4", f.Fix); // the 8-chip single-host topology
    }

    [Fact]
    public void HttpProbeAgainstKServesHttpsListenerIsFound()
    {
        var findings = Fixtures.Lint("probe-scheme.yaml");
        var f = Fixtures.Single(findings, "RHAII202");
        Fixtures.AssertRules(findings, "RHAII202");
        Assert.Equal(Main + ".readinessProbe.httpGet.scheme", f.ObjectPath);
        Assert.Equal(Fixtures.LineOf("probe-scheme.yaml", "scheme: HTTP", exact: true), f.Line);
        Assert.Contains("HTTPS", f.Fix);
    }

    [Fact]
    public void ReplacedArgsLoseTheServedNameAndTls()
    {
        var findings = Fixtures.Lint("args-replaced.yaml");
        Fixtures.AssertRules(findings, "RHAII102", "RHAII104");
        var line = Fixtures.LineOf("args-replaced.yaml", "args:");
        Assert.All(findings, f => Assert.Equal(Main + ".args", f.ObjectPath));
        Assert.All(findings, f => Assert.Equal(line, f.Line));
        var served = Fixtures.Single(findings, "RHAII102");
        Assert.Contains("'/mnt/models'", served.Message);
        Assert.Contains("'Qwen/Qwen2.5-3B-Instruct'", served.Message);
        // The fix moves the user's own flags into VLLM_ADDITIONAL_ARGS.
        Assert.Contains("VLLM_ADDITIONAL_ARGS to \"--tensor-parallel-size=4 --max-model-len=4096\"", served.Fix);
    }

    [Theory]
    [InlineData("good-llmisvc.yaml")]
    [InlineData("deployment-good.yaml")]
    [InlineData("lws-good.yaml")]
    public void CorrectManifestsPassWithoutFindings(string fixture)
    {
        var findings = Fixtures.Lint(fixture);
        Assert.True(findings.Count == 0, Fixtures.Describe(findings));
    }

    [Fact]
    public void SlicesThatDoNotExistOnTheMachineOrNeedMoreHostsAreFound()
    {
        var findings = Fixtures.Lint("deployment-mistakes.yaml");
        Fixtures.AssertRules(findings, "RHAII004", "RHAII004");
        var machine = findings.Single(f => f.Name == "wrong-machine");
        Assert.Equal("Deployment", machine.Kind);
        Assert.Equal("spec.template.spec.nodeSelector['node.kubernetes.io/instance-type']", machine.ObjectPath);
        Assert.Equal(Fixtures.LineOf("deployment-mistakes.yaml", "instance-type: ct6e-standard-8t"), machine.Line);
        Assert.Contains("ct6e-standard-4t", machine.Fix);
        var half = findings.Single(f => f.Name == "half-a-slice");
        Assert.Equal("spec.template.spec.nodeSelector['cloud.google.com/gke-tpu-topology']", half.ObjectPath);
        Assert.Contains("2-host slice", half.Message);
        Assert.Contains("LeaderWorkerSet of size 2", half.Fix);
    }

    [Fact]
    public void LiteralTokensAreReportedWithoutRepeatingThem()
    {
        var f = Fixtures.Single(Fixtures.Lint("literal-token.yaml"), "RHAII303");
        Assert.DoesNotContain("hf_not_a_real_token", f.Message + f.Fix + f.ToString());
    }
}

/// <summary>The runbooks' real manifests.</summary>
public class LintSeedTests
{
    private const string Seed004 = "seed004-pattern1.yaml";

    [Fact]
    public void Seed004Pattern1YieldsTheExpectedFindings()
    {
        var findings = Fixtures.Lint(Seed004);
        Fixtures.AssertRules(findings,
            "RHAII001", // tpu-v6e instead of tpu-v6e-slice
            "RHAII006", // no google.com/tpu toleration
            "RHAII102", // args drop --served-model-name
            "RHAII103", // --model=Qwen/... is ignored
            "RHAII104", // args drop TLS
            "RHAII105", // --dtype=half on TPU
            "RHAII202", "RHAII202", // HTTPS probes against the now plain-HTTP vLLM
            "RHAII302"); // HF_TOKEN only as container env
        Assert.Equal(5, findings.Count(f => f.Severity == FindingSeverity.Error));
        Assert.Equal(4, findings.Count(f => f.Severity == FindingSeverity.Warning));
        Assert.All(findings, f =>
        {
            Assert.Equal("LLMInferenceService", f.Kind);
            Assert.Equal("qwen2-3b-pattern1", f.Name);
            Assert.Equal("llm-d-inference-scheduling", f.Namespace);
        });

        var label = Fixtures.Single(findings, "RHAII001");
        Assert.Equal(Fixtures.LineOf(Seed004, "gke-tpu-accelerator: tpu-v6e"), label.Line);
        Assert.Equal("Set cloud.google.com/gke-tpu-accelerator: tpu-v6e-slice.", label.Fix);

        var args = Fixtures.LineOf(Seed004, "args:");
        Assert.Equal(args, Fixtures.Single(findings, "RHAII102").Line);
        Assert.Equal(args, Fixtures.Single(findings, "RHAII104").Line);
        var fix = Fixtures.Single(findings, "RHAII102").Fix;
        Assert.Contains("VLLM_ADDITIONAL_ARGS to \"--max-model-len=2048 --tensor-parallel-size=4 --disable-log-requests\"", fix);

        var model = Fixtures.Single(findings, "RHAII103");
        Assert.Equal("spec.template.containers[0].args[0]", model.ObjectPath);
        Assert.Equal(Fixtures.LineOf(Seed004, "--model=Qwen"), model.Line);
        var dtype = Fixtures.Single(findings, "RHAII105");
        Assert.Equal("spec.template.containers[0].args[1]", dtype.ObjectPath);

        var probes = findings.Where(f => f.RuleId == "RHAII202").ToList();
        Assert.Equal(
            ["spec.template.containers[0].livenessProbe.httpGet.scheme", "spec.template.containers[0].readinessProbe.httpGet.scheme"],
            probes.Select(p => p.ObjectPath).ToArray());
        Assert.Equal(Fixtures.LineOf(Seed004, "scheme: HTTPS", 1), probes[0].Line);
        Assert.Equal(Fixtures.LineOf(Seed004, "scheme: HTTPS", 2), probes[1].Line);

        var token = Fixtures.Single(findings, "RHAII302");
        Assert.Contains("'default'", token.Message);
        Assert.Equal(Fixtures.LineOf(Seed004, "- name: HF_TOKEN"), token.Line);

        // The TPU facts that are right are not reported: 4 chips = TP 4 = 2x2 = TPU_CHIPS_PER_HOST_BOUNDS 2,2,1.
        Assert.DoesNotContain(findings, f => f.RuleId is "RHAII002" or "RHAII004" or "RHAII005" or "RHAII007" or "RHAII101" or "RHAII201");
    }

    [Fact]
    public void Seed000ProbesHttpAgainstKServesHttpsAndLeavesThreeChipsIdle()
    {
        const string seed = "seed000-llmisvc-tpu.yaml";
        var findings = Fixtures.Lint(seed);
        Fixtures.AssertRules(findings, "RHAII101", "RHAII202");
        var scheme = Fixtures.Single(findings, "RHAII202");
        Assert.Equal(FindingSeverity.Error, scheme.Severity);
        Assert.Equal("spec.template.containers[0].livenessProbe.httpGet.scheme", scheme.ObjectPath);
        Assert.Equal(Fixtures.LineOf(seed, "scheme: HTTP", exact: true), scheme.Line);
        var tp = Fixtures.Single(findings, "RHAII101");
        Assert.Equal(FindingSeverity.Warning, tp.Severity);
        Assert.Contains("1 of the pod's 4 TPU chips", tp.Message);
        Assert.Contains("--tensor-parallel-size=4", tp.Fix);
    }
}
