namespace RhaiiGke.Engine.Manifests.Lint.Rules;

/// <summary>RHAII401: LLMISVC template containers merge with KServe's by name; vLLM is "main".</summary>
internal sealed class ContainerNotMergedRule : LintRule
{
    public override string Id => "RHAII401";
    public override string Name => "ContainerNotMerged";
    public override FindingSeverity Severity => FindingSeverity.Warning;
    public override string Description => "An LLMInferenceService container runs vLLM (or takes TPU chips) but is not named 'main', so KServe adds it next to its own vLLM container instead of merging; or a container has no name.";

    public override void CheckPod(PodView pod, LintContext ctx)
    {
        if (!pod.IsKServeTemplate) return;
        foreach (var c in pod.Containers)
        {
            if (string.IsNullOrEmpty(c.Name))
                Report(ctx, pod.Owner, c.Node,
                    $"Container #{c.Index} has no name; KServe merges the template's containers with its own by name, and the API server rejects unnamed containers.",
                    "Name the vLLM container 'main'.", FindingSeverity.Error, path: c.Node.Path + ".name");
            else if (c.Name != "main" && (c.LooksLikeVllm || c.TpuLimit is not null || c.TpuRequest is not null))
                Report(ctx, pod.Owner, c.Node["name"] ?? c.Node,
                    $"Container '{c.Name}' runs vLLM or takes TPU chips but is not named 'main': KServe merges template containers by name, so it is added next to the template's own vLLM container 'main' instead of replacing it.",
                    "Rename it to main.");
        }
    }
}

/// <summary>RHAII402: spec.parallelism and spec.worker follow the LLMInferenceService webhook rules.</summary>
internal sealed class ParallelismInvalidRule : LintRule
{
    public override string Id => "RHAII402";
    public override string Name => "ParallelismInvalid";
    public override FindingSeverity Severity => FindingSeverity.Error;
    public override string Description => "spec.worker without data or pipeline parallelism, pipeline together with data, data without dataLocal, or a parallelism value below 1: KServe's webhook rejects these.";

    public override void CheckObject(LintDocument doc, LintContext ctx)
    {
        if (!doc.IsLlmIsvc || doc.Spec is not { } spec) return;
        Check(doc, ctx, spec, "spec");
        if (spec["prefill"] is { IsMapping: true } prefill) Check(doc, ctx, prefill, "spec.prefill");
    }

    private void Check(LintDocument doc, LintContext ctx, YamlView workload, string where)
    {
        var par = workload["parallelism"];
        var worker = workload["worker"];
        foreach (var (key, value) in par?.Entries ?? [])
            if (key is "tensor" or "pipeline" or "data" or "dataLocal" && value.Int is { } n && n < 1)
                Report(ctx, doc, value, $"{where}.parallelism.{key} is {n}; it must be at least 1.", $"Set {key} to 1 or more, or remove it.");
        var data = par?["data"];
        var pipeline = par?["pipeline"];
        if (worker is { IsMapping: true } && data is null && pipeline is null)
            Report(ctx, doc, worker,
                $"{where}.worker makes each replica multi-node (a LeaderWorkerSet), which needs {where}.parallelism.pipeline or .data; KServe's webhook rejects the object.",
                $"Set {where}.parallelism.pipeline to the hosts per replica (or data with dataLocal), or remove {where}.worker for a single-host replica.");
        if (data is not null && pipeline is not null)
            Report(ctx, doc, par!,
                $"{where}.parallelism sets both pipeline and data; KServe's webhook accepts only one of them.",
                "Keep pipeline (one model across hosts) or data (replicas of the model across hosts), not both.");
        if (data is not null && par?["dataLocal"] is null)
            Report(ctx, doc, data,
                $"{where}.parallelism.data needs dataLocal (data-parallel ranks per pod); KServe's webhook rejects the object.",
                $"Add {where}.parallelism.dataLocal.", path: par!.Path + ".dataLocal");
    }
}

