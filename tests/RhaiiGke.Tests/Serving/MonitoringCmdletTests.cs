using System.Management.Automation;
using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Engine.Kube.Json;
using RhaiiGke.Engine.Kube.Platform;
using RhaiiGke.Engine.Serving.Monitoring;
using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.Serving;

/// <summary>
/// Enable-LlmInferenceServiceMonitoring on the sandbox. The sandbox, like a plain cluster, serves no monitoring
/// CRDs; the tests install the ones a GKE cluster with Managed Prometheus (monitoring.googleapis.com) or a cluster
/// with the Prometheus Operator (monitoring.coreos.com) has, as schemaless CRDs.
/// </summary>
public sealed class MonitoringCmdletTests : IDisposable
{
    private readonly PowerShellHost _ps = new();
    private readonly string _sandbox = "monitor-" + Guid.NewGuid().ToString("N")[..6];
    private readonly string _dir = Directory.CreateTempSubdirectory("rhaii-mon-").FullName;
    private ClusterConnection _conn = null!;

    private void Platform()
    {
        _ps.Run($"$sb = Start-RhaiiSandbox -Name {_sandbox} -TpuNodes 1 -ControllerDelay 00:00:00.005; $sb | Install-RhaiiOperators | Out-Null; New-InferenceGateway | Out-Null");
        _ps.Run("$cred = [pscredential]::new('svc-account', (ConvertTo-SecureString 'registry-password-xyz' -AsPlainText -Force)); $hf = ConvertTo-SecureString 'hf_MONITORTEST_0c1d2e3f' -AsPlainText -Force");
        _ps.Run("Deploy-LlmInferenceService -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace llm -RegistryCredential $cred -HuggingFaceToken $hf | Out-Null");
        _conn = (ClusterConnection)_ps.Run("$sb.Connection")[0].BaseObject;
    }

    private void InstallCrds(bool managed, bool @operator)
    {
        var crds = new List<JsonObject>();
        if (managed)
        {
            crds.Add(SandboxBundles.Crd("monitoring.googleapis.com", "PodMonitoring", "podmonitorings", false, ["v1"]));
            crds.Add(SandboxBundles.Crd("monitoring.googleapis.com", "Rules", "rules", false, ["v1"]));
        }
        if (@operator)
        {
            crds.Add(SandboxBundles.Crd("monitoring.coreos.com", "PodMonitor", "podmonitors", false, ["v1"], status: false));
            crds.Add(SandboxBundles.Crd("monitoring.coreos.com", "ServiceMonitor", "servicemonitors", false, ["v1"], status: false));
            crds.Add(SandboxBundles.Crd("monitoring.coreos.com", "PrometheusRule", "prometheusrules", false, ["v1"], status: false));
        }
        var o = new KubeApplyOptions { Component = "monitoring-crds", PollInterval = TimeSpan.FromMilliseconds(100), Timeout = TimeSpan.FromMinutes(2) };
        new ApplyEngine(_conn).ApplyAsync(crds, o, CancellationToken.None).GetAwaiter().GetResult();
    }

    private JsonObject? Get(string path) => KubeClients.For(_conn).GetAsync(path, CancellationToken.None).GetAwaiter().GetResult();

    private static LlmInferenceServiceMonitoring Mon(PSObject o) => (LlmInferenceServiceMonitoring)o.BaseObject;

    private (string Container, string? Value, string? Controller) ControllerEnv()
    {
        var d = Get("apis/apps/v1/namespaces/opendatahub/deployments/llmisvc-controller-manager")!;
        var c = d.Arr("spec", "template", "spec", "containers")!.OfType<JsonObject>().First();
        var env = c.Arr("env")!.OfType<JsonObject>().ToList();
        return (c.Str("name")!, env.FirstOrDefault(e => e.Str("name") == "LLMISVC_MONITORING_DISABLED")?.Str("value"), env.FirstOrDefault(e => e.Str("name") == "ENABLE_LLMISVC_CONTROLLER")?.Str("value"));
    }

