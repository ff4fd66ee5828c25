using System.Text.Json.Nodes;
using RhaiiGke.Engine.Catalog;
using RhaiiGke.Engine.Manifests;
using static RhaiiGke.Engine.Serving.Diagnosis.ClusterSnapshot;

namespace RhaiiGke.Engine.Serving.Diagnosis;

/// <summary>
/// Multi-host TPU replicas (LeaderWorkerSets, as KServe creates for spec.worker): a group must take every host of
/// one slice, and one GKE multi-host node pool is one slice. Reports a group size that is not the slice's host
/// count (a partial slice, which the TPU runtime cannot initialise) and node pools smaller than the slice (the rest
/// of the group stays Pending), with the pool and its node count as evidence.
/// </summary>
internal sealed class MultiHostCheck : IDiagnosisCheck
{
    public string Id => "MultiHost";

    public IEnumerable<DiagnosisFinding> Run(ClusterSnapshot s)
    {
        var nodes = s.OfKind("Node").ToList();
        foreach (var lws in s.OfKind("LeaderWorkerSet"))
        {
            var lwt = lws["spec"]?["leaderWorkerTemplate"];
            var size = (int?)(lwt?["size"] as JsonValue)?.GetValue<long>() ?? 1;
            if (size <= 1) continue;
            var podSpec = lwt?["workerTemplate"]?["spec"] ?? lwt?["leaderTemplate"]?["spec"];
            var selector = StringMap(podSpec?["nodeSelector"]);
            if (!selector.TryGetValue(ManifestBuilder.TpuAcceleratorLabel, out var accel) || !selector.TryGetValue(ManifestBuilder.TpuTopologyLabel, out var topo)) continue;
            var chips = Diagnoser.TpuRequest(new JsonObject { ["spec"] = podSpec?.DeepClone() });
            var slice = TpuCatalog.All.Where(t => t.NodeLabel == accel && t.Topology == topo && (chips == 0 || t.ChipsPerHost == chips)).OrderByDescending(t => t.Hosts).FirstOrDefault();
            if (slice is null) continue;
            if (slice.Hosts != size)
            {
                yield return Diagnoser.Finding("MultiHostGroupSizeMismatch", FindingSeverity.Error, lws,
                    $"Each group has {size} pod(s) but a {accel} {topo} slice of {slice.MachineType} has {slice.Hosts} host(s): a group must take every host of one slice (the TPU runtime initialises the whole slice), so a partial group never serves.",
                    $"Set the group size to {slice.Hosts} (LLMInferenceService spec.parallelism.pipeline, or leaderWorkerTemplate.size), or use the topology whose slice has {size} host(s) (Get-TpuTopology -Accelerator {TpuCatalog.NormalizeAccelerator(accel)}).");
                continue;
            }
            var pools = nodes.Where(n => Labels(n).GetValueOrDefault(ManifestBuilder.TpuAcceleratorLabel) == accel && Labels(n).GetValueOrDefault(ManifestBuilder.TpuTopologyLabel) == topo)
                .GroupBy(n => Labels(n).GetValueOrDefault(MultiHostManifests.SliceTopologyKey) ?? "?")
                .Select(g => (Pool: g.Key, Nodes: g.Count())).ToList();
            if (pools.Count > 0 && pools.All(p => p.Nodes < size))
            {
                var largest = pools.OrderByDescending(p => p.Nodes).First();
                yield return Diagnoser.Finding("MultiHostPoolSmallerThanSlice", FindingSeverity.Error, lws,
                    $"A group needs {size} {accel} {topo} hosts, but the largest matching node pool ({largest.Pool}) has {largest.Nodes} node(s); the rest of the group stays Pending and the leader never serves.",
                    $"Give the pool all {size} nodes of the slice (a multi-host pool is atomic: create it with {slice.MachineType} and placementPolicy.tpuTopology {topo}, e.g. New-TpuCluster -Topology {topo}), or deploy on a topology the pool holds.",
                    pools.Select(p => $"node pool {p.Pool}: {p.Nodes} node(s) of {accel} {topo}"));
            }
        }
    }
}
