using System.Diagnostics;
using System.Text.Json;

namespace RhaiiGke.Engine.Inference;

/// <summary>What <see cref="EndpointTester"/> checks and how patiently.</summary>
public sealed class EndpointTestOptions
{
    public string BaseUrl { get; set; } = "";
    public string? Model { get; set; }
    public System.Security.SecureString? ApiKey { get; set; }
    /// <summary>Where to scrape vLLM metrics when the base URL (a gateway) does not serve /metrics.</summary>
    public string? MetricsUrl { get; set; }
    /// <summary>How long the first completion may take (XLA compilation on TPU).</summary>
    public TimeSpan WarmupTimeout { get; set; } = TimeSpan.FromMinutes(5);
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(60);
    public int MaxTokens { get; set; } = 8;
    public bool SkipCertificateCheck { get; set; }
    /// <summary>Send the API key over plain http to a non-loopback host.</summary>
    public bool AllowUnencryptedAuthentication { get; set; }
    /// <summary>Send X-Gateway-Model-Name: &lt;Model&gt; on every request (a model-routed URL, New-InferenceModelRoute), so bodiless GETs reach the model too.</summary>
    public bool ModelHeader { get; set; }
}

/// <summary>Runs Test-InferenceEndpoint's checks: health, models, completion, chat, streaming framing and usage, finish_reason, metrics, pod identity, cached tokens.</summary>
public static class EndpointTester
{
    public static readonly string[] RequiredGauges = ["vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc"];

