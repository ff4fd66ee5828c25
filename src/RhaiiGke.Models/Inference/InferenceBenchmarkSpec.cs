namespace RhaiiGke;

/// <summary>Load shapes of <c>Invoke-InferenceBenchmark</c> (GuideLLM's vocabulary).</summary>
public enum InferenceBenchmarkProfile
{
    /// <summary>One request at a time.</summary>
    Synchronous,
    /// <summary>Closed loop: N requests in flight at all times, one stage per level.</summary>
    Concurrent,
    /// <summary>Open loop at a fixed interval, one stage per rate.</summary>
    Constant,
    /// <summary>Open loop with gamma-distributed gaps (burstiness 1 = Poisson), one stage per rate.</summary>
    Poisson,
    /// <summary>Synchronous, then maximum throughput, then constant rates in between; finds the highest rate meeting the SLOs.</summary>
    Sweep,
    /// <summary>The runbooks' baseline/serial/light/medium/heavy tiers: concurrency 1, 1, 5, 10, 20.</summary>
    RunbookTiers,
}

/// <summary>Where prompts come from.</summary>
public enum InferenceDatasetKind
{
    /// <summary>Random words with exact token lengths (± range ratio) and an optional shared prefix.</summary>
    Random,
    /// <summary>Groups of long shared prefixes followed by unique suffixes, shuffled (vLLM prefix_repetition).</summary>
    SharedPrefix,
    /// <summary>A JSONL file: {"prompt": ...}, {"messages": [...]}, or ShareGPT {"conversations": [...]}, optional "output_tokens".</summary>
    File,
}

/// <summary>Which OpenAI API the benchmark calls.</summary>
public enum InferenceApi
{
    Chat,
    Completions,
}

/// <summary>Everything <c>Invoke-InferenceBenchmark</c> needs; times in milliseconds unless named otherwise.</summary>
public sealed class InferenceBenchmarkSpec
{
    public string BaseUrl { get; set; } = "";
    /// <summary>Model name; empty = the first model from /v1/models.</summary>
    public string? Model { get; set; }
    public InferenceApi Api { get; set; } = InferenceApi.Chat;
    /// <summary>Bearer token; never written to output, logs or files (server text that echoes it is redacted).</summary>
    public System.Security.SecureString? ApiKey { get; set; }
    /// <summary>Send the API key over plain http to a non-loopback host (refused otherwise).</summary>
    public bool AllowUnencryptedAuthentication { get; set; }
    public InferenceBenchmarkProfile Profile { get; set; } = InferenceBenchmarkProfile.Concurrent;
    /// <summary>Concurrency levels (Concurrent); the highest also sets the Sweep's throughput stage.</summary>
    public int[] Concurrency { get; set; } = [1];
    /// <summary>Cap on requests in flight for open-loop stages (vLLM --max-concurrency); null = none.</summary>
    public int? MaxConcurrency { get; set; }
    /// <summary>Requests per second (Constant, Poisson).</summary>
    public double[] Rates { get; set; } = [1];
    /// <summary>Gamma shape of the arrival gaps: 1 = Poisson, &lt;1 burstier.</summary>
    public double Burstiness { get; set; } = 1;
    /// <summary>Requests per stage (not counting warm-up).</summary>
    public int NumPrompts { get; set; } = 200;
    /// <summary>Optional time limit per stage; requests not sent by then are not sent.</summary>
    public TimeSpan? MaxDuration { get; set; }
    public InferenceDatasetKind Dataset { get; set; } = InferenceDatasetKind.Random;
    public int InputTokens { get; set; } = 256;
    public int OutputTokens { get; set; } = 128;
    /// <summary>Lengths vary uniformly within ± this fraction (vLLM --random-range-ratio).</summary>
    public double RangeRatio { get; set; }
    /// <summary>Random: tokens of a prefix shared by every prompt. SharedPrefix: tokens of each group's prefix.</summary>
    public int PrefixTokens { get; set; }
    /// <summary>SharedPrefix: number of distinct prefixes (groups).</summary>
    public int NumPrefixes { get; set; } = 10;
    public string? DatasetPath { get; set; }
    /// <summary>Seed of the dataset and arrival schedule; vary it to avoid measuring a warm cache.</summary>
    public int Seed { get; set; }
    public bool Streaming { get; set; } = true;
    /// <summary>Send ignore_eos so every answer has exactly the requested output tokens.</summary>
    public bool IgnoreEos { get; set; } = true;
    /// <summary>Requests sent before timing starts, excluded from every figure.</summary>
    public int Warmups { get; set; } = 1;
    /// <summary>How long the first warm-up request may take (TPU XLA compilation).</summary>
    public TimeSpan WarmupTimeout { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary>Time limit of one request.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary>SLOs in ms by metric: ttft, tpot, itl, e2el, ntpot. A request meets them when every value is ≤ its limit.</summary>
    public Dictionary<string, double> Slo { get; set; } = new(StringComparer.OrdinalIgnoreCase);
    /// <summary>Fraction of requests that must meet every SLO for a stage to count as meeting them (Sweep).</summary>
    public double SloAttainment { get; set; } = 0.99;
    public double[] Percentiles { get; set; } = [50, 90, 95, 99];
    /// <summary>Sweep: constant-rate stages between the synchronous and the maximum rate.</summary>
    public int SweepSteps { get; set; } = 5;
    /// <summary>JSONL file each finished request is appended to as it completes.</summary>
    public string? RequestLogPath { get; set; }
    public string Label { get; set; } = "rhaii";
    /// <summary>Keep every request record on the result (memory grows with the run).</summary>
    public bool Detailed { get; set; }
    /// <summary>Accept any TLS certificate (self-signed gateways in test clusters).</summary>
    public bool SkipCertificateCheck { get; set; }
    public Dictionary<string, string> Metadata { get; set; } = new();
    /// <summary>
    /// Multi-model runs: served model name → relative weight. Each request's model is drawn by weight (seeded),
    /// the body carries it (one shared URL routes by it), and every stage reports overall plus one result per model.
    /// Null or empty: every request uses <see cref="Model"/>.
    /// </summary>
    public IReadOnlyDictionary<string, double>? ModelMix { get; set; }
}
