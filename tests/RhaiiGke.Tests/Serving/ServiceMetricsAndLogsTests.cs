using System.Management.Automation;
using RhaiiGke.Cmdlets.Sandbox;
using RhaiiGke.Engine.Inference;
using RhaiiGke.Sandbox.KubeApi;
using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.Serving;

/// <summary>
/// Get-InferenceMetrics for a service (every vLLM pod and the EPP through the pods proxy) and
/// Get-LlmInferenceServiceLog (typed lines, tail, since, previous, follow across a container restart) on a sandbox.
/// </summary>
public class ServiceMetricsAndLogsTests : IDisposable
{
    private readonly PowerShellHost _ps = new();
    private readonly string _sandbox = "obs-" + Guid.NewGuid().ToString("N")[..6];

    private void Deploy(string pattern, int nodes)
    {
        _ps.Run($"$sb = Start-RhaiiSandbox -Name {_sandbox} -TpuNodes {nodes} -ControllerDelay 00:00:00.005; $sb | Install-RhaiiOperators | Out-Null; New-InferenceGateway | Out-Null");
        _ps.Run("$cred = [pscredential]::new('svc-account', (ConvertTo-SecureString 'registry-password-xyz' -AsPlainText -Force)); $hf = ConvertTo-SecureString 'hf_OBSTOKEN_1234' -AsPlainText -Force");
        _ps.Run($"New-LlmInferenceServiceSpec -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace llm -Pattern {pattern} | Deploy-LlmInferenceService -RegistryCredential $cred -HuggingFaceToken $hf -Wait -Timeout 00:05:00 | Out-Null");
    }

    private KubeApiSimulator Sim => SandboxRegistry.Running[_sandbox].Owned.OfType<KubeApiSimulator>().Single();

    [Fact]
    public void ServiceMetricsScrapeEveryPodThroughTheApiServerAndSummarize()
    {
        Deploy("CacheAware", 3);
        // traffic through the gateway, so the histograms and counters have something
        _ps.Run("$svc = Get-LlmInferenceService -Namespace llm -Name qwen; 1..4 | ForEach-Object { $svc | Test-InferenceEndpoint | Out-Null }");

        var (output, errors) = _ps.Invoke("Get-LlmInferenceService -Namespace llm -Name qwen | Get-InferenceMetrics 3>&1");
        Assert.Empty(errors);
        var m = (InferenceServiceMetrics)Assert.Single(output, o => o.BaseObject is InferenceServiceMetrics).BaseObject;
        Assert.Equal(("llm", "qwen", 1), (m.Namespace, m.Name, m.Sample));
        Assert.Null(m.Window);
        Assert.Equal(3, m.PodCount);
        Assert.Equal(3, m.PodsScraped);
        Assert.All(m.Pods, p => Assert.Null(p.Error));
        Assert.All(m.Pods, p => Assert.Contains(p.Samples, s => s.Name == "vllm:kv_cache_usage_perc"));
        Assert.Equal(0, m.Running);
        Assert.True(m.Requests >= 4, $"requests {m.Requests}");
        Assert.Equal(m.Pods.Sum(p => p.Requests), m.Requests);
        Assert.NotNull(m.TtftP50);
        Assert.True(m.TtftP99 >= m.TtftP50 && m.E2eP99 >= m.E2eP50, $"{m.TtftP50} {m.TtftP99} {m.E2eP50} {m.E2eP99}");
        Assert.NotNull(m.PrefixCacheHitRate);
        Assert.Null(m.GenerationTokensPerSecond); // a rate needs two scrapes
        // the EPP authenticates its metrics; through the API server there are no credentials: reported, not hidden
        Assert.NotNull(m.Scheduler);
        Assert.Equal("epp", m.Scheduler!.Role);
        Assert.Contains("401", m.Scheduler.Error);
        Assert.Contains("--metrics-endpoint-auth=false", m.Scheduler.Error);
        Assert.Contains(output, o => o.BaseObject is WarningRecord w && w.Message.Contains("metrics-endpoint-auth", StringComparison.Ordinal));

        // a live view: one object per scrape; the second covers the window since the first (no traffic: zero rates)
        var live = _ps.Run("Get-InferenceMetrics -ServiceName qwen -Namespace llm -Count 2 -Interval 0.3 3>$null").Select(o => (InferenceServiceMetrics)o.BaseObject).ToList();
        Assert.Equal(new[] { 1, 2 }, live.Select(l => l.Sample));
        Assert.NotNull(live[1].Window);
        Assert.True(live[1].Window > TimeSpan.Zero);
        Assert.Equal(0, live[1].GenerationTokensPerSecond);
        Assert.Equal(0, live[1].Requests);
        Assert.Null(live[1].TtftP50); // no request in the window

        // the URL form still works and still emits samples
        var url = _ps.Run("$s = Start-InferenceSimulator -Replicas 1; try { $s | Get-InferenceMetrics -Name vllm:num_requests_running } finally { $s | Stop-InferenceSimulator }");
        Assert.All(url, o => Assert.IsType<InferenceMetricSample>(o.BaseObject));
        Assert.NotEmpty(url);

        var (_, missing) = _ps.Invoke("Get-InferenceMetrics -ServiceName nosuch -Namespace llm");
        Assert.Equal("LlmInferenceServiceNotFound", Assert.Single(missing).FullyQualifiedErrorId.Split(',')[0]);
    }

