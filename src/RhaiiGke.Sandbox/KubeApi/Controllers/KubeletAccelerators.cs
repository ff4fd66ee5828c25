using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.KubeApi.Controllers;

/// <summary>
/// The kubelet's view of accelerators: a vLLM build runs only on the hardware it was built for. A CUDA image
/// (RHAIIS vllm-cuda-rhel9, upstream vllm/vllm-openai) on a node without NVIDIA GPUs finds no CUDA platform
/// and vLLM exits with "Failed to infer device type"; a TPU image (vllm-tpu) on a GPU node finds no TPU and
/// libtpu's initialisation fails. Both exit at start, so the container crash-loops with the message in its log.
/// </summary>
internal sealed partial class PodController
{
    private const string GkeGpuLabel = "cloud.google.com/gke-accelerator";
    private const string GkeTpuLabel = "cloud.google.com/gke-tpu-accelerator";

    private string? AcceleratorImageMismatch(JsonObject pod, JsonObject c)
    {
        var image = c.Str("image") ?? "";
        var cuda = image.Contains("vllm-cuda", StringComparison.OrdinalIgnoreCase) || image.Contains("vllm/vllm-openai", StringComparison.OrdinalIgnoreCase);
        var tpu = image.Contains("vllm-tpu", StringComparison.OrdinalIgnoreCase);
        if (!cuda && !tpu) return null;
        var nodeName = pod.Str("spec", "nodeName");
        var node = nodeName is null ? null : All("", "nodes").FirstOrDefault(n => n.Name() == nodeName);
        if (node is null) return null;
        var labels = node.Labels();
        var gpuType = labels.TryGetValue(GkeGpuLabel, out var g) ? g : null;
        var tpuType = labels.TryGetValue(GkeTpuLabel, out var t) ? t : null;
        var gpus = c.Str("resources", "limits", "nvidia.com/gpu") ?? c.Str("resources", "requests", "nvidia.com/gpu");
        if (cuda && (gpuType is null || gpus is null))
            return "INFO [__init__.py] No platform detected, vLLM is running on UnspecifiedPlatform\n" +
                   (gpus is null ? "WARNING [cuda.py] No NVIDIA GPU visible to the container (no nvidia.com/gpu resource).\n" : "") +
                   "RuntimeError: Failed to infer device type\n";
        if (tpu && gpuType is not null && tpuType is null)
            return "INFO [tpu.py] Initializing libtpu.\n" +
                   $"RuntimeError: Unable to initialize backend 'tpu': INTERNAL: Failed to open libtpu: TPU initialization failed: No ba16c7433 device found. (this node has {gpuType} GPUs; the vllm-tpu image needs a TPU node)\n";
        if (cuda && int.TryParse(gpus, out var n) && n > 0)
        {
            var text = string.Join(' ', (c.Arr("command") ?? []).Concat(c.Arr("args") ?? []).Select(a => a?.ToString())) + " " + (EnvValue(pod, c, "VLLM_ADDITIONAL_ARGS") ?? "");
            var m = TensorParallel.Matches(text).LastOrDefault();
            if (m is not null && int.TryParse(m.Groups[1].Value, out var tp) && tp > n)
                return $"INFO [ray_utils.py] No current placement group found. Creating a new placement group.\n" +
                       $"ValueError: The number of required GPUs exceeds the total number of available GPUs in the placement group. (tensor_parallel_size={tp}, nvidia.com/gpu={n})\n";
        }
        return null;
    }
}
