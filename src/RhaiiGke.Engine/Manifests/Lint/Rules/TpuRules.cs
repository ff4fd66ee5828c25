using RhaiiGke.Engine.Catalog;

namespace RhaiiGke.Engine.Manifests.Lint.Rules;

/// <summary>RHAII001: the gke-tpu-accelerator node label value must be one GKE puts on TPU nodes.</summary>
internal sealed class TpuAcceleratorLabelUnknownRule : LintRule
{
    public override string Id => "RHAII001";
    public override string Name => "TpuAcceleratorLabelUnknown";
    public override FindingSeverity Severity => FindingSeverity.Error;
    public override string Description => $"The {K8s.AcceleratorLabel} node selector value is not one GKE puts on TPU nodes (tpu-v6e-slice, tpu-v5-lite-podslice, tpu-v5p-slice).";

    public override void CheckPod(PodView pod, LintContext ctx)
    {
        if (pod.AcceleratorLabel is not { } label || K8s.IsTemplated(label.Scalar)) return;
        var value = label.Scalar ?? "";
        if (TpuCatalog.IsKnownNodeLabel(value)) return;
        var canonical = TpuCatalog.NodeLabelFor(value);
        if (canonical is not null)
            Report(ctx, pod.Owner, label,
                $"'{value}' is not a value GKE puts on TPU nodes: {TpuCatalog.NormalizeAccelerator(value)} nodes carry {K8s.AcceleratorLabel}={canonical}, so no node matches and the pod stays Pending.",
                $"Set {K8s.AcceleratorLabel}: {canonical}.");
        else
            Report(ctx, pod.Owner, label,
                $"'{value}' is not a GKE TPU accelerator label value, so no node matches and the pod stays Pending.",
                "Use tpu-v6e-slice (v6e), tpu-v5-lite-podslice (v5e) or tpu-v5p-slice (v5p); Get-TpuTopology lists every valid combination.");
    }
}

/// <summary>RHAII002: the gke-tpu-topology value must exist for the accelerator.</summary>
internal sealed class TpuTopologyUnknownRule : LintRule
{
    public override string Id => "RHAII002";
    public override string Name => "TpuTopologyUnknown";
    public override FindingSeverity Severity => FindingSeverity.Error;
    public override string Description => $"The {K8s.TopologyLabel} value is not a topology GKE offers for the selected TPU generation.";

    public override void CheckPod(PodView pod, LintContext ctx)
    {
        if (pod.TopologyLabel is not { } label || K8s.IsTemplated(label.Scalar)) return;
        var value = label.Scalar ?? "";
        var acc = pod.Accelerator;
        var rows = acc is null ? TpuCatalog.All : TpuCatalog.Find(acc);
        if (rows.Any(t => t.Topology == value)) return;
        var valid = string.Join(", ", rows.Select(t => t.Topology).Distinct());
        var what = acc is null ? "any GKE TPU" : $"TPU {acc}";
        Report(ctx, pod.Owner, label,
            $"Topology '{value}' does not exist for {what}, so no node carries this label and the pod stays Pending.",
            acc is null
                ? $"Use a topology GKE offers ({valid}); Get-TpuTopology lists them per generation."
                : $"Use one of {valid} (Get-TpuTopology -Accelerator {acc} shows chips and machine types).");
    }
}

/// <summary>RHAII003: TPU pods select both TPU node labels (GKE Warden requires both).</summary>
internal sealed class TpuNodeSelectorIncompleteRule : LintRule
{
    public override string Id => "RHAII003";
    public override string Name => "TpuNodeSelectorIncomplete";
    public override FindingSeverity Severity => FindingSeverity.Error;
    public override string Description => $"A TPU pod does not select both {K8s.AcceleratorLabel} and {K8s.TopologyLabel}; GKE Warden requires both.";