    public static async Task<TestInferenceEndpointResult> TestAsync(EndpointTestOptions o, IRhaiiLog? log = null, CancellationToken ct = default)
    {
        log ??= NullRhaiiLog.Instance;
        var target = new HttpTarget(o.BaseUrl)
        {
            ApiKey = o.ApiKey, SkipCertificateCheck = o.SkipCertificateCheck, AllowUnencryptedAuthentication = o.AllowUnencryptedAuthentication,
            Headers = o.ModelHeader && o.Model is { Length: > 0 } routed ? [(Manifests.MultiModelBuilder.ModelHeader, routed)] : [],
        }.EnsureCredentialsProtected();
        if (o.MetricsUrl is { Length: > 0 } mu && Uri.TryCreate(mu, UriKind.Absolute, out var mUri) && mUri.Scheme is "http" or "https")
            new HttpTarget(mu) { ApiKey = o.ApiKey, AllowUnencryptedAuthentication = o.AllowUnencryptedAuthentication }.EnsureCredentialsProtected();
        var checks = new List<InferenceEndpointCheck>();
        var pods = new SortedSet<string>(StringComparer.Ordinal);
        var sw = Stopwatch.StartNew();
        void Add(string name, InferenceCheckStatus status, string detail, double ms = 0, int code = 0)
        {
            detail = target.Redact(detail) ?? "";
            checks.Add(new InferenceEndpointCheck { Name = name, Status = status, Detail = detail, DurationMs = ms, StatusCode = code });
            log.Verbose($"{name}: {status} {detail}");
        }

        // Health
        var reachable = true;
        try
        {
            var h = await InferenceHttp.GetAsync(target, "/health", o.Timeout, ct).ConfigureAwait(false);
            if (h.Pod is not null) pods.Add(h.Pod);
            if (h.Status == 200) Add("Health", InferenceCheckStatus.Passed, "GET /health answered 200.", h.Ms, h.Status);
            else if (h.Status == 404) Add("Health", InferenceCheckStatus.Warning, "GET /health is not routed here (404); gateways often do not expose it.", h.Ms, h.Status);
            else if (InferenceHttp.AuthFailure(h.Status, target.BaseUrl, "GET /health", target.HasApiKey) is { } auth)
                Add("Health", InferenceCheckStatus.Failed, $"{auth.Message} {auth.RecommendedAction}", h.Ms, h.Status);
            else Add("Health", InferenceCheckStatus.Failed, $"GET /health answered {h.Status}: the server is not ready.", h.Ms, h.Status);
        }
        catch (RawHttpException ex)
        {
            reachable = false;
            Add("Health", InferenceCheckStatus.Failed, $"Cannot reach {target.BaseUrl}: {ex.Message}");
        }

        // Models
        var model = o.Model;
        if (reachable)
        {
            try
            {
                var m = await InferenceHttp.GetAsync(target, "/v1/models", o.Timeout, ct).ConfigureAwait(false);
                if (m.Pod is not null) pods.Add(m.Pod);
                var ids = new List<string>();
                if (m.Status == 200)
                {
                    try
                    {
                        using var doc = JsonDocument.Parse(m.Body);
                        if (doc.RootElement.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array)
                            foreach (var d in data.EnumerateArray())
                                if (d.TryGetProperty("id", out var id) && id.GetString() is { } s) ids.Add(s);
                    }
                    catch (JsonException) { }
                }
                if (InferenceHttp.AuthFailure(m.Status, target.BaseUrl, "GET /v1/models", target.HasApiKey) is { } auth)
                    Add("Models", InferenceCheckStatus.Failed, $"{auth.Message} {auth.RecommendedAction}", m.Ms, m.Status);
                else if (m.Status != 200) Add("Models", InferenceCheckStatus.Failed, $"GET /v1/models answered {m.Status}.", m.Ms, m.Status);
                else if (ids.Count == 0) Add("Models", InferenceCheckStatus.Failed, "GET /v1/models listed no model.", m.Ms, m.Status);
                else if (model is not null && !ids.Contains(model))
                    Add("Models", InferenceCheckStatus.Failed, $"The server serves {string.Join(", ", ids)}, not '{model}'.", m.Ms, m.Status);
                else
                {
                    model ??= ids[0];
                    Add("Models", InferenceCheckStatus.Passed, $"Serves {string.Join(", ", ids)}.", m.Ms, m.Status);
                }
            }
            catch (RawHttpException ex) { Add("Models", InferenceCheckStatus.Failed, ex.Message); }
        }
        else Add("Models", InferenceCheckStatus.Skipped, "The endpoint is unreachable.");

        double firstMs = 0;
        string? streamFinish = null, blockFinish = null;
        if (reachable && model is not null)
        {
            // Completion: the first request, which may compile (XLA) and so gets the warm-up timeout.
            var prompt = new BenchPrompt { Text = "Count from one to ten in words: one, two, three", OutputTokens = o.MaxTokens };
            var (c, cMs, cErr) = await SendAsync(target, InferenceApi.Completions, model, prompt, false, o.WarmupTimeout, ct).ConfigureAwait(false);
            firstMs = cMs;
            if (c.Pod is not null) pods.Add(c.Pod);
            if (cErr is not null) Add("Completion", InferenceCheckStatus.Failed, cErr + (cErr.Contains("within") ? " Raise -WarmupTimeout if the server compiles on its first request." : ""), cMs);
            else if (c.Status is 404 or 405) Add("Completion", InferenceCheckStatus.Warning, $"POST /v1/completions answered {c.Status}: only chat is served.", cMs, c.Status);
            else if (c.Status != 200) Add("Completion", InferenceCheckStatus.Failed, $"POST /v1/completions answered {c.Status}: {c.Error}", cMs, c.Status);
            else if (c.ContentChunks == 0) Add("Completion", InferenceCheckStatus.Failed, "The completion has no text.", cMs, c.Status);
            else Add("Completion", c.CompletionTokens is null ? InferenceCheckStatus.Warning : InferenceCheckStatus.Passed,
                $"{c.CompletionTokens?.ToString() ?? "?"} tokens{(c.CompletionTokens is null ? " (no usage)" : "")}, finish_reason {c.FinishReason ?? "missing"}, first request {cMs:0} ms.", cMs, c.Status);

            // Chat, not streaming
            var (chat, chMs, chErr) = await SendAsync(target, InferenceApi.Chat, model, prompt, false, firstMs == 0 ? o.WarmupTimeout : o.Timeout, ct).ConfigureAwait(false);
            if (chat.Pod is not null) pods.Add(chat.Pod);
            blockFinish = chat.FinishReason;
            if (chErr is not null) Add("ChatCompletion", InferenceCheckStatus.Failed, chErr, chMs);
            else if (chat.Status != 200) Add("ChatCompletion", InferenceCheckStatus.Failed, $"POST /v1/chat/completions answered {chat.Status}: {chat.Error}", chMs, chat.Status);
            else if (chat.ContentChunks == 0) Add("ChatCompletion", InferenceCheckStatus.Failed, "The chat answer has no message content.", chMs, chat.Status);
            else if (chat.CompletionTokens is null) Add("ChatCompletion", InferenceCheckStatus.Failed, "The chat answer has no usage object.", chMs, chat.Status);
            else Add("ChatCompletion", InferenceCheckStatus.Passed, $"{chat.CompletionTokens} tokens: \"{Trim(chat.Text.ToString())}\"", chMs, chat.Status);

            // Chat, streaming with include_usage
            var (st, stMs, stErr) = await SendAsync(target, InferenceApi.Chat, model, prompt, true, o.Timeout, ct).ConfigureAwait(false);
            if (st.Pod is not null) pods.Add(st.Pod);
            streamFinish = st.FinishReason;
            if (stErr is not null || st.Status != 200)
            {
                Add("StreamingFraming", InferenceCheckStatus.Failed, stErr ?? $"Streaming chat answered {st.Status}: {st.Error}", stMs, st.Status);
                Add("StreamingUsage", InferenceCheckStatus.Skipped, "No stream to check.");
            }
            else
            {
                var problems = new List<string>();
                if (st.ContentType?.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase) != true) problems.Add($"Content-Type is '{st.ContentType}', not text/event-stream");
                if (st.Error is not null) problems.Add("error frame: " + st.Error);
                if (!st.Done) problems.Add("no data: [DONE] at the end");
                if (st.ContentChunks == 0) problems.Add("no content chunk");
                var ttft = st.FirstContentAt > 0 ? (st.FirstContentAt - st.HeadAt) / (double)Stopwatch.Frequency * 1000 : 0;
                Add("StreamingFraming", problems.Count == 0 ? InferenceCheckStatus.Passed : InferenceCheckStatus.Failed,
                    problems.Count == 0 ? $"{st.Events} SSE events, {st.ContentChunks} with content, ends with [DONE]." : string.Join("; ", problems), stMs, st.Status);
                if (st.UsageChunks == 0 || st.CompletionTokens is null)
                    Add("StreamingUsage", InferenceCheckStatus.Failed, "No usage chunk although stream_options.include_usage was sent: benchmarks must then guess output tokens.", stMs, st.Status);
                else Add("StreamingUsage", InferenceCheckStatus.Passed, $"Final usage chunk: {st.PromptTokens} prompt, {st.CompletionTokens} completion tokens.", stMs, st.Status);
                _ = ttft;
            }

            // finish_reason
            if (blockFinish is null && streamFinish is null) Add("FinishReason", InferenceCheckStatus.Failed, "No finish_reason in either answer.");
            else if (blockFinish is null || streamFinish is null) Add("FinishReason", InferenceCheckStatus.Warning, $"finish_reason only in the {(blockFinish is null ? "streamed" : "non-streamed")} answer.");
            else Add("FinishReason", blockFinish is "length" or "stop" && streamFinish is "length" or "stop" ? InferenceCheckStatus.Passed : InferenceCheckStatus.Warning,
                $"Non-streamed '{blockFinish}', streamed '{streamFinish}' (max_tokens {o.MaxTokens}).");

            // Cached tokens: one long prompt twice.
            var longPrompt = new BenchPrompt
            {
                Text = "You are a careful assistant for platform teams. " + string.Join(' ', Enumerable.Range(0, 120).Select(i => InferenceText.Vocabulary[i % InferenceText.Vocabulary.Length])) + " Summarize.",
                OutputTokens = 2,
            };
            var (c1, _, e1) = await SendAsync(target, InferenceApi.Chat, model, longPrompt, false, o.Timeout, ct).ConfigureAwait(false);
            var (c2, _, e2) = await SendAsync(target, InferenceApi.Chat, model, longPrompt, false, o.Timeout, ct).ConfigureAwait(false);
            foreach (var p in new[] { c1.Pod, c2.Pod }) if (p is not null) pods.Add(p);
            if (e1 is not null || e2 is not null || c2.Status != 200) Add("CachedTokens", InferenceCheckStatus.Skipped, "The repeated request failed.");
            else if (c2.CachedTokens is null) Add("CachedTokens", InferenceCheckStatus.Warning, "usage.prompt_tokens_details.cached_tokens is absent: start vLLM with --enable-prompt-tokens-details to see prefix-cache hits per request.");
            else if (c2.CachedTokens == 0) Add("CachedTokens", InferenceCheckStatus.Warning, "The same prompt twice got 0 cached tokens: prefix caching is off, or the two requests reached different pods.");
            else Add("CachedTokens", InferenceCheckStatus.Passed, $"The repeated prompt reused {c2.CachedTokens} of {c2.PromptTokens} prompt tokens.");
        }
        else if (reachable)
        {
            foreach (var n in new[] { "Completion", "ChatCompletion", "StreamingFraming", "StreamingUsage", "FinishReason", "CachedTokens" })
                Add(n, InferenceCheckStatus.Skipped, "No model to call.");
        }

