using System.Management.Automation;
using System.Text;
using RhaiiGke.Engine.Kube.Json;
using RhaiiGke.Sandbox.KubeApi;
using RhaiiGke.Tests.Infrastructure;
using RhaiiGke.Tests.KubeApi;
using RhaiiGke.Tests.Manifests;
using Xunit;

namespace RhaiiGke.Tests.Serving;

/// <summary>A sandbox API server with the operators installed, shared by the tests of one class.</summary>
public sealed class InstalledSandbox : IDisposable
{
    public InstalledSandbox()
    {
        var options = KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(5));
        options.Nodes.AddRange(SimulatedNode.TpuPool("tpu-pool", 1, "tpu-v6e-slice", "2x2", "ct6e-standard-4t", 4));
        Sim = new KubeApiSimulator(options);
        Sim.Start();
        var c = Sim.Connection("hostile");
        Connection = new ClusterConnection { Name = c.Name, Server = c.Server, Namespace = c.Namespace, AuthKind = c.AuthKind, Token = c.Token, CertificateAuthorityData = c.CertificateAuthorityData, IsSandbox = true };
        using var ps = new PowerShellHost();
        ps.Invoke("$null", new Dictionary<string, object?> { ["conn"] = Connection });
        ps.Run("Install-RhaiiOperators -Cluster $conn | Out-Null");
    }

    public KubeApiSimulator Sim { get; }
    public ClusterConnection Connection { get; }

    public void Dispose() => Sim.Dispose();
}

/// <summary>
/// Issue 10, defects 4-7 at the command line: hostile YAML, out-of-range numbers, bad names, oversized
/// objects, non-positive timeouts and bad URLs are refused with a stable ErrorId before anything is sent
/// (the sandbox's mutating request counter does not move).
/// </summary>
public sealed class HostileInputTests : IClassFixture<InstalledSandbox>, IDisposable
{
    private readonly InstalledSandbox _sandbox;
    private readonly PowerShellHost _ps = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("rhaii-hostile-cmd-").FullName;

    public HostileInputTests(InstalledSandbox sandbox)
    {
        _sandbox = sandbox;
        _ps.Invoke("$null", new Dictionary<string, object?> { ["conn"] = sandbox.Connection });
    }

    public void Dispose()
    {
        _ps.Dispose();
        Directory.Delete(_dir, true);
    }

    private static string Service(string name = "qwen", string ns = "hostile", string replicas = "1", string annotations = "") => $$"""
        apiVersion: serving.kserve.io/v1alpha1
        kind: LLMInferenceService
        metadata:
          name: {{name}}
          namespace: {{ns}}{{annotations}}
        spec:
          model:
            uri: hf://Qwen/Qwen2.5-1.5B-Instruct
            name: Qwen/Qwen2.5-1.5B-Instruct
          replicas: {{replicas}}
          router:
            route: {}
            gateway: {}
          template:
            containers:
            - name: main
              image: registry.redhat.io/rhaiis/vllm-tpu-rhel9:3.2.5
              resources:
                requests: {google.com/tpu: "4"}
                limits: {google.com/tpu: "4"}
            nodeSelector:
              cloud.google.com/gke-tpu-accelerator: tpu-v6e-slice
              cloud.google.com/gke-tpu-topology: 2x2
            tolerations:
            - {key: google.com/tpu, operator: Equal, value: present, effect: NoSchedule}
        """;

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static string Id(ErrorRecord e) => e.FullyQualifiedErrorId.Split(',')[0];

    /// <summary>Runs a script that must fail with one error; returns it and asserts the sandbox saw no mutating request.</summary>
    private ErrorRecord FailsWithoutSending(string script)
    {
        var before = _sandbox.Sim.Stats.MutatingRequests;
        var (output, errors) = _ps.Invoke(script);
        Assert.DoesNotContain(output, o => o?.BaseObject is LlmInferenceService);
        var error = Assert.Single(errors);
        Assert.Equal(before, _sandbox.Sim.Stats.MutatingRequests);
        return error;
    }

