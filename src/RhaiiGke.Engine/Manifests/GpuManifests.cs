using System.Text.Json.Nodes;
using RhaiiGke.Engine.Catalog;

namespace RhaiiGke.Engine.Manifests;

/// <summary>
/// The GPU form of the LLMInferenceService workload: the container asks for <c>nvidia.com/gpu</c> (equal requests
/// and limits, as extended resources require), the pod selects <c>cloud.google.com/gke-accelerator</c> and tolerates
/// the <c>nvidia.com/gpu=present:NoSchedule</c> taint GKE puts on GPU nodes; the TPU-only PJRT_DEVICE goes away.
/// With tensor parallelism over several GPUs, NCCL needs more shared memory than the 64 MiB default /dev/shm.
/// </summary>
public static class GpuManifests
{
    public static void ApplyGpu(JsonObject llmisvc, LlmInferenceServiceSpec s)
    {
        var template = llmisvc["spec"]!["template"]!.AsObject();
        template["nodeSelector"] = new JsonObject { [GpuCatalog.AcceleratorLabel] = s.NodeLabel };
        template["tolerations"] = new JsonArray(new JsonObject
        {
            ["key"] = GpuCatalog.TaintKey,
            ["operator"] = "Equal",
            ["value"] = "present",
            ["effect"] = "NoSchedule",
        });
        var container = template["containers"]![0]!.AsObject();
        var count = s.ChipsPerHost.ToString(System.Globalization.CultureInfo.InvariantCulture);
        container["resources"] = new JsonObject
        {
            ["requests"] = new JsonObject { [GpuCatalog.ResourceName] = count },
            ["limits"] = new JsonObject { [GpuCatalog.ResourceName] = count },
        };
        var env = container["env"]!.AsArray();
        foreach (var e in env.OfType<JsonObject>().Where(e => e["name"]?.GetValue<string>() == "PJRT_DEVICE").ToList()) env.Remove(e);
        if (s.TensorParallelSize > 1)
        {
            template["volumes"] = new JsonArray(new JsonObject
            {
                ["name"] = "dshm",
                ["emptyDir"] = new JsonObject { ["medium"] = "Memory", ["sizeLimit"] = "16Gi" },
            });
            container["volumeMounts"] = new JsonArray(new JsonObject { ["name"] = "dshm", ["mountPath"] = "/dev/shm" });
        }
    }
}
