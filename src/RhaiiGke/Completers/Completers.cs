using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using RhaiiGke.Engine.Catalog;

namespace RhaiiGke.Completers;

internal static class CompletionHelper
{
    public static IEnumerable<CompletionResult> Complete(IEnumerable<string> values, string word, Func<string, string>? tooltip = null)
    {
        var prefix = (word ?? "").Trim('\'', '"');
        foreach (var v in values.Distinct(StringComparer.OrdinalIgnoreCase))
            if (v.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                yield return new CompletionResult(v, v, CompletionResultType.ParameterValue, tooltip?.Invoke(v) ?? v);
    }

    public static string? Bound(IDictionary fakeBoundParameters, string name) =>
        fakeBoundParameters is not null && fakeBoundParameters.Contains(name) ? fakeBoundParameters[name]?.ToString() : null;
}

/// <summary>Completes TPU generations (v6e, v5e, v5p) and GKE label values.</summary>
public sealed class AcceleratorCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters) =>
        CompletionHelper.Complete(TpuCatalog.AcceleratorNames.Concat(GpuCatalog.AcceleratorNames), wordToComplete,
            v => TpuCatalog.NodeLabelFor(v) is { } l ? $"{TpuCatalog.NormalizeAccelerator(v)} (node label {l})" : v);
}

/// <summary>Completes topologies, narrowed by an already bound -Accelerator and -MachineType.</summary>
public sealed class TopologyCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var acc = TpuCatalog.NormalizeAccelerator(CompletionHelper.Bound(fakeBoundParameters, "Accelerator"));
        var machine = CompletionHelper.Bound(fakeBoundParameters, "MachineType");
        var rows = TpuCatalog.Find(acc, machine).ToList();
        return CompletionHelper.Complete(rows.Select(t => t.Topology), wordToComplete,
            v => string.Join("; ", rows.Where(r => r.Topology == v).Select(r => $"{r.Accelerator} {r.MachineType}: {r.Chips} chips, {r.Hosts} host(s)")));
    }
}

/// <summary>Completes TPU machine types, narrowed by -Accelerator.</summary>
public sealed class MachineTypeCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var bound = CompletionHelper.Bound(fakeBoundParameters, "Accelerator");
        if (GpuCatalog.IsGpu(bound)) return CompletionHelper.Complete(GpuCatalog.Find(bound).Select(t => t.MachineType), wordToComplete);
        var acc = TpuCatalog.NormalizeAccelerator(bound);
        return CompletionHelper.Complete(TpuCatalog.Find(acc).Select(t => t.MachineType), wordToComplete);
    }
}

/// <summary>Completes model ids the sizing catalog knows.</summary>
public sealed class ModelCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var word = (wordToComplete ?? "").Trim('\'', '"');
        var withScheme = word.StartsWith("hf://", StringComparison.OrdinalIgnoreCase) || parameterName == "Model" && commandName.Contains("Spec", StringComparison.OrdinalIgnoreCase);
        var values = ModelCatalog.Known.Select(m => withScheme ? "hf://" + m.Id : m.Id);
        return CompletionHelper.Complete(values, word, v => ModelCatalog.Find(v) is { } m ? $"{m.Id}: {m.ParametersBillions}B parameters" : v);
    }
}
