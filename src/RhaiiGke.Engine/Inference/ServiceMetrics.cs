using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Engine.Kube.Json;
using RhaiiGke.Engine.Serving;

namespace RhaiiGke.Engine.Inference;

/// <summary>
/// Scrapes every vLLM pod and the EPP of an LLMInferenceService through the Kubernetes API's pods proxy
/// subresource (<c>/api/v1/namespaces/{ns}/pods/{scheme}:{pod}:{port}/proxy/metrics</c>), so it works from
/// anywhere the cluster API is reachable, and summarizes each scrape per pod and for the service.
/// </summary>
public sealed partial class ServiceMetricsCollector
{
    private readonly KubeClient _client;
    private readonly LlmServiceManager _services;

    public ServiceMetricsCollector(ClusterConnection connection, IRhaiiLog? log = null)
    {
        _client = KubeClients.For(connection);
        _services = new LlmServiceManager(connection, log);
    }

    /// <summary>A pod to scrape: its role (vllm, epp) and the proxy path.</summary>
    public sealed record Target(string Pod, string Role, string Path);

    /// <summary>The raw result of one round: samples per pod, or the error of each pod that failed.</summary>
    public sealed record Scrape(string Namespace, string Name, DateTimeOffset At, IReadOnlyList<(Target Target, List<InferenceMetricSample>? Samples, string? Error)> Pods);

    [GeneratedRegex(@"--port(?:=|\s+)(\d+)")] private static partial Regex PortArg();
    [GeneratedRegex(@"--metrics-port(?:=|\s+)(\d+)")] private static partial Regex MetricsPortArg();

    /// <summary>The running pods of the service: vLLM on its API port (https when it serves TLS, as KServe's template does), the EPP on its metrics port.</summary>
    public async Task<List<Target>> TargetsAsync(string ns, string name, CancellationToken ct)
    {
        var svc = await _services.GetAsync(ns, name, ct).ConfigureAwait(false) ?? throw new RhaiiException("LlmInferenceServiceNotFound", RhaiiErrorCategory.ObjectNotFound,
            $"LLMInferenceService {ns}/{name} was not found.", "Get-LlmInferenceService lists the services; give -Namespace and -Name of one.", name);
        var pods = await _client.ListAsync($"api/v1/namespaces/{ns}/pods", $"app.kubernetes.io/name={svc.Name}", ct).ConfigureAwait(false);
        var list = new List<Target>();
        foreach (var p in (pods.Arr("items") ?? []).OfType<JsonObject>().OrderBy(p => p.Name(), StringComparer.Ordinal))
        {
            if (p.Str("metadata", "deletionTimestamp") is not null || p.Str("status", "phase") is "Succeeded" or "Failed") continue;
            var labels = p.Labels();
            var main = (p.Arr("spec", "containers") ?? []).OfType<JsonObject>().FirstOrDefault(c => c.Str("name") == "main")
                       ?? (p.Arr("spec", "containers") ?? []).OfType<JsonObject>().FirstOrDefault();
            var args = string.Join(' ', (main?.Arr("command") ?? []).Concat(main?.Arr("args") ?? []).Select(a => a?.ToString()));
            var podName = p.Name();
            if (labels.GetValueOrDefault("kserve.io/component") == "workload")
            {
                var port = PortArg().Match(args) is { Success: true } m ? m.Groups[1].Value : "8000";
                var scheme = args.Contains("--ssl-certfile", StringComparison.Ordinal) ? "https:" : "";
                list.Add(new Target(podName, "vllm", $"api/v1/namespaces/{ns}/pods/{scheme}{podName}:{port}/proxy/metrics"));
            }
            else if (labels.GetValueOrDefault("app.kubernetes.io/component") == "llminferenceservice-router-scheduler")
            {
                var port = MetricsPortArg().Match(args) is { Success: true } m ? m.Groups[1].Value : "9090";
                list.Add(new Target(podName, "epp", $"api/v1/namespaces/{ns}/pods/{podName}:{port}/proxy/metrics"));
            }
        }
        return list;
    }

    /// <summary>Scrapes each target once (in parallel); a pod that fails carries its error.</summary>
    public async Task<Scrape> ScrapeAsync(string ns, string name, IReadOnlyList<Target> targets, CancellationToken ct)
    {
        var at = DateTimeOffset.Now;
        var tasks = targets.Select(async t =>
        {
            try
            {
                var (_, body, _) = await _client.SendRawAsync(HttpMethod.Get, t.Path, null, null, ct).ConfigureAwait(false);
                return (t, (List<InferenceMetricSample>?)PrometheusText.Parse(body, t.Pod, DateTimeOffset.Now), (string?)null);
            }
            catch (KubeApiException e)
            {
                return (t, (List<InferenceMetricSample>?)null, (string?)Explain(t, e));
            }
            catch (RhaiiException e) when (e.ErrorId == "InvalidPrometheusText")
            {
                return (t, (List<InferenceMetricSample>?)null, (string?)e.Message);
            }
        }).ToList();
        var results = await Task.WhenAll(tasks).ConfigureAwait(false);
        return new Scrape(ns, name, at, results);
    }

