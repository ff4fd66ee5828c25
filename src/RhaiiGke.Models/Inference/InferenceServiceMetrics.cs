namespace RhaiiGke;

/// <summary>
/// What one vLLM pod or the EPP reported in one scrape through the Kubernetes API's pods proxy (<c>Get-InferenceMetrics</c>
/// with a service). Latencies are in seconds; rates need two scrapes (null on the first one).
/// </summary>
public sealed class InferencePodMetrics
{
    public string Pod { get; init; } = "";
    /// <summary>vllm (a workload pod) or epp (the scheduler).</summary>
    public string Role { get; init; } = "";
    /// <summary>Why the scrape failed (null when it worked).</summary>
    public string? Error { get; init; }
    public double? Running { get; init; }
    public double? Waiting { get; init; }
    /// <summary>KV-cache usage, 0 to 1 (the EPP: the pool's average).</summary>
    public double? KvCacheUsage { get; init; }
    /// <summary>Prefix-cache hits divided by queries (tokens), over the window (or since start on the first scrape).</summary>
    public double? PrefixCacheHitRate { get; init; }
    public double? TtftP50 { get; init; }
    public double? TtftP90 { get; init; }
    public double? TtftP99 { get; init; }
    public double? ItlP50 { get; init; }
    public double? ItlP90 { get; init; }
    public double? ItlP99 { get; init; }
    public double? E2eP50 { get; init; }
    public double? E2eP90 { get; init; }
    public double? E2eP99 { get; init; }
    /// <summary>Requests finished (vLLM) or scheduled (EPP) in the window, or since start on the first scrape.</summary>
    public double? Requests { get; init; }
    public double? PromptTokensPerSecond { get; init; }
    public double? GenerationTokensPerSecond { get; init; }
    /// <summary>The EPP's count of ready pods in its pool.</summary>
    public int? ReadyPods { get; init; }
    /// <summary>The scraped samples (with Delta and Rate from the second scrape on).</summary>
    public InferenceMetricSample[] Samples { get; init; } = [];

    public override string ToString() => Error is null ? $"{Role} {Pod}" : $"{Role} {Pod}: {Error}";
}

/// <summary>One scrape of every pod of an LLMInferenceService, per pod and aggregated (<c>Get-InferenceMetrics</c>).</summary>
public sealed class InferenceServiceMetrics
{
    public string Namespace { get; init; } = "";
    public string Name { get; init; } = "";
    /// <summary>1 for the first scrape, then 2, 3... with -Interval/-Count.</summary>
    public int Sample { get; init; }
    public DateTimeOffset Timestamp { get; init; }
    /// <summary>Time since the previous scrape: the window of the rates, hit rate and percentiles (null on the first scrape: totals since the pods started).</summary>
    public TimeSpan? Window { get; init; }
    /// <summary>vLLM pods scraped successfully / in total.</summary>
    public int PodsScraped { get; init; }
    public int PodCount { get; init; }
    public double? Running { get; init; }
    public double? Waiting { get; init; }
    /// <summary>Mean KV-cache usage of the vLLM pods, 0 to 1.</summary>
    public double? KvCacheUsage { get; init; }
    public double? PrefixCacheHitRate { get; init; }
    public double? TtftP50 { get; init; }
    public double? TtftP90 { get; init; }
    public double? TtftP99 { get; init; }
    public double? ItlP50 { get; init; }
    public double? ItlP90 { get; init; }
    public double? ItlP99 { get; init; }
    public double? E2eP50 { get; init; }
    public double? E2eP90 { get; init; }
    public double? E2eP99 { get; init; }
    public double? Requests { get; init; }
    public double? PromptTokensPerSecond { get; init; }
    public double? GenerationTokensPerSecond { get; init; }
    /// <summary>The vLLM pods.</summary>
    public RhaiiList<InferencePodMetrics> Pods { get; init; } = RhaiiList<InferencePodMetrics>.Empty;
    /// <summary>The EPP (null when the service has no scheduler).</summary>
    public InferencePodMetrics? Scheduler { get; init; }

    public override string ToString() => $"{Namespace}/{Name} #{Sample}";
}
