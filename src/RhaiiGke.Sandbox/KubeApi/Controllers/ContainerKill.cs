using System.Text.Json.Nodes;
using RhaiiGke.Sandbox.Protocol;

namespace RhaiiGke.Sandbox.KubeApi.Controllers
{

internal sealed partial class ControllerManager
{
    internal T? Controller<T>() where T : SimController => _controllers.OfType<T>().FirstOrDefault();
}

/// <summary>
/// A running container killed on the node (OOM, a crash, <c>crictl stop</c>): as the kubelet handles it, the
/// instance ends (its log becomes the "previous" one), the container status records lastState.terminated and
/// a higher restartCount, the pod turns unready, and the container starts again (vLLM loads and compiles
/// again before it is ready).
/// </summary>
internal sealed partial class PodController
{
    internal bool Kill(string ns, string name, string container, int exitCode, string reason)
    {
        var pod = Get("", "pods", ns, name);
        if (pod is null) return false;
        var uid = pod.Str("metadata", "uid")!;
        var mains = (pod.Arr("spec", "containers") ?? []).OfType<JsonObject>().ToList();
        var c = mains.FirstOrDefault(x => x.Str("name") == container);
        var status = (pod.Arr("status", "containerStatuses") ?? []).FirstOrDefault(s => s.Str("name") == container);
        if (c is null || status?.Obj("state", "running") is not { } running) return false;
        var now = DateTime.UtcNow;
        var restarts = (int)(status!.Long("restartCount") ?? 0);
        Logs.Stop(uid, container);
        RecordEvent(pod, "Normal", "Killing", $"Stopping container {container}", Kubelet, pod.Str("spec", "nodeName"));
        _runs[uid] = new Run
        {
            Init = (pod.Arr("spec", "initContainers") ?? []).Count,
            MainRestarts = restarts + 1,
            MainLastTerm = new JsonObject
            {
                ["exitCode"] = exitCode, ["reason"] = reason, ["startedAt"] = running.Str("startedAt"), ["finishedAt"] = Stamp(now),
                ["containerID"] = ContainerId(pod, c, restarts),
            },
        };
        Enqueue(KeyOf(pod));
        return true;
    }
}

}

namespace RhaiiGke.Sandbox.KubeApi
{
using RhaiiGke.Sandbox.KubeApi.Controllers;

public sealed partial class KubeApiSimulator
{
    /// <summary>
    /// Kills a running container of a pod as the node would (exit code 137 and reason OOMKilled by default): the
    /// kubelet records the termination, restarts the container and the pod is ready again once it has started.
    /// False when the pod or a running container of that name does not exist.
    /// </summary>
    public bool KillContainer(string @namespace, string pod, string container = "main", int exitCode = 137, string reason = "OOMKilled")
    {
        var pods = _controllers?.Controller<PodController>();
        if (pods is null) return false;
        lock (_core.Gate) return pods.Kill(@namespace, pod, container, exitCode, reason);
    }
}
}