    private static string Explain(Target t, KubeApiException e)
    {
        if (t.Role == "epp" && e.Code == 401)
            return "HTTP 401 Unauthorized: the EPP authenticates /metrics (--metrics-endpoint-auth, on by default) and the API server proxy does not pass your credentials on. " +
                   "Add --metrics-endpoint-auth=false to the scheduler's args, or scrape it with a ServiceAccount token allowed to get /metrics.";
        return $"HTTP {e.Code} {e.Reason}: {e.Message}";
    }

    /// <summary>The summary of <paramref name="current"/>, over the window since <paramref name="previous"/> when given.</summary>
    public static InferenceServiceMetrics Summarize(Scrape current, Scrape? previous, int sample)
    {
        var podRows = new List<InferencePodMetrics>();
        InferencePodMetrics? scheduler = null;
        var window = previous is null ? (TimeSpan?)null : current.At - previous.At;
        var vllmSamples = new List<InferenceMetricSample>();
        foreach (var (target, samples, error) in current.Pods)
        {
            InferencePodMetrics row;
            if (samples is null) row = new InferencePodMetrics { Pod = target.Pod, Role = target.Role, Error = error };
            else
            {
                var before = previous?.Pods.FirstOrDefault(p => p.Target.Pod == target.Pod).Samples;
                var s = before is null ? samples : PrometheusText.Delta(samples, before);
                row = target.Role == "epp" ? Epp(target.Pod, s, before is not null) : Vllm(target.Pod, s, before is not null, window);
                if (target.Role == "vllm") vllmSamples.AddRange(s);
            }
            if (target.Role == "epp") scheduler ??= row;
            else podRows.Add(row);
        }
        var ok = podRows.Where(r => r.Error is null).ToList();
        var windowed = previous is not null;
        return new InferenceServiceMetrics
        {
            Namespace = current.Namespace, Name = current.Name, Sample = sample, Timestamp = current.At, Window = window,
            PodCount = podRows.Count, PodsScraped = ok.Count,
            Running = ok.Count == 0 ? null : ok.Sum(r => r.Running ?? 0),
            Waiting = ok.Count == 0 ? null : ok.Sum(r => r.Waiting ?? 0),
            KvCacheUsage = ok.Where(r => r.KvCacheUsage is not null).Select(r => r.KvCacheUsage!.Value).DefaultIfEmpty(double.NaN).Average() is var kv && double.IsNaN(kv) ? null : kv,
            PrefixCacheHitRate = Ratio(vllmSamples, "vllm:prefix_cache_hits_total", "vllm:prefix_cache_queries_total", windowed),
            TtftP50 = Quantile(vllmSamples, 0.50, windowed, TtftFamilies), TtftP90 = Quantile(vllmSamples, 0.90, windowed, TtftFamilies), TtftP99 = Quantile(vllmSamples, 0.99, windowed, TtftFamilies),
            ItlP50 = Quantile(vllmSamples, 0.50, windowed, ItlFamilies), ItlP90 = Quantile(vllmSamples, 0.90, windowed, ItlFamilies), ItlP99 = Quantile(vllmSamples, 0.99, windowed, ItlFamilies),
            E2eP50 = Quantile(vllmSamples, 0.50, windowed, E2eFamilies), E2eP90 = Quantile(vllmSamples, 0.90, windowed, E2eFamilies), E2eP99 = Quantile(vllmSamples, 0.99, windowed, E2eFamilies),
            Requests = ok.Count == 0 ? null : ok.Sum(r => r.Requests ?? 0),
            PromptTokensPerSecond = windowed && ok.Count > 0 ? ok.Sum(r => r.PromptTokensPerSecond ?? 0) : null,
            GenerationTokensPerSecond = windowed && ok.Count > 0 ? ok.Sum(r => r.GenerationTokensPerSecond ?? 0) : null,
            Pods = podRows.ToArray(),
            Scheduler = scheduler,
        };
    }

    private static readonly string[] TtftFamilies = ["vllm:time_to_first_token_seconds"];
    private static readonly string[] ItlFamilies = ["vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"];
    private static readonly string[] E2eFamilies = ["vllm:e2e_request_latency_seconds"];

