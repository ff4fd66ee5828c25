using System.Text.Json.Nodes;
using RhaiiGke.Engine.Catalog;
using static RhaiiGke.Engine.Serving.Diagnosis.ClusterSnapshot;

namespace RhaiiGke.Engine.Serving.Diagnosis;

/// <summary>
/// GPU workloads: pods that ask for <c>nvidia.com/gpu</c> or select <c>cloud.google.com/gke-accelerator</c> and stay
/// Pending (no toleration, no GPU node, NVIDIA driver not installed so no node advertises nvidia.com/gpu, every GPU taken),
/// and vLLM images that do not match the node's accelerator (a CUDA build on TPU, a TPU build on GPU).
/// </summary>
internal sealed class GpuSchedulingCheck : IDiagnosisCheck
{
    public string Id => "GpuPodUnschedulable";

    public const string DriverInstallerUrl = "https://raw.githubusercontent.com/GoogleCloudPlatform/container-engine-accelerators/master/nvidia-driver-installer/cos/daemonset-preloaded.yaml";

    internal static int GpuRequest(JsonObject pod)
    {
        var total = 0;
        foreach (var c in (pod["spec"]?["containers"] as JsonArray)?.OfType<JsonObject>() ?? [])
            if (int.TryParse(c["resources"]?["limits"]?[GpuCatalog.ResourceName]?.ToString() ?? c["resources"]?["requests"]?[GpuCatalog.ResourceName]?.ToString(), out var n)) total += n;
        return total;
    }

    private static int Allocatable(JsonObject node) =>
        int.TryParse(node["status"]?["allocatable"]?[GpuCatalog.ResourceName]?.ToString(), out var n) ? n : 0;

    public IEnumerable<DiagnosisFinding> Run(ClusterSnapshot s)
    {
        var gpuNodes = s.OfKind("Node").Where(n => Labels(n).ContainsKey(GpuCatalog.AcceleratorLabel)).ToList();
        foreach (var pod in s.OfKind("Pod"))
        {
            var selector = StringMap(pod["spec"]?["nodeSelector"]);
            var request = GpuRequest(pod);
            selector.TryGetValue(GpuCatalog.AcceleratorLabel, out var type);
            if (request == 0 && type is null) continue;

            foreach (var f in ImageMismatch(pod, type)) yield return f;

            var scheduled = Condition(pod["status"], "PodScheduled");
            if (Str(pod["status"], "phase") != "Pending" || IsTrue(scheduled)) continue;
            var evidence = Diagnoser.EventMessages(s, pod, "FailedScheduling", "NotTriggerScaleUp", "FailedScaleUp").ToList();
            if (scheduled is not null && Str(scheduled, "message") is { } m) evidence.Add($"PodScheduled=False: {m}");

            if (type is not null && !GpuCatalog.IsGpu(type))
            {
                yield return Diagnoser.Finding("GpuAcceleratorLabelUnknown", FindingSeverity.Error, pod,
                    $"nodeSelector {GpuCatalog.AcceleratorLabel}={type} matches no GPU GKE offers for serving: GKE labels GPU nodes {string.Join(", ", GpuCatalog.AcceleratorNames)}.",
                    $"Use {GpuCatalog.AcceleratorLabel}: {GpuCatalog.Normalize(type) ?? "nvidia-l4"} (New-LlmInferenceServiceSpec -Accelerator derives it).", evidence);
                continue;
            }
            if (!Diagnoser.Items(pod["spec"]?["tolerations"]).OfType<JsonObject>().Any(t => Str(t, "key") == GpuCatalog.TaintKey && (Str(t, "operator") == "Exists" || Str(t, "value") == "present")))
                yield return Diagnoser.Finding("GpuTolerationMissing", FindingSeverity.Error, pod,
                    $"The pod does not tolerate the taint {GpuCatalog.Taint} that GKE puts on GPU nodes.",
                    "Add the toleration {key: nvidia.com/gpu, operator: Equal, value: present, effect: NoSchedule}.", evidence);

            var matching = gpuNodes.Where(n => type is null || Labels(n).GetValueOrDefault(GpuCatalog.AcceleratorLabel) == type).ToList();
            if (matching.Count == 0)
            {
                var offered = gpuNodes.Select(n => Labels(n).GetValueOrDefault(GpuCatalog.AcceleratorLabel)).Distinct().ToList();
                yield return Diagnoser.Finding("GpuCapacityUnavailable", FindingSeverity.Error, pod,
                    offered.Count > 0
                        ? $"No node has {type ?? "an NVIDIA GPU"}; the GPU nodes have {string.Join(", ", offered)}."
                        : $"There is no {type ?? "GPU"} node: the GPU node pool is at zero, still scaling up, out of capacity (stockout) or out of GPU quota.",
                    offered.Count > 0
                        ? $"Deploy with -Accelerator {offered[0]}, or add a {type} pool (New-GpuCluster -Accelerator {type})."
                        : $"Create or scale the GPU pool (New-GpuCluster -Accelerator {type ?? "nvidia-l4"}, Set-TpuNodePool -Name gpu-pool -Size 1); if nodes do not appear, check GPU quota and stockouts with Test-RhaiiPrerequisites -Accelerator {type ?? "nvidia-l4"}.",
                    evidence);
                continue;
            }
            if (matching.All(n => Allocatable(n) == 0))
            {
                yield return Diagnoser.Finding("GpuDriversNotInstalled", FindingSeverity.Error, pod,
                    $"{matching.Count} {type ?? "GPU"} node(s) exist but none advertises {GpuCatalog.ResourceName}: the NVIDIA driver is not installed (node pool created with gpuDriverVersion INSTALLATION_DISABLED or without gpuDriverInstallationConfig), so the device plugin has no GPUs to offer.",
                    $"Recreate the GPU pool with GKE-managed drivers (New-GpuCluster -GpuDriverVersion DEFAULT), or install the driver yourself: kubectl apply -f {DriverInstallerUrl}",
                    evidence.Append($"Nodes without allocatable {GpuCatalog.ResourceName}: {string.Join(", ", matching.Select(ClusterSnapshot.Name))}"));
                continue;
            }
            var perNode = matching.Max(Allocatable);
            if (request > perNode)
                yield return Diagnoser.Finding("GpuRequestMismatch", FindingSeverity.Error, pod,
                    $"The pod requests {request} {GpuCatalog.ResourceName} but the {type ?? "GPU"} nodes have at most {perNode}.",
                    $"Use a machine type with {request} GPUs (New-GpuCluster -GpuCount {request}) or lower the tensor-parallel size and the request to {perNode}.", evidence);
            else if (evidence.Any(e => e.Contains($"Insufficient {GpuCatalog.ResourceName}", StringComparison.Ordinal)))
                yield return Diagnoser.Finding("GpuCapacityUnavailable", FindingSeverity.Error, pod,
                    "Every matching GPU node's GPUs are taken.",
                    "Add a node (Set-TpuNodePool -Name gpu-pool -Size <n+1>), lower -Replicas, or raise the pool's autoscaling maximum.", evidence);
        }
    }