        // Metrics
        if (reachable || o.MetricsUrl is not null)
        {
            // vLLM serves /metrics beside /v1 under the same base (a gateway route's prefix included)
            var url = o.MetricsUrl ?? target.BaseUrl.TrimEnd('/') + "/metrics";
            try
            {
                var samples = await MetricsScraper.ScrapeAsync(url, o.Timeout, ct, o.ApiKey, o.SkipCertificateCheck, o.AllowUnencryptedAuthentication).ConfigureAwait(false);
                var names = samples.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
                var missing = RequiredGauges.Where(g => !names.Contains(g)).ToList();
                if (missing.Count > 0)
                    Add("Metrics", InferenceCheckStatus.Failed, $"Missing what the EPP reads: {string.Join(", ", missing)} (an old vLLM may still expose gpu_cache_usage_perc).");
                else Add("Metrics", names.Contains("vllm:cache_config_info") ? InferenceCheckStatus.Passed : InferenceCheckStatus.Warning,
                    $"{samples.Count} samples; running {PrometheusText.Sum(samples, "vllm:num_requests_running")}, waiting {PrometheusText.Sum(samples, "vllm:num_requests_waiting")}" +
                    (names.Contains("vllm:cache_config_info") ? ", cache_config_info present." : "; cache_config_info missing (the EPP cannot auto-tune its prefix block size)."));
            }
            catch (RhaiiException ex) when (o.MetricsUrl is null && ex.ErrorId == "MetricsScrapeFailed")
            {
                Add("Metrics", InferenceCheckStatus.Warning, "The base URL does not serve /metrics (gateways usually do not); give -MetricsUrl with a pod's address to check the EPP gauges.");
            }
            catch (RhaiiException ex) { Add("Metrics", InferenceCheckStatus.Failed, ex.Message); }
        }
        else Add("Metrics", InferenceCheckStatus.Skipped, "The endpoint is unreachable.");

