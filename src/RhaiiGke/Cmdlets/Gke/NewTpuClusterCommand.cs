using System.Management.Automation;
using RhaiiGke.Completers;
using RhaiiGke.Engine.Gke;

namespace RhaiiGke.Cmdlets.Gke;

/// <summary>Creates (or adopts) a GKE cluster with a TPU node pool; idempotent and resumable.</summary>
[Cmdlet(VerbsCommon.New, "TpuCluster", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ParametersSet)]
[OutputType(typeof(TpuCluster))]
[OutputType(typeof(GkeJob))]
public sealed class NewTpuClusterCommand : NewAcceleratorClusterCommand
{
    public NewTpuClusterCommand() : base("tpu-pool") { }

    [Parameter(ParameterSetName = ParametersSet)]
    [ArgumentCompleter(typeof(AcceleratorCompleter))]
    public string Accelerator { get; set; } = "v6e";

    [Parameter(ParameterSetName = ParametersSet)]
    [ArgumentCompleter(typeof(TopologyCompleter))]
    public string Topology { get; set; } = "2x2";

    [Parameter(ParameterSetName = ParametersSet)]
    [ArgumentCompleter(typeof(MachineTypeCompleter))]
    public string? MachineType { get; set; }

    protected override string PoolKind => "TPU";

    protected override void SetAcceleratorFields(TpuClusterSpec spec)
    {
        spec.Accelerator = Accelerator;
        spec.Topology = Topology;
        spec.MachineType = MachineType;
    }
}