/// <summary>RHAII403: spec.router follows the webhook rules and exposes the service.</summary>
internal sealed class RouterInvalidRule : LintRule
{
    public override string Id => "RHAII403";
    public override string Name => "RouterInvalid";
    public override FindingSeverity Severity => FindingSeverity.Error;
    public override string Description => "spec.router sets both route refs and a route spec, route refs without gateway refs, or both a pool ref and a pool spec; or there is no router at all (Information).";

    public override void CheckObject(LintDocument doc, LintContext ctx)
    {
        if (!doc.IsLlmIsvc || doc.Spec is not { } spec) return;
        var router = spec["router"];
        if (router is null || router.IsNull)
        {
            if (!doc.MayInherit)
                Report(ctx, doc, spec,
                    "No spec.router: KServe creates no HTTPRoute, InferencePool or EPP scheduler, so the model is reachable only inside the cluster through its workload Service.",
                    "Add router: { route: {}, gateway: {}, scheduler: {} } to serve it through the inference gateway with the EPP scheduler.",
                    FindingSeverity.Information, path: "spec.router");
            return;
        }
        var http = router.Get("route.http");
        var refs = http?["refs"];
        if (refs?.Items.Any() == true && http?["spec"] is { IsNull: false })
            Report(ctx, doc, http!,
                "spec.router.route.http sets both refs and spec; KServe's webhook accepts only one (refs to your own HTTPRoutes, or spec for the managed one).",
                "Keep refs or spec, not both; `route: {}` gives the managed HTTPRoute.");
        if (refs?.Items.Any() == true && router.Get("gateway.refs")?.Items.Any() != true)
            Report(ctx, doc, refs!,
                "spec.router.route.http.refs points at your own HTTPRoutes but spec.router.gateway.refs is empty; KServe's webhook requires the gateways those routes attach to.",
                "Add spec.router.gateway.refs: [{ name: inference-gateway, namespace: opendatahub }] (your gateway).",
                path: "spec.router.gateway.refs");
        var pool = router.Get("scheduler.pool");
        if (pool?["ref"] is { IsNull: false } && pool["spec"] is { IsNull: false })
            Report(ctx, doc, pool,
                "spec.router.scheduler.pool sets both ref and spec; KServe uses one InferencePool, either referenced or managed.",
                "Keep ref (an existing InferencePool) or spec (a managed one), not both.", FindingSeverity.Warning);
    }
}

/// <summary>RHAII404: no Istio sidecars on KServe's LLM workloads.</summary>
internal sealed class SidecarInjectionRule : LintRule
{
    public override string Id => "RHAII404";
    public override string Name => "SidecarInjection";
    public override FindingSeverity Severity => FindingSeverity.Warning;
    public override string Description => "Istio sidecar injection is enabled for an LLMInferenceService namespace or a vLLM pod; KServe's workload TLS is designed for pods without sidecars.";

    public override void CheckObject(LintDocument doc, LintContext ctx)
    {
        if (doc.Kind != "Namespace" || doc.Name is null) return;
        var labels = doc.Root.Get("metadata.labels");
        var label = labels?["istio-injection"] is { Scalar: "enabled" } l ? l : labels?["istio.io/rev"];
        if (label is null) return;
        var services = ctx.Documents.Where(d => d.IsLlmIsvc && d.Namespace == doc.Name).Select(d => d.Name).ToList();
        if (services.Count == 0) return;
        Report(ctx, doc, label,
            $"Namespace {doc.Name} enables Istio sidecar injection, and LLMInferenceService {string.Join(", ", services)} runs in it: KServe's workload TLS (DestinationRules that originate TLS to the pods) is designed for pods without sidecars, and injected sidecars break gateway-to-vLLM and gateway-to-EPP traffic.",
            "Remove the istio-injection/istio.io/rev label from the workload namespace; the gateway needs no sidecars in it.");
    }

    public override void CheckPod(PodView pod, LintContext ctx)
    {
        if (pod.Metadata is not { } meta || pod.VllmContainer is not { LooksLikeVllm: true }) return;
        var inject = meta.Get("annotations")?["sidecar.istio.io/inject"] ?? meta.Get("labels")?["sidecar.istio.io/inject"];
        if (inject?.Scalar?.ToLowerInvariant() != "true") return;
        Report(ctx, pod.Owner, inject,
            "The vLLM pod asks for an Istio sidecar; KServe's workload TLS and the EPP's direct connections are designed for pods without sidecars.",
            "Remove sidecar.istio.io/inject or set it to \"false\".");
    }
}

