namespace RhaiiGke;

/// <summary>How the simulator's gateway spreads requests over its replicas.</summary>
public enum InferencePickerMode
{
    /// <summary>Like the llm-d EPP: approximate prefix-cache score (64-character blocks) weighed against queue and KV usage.</summary>
    PrefixAware,
    RoundRobin,
    Random,
}

/// <summary>Settings of a vLLM-compatible simulator (<c>Start-InferenceSimulator</c>). Times are in milliseconds.</summary>
public sealed class InferenceSimulatorOptions
{
    /// <summary>Served model name, as vLLM's <c>--served-model-name</c>.</summary>
    public string Model { get; set; } = "Qwen/Qwen2.5-3B-Instruct";

    /// <summary>Replicas (pods) behind the gateway URL. Each also has its own URL.</summary>
    public int Replicas { get; set; } = 1;

    /// <summary>Base time to first token.</summary>
    public double TimeToFirstTokenMs { get; set; }

    /// <summary>Extra prefill time per uncached prompt token (llm-d-inference-sim's per-token calculator); 0 = constant TTFT.</summary>
    public double PrefillTimePerTokenMs { get; set; }

    /// <summary>Time between output tokens.</summary>
    public double InterTokenLatencyMs { get; set; }

    /// <summary>Latency multiplier at full load (≥ 1): scales linearly from 1 with one running request to this value at <see cref="MaxNumSeqs"/>.</summary>
    public double LoadFactor { get; set; } = 1;

    /// <summary>Requests a replica runs at once; more wait in its queue (vLLM <c>--max-num-seqs</c>).</summary>
    public int MaxNumSeqs { get; set; } = 256;

    /// <summary>Context window; a prompt plus max_tokens above it gets vLLM's 400 context-length error.</summary>
    public int MaxModelLength { get; set; } = 32768;

    /// <summary>Output length when the request gives no max_tokens.</summary>
    public int DefaultMaxTokens { get; set; } = 32;

    /// <summary>When set, output length is drawn at random up to max_tokens (finish_reason stop) unless ignore_eos is sent; otherwise every answer is exactly max_tokens long.</summary>
    public bool RandomOutputLength { get; set; }

    /// <summary>Prefix-cache simulation on (block hashing, cached_tokens, hit/query counters).</summary>
    public bool EnablePrefixCache { get; set; } = true;

    /// <summary>Tokens per KV block (vLLM <c>--block-size</c>).</summary>
    public int BlockSize { get; set; } = 16;

    /// <summary>KV-cache capacity in blocks per replica (LRU beyond).</summary>
    public int KvCacheBlocks { get; set; } = 4096;

    public InferencePickerMode Picker { get; set; } = InferencePickerMode.PrefixAware;

    /// <summary>Percentage (0-100) of requests that fail with one of <see cref="FailureTypes"/>.</summary>
    public double FailureRate { get; set; }

    /// <summary>rate_limit, invalid_api_key, context_length, server_error, invalid_request, model_not_found. Empty = all.</summary>
    public string[] FailureTypes { get; set; } = [];

    /// <summary>Extra delay on each replica's first completion (XLA compilation on TPU).</summary>
    public double FirstRequestDelayMs { get; set; }

    /// <summary>Seed of the random choices (failures, output lengths, picker ties).</summary>
    public int Seed { get; set; }

    /// <summary>Prefix of replica names sent in <c>x-inference-pod</c>.</summary>
    public string PodNamePrefix { get; set; } = "vllm-sim";

    /// <summary>The vLLM version <c>/version</c> reports; null for the version of the module's default vLLM TPU image.</summary>
    public string? VllmVersion { get; set; }

    /// <summary>One line for a CSV cell or a list view.</summary>
    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{Model} x{Replicas}, TTFT {TimeToFirstTokenMs:0.###} ms, ITL {InterTokenLatencyMs:0.###} ms, {Picker}, failures {FailureRate:0.###}%");
}

/// <summary>A running vLLM-compatible simulator. Pipe it into Test-InferenceEndpoint or Invoke-InferenceBenchmark.</summary>
public sealed class InferenceSimulator
{
    public Guid Id { get; init; }
    public string Name { get; init; } = "";
    /// <summary>The gateway URL (the picker chooses a replica), e.g. http://127.0.0.1:41234.</summary>
    public string BaseUrl { get; init; } = "";
    public string Model { get; init; } = "";
    /// <summary>Each replica's own URL (what a pod IP would be); requests there bypass the picker.</summary>
    public RhaiiList<string> ReplicaUrls { get; init; } = [];
    /// <summary>Replica names as sent in the <c>x-inference-pod</c> response header.</summary>
    public RhaiiList<string> PodNames { get; init; } = [];
    public int Replicas => ReplicaUrls.Length;
    public InferencePickerMode Picker { get; init; }
    public DateTimeOffset StartedAt { get; init; }
    public InferenceSimulatorOptions Options { get; init; } = new();
    /// <summary>False after Stop-InferenceSimulator.</summary>
    public bool Running { get; set; }

    public override string ToString() => BaseUrl;
}