    [Fact]
    public void LogsAreTypedLinesOfTheServicePods()
    {
        Deploy("CacheAware", 3);
        var lines = _ps.Run("Get-LlmInferenceService -Namespace llm -Name qwen | Get-LlmInferenceServiceLog").Select(o => (LlmInferenceServiceLogLine)o.BaseObject).ToList();
        var workloads = lines.Where(l => l.Component == LlmLogComponent.Workload).Select(l => l.Pod).Distinct().ToList();
        Assert.Equal(3, workloads.Count);
        Assert.All(lines.Where(l => l.Component == LlmLogComponent.Workload), l => Assert.Equal("main", l.Container));
        Assert.Contains(lines, l => l.Component == LlmLogComponent.Scheduler && l.Line.Contains("\"msg\":\"Starting Gateway API Inference Extension\"", StringComparison.Ordinal));
        Assert.All(lines, l => Assert.True(l.Timestamp > DateTimeOffset.UtcNow.AddHours(-1) && l.Timestamp <= DateTimeOffset.UtcNow.AddMinutes(1), l.Timestamp.ToString("o")));
        Assert.All(lines, l => Assert.DoesNotMatch(@"^\d{4}-\d\d-\d\dT", l.Line)); // the timestamp went into Timestamp

        // Where-Object on Line, -Tail per container, -Since, the storage-initializer
        var started = _ps.Run("Get-LlmInferenceServiceLog qwen -Namespace llm | Where-Object Line -match 'Starting vLLM API server'");
        Assert.Equal(3, started.Count);
        var tail = _ps.Run("Get-LlmInferenceServiceLog qwen -Namespace llm -Component Workload -Tail 2").Select(o => (LlmInferenceServiceLogLine)o.BaseObject).ToList();
        Assert.Equal(6, tail.Count);
        Assert.All(workloads, p => Assert.Equal(2, tail.Count(l => l.Pod == p)));
        Assert.NotEmpty(_ps.Run("Get-LlmInferenceServiceLog qwen -Namespace llm -Since 01:00:00"));
        var init = _ps.Run("Get-LlmInferenceServiceLog qwen -Namespace llm -Component StorageInitializer").Select(o => (LlmInferenceServiceLogLine)o.BaseObject).ToList();
        Assert.Contains(init, l => l.Container == "storage-initializer" && l.Line.Contains("Storage initializer completed", StringComparison.Ordinal));

        // nothing has terminated yet: -Previous says so per container and returns nothing
        var (prev, prevErrors) = _ps.Invoke("Get-LlmInferenceServiceLog qwen -Namespace llm -Component Workload -Previous 3>&1");
        Assert.Empty(prevErrors);
        Assert.DoesNotContain(prev, o => o.BaseObject is LlmInferenceServiceLogLine);
        Assert.Contains(prev, o => o.BaseObject is WarningRecord w && w.Message.Contains("previous terminated container \"main\"", StringComparison.Ordinal));

        var (_, conflict) = _ps.Invoke("Get-LlmInferenceServiceLog qwen -Namespace llm -Follow -Previous");
        Assert.Equal("FollowPreviousConflict", Assert.Single(conflict).FullyQualifiedErrorId.Split(',')[0]);
        var (_, badSince) = _ps.Invoke("Get-LlmInferenceServiceLog qwen -Namespace llm -Since ([TimeSpan]::FromMinutes(-1))");
        Assert.Equal("InvalidLogSince", Assert.Single(badSince).FullyQualifiedErrorId.Split(',')[0]);
        var (_, missing) = _ps.Invoke("Get-LlmInferenceServiceLog nosuch -Namespace llm");
        Assert.Equal("LlmInferenceServiceNotFound", Assert.Single(missing).FullyQualifiedErrorId.Split(',')[0]);
    }

