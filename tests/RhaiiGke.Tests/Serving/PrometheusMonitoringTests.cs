using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RhaiiGke.Engine.Serving.Monitoring;
using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.Serving;

/// <summary>A fact that runs only where Debian's prometheus package (prometheus, promtool) is installed.</summary>
public sealed class PrometheusFactAttribute : FactAttribute
{
    public static readonly string? Prometheus = new[] { "/usr/bin/prometheus", "/usr/local/bin/prometheus" }.FirstOrDefault(File.Exists);
    public static readonly string? Promtool = new[] { "/usr/bin/promtool", "/usr/local/bin/promtool" }.FirstOrDefault(File.Exists);

    public PrometheusFactAttribute()
    {
        if (Prometheus is null || Promtool is null)
            Skip = "Prometheus is not installed (apt-get install -y prometheus); the scrape and promtool tests need the real prometheus and promtool binaries.";
    }
}

/// <summary>
/// The generated monitoring against the real thing: promtool checks the rules and runs the generated unit tests
/// (each alert fires on a seeded condition and stays quiet otherwise), and a real Prometheus scrapes simulated vLLM
/// replicas and the EPP through the module's translation of its PodMonitoring objects, so the dashboard's queries
/// return series.
/// </summary>
public sealed class PrometheusMonitoringTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rhaii-prom-").FullName;
    private readonly PowerShellHost _ps = new();
    private Process? _prometheus;

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3))) { p.Kill(true); throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish"); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    private (string Rules, string Tests) WriteRules(MonitoringPlan rulesPlan, MonitoringPlan testPlan, string tag)
    {
        var rules = Path.Combine(_dir, $"rules-{tag}.yaml");
        var tests = Path.Combine(_dir, $"rules-{tag}.test.yaml");
        File.WriteAllText(rules, MonitoringBuilder.RuleFile(rulesPlan));
        File.WriteAllText(tests, MonitoringBuilder.RuleTestFile(testPlan, rules));
        return (rules, tests);
    }

    [PrometheusFact]
    public void EveryGeneratedAlertFiresOnItsConditionAndStaysQuietOtherwise()
    {
        var plans = new[]
        {
            new MonitoringPlan { Name = "qwen", Namespace = "rhaii-inference" },
            new MonitoringPlan
            {
                Name = "llama.v2", Namespace = "team-a",
                Thresholds = new MonitoringThresholds { TtftP99Seconds = 0.3, QueueDepth = 3, KvCacheUsage = 0.75, Restarts = 2, Gateway5xxRatio = 0.2, For = TimeSpan.FromMinutes(2) },
            },
        };
        var i = 0;
        foreach (var plan in plans)
        {
            var (rules, tests) = WriteRules(plan, plan, (i++).ToString(System.Globalization.CultureInfo.InvariantCulture));
            var check = Run(PrometheusFactAttribute.Promtool!, "check", "rules", rules);
            Assert.True(check.Code == 0, check.Output);
            Assert.Contains($"SUCCESS: {MonitoringBuilder.Alerts(plan).Count} rules found", check.Output);
            var test = Run(PrometheusFactAttribute.Promtool!, "test", "rules", tests);
            Assert.True(test.Code == 0, test.Output + "\n---\n" + File.ReadAllText(tests));
            Assert.Contains("SUCCESS", test.Output);
            // every alert has a firing case and a quiet case
            var doc = File.ReadAllText(tests);
            foreach (var a in MonitoringBuilder.Alerts(plan))
                Assert.True(doc.Split("alertname: " + a.Alert).Length - 1 >= 2, $"{a.Alert} lacks a firing and a quiet case");
        }
    }

    [PrometheusFact]
    public void TheGeneratedUnitTestsCatchAThresholdTheRulesDoNotHonour()
    {
        // rules written with thresholds that can never be crossed by the seeded series: the fire cases must fail
        var honest = new MonitoringPlan { Name = "qwen", Namespace = "rhaii-inference" };
        var deaf = honest with { Thresholds = new MonitoringThresholds { TtftP99Seconds = 10000, QueueDepth = 1e6, KvCacheUsage = 0.9999, Restarts = 1000, Gateway5xxRatio = 0.99 } };
        var (_, tests) = WriteRules(deaf, honest, "deaf");
        var test = Run(PrometheusFactAttribute.Promtool!, "test", "rules", tests);
        Assert.NotEqual(0, test.Code);
        foreach (var a in MonitoringBuilder.Alerts(honest))
            Assert.Contains(a.Alert, test.Output);
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private static async Task<JsonObject> QueryAsync(HttpClient http, string baseUrl, string expr)
    {
        var body = await http.GetStringAsync($"{baseUrl}/api/v1/query?query={Uri.EscapeDataString(expr)}");
        return JsonNode.Parse(body)!.AsObject();
    }

    private static async Task<T> EventuallyAsync<T>(Func<Task<T?>> probe, TimeSpan timeout, Func<string> what) where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        Exception? last = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (await probe() is { } v) return v;
            }
            catch (HttpRequestException e) { last = e; }
            await Task.Delay(250);
        }
        throw new Xunit.Sdk.XunitException($"Timed out after {timeout}: {what()} {last?.Message}");
    }

    [PrometheusFact]
    public async Task APrometheusScrapesSimulatedVllmAndEppWithTheTranslatedPodMonitoringAndTheDashboardQueriesReturnSeries()
    {
        var sim = (InferenceSimulator)_ps.Run("Start-InferenceSimulator -Model Qwen/Qwen2.5-3B-Instruct -Replicas 2 -Name prom-scrape")[0].BaseObject;
        try
        {
            var plan = new MonitoringPlan { Name = "qwen", Namespace = "rhaii-inference", ScrapeInterval = TimeSpan.FromSeconds(1) };
            var objects = MonitoringBuilder.Build(plan, MonitoringBackend.ManagedPrometheus);
            var vllmPm = objects.Single(o => o["kind"]!.ToString() == "PodMonitoring" && o["metadata"]!["name"]!.ToString() == MonitoringBuilder.VllmMonitorName(plan));
            var eppPm = objects.Single(o => o["kind"]!.ToString() == "PodMonitoring" && o["metadata"]!["name"]!.ToString() == MonitoringBuilder.EppMonitorName(plan));
            var workload = new Dictionary<string, string>
            {
                ["app.kubernetes.io/part-of"] = "llminferenceservice", ["app.kubernetes.io/name"] = "qwen", ["app.kubernetes.io/component"] = "llminferenceservice-workload", ["llm-d.ai/role"] = "both",
            };
            var vllmTargets = sim.ReplicaUrls.Select((u, i) => new ScrapeTarget(new Uri(u).Authority, plan.Namespace, $"qwen-kserve-5d8f-{i}", "main", workload, PortNumber: 8000)).ToList();
            // decoys the PodMonitoring's selector must drop: another service's pod, and this service's EPP on the vLLM job
            vllmTargets.Add(new ScrapeTarget(new Uri(sim.ReplicaUrls[0]).Authority, plan.Namespace, "other-kserve-1", "main", new Dictionary<string, string>(workload) { ["app.kubernetes.io/name"] = "other" }, PortNumber: 8000));
            var epp = new Dictionary<string, string> { ["app.kubernetes.io/part-of"] = "llminferenceservice", ["app.kubernetes.io/name"] = "qwen", ["app.kubernetes.io/component"] = "llminferenceservice-router-scheduler" };
            vllmTargets.Add(new ScrapeTarget(new Uri(sim.BaseUrl).Authority, plan.Namespace, "qwen-kserve-router-scheduler-1", "main", epp, PortNumber: 8000));
            var eppTargets = new List<ScrapeTarget> { new(new Uri(sim.BaseUrl).Authority, plan.Namespace, "qwen-kserve-router-scheduler-1", "main", epp, PortName: "metrics") };

            var secrets = Path.Combine(_dir, "secrets");
            Directory.CreateDirectory(Path.Combine(secrets, MonitoringBuilder.ReaderSecret(plan)));
            File.WriteAllText(Path.Combine(secrets, MonitoringBuilder.ReaderSecret(plan), "token"), "not-a-real-token");
            var rules = Path.Combine(_dir, "rules.yaml");
            File.WriteAllText(rules, MonitoringBuilder.RuleFile(plan));
            // the simulator serves plain HTTP (a vLLM pod serves HTTPS with KServe's certificate)
            var jobs = new[] { PrometheusConfig.ScrapeJob(vllmPm, secrets, vllmTargets, schemeOverride: "http"), PrometheusConfig.ScrapeJob(eppPm, secrets, eppTargets) };
            var config = Path.Combine(_dir, "prometheus.yml");
            File.WriteAllText(config, PrometheusConfig.Render(jobs, [rules], plan.ScrapeInterval));
            var check = Run(PrometheusFactAttribute.Promtool!, "check", "config", config);
            Assert.True(check.Code == 0, check.Output + "\n" + File.ReadAllText(config));

            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            for (var n = 0; n < 6; n++)
            {
                var req = new StringContent($"{{\"model\":\"Qwen/Qwen2.5-3B-Instruct\",\"prompt\":\"Monitoring test prompt number {n} with enough words to fill a block or two of the cache\",\"max_tokens\":8}}", Encoding.UTF8, "application/json");
                (await http.PostAsync(sim.BaseUrl + "/v1/completions", req)).EnsureSuccessStatusCode();
            }

            var port = FreePort();
            var promUrl = $"http://127.0.0.1:{port}";
            var psi = new ProcessStartInfo(PrometheusFactAttribute.Prometheus!) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { "--config.file=" + config, "--storage.tsdb.path=" + Path.Combine(_dir, "data"), "--web.listen-address=127.0.0.1:" + port, "--log.level=warn" })
                psi.ArgumentList.Add(a);
            var log = new StringBuilder();
            _prometheus = Process.Start(psi)!;
            _prometheus.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
            _prometheus.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
            _prometheus.BeginOutputReadLine();
            _prometheus.BeginErrorReadLine();
            string Log() { lock (log) return log.ToString(); }

            await EventuallyAsync(async () =>
            {
                if (_prometheus.HasExited) throw new Xunit.Sdk.XunitException("prometheus exited: " + Log());
                var r = await http.GetAsync(promUrl + "/-/ready");
                return r.IsSuccessStatusCode ? "ready" : null;
            }, TimeSpan.FromMinutes(5), () => "Prometheus /-/ready: " + Log());

            // exactly the two replicas are vLLM targets (the decoys were dropped by the selector), and both are up
            var vllmUp = await EventuallyAsync(async () =>
            {
                var r = await QueryAsync(http, promUrl, $"up{{job=\"{MonitoringBuilder.VllmMonitorName(plan)}\"}} == 1");
                var res = r["data"]!["result"]!.AsArray();
                return res.Count == 2 ? res : null;
            }, TimeSpan.FromMinutes(5), () => "two vLLM targets up: " + Log());
            Assert.All(vllmUp, s =>
            {
                Assert.Equal("qwen", s!["metric"]!["llm_isvc_name"]!.ToString());
                Assert.Equal(plan.Namespace, s["metric"]!["namespace"]!.ToString());
                Assert.StartsWith("qwen-kserve-5d8f-", s["metric"]!["pod"]!.ToString());
            });
            var targets = JsonNode.Parse(await http.GetStringAsync(promUrl + "/api/v1/targets"))!["data"]!["activeTargets"]!.AsArray();
            Assert.Equal(3, targets.Count); // 2 vLLM + 1 EPP; the decoys are dropped targets

            // every vLLM and EPP panel of the dashboard returns series (Gateway panels need an Istio proxy)
            foreach (var q in MonitoringBuilder.DashboardQueries.Where(q => q.Section is "vLLM" or "EPP"))
            {
                var expr = MonitoringBuilder.Resolve(q, plan);
                await EventuallyAsync(async () =>
                {
                    var r = await QueryAsync(http, promUrl, expr);
                    Assert.Equal("success", r["status"]!.ToString());
                    return r["data"]!["result"]!.AsArray().Count > 0 ? r : null;
                }, TimeSpan.FromMinutes(5), () => $"dashboard panel '{q.Panel}' ({expr}) returned no series");
            }
            // the series carry what the rules filter on: the TTFT histogram has observations of this service
            var count = await QueryAsync(http, promUrl, "sum(vllm:time_to_first_token_seconds_count{namespace=\"rhaii-inference\",llm_isvc_name=\"qwen\"})");
            Assert.True(double.Parse(count["data"]!["result"]![0]!["value"]![1]!.ToString(), System.Globalization.CultureInfo.InvariantCulture) >= 6);

            // the rules loaded and evaluate without errors
            var ruleState = await EventuallyAsync(async () =>
            {
                var r = JsonNode.Parse(await http.GetStringAsync(promUrl + "/api/v1/rules"))!;
                var all = r["data"]!["groups"]!.AsArray().SelectMany(g => g!["rules"]!.AsArray()).ToList();
                return all.Count > 0 && all.All(x => x!["lastEvaluation"]?.ToString() is { } t && !t.StartsWith("0001", StringComparison.Ordinal)) ? all : null;
            }, TimeSpan.FromMinutes(5), () => "rules evaluated");
            Assert.Equal(MonitoringBuilder.Alerts(plan).Select(a => a.Alert).OrderBy(x => x), ruleState.Select(r => r!["name"]!.ToString()).OrderBy(x => x));
            Assert.All(ruleState, r => Assert.Equal("ok", r!["health"]!.ToString()));
        }
        finally
        {
            _ps.Run($"Stop-InferenceSimulator -Id ([guid]'{sim.Id}')");
        }
    }

    public void Dispose()
    {
        if (_prometheus is { HasExited: false })
        {
            try { _prometheus.Kill(true); _prometheus.WaitForExit(10000); } catch (InvalidOperationException) { }
        }
        _prometheus?.Dispose();
        _ps.Dispose();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }
}