    /// <summary>The image of the vLLM container against the accelerator the pod asks for, plus the crash text that proves it.</summary>
    private static IEnumerable<DiagnosisFinding> ImageMismatch(JsonObject pod, string? type)
    {
        foreach (var c in Diagnoser.Items(pod["spec"]?["containers"]).OfType<JsonObject>())
        {
            var image = Str(c, "image");
            if (!GpuCatalog.IsTpuImage(image)) continue;
            var status = Diagnoser.ContainerStatuses(pod).FirstOrDefault(x => !x.Init && Str(x.Status, "name") == Str(c, "name")).Status;
            var term = status?["lastState"]?["terminated"];
            var evidence = new List<string> { $"{Str(c, "name")}: image {image}, {GpuCatalog.ResourceName} {GpuRequest(pod)}, nodeSelector {GpuCatalog.AcceleratorLabel}={type}" };
            if (Str(term, "message") is { } msg) evidence.Add(msg.Trim());
            yield return Diagnoser.Finding("AcceleratorImageMismatch", FindingSeverity.Error, pod,
                $"Container {Str(c, "name")} runs the TPU build of vLLM ({image}) on a GPU pod: it finds no TPU and exits at start.",
                $"Use the CUDA build: {GpuCatalog.DefaultCudaImage} (New-LlmInferenceServiceSpec -Accelerator {type ?? "nvidia-l4"} without -Image picks it).", evidence);
        }
    }
}

/// <summary>A CUDA build of vLLM on a TPU (or CPU) pod: vLLM finds no CUDA platform ("Failed to infer device type").</summary>
internal sealed class CudaImageOnTpuCheck : IDiagnosisCheck
{
    public string Id => "AcceleratorImageMismatch";

    public IEnumerable<DiagnosisFinding> Run(ClusterSnapshot s)
    {
        foreach (var pod in s.OfKind("Pod").Where(Diagnoser.IsWorkloadPod))
        {
            if (GpuSchedulingCheck.GpuRequest(pod) > 0) continue;
            foreach (var c in Diagnoser.Items(pod["spec"]?["containers"]).OfType<JsonObject>())
            {
                var image = Str(c, "image");
                if (!GpuCatalog.IsCudaImage(image)) continue;
                var status = Diagnoser.ContainerStatuses(pod).FirstOrDefault(x => !x.Init && Str(x.Status, "name") == Str(c, "name")).Status;
                var evidence = new List<string> { $"{Str(c, "name")}: image {image}, no {GpuCatalog.ResourceName} request" };
                if (Str(status?["lastState"]?["terminated"], "message") is { } msg) evidence.Add(msg.Trim());
                yield return Diagnoser.Finding("AcceleratorImageMismatch", FindingSeverity.Error, pod,
                    $"Container {Str(c, "name")} runs the CUDA build of vLLM ({image}) without an NVIDIA GPU: vLLM finds no CUDA platform and exits (\"Failed to infer device type\").",
                    Diagnoser.TpuRequest(pod) > 0
                        ? $"On TPU use the TPU build: {Manifests.SpecFactory.DefaultTpuImage} (New-LlmInferenceServiceSpec without -Image picks it)."
                        : $"Request GPUs (New-LlmInferenceServiceSpec -Accelerator nvidia-l4) or use the TPU build {Manifests.SpecFactory.DefaultTpuImage} on TPU.",
                    evidence);
            }
        }
    }
}