    [Fact]
    public async Task FollowGoesOnAcrossAContainerRestartAndPreviousReadsTheKilledInstance()
    {
        Deploy("Baseline", 1);
        var pod = _ps.Run("(Get-LlmInferenceService -Namespace llm -Name qwen).Pods | Where-Object Role -eq workload | ForEach-Object Name").Single().ToString()!;

        using var ps = PowerShell.Create(_ps.Runspace);
        ps.AddScript("Get-LlmInferenceServiceLog qwen -Namespace llm -Component Workload -Tail 1 -Follow");
        var output = new PSDataCollection<PSObject>();
        var seen = new List<LlmInferenceServiceLogLine>();
        var warnings = new List<string>();
        var events = new List<string>(); // lines and warnings in the order they came
        var gotLine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var restarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        output.DataAdded += (_, e) =>
        {
            var line = (LlmInferenceServiceLogLine)output[e.Index].BaseObject;
            lock (events) { seen.Add(line); events.Add("line:" + line.Line); }
            gotLine.TrySetResult();
            if (line.Line.Contains("Starting vLLM API server", StringComparison.Ordinal) && warnings.Count > 0) restarted.TrySetResult();
        };
        ps.Streams.Warning.DataAdded += (_, e) =>
        {
            lock (events) { warnings.Add(ps.Streams.Warning[e.Index].Message); events.Add("warning:" + ps.Streams.Warning[e.Index].Message); }
        };
        var run = ps.BeginInvoke<PSObject, PSObject>(null, output);

        await gotLine.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(Sim.KillContainer("llm", pod), "the main container runs and can be killed");
        await restarted.Task.WaitAsync(TimeSpan.FromSeconds(120));
        ps.Stop(); // Ctrl+C
        try { ps.EndInvoke(run); } catch (PipelineStoppedException) { }

        lock (events)
        {
            var notice = Assert.Single(warnings, w => w.Contains("restarted", StringComparison.Ordinal));
            Assert.Contains($"Container main of pod {pod} restarted after it exited (OOMKilled, exit code 137) (restart 1)", notice);
            var at = events.IndexOf("warning:" + notice);
            // the new instance's start-up comes after the notice, once
            Assert.Contains(events.Skip(at), e => e.Contains("Starting vLLM API server", StringComparison.Ordinal));
            Assert.Contains(events.Skip(at), e => e.Contains("Loading model from scratch", StringComparison.Ordinal));
            Assert.Equal(seen.Count, seen.Select(l => (l.Timestamp, l.Line)).Distinct().Count());
            Assert.True(seen.Zip(seen.Skip(1)).All(p => p.First.Timestamp <= p.Second.Timestamp), "lines in time order");
        }

        // the killed instance is now the previous one
        var previous = _ps.Run("Get-LlmInferenceServiceLog qwen -Namespace llm -Component Workload -Previous").Select(o => (LlmInferenceServiceLogLine)o.BaseObject).ToList();
        Assert.NotEmpty(previous);
        Assert.All(previous, l => Assert.True(l.Previous));
        Assert.Contains(previous, l => l.Line.Contains("Starting vLLM API server", StringComparison.Ordinal));
    }

