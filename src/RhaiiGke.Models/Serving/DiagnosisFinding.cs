namespace RhaiiGke;

/// <summary>
/// One problem Get-RhaiiDiagnosis found on a cluster: the symptom a person would see, the evidence
/// read from the cluster (events, conditions, container states), and the fix.
/// </summary>
public sealed class DiagnosisFinding
{
    /// <summary>Stable check identifier such as <c>TpuPodUnschedulable</c>; safe to switch on.</summary>
    public string CheckId { get; init; } = "";

    public FindingSeverity Severity { get; init; }

    /// <summary>The object the finding is about.</summary>
    public string Kind { get; init; } = "";
    public string? Namespace { get; init; }
    public string Name { get; init; } = "";

    /// <summary>What is wrong, in one sentence.</summary>
    public string Message { get; init; } = "";

    /// <summary>What was read from the cluster that shows it (event messages, conditions, states).</summary>
    public RhaiiList<string> Evidence { get; init; } = [];

    /// <summary>The concrete change that resolves it.</summary>
    public string Fix { get; init; } = "";

    public string Object => Namespace is null ? $"{Kind}/{Name}" : $"{Kind}/{Namespace}/{Name}";

    public override string ToString() => $"{CheckId} {Severity} {Object}: {Message}";
}
