using RhaiiGke.Engine.Inference;
using RhaiiGke.Sandbox.Vllm;
using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.Inference;

public sealed class EndpointAndMetricsTests : IDisposable
{
    private readonly VllmSimulator _sim = VllmSimulator.Start(new InferenceSimulatorOptions { Replicas = 2, PodNamePrefix = "ep" });
    private readonly PowerShellHost _ps = new();

    [Fact]
    public async Task SimulatorPassesEveryCheck()
    {
        var r = await EndpointTester.TestAsync(new EndpointTestOptions { BaseUrl = _sim.Info.BaseUrl });
        Assert.True(r.Passed, string.Join("; ", r.Checks.Select(c => c.ToString())));
        Assert.Equal(["Health", "Models", "Completion", "ChatCompletion", "StreamingFraming", "StreamingUsage", "FinishReason", "CachedTokens", "Metrics", "PodIdentity"],
            r.Checks.Select(c => c.Name));
        Assert.All(r.Checks, c => Assert.Equal(InferenceCheckStatus.Passed, c.Status));
        Assert.Equal("Qwen/Qwen2.5-3B-Instruct", r.Model);
        Assert.NotEmpty(r.Pods);
    }

    [Fact]
    public async Task SlowFirstRequestFailsWithoutEnoughWarmupAndPassesWithIt()
    {
        using var slow = VllmSimulator.Start(new InferenceSimulatorOptions { FirstRequestDelayMs = 1500 });
        var tooShort = await EndpointTester.TestAsync(new EndpointTestOptions { BaseUrl = slow.Info.BaseUrl, WarmupTimeout = TimeSpan.FromMilliseconds(300) });
        Assert.False(tooShort.Passed);
        Assert.Contains("Completion", tooShort.FailedChecks);
        Assert.Contains("WarmupTimeout", tooShort.Checks.Single(c => c.Name == "Completion").Detail);
        using var slow2 = VllmSimulator.Start(new InferenceSimulatorOptions { FirstRequestDelayMs = 300 });
        var ok = await EndpointTester.TestAsync(new EndpointTestOptions { BaseUrl = slow2.Info.BaseUrl, WarmupTimeout = TimeSpan.FromMinutes(2) });
        Assert.True(ok.Passed);
        Assert.True(ok.FirstRequestMs >= 300);
    }

    [Fact]
    public async Task UnreachableEndpointFailsHealthAndSkipsTheRest()
    {
        var r = await EndpointTester.TestAsync(new EndpointTestOptions { BaseUrl = "http://127.0.0.1:1", Timeout = TimeSpan.FromSeconds(2) });
        Assert.False(r.Passed);
        Assert.Equal(InferenceCheckStatus.Failed, r.Checks[0].Status);
        Assert.Equal(InferenceCheckStatus.Skipped, r.Checks.Single(c => c.Name == "Metrics").Status);
    }

    [Fact]
    public void PrometheusTextParsesLabelsEscapesTypesAndSpecialValues()
    {
        var text = """
            # HELP vllm:num_requests_running Number of requests.
            # TYPE vllm:num_requests_running gauge
            vllm:num_requests_running{engine="0",model_name="a \"quoted\" name"} 3.0
            # TYPE vllm:e2e_request_latency_seconds histogram
            vllm:e2e_request_latency_seconds_bucket{le="+Inf",model_name="m"} 7
            vllm:e2e_request_latency_seconds_sum{model_name="m"} 1.5e-1
            # TYPE vllm:prefix_cache_hits counter
            vllm:prefix_cache_hits_total{model_name="m"} NaN
            untyped_thing 42 1700000000000
            """;
        var s = PrometheusText.Parse(text, "http://x");
        Assert.Equal(5, s.Count);
        Assert.Equal("gauge", s[0].Type);
        Assert.Equal("a \"quoted\" name", s[0].Labels["model_name"]);
        Assert.Equal("Number of requests.", s[0].Help);
        Assert.Equal("vllm:e2e_request_latency_seconds", s[1].Family);
        Assert.Equal("histogram", s[1].Type);
        Assert.Equal("+Inf", s[1].Labels["le"]);
        Assert.Equal(0.15, s[2].Value);
        Assert.Equal("counter", s[3].Type);
        Assert.True(double.IsNaN(s[3].Value));
        Assert.Equal(42, s[4].Value);
        var ex = Assert.Throws<RhaiiException>(() => PrometheusText.Parse("bad{x=1} 2"));
        Assert.Equal("InvalidPrometheusText", ex.ErrorId);
    }