    public override void CheckPod(PodView pod, LintContext ctx)
    {
        if (pod.MayInherit) return;
        var selector = pod.Spec["nodeSelector"];
        if (pod.AcceleratorLabel is not null && pod.TopologyLabel is null)
        {
            var suggestion = SuggestTopology(pod);
            Report(ctx, pod.Owner, selector ?? pod.Spec,
                $"The pod selects {K8s.AcceleratorLabel} but not {K8s.TopologyLabel}; GKE Warden admits TPU pods only with both labels.",
                $"Add {K8s.TopologyLabel}: {suggestion ?? "<topology>"} to the nodeSelector (Get-TpuTopology lists valid values).",
                path: YamlView.Append(pod.PathOf("nodeSelector"), K8s.TopologyLabel));
        }
        else if (pod.TopologyLabel is not null && pod.AcceleratorLabel is null)
        {
            Report(ctx, pod.Owner, selector ?? pod.Spec,
                $"The pod selects {K8s.TopologyLabel} but not {K8s.AcceleratorLabel}; GKE Warden admits TPU pods only with both labels, and the topology alone does not say which TPU generation.",
                $"Add {K8s.AcceleratorLabel}: tpu-v6e-slice (or the label of your pool's generation) to the nodeSelector.",
                path: YamlView.Append(pod.PathOf("nodeSelector"), K8s.AcceleratorLabel));
        }
        else if (!pod.SelectsTpu && pod.TpuContainer is { } c)
        {
            var chips = pod.TpuChips;
            var row = chips is null ? null : TpuCatalog.Find("v6e").FirstOrDefault(t => t.ChipsPerHost == chips && !t.MultiHost);
            Report(ctx, pod.Owner, c.TpuLimit ?? c.TpuRequest ?? c.Node,
                $"The pod requests {K8s.TpuResource} but selects no TPU node labels; GKE Warden requires {K8s.AcceleratorLabel} and {K8s.TopologyLabel} on TPU pods.",
                row is null
                    ? $"Add a nodeSelector with {K8s.AcceleratorLabel} and {K8s.TopologyLabel} that match your TPU node pool."
                    : $"Add nodeSelector {{ {K8s.AcceleratorLabel}: {row.NodeLabel}, {K8s.TopologyLabel}: {row.Topology} }} (or the labels of your pool).",
                path: pod.PathOf("nodeSelector"));
        }
    }

    private static string? SuggestTopology(PodView pod)
    {
        if (pod.Accelerator is not { } acc || pod.TpuChips is not { } chips) return null;
        return TpuCatalog.Find(acc).FirstOrDefault(t => t.ChipsPerHost == chips && !t.MultiHost)?.Topology;
    }
}

/// <summary>RHAII004: google.com/tpu, machine type and topology agree with the TPU catalog.</summary>
internal sealed class TpuChipCountMismatchRule : LintRule
{
    public override string Id => "RHAII004";
    public override string Name => "TpuChipCountMismatch";
    public override FindingSeverity Severity => FindingSeverity.Error;
    public override string Description => $"{K8s.TpuResource}, the machine type and the topology disagree: the request is not the chips per host of the topology, the machine type does not offer the topology, or a multi-host slice is used by a single pod.";

