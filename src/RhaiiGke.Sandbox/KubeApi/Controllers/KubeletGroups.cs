using System.Globalization;
using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.KubeApi.Controllers;

/// <summary>
/// Multi-host vLLM (a LeaderWorkerSet group): the leader's vLLM places one pipeline stage per host of the
/// group, so it starts serving (and /health answers) only when every worker of its group is running and ready;
/// until then it is up but not ready. A worker that goes away takes the group down (LWS recreates the group).
/// </summary>
internal sealed partial class PodController
{
    private readonly HashSet<string> _groupWaitLogged = new(StringComparer.Ordinal);

    /// <summary>For the leader of a multi-pod group: why it cannot serve yet (a worker missing or not ready); null otherwise.</summary>
    private string? GroupIncomplete(JsonObject pod)
    {
        var labels = pod.Labels();
        if (!labels.TryGetValue(LwsController.NameLabel, out var set) || labels.GetValueOrDefault(LwsController.WorkerIndexLabel) != "0") return null;
        if (!int.TryParse(pod.Annotations().GetValueOrDefault(LwsController.SizeAnnotation), NumberStyles.Integer, CultureInfo.InvariantCulture, out var size) || size <= 1) return null;
        var group = labels.GetValueOrDefault(LwsController.GroupIndexLabel);
        var workers = All("", "pods", pod.Namespace())
            .Where(p => p.Labels().GetValueOrDefault(LwsController.NameLabel) == set && p.Labels().GetValueOrDefault(LwsController.GroupIndexLabel) == group
                        && p.Labels().GetValueOrDefault(LwsController.WorkerIndexLabel) != "0" && !Deleting(p))
            .ToList();
        var ready = workers.Count(Pods.Ready);
        return ready >= size - 1 ? null : $"waiting for the LeaderWorkerSet group: {ready + 1} of {size} hosts joined";
    }
}
