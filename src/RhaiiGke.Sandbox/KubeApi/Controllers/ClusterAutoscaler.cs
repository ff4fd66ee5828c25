using System.Text.Json.Nodes;
using RhaiiGke.Sandbox.Protocol;

namespace RhaiiGke.Sandbox.KubeApi.Controllers;

/// <summary>
/// The cluster autoscaler of a GKE cluster, as far as a pending pod sees it. An unschedulable pod that a new node of
/// some autoscaled group would fit (node selector and affinity, taints, the resources of an empty node) grows the
/// first such group below its maximum by what the pending pods of that group need (whole slices for multi-host TPU
/// pools), with a <c>TriggeredScaleUp</c> event on the pod naming the group, its old and new size and its maximum.
/// A pod no group can take gets <c>NotTriggerScaleUp</c> with the reasons per group (max node group size reached,
/// didn't match the node selector, untolerated taint, insufficient resource), re-reported while it stays pending, as
/// the real autoscaler does every scan. Scale-down of idle nodes is not simulated.
/// </summary>
internal sealed class ClusterAutoscaler(ControllerManager m) : SimController(m)
{
    private const string Component = "cluster-autoscaler";
    // group → the size asked for and not yet reached (one scale-up in flight per group, as the autoscaler tracks it)
    private readonly Dictionary<string, int> _requested = new(StringComparer.Ordinal);

    protected override string Name => Component;

    public override void OnEvent(WatchEvent ev)
    {
        if (Is(ev, "", "pods") && ev.Type != "DELETED" && Unschedulable(ev.Object))
            Enqueue(KeyOf(ev.Object), Delays.ScaleUp);
        else if (Is(ev, "", "nodes"))
            foreach (var p in All("", "pods").Where(Unschedulable)) Enqueue(KeyOf(p), Delays.ScaleUp);
    }

    private static bool Unschedulable(JsonObject pod) =>
        pod.Str("spec", "nodeName") is null && pod.Str("metadata", "deletionTimestamp") is null &&
        (pod.Arr("status", "conditions") ?? []).Any(c => c.Str("type") == "PodScheduled" && c.Str("status") == "False" && c.Str("reason") == "Unschedulable");

    public override void Reconcile(string key)
    {
        var (ns, name) = Split(key);
        var pod = Get("", "pods", ns, name);
        if (pod is null || !Unschedulable(pod)) return;
        var groups = Core.Options.NodeGroups?.Invoke() ?? [];
        foreach (var g in groups)
            if (_requested.TryGetValue(g.Name, out var asked) && g.Size >= asked) _requested.Remove(g.Name);

        var reasons = new Dictionary<string, int>(StringComparer.Ordinal);
        void Why(string r) => reasons[r] = reasons.TryGetValue(r, out var n) ? n + 1 : 1;
        SimulatedNodeGroup? chosen = null;
        foreach (var g in groups.OrderBy(g => g.Name, StringComparer.Ordinal))
        {
            if (Misfit(pod, g.Template) is { } why) { Why(why); continue; }
            if (_requested.TryGetValue(g.Name, out var inFlight) && inFlight > g.Size)
            {
                // a scale-up of this group is under way: the pod waits for its nodes
                Enqueue(key, Delays.ScaleUp);
                return;
            }
            if (g.Size + g.Step > g.MaxSize) { Why("max node group size reached"); continue; }
            chosen = g;
            break;
        }

        if (chosen is null)
        {
            var detail = reasons.Count == 0 ? "no node group is autoscaled" :
                string.Join(", ", reasons.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Value} {r.Key}"));
            RecordEvent(pod, "Normal", "NotTriggerScaleUp", $"pod didn't trigger scale-up: {detail}", Component);
            // the autoscaler reconsiders every scan while the pod stays pending (a maximum may be raised meanwhile)
            Enqueue(key, TimeSpan.FromTicks(Delays.ScaleUp.Ticks * 5));
            return;
        }

        // every pending pod this group takes counts toward the new size: one node per pod that needs a whole
        // accelerator host, whole slices for multi-host pools, one node for pods that share a node
        var pending = All("", "pods").Where(Unschedulable).Where(p => Misfit(p, chosen.Template) is null).ToList();
        var perNode = pending.Count(p => NeedsWholeNode(p, chosen.Template));
        var nodes = Math.Max(1, perNode + (pending.Count > perNode ? 1 : 0));
        var steps = (nodes + chosen.Step - 1) / chosen.Step;
        var target = Math.Min(chosen.MaxSize, chosen.Size + steps * chosen.Step);
        target -= (target - chosen.Size) % chosen.Step;
        _requested[chosen.Name] = target;
        RecordEvent(pod, "Normal", "TriggeredScaleUp", $"pod triggered scale-up: [{{{chosen.Id} {chosen.Size}->{target} (max: {chosen.MaxSize})}}]", Component);
        var scale = Core.Options.ScaleNodeGroup;
        var group = chosen.Name;
        var zone = chosen.Template.Labels.GetValueOrDefault("topology.kubernetes.io/zone") ?? "";
        // outside the simulator's lock: the cloud side adds the nodes through AddNodes when the pool has grown
        _ = Task.Run(() =>
        {
            string? failed;
            try { failed = scale?.Invoke(group, target); }
            catch (Exception e) { failed = e.Message; }
            if (failed is null) return;
            lock (Core.Gate)
            {
                _requested.Remove(group);
                if (Get("", "pods", ns, name) is { } p && Unschedulable(p))
                    RecordEvent(p, "Warning", "FailedScaleUp", $"Node scale up in zones {zone} associated with this pod failed: {failed}. Pod is at risk of not being scheduled.", Component);
            }
        });
        Enqueue(key, TimeSpan.FromTicks(Delays.ScaleUp.Ticks * 5));
    }

    /// <summary>Why an empty node like <paramref name="template"/> cannot take the pod, in the scheduler's words; null when it can.</summary>
    private static string? Misfit(JsonObject pod, SimulatedNode template)
    {
        var labels = new Dictionary<string, string>(template.Labels, StringComparer.Ordinal) { ["kubernetes.io/hostname"] = template.Name };
        var selector = pod.At("spec", "nodeSelector").StringMap();
        if (selector.Any(kv => !labels.TryGetValue(kv.Key, out var v) || v != kv.Value) || !PodController.AffinityMatches(pod, labels))
            return "node(s) didn't match Pod's node affinity/selector";
        var tolerations = pod.Arr("spec", "tolerations") ?? [];
        foreach (var t in template.Taints.Where(t => t.Effect is "NoSchedule" or "NoExecute"))
        {
            var taint = new JsonObject { ["key"] = t.Key, ["value"] = t.Value, ["effect"] = t.Effect };
            if (!PodController.Tolerates(tolerations, taint)) return $"node(s) had untolerated taint {{{t.Key}: {t.Value}}}";
        }
        foreach (var (res, qty) in PodController.Requests(pod))
        {
            var cap = template.Capacity.TryGetValue(res, out var c) ? PodController.Quantity(c) : null;
            if (cap is null) { if (res is "cpu" or "memory") continue; return $"Insufficient {res}"; }
            if (qty > cap) return $"Insufficient {res}";
        }
        return null;
    }

    /// <summary>A pod that takes a whole node of the group: it requests an extended resource (TPU chips, GPUs) the node has.</summary>
    private static bool NeedsWholeNode(JsonObject pod, SimulatedNode template) =>
        PodController.Requests(pod).Keys.Any(r => r is not ("cpu" or "memory" or "ephemeral-storage" or "pods") && template.Capacity.ContainsKey(r));
}