    public override void CheckPod(PodView pod, LintContext ctx)
    {
        if (pod.Accelerator is not { } acc || pod.TopologyLabel?.Scalar is not { } topology || K8s.IsTemplated(topology)) return;
        var rows = TpuCatalog.Find(acc, null, topology).ToList();
        if (rows.Count == 0) return; // RHAII002 reports the topology

        if (pod.InstanceTypeLabel is { Scalar: { } machine } mlabel && !K8s.IsTemplated(machine))
        {
            var onMachine = rows.Where(t => string.Equals(t.MachineType, machine, StringComparison.OrdinalIgnoreCase)).ToList();
            if (onMachine.Count == 0)
            {
                Report(ctx, pod.Owner, mlabel,
                    $"Machine type {machine} does not offer TPU {acc} topology {topology}; no node has both labels, so the pod stays Pending.",
                    $"Use {string.Join(" or ", rows.Select(t => t.MachineType).Distinct())} for {topology}, or pick a topology of {machine}: {string.Join(", ", TpuCatalog.Find(acc, machine).Select(t => t.Topology))}.");
                return;
            }
            rows = onMachine;
        }

        if (pod.TpuChips is not { } chips || pod.TpuContainer is not { } c) return;
        var at = c.TpuLimit ?? c.TpuRequest ?? c.Node;
        var fitting = rows.Where(t => t.ChipsPerHost == chips).ToList();
        if (fitting.Count == 0)
        {
            var perHost = rows.Select(t => t.ChipsPerHost).Distinct().OrderBy(n => n).ToList();
            var sameChips = TpuCatalog.Find(acc).Where(t => t.ChipsPerHost == chips && !t.MultiHost).Select(t => t.Topology).Distinct().ToList();
            Report(ctx, pod.Owner, at,
                $"{K8s.TpuResource} is {chips}, but each host of a TPU {acc} {topology} slice ({string.Join(", ", rows.Select(t => t.MachineType).Distinct())}) has {string.Join(" or ", perHost)} chips; GKE Warden schedules TPU pods only when they take every chip of the host, so the pod stays Pending.",
                $"Set {K8s.TpuResource} requests and limits to {perHost[0]}" +
                (sameChips.Count > 0 ? $", or select the {string.Join("/", sameChips)} topology for {chips} chip(s)." : "."));
            return;
        }

        if (!pod.MultiNode && fitting.All(t => t.MultiHost))
        {
            var t = fitting[0];
            var single = TpuCatalog.Find(acc).Where(x => !x.MultiHost).Select(x => $"{x.Topology} ({x.Chips} chips)").Distinct();
            Report(ctx, pod.Owner, pod.TopologyLabel,
                $"TPU {acc} {topology} with {chips} chips per pod is a {t.Hosts}-host slice of {t.MachineType}; a single pod cannot use it, because every host of the slice needs its own pod.",
                $"Select a single-host topology ({string.Join(", ", single)}), or run a multi-host replica (LLMInferenceService spec.worker, or a LeaderWorkerSet of size {t.Hosts}).");
            return;
        }

        if (pod.MultiNode && pod.Hosts is { } hosts && fitting.All(t => t.Hosts != hosts))
        {
            var t = fitting[0];
            Report(ctx, pod.Owner, at,
                $"{(pod.IsKServeTemplate ? "The LLMInferenceService's LeaderWorkerSet group" : "The LeaderWorkerSet")} has {hosts} pod(s) per replica but a TPU {acc} {topology} slice with {chips} chips per host has {t.Hosts} host(s); the slice is only usable with one pod per host (a partial slice never initialises).",
                pod.IsKServeTemplate
                    ? $"Set spec.parallelism.pipeline to {t.Hosts} (the group size), or select the topology that has {hosts} host(s)."
                    : $"Set leaderWorkerTemplate.size to {t.Hosts}, or select the topology that has {hosts} host(s).");
        }
    }
}

/// <summary>RHAII005: google.com/tpu requests equal limits, and a pod on TPU nodes asks for chips.</summary>
internal sealed class TpuRequestLimitMismatchRule : LintRule
{
    public override string Id => "RHAII005";
    public override string Name => "TpuRequestLimitMismatch";
    public override FindingSeverity Severity => FindingSeverity.Error;
    public override string Description => $"{K8s.TpuResource} requests differ from limits, a request has no limit, the value is not a whole number, or a pod on TPU nodes requests no chips.";