    public static TheoryData<string, string> DeployCases() => new()
    {
        { "bomb", "YamlAliasExpansionTooLarge" },
        { "deep", "YamlNestingTooDeep" },
        { "replicas", "ManifestLintFailed" },
        { "uppercase", "InvalidObjectName" },
        { "uppercase-namespace", "InvalidObjectName" },
        { "annotation", "AnnotationsTooLarge" },
        { "configmap", "ObjectTooLarge" },
    };

    [Theory]
    [MemberData(nameof(DeployCases))]
    public void DeployPathRefusesBeforeSendingAnything(string kind, string errorId)
    {
        var text = kind switch
        {
            "bomb" => HostileYamlTests.AliasBomb(),
            "deep" => "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata: " + HostileYamlTests.DeepFlow() + "\n",
            "replicas" => Service(replicas: "99999999999"),
            "uppercase" => Service(name: "Qwen-Upper"),
            "uppercase-namespace" => Service(ns: "Hostile"),
            "annotation" => Service(annotations: "\n  annotations:\n    big: \"" + new string('a', 300 * 1024) + "\""),
            _ => Service() + "\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: big, namespace: hostile}\ndata:\n  blob: \"" + new string('b', 2 * 1024 * 1024) + "\"\n",
        };
        var file = Write(kind + ".yaml", text);
        var error = FailsWithoutSending($"Deploy-LlmInferenceService -Path '{file}' -Cluster $conn -Confirm:$false");
        Assert.Equal(errorId, Id(error));
        Assert.False(string.IsNullOrWhiteSpace(error.ErrorDetails?.RecommendedAction), "no recommended action");
        if (kind == "replicas") Assert.Contains("RHAII501", error.Exception.Message);
        if (kind.StartsWith("uppercase", StringComparison.Ordinal)) Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        if (kind is "annotation" or "configmap" or "bomb" or "deep") Assert.Equal(ErrorCategory.LimitsExceeded, error.CategoryInfo.Category);
        // nothing of the service exists afterwards (no partial apply: the Namespace was not created either)
        Assert.DoesNotContain(_sandbox.Sim.ListObjects("v1", "Namespace"), n => n.Name() is "hostile" or "Hostile");
    }

    [Theory]
    [InlineData("0")]
    [InlineData("'-00:00:05'")]
    [InlineData("([timespan]::Zero)")]
    public void NonPositiveTimeoutsAreRefusedAtBindingOnEveryServingCommand(string timeout)
    {
        foreach (var command in new[]
                 {
                     $"Deploy-LlmInferenceService -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace hostile -Cluster $conn -Timeout {timeout}",
                     $"Deploy-LlmInferenceService -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace hostile -Cluster $conn -SchedulingTimeout {timeout}",
                     $"New-InferenceGateway -Cluster $conn -Timeout {timeout}",
                     $"Wait-LlmInferenceService -Name qwen -Namespace hostile -Cluster $conn -Timeout {timeout}",
                     $"Install-RhaiiOperators -Cluster $conn -Timeout {timeout}",
                     $"New-LlmInferenceServiceSpec -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -StartupTimeout {timeout}",
                 })
        {
            var error = FailsWithoutSending(command);
            Assert.StartsWith("ParameterArgumentValidationError", error.FullyQualifiedErrorId);
            Assert.Contains("longer than zero", error.Exception.Message);
        }
        // a positive timeout still binds
        Assert.Single(_ps.Run("New-LlmInferenceServiceSpec -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -StartupTimeout 00:20:00"));
    }

