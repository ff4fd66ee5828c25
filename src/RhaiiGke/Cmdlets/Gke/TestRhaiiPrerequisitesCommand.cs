using System.Management.Automation;
using RhaiiGke.Completers;
using RhaiiGke.Engine.Gke;

namespace RhaiiGke.Cmdlets.Gke;

/// <summary>Typed preflight: credentials, project, APIs, accelerator in zone, machine type/topology, TPU quota; and an existing cluster.</summary>
[Cmdlet(VerbsDiagnostic.Test, "RhaiiPrerequisites", DefaultParameterSetName = ParametersSet)]
[OutputType(typeof(TestRhaiiPrerequisitesResult))]
public sealed class TestRhaiiPrerequisitesCommand : GkeCmdlet
{
    private const string ParametersSet = "Parameters";
    private const string SpecSet = "Spec";

    [Parameter(ParameterSetName = ParametersSet, ValueFromPipelineByPropertyName = true)]
    [Alias("Location")]
    public string? Zone { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    [ArgumentCompleter(typeof(AcceleratorCompleter))]
    public string? Accelerator { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    [ArgumentCompleter(typeof(TopologyCompleter))]
    public string? Topology { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    [ArgumentCompleter(typeof(MachineTypeCompleter))]
    public string? MachineType { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    [ValidateRange(0, 1000)]
    public int InitialNodeCount { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    [ValidateRange(0, 1000)]
    public int MaxNodes { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    public SwitchParameter Spot { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    public string? Reservation { get; set; }

    /// <summary>An existing cluster to check as well (in -Zone).</summary>
    [Parameter(ParameterSetName = ParametersSet)]
    public string? Cluster { get; set; }

    /// <summary>Service Usage API base URL (default https://serviceusage.googleapis.com/, env RHAII_SERVICEUSAGE_ENDPOINT).</summary>
    [Parameter]
    public string? ServiceUsageEndpoint { get; set; }

    /// <summary>Check a planned cluster spec (as New-TpuCluster -Spec takes it).</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = SpecSet)]
    public TpuClusterSpec? Spec { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        var request = Spec is { } s
            ? new PrerequisiteRequest
            {
                Project = Project ?? (string.IsNullOrEmpty(s.Project) ? null : s.Project),
                Zone = s.Zone,
                Accelerator = s.Accelerator,
                Topology = s.Topology,
                MachineType = s.MachineType,
                InitialNodes = s.InitialNodeCount,
                MaxNodes = s.MaxNodes,
                Spot = s.Spot,
                Reservation = s.Reservation,
            }
            : new PrerequisiteRequest
            {
                Project = Project,
                Zone = Zone,
                Accelerator = Accelerator ?? (Topology is not null || MachineType is not null ? "v6e" : null),
                Topology = Topology,
                MachineType = MachineType,
                InitialNodes = InitialNodeCount,
                MaxNodes = MaxNodes,
                Spot = Spot,
                Reservation = Reservation,
                Cluster = Cluster,
            };
        using var session = ServiceUsageEndpoint is null ? null : OpenSession(o => o.ServiceUsageEndpoint = ServiceUsageEndpoint);
        var result = await new PrerequisiteService(session ?? Session).RunAsync(request, cancellationToken);
        foreach (var c in result.Checks)
            WriteVerbose($"{c.Status}: {c.Name}: {c.Message}");
        WriteObject(result);
    }
}
