using System.Diagnostics;

namespace RhaiiGke.Engine.Inference;

/// <summary>Settings of Test-InferenceCacheRouting.</summary>
public sealed class CacheRoutingOptions
{
    /// <summary>The gateway (EPP-routed) URL.</summary>
    public string BaseUrl { get; set; } = "";
    /// <summary>Each pod's own URL, for the round-robin comparison and per-pod counters; empty = gateway only.</summary>
    public string[] PodUrls { get; set; } = [];
    /// <summary>Metrics URLs of the pods when they differ from <see cref="PodUrls"/>; empty = PodUrls, else the gateway's /metrics.</summary>
    public string[] MetricsUrls { get; set; } = [];
    public string? Model { get; set; }
    /// <summary>Send X-Gateway-Model-Name: &lt;Model&gt; on every request (a model-routed URL, New-InferenceModelRoute), so the bodiless /metrics scrape reaches the model's pods too.</summary>
    public bool ModelHeader { get; set; }
    public System.Security.SecureString? ApiKey { get; set; }
    public int Groups { get; set; } = 4;
    public int RequestsPerGroup { get; set; } = 8;
    /// <summary>Words per shared prefix; 1,024 words are about 6,000 characters, about 90 of the EPP's 64-character blocks.</summary>
    public int PrefixTokens { get; set; } = 1024;
    public int SuffixTokens { get; set; } = 32;
    public int OutputTokens { get; set; } = 4;
    /// <summary>Minimum warm cached-token ratio through the gateway for the test to pass.</summary>
    public double Threshold { get; set; } = 0.5;
    /// <summary>Seed of the prefixes; null = a fresh random seed, so no earlier run has warmed the cache.</summary>
    public int? Seed { get; set; }
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(2);
    public bool SkipCertificateCheck { get; set; }
    /// <summary>Send the API key over plain http to non-loopback hosts.</summary>
    public bool AllowUnencryptedAuthentication { get; set; }
}

/// <summary>
/// Proves prefix-aware routing with evidence, not latency alone: groups of long shared prefixes are sent
/// cold then warm through the gateway, and (when pod URLs are known) round-robin over the pods with
/// fresh prefixes; each phase reports cached_tokens from usage, Δprefix_cache_hits/Δqueries from the
/// pods' metrics, and how often a group stayed on one pod (x-inference-pod).
/// </summary>
public static class CacheRoutingTester
{
    private sealed record Sent(int Group, string? Pod, int Prompt, int Cached, double TtftMs, double LatencyMs, bool Ok);

