namespace RhaiiGke;

/// <summary>One requested percentile of a latency metric (ConvertTo-Json and Export-Clixml keep it as a plain object).</summary>
public sealed class InferenceLatencyPercentile
{
    /// <summary>The percentile, 0-100 (50, 90, 99.9, ...).</summary>
    public double Percentile { get; init; }
    /// <summary>Its value in milliseconds.</summary>
    public double Value { get; init; }

    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"p{Percentile:0.###}={Value:0.###}");
}

/// <summary>Statistics of one latency metric in milliseconds; percentiles by linear interpolation (numpy's default).</summary>
public sealed class InferenceLatencyStats
{
    public string Metric { get; init; } = "";
    public int Count { get; init; }
    public double Mean { get; init; }
    public double Median { get; init; }
    /// <summary>Population standard deviation (numpy.std).</summary>
    public double Std { get; init; }
    public double Min { get; init; }
    public double Max { get; init; }
    /// <summary>The 50th percentile, or null when -Percentile did not ask for it.</summary>
    public double? P50 => Find(50);
    public double? P90 => Find(90);
    public double? P95 => Find(95);
    public double? P99 => Find(99);
    /// <summary>Every requested percentile (50, 90, 99.9, ...) in ascending order: a list of {Percentile, Value}, not a dictionary, so JSON keeps numbers as numbers.</summary>
    public RhaiiList<InferenceLatencyPercentile> Percentiles { get; init; } = RhaiiList<InferenceLatencyPercentile>.Empty;

    /// <summary>The value of percentile <paramref name="p"/>, or NaN when it was not computed.</summary>
    public double Percentile(double p) => Find(p) ?? double.NaN;

    private double? Find(double p)
    {
        foreach (var x in Percentiles) if (x.Percentile == p) return x.Value;
        return null;
    }

    public override string ToString() => Count == 0 ? $"{Metric}: n/a" : $"{Metric}: median {Median:0.###} ms, p99 {P99:0.###} ms (n={Count})";
}

/// <summary>One benchmark request as it finished: the line written to the JSONL request log.</summary>
public sealed class InferenceRequestRecord
{
    public int Index { get; init; }
    public string Stage { get; init; } = "";
    /// <summary>When the schedule wanted the request sent, ms after the stage started.</summary>
    public double ScheduledMs { get; init; }
    /// <summary>When it was sent, ms after the stage started.</summary>
    public double StartMs { get; init; }
    /// <summary>Start minus scheduled time: how far the client fell behind its schedule.</summary>
    public double SchedulingLagMs { get; init; }
    /// <summary>Time waiting for a concurrency slot on the client before sending (open loop with a cap).</summary>
    public double QueueTimeMs { get; init; }
    public bool Success { get; init; }
    public int StatusCode { get; init; }
    /// <summary>Time to the first choice with non-empty content.</summary>
    public double? TtftMs { get; init; }
    /// <summary>Time to the first response byte.</summary>
    public double? FirstByteMs { get; init; }
    /// <summary>Time to the last content-bearing chunk (E2EL).</summary>
    public double LatencyMs { get; init; }
    /// <summary>Gaps between consecutive content-bearing chunks.</summary>
    public RhaiiList<double> ItlsMs { get; init; } = [];
    public double? TpotMs { get; init; }
    /// <summary>E2EL / output tokens (inference-perf's normalized TPOT).</summary>
    public double? NtpotMs { get; init; }
    public int PromptTokens { get; init; }
    public int OutputTokens { get; init; }
    public int CachedTokens { get; init; }
    public string? FinishReason { get; init; }
    public string? Pod { get; init; }
    /// <summary>The model the request asked for (multi-model runs mix several).</summary>
    public string Model { get; init; } = "";
    /// <summary>http_429, http_500, timeout, connection, stream_error, ... (empty on success).</summary>
    public string ErrorType { get; init; } = "";
    public string Error { get; init; } = "";
    public string GeneratedText { get; init; } = "";
}