    public override void CheckPod(PodView pod, LintContext ctx)
    {
        foreach (var c in pod.Containers)
        {
            var req = c.TpuRequest;
            var lim = c.TpuLimit;
            foreach (var v in new[] { req, lim })
                if (v is not null && !K8s.IsTemplated(v.Scalar) && (v.Int is not { } n || n <= 0))
                    Report(ctx, pod.Owner, v,
                        $"{K8s.TpuResource} '{v.Scalar}' in {c.Display} is not a positive whole number of chips; the API server rejects it.",
                        $"Use the chips per host of your topology, e.g. \"4\" for v6e 2x2.");
            if (req is null && lim is null) continue;
            if (req is not null && lim is null)
                Report(ctx, pod.Owner, req,
                    $"{c.Display} requests {K8s.TpuResource} without a limit; extended resources such as TPU chips need a limit equal to the request, so the API server rejects the pod.",
                    $"Add resources.limits['{K8s.TpuResource}']: \"{req.Scalar}\" (or set only the limit; the request defaults to it).",
                    path: YamlView.Append(YamlView.Append(c.Node.Path, "resources") + ".limits", K8s.TpuResource));
            else if (req is not null && lim is not null && req.Int is { } r && lim.Int is { } l && r != l)
                Report(ctx, pod.Owner, req,
                    $"{c.Display} requests {r} {K8s.TpuResource} but limits it to {l}; extended resources cannot be overcommitted, so the API server rejects the pod.",
                    $"Set requests and limits of {K8s.TpuResource} to the same value: the chips per host of the topology.");
        }

        if (pod.MayInherit || !pod.SelectsTpu || pod.RequestsTpu) return;
        var target = pod.VllmContainer ?? pod.Containers.FirstOrDefault();
        var chips = pod.CatalogMatches().FirstOrDefault(t => !t.MultiHost)?.ChipsPerHost ?? pod.CatalogMatches().FirstOrDefault()?.ChipsPerHost;
        Report(ctx, pod.Owner, target?.Node ?? pod.Spec,
            $"The pod selects TPU nodes but no container requests {K8s.TpuResource}: it lands on the TPU host without access to any chip, and vLLM finds no TPU.",
            $"Add resources.requests and resources.limits {K8s.TpuResource}: \"{(chips?.ToString() ?? "<chips per host>")}\" to the vLLM container.",
            path: target is null ? pod.PathOf("containers") : target.Node.Path + ".resources");
    }
}

/// <summary>RHAII006: TPU pods tolerate the google.com/tpu=present:NoSchedule taint.</summary>
internal sealed class TpuTolerationMissingRule : LintRule
{
    public override string Id => "RHAII006";
    public override string Name => "TpuTolerationMissing";
    public override FindingSeverity Severity => FindingSeverity.Warning;
    public override string Description => "A TPU pod has no toleration for the google.com/tpu=present:NoSchedule taint GKE puts on TPU nodes.";

    public override void CheckPod(PodView pod, LintContext ctx)
    {
        if (pod.MayInherit || !(pod.SelectsTpu || pod.RequestsTpu)) return;
        foreach (var t in pod.Spec["tolerations"]?.Items ?? [])
        {
            var key = t.Str("key");
            var op = t.Str("operator") ?? "Equal";
            var effect = t.Str("effect");
            var keyOk = key == K8s.TpuResource || (string.IsNullOrEmpty(key) && op == "Exists");
            var valueOk = op == "Exists" || t.Str("value") == "present";
            var effectOk = string.IsNullOrEmpty(effect) || effect == "NoSchedule";
            if (keyOk && valueOk && effectOk) return;
        }
        Report(ctx, pod.Owner, pod.Spec["tolerations"] ?? pod.Spec,
            "The pod does not tolerate the taint google.com/tpu=present:NoSchedule that GKE puts on TPU nodes; it schedules only if an admission controller adds the toleration for it, otherwise it stays Pending.",
            "Add tolerations: [{ key: google.com/tpu, operator: Equal, value: present, effect: NoSchedule }].",
            path: pod.PathOf("tolerations"));
    }
}

/// <summary>RHAII007: TPU_CHIPS_PER_HOST_BOUNDS and TPU_HOST_BOUNDS match the chips and the topology.</summary>
internal sealed class TpuHostBoundsMismatchRule : LintRule
{
    public override string Id => "RHAII007";
    public override string Name => "TpuHostBoundsMismatch";
    public override FindingSeverity Severity => FindingSeverity.Error;
    public override string Description => "TPU_CHIPS_PER_HOST_BOUNDS or TPU_HOST_BOUNDS disagree with the chips the container requests or with the topology.";

