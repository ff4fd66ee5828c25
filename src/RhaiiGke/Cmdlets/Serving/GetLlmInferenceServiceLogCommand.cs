using System.Management.Automation;
using System.Threading.Channels;
using RhaiiGke.Cmdlets.Platform;
using RhaiiGke.Engine.Serving;

namespace RhaiiGke.Cmdlets.Serving;

/// <summary>
/// Reads the container logs of an LLMInferenceService's pods — vLLM, the storage-initializer, the EPP and the
/// gateway proxy — as typed lines (Pod, Container, Timestamp, Line), optionally following them across restarts.
/// </summary>
[Cmdlet(VerbsCommon.Get, "LlmInferenceServiceLog")]
[OutputType(typeof(LlmInferenceServiceLogLine))]
public sealed class GetLlmInferenceServiceLogCommand : RhaiiCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = Engine.Manifests.SpecFactory.DefaultNamespace;

    /// <summary>Which pods: Workload (vLLM), StorageInitializer, Scheduler (EPP), Gateway. Default Workload and Scheduler.</summary>
    [Parameter(Position = 1)]
    public LlmLogComponent[] Component { get; set; } = [LlmLogComponent.Workload, LlmLogComponent.Scheduler];

    /// <summary>Only these containers of the selected pods.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] Container { get; set; } = [];

    /// <summary>Only the last this many lines of each container.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int Tail { get; set; }

    /// <summary>Only lines newer than this (e.g. 00:10:00 for the last ten minutes).</summary>
    [Parameter]
    public TimeSpan Since { get; set; }

    /// <summary>Keep reading new lines until Ctrl+C, across container restarts; a deleted pod ends its stream.</summary>
    [Parameter]
    public SwitchParameter Follow { get; set; }

    /// <summary>The previous (terminated) instance of each container, e.g. the one that crashed.</summary>
    [Parameter]
    public SwitchParameter Previous { get; set; }

    [Parameter]
    [Alias("Connection")]
    public ClusterConnection? Cluster { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        if (Follow && Previous)
            throw new RhaiiException("FollowPreviousConflict", RhaiiErrorCategory.InvalidArgument,
                "-Follow and -Previous cannot be used together: the previous container instance has ended and writes no more lines.",
                "Use -Previous to read the instance that ended, or -Follow to read the running one as it writes.");
        if (MyInvocation.BoundParameters.ContainsKey(nameof(Since)) && Since <= TimeSpan.Zero)
            throw new RhaiiException("InvalidLogSince", RhaiiErrorCategory.InvalidArgument, $"-Since must be a positive duration, got {Since}.",
                "Give how far back to read, e.g. -Since 00:10:00 (ten minutes) or -Since (New-TimeSpan -Hours 1).");
        var connection = ClusterSession.Resolve(Cluster);
        var options = new ServiceLogOptions
        {
            Components = Component.Length == 0 ? [LlmLogComponent.Workload, LlmLogComponent.Scheduler] : Component,
            Containers = Container,
            Tail = MyInvocation.BoundParameters.ContainsKey(nameof(Tail)) ? Tail : null,
            Since = MyInvocation.BoundParameters.ContainsKey(nameof(Since)) ? DateTimeOffset.UtcNow - Since : null,
            Follow = Follow,
            Previous = Previous,
        };
        if (ClusterSession.IsLocal(connection)) options.PollInterval = TimeSpan.FromMilliseconds(100);
        var reader = new ServiceLogReader(connection, this);
        var sources = await reader.SourcesAsync(Namespace, Name, options, cancellationToken);
        if (sources.Count == 0)
        {
            WriteWarning($"LLMInferenceService {Namespace}/{Name} has no pods with {(Container.Length > 0 ? "container(s) " + string.Join(", ", Container) : "logs")} for {string.Join(", ", options.Components)}.");
            return;
        }
        WriteVerbose("Reading " + string.Join(", ", sources.Select(s => $"{s.Pod}/{s.Container}")));
        var channel = Channel.CreateUnbounded<LlmInferenceServiceLogLine>(new UnboundedChannelOptions { SingleReader = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var reading = reader.ReadAsync(Name, sources, options, channel.Writer, stop.Token);
        try
        {
            await foreach (var line in channel.Reader.ReadAllAsync(cancellationToken)) WriteObject(line);
        }
        finally
        {
            stop.Cancel();
            try { await reading; }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested || stop.IsCancellationRequested) { }
        }
    }
}
