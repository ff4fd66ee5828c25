namespace RhaiiGke;

public enum PrerequisiteStatus
{
    Passed,
    Warning,
    Failed,
    Skipped,
}

/// <summary>One typed preflight check (<c>Test-RhaiiPrerequisites</c>).</summary>
public sealed class PrerequisiteCheck
{
    /// <summary>Stable check name: Credentials, Project, ApiEnabled:container.googleapis.com, AcceleratorInZone, ...</summary>
    public string Name { get; init; } = "";
    public PrerequisiteStatus Status { get; init; }
    public string Message { get; init; } = "";
    public string? RecommendedAction { get; init; }
    /// <summary>Extra facts, e.g. quota limit and usage or zones offering the accelerator.</summary>
    public RhaiiMap<object?> Data { get; init; } = RhaiiMap<object?>.Empty;

    public bool Passed => Status is PrerequisiteStatus.Passed or PrerequisiteStatus.Warning or PrerequisiteStatus.Skipped;

    public override string ToString() => $"{Status,-7} {Name}: {Message}";
}

/// <summary>The summary of a preflight; gate scripts on <see cref="Passed"/>.</summary>
public sealed class TestRhaiiPrerequisitesResult
{
    public bool Passed => Checks.All(c => c.Passed);
    public string? Project { get; init; }
    public string? Zone { get; init; }
    public string? Accelerator { get; init; }
    public string? Topology { get; init; }
    public string? MachineType { get; init; }
    /// <summary>Chips the plan may use at its maximum size.</summary>
    public int ChipsRequired { get; init; }
    public string? Cluster { get; init; }
    public RhaiiList<PrerequisiteCheck> Checks { get; init; } = [];
    public RhaiiList<PrerequisiteCheck> Failures => Checks.Where(c => c.Status == PrerequisiteStatus.Failed).ToList();
    public RhaiiList<PrerequisiteCheck> Warnings => Checks.Where(c => c.Status == PrerequisiteStatus.Warning).ToList();

    public override string ToString() => $"Passed={Passed} ({Checks.Count} checks, {Failures.Count} failed, {Warnings.Count} warnings)";
}