        Add("PodIdentity", pods.Count > 0 ? InferenceCheckStatus.Passed : InferenceCheckStatus.Skipped,
            pods.Count > 0 ? $"x-inference-pod: {string.Join(", ", pods)}." : "No x-inference-pod header (real vLLM does not send it); routing is then judged from per-pod metrics.");

        return new TestInferenceEndpointResult
        {
            BaseUrl = target.BaseUrl,
            Model = model ?? "",
            Checks = [.. checks],
            FirstRequestMs = firstMs,
            Pods = [.. pods],
            DurationMs = sw.Elapsed.TotalMilliseconds,
            Timestamp = DateTimeOffset.Now,
        };
    }

    private static string Trim(string s) => s.Length > 60 ? s[..57] + "..." : s;

    private static async Task<(CompletionObserver Obs, double Ms, string? Error)> SendAsync(HttpTarget target, InferenceApi api, string model, BenchPrompt p, bool stream, TimeSpan timeout, CancellationToken ct)
    {
        var obs = new CompletionObserver { KeepText = true };
        using var conn = new RawHttpConnection(target);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        var req = target.BuildRequest("POST", OpenAiRequests.Path(api), OpenAiRequests.Body(api, model, p, stream, ignoreEos: false), stream);
        var t0 = Stopwatch.GetTimestamp();
        try
        {
            await conn.SendAsync(req, obs, cts.Token).ConfigureAwait(false);
            return (obs, Stopwatch.GetElapsedTime(t0).TotalMilliseconds, null);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return (obs, Stopwatch.GetElapsedTime(t0).TotalMilliseconds, $"No complete answer within {timeout.TotalSeconds:0.#} s.");
        }
        catch (RawHttpException ex)
        {
            return (obs, Stopwatch.GetElapsedTime(t0).TotalMilliseconds, ex.Message);
        }
    }
}
