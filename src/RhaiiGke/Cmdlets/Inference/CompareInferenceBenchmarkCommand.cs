using System.Management.Automation;
using RhaiiGke.Engine.Inference;

namespace RhaiiGke.Cmdlets.Inference;

/// <summary>Puts benchmark results side by side with deltas against a reference.</summary>
[Cmdlet(VerbsData.Compare, "InferenceBenchmark")]
[OutputType(typeof(InferenceBenchmarkComparison))]
public sealed class CompareInferenceBenchmarkCommand : RhaiiCmdlet
{
    private readonly List<InferenceBenchmarkResult> _difference = [];

    [Parameter(Mandatory = true, Position = 0)]
    [Alias("Baseline")]
    public InferenceBenchmarkResult[] ReferenceResult { get; set; } = [];

    [Parameter(Mandatory = true, Position = 1, ValueFromPipeline = true)]
    [Alias("Candidate")]
    public InferenceBenchmarkResult[] DifferenceResult { get; set; } = [];

    [Parameter]
    public string[] Metric { get; set; } = [];

    protected override Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        _difference.AddRange(DifferenceResult.Where(r => r is not null));
        return Task.CompletedTask;
    }

    protected override Task EndProcessingAsync(CancellationToken cancellationToken)
    {
        foreach (var row in BenchmarkComparer.Compare(ReferenceResult, _difference, Metric)) WriteObject(row);
        return Task.CompletedTask;
    }
}
