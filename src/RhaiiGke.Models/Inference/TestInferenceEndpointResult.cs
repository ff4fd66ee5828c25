namespace RhaiiGke;

/// <summary>Outcome of one check of <c>Test-InferenceEndpoint</c>.</summary>
public enum InferenceCheckStatus
{
    Passed,
    Warning,
    Failed,
    Skipped,
}

/// <summary>One check: health, models, completion, chat, streaming, usage, finish_reason, metrics.</summary>
public sealed class InferenceEndpointCheck
{
    /// <summary>Stable name: Health, Models, Completion, ChatCompletion, StreamingFraming, StreamingUsage, FinishReason, Metrics, PodIdentity, CachedTokens.</summary>
    public string Name { get; init; } = "";
    public InferenceCheckStatus Status { get; init; }
    public bool Passed => Status is InferenceCheckStatus.Passed or InferenceCheckStatus.Warning or InferenceCheckStatus.Skipped;
    public string Detail { get; init; } = "";
    public double DurationMs { get; init; }
    /// <summary>HTTP status of the request behind the check, 0 when none was made or it never answered.</summary>
    public int StatusCode { get; init; }

    public override string ToString() => $"{Name}: {Status} {Detail}";
}

/// <summary>Result of <c>Test-InferenceEndpoint</c>: a typed result per check and an overall verdict.</summary>
public sealed class TestInferenceEndpointResult
{
    public string BaseUrl { get; init; } = "";
    public string Model { get; init; } = "";
    /// <summary>True when no check failed (warnings and skips do not fail the endpoint).</summary>
    public bool Passed => Checks.All(c => c.Passed);
    public RhaiiList<InferenceEndpointCheck> Checks { get; init; } = [];
    public RhaiiList<string> FailedChecks => Checks.Where(c => !c.Passed).Select(c => c.Name).ToArray();
    /// <summary>Time the first completion took, including a warm-up (XLA compilation) if any.</summary>
    public double FirstRequestMs { get; init; }
    /// <summary>Replica names seen in x-inference-pod headers (simulators and some gateways send them).</summary>
    public RhaiiList<string> Pods { get; init; } = [];
    public double DurationMs { get; init; }
    public DateTimeOffset Timestamp { get; init; }

    public override string ToString() => $"{BaseUrl} {(Passed ? "Passed" : "Failed: " + string.Join(",", FailedChecks))}";
}
