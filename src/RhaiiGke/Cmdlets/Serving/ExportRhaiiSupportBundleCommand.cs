using System.Management.Automation;
using RhaiiGke.Cmdlets.Platform;
using RhaiiGke.Engine.Serving.Diagnosis;

namespace RhaiiGke.Cmdlets.Serving;

/// <summary>
/// Writes what Get-RhaiiDiagnosis reads, plus recent logs, a metrics scrape and the operator status, into one
/// zip for offline diagnosis or a support case. Secret values never enter it: Secrets keep their key names only.
/// </summary>
[Cmdlet(VerbsData.Export, "RhaiiSupportBundle", SupportsShouldProcess = true)]
[OutputType(typeof(SupportBundle))]
public sealed class ExportRhaiiSupportBundleCommand : RhaiiCmdlet
{
    /// <summary>The zip to write.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>Lines per container log (default 500).</summary>
    [Parameter]
    [ValidateRange(1, 100_000)]
    public int TailLines { get; set; } = 500;

    /// <summary>Replace an existing file.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    [Parameter(ValueFromPipeline = true)]
    [Alias("Connection")]
    public ClusterConnection? Cluster { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        var path = GetUnresolvedProviderPathFromPSPath(Path);
        if (File.Exists(path) && !Force)
            throw new RhaiiException("SupportBundleExists", RhaiiErrorCategory.ResourceExists, $"'{path}' already exists.",
                "Give another -Path, or add -Force to replace it.", path);
        if (Directory.Exists(path))
            throw new RhaiiException("SupportBundlePathIsFolder", RhaiiErrorCategory.InvalidArgument, $"'{path}' is a folder.",
                "Give a file name, e.g. -Path ./rhaii-support.zip.", path);
        var connection = ClusterSession.Resolve(Cluster);
        if (!ShouldProcess(path, $"Write a support bundle of {connection.Server}")) return;
        var bundle = await SupportBundleWriter.WriteAsync(connection, path, TailLines, this, cancellationToken);
        ReportProgress(1, "Reading cluster state", "done", 100, completed: true);
        ReportProgress(1, "Collecting logs", "done", 100, completed: true);
        WriteObject(bundle);
    }
}
