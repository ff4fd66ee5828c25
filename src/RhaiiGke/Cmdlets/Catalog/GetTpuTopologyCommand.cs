using System.Management.Automation;
using RhaiiGke.Completers;
using RhaiiGke.Engine.Catalog;

namespace RhaiiGke.Cmdlets.Catalog;

/// <summary>Lists valid TPU slices on GKE, or sizes a model against them.</summary>
[Cmdlet(VerbsCommon.Get, "TpuTopology", DefaultParameterSetName = ListSet)]
[OutputType(typeof(TpuTopology), ParameterSetName = [ListSet])]
[OutputType(typeof(TpuModelFit), ParameterSetName = [SizeSet])]
public sealed class GetTpuTopologyCommand : RhaiiCmdlet
{
    private const string ListSet = "List";
    private const string SizeSet = "Size";

    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(AcceleratorCompleter))]
    public string? Accelerator { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(MachineTypeCompleter))]
    public string? MachineType { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(TopologyCompleter))]
    public string? Topology { get; set; }

    [Parameter(ParameterSetName = SizeSet, ValueFromPipelineByPropertyName = true)]
    [Alias("ModelName")]
    [ArgumentCompleter(typeof(ModelCompleter))]
    public string? Model { get; set; }

    [Parameter(ParameterSetName = SizeSet)]
    [ValidateRange(0.01, 10000)]
    public double ParameterCount { get; set; }

    [Parameter(ParameterSetName = SizeSet)]
    [ValidateSet("bfloat16", "float16", "float32", "int8", "fp8")]
    public string DType { get; set; } = "bfloat16";

    [Parameter(ParameterSetName = SizeSet)]
    [ValidateRange(128, 1048576)]
    public int MaxModelLength { get; set; } = 4096;

    [Parameter(ParameterSetName = SizeSet)]
    [ValidateRange(1, 4096)]
    public int ConcurrentSequences { get; set; } = 16;

    /// <summary>Only the slices that hold the model.</summary>
    [Parameter(ParameterSetName = SizeSet)]
    public SwitchParameter FitOnly { get; set; }

    protected override Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        if (ParameterSetName == ListSet)
        {
            // NVIDIA GPUs (-Accelerator nvidia-l4, ...): the GPU machine types, Topology being the GPU count
            var rows = GpuCatalog.IsGpu(Accelerator)
                ? GpuCatalog.Find(Accelerator, MachineType, GpuCatalog.CountOf(Topology)).ToList()
                : TpuCatalog.Find(Accelerator, MachineType, Topology).ToList();
            if (rows.Count == 0)
                WriteError(new RhaiiException("TpuTopologyNotFound", RhaiiErrorCategory.ObjectNotFound,
                    $"No TPU slice matches accelerator '{Accelerator}', machine type '{MachineType}', topology '{Topology}'.",
                    "Run Get-TpuTopology without filters to list every valid combination.", Topology ?? MachineType ?? Accelerator));
            foreach (var t in rows) WriteObject(t);
            return Task.CompletedTask;
        }

        if (string.IsNullOrWhiteSpace(Model) && !MyInvocation.BoundParameters.ContainsKey(nameof(ParameterCount)))
            Fail("ModelOrParameterCountRequired", RhaiiErrorCategory.InvalidArgument,
                "Sizing needs -Model (a known model id) or -ParameterCount (billions).", "Add -Model Qwen/Qwen2.5-3B-Instruct or -ParameterCount 3.1.");

        var fits = TpuSizer.Size(new TpuSizer.Request(Model,
            MyInvocation.BoundParameters.ContainsKey(nameof(ParameterCount)) ? ParameterCount : null,
            DType, MaxModelLength, ConcurrentSequences, 0.9, Accelerator));
        foreach (var f in fits)
        {
            if (MachineType is not null && !string.Equals(f.MachineType, MachineType, StringComparison.OrdinalIgnoreCase)) continue;
            if (Topology is not null && !string.Equals(f.TopologyName, Topology, StringComparison.OrdinalIgnoreCase)) continue;
            if (FitOnly && !f.Fits) continue;
            WriteObject(f);
        }
        return Task.CompletedTask;
    }
}
