using System.Management.Automation;
using RhaiiGke.Engine.Inference;

namespace RhaiiGke.Cmdlets.Inference;

/// <summary>Writes benchmark results as a self-contained HTML report with charts.</summary>
[Cmdlet(VerbsData.Export, "InferenceBenchmarkReport", SupportsShouldProcess = true)]
[OutputType(typeof(FileInfo))]
public sealed class ExportInferenceBenchmarkReportCommand : RhaiiCmdlet
{
    private readonly List<InferenceBenchmarkResult> _results = [];

    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public InferenceBenchmarkResult[] InputObject { get; set; } = [];

    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    [Parameter]
    public string Title { get; set; } = "Inference benchmark";

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        _results.AddRange(InputObject.Where(r => r is not null));
        return Task.CompletedTask;
    }

    protected override async Task EndProcessingAsync(CancellationToken cancellationToken)
    {
        var path = GetUnresolvedProviderPathFromPSPath(Path);
        var html = BenchmarkReport.Render(_results, Title);
        if (!ShouldProcess(path, $"Write an HTML report of {_results.Count} benchmark stage(s)")) return;
        var dir = System.IO.Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        await File.WriteAllTextAsync(path, html, cancellationToken);
        if (PassThru) WriteObject(new FileInfo(path));
    }
}