/// <summary>One stage of <c>Invoke-InferenceBenchmark</c> (one concurrency level or rate), with vLLM's metric names.</summary>
public sealed class InferenceBenchmarkResult
{
    public string Label { get; init; } = "";
    public DateTimeOffset Date { get; init; }
    /// <summary>openai-chat or openai (completions), as vLLM names its backends.</summary>
    public string Backend { get; init; } = "";
    public string BaseUrl { get; init; } = "";
    public string Model { get; init; } = "";
    public InferenceBenchmarkProfile Profile { get; init; }
    /// <summary>Stage name, e.g. concurrency-16, rate-5, synchronous, throughput, tier-heavy.</summary>
    public string Stage { get; init; } = "";
    /// <summary>Closed-loop concurrency, or the cap for open-loop stages; null when uncapped.</summary>
    public int? MaxConcurrency { get; init; }
    /// <summary>Target requests per second; +∞ for closed-loop stages.</summary>
    public double RequestRate { get; init; } = double.PositiveInfinity;
    public double Burstiness { get; init; } = 1;
    public bool Streaming { get; init; }
    public int NumPrompts { get; init; }

    public double Duration { get; init; }
    public int Completed { get; init; }
    public int Failed { get; init; }
    public long TotalInputTokens { get; init; }
    public long TotalOutputTokens { get; init; }
    public long TotalCachedTokens { get; init; }
    public double RequestThroughput { get; init; }
    /// <summary>Requests meeting every SLO per second; null without SLOs.</summary>
    public double? RequestGoodput { get; init; }
    /// <summary>Share of requests (of all sent) meeting every SLO, 0-100; null without SLOs.</summary>
    public double? GoodputPercent { get; init; }
    public double OutputThroughput { get; init; }
    public double TotalTokenThroughput { get; init; }
    public double MaxOutputTokensPerS { get; init; }
    public int MaxConcurrentRequests { get; init; }
    /// <summary>Σ latency / duration: the concurrency the server actually saw (Little's law).</summary>
    public double AchievedConcurrency { get; init; }
    /// <summary>Σ cached_tokens / Σ prompt tokens, from the responses' usage.</summary>
    public double CachedTokenRatio { get; init; }

    public InferenceLatencyStats Ttft { get; init; } = new() { Metric = "ttft" };
    public InferenceLatencyStats Tpot { get; init; } = new() { Metric = "tpot" };
    public InferenceLatencyStats Itl { get; init; } = new() { Metric = "itl" };
    public InferenceLatencyStats E2el { get; init; } = new() { Metric = "e2el" };
    public InferenceLatencyStats Ntpot { get; init; } = new() { Metric = "ntpot" };
    public InferenceLatencyStats FirstByte { get; init; } = new() { Metric = "first_byte" };
    public InferenceLatencyStats SchedulingLag { get; init; } = new() { Metric = "scheduling_lag" };
    public InferenceLatencyStats QueueTime { get; init; } = new() { Metric = "queue_time" };

