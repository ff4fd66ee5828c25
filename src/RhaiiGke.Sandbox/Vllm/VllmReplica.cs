using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace RhaiiGke.Sandbox.Vllm;

/// <summary>One simulated vLLM pod: admission (max-num-seqs), prefix cache, timing, OpenAI responses, metrics.</summary>
internal sealed class VllmReplica
{
    private readonly InferenceSimulatorOptions _o;
    private readonly PreciseScheduler _scheduler;
    private readonly SemaphoreSlim _slots;
    private readonly ulong _hashSeed;
    private int _running, _waiting, _firstDone;
    private long _promptTokens, _generationTokens, _prefixQueries, _prefixHits, _lengthFinished, _stopFinished, _errors;
    private long _requestSeq;
    private static readonly double s_tick = 1.0 / Stopwatch.Frequency;

    public readonly PromHistogram Ttft = new("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", SimBuckets.Ttft);
    public readonly PromHistogram Itl = new("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", SimBuckets.Itl);
    public readonly PromHistogram Tpot = new("vllm:request_time_per_output_token_seconds", "Histogram of time_per_output_token_seconds per request.", SimBuckets.Itl);
    public readonly PromHistogram TpotLegacy = new("vllm:time_per_output_token_seconds", "Histogram of time per output token in seconds (deprecated name).", SimBuckets.Itl);
    public readonly PromHistogram E2e = new("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", SimBuckets.Request);
    public readonly PromHistogram Queue = new("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", SimBuckets.Request);
    public readonly PromHistogram Prefill = new("vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.", SimBuckets.Request);
    public readonly PromHistogram Decode = new("vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.", SimBuckets.Request);
    public readonly PromHistogram Inference = new("vllm:request_inference_time_seconds", "Histogram of time spent in RUNNING phase for request.", SimBuckets.Request);
    public readonly PromHistogram PromptHist = new("vllm:request_prompt_tokens", "Number of prefill tokens processed.", SimBuckets.Tokens);
    public readonly PromHistogram GenHist = new("vllm:request_generation_tokens", "Number of generation tokens processed.", SimBuckets.Tokens);
    public readonly PromHistogram MaxTokensHist = new("vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter.", SimBuckets.Tokens);

    public VllmReplica(int index, InferenceSimulatorOptions options, PreciseScheduler scheduler)
    {
        Index = index;
        _o = options;
        _scheduler = scheduler;
        PodName = $"{options.PodNamePrefix}-{index}";
        _slots = new SemaphoreSlim(Math.Max(1, options.MaxNumSeqs));
        Cache = new BlockLru(options.KvCacheBlocks);
        _hashSeed = SimTokenizer.Hash(options.Model);
        Rng = new Random(options.Seed * 7919 + index);
    }

    public int Index { get; }
    public string PodName { get; }
    public BlockLru Cache { get; }
    public Random Rng { get; }
    public SimHttpServer? Server { get; set; }
    public int Running => Volatile.Read(ref _running);
    public int Waiting => Volatile.Read(ref _waiting);
    public double KvUsage => (double)Cache.Count / Cache.Capacity;
    public long PrefixHits => Interlocked.Read(ref _prefixHits);
    public long PrefixQueries => Interlocked.Read(ref _prefixQueries);

    public void ResetCache() => Cache.Clear();

    private double LoadFactor()
    {
        if (_o.LoadFactor <= 1 || _o.MaxNumSeqs <= 1) return 1;
        var share = Math.Clamp((Running - 1) / (double)(_o.MaxNumSeqs - 1), 0, 1);
        return 1 + (_o.LoadFactor - 1) * share;
    }

    private static long Ticks(double ms) => (long)(ms * Stopwatch.Frequency / 1000.0);

    private int ChooseOutputTokens(CompletionRequest r, out string finish)
    {
        var max = r.MaxTokens ?? _o.DefaultMaxTokens;
        finish = "length";
        if (!_o.RandomOutputLength || r.IgnoreEos) return max;
        int n;
        lock (Rng)
        {
            var u = Rng.NextDouble();
            // llm-d-inference-sim's histogram over max_tokens: 20/30/20/5/10/15 %.
            double[] cum = [0.20, 0.50, 0.70, 0.75, 0.85, 1.0];
            var bucket = Array.FindIndex(cum, c => u < c);
            if (bucket < 0 || bucket == 5) n = max;
            else n = (int)Math.Ceiling(max * (bucket + Rng.NextDouble()) / 5.0);
        }
        n = Math.Clamp(n, 1, max);
        if (n < max) finish = "stop";
        return n;
    }