    public override void CheckPod(PodView pod, LintContext ctx)
    {
        foreach (var c in pod.Containers)
        {
            var chips = (c.TpuLimit ?? c.TpuRequest)?.Int ?? pod.TpuChips;
            if (c.Env("TPU_CHIPS_PER_HOST_BOUNDS")?["value"] is { } bounds && !K8s.IsTemplated(bounds.Scalar))
            {
                var dims = Parse(bounds.Scalar);
                if (dims is null)
                {
                    Report(ctx, pod.Owner, bounds,
                        $"TPU_CHIPS_PER_HOST_BOUNDS '{bounds.Scalar}' is not three positive integers such as \"2,2,1\"; libtpu cannot initialise.",
                        "Set it to the host's chip grid (\"2,2,1\" for a 4-chip v6e host) or remove it: it is redundant when the pod takes the whole host.");
                }
                else
                {
                    var product = dims.Aggregate(1, (a, b) => a * b);
                    var expected = ExpectedBounds(pod, chips);
                    if (chips is { } n && product != n)
                        Report(ctx, pod.Owner, bounds,
                            $"TPU_CHIPS_PER_HOST_BOUNDS={bounds.Scalar} describes {product} chip(s) but {c.Display} has {n} ({K8s.TpuResource}); libtpu fails to initialise or uses part of the host.",
                            $"Set TPU_CHIPS_PER_HOST_BOUNDS to \"{expected ?? "<x,y,1>"}\" or remove it (and TPU_HOST_BOUNDS): they are sub-host knobs, redundant when the pod takes the whole host.");
                    else if (expected is not null && expected != string.Join(",", dims))
                        Report(ctx, pod.Owner, bounds,
                            $"TPU_CHIPS_PER_HOST_BOUNDS={bounds.Scalar} has the right chip count but not the {pod.TopologyLabel?.Scalar} grid ({expected}).",
                            $"Set it to \"{expected}\" or remove it.", FindingSeverity.Warning);
                }
            }

            if (c.Env("TPU_HOST_BOUNDS")?["value"] is { } hostBounds && !K8s.IsTemplated(hostBounds.Scalar))
            {
                var dims = Parse(hostBounds.Scalar);
                if (dims is null)
                    Report(ctx, pod.Owner, hostBounds,
                        $"TPU_HOST_BOUNDS '{hostBounds.Scalar}' is not three positive integers such as \"1,1,1\".",
                        "Set it to \"1,1,1\" for a single-host pod, or remove it.");
                else if (!pod.MultiNode && dims.Aggregate(1, (a, b) => a * b) != 1)
                    Report(ctx, pod.Owner, hostBounds,
                        $"TPU_HOST_BOUNDS={hostBounds.Scalar} describes {dims.Aggregate(1, (a, b) => a * b)} hosts, but this is a single-host pod; libtpu waits for hosts that never join.",
                        "Set TPU_HOST_BOUNDS to \"1,1,1\" or remove it.");
            }
        }
    }

    private static int[]? Parse(string? value)
    {
        var parts = value?.Split(',', StringSplitOptions.TrimEntries);
        if (parts is not { Length: 3 }) return null;
        var dims = new int[3];
        for (var i = 0; i < 3; i++)
            if (!int.TryParse(parts[i], out dims[i]) || dims[i] <= 0) return null;
        return dims;
    }

    /// <summary>The host's chip grid for a single-host topology: 2x2 → 2,2,1; 2x2x1 → 2,2,1.</summary>
    private static string? ExpectedBounds(PodView pod, int? chips)
    {
        var row = pod.CatalogMatches().FirstOrDefault(t => !t.MultiHost && (chips is null || t.ChipsPerHost == chips));
        if (row is null) return null;
        var dims = row.Topology.Split('x').ToList();
        while (dims.Count < 3) dims.Add("1");
        return string.Join(",", dims);
    }
}

