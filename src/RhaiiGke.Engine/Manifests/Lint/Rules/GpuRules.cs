using RhaiiGke.Engine.Catalog;

namespace RhaiiGke.Engine.Manifests.Lint.Rules;

/// <summary>What a pod says about NVIDIA GPUs: the gke-accelerator selector and the nvidia.com/gpu requests and limits.</summary>
internal static class GpuPod
{
    public static YamlView? Selector(PodView pod) =>
        (pod.Spec["nodeSelector"]?.Entries ?? []).Where(e => e.Key == GpuCatalog.AcceleratorLabel).Select(e => e.Value).FirstOrDefault();

    public static YamlView? Request(ContainerView c) => c.Node.Get("resources.requests")?[GpuCatalog.ResourceName];
    public static YamlView? Limit(ContainerView c) => c.Node.Get("resources.limits")?[GpuCatalog.ResourceName];

    /// <summary>The first container that requests or limits nvidia.com/gpu.</summary>
    public static ContainerView? GpuContainer(PodView pod) => pod.Containers.FirstOrDefault(c => Request(c) is not null || Limit(c) is not null);

    public static bool IsGpu(PodView pod) => Selector(pod) is not null || GpuContainer(pod) is not null;
}

/// <summary>RHAII801: a GPU pod runs a TPU build of vLLM.</summary>
internal sealed class TpuImageOnGpuRule : LintRule
{
    public override string Id => "RHAII801";
    public override string Name => "TpuImageOnGpu";
    public override FindingSeverity Severity => FindingSeverity.Error;
    public override string Description => "A pod on NVIDIA GPU nodes (nvidia.com/gpu or cloud.google.com/gke-accelerator) runs a TPU build of vLLM.";

    public override void CheckPod(PodView pod, LintContext ctx)
    {
        if (!GpuPod.IsGpu(pod) || pod.VllmContainer is not { } c || c.Node["image"] is not { Scalar: { } image } node) return;
        if (GpuCatalog.IsTpuImage(image))
            Report(ctx, pod.Owner, node,
                $"Image '{image}' is the TPU build of vLLM; on a GPU node it finds no TPU and exits at start (the container crash-loops).",
                $"Use the CUDA build: {GpuCatalog.DefaultCudaImage}.");
    }
}

/// <summary>RHAII802: GPU pods tolerate the nvidia.com/gpu=present:NoSchedule taint.</summary>
internal sealed class GpuTolerationMissingRule : LintRule
{
    public override string Id => "RHAII802";
    public override string Name => "GpuTolerationMissing";
    public override FindingSeverity Severity => FindingSeverity.Warning;
    public override string Description => "A GPU pod has no toleration for the nvidia.com/gpu=present:NoSchedule taint GKE puts on GPU nodes.";

    public override void CheckPod(PodView pod, LintContext ctx)
    {
        if (pod.MayInherit || !GpuPod.IsGpu(pod)) return;
        foreach (var t in pod.Spec["tolerations"]?.Items ?? [])
        {
            var key = t.Str("key");
            var op = t.Str("operator") ?? "Equal";
            var effect = t.Str("effect");
            if ((key == GpuCatalog.TaintKey || (string.IsNullOrEmpty(key) && op == "Exists")) && (op == "Exists" || t.Str("value") == "present")
                && (string.IsNullOrEmpty(effect) || effect == "NoSchedule")) return;
        }
        Report(ctx, pod.Owner, pod.Spec["tolerations"] ?? pod.Spec,
            "The pod does not tolerate the taint nvidia.com/gpu=present:NoSchedule that GKE puts on GPU nodes of a cluster with other pools; it schedules only where the ExtendedResourceToleration admission plugin adds the toleration, otherwise it stays Pending.",
            "Add tolerations: [{ key: nvidia.com/gpu, operator: Equal, value: present, effect: NoSchedule }].",
            path: pod.PathOf("tolerations"));
    }
}

/// <summary>RHAII803: nvidia.com/gpu requests equal limits, fit a GPU machine type, and cover the tensor-parallel size.</summary>
internal sealed class GpuRequestMismatchRule : LintRule
{
    public override string Id => "RHAII803";
    public override string Name => "GpuRequestMismatch";
    public override FindingSeverity Severity => FindingSeverity.Error;
    public override string Description => "nvidia.com/gpu requests differ from limits, exceed every machine type of the selected GPU, or are fewer than vLLM's tensor-parallel size.";

    public override void CheckPod(PodView pod, LintContext ctx)
    {
        if (GpuPod.GpuContainer(pod) is not { } c) return;
        var req = GpuPod.Request(c);
        var lim = GpuPod.Limit(c);
        if (req?.Int is { } r && lim?.Int is { } l && r != l)
            Report(ctx, pod.Owner, req, $"{c.Display} requests {r} nvidia.com/gpu but limits {l}; Kubernetes rejects extended resources whose requests and limits differ.",
                $"Set both to the same number ({l}).");
        var gpus = lim?.Int ?? req?.Int;
        if (gpus is not { } n || n <= 0) return;
        var type = GpuPod.Selector(pod)?.Scalar;
        if (GpuCatalog.IsGpu(type))
        {
            var max = GpuCatalog.Find(type).Max(t => t.ChipsPerHost);
            if (n > max)
                Report(ctx, pod.Owner, lim ?? req!, $"{c.Display} asks for {n} nvidia.com/gpu but no {type} machine type has more than {max}; the pod never schedules.",
                    $"Ask for at most {max} (and set --tensor-parallel-size to match).");
        }
        if (pod.VllmContainer is { } v && v.CommandLine.Find("--tensor-parallel-size", "-tp") is { } tpFlag
            && int.TryParse(tpFlag.Value, out var tp) && tp > n)
            Report(ctx, pod.Owner, tpFlag.Source ?? lim ?? req!, $"--tensor-parallel-size {tp} needs {tp} GPUs but the container gets {n} nvidia.com/gpu; vLLM exits at start.",
                $"Set --tensor-parallel-size to {n} or request {tp} GPUs.");
    }
}

/// <summary>RHAII804: the gke-accelerator selector names a GPU GKE puts on nodes.</summary>
internal sealed class GpuAcceleratorLabelUnknownRule : LintRule
{
    public override string Id => "RHAII804";
    public override string Name => "GpuAcceleratorLabelUnknown";
    public override FindingSeverity Severity => FindingSeverity.Warning;
    public override string Description => "The cloud.google.com/gke-accelerator node selector is not a GPU type GKE labels nodes with.";

    public override void CheckPod(PodView pod, LintContext ctx)
    {
        if (GpuPod.Selector(pod) is not { Scalar: { } value } at) return;
        if (GpuCatalog.AcceleratorNames.Contains(value) || value.StartsWith("nvidia-tesla-", StringComparison.Ordinal) || value.StartsWith("nvidia-", StringComparison.Ordinal) && value.Contains("gb", StringComparison.Ordinal)) return;
        var canonical = GpuCatalog.Normalize(value);
        Report(ctx, pod.Owner, at,
            $"'{value}' is not a value GKE puts in {GpuCatalog.AcceleratorLabel}; GKE uses the Compute accelerator type ({string.Join(", ", GpuCatalog.AcceleratorNames)}), so no node matches and the pod stays Pending.",
            canonical is not null ? $"Use {GpuCatalog.AcceleratorLabel}: {canonical}." : $"Use one of {string.Join(", ", GpuCatalog.AcceleratorNames)}.");
    }
}