    /// <summary>Goodput SLOs in ms by metric (ttft, tpot, itl, e2el); Export-Csv writes "ttft=300; tpot=50".</summary>
    public RhaiiMap<double> Slo { get; init; } = RhaiiMap<double>.Empty;
    /// <summary>Sweep and SLO runs: whether at least SloAttainment of requests met every SLO.</summary>
    public bool? MeetsSlo { get; init; }
    /// <summary>Sweep: true on the highest-rate stage that met the SLOs.</summary>
    public bool SweepBest { get; set; }
    public RhaiiMap<int> ErrorsByType { get; init; } = RhaiiMap<int>.Empty;
    /// <summary>Requests per replica, from x-inference-pod headers.</summary>
    public RhaiiMap<int> Pods { get; init; } = RhaiiMap<int>.Empty;
    public RhaiiList<string> Warnings { get; init; } = [];
    /// <summary>Up to 10,000 TTFT values (ms) sampled uniformly, for distributions in reports.</summary>
    public RhaiiList<double> TtftSampleMs { get; init; } = [];
    /// <summary>Every request, when -Detailed was given.</summary>
    public RhaiiList<InferenceRequestRecord>? Requests { get; init; }
    public RhaiiMap<string> Metadata { get; init; } = RhaiiMap<string>.Empty;
    public string? RequestLogPath { get; init; }
    public string? JsonPath { get; set; }
    public string? CsvPath { get; set; }
    /// <summary>Multi-model runs (-ModelMix): "overall" for the whole stage, "model" for one model's share of it; empty otherwise.</summary>
    public string Scope { get; set; } = "";
    /// <summary>
    /// Multi-model runs: requests answered by a server that does not serve the requested model (vLLM's 404
    /// "The model `x` does not exist."): the gateway sent them to the wrong pool. 0 when every request reached its model.
    /// </summary>
    public int Misrouted { get; set; }

    // Flat numeric latencies (ms) for Export-Csv, Select-Object and Sort-Object, as Az and AWS.Tools flatten their
    // results; the full statistics stay in Ttft, Tpot, Itl and E2el. Null when the stage had no sample.
    public double? TtftP50Ms => Flat(Ttft, Ttft.P50);
    public double? TtftP90Ms => Flat(Ttft, Ttft.P90);
    public double? TtftP99Ms => Flat(Ttft, Ttft.P99);
    public double? TpotP50Ms => Flat(Tpot, Tpot.P50);
    public double? TpotP90Ms => Flat(Tpot, Tpot.P90);
    public double? TpotP99Ms => Flat(Tpot, Tpot.P99);
    public double? ItlP50Ms => Flat(Itl, Itl.P50);
    public double? ItlP90Ms => Flat(Itl, Itl.P90);
    public double? ItlP99Ms => Flat(Itl, Itl.P99);
    public double? E2elP50Ms => Flat(E2el, E2el.P50);
    public double? E2elP90Ms => Flat(E2el, E2el.P90);
    public double? E2elP99Ms => Flat(E2el, E2el.P99);

    private static double? Flat(InferenceLatencyStats s, double? v) => s.Count > 0 ? v : null;

    /// <summary>The x value of this stage in charts: the rate for open-loop stages, else the concurrency.</summary>
    public double Load => double.IsInfinity(RequestRate) ? MaxConcurrency ?? 1 : RequestRate;

    public override string ToString() => $"{Label} {Stage}: {Completed} ok, {Failed} failed, {RequestThroughput:0.##} req/s, TTFT p50 {Ttft.Median:0.#} ms";
}

/// <summary>One metric of one result next to the baseline (<c>Compare-InferenceBenchmark</c>).</summary>
public sealed class InferenceBenchmarkComparison
{
    /// <summary>The stage compared (results are paired by stage name).</summary>
    public string Stage { get; init; } = "";
    public string Metric { get; init; } = "";
    /// <summary>Unit of the values: ms, req/s, tok/s, count, %.</summary>
    public string Unit { get; init; } = "";
    public string Baseline { get; init; } = "";
    public double BaselineValue { get; init; }
    public string Candidate { get; init; } = "";
    public double Value { get; init; }
    public double Delta => Value - BaselineValue;
    public double? DeltaPercent => BaselineValue == 0 ? null : (Value - BaselineValue) / Math.Abs(BaselineValue) * 100;
    /// <summary>Whether a higher value is better for this metric (throughputs) or lower (latencies).</summary>
    public bool HigherIsBetter { get; init; }
    /// <summary>Better, Worse or Same (within 1 %).</summary>
    public string Verdict => DeltaPercent is not { } d || Math.Abs(d) < 1 ? "Same" : (d > 0) == HigherIsBetter ? "Better" : "Worse";
}
