namespace RhaiiGke;

/// <summary>One phase of the cache-routing test: cold or warm, through the gateway or round-robin over the pods.</summary>
public sealed class InferenceCacheRoutingPhase
{
    /// <summary>gateway-cold, gateway-warm, round-robin-cold, round-robin-warm.</summary>
    public string Name { get; init; } = "";
    public string Route { get; init; } = "";
    public int Requests { get; init; }
    public int Failed { get; init; }
    public long PromptTokens { get; init; }
    public long CachedTokens { get; init; }
    /// <summary>Σ cached_tokens / Σ prompt_tokens from the responses.</summary>
    public double CachedTokenRatio { get; init; }
    /// <summary>Δ prefix_cache_hits / Δ prefix_cache_queries summed over the pods' /metrics, null when not scraped.</summary>
    public double? CounterHitRate { get; init; }
    /// <summary>Share of prefix groups whose requests in this phase all went to one pod (from x-inference-pod).</summary>
    public double? GroupAffinity { get; init; }
    public double MedianTtftMs { get; init; }
    public double MedianLatencyMs { get; init; }
    /// <summary>Requests per pod.</summary>
    public RhaiiMap<int> Pods { get; init; } = RhaiiMap<int>.Empty;
    /// <summary>Δ prefix_cache_hits per pod (tokens).</summary>
    public RhaiiMap<double> PodHitDeltas { get; init; } = RhaiiMap<double>.Empty;
}

/// <summary>Result of <c>Test-InferenceCacheRouting</c>: evidence that shared prefixes reach warm replicas.</summary>
public sealed class TestInferenceCacheRoutingResult
{
    public string BaseUrl { get; init; } = "";
    public string Model { get; init; } = "";
    public int Groups { get; init; }
    public int RequestsPerGroup { get; init; }
    public int PrefixCharacters { get; init; }
    public RhaiiList<InferenceCacheRoutingPhase> Phases { get; init; } = [];
    /// <summary>Warm-phase cached-token ratio through the gateway.</summary>
    public double GatewayWarmHitRate { get; init; }
    /// <summary>Warm-phase cached-token ratio with round-robin over the pods; null without pod endpoints.</summary>
    public double? RoundRobinWarmHitRate { get; init; }
    /// <summary>The gateway's warm hit rate reached the threshold (and beat round-robin when measured).</summary>
    public bool Passed { get; init; }
    public RhaiiList<string> Evidence { get; init; } = [];
    public RhaiiList<string> Warnings { get; init; } = [];

    public override string ToString() => $"{BaseUrl}: gateway warm hit {GatewayWarmHitRate:P0}{(RoundRobinWarmHitRate is { } r ? $", round-robin {r:P0}" : "")} → {(Passed ? "Passed" : "Failed")}";
}
