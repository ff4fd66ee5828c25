namespace RhaiiGke;

/// <summary>Outcome of one verification step.</summary>
public enum CheckStatus
{
    Passed,
    Warning,
    Failed,
    Skipped,
}

/// <summary>One typed verification step of Test-RhaiiDeployment.</summary>
public sealed class DeploymentCheck
{
    /// <summary>Stable name such as <c>ServiceReady</c> or <c>InferencePoolBound</c>.</summary>
    public string Name { get; init; } = "";
    public CheckStatus Status { get; init; }
    /// <summary>What was checked, e.g. <c>HTTPRoute/demo/qwen-kserve-route</c>.</summary>
    public string Target { get; init; } = "";
    public string Detail { get; init; } = "";
    public string? Fix { get; init; }
    public bool Passed => Status is CheckStatus.Passed or CheckStatus.Warning or CheckStatus.Skipped;
    public override string ToString() => $"{Status} {Name} {Target}: {Detail}";
}

/// <summary>Everything Test-RhaiiDeployment verified for one LLMInferenceService.</summary>
public sealed class TestRhaiiDeploymentResult
{
    public string Namespace { get; init; } = "";
    public string Name { get; init; } = "";
    /// <summary>True when no check failed; scripts gate on this.</summary>
    public bool Passed => Checks.All(c => c.Passed);
    public RhaiiList<DeploymentCheck> Checks { get; init; } = [];
    public int FailedCount => Checks.Count(c => !c.Passed);
    public RhaiiList<string> Failed => Checks.Where(c => !c.Passed).Select(c => c.Name).ToArray();
    public override string ToString() => $"{Namespace}/{Name}: {(Passed ? "passed" : "failed: " + string.Join(", ", Failed))}";
}
