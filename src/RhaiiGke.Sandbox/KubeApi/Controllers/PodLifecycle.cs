using System.Globalization;
using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.KubeApi.Controllers;

/// <summary>
/// The events and container output of the scheduler and kubelet that a real cluster shows: Scheduled, Pulling/Pulled
/// (or "already present"), Created, Started; and the lines the containers write to their logs (<see cref="PodLogStore"/>).
/// </summary>
internal sealed partial class PodController
{
    private readonly HashSet<(string Node, string Image)> _pulled = new();

    private PodLogStore Logs => Core.PodLogs;

    private static string Uid(JsonObject pod) => pod.Str("metadata", "uid") ?? "";

    private void ScheduledEvent(JsonObject pod, string node) =>
        RecordEvent(pod, "Normal", "Scheduled", $"Successfully assigned {pod.Namespace()}/{pod.Name()} to {node}", "default-scheduler");

    private void FailedSchedulingEvent(JsonObject pod, string why) =>
        RecordEvent(pod, "Warning", "FailedScheduling", why, "default-scheduler");

    /// <summary>The kubelet's events for starting one container: the image (pulled, or already present), Created, Started.</summary>
    private void StartEvents(JsonObject pod, JsonObject c, string? node)
    {
        var image = c.Str("image") ?? "";
        var name = c.Str("name") ?? "";
        var policy = c.Str("imagePullPolicy") ?? "IfNotPresent";
        var key = (node ?? "", image);
        var present = policy == "Never" || (policy != "Always" && (_pulled.Contains(key) ||
            Options.PreloadedImages.Any(p => image.StartsWith(p, StringComparison.OrdinalIgnoreCase))));
        if (present)
            RecordEvent(pod, "Normal", "Pulled", $"Container image \"{image}\" already present on machine", Kubelet, node);
        else
        {
            RecordEvent(pod, "Normal", "Pulling", $"Pulling image \"{image}\"", Kubelet, node);
            var secs = 0.5 + (uint)image.GetHashCode() % 3000 / 1000.0;
            var size = 20_000_000L + (uint)image.GetHashCode() % 900_000_000L;
            RecordEvent(pod, "Normal", "Pulled",
                string.Create(CultureInfo.InvariantCulture, $"Successfully pulled image \"{image}\" in {secs:0.###}s ({secs:0.###}s including waiting). Image size: {size} bytes."), Kubelet, node);
            _pulled.Add(key);
        }
        RecordEvent(pod, "Normal", "Created", $"Created container: {name}", Kubelet, node);
        RecordEvent(pod, "Normal", "Started", $"Started container {name}", Kubelet, node);
    }

    /// <summary>What a main container prints when it starts (plain path: it is ready at once).</summary>
    private void StartOutput(JsonObject pod, JsonObject c, bool readyNow)
    {
        var now = DateTime.UtcNow;
        var name = c.Str("name") ?? "";
        if (IsWorkloadPod(pod) && name == "main")
        {
            Logs.Write(Uid(pod), name, ContainerOutput.VllmStarting(c, now), now);
            if (readyNow) Logs.Write(Uid(pod), name, ContainerOutput.VllmReady(c, now, now), now);
        }
        else if (ContainerOutput.IsEpp(pod) && name == "main")
            Logs.Write(Uid(pod), name, ContainerOutput.EppStart(pod, now), now);
    }

    private void ReadyOutput(JsonObject pod, JsonObject c, DateTime started)
    {
        if (IsWorkloadPod(pod) && c.Str("name") == "main")
            Logs.Write(Uid(pod), "main", ContainerOutput.VllmReady(c, started, DateTime.UtcNow));
    }
}