    [Fact]
    public void BadInputAndAPlainClusterAreClearErrorsBeforeAnythingIsApplied()
    {
        Platform();
        var (_, errors) = _ps.Invoke("Enable-LlmInferenceServiceMonitoring -Name qwen -Namespace llm -KvCacheUsageThreshold 90");
        var e = Assert.Single(errors);
        Assert.StartsWith("MonitoringThresholdInvalid", e.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidArgument, e.CategoryInfo.Category);
        Assert.Contains("0.9", e.ErrorDetails?.RecommendedAction ?? "");

        // a plain cluster serves no monitoring kinds: the command says so and applies nothing
        (_, errors) = _ps.Invoke("Enable-LlmInferenceServiceMonitoring -Name qwen -Namespace llm");
        e = Assert.Single(errors);
        Assert.StartsWith("MonitoringCrdsNotInstalled", e.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.NotInstalled, e.CategoryInfo.Category);
        Assert.Contains("--enable-managed-prometheus", e.ErrorDetails?.RecommendedAction ?? "");
        Assert.Null(Get("api/v1/namespaces/llm/serviceaccounts/qwen-metrics-reader"));

        InstallCrds(managed: true, @operator: false);
        (_, errors) = _ps.Invoke("Enable-LlmInferenceServiceMonitoring -Name qwen -Namespace llm -Backend PrometheusOperator");
        Assert.StartsWith("PrometheusOperatorNotInstalled", Assert.Single(errors).FullyQualifiedErrorId);
        (_, errors) = _ps.Invoke("Enable-LlmInferenceServiceMonitoring -Name qwne -Namespace llm");
        e = Assert.Single(errors);
        Assert.StartsWith("LlmInferenceServiceNotFound", e.FullyQualifiedErrorId);
        (_, errors) = _ps.Invoke($"Enable-LlmInferenceServiceMonitoring -Name qwen -Namespace llm -DashboardPath '{Path.Combine(_dir, "no-such-folder", "d.json")}'");
        Assert.StartsWith("MonitoringPathInvalid", Assert.Single(errors).FullyQualifiedErrorId);
        Assert.Null(Get("api/v1/namespaces/llm/serviceaccounts/qwen-metrics-reader"));
        Assert.Null(Get("apis/monitoring.googleapis.com/v1/namespaces/llm/podmonitorings/qwen-vllm-metrics"));
    }