    private static InferencePodMetrics Vllm(string pod, List<InferenceMetricSample> s, bool windowed, TimeSpan? window)
    {
        double? Gauge(params string[] names) => s.Any(x => names.Contains(x.Name)) ? s.Where(x => names.Contains(x.Name)).Sum(x => x.Value) : null;
        double? PerSecond(string name)
        {
            if (!windowed || window is not { TotalSeconds: > 0 } w) return null;
            return s.Where(x => x.Name == name).Sum(x => x.Delta ?? 0) / w.TotalSeconds;
        }
        return new InferencePodMetrics
        {
            Pod = pod, Role = "vllm",
            Running = Gauge("vllm:num_requests_running"),
            Waiting = Gauge("vllm:num_requests_waiting"),
            KvCacheUsage = s.Where(x => x.Name is "vllm:kv_cache_usage_perc" or "vllm:gpu_cache_usage_perc").Select(x => (double?)x.Value).FirstOrDefault(),
            PrefixCacheHitRate = Ratio(s, "vllm:prefix_cache_hits_total", "vllm:prefix_cache_queries_total", windowed),
            TtftP50 = Quantile(s, 0.50, windowed, TtftFamilies), TtftP90 = Quantile(s, 0.90, windowed, TtftFamilies), TtftP99 = Quantile(s, 0.99, windowed, TtftFamilies),
            ItlP50 = Quantile(s, 0.50, windowed, ItlFamilies), ItlP90 = Quantile(s, 0.90, windowed, ItlFamilies), ItlP99 = Quantile(s, 0.99, windowed, ItlFamilies),
            E2eP50 = Quantile(s, 0.50, windowed, E2eFamilies), E2eP90 = Quantile(s, 0.90, windowed, E2eFamilies), E2eP99 = Quantile(s, 0.99, windowed, E2eFamilies),
            Requests = s.Where(x => x.Name == "vllm:request_success_total").Sum(x => windowed ? x.Delta ?? 0 : x.Value),
            PromptTokensPerSecond = PerSecond("vllm:prompt_tokens_total"),
            GenerationTokensPerSecond = PerSecond("vllm:generation_tokens_total"),
            Samples = s.ToArray(),
        };
    }

    private static InferencePodMetrics Epp(string pod, List<InferenceMetricSample> s, bool windowed)
    {
        double? First(string name) => s.Where(x => x.Name == name).Select(x => (double?)x.Value).FirstOrDefault();
        var ready = First("inference_pool_ready_pods");
        var perPod = s.Where(x => x.Name == "inference_pool_per_pod_queue_size").ToList();
        return new InferencePodMetrics
        {
            Pod = pod, Role = "epp",
            Waiting = perPod.Count > 0 ? perPod.Sum(x => x.Value) : null,
            KvCacheUsage = First("inference_pool_average_kv_cache_utilization"),
            ReadyPods = ready is null ? null : (int)ready.Value,
            Requests = s.Any(x => x.Name is "inference_model_request_total" or "inference_objective_request_total")
                ? s.Where(x => x.Name is "inference_model_request_total" or "inference_objective_request_total").Sum(x => windowed ? x.Delta ?? 0 : x.Value) : null,
            Samples = s.ToArray(),
        };
    }

    private static double? Ratio(IEnumerable<InferenceMetricSample> s, string num, string den, bool windowed)
    {
        double n = 0, d = 0;
        foreach (var x in s)
        {
            var v = windowed ? x.Delta ?? 0 : x.Value;
            if (x.Name == num) n += v;
            else if (x.Name == den) d += v;
        }
        return d > 0 ? n / d : null;
    }

    /// <summary>
    /// Prometheus's histogram_quantile over the buckets of the first family present (summed over pods, by le):
    /// the window's bucket deltas when <paramref name="windowed"/>, else the totals. Null without observations.
    /// </summary>
    public static double? Quantile(IEnumerable<InferenceMetricSample> samples, double q, bool windowed, IReadOnlyList<string> families)
    {
        var all = samples as IReadOnlyCollection<InferenceMetricSample> ?? samples.ToList();
        foreach (var family in families)
        {
            var buckets = new SortedDictionary<double, double>();
            foreach (var x in all)
            {
                if (x.Name != family + "_bucket" || !x.Labels.TryGetValue("le", out var le)) continue;
                var bound = le is "+Inf" or "Inf" ? double.PositiveInfinity : double.Parse(le, NumberStyles.Float, CultureInfo.InvariantCulture);
                buckets[bound] = buckets.GetValueOrDefault(bound) + (windowed ? x.Delta ?? 0 : x.Value);
            }
            if (buckets.Count == 0) continue;
            return HistogramQuantile(q, buckets.Select(kv => (kv.Key, kv.Value)).ToList());
        }
        return null;
    }

    /// <summary>histogram_quantile on cumulative buckets sorted by upper bound (the last one +Inf).</summary>
    public static double? HistogramQuantile(double q, IReadOnlyList<(double Le, double Count)> buckets)
    {
        if (buckets.Count == 0 || !double.IsPositiveInfinity(buckets[^1].Le)) return null;
        var total = buckets[^1].Count;
        if (total <= 0) return null;
        var rank = q * total;
        double prevBound = 0, prevCount = 0;
        for (var i = 0; i < buckets.Count; i++)
        {
            var (le, count) = buckets[i];
            if (count >= rank)
            {
                if (double.IsPositiveInfinity(le)) return i == 0 ? null : buckets[i - 1].Le;
                if (i == 0 && le <= 0) return le;
                var width = count - prevCount;
                return width <= 0 ? le : prevBound + (le - prevBound) * (rank - prevCount) / width;
            }
            prevBound = le;
            prevCount = count;
        }
        return buckets[^2].Le;
    }
}
