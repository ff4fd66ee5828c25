using System.Management.Automation;
using RhaiiGke.Cmdlets.Platform;
using RhaiiGke.Engine.Serving.Diagnosis;

namespace RhaiiGke.Cmdlets.Serving;

/// <summary>
/// Commands that look at cluster state: live through a connection (the session default, -Cluster or a
/// piped connection), or offline from kubectl dumps (-Path).
/// </summary>
public abstract class SnapshotCommandBase : RhaiiCmdlet
{
    protected const string ClusterSet = "Cluster";
    protected const string DumpSet = "Dump";
    private readonly List<string> _files = [];

    /// <summary>The cluster; defaults to the session's (Connect-RhaiiCluster, Start-RhaiiSandbox).</summary>
    [Parameter(ParameterSetName = ClusterSet, ValueFromPipeline = true)]
    [Alias("Connection")]
    public ClusterConnection? Cluster { get; set; }

    /// <summary>Files or folders of `kubectl get ... -o json|yaml` output (a support bundle).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = DumpSet)]
    [Alias("FullName")]
    public string[] Path { get; set; } = [];

    /// <summary>Runs the command's checks on one snapshot.</summary>
    protected abstract void Evaluate(ClusterSnapshot snapshot);

    /// <summary>Live mode: the snapshot plus the connection it came from, for checks that send traffic.</summary>
    protected virtual Task EvaluateLiveAsync(ClusterSnapshot snapshot, ClusterConnection connection, CancellationToken cancellationToken)
    {
        Evaluate(snapshot);
        return Task.CompletedTask;
    }

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        if (ParameterSetName == DumpSet)
        {
            foreach (var p in Path) _files.AddRange(SnapshotLoader.Expand(GetResolvedProviderPathFromPSPath(p, out _)));
            return;
        }
        var connection = ClusterSession.Resolve(Cluster);
        WriteVerbose($"Reading cluster state from {connection.Server}.");
        var snapshot = await ClusterSnapshotReader.ReadAsync(connection, this, cancellationToken);
        ReportProgress(1, "Reading cluster state", "done", 100, completed: true);
        await EvaluateLiveAsync(snapshot, connection, cancellationToken);
    }

    protected override Task EndProcessingAsync(CancellationToken cancellationToken)
    {
        if (ParameterSetName != DumpSet) return Task.CompletedTask;
        if (_files.Count == 0)
            Fail("ClusterDumpEmpty", RhaiiErrorCategory.ObjectNotFound, "No JSON or YAML files were found to read.",
                "Point -Path at files or a folder written by kubectl get <kinds> -A -o json.");
        WriteVerbose($"Reading {_files.Count} file(s).");
        Evaluate(SnapshotLoader.FromFiles(_files));
        return Task.CompletedTask;
    }
}