    [Fact]
    public void ManagedPrometheusGetsPodMonitoringAndRulesWhatIfChangesNothingAndReRunsSendNothing()
    {
        Platform();
        InstallCrds(managed: true, @operator: false);
        var before = ControllerEnv();

        var preview = Mon(Assert.Single(_ps.Run("Enable-LlmInferenceServiceMonitoring -Name qwen -Namespace llm -WhatIf")));
        Assert.True(preview.DryRun);
        Assert.Equal(MonitoringBackend.ManagedPrometheus, preview.Backend);
        Assert.Contains(preview.Objects, o => o.Kind == "PodMonitoring" && o.Action == KubeApplyAction.WouldCreate);
        Assert.Null(Get("apis/monitoring.googleapis.com/v1/namespaces/llm/podmonitorings/qwen-vllm-metrics"));
        Assert.Empty(preview.Files);

        var dash = Path.Combine(_dir, "dashboard.json");
        var rules = Path.Combine(_dir, "rules.yaml");
        var scrape = Path.Combine(_dir, "prometheus.yml");
        var m = Mon(Assert.Single(_ps.Run($"Enable-LlmInferenceServiceMonitoring -Name qwen -Namespace llm -TtftP99Threshold 1.5 -DashboardPath '{dash}' -RulesPath '{rules}' -ScrapeConfigPath '{scrape}'")));
        Assert.False(m.DryRun);
        Assert.Equal(MonitoringBackend.ManagedPrometheus, m.Backend);
        Assert.True(m.MutatingRequests > 0);
        Assert.Equal(["LlmServiceTtftP99High", "LlmServiceQueueDepthHigh", "LlmServiceKvCacheSaturated", "LlmServicePodRestarts", "LlmServiceGateway5xxHigh"], m.Alerts);

        var vllm = Get("apis/monitoring.googleapis.com/v1/namespaces/llm/podmonitorings/qwen-vllm-metrics")!;
        Assert.Equal("8000", vllm.Arr("spec", "endpoints")![0]!["port"]!.ToJsonString());
        Assert.Equal("https", vllm.Arr("spec", "endpoints")![0]!["scheme"]!.ToString());
        Assert.Equal("qwen-kserve-self-signed-certs", vllm.Arr("spec", "endpoints")![0]!["tls"]!["ca"]!["secret"]!["name"]!.ToString());
        Assert.Equal("qwen", vllm.Str("spec", "selector", "matchLabels", "app.kubernetes.io/name"));
        var epp = Get("apis/monitoring.googleapis.com/v1/namespaces/llm/podmonitorings/qwen-epp-metrics")!;
        Assert.Equal("metrics", epp.Arr("spec", "endpoints")![0]!["port"]!.ToString());
        Assert.Equal("qwen-metrics-reader-token", epp.Arr("spec", "endpoints")![0]!["authorization"]!["credentials"]!["secret"]!["name"]!.ToString());
        Assert.NotNull(Get("apis/monitoring.googleapis.com/v1/namespaces/opendatahub/podmonitorings/inference-gateway-gateway-metrics"));
        var ruleObj = Get("apis/monitoring.googleapis.com/v1/namespaces/llm/rules/qwen-alerts")!;
        var exprs = ruleObj.Arr("spec", "groups")![0]!["rules"]!.AsArray().Select(r => r!["expr"]!.ToString()).ToList();
        Assert.Contains(exprs, x => x.Contains("vllm:time_to_first_token_seconds_bucket") && x.EndsWith("> 1.5", StringComparison.Ordinal));
        Assert.NotNull(Get("apis/monitoring.googleapis.com/v1/namespaces/opendatahub/rules/qwen-gateway-alerts"));
        Assert.NotNull(Get("apis/rbac.authorization.k8s.io/v1/clusterrolebindings/llm-qwen-metrics-reader"));
        Assert.NotNull(Get("apis/rbac.authorization.k8s.io/v1/namespaces/llm/rolebindings/gmp-collector-qwen-metrics-secret-read"));

        // KServe's own monitoring needs monitoring.coreos.com, which this cluster lacks: left alone, and said why
        Assert.False(m.KServeMonitoring);
        Assert.Contains("monitoring.coreos.com", m.KServeMonitoringNote);
        Assert.Equal(before.Value, ControllerEnv().Value);

        // files: the dashboard parses and has the vLLM, EPP and gateway rows; the rule file is the generated one
        Assert.Equal(3, m.Files.Count);
        var board = JsonNode.Parse(File.ReadAllText(dash))!;
        Assert.Equal(["vLLM", "EPP", "Gateway"], board["panels"]!.AsArray().Where(p => p!["type"]!.ToString() == "row").Select(p => p!["title"]!.ToString()));
        Assert.Contains(board["panels"]!.AsArray(), p => p!["targets"]?.AsArray().Any(t => t!["expr"]!.ToString().Contains("vllm:kv_cache_usage_perc")) == true);
        Assert.Contains("LlmServiceTtftP99High", File.ReadAllText(rules));
        var scrapeText = File.ReadAllText(scrape);
        Assert.Contains("kubernetes_sd_configs", scrapeText);
        Assert.Contains("qwen-vllm-metrics", scrapeText);
        Assert.Contains(Path.GetFullPath(rules), scrapeText);

        var again = Mon(Assert.Single(_ps.Run($"Enable-LlmInferenceServiceMonitoring -Name qwen -Namespace llm -TtftP99Threshold 1.5 -DashboardPath '{dash}'")));
        Assert.Equal(0, again.MutatingRequests);
        Assert.All(again.Objects, o => Assert.Equal(KubeApplyAction.Unchanged, o.Action));

        // piped from Get-LlmInferenceService with a new threshold: only the rules change
        var changed = Mon(Assert.Single(_ps.Run("Get-LlmInferenceService -Name qwen -Namespace llm | Enable-LlmInferenceServiceMonitoring -TtftP99Threshold 3")));
        Assert.True(changed.MutatingRequests > 0);
        Assert.Equal(["Rules llm/qwen-alerts"], changed.Objects.Where(o => o.Action == KubeApplyAction.Configured).Select(o => o.Id));
        ruleObj = Get("apis/monitoring.googleapis.com/v1/namespaces/llm/rules/qwen-alerts")!;
        Assert.Contains(ruleObj.Arr("spec", "groups")![0]!["rules"]!.AsArray(), r => r!["expr"]!.ToString().EndsWith("> 3", StringComparison.Ordinal));
    }

    [Fact]
    public void WithThePrometheusOperatorKServeMonitoringIsTurnedOnWithoutTouchingTheRestOfTheController()
    {
        Platform();
        InstallCrds(managed: false, @operator: true);
        var before = ControllerEnv();
        Assert.Equal("true", before.Value);

        var preview = Mon(Assert.Single(_ps.Run("Enable-LlmInferenceServiceMonitoring -Name qwen -Namespace llm -WhatIf")));
        Assert.Contains(preview.Objects, o => o.Kind == "Deployment" && o.Action == KubeApplyAction.WouldConfigure);
        Assert.Equal("true", ControllerEnv().Value);

        var m = Mon(Assert.Single(_ps.Run("Enable-LlmInferenceServiceMonitoring -Name qwen -Namespace llm")));
        Assert.Equal(MonitoringBackend.PrometheusOperator, m.Backend);
        Assert.True(m.KServeMonitoring);
        Assert.Equal("opendatahub/llmisvc-controller-manager", m.KServeController);
        var after = ControllerEnv();
        Assert.Equal("false", after.Value);
        Assert.Equal(before.Container, after.Container);
        Assert.Equal("true", after.Controller); // the partial apply left the other settings alone
        var pm = Get("apis/monitoring.coreos.com/v1/namespaces/llm/podmonitors/qwen-vllm-metrics")!;
        Assert.Equal("llm_isvc_name", pm.Arr("spec", "podMetricsEndpoints")![0]!["relabelings"]![0]!["targetLabel"]!.ToString());
        Assert.NotNull(Get("apis/monitoring.coreos.com/v1/namespaces/llm/prometheusrules/qwen-alerts"));
        var d = Get("apis/apps/v1/namespaces/opendatahub/deployments/llmisvc-controller-manager")!;
        Assert.Contains(d.Arr("status", "conditions")!.OfType<JsonObject>(), c => c.Str("type") == "Available" && c.Str("status") == "True");

        var again = Mon(Assert.Single(_ps.Run("Enable-LlmInferenceServiceMonitoring -Name qwen -Namespace llm")));
        Assert.Equal(0, again.MutatingRequests);
        Assert.True(again.KServeMonitoring);

        // -SkipKServeMonitoring reports the switch as it is and sends nothing
        var skip = Mon(Assert.Single(_ps.Run("Enable-LlmInferenceServiceMonitoring -Name qwen -Namespace llm -SkipKServeMonitoring")));
        Assert.Equal(0, skip.MutatingRequests);
        Assert.True(skip.KServeMonitoring);
    }