/// <summary>RHAII008: a known model, at its context length, fits the slice's HBM.</summary>
internal sealed class ModelExceedsHbmRule : LintRule
{
    public override string Id => "RHAII008";
    public override string Name => "ModelExceedsHbm";
    public override FindingSeverity Severity => FindingSeverity.Error;
    public override string Description => "A model the catalog knows does not fit the slice's HBM: its weights plus the KV cache of one --max-model-len sequence exceed usable memory, so vLLM fails at start-up.";

    public override void CheckPod(PodView pod, LintContext ctx)
    {
        if (!pod.IsServing || pod.VllmContainer is not { } c || pod.Accelerator is not { } acc || pod.TopologyLabel?.Scalar is not { } topology) return;
        var cl = c.CommandLine;
        if (cl.Find("--quantization", "-q") is not null) return; // quantized weights: size unknown here
        var uri = pod.IsKServeTemplate ? pod.Owner.Spec?.Get("model.uri") : null;
        var modelText = pod.IsKServeTemplate ? uri?.Scalar ?? pod.Owner.Spec?.Get("model.name")?.Scalar : cl.ServedModelPath;
        if (ModelCatalog.Find(modelText) is not { } model) return;

        var dtype = cl.Find("--dtype")?.Value?.ToLowerInvariant() switch
        {
            null or "auto" or "half" or "float16" or "fp16" or "bfloat16" or "bf16" => "bfloat16", // TPU runs 16-bit as bfloat16
            "float32" or "float" or "fp32" => "float32",
            _ => null,
        };
        if (dtype is null) return;
        var lengthFlag = cl.Find("--max-model-len");
        if (K8s.IsTemplated(lengthFlag?.Value)) return;
        var length = int.TryParse(lengthFlag?.Value, out var n) && n > 0 ? n : model.MaxContext;
        var utilization = double.TryParse(cl.Find("--gpu-memory-utilization")?.Value, System.Globalization.NumberStyles.Float,
            System.Globalization.CultureInfo.InvariantCulture, out var u) && u is > 0 and <= 1 ? u : 0.9;

        var chipsPerHost = pod.TpuChips;
        var fits = TpuSizer.Size(new TpuSizer.Request(model.Id, null, dtype, length, 1, utilization, acc))
            .Where(f => f.TopologyName == topology && f.Topology.MultiHost == pod.MultiNode && (chipsPerHost is null || f.Topology.ChipsPerHost == chipsPerHost))
            .ToList();
        if (fits.Count == 0 || fits.Any(f => f.Fits)) return;
        var fit = fits[0];
        var at = (YamlView?)uri ?? pod.TopologyLabel;
        var weightsFit = fit.WeightsGiB < fit.UsableHbmGiB;
        var smallest = TpuSizer.Size(new TpuSizer.Request(model.Id, null, dtype, length, 1, utilization, acc))
            .Where(f => f.Fits && !f.Topology.MultiHost).OrderBy(f => f.Chips).FirstOrDefault();
        Report(ctx, pod.Owner, at,
            $"{model.Id} needs {fit.WeightsGiB:0.#} GiB of {dtype} weights plus {fit.KvCacheGiB:0.#} GiB of KV cache for one {length}-token sequence, but a TPU {acc} {topology} slice has {fit.UsableHbmGiB:0.#} GiB of usable HBM ({fit.Chips} chip(s)); vLLM fails at start-up.",
            (weightsFit
                ? $"Lower --max-model-len (the KV cache of one sequence must fit next to the weights), or "
                : "") +
            (smallest is null
                ? $"use a larger slice (Get-TpuTopology -Model {model.Id} -FitOnly)."
                : $"use a slice that holds it, e.g. {smallest.TopologyName} ({smallest.Chips} chips, {smallest.MachineType}); Get-TpuTopology -Model {model.Id} -FitOnly lists them."));
    }
}