    [Fact]
    public void LintReportsHostileYamlOutOfRangeNumbersAndFilesWithNothingToCheck()
    {
        foreach (var (text, errorId) in new[] { (HostileYamlTests.AliasBomb(), "YamlAliasExpansionTooLarge"), (HostileYamlTests.DeepFlow(), "YamlNestingTooDeep") })
        {
            var file = Write(errorId + ".yaml", text);
            var (output, errors) = _ps.Invoke($"Test-LlmInferenceServiceManifest -Path '{file}' -Summary");
            Assert.Equal(errorId, Id(Assert.Single(errors)));
            Assert.False(Assert.IsType<TestManifestResult>(Assert.Single(output).BaseObject).Passed);
        }

        var wrap = Write("replicas.yaml", Service(replicas: "99999999999"));
        var finding = Assert.Single(_ps.Run($"Test-LlmInferenceServiceManifest -Path '{wrap}'").Select(o => (ManifestFinding)o.BaseObject), f => f.RuleId == "RHAII501");
        Assert.Equal(FindingSeverity.Error, finding.Severity);
        Assert.Equal("spec.replicas", finding.ObjectPath);
        Assert.Contains("99999999999", finding.Message);
        Assert.DoesNotContain(_ps.Run($"Test-LlmInferenceServiceManifest -Path '{Write("ok.yaml", Service(replicas: "100000"))}'"), o => ((ManifestFinding)o.BaseObject).RuleId == "RHAII501");

        var nothing = Write("nothing.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n");
        var none = Assert.Single(_ps.Run($"Test-LlmInferenceServiceManifest -Path '{nothing}'").Select(o => (ManifestFinding)o.BaseObject));
        Assert.Equal("RHAII502", none.RuleId);
        Assert.False((bool)Assert.Single(_ps.Run($"Test-LlmInferenceServiceManifest -Path '{nothing}' -Quiet")).BaseObject);
        // linted together with the service's file, the same ConfigMap is fine
        Assert.DoesNotContain(_ps.Run($"Test-LlmInferenceServiceManifest -Path '{nothing}', '{Write("svc.yaml", Service())}'").Select(o => (ManifestFinding)o.BaseObject), f => f.RuleId == "RHAII502");
    }

    [Fact]
    public void ConnectWithAHostileKubeconfigIsAClearError()
    {
        foreach (var (text, errorId) in new[]
                 {
                     ("apiVersion: v1\nkind: Config\ncurrent-context: x\n" + HostileYamlTests.AliasBomb(), "YamlAliasExpansionTooLarge"),
                     ("apiVersion: v1\nkind: Config\ncurrent-context: x\npreferences: " + HostileYamlTests.DeepFlow() + "\n", "YamlNestingTooDeep"),
                 })
        {
            var path = Write("kubeconfig-" + errorId, text);
            var (_, errors) = _ps.Invoke($"Connect-RhaiiCluster -Kubeconfig '{path}' -NoDefault");
            Assert.Equal(errorId, Id(Assert.Single(errors)));
        }
    }

    [Fact]
    public void CacheRoutingRefusesNullAndEmptyPodUrlsAndBenchmarkDatasetPathIsNotIgnored()
    {
        var (_, nullErrors) = _ps.Invoke("Test-InferenceCacheRouting -BaseUrl http://127.0.0.1:1 -Model m -PodUrl $null");
        Assert.StartsWith("ParameterArgumentValidationError", Assert.Single(nullErrors).FullyQualifiedErrorId);
        Assert.IsNotType<ArgumentNullException>(nullErrors[0].Exception);
        var (_, emptyErrors) = _ps.Invoke("Test-InferenceCacheRouting -BaseUrl http://127.0.0.1:1 -Model m -PodUrl ''");
        Assert.Equal("InvalidInferenceUrl", Id(Assert.Single(emptyErrors)));

        var sim = (InferenceSimulator)_ps.Run("Start-InferenceSimulator -Name hostile-bench")[0].BaseObject;
        try
        {
            var missing = Path.Combine(_dir, "missing.jsonl");
            var (_, ignored) = _ps.Invoke($"Invoke-InferenceBenchmark -BaseUrl {sim.BaseUrl} -Model m -NumPrompts 2 -Dataset Random -DatasetPath '{missing}' -Confirm:$false");
            Assert.Equal("DatasetPathIgnored", Id(Assert.Single(ignored)));
            // -DatasetPath alone implies -Dataset File: the (missing) file is read, not silently skipped
            var (_, implied) = _ps.Invoke($"Invoke-InferenceBenchmark -BaseUrl {sim.BaseUrl} -Model m -NumPrompts 2 -DatasetPath '{missing}' -Confirm:$false");
            Assert.Equal("DatasetNotFound", Id(Assert.Single(implied)));
        }
        finally { _ps.Invoke($"Stop-InferenceSimulator -Id ([guid]'{sim.Id}')"); }
    }
}