    private JsonObject WaitFor(string path, Func<JsonObject?, bool> done, string what)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        JsonObject? last = null;
        while (sw.Elapsed < TimeSpan.FromMinutes(2))
        {
            last = Get(path);
            if (done(last)) return last!;
            Thread.Sleep(25);
        }
        Assert.Fail($"timed out waiting for {what}; last: {last?.ToJsonString()}");
        return null!;
    }

    [Fact]
    public void KServeHonoursItsMonitoringSwitchAndAReRunOfInstallKeepsTheUsersSetting()
    {
        Platform();
        InstallCrds(managed: false, @operator: true);
        // LLMISVC_MONITORING_DISABLED=true (odh-xks): once the service is reconciled KServe has made no monitors
        WaitFor("apis/serving.kserve.io/v1alpha1/namespaces/llm/llminferenceservices/qwen", s => s?["status"]?["observedGeneration"] is not null, "the service reconciled");
        Assert.Null(Get("apis/monitoring.coreos.com/v1/namespaces/llm/podmonitors/kserve-llm-isvc-vllm-engine"));
        Assert.Null(Get("api/v1/namespaces/llm/serviceaccounts/kserve-metrics-reader-sa"));

        Assert.True(Mon(Assert.Single(_ps.Run("Enable-LlmInferenceServiceMonitoring -Name qwen -Namespace llm"))).KServeMonitoring);
        // switched on, the controller makes monitoring.go's objects for the namespace
        var pm = WaitFor("apis/monitoring.coreos.com/v1/namespaces/llm/podmonitors/kserve-llm-isvc-vllm-engine", o => o is not null, "KServe's PodMonitor");
        Assert.Equal("https", pm.Arr("spec", "podMetricsEndpoints")![0]!["scheme"]!.ToString());
        var sm = WaitFor("apis/monitoring.coreos.com/v1/namespaces/llm/servicemonitors/kserve-llm-isvc-scheduler", o => o is not null, "KServe's ServiceMonitor");
        Assert.Equal("kserve-metrics-reader-sa-secret", sm.Arr("spec", "endpoints")![0]!["authorization"]!["credentials"]!["name"]!.ToString());
        Assert.NotNull(Get("apis/rbac.authorization.k8s.io/v1/clusterrolebindings/kserve-metrics-reader-role-binding-llm"));

        // a re-run of Install-RhaiiOperators converges without turning it off again
        _ps.Run("$sb | Install-RhaiiOperators | Out-Null");
        Assert.Equal("false", ControllerEnv().Value);
        Assert.NotNull(Get("apis/monitoring.coreos.com/v1/namespaces/llm/podmonitors/kserve-llm-isvc-vllm-engine"));

        // the last service of the namespace takes the shared monitoring objects with it
        _ps.Run("Remove-LlmInferenceService -Namespace llm -Name qwen -Confirm:$false | Out-Null");
        WaitFor("apis/monitoring.coreos.com/v1/namespaces/llm/podmonitors/kserve-llm-isvc-vllm-engine", o => o is null, "KServe's PodMonitor removed");
        WaitFor("apis/rbac.authorization.k8s.io/v1/clusterrolebindings/kserve-metrics-reader-role-binding-llm", o => o is null, "the metrics reader binding removed");
    }

    public void Dispose()
    {
        try { _ps.Invoke($"Stop-RhaiiSandbox -Name {_sandbox}"); } catch { /* best effort */ }
        _ps.Dispose();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }
}