    [Fact]
    public void DeltasSubtractSameSeriesAndDetectCounterResets()
    {
        var t0 = DateTimeOffset.UnixEpoch;
        var before = PrometheusText.Parse("# TYPE c counter\nc_total{pod=\"a\"} 10\nc_total{pod=\"b\"} 50\n# TYPE g gauge\ng 5\n", "e", t0);
        var after = PrometheusText.Parse("# TYPE c counter\nc_total{pod=\"a\"} 25\nc_total{pod=\"b\"} 4\n# TYPE g gauge\ng 2\nnew 1\n", "e", t0.AddSeconds(5));
        var d = PrometheusText.Delta(after, before).ToDictionary(x => x.Series);
        Assert.Equal(15, d["c_total{pod=\"a\"}"].Delta);
        Assert.Equal(3, d["c_total{pod=\"a\"}"].Rate);
        Assert.True(d["c_total{pod=\"b\"}"].Reset);
        Assert.Equal(4, d["c_total{pod=\"b\"}"].Delta);
        Assert.Equal(-3, d["g"].Delta);
        Assert.Null(d["new"].Delta);
    }

    [Fact]
    public void CmdletsBindASimulatorByPropertyName()
    {
        _ps.Invoke("$null", new Dictionary<string, object?> { ["sim"] = _sim.Info });
        var test = (TestInferenceEndpointResult)_ps.Run("$sim | Test-InferenceEndpoint -WarningAction SilentlyContinue")[0].BaseObject;
        Assert.True(test.Passed);
        Assert.True((bool)_ps.Run("Test-InferenceEndpoint $sim.BaseUrl -Quiet")[0].BaseObject);
        var before = _ps.Run("$before = $sim | Get-InferenceMetrics -Name 'vllm:prefix_cache_*'; $before");
        Assert.Equal(4, before.Count); // hits and queries for two pods
        var results = _ps.Run("$sim | Invoke-InferenceBenchmark -Concurrency 2 -NumPrompts 10 -InputTokens 100 -OutputTokens 4 -Warmups 0");
        var bench = (InferenceBenchmarkResult)Assert.Single(results).BaseObject;
        Assert.Equal(10, bench.Completed);
        var deltas = _ps.Run("$sim | Get-InferenceMetrics -Name vllm:prefix_cache_queries_total -Since $before").Select(o => (InferenceMetricSample)o.BaseObject).ToList();
        Assert.Equal(10 * (100 + 28), deltas.Sum(s => s.Delta ?? 0)); // each chat prompt plus the 28 tokens of Qwen2.5's ChatML template
    }

    [Fact]
    public void BenchmarkWritesJsonCsvAndJsonlAndHonoursWhatIf()
    {
        var dir = Path.Combine(Path.GetTempPath(), "rhaii-bench-" + Guid.NewGuid().ToString("N"));
        try
        {
            Assert.Empty(_ps.Run($"Invoke-InferenceBenchmark {_sim.Info.BaseUrl} -OutputDirectory '{dir}' -WhatIf"));
            Assert.False(Directory.Exists(dir));
            var r = (InferenceBenchmarkResult)_ps.Run($"Invoke-InferenceBenchmark {_sim.Info.BaseUrl} -Profile Poisson -Rate 200 -NumPrompts 20 -InputTokens 8 -OutputTokens 3 -OutputDirectory '{dir}' -Slo @{{ ttft = 5000; e2el = 10000 }} -Label t")[0].BaseObject;
            var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(r.JsonPath!)).RootElement;
            foreach (var key in new[] { "duration", "completed", "failed", "total_input_tokens", "total_output_tokens", "request_throughput", "request_goodput",
                         "output_throughput", "total_token_throughput", "max_output_tokens_per_s", "max_concurrent_requests", "mean_ttft_ms", "median_ttft_ms",
                         "std_ttft_ms", "p99_ttft_ms", "mean_tpot_ms", "p90_itl_ms", "p95_e2el_ms", "mean_ntpot_ms", "request_rate", "burstiness", "model_id", "date" })
                Assert.True(json.TryGetProperty(key, out _), key);
            Assert.Equal(20, json.GetProperty("completed").GetInt32());
            Assert.Equal(200, json.GetProperty("request_rate").GetDouble());
            var csv = File.ReadAllLines(r.CsvPath!);
            Assert.Equal(2, csv.Length);
            Assert.Contains("p99_ttft_ms", csv[0]);
            Assert.Equal(20, File.ReadAllLines(r.RequestLogPath!).Length);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Fact]
    public void BadSloIsAStableError()
    {
        var (_, e) = _ps.Invoke($"Invoke-InferenceBenchmark {_sim.Info.BaseUrl} -Slo @{{ speed = 1 }}");
        Assert.StartsWith("UnknownSloMetric", Assert.Single(e).FullyQualifiedErrorId);
    }

    public void Dispose()
    {
        _ps.Dispose();
        _sim.Dispose();
    }
}
