using System.Diagnostics;
using RhaiiGke.Engine.Inference;
using RhaiiGke.Sandbox.Vllm;
using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.Inference;

public sealed class ReportRoutingCompareTests : IDisposable
{
    private readonly VllmSimulator _sim = VllmSimulator.Start(new InferenceSimulatorOptions { Replicas = 4, PodNamePrefix = "rt", Seed = 3 });
    private readonly PowerShellHost _ps = new();

    [Fact]
    public async Task PrefixAwareGatewayBeatsRoundRobinWithCounterEvidence()
    {
        var r = await CacheRoutingTester.TestAsync(new CacheRoutingOptions
        {
            BaseUrl = _sim.Info.BaseUrl, PodUrls = _sim.Info.ReplicaUrls.ToArray(), Groups = 4, RequestsPerGroup = 6, PrefixTokens = 256, Seed = 11,
        });
        Assert.True(r.Passed, Describe(r));
        Assert.Equal(["gateway-cold", "gateway-warm", "round-robin-cold", "round-robin-warm"], r.Phases.Select(p => p.Name));
        var cold = r.Phases[0];
        var warm = r.Phases[1];
        // cold: only the chat template's shared first block (Qwen2.5's default system prompt) hits, as on a real vLLM
        Assert.True(cold.CachedTokenRatio < 0.1, $"cold {cold.CachedTokenRatio}");
        Assert.True(warm.CachedTokenRatio > 0.8, $"warm {warm.CachedTokenRatio}");
        Assert.Equal(1.0, warm.GroupAffinity);
        Assert.NotNull(warm.CounterHitRate);
        Assert.Equal(warm.CachedTokenRatio, warm.CounterHitRate!.Value, 9); // the simulator's counters and usage agree
        Assert.True(r.RoundRobinWarmHitRate < r.GatewayWarmHitRate);
        Assert.True(r.PrefixCharacters > 64 * 10);
    }

    private static string Describe(TestInferenceCacheRoutingResult r) =>
        string.Join("\n", r.Evidence.Concat(r.Warnings).Concat(r.Phases.Select(p => $"{p.Name}: cached {p.CachedTokenRatio} counter {p.CounterHitRate} affinity {p.GroupAffinity} pods {string.Join(",", p.Pods.Select(x => x.Key + "=" + x.Value))}")));

    [Fact]
    public async Task RoundRobinPickerFailsTheTest()
    {
        using var rr = VllmSimulator.Start(new InferenceSimulatorOptions { Replicas = 4, Picker = InferencePickerMode.RoundRobin });
        var r = await CacheRoutingTester.TestAsync(new CacheRoutingOptions { BaseUrl = rr.Info.BaseUrl, Groups = 4, RequestsPerGroup = 5, PrefixTokens = 128, Seed = 1 });
        Assert.False(r.Passed, Describe(r));
        Assert.Null(r.RoundRobinWarmHitRate);
        Assert.Contains(r.Warnings, w => w.Contains("No pod URLs"));
        Assert.NotNull(r.Phases[1].CounterHitRate); // the simulator's gateway serves every pod's counters
    }

    private static InferenceBenchmarkResult Result(string label, string stage, double rps, double ttftP50, int conc)
    {
        var (rows, itls) = BenchmarkMathTests.Trace();
        var r = BenchmarkAccumulator.Compute(rows, itls, 8, new StageInfo { Label = label, Name = stage, TargetConcurrency = conc });
        return new InferenceBenchmarkResult
        {
            Label = label, Stage = stage, MaxConcurrency = conc, RequestThroughput = rps, Completed = 10,
            Ttft = new InferenceLatencyStats { Metric = "ttft", Count = 3, Median = ttftP50, Percentiles = [new() { Percentile = 50, Value = ttftP50 }, new() { Percentile = 90, Value = ttftP50 * 2 }, new() { Percentile = 99, Value = ttftP50 * 3 }] },
            Itl = r.Itl, Tpot = r.Tpot, E2el = r.E2el, OutputThroughput = rps * 10, TtftSampleMs = [ttftP50, ttftP50 * 1.5, ttftP50 * 2],
        };
    }

    [Fact]
    public void ComparisonPairsStagesAndJudgesDirection()
    {
        var before = new[] { Result("a", "concurrency-1", 10, 100, 1), Result("a", "concurrency-8", 40, 200, 8) };
        var after = new[] { Result("b", "concurrency-8", 50, 150, 8) };
        var rows = BenchmarkComparer.Compare(before, after, ["request_throughput", "median_ttft_ms"]);
        Assert.Equal(2, rows.Count);
        var rps = rows.Single(x => x.Metric == "request_throughput");
        Assert.Equal("concurrency-8", rps.Stage);
        Assert.Equal(10, rps.Delta);
        Assert.Equal(25, rps.DeltaPercent);
        Assert.Equal("Better", rps.Verdict);
        var ttft = rows.Single(x => x.Metric == "median_ttft_ms");
        Assert.Equal(-25, ttft.DeltaPercent);
        Assert.Equal("Better", ttft.Verdict);
        Assert.Equal("UnknownComparisonMetric", Assert.Throws<RhaiiException>(() => BenchmarkComparer.Compare(before, after, ["speed"])).ErrorId);
        Assert.Equal("NoMatchingStages", Assert.Throws<RhaiiException>(() => BenchmarkComparer.Compare(before, [Result("c", "rate-3", 1, 1, 1)])).ErrorId);
    }

