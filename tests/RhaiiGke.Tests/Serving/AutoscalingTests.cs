using System.Globalization;
using System.Management.Automation;
using System.Text.Json.Nodes;
using RhaiiGke.Cmdlets.Sandbox;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Engine.Kube.Json;
using RhaiiGke.Sandbox.KubeApi;
using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.Serving;

/// <summary>
/// Enable-/Disable-LlmInferenceServiceAutoscaling on the sandbox, whose HPA controller runs the autoscaling/v2 algorithm on
/// the simulated vLLM pods' gauges. Waits are on the HPA's status, the Deployment and events; no fixed sleeps and no
/// timing assertions beyond the lower bound the stabilization window itself guarantees.
/// </summary>
public sealed class AutoscalingTests : IDisposable
{
    private readonly PowerShellHost _ps = new();
    private readonly string _sandbox = "autoscale-" + Guid.NewGuid().ToString("N")[..6];
    private ClusterConnection _conn = null!;

    private KubeApiSimulator Sim => SandboxRegistry.Running[_sandbox].Owned.OfType<KubeApiSimulator>().Single();

    private void Platform(int nodes)
    {
        _ps.Run($"$sb = Start-RhaiiSandbox -Name {_sandbox} -TpuNodes {nodes} -ControllerDelay 00:00:00.005; $sb | Install-RhaiiOperators | Out-Null; New-InferenceGateway | Out-Null");
        _conn = (ClusterConnection)_ps.Run("$sb.Connection")[0].BaseObject;
        // a request holds the batch for ~20 ms + 16 x 50 ms, and --max-num-seqs=1 below: one replica serves ~1.2 requests/s,
        // so at 3 requests/s one replica's queue (and TTFT) grows through a stage while three keep up
        Sim.Options.VllmTimeToFirstTokenMs = 20;
        Sim.Options.VllmInterTokenLatencyMs = 50;
        Sim.Options.Delays.HpaSync = TimeSpan.FromMilliseconds(250);
        _ps.Run("$cred = [pscredential]::new('svc-account', (ConvertTo-SecureString 'registry-password-xyz' -AsPlainText -Force)); $hf = ConvertTo-SecureString 'hf_AUTOSCALE_0c1d2e3f' -AsPlainText -Force");
        _ps.Run("New-LlmInferenceServiceSpec -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace llm -VllmArgument '--max-num-seqs=1' | Deploy-LlmInferenceService -RegistryCredential $cred -HuggingFaceToken $hf -Wait -Timeout 00:05:00 | Out-Null");
        // new replicas pay a simulated TPU start-up (XLA compile) before they serve
        Sim.Options.Delays.XlaCompile = TimeSpan.FromMilliseconds(1500);
    }

    private KubeClient Client => KubeClients.For(_conn);
    private JsonObject? Get(string path) => Client.GetAsync(path, CancellationToken.None).GetAwaiter().GetResult();
    private JsonObject Hpa(string name = "qwen-autoscaler") => Get($"apis/autoscaling/v2/namespaces/llm/horizontalpodautoscalers/{name}")!;
    private JsonObject Workload() => Get("apis/apps/v1/namespaces/llm/deployments/qwen-kserve")!;

    private List<JsonObject> Events(string involved) =>
        Client.ListAsync("api/v1/namespaces/llm/events", null, CancellationToken.None).GetAwaiter().GetResult().Arr("items")!.OfType<JsonObject>()
            .Where(e => e.Str("involvedObject", "name") == involved).ToList();

    private static JsonObject? Cond(JsonObject hpa, string type) => hpa.Arr("status", "conditions")?.OfType<JsonObject>().FirstOrDefault(c => c.Str("type") == type);

    private static void WaitFor(Func<bool> done, TimeSpan timeout, Func<string> what)
    {
        var until = DateTime.UtcNow + timeout;
        while (!done())
        {
            if (DateTime.UtcNow > until) Assert.Fail("timed out waiting for " + what());
            Thread.Sleep(100);
        }
    }

    /// <summary>The LLMInferenceService CRD as KServe v0.17+ ships it: v1alpha2 served next to v1alpha1.</summary>
    private void UpgradeKServeCrd()
    {
        var crd = Get("apis/apiextensions.k8s.io/v1/customresourcedefinitions/llminferenceservices.serving.kserve.io")!;
        var versions = crd.Arr("spec", "versions")!;
        var v2 = versions.OfType<JsonObject>().First(v => v.Str("name") == "v1alpha1").DeepClone().AsObject();
        v2["name"] = "v1alpha2";
        v2["storage"] = false;
        versions.Add(v2);
        crd.Remove("status");
        Client.SendAsync(HttpMethod.Put, "apis/apiextensions.k8s.io/v1/customresourcedefinitions/llminferenceservices.serving.kserve.io", crd, "application/json", CancellationToken.None).GetAwaiter().GetResult();
        WaitFor(() => Client.Mapper.FindAsync("serving.kserve.io/v1alpha2", "LLMInferenceService", CancellationToken.None, refresh: true).GetAwaiter().GetResult() is not null,
            TimeSpan.FromMinutes(1), () => "v1alpha2 to be served");
    }