    public static async Task<TestInferenceCacheRoutingResult> TestAsync(CacheRoutingOptions o, IRhaiiLog? log = null, CancellationToken ct = default)
    {
        log ??= NullRhaiiLog.Instance;
        if (o.Groups < 1 || o.RequestsPerGroup < 2)
            throw new RhaiiException("InvalidCacheRoutingOptions", RhaiiErrorCategory.InvalidArgument, "Cache routing needs at least one group of two requests.",
                "Use -Groups 4 -RequestsPerGroup 8.");
        foreach (var u in (o.PodUrls ?? []).Prepend(o.BaseUrl).Concat((o.MetricsUrls ?? []).Where(string.IsNullOrWhiteSpace)))
            if (string.IsNullOrWhiteSpace(u) || !Uri.TryCreate(u, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("http" or "https"))
                throw new RhaiiException("InvalidInferenceUrl", RhaiiErrorCategory.InvalidArgument,
                    $"'{u}' is not an http(s) URL{(string.IsNullOrWhiteSpace(u) ? " (it is empty)" : "")}.",
                    "Pass the gateway URL to -BaseUrl and the pods' URLs (http://POD-IP:8000) to -PodUrl, or leave -PodUrl out.", u);
        o.PodUrls ??= [];
        o.MetricsUrls ??= [];
        IReadOnlyList<(string Name, string Value)> routed = o.ModelHeader && !string.IsNullOrWhiteSpace(o.Model) ? [(Manifests.MultiModelBuilder.ModelHeader, o.Model!)] : [];
        var gateway = new HttpTarget(o.BaseUrl) { ApiKey = o.ApiKey, SkipCertificateCheck = o.SkipCertificateCheck, AllowUnencryptedAuthentication = o.AllowUnencryptedAuthentication, Headers = routed }.EnsureCredentialsProtected();
        var pods = o.PodUrls.Select(u => new HttpTarget(u) { ApiKey = o.ApiKey, SkipCertificateCheck = o.SkipCertificateCheck, AllowUnencryptedAuthentication = o.AllowUnencryptedAuthentication }.EnsureCredentialsProtected()).ToArray();
        foreach (var mu in o.MetricsUrls.Where(m => Uri.TryCreate(m, UriKind.Absolute, out var mUri) && mUri.Scheme is "http" or "https")) new HttpTarget(mu) { ApiKey = o.ApiKey, AllowUnencryptedAuthentication = o.AllowUnencryptedAuthentication }.EnsureCredentialsProtected();
        var model = string.IsNullOrWhiteSpace(o.Model) ? await InferenceHttp.DiscoverModelAsync(gateway, ct).ConfigureAwait(false) : o.Model!;
        var metricsUrls = o.MetricsUrls.Length > 0 ? o.MetricsUrls : pods.Select(p => p.BaseUrl + "/metrics").ToArray();
        var warnings = new List<string>();
        var seed = o.Seed ?? Random.Shared.Next();
        var prefixChars = 0;

        List<BenchPrompt> Prompts(int seedOffset)
        {
            var rng = new Random(seed + seedOffset);
            var prefixes = Enumerable.Range(0, o.Groups).Select(_ => InferenceText.Words(rng, o.PrefixTokens)).ToArray();
            prefixChars = prefixes.Min(p => p.Length);
            // Cold: the first request of every group; warm: the rest, shuffled so that no fixed order lines groups up with pods.
            var list = new List<BenchPrompt>();
            for (var k = 0; k < o.RequestsPerGroup; k++)
                for (var g = 0; g < o.Groups; g++)
                    list.Add(new BenchPrompt { Text = prefixes[g] + " " + InferenceText.Words(rng, o.SuffixTokens), OutputTokens = o.OutputTokens, Group = g });
            for (var i = list.Count - 1; i > o.Groups; i--)
            {
                var j = o.Groups + rng.Next(i - o.Groups + 1);
                (list[i], list[j]) = (list[j], list[i]);
            }
            return list;
        }

        var phases = new List<InferenceCacheRoutingPhase>();
        async Task RunPair(string route, Func<int, HttpTarget> targetOf, List<BenchPrompt> prompts)
        {
            var cold = prompts.Take(o.Groups).ToList();
            var warm = prompts.Skip(o.Groups).ToList();
            var i = 0;
            foreach (var (name, set) in new[] { ($"{route}-cold", cold), ($"{route}-warm", warm) })
            {
                var before = await ScrapeAsync(metricsUrls, gateway, o, warnings, ct).ConfigureAwait(false);
                var sent = new List<Sent>();
                foreach (var p in set)
                {
                    sent.Add(await SendAsync(targetOf(i++), model, p, o.Timeout, ct).ConfigureAwait(false));
                    log.Progress("Test-InferenceCacheRouting", $"{name}: {sent.Count}/{set.Count}", -1);
                }
                var after = await ScrapeAsync(metricsUrls, gateway, o, warnings, ct).ConfigureAwait(false);
                phases.Add(Summarize(name, route, sent, before, after));
            }
        }

        await RunPair("gateway", _ => gateway, Prompts(0)).ConfigureAwait(false);
        if (pods.Length > 0) await RunPair("round-robin", i => pods[i % pods.Length], Prompts(7919)).ConfigureAwait(false);
        else warnings.Add("No pod URLs: the gateway was not compared with round-robin. Pass -PodUrl (pod IPs or port-forwards) for that comparison.");

        var gw = phases.Single(p => p.Name == "gateway-warm");
        var rr = phases.SingleOrDefault(p => p.Name == "round-robin-warm");
        var gwCold = phases.Single(p => p.Name == "gateway-cold");
        var evidence = new List<string>
        {
            $"Through the gateway, warm requests reused {gw.CachedTokenRatio:P1} of their prompt tokens (usage cached_tokens), cold ones {gwCold.CachedTokenRatio:P1}.",
        };
        if (gw.CounterHitRate is { } hr) evidence.Add($"The pods' prefix-cache counters agree: Δhits/Δqueries = {hr:P1} during the warm phase.");
        if (gw.GroupAffinity is { } aff) evidence.Add($"{aff:P0} of prefix groups stayed on a single pod (x-inference-pod).");
        if (rr is not null)
        {
            evidence.Add($"Round-robin over {pods.Length} pods reused {rr.CachedTokenRatio:P1}{(rr.CounterHitRate is { } rrh ? $" (counters {rrh:P1})" : "")}.");
            evidence.Add($"Median TTFT warm: gateway {gw.MedianTtftMs:0.#} ms, round-robin {rr.MedianTtftMs:0.#} ms.");
        }
        if (gwCold.CachedTokenRatio > 0.2) warnings.Add($"Cold requests already hit the cache ({gwCold.CachedTokenRatio:P0}): the prefixes were not new to the server; use a fresh -Seed.");
        if (phases.Any(p => p.Failed > 0)) warnings.Add($"{phases.Sum(p => p.Failed)} request(s) failed.");
        var passed = gw.Failed == 0 && gw.CachedTokenRatio >= o.Threshold && (rr is null || gw.CachedTokenRatio > rr.CachedTokenRatio);
        return new TestInferenceCacheRoutingResult
        {
            BaseUrl = gateway.BaseUrl,
            Model = model,
            Groups = o.Groups,
            RequestsPerGroup = o.RequestsPerGroup,
            PrefixCharacters = prefixChars,
            Phases = [.. phases],
            GatewayWarmHitRate = gw.CachedTokenRatio,
            RoundRobinWarmHitRate = rr?.CachedTokenRatio,
            Passed = passed,
            Evidence = [.. evidence],
            Warnings = [.. warnings],
        };
    }

    private static async Task<List<InferenceMetricSample>?> ScrapeAsync(string[] urls, HttpTarget gateway, CacheRoutingOptions o, List<string> warnings, CancellationToken ct)
    {
        var all = new List<InferenceMetricSample>();
        var list = urls.Length > 0 ? urls : [gateway.BaseUrl + "/metrics"];
        foreach (var u in list)
        {
            // through the gateway on a model-routed URL the scrape needs the model header (GET has no body to route by)
            var headers = urls.Length > 0 ? null : gateway.Headers;
            try { all.AddRange(await MetricsScraper.ScrapeAsync(u, TimeSpan.FromSeconds(15), ct, o.ApiKey, o.SkipCertificateCheck, o.AllowUnencryptedAuthentication, headers).ConfigureAwait(false)); }
            catch (RhaiiException e) when (e.ErrorId is not ("InferenceUnauthorized" or "InferenceForbidden"))
            {
                var w = urls.Length > 0 ? $"Could not scrape {u}; counter evidence is incomplete." : "The gateway does not serve /metrics: pass -PodUrl or -MetricsUrl for counter evidence.";
                if (!warnings.Contains(w)) warnings.Add(w);
                return null;
            }
        }
        return all;
    }

    private static InferenceCacheRoutingPhase Summarize(string name, string route, List<Sent> sent, List<InferenceMetricSample>? before, List<InferenceMetricSample>? after)
    {
        var ok = sent.Where(s => s.Ok).ToList();
        long prompt = ok.Sum(s => (long)s.Prompt), cached = ok.Sum(s => (long)s.Cached);
        double? counter = null;
        var podHits = new Dictionary<string, double>();
        if (before is not null && after is not null)
        {
            var d = PrometheusText.Delta(after, before);
            var hits = d.Where(s => s.Name is "vllm:prefix_cache_hits_total" or "vllm:prefix_cache_hits").ToList();
            var queries = d.Where(s => s.Name is "vllm:prefix_cache_queries_total" or "vllm:prefix_cache_queries").Sum(s => s.Delta ?? 0);
            if (queries > 0) counter = hits.Sum(s => s.Delta ?? 0) / queries;
            foreach (var h in hits)
            {
                var pod = h.Labels.TryGetValue("pod", out var p) ? p : h.Endpoint;
                podHits[pod] = podHits.GetValueOrDefault(pod) + (h.Delta ?? 0);
            }
        }
        double? affinity = null;
        var withPod = ok.Where(s => s.Pod is not null).ToList();
        if (withPod.Count == ok.Count && ok.Count > 0)
        {
            var groups = withPod.GroupBy(s => s.Group).ToList();
            affinity = (double)groups.Count(g => g.Select(s => s.Pod).Distinct().Count() == 1) / groups.Count;
        }
        static double Median(IEnumerable<double> v)
        {
            var a = v.Where(x => !double.IsNaN(x)).OrderBy(x => x).ToArray();
            return a.Length == 0 ? 0 : BenchmarkMath.PercentileSorted(a, 50);
        }
        return new InferenceCacheRoutingPhase
        {
            Name = name,
            Route = route,
            Requests = sent.Count,
            Failed = sent.Count - ok.Count,
            PromptTokens = prompt,
            CachedTokens = cached,
            CachedTokenRatio = prompt == 0 ? 0 : (double)cached / prompt,
            CounterHitRate = counter,
            GroupAffinity = name.EndsWith("-warm", StringComparison.Ordinal) ? affinity : null,
            MedianTtftMs = Median(ok.Select(s => s.TtftMs)),
            MedianLatencyMs = Median(ok.Select(s => s.LatencyMs)),
            Pods = ok.Where(s => s.Pod is not null).GroupBy(s => s.Pod!).ToDictionary(g => g.Key, g => g.Count()),
            PodHitDeltas = podHits,
        };
    }

    private static async Task<Sent> SendAsync(HttpTarget target, string model, BenchPrompt p, TimeSpan timeout, CancellationToken ct)
    {
        var obs = new CompletionObserver();
        using var conn = new RawHttpConnection(target);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        var req = target.BuildRequest("POST", OpenAiRequests.Path(InferenceApi.Chat), OpenAiRequests.Body(InferenceApi.Chat, model, p, stream: true, ignoreEos: true), true);
        var t0 = Stopwatch.GetTimestamp();
        try { await conn.SendAsync(req, obs, cts.Token).ConfigureAwait(false); }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested) { return new Sent(p.Group, null, 0, 0, double.NaN, 0, false); }
        catch (RawHttpException) { return new Sent(p.Group, null, 0, 0, double.NaN, 0, false); }
        if (InferenceHttp.AuthFailure(obs.Status, target.BaseUrl, $"POST {target.BaseUrl}/v1/chat/completions", target.HasApiKey) is { } auth) throw auth;
        var ok = obs.Status == 200 && obs.Error is null && obs.ChoiceChunks > 0;
        double Ms(long ts) => ts > 0 ? (ts - t0) * 1000.0 / Stopwatch.Frequency : double.NaN;
        return new Sent(p.Group, obs.Pod, obs.PromptTokens ?? InferenceText.CountTokens(p.Text), obs.CachedTokens ?? 0, Ms(obs.FirstContentAt), Ms(obs.LastChoiceAt), ok);
    }
}
