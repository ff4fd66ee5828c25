namespace RhaiiGke;

/// <summary>One Prometheus sample scraped from a vLLM pod or the EPP (<c>Get-InferenceMetrics</c>).</summary>
public sealed class InferenceMetricSample
{
    /// <summary>Full sample name as exposed, e.g. <c>vllm:prefix_cache_hits_total</c> or <c>vllm:time_to_first_token_seconds_bucket</c>.</summary>
    public string Name { get; init; } = "";
    /// <summary>Metric family (the name without _bucket/_sum/_count for histograms and summaries).</summary>
    public string Family { get; init; } = "";
    /// <summary>counter, gauge, histogram, summary or untyped (from # TYPE).</summary>
    public string Type { get; init; } = "untyped";
    public RhaiiMap<string> Labels { get; init; } = RhaiiMap<string>.Empty;
    public double Value { get; init; }
    /// <summary>Value minus the same series in the baseline scrape (null when there is no baseline or the series is new).</summary>
    public double? Delta { get; init; }
    /// <summary>Delta per second between the two scrapes.</summary>
    public double? Rate { get; init; }
    /// <summary>True when a counter went down between scrapes (pod restart); Delta is then the new value.</summary>
    public bool Reset { get; init; }
    public string Endpoint { get; init; } = "";
    public DateTimeOffset Timestamp { get; init; }
    public string Help { get; init; } = "";

    /// <summary>Labels as Prometheus writes them: <c>{a="1",b="2"}</c>, empty when none.</summary>
    public string LabelText => Labels.Count == 0 ? "" : "{" + string.Join(",", Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}=\"{l.Value}\"")) + "}";

    /// <summary>Series identity: name plus sorted labels.</summary>
    public string Series => Name + LabelText;

    public override string ToString() => $"{Series} {Value}";
}