    private static DateTime Time(JsonObject e, string field) => DateTime.Parse(e.Str(field)!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);

    [Fact]
    public void RisingPoissonLoadScalesOutWithinBoundsAndTheServiceFallsBackAfterTheWindow()
    {
        Platform(3);
        const string enable = "Enable-LlmInferenceServiceAutoscaling qwen -Namespace llm -MinReplicas 1 -MaxReplicas 3 -Signal RequestsWaiting -RequestsWaitingTarget 2 " +
                              "-ScaleUpStabilization 0 -ScaleDownStabilization 00:00:03 -ScalePeriod 00:00:01 -ScaleUpStep 2 -ScaleDownStep 1";

        // release-v0.15 overwrites the Deployment's replicas on every reconcile: refused, nothing created
        var (_, refused) = _ps.Invoke(enable);
        Assert.Equal("KServeOverwritesReplicas", Assert.Single(refused).FullyQualifiedErrorId.Split(',')[0]);
        Assert.Null(Get("apis/autoscaling/v2/namespaces/llm/horizontalpodautoscalers/qwen-autoscaler"));

        UpgradeKServeCrd();
        var whatIf = (LlmInferenceServiceAutoscaling)_ps.Run(enable + " -WhatIf").Single().BaseObject;
        Assert.True(whatIf.DryRun);
        Assert.Null(Get("apis/autoscaling/v2/namespaces/llm/horizontalpodautoscalers/qwen-autoscaler"));

        var on = (LlmInferenceServiceAutoscaling)_ps.Run(enable).Single().BaseObject;
        Assert.True(on.Enabled);
        Assert.Equal((AutoscalingBackend.HorizontalPodAutoscaler, "Deployment/qwen-kserve", 1, 3), (on.Backend, on.ScaleTarget, on.MinReplicas, on.MaxReplicas));
        Assert.Equal("prometheus.googleapis.com|vllm:num_requests_waiting|gauge", Assert.Single(on.Metrics).Metric);
        Assert.Contains(on.Notes, n => n.Contains("custom.metrics.k8s.io", StringComparison.Ordinal));
        var hpa = Hpa();
        Assert.Equal("Deployment", hpa.Str("spec", "scaleTargetRef", "kind"));
        Assert.Equal(3, hpa.Long("spec", "behavior", "scaleDown", "stabilizationWindowSeconds"));
        Assert.Equal("2", hpa.Arr("spec", "metrics")![0].Str("pods", "target", "averageValue"));
        Assert.Null(Get("apis/serving.kserve.io/v1alpha1/namespaces/llm/llminferenceservices/qwen")!.At("spec", "replicas"));
        // idempotent: nothing sent the second time
        Assert.Equal(0, ((LlmInferenceServiceAutoscaling)_ps.Run(enable).Single().BaseObject).MutatingRequests);

        // the HPA runs on the pods' gauges
        WaitFor(() => Cond(Hpa(), "ScalingActive")?.Str("status") == "True", TimeSpan.FromMinutes(1), () => Hpa().ToJsonString());
        Assert.Equal("ValidMetricFound", Cond(Hpa(), "ScalingActive")!.Str("reason"));

        // rising Poisson load through the gateway: a light stage, then stages above one replica's capacity until the
        // HPA scales out; the load goes on until every new replica serves and a stage's p99 TTFT is under the target
        const double ttftTargetMs = 8000;
        _ps.Run("$svc = Get-LlmInferenceService -Namespace llm -Name qwen");
        // new prompts every stage (a seed per stage): the sandbox's EPP scores cached prefixes first, so replayed prompts
        // would all go back to the pod that served them before the scale-out
        var seed = 0;
        string Stage(double rate, int prompts = 30) => $"$svc | Invoke-InferenceBenchmark -Profile Poisson -Rate {rate.ToString(CultureInfo.InvariantCulture)} -NumPrompts {prompts} -InputTokens 32 -OutputTokens 16 -Warmups 0 -Seed {++seed}";
        _ps.Run(Stage(0.5, prompts: 8));
        var maxSeen = 1L;
        var stages = new List<InferenceBenchmarkResult>();
        for (var i = 0; i < 20 && (Workload().Long("spec", "replicas") ?? 1) < 2; i++)
        {
            stages.Add((InferenceBenchmarkResult)_ps.Run(Stage(3)).Last().BaseObject);
            maxSeen = Math.Max(maxSeen, Workload().Long("spec", "replicas") ?? 1);
        }
        Assert.True((Workload().Long("spec", "replicas") ?? 1) >= 2, "the HPA never scaled out: " + Hpa().ToJsonString());
        Assert.Contains(Events("qwen-autoscaler"), e => e.Str("reason") == "SuccessfulRescale" && e.Str("message")!.Contains("above target", StringComparison.Ordinal));
        InferenceBenchmarkResult? good = null;
        for (var i = 0; i < 20 && good is null; i++)
        {
            var r = (InferenceBenchmarkResult)_ps.Run(Stage(3)).Last().BaseObject;
            stages.Add(r);
            var w = Workload();
            maxSeen = Math.Max(maxSeen, w.Long("spec", "replicas") ?? 1);
            if ((w.Long("status", "readyReplicas") ?? 0) >= 2 && (w.Long("status", "readyReplicas") ?? 0) == (w.Long("spec", "replicas") ?? 1) && r.TtftP99Ms < ttftTargetMs && r.Failed == 0)
                good = r;
        }
        Assert.True(good is not null, "p99 TTFT never came back under the target: " + string.Join("; ", stages.Select(s => $"{s.TtftP99Ms:0} ms")));
        Assert.InRange(maxSeen, 2, 3);
        Assert.InRange(Hpa().Long("status", "desiredReplicas") ?? 0, 1, 3);
        // KServe (v0.17 behaviour) kept the HPA's count: the service's pods are the HPA's, not spec.replicas'
        Assert.True(Workload().Long("spec", "replicas") >= 2);
        var lastUp = Events("qwen-autoscaler").Where(e => e.Str("reason") == "SuccessfulRescale" && e.Str("message")!.Contains("above target", StringComparison.Ordinal)).Max(e => Time(e, "lastTimestamp"));

        // the load stops: back to the minimum, one pod per period, after the scale-down window
        WaitFor(() => Workload().Long("spec", "replicas") == 1 && Hpa().Long("status", "currentReplicas") == 1, TimeSpan.FromMinutes(3), () => Hpa().ToJsonString());
        // (with a 3 s window the count may also have stepped down and up again between stages while the load went on)
        var toMin = Events("qwen-autoscaler").Single(e => e.Str("reason") == "SuccessfulRescale" && e.Str("message") == "New size: 1; reason: All metrics below target");
        // the algorithm's own guarantee: the last scale-up recommendation holds the count for the whole window, so the
        // final step to the minimum comes at least a window later (events have second-granular timestamps)
        Assert.True(Time(toMin, "lastTimestamp") - lastUp >= TimeSpan.FromSeconds(2), $"scaled down to 1 at {Time(toMin, "lastTimestamp"):O}, last scale-up {lastUp:O}");
        WaitFor(() => Workload().Long("status", "readyReplicas") == 1, TimeSpan.FromMinutes(1), () => Workload().ToJsonString());

        // off: the HPA is gone, the workload keeps its count; -Replicas pins one on the service
        var off = (LlmInferenceServiceAutoscaling)_ps.Run("Disable-LlmInferenceServiceAutoscaling qwen -Namespace llm -Replicas 1").Single().BaseObject;
        Assert.False(off.Enabled);
        Assert.Null(Get("apis/autoscaling/v2/namespaces/llm/horizontalpodautoscalers/qwen-autoscaler"));
        Assert.Equal(1, Get("apis/serving.kserve.io/v1alpha1/namespaces/llm/llminferenceservices/qwen")!.Long("spec", "replicas"));
        var again = (LlmInferenceServiceAutoscaling)_ps.Run("Disable-LlmInferenceServiceAutoscaling qwen -Namespace llm").Single().BaseObject;
        Assert.Contains(again.Notes, n => n.Contains("No autoscaler", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnHpaOnAMetricThatDoesNotExistIsNotActiveWithTheRealReasons()
    {
        Platform(1);
        var hpa = new JsonObject
        {
            ["apiVersion"] = "autoscaling/v2", ["kind"] = "HorizontalPodAutoscaler",
            ["metadata"] = new JsonObject { ["name"] = "typo", ["namespace"] = "llm" },
            ["spec"] = new JsonObject
            {
                ["scaleTargetRef"] = new JsonObject { ["apiVersion"] = "apps/v1", ["kind"] = "Deployment", ["name"] = "qwen-kserve" },
                ["minReplicas"] = 1, ["maxReplicas"] = 2,
                ["metrics"] = new JsonArray(new JsonObject
                {
                    ["type"] = "Pods",
                    ["pods"] = new JsonObject
                    {
                        ["metric"] = new JsonObject { ["name"] = "prometheus.googleapis.com|vllm:num_requests_queued|gauge" },
                        ["target"] = new JsonObject { ["type"] = "AverageValue", ["averageValue"] = "2" },
                    },
                }),
            },
        };
        var external = hpa.DeepClone().AsObject();
        external["metadata"]!["name"] = "external";
        external["spec"]!["metrics"] = new JsonArray(new JsonObject
        {
            ["type"] = "External",
            ["external"] = new JsonObject
            {
                ["metric"] = new JsonObject { ["name"] = "prometheus.googleapis.com|inference_pool_average_queue_size|gauge" },
                ["target"] = new JsonObject { ["type"] = "Value", ["value"] = "2" },
            },
        });
        var missingTarget = hpa.DeepClone().AsObject();
        missingTarget["metadata"]!["name"] = "notarget";
        missingTarget["spec"]!["scaleTargetRef"]!["name"] = "nosuch-kserve";
        var o = new KubeApplyOptions { Component = "hpa", PollInterval = TimeSpan.FromMilliseconds(100), Timeout = TimeSpan.FromMinutes(1), Wait = false };
        await new ApplyEngine(_conn).ApplyAsync([hpa, external, missingTarget], o, CancellationToken.None);

        WaitFor(() => Cond(Hpa("typo"), "ScalingActive") is not null, TimeSpan.FromMinutes(1), () => Hpa("typo").ToJsonString());
        var active = Cond(Hpa("typo"), "ScalingActive")!;
        Assert.Equal(("False", "FailedGetPodsMetric"), (active.Str("status"), active.Str("reason")));
        Assert.Contains("the server could not find the metric prometheus.googleapis.com|vllm:num_requests_queued|gauge for pods", active.Str("message"), StringComparison.Ordinal);
        Assert.Contains(Events("typo"), e => e.Str("reason") == "FailedGetPodsMetric" && e.Str("type") == "Warning");

        WaitFor(() => Cond(Hpa("external"), "ScalingActive") is not null, TimeSpan.FromMinutes(1), () => Hpa("external").ToJsonString());
        Assert.Equal(("False", "FailedGetExternalMetric"), (Cond(Hpa("external"), "ScalingActive")!.Str("status"), Cond(Hpa("external"), "ScalingActive")!.Str("reason")));

        WaitFor(() => Cond(Hpa("notarget"), "AbleToScale") is not null, TimeSpan.FromMinutes(1), () => Hpa("notarget").ToJsonString());
        Assert.Equal(("False", "FailedGetScale"), (Cond(Hpa("notarget"), "AbleToScale")!.Str("status"), Cond(Hpa("notarget"), "AbleToScale")!.Str("reason")));
        // nothing was scaled on a metric nobody serves
        Assert.Equal(1, Workload().Long("spec", "replicas"));

        // the cmdlet's own checks: bounds, scale-to-zero only on request, KEDA only where installed
        var (_, zero) = _ps.Invoke("Enable-LlmInferenceServiceAutoscaling qwen -Namespace llm -MinReplicas 0");
        Assert.Equal("ScaleToZeroNotRequested", Assert.Single(zero).FullyQualifiedErrorId.Split(',')[0]);
        var (_, bounds) = _ps.Invoke("Enable-LlmInferenceServiceAutoscaling qwen -Namespace llm -MinReplicas 5 -MaxReplicas 2");
        Assert.Equal("AutoscalingBoundsInvalid", Assert.Single(bounds).FullyQualifiedErrorId.Split(',')[0]);
        UpgradeKServeCrd();
        var (_, keda) = _ps.Invoke("Enable-LlmInferenceServiceAutoscaling qwen -Namespace llm -Backend Keda");
        Assert.Equal("KedaNotInstalled", Assert.Single(keda).FullyQualifiedErrorId.Split(',')[0]);
        var (_, hpaZero) = _ps.Invoke("Enable-LlmInferenceServiceAutoscaling qwen -Namespace llm -MinReplicas 0 -AllowScaleToZero");
        Assert.Equal("ScaleToZeroNeedsKeda", Assert.Single(hpaZero).FullyQualifiedErrorId.Split(',')[0]);
        var (_, missing) = _ps.Invoke("Enable-LlmInferenceServiceAutoscaling nosuch -Namespace llm");
        Assert.Equal("LlmInferenceServiceNotFound", Assert.Single(missing).FullyQualifiedErrorId.Split(',')[0]);
    }

    public void Dispose()
    {
        try { _ps.Invoke($"Stop-RhaiiSandbox -Name {_sandbox}"); } catch (Exception) { }
        _ps.Dispose();
    }
}