/// <summary>RHAII405: LLMInferenceService objects use serving.kserve.io/v1alpha1.</summary>
internal sealed class ApiVersionUnsupportedRule : LintRule
{
    public override string Id => "RHAII405";
    public override string Name => "ApiVersionUnsupported";
    public override FindingSeverity Severity => FindingSeverity.Warning;
    public override string Description => "An LLMInferenceService(Config) uses an apiVersion other than serving.kserve.io/v1alpha1, the one KServe release-v0.15 serves.";

    public override void CheckObject(LintDocument doc, LintContext ctx)
    {
        if (doc.Kind is not (K8s.LlmIsvc or K8s.LlmIsvcConfig)) return;
        var at = doc.Root["apiVersion"] ?? doc.Root;
        if (doc.Group != K8s.KServeGroup)
            Report(ctx, doc, at,
                $"apiVersion '{doc.ApiVersion}' is not serving.kserve.io: kubectl answers \"no matches for kind {doc.Kind}\", and no other rule checked this object.",
                $"Set apiVersion: {K8s.KServeGroup}/{K8s.KServeVersion}.", FindingSeverity.Error, path: "apiVersion");
        else if (doc.Version != K8s.KServeVersion)
            Report(ctx, doc, at,
                $"apiVersion '{doc.ApiVersion}': KServe release-v0.15 (RHAII on xKS) serves only {K8s.KServeGroup}/{K8s.KServeVersion}; the rules checked the object with v1alpha1 semantics.",
                $"Use apiVersion: {K8s.KServeGroup}/{K8s.KServeVersion} unless your KServe serves {doc.Version}.", path: "apiVersion");
    }
}

/// <summary>RHAII406: without spec.model.name, the served name is metadata.name.</summary>
internal sealed class ServedModelNameDefaultedRule : LintRule
{
    public override string Id => "RHAII406";
    public override string Name => "ServedModelNameDefaulted";
    public override FindingSeverity Severity => FindingSeverity.Information;
    public override string Description => "spec.model.name is not set, so clients must send metadata.name as the model name.";

    public override void CheckObject(LintDocument doc, LintContext ctx)
    {
        if (!doc.IsLlmIsvc || doc.MayInherit || doc.Spec?["model"] is not { IsMapping: true } model || model["name"] is not null) return;
        var uri = model.Str("uri");
        var id = uri is not null && uri.StartsWith("hf://", StringComparison.OrdinalIgnoreCase) ? uri[5..] : null;
        Report(ctx, doc, model,
            $"spec.model.name is not set: KServe serves the model as '{doc.Name}' (metadata.name), so clients send \"model\": \"{doc.Name}\".",
            id is null ? "Set spec.model.name to the name clients should send." : $"Set spec.model.name: {id} if clients should send the Hugging Face id.",
            path: "spec.model.name");
    }
}

/// <summary>RHAII407: the serving.kserve.io/stop annotation stops the service.</summary>
internal sealed class ServiceStoppedRule : LintRule
{
    public override string Id => "RHAII407";
    public override string Name => "ServiceStopped";
    public override FindingSeverity Severity => FindingSeverity.Information;
    public override string Description => "The serving.kserve.io/stop annotation is \"true\": KServe keeps the spec but runs no workload or scheduler.";

    public override void CheckObject(LintDocument doc, LintContext ctx)
    {
        if (!doc.IsLlmIsvc) return;
        var stop = doc.Root.Get("metadata.annotations")?["serving.kserve.io/stop"];
        if (stop?.Scalar?.ToLowerInvariant() != "true") return;
        Report(ctx, doc, stop,
            "serving.kserve.io/stop is \"true\": KServe stops the workload and scheduler (no TPU cost) and the service answers no requests.",
            "Remove the annotation (or set it to \"false\") to start serving again.");
    }
}