    /// <summary>Serves one completion or chat completion request.</summary>
    public async ValueTask ServeAsync(SimHttpConnection c, SimHttpRequest http, CompletionRequest r, string? failureType)
    {
        var arrived = Stopwatch.GetTimestamp();
        if (failureType is not null)
        {
            Interlocked.Increment(ref _errors);
            await VllmSimulator.WriteErrorAsync(c, http, failureType, r.Model, PodName, _o).ConfigureAwait(false);
            return;
        }

        var tokenHashes = new List<ulong>(256);
        SimTokenizer.Tokenize(r.Prompt, tokenHashes);
        var promptTokens = tokenHashes.Count;
        var maxTokens = r.MaxTokens ?? _o.DefaultMaxTokens;
        if (promptTokens + maxTokens > _o.MaxModelLength)
        {
            Interlocked.Increment(ref _errors);
            await VllmSimulator.WriteErrorAsync(c, http, "context_length", r.Model, PodName, _o,
                $"This model's maximum context length is {_o.MaxModelLength} tokens. However, you requested {promptTokens + maxTokens} tokens ({promptTokens} in the messages, {maxTokens} in the completion). Please reduce the length of the messages or completion.").ConfigureAwait(false);
            return;
        }
        var outputTokens = ChooseOutputTokens(r, out var finish);

        Interlocked.Increment(ref _waiting);
        await _slots.WaitAsync().ConfigureAwait(false);
        Interlocked.Decrement(ref _waiting);
        Interlocked.Increment(ref _running);
        try
        {
            var admitted = Stopwatch.GetTimestamp();
            var cached = 0;
            if (_o.EnablePrefixCache && _o.BlockSize > 0)
            {
                var blocks = new List<ulong>(tokenHashes.Count / _o.BlockSize + 1);
                SimTokenizer.Blocks(tokenHashes, _o.BlockSize, _hashSeed, blocks);
                // vLLM always computes at least the last prompt token, so only blocks before it can hit.
                var eligible = Math.Max(0, (promptTokens - 1) / _o.BlockSize);
                cached = Cache.MatchAndInsert(blocks, eligible) * _o.BlockSize;
                Interlocked.Add(ref _prefixQueries, promptTokens);
                Interlocked.Add(ref _prefixHits, cached);
            }
            var factor = LoadFactor();
            var ttftMs = (_o.TimeToFirstTokenMs + (promptTokens - cached) * _o.PrefillTimePerTokenMs) * factor;
            if (_o.FirstRequestDelayMs > 0 && Interlocked.Exchange(ref _firstDone, 1) == 0) ttftMs += _o.FirstRequestDelayMs;

            var seq = Interlocked.Increment(ref _requestSeq);
            var words = new WordSource(((ulong)(uint)_o.Seed << 32) ^ ((ulong)Index << 48) ^ (ulong)seq);
            var id = (r.Chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");
            var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            long firstToken;
            long last;
            if (!r.Stream)
            {
                var total = ttftMs;
                for (var i = 1; i < outputTokens; i++) total += _o.InterTokenLatencyMs * (i == 1 ? factor : LoadFactor());
                firstToken = admitted + Ticks(ttftMs);
                await _scheduler.DelayUntil(admitted + Ticks(total)).ConfigureAwait(false);
                last = Stopwatch.GetTimestamp();
                var text = words.Text(outputTokens);
                WriteFull(c.Out, http, r, id, created, text, finish, promptTokens, outputTokens, cached);
                await c.FlushAsync().ConfigureAwait(false);
            }
            else
            {
                (firstToken, last) = await StreamAsync(c, http, r, id, created, words, admitted, ttftMs, outputTokens, finish, promptTokens, cached).ConfigureAwait(false);
            }
            Record(arrived, admitted, firstToken, last, promptTokens, outputTokens, maxTokens, finish);
        }
        finally
        {
            Interlocked.Decrement(ref _running);
            _slots.Release();
        }
    }

    private async ValueTask<(long First, long Last)> StreamAsync(SimHttpConnection c, SimHttpRequest http, CompletionRequest r, string id, long created,
        WordSource words, long admitted, double ttftMs, int outputTokens, string finish, int promptTokens, int cached)
    {
        var w = c.Out;
        HttpOut.Head(w, http, 200, "text/event-stream; charset=utf-8"u8, PodName);
        HttpOut.Bytes(w, http.Http10 ? "Cache-Control: no-cache\r\n\r\n"u8 : "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"u8);
        if (http.Http10) c.CloseAfterResponse = true;
        await c.FlushAsync().ConfigureAwait(false);

        var json = new ArrayBufferWriter<byte>(512);
        using var jw = new Utf8JsonWriter(json);
        var due = admitted + Ticks(ttftMs);
        long first = 0, lastAt = 0, lastDue = 0;
        for (var i = 0; i < outputTokens; i++)
        {
            await _scheduler.DelayUntil(due).ConfigureAwait(false);
            var now = Stopwatch.GetTimestamp();
            if (i == 0) first = now;
            else
            {
                Itl.Observe((now - lastAt) * s_tick);
                _scheduler.Timing.Record(now - lastAt, due - lastDue);
            }
            lastDue = due;
            lastAt = now;
            var lastToken = i == outputTokens - 1;
            if (i == 0 && r.Chat)
            {
                Chunk(json, jw, r, id, created, null, role: true, finishReason: null, usage: r.ContinuousUsage ? (promptTokens, 0, cached) : null);
                Frame(w, json, http.Http10);
            }
            Chunk(json, jw, r, id, created, words.Next(i == 0), role: false, finishReason: lastToken ? finish : null,
                usage: r.ContinuousUsage ? (promptTokens, i + 1, cached) : null);
            Frame(w, json, http.Http10);
            if (lastToken)
            {
                if (r.IncludeUsage)
                {
                    Chunk(json, jw, r, id, created, null, role: false, finishReason: null, usage: (promptTokens, outputTokens, cached), usageOnly: true);
                    Frame(w, json, http.Http10);
                }
                FrameRaw(w, "data: [DONE]\n\n"u8, http.Http10);
                if (!http.Http10) HttpOut.Bytes(w, "0\r\n\r\n"u8);
            }
            await c.FlushAsync().ConfigureAwait(false);
            due += Ticks(_o.InterTokenLatencyMs * LoadFactor());
        }
        return (first, lastAt);
    }

    private static void Frame(ArrayBufferWriter<byte> w, ArrayBufferWriter<byte> json, bool raw)
    {
        var len = json.WrittenCount + 8; // "data: " + "\n\n"
        if (!raw) { HttpOut.Hex(w, len); HttpOut.Bytes(w, "\r\n"u8); }
        HttpOut.Bytes(w, "data: "u8);
        HttpOut.Bytes(w, json.WrittenSpan);
        HttpOut.Bytes(w, "\n\n"u8);
        if (!raw) HttpOut.Bytes(w, "\r\n"u8);
        json.ResetWrittenCount();
    }

    private static void FrameRaw(ArrayBufferWriter<byte> w, ReadOnlySpan<byte> data, bool raw)
    {
        if (!raw) { HttpOut.Hex(w, data.Length); HttpOut.Bytes(w, "\r\n"u8); }
        HttpOut.Bytes(w, data);
        if (!raw) HttpOut.Bytes(w, "\r\n"u8);
    }

    private void Chunk(ArrayBufferWriter<byte> json, Utf8JsonWriter jw, CompletionRequest r, string id, long created, string? text, bool role,
        string? finishReason, (int Prompt, int Completion, int Cached)? usage, bool usageOnly = false)
    {
        jw.Reset(json);
        jw.WriteStartObject();
        jw.WriteString("id"u8, id);
        jw.WriteString("object"u8, r.Chat ? "chat.completion.chunk"u8 : "text_completion"u8);
        jw.WriteNumber("created"u8, created);
        jw.WriteString("model"u8, _o.Model);
        jw.WriteStartArray("choices"u8);
        if (!usageOnly)
        {
            jw.WriteStartObject();
            jw.WriteNumber("index"u8, 0);
            if (r.Chat)
            {
                jw.WriteStartObject("delta"u8);
                if (role) { jw.WriteString("role"u8, "assistant"u8); jw.WriteString("content"u8, ""u8); }
                else if (text is not null) jw.WriteString("content"u8, text);
                jw.WriteEndObject();
            }
            else jw.WriteString("text"u8, text ?? "");
            jw.WriteNull("logprobs"u8);
            if (finishReason is null) jw.WriteNull("finish_reason"u8); else jw.WriteString("finish_reason"u8, finishReason);
            if (!r.Chat || finishReason is not null) jw.WriteNull("stop_reason"u8);
            jw.WriteEndObject();
        }
        jw.WriteEndArray();
        if (usage is { } u) WriteUsage(jw, u.Prompt, u.Completion, u.Cached);
        jw.WriteEndObject();
        jw.Flush();
    }

    private static void WriteUsage(Utf8JsonWriter jw, int prompt, int completion, int cached)
    {
        jw.WriteStartObject("usage"u8);
        jw.WriteNumber("prompt_tokens"u8, prompt);
        jw.WriteNumber("total_tokens"u8, prompt + completion);
        jw.WriteNumber("completion_tokens"u8, completion);
        jw.WriteStartObject("prompt_tokens_details"u8);
        jw.WriteNumber("cached_tokens"u8, cached);
        jw.WriteEndObject();
        jw.WriteEndObject();
    }

    private void WriteFull(ArrayBufferWriter<byte> w, SimHttpRequest http, CompletionRequest r, string id, long created, string text, string finish,
        int prompt, int completion, int cached)
    {
        var json = new ArrayBufferWriter<byte>(256 + text.Length * 2);
        using (var jw = new Utf8JsonWriter(json))
        {
            jw.WriteStartObject();
            jw.WriteString("id"u8, id);
            jw.WriteString("object"u8, r.Chat ? "chat.completion"u8 : "text_completion"u8);
            jw.WriteNumber("created"u8, created);
            jw.WriteString("model"u8, _o.Model);
            jw.WriteStartArray("choices"u8);
            jw.WriteStartObject();
            jw.WriteNumber("index"u8, 0);
            if (r.Chat)
            {
                jw.WriteStartObject("message"u8);
                jw.WriteString("role"u8, "assistant"u8);
                jw.WriteString("content"u8, text);
                jw.WriteStartArray("tool_calls"u8);
                jw.WriteEndArray();
                jw.WriteEndObject();
            }
            else jw.WriteString("text"u8, text);
            jw.WriteNull("logprobs"u8);
            jw.WriteString("finish_reason"u8, finish);
            jw.WriteNull("stop_reason"u8);
            jw.WriteEndObject();
            jw.WriteEndArray();
            WriteUsage(jw, prompt, completion, cached);
            jw.WriteEndObject();
        }
        HttpOut.Full(w, http, 200, "application/json"u8, json.WrittenSpan, PodName);
    }

    private void Record(long arrived, long admitted, long first, long last, int prompt, int output, int maxTokens, string finish)
    {
        Interlocked.Add(ref _promptTokens, prompt);
        Interlocked.Add(ref _generationTokens, output);
        if (finish == "length") Interlocked.Increment(ref _lengthFinished); else Interlocked.Increment(ref _stopFinished);
        var e2e = (last - arrived) * s_tick;
        var ttft = (first - arrived) * s_tick;
        Ttft.Observe(ttft);
        E2e.Observe(e2e);
        Queue.Observe((admitted - arrived) * s_tick);
        Prefill.Observe((first - admitted) * s_tick);
        Decode.Observe((last - first) * s_tick);
        Inference.Observe((last - admitted) * s_tick);
        PromptHist.Observe(prompt);
        GenHist.Observe(output);
        MaxTokensHist.Observe(maxTokens);
        if (output > 1)
        {
            var tpot = (last - first) * s_tick / (output - 1);
            Tpot.Observe(tpot);
            TpotLegacy.Observe(tpot);
        }
    }

    private PromHistogram[] Histograms => [Ttft, Itl, Tpot, TpotLegacy, E2e, Queue, Prefill, Decode, Inference, PromptHist, GenHist, MaxTokensHist];

    /// <summary>vLLM's /metrics for a set of replicas; with <paramref name="podLabel"/> each series carries pod="name".</summary>
    public static string RenderMetrics(IReadOnlyList<VllmReplica> replicas, bool podLabel)
    {
        var sb = new StringBuilder(16 * 1024);
        string L(VllmReplica r) => (podLabel ? $"pod=\"{r.PodName}\"," : "") + $"engine=\"0\",model_name=\"{Escape(r._o.Model)}\"";
        void Family(string name, string type, string help, Func<VllmReplica, string> value, string extra = "")
        {
            sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
            sb.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
            foreach (var r in replicas) sb.Append(name).Append('{').Append(L(r)).Append(extra).Append("} ").Append(value(r)).Append('\n');
        }
        static string F(double v) => PromHistogram.Fmt(v);
        Family("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.", r => F(r.Running));
        Family("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.", r => F(r.Waiting));
        Family("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.", r => F(r.KvUsage));
        sb.Append("# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n# TYPE vllm:cache_config_info gauge\n");
        foreach (var r in replicas)
            sb.Append("vllm:cache_config_info{").Append(podLabel ? $"pod=\"{r.PodName}\"," : "").Append("block_size=\"").Append(r._o.BlockSize)
              .Append("\",enable_prefix_caching=\"").Append(r._o.EnablePrefixCache ? "True" : "False").Append("\",engine=\"0\",num_gpu_blocks=\"").Append(r._o.KvCacheBlocks).Append("\"} 1.0\n");
        sb.Append("# HELP vllm:lora_requests_info Running stats on lora requests.\n# TYPE vllm:lora_requests_info gauge\n");
        foreach (var r in replicas)
            sb.Append("vllm:lora_requests_info{").Append(podLabel ? $"pod=\"{r.PodName}\"," : "").Append("max_lora=\"0\",running_lora_adapters=\"\",waiting_lora_adapters=\"\"} 0.0\n");
        Family("vllm:prefix_cache_queries_total", "counter", "Prefix cache queries, in terms of number of queried tokens.", r => F(r.PrefixQueries));
        Family("vllm:prefix_cache_hits_total", "counter", "Prefix cache hits, in terms of number of cached tokens.", r => F(r.PrefixHits));
        Family("vllm:num_preemptions_total", "counter", "Cumulative number of preemption from the engine.", _ => "0.0");
        Family("vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.", r => F(Interlocked.Read(ref r._promptTokens)));
        Family("vllm:generation_tokens_total", "counter", "Number of generation tokens processed.", r => F(Interlocked.Read(ref r._generationTokens)));
        sb.Append("# HELP vllm:request_success_total Count of successfully processed requests.\n# TYPE vllm:request_success_total counter\n");
        foreach (var r in replicas)
        {
            sb.Append("vllm:request_success_total{").Append(L(r)).Append(",finished_reason=\"length\"} ").Append(F(Interlocked.Read(ref r._lengthFinished))).Append('\n');
            sb.Append("vllm:request_success_total{").Append(L(r)).Append(",finished_reason=\"stop\"} ").Append(F(Interlocked.Read(ref r._stopFinished))).Append('\n');
        }
        var families = replicas.Count == 0 ? [] : replicas[0].Histograms;
        for (var i = 0; i < families.Length; i++)
        {
            families[i].WriteHeader(sb);
            foreach (var r in replicas) r.Histograms[i].WriteSeries(sb, L(r));
        }
        return sb.ToString();
    }

    private static string Escape(string s) => s.Replace("\\", "\\\\").Replace("\"", "\\\"");

    /// <summary>Deterministic words for answers (a tiny xorshift; no allocation per token beyond the string).</summary>
    private struct WordSource(ulong seed)
    {
        private ulong _s = seed == 0 ? 0x2545F4914F6CDD1DUL : seed;

        private int NextIndex()
        {
            _s ^= _s << 13; _s ^= _s >> 7; _s ^= _s << 17;
            return (int)(_s % (ulong)SimTokenizer.AnswerWords.Length);
        }

        public string Next(bool first) => first ? SimTokenizer.AnswerWords[NextIndex()] : " " + SimTokenizer.AnswerWords[NextIndex()];

        public string Text(int n)
        {
            var sb = new StringBuilder(n * 6);
            for (var i = 0; i < n; i++) { if (i > 0) sb.Append(' '); sb.Append(SimTokenizer.AnswerWords[NextIndex()]); }
            return sb.ToString();
        }
    }
}
