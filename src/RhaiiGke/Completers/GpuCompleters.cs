using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using RhaiiGke.Engine.Catalog;

namespace RhaiiGke.Completers;

/// <summary>Completes the NVIDIA GPUs of the catalog (Compute accelerator types).</summary>
public sealed class GpuAcceleratorCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters) =>
        CompletionHelper.Complete(GpuCatalog.AcceleratorNames, wordToComplete, v => $"{v} ({GpuCatalog.MemoryGiB(v)} GiB per GPU)");
}

/// <summary>Completes GPU machine types, narrowed by a bound -Accelerator (or -GpuAccelerator).</summary>
public sealed class GpuMachineTypeCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var acc = GpuCatalog.Normalize(CompletionHelper.Bound(fakeBoundParameters, "Accelerator") ?? CompletionHelper.Bound(fakeBoundParameters, "GpuAccelerator"));
        var rows = GpuCatalog.Find(acc).ToList();
        return CompletionHelper.Complete(rows.Select(t => t.MachineType), wordToComplete,
            v => rows.First(r => r.MachineType == v) is var r ? $"{r.MachineType}: {r.ChipsPerHost} x {r.Accelerator}" : v);
    }
}