    [Fact]
    public void SupportBundleRoundTripsThroughDiagnosisWithoutSecretValues()
    {
        Deploy("Baseline", 1);
        var zip = Path.Combine(Path.GetTempPath(), $"rhaii-bundle-{Guid.NewGuid():N}.zip");
        try
        {
            // -WhatIf writes nothing
            _ps.Run($"Export-RhaiiSupportBundle -Path '{zip}' -WhatIf");
            Assert.False(File.Exists(zip));

            var bundle = (SupportBundle)Assert.Single(_ps.Run($"Export-RhaiiSupportBundle -Path '{zip}' -TailLines 50")).BaseObject;
            Assert.True(File.Exists(zip));
            Assert.Equal(new FileInfo(zip).Length, bundle.Size);
            Assert.True(bundle.Objects > 0 && bundle.LogFiles > 0 && bundle.Services == 1, $"{bundle.Objects} {bundle.LogFiles} {bundle.Services}");

            var texts = new Dictionary<string, string>();
            using (var archive = System.IO.Compression.ZipFile.OpenRead(zip))
                foreach (var e in archive.Entries)
                    using (var r = new StreamReader(e.Open())) texts[e.FullName] = r.ReadToEnd();
            // no secret value anywhere: not the HF token, not the registry password, not the base64 of either
            foreach (var secret in new[] { "hf_OBSTOKEN_1234", "registry-password-xyz" })
            {
                Assert.DoesNotContain(texts, kv => kv.Value.Contains(secret, StringComparison.Ordinal));
                Assert.DoesNotContain(texts, kv => kv.Value.Contains(Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(secret)), StringComparison.Ordinal));
            }
            // ... but the Secret and its key names are there, and so are logs, metrics and the operator status
            Assert.Contains("\"hf-token\"", texts["objects/Secret.json"]);
            Assert.Contains("\"HF_TOKEN\"", texts["objects/Secret.json"]);
            Assert.Contains(texts, kv => kv.Key.StartsWith("logs/llm/qwen-kserve-", StringComparison.Ordinal) && kv.Key.EndsWith("/main.log", StringComparison.Ordinal) && kv.Value.Contains("Starting vLLM API server", StringComparison.Ordinal));
            Assert.Contains(texts, kv => kv.Key.EndsWith("/storage-initializer.log", StringComparison.Ordinal));
            Assert.Contains("\"PodsScraped\": 1", texts["metrics/llm/qwen.json"]);
            Assert.Contains("\"Components\"", texts["operators.json"]);

            // the diagnosis reads the bundle as it reads the cluster
            var live = _ps.Run("Get-RhaiiDiagnosis").Select(o => ((DiagnosisFinding)o.BaseObject).CheckId + " " + ((DiagnosisFinding)o.BaseObject).Object).ToHashSet();
            var (offlineOut, offlineErrors) = _ps.Invoke($"Get-RhaiiDiagnosis -Path '{zip}'");
            Assert.Empty(offlineErrors);
            var offline = offlineOut.Select(o => ((DiagnosisFinding)o.BaseObject).CheckId + " " + ((DiagnosisFinding)o.BaseObject).Object).ToHashSet();
            Assert.Subset(live, offline);

            var (_, exists) = _ps.Invoke($"Export-RhaiiSupportBundle -Path '{zip}'");
            Assert.Equal("SupportBundleExists", Assert.Single(exists).FullyQualifiedErrorId.Split(',')[0]);
        }
        finally { File.Delete(zip); }
    }

    [Fact]
    public void HistogramQuantileInterpolatesAsPrometheusDoes()
    {
        // 10 observations: 2 <= 0.1, 8 <= 0.5, 10 <= 1
        var buckets = new List<(double, double)> { (0.1, 2), (0.5, 8), (1.0, 10), (double.PositiveInfinity, 10) };
        Assert.Equal(0.1 + 0.4 * (5 - 2) / 6.0, ServiceMetricsCollector.HistogramQuantile(0.5, buckets)!.Value, 9);
        Assert.Equal(0.05, ServiceMetricsCollector.HistogramQuantile(0.1, buckets)!.Value, 9);
        Assert.Equal(0.5 + 0.5 * (9.9 - 8) / 2, ServiceMetricsCollector.HistogramQuantile(0.99, buckets)!.Value, 9);
        // everything above the last finite bound: that bound, as histogram_quantile answers
        Assert.Equal(1.0, ServiceMetricsCollector.HistogramQuantile(0.5, [(1.0, 0), (double.PositiveInfinity, 4)]));
        Assert.Null(ServiceMetricsCollector.HistogramQuantile(0.5, [(1.0, 0), (double.PositiveInfinity, 0)]));
    }

    public void Dispose()
    {
        try { _ps.Invoke($"Stop-RhaiiSandbox -Name {_sandbox}"); } catch (Exception) { }
        _ps.Dispose();
    }
}