    [Fact]
    public void CompareCmdletTakesDifferenceFromThePipeline()
    {
        _ps.Invoke("$null", new Dictionary<string, object?> { ["a"] = Result("a", "s", 10, 100, 1), ["b"] = Result("b", "s", 20, 50, 1) });
        var rows = _ps.Run("$b | Compare-InferenceBenchmark -ReferenceResult $a -Metric request_throughput");
        var row = (InferenceBenchmarkComparison)Assert.Single(rows).BaseObject;
        Assert.Equal(100, row.DeltaPercent);
    }

    private static InferenceBenchmarkResult[] ReportResults() =>
        [Result("run", "concurrency-1", 10, 100, 1), Result("run", "concurrency-4", 30, 160, 4), Result("run", "concurrency-16", 45, 400, 16)];

    [Fact]
    public void ReportIsSelfContainedAndEscaped()
    {
        var html = BenchmarkReport.Render(ReportResults(), "Test <report>");
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org/2000/svg", ""));
        Assert.DoesNotContain("https://", html);
        Assert.DoesNotContain("<script src", html);
        Assert.Contains("Test &lt;report&gt;", html);
        Assert.Equal(7, BenchmarkReport.ChartCount(ReportResults()));
        Assert.Equal("NothingToReport", Assert.Throws<RhaiiException>(() => BenchmarkReport.Render([], "x")).ErrorId);
    }

    [ChromiumFact]
    public async Task ChromiumDrawsEveryChart()
    {
        var results = ReportResults();
        var expected = BenchmarkReport.ChartCount(results);
        var dir = Directory.CreateTempSubdirectory("rhaii-report-").FullName;
        try
        {
            var file = Path.Combine(dir, "report.html");
            File.WriteAllText(file, BenchmarkReport.Render(results, "Chromium test"));
            var psi = new ProcessStartInfo(ChromiumFactAttribute.Browser!)
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
                ArgumentList = { "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run", "--disable-dev-shm-usage",
                    $"--user-data-dir={Path.Combine(dir, "profile")}", "--dump-dom", new Uri(file).AbsoluteUri },
            };
            using var p = Process.Start(psi)!;
            var dom = p.StandardOutput.ReadToEndAsync();
            _ = p.StandardError.ReadToEndAsync();
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            await p.WaitForExitAsync(cts.Token);
            var text = await dom;
            Assert.Contains($"data-charts-drawn=\"{expected}\"", text);
            Assert.Equal(expected, CountOf(text, "<figure>"));
            // 3 TTFT percentiles + ITL p50/p99 + TPOT + 3 E2EL + req/s + tok/s + latency-vs-throughput + 3 histograms
            Assert.Equal(3 + 3 + 3 + 1 + 1 + 1 + 3, CountOf(text, "class=\"series\""));
            Assert.True(CountOf(text, "class=\"point\"") >= 30);
        }
        finally { try { Directory.Delete(dir, true); } catch { } }
    }

    private static int CountOf(string s, string what)
    {
        int n = 0, i = 0;
        while ((i = s.IndexOf(what, i, StringComparison.Ordinal)) >= 0) { n++; i += what.Length; }
        return n;
    }

    [Fact]
    public void ExportCmdletWritesTheFileAndHonoursWhatIf()
    {
        var path = Path.Combine(Path.GetTempPath(), "rhaii-" + Guid.NewGuid().ToString("N") + ".html");
        try
        {
            _ps.Invoke("$null", new Dictionary<string, object?> { ["r"] = Result("x", "concurrency-1", 5, 50, 1) });
            Assert.Empty(_ps.Run($"$r | Export-InferenceBenchmarkReport -Path '{path}' -WhatIf"));
            Assert.False(File.Exists(path));
            var fi = (FileInfo)_ps.Run($"$r | Export-InferenceBenchmarkReport -Path '{path}' -PassThru")[0].BaseObject;
            Assert.True(fi.Exists);
            Assert.Contains("report-data", File.ReadAllText(path));
        }
        finally { File.Delete(path); }
    }

    public void Dispose()
    {
        _ps.Dispose();
        _sim.Dispose();
    }
}

/// <summary>A fact that runs only where a Chromium binary exists (Debian: apt-get install chromium).</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public static readonly string? Browser = new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome" }.FirstOrDefault(File.Exists);

    public ChromiumFactAttribute()
    {
        if (Browser is null) Skip = "Chromium is not installed (apt-get install -y chromium); the report's rendering test needs a headless browser.";
    }
}
