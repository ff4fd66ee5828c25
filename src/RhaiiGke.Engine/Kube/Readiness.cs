using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube.Json;

namespace RhaiiGke.Engine.Kube;

/// <summary>
/// Whether a live object is ready, and if not, why, in words a person can act on: CRDs Established,
/// workloads Available (with the reason their pods are not running), webhooks with ready endpoints and
/// an injected CA, Jobs Complete, and custom resources with a Ready or Available condition.
/// </summary>
internal static class Readiness
{
    public sealed record State(bool Ready, string Why);

    private static readonly State Yes = new(true, "");

    /// <summary>True when this kind has a readiness gate worth waiting for.</summary>
    public static bool HasGate(JsonObject obj)
    {
        var kind = obj.Str("kind");
        return kind is "CustomResourceDefinition" or "Deployment" or "StatefulSet" or "DaemonSet" or "Job"
            or "ValidatingWebhookConfiguration" or "MutatingWebhookConfiguration" or "Namespace" or "APIService" || GateOf(kind) is not null;
    }

    public static async Task<State> CheckAsync(KubeClient client, JsonObject live, CancellationToken ct)
    {
        var kind = live.Str("kind");
        var status = live.Obj("status");
        switch (kind)
        {
            case "Namespace":
                return status?.Str("phase") == "Terminating" ? new(false, "the namespace is Terminating") : Yes;
            case "CustomResourceDefinition":
                if (Condition(live, "Established") is { } est && est.Str("status") == "True") return Yes;
                var names = Condition(live, "NamesAccepted");
                return new(false, names?.Str("status") == "False"
                    ? $"names not accepted ({names.Str("reason")}: {names.Str("message")})"
                    : "condition Established is not True yet");
            case "Deployment":
            {
                var gen = live.Long("metadata", "generation") ?? 1;
                var observed = status?.Long("observedGeneration") ?? 0;
                var want = live.Long("spec", "replicas") ?? 1;
                var ready = status?.Long("readyReplicas") ?? 0;
                var available = Condition(live, "Available");
                if (observed >= gen && available?.Str("status") == "True" && ready >= want && (status?.Long("updatedReplicas") ?? 0) >= want) return Yes;
                var why = observed < gen ? $"generation {gen} not observed yet (observedGeneration {observed})"
                    : available is null ? "no Available condition yet"
                    : $"condition Available={available.Str("status")} ({available.Str("reason")}: {available.Str("message")})";
                why += $"; {ready}/{want} replicas ready";
                if (await PodProblemAsync(client, live, ct).ConfigureAwait(false) is { } pod) why += "; " + pod;
                return new(false, why);
            }
            case "StatefulSet":
            {
                var want = live.Long("spec", "replicas") ?? 1;
                var ready = status?.Long("readyReplicas") ?? 0;
                if ((status?.Long("observedGeneration") ?? 0) >= (live.Long("metadata", "generation") ?? 1) && ready >= want) return Yes;
                var why = $"{ready}/{want} replicas ready";
                if (await PodProblemAsync(client, live, ct).ConfigureAwait(false) is { } pod) why += "; " + pod;
                return new(false, why);
            }
            case "DaemonSet":
            {
                var desired = status?.Long("desiredNumberScheduled") ?? 0;
                var ready = status?.Long("numberReady") ?? 0;
                if ((status?.Long("observedGeneration") ?? 0) >= (live.Long("metadata", "generation") ?? 1) && ready >= desired) return Yes;
                return new(false, $"{ready}/{desired} pods ready");
            }
            case "Job":
                if (Condition(live, "Complete")?.Str("status") == "True") return Yes;
                if (Condition(live, "Failed") is { } f && f.Str("status") == "True") return new(false, $"the Job failed ({f.Str("reason")}: {f.Str("message")})");
                return new(false, "the Job has not completed");
            case "ValidatingWebhookConfiguration" or "MutatingWebhookConfiguration":
                return await WebhookAsync(client, live, ct).ConfigureAwait(false);
            case "APIService":
                return Condition(live, "Available")?.Str("status") == "True" ? Yes : new(false, "condition Available is not True");
        }
        // custom resources: the kinds whose controllers always report a condition are waited on even before they do
        var known = GateOf(kind);
        var gate = known is not null ? Condition(live, known) : Condition(live, "Ready") ?? Condition(live, "Available");
        if (gate is null)
            return known is null ? Yes : new(false, $"no {known} condition yet (its controller has not reconciled it; is the operator running?)");
        if (gate.Str("status") == "True")
        {
            var og = gate.Long("observedGeneration") ?? status?.Long("observedGeneration");
            var gen = live.Long("metadata", "generation");
            if (og is not null && gen is not null && og < gen) return new(false, $"generation {gen} not observed yet");
            return Yes;
        }
        return new(false, $"condition {gate.Str("type")}={gate.Str("status")} ({gate.Str("reason")}: {gate.Str("message")})");
    }

    /// <summary>The condition that means "ready" for kinds whose controllers always set one.</summary>
    public static string? GateOf(string? kind) => kind switch
    {
        "Issuer" or "ClusterIssuer" or "Certificate" or "Istio" or "IstioCNI" or "IstioRevision" or "LLMInferenceService" => "Ready",
        "Gateway" => "Programmed",
        "GatewayClass" => "Accepted",
        "LeaderWorkerSet" => "Available",
        _ => null,
    };

    /// <summary>Custom resources that have (or will get) a Ready/Available condition are waited on only when their controller already reports one.</summary>
    public static bool ReportsConditions(JsonObject live) => live.Arr("status", "conditions") is { Count: > 0 };

    public static JsonObject? Condition(JsonObject obj, string type) =>
        obj.Arr("status", "conditions")?.OfType<JsonObject>().FirstOrDefault(c => c.Str("type") == type);

    private static async Task<State> WebhookAsync(KubeClient client, JsonObject cfg, CancellationToken ct)
    {
        var annotated = cfg.Annotations().Keys.Any(k => k is "cert-manager.io/inject-ca-from" or "cert-manager.io/inject-ca-from-secret");
        foreach (var wh in cfg.Arr("webhooks")?.OfType<JsonObject>() ?? [])
        {
            var svc = wh.Obj("clientConfig", "service");
            if (svc is null) continue;
            var ns = svc.Str("namespace") ?? "default";
            var name = svc.Str("name") ?? "";
            var ep = await client.GetAsync($"/api/v1/namespaces/{ns}/endpoints/{name}", ct).ConfigureAwait(false);
            var ready = ep?.Arr("subsets")?.Any(s => (s.Arr("addresses")?.Count ?? 0) > 0) == true;
            if (!ready) return new(false, $"webhook {wh.Str("name")}: service {ns}/{name} has no ready endpoints");
            if (annotated && string.IsNullOrEmpty(wh.Str("clientConfig", "caBundle")))
                return new(false, $"webhook {wh.Str("name")}: caBundle not injected yet by cert-manager's cainjector");
        }
        return Yes;
    }

    /// <summary>The first pod of a workload that is not running, and why (scheduling, image, crash).</summary>
    private static async Task<string?> PodProblemAsync(KubeClient client, JsonObject workload, CancellationToken ct)
    {
        var ml = workload.At("spec", "selector", "matchLabels").StringMap();
        if (ml.Count == 0) return null;
        var selector = string.Join(",", ml.Select(kv => $"{kv.Key}={kv.Value}"));
        JsonObject pods;
        try { pods = await client.ListAsync($"/api/v1/namespaces/{workload.Namespace()}/pods", selector, ct).ConfigureAwait(false); }
        catch (KubeApiException) { return null; }
        var items = pods.Arr("items") ?? [];
        if (items.Count == 0) return "no pods created yet";
        foreach (var p in items.OfType<JsonObject>())
        {
            var phase = p.Str("status", "phase");
            var sched = Condition(p, "PodScheduled");
            if (sched?.Str("status") == "False") return $"pod {p.Name()} is Pending: {sched.Str("message")}";
            foreach (var cs in p.Arr("status", "containerStatuses") ?? [])
            {
                if (cs.Obj("state", "waiting") is { } w) return $"pod {p.Name()} container {cs.Str("name")} is waiting: {w.Str("reason")}{(w.Str("message") is { } m ? ": " + m : "")}";
                if (cs.Obj("state", "terminated") is { } t && t.Long("exitCode") != 0) return $"pod {p.Name()} container {cs.Str("name")} exited {t.Long("exitCode")} ({t.Str("reason")})";
            }
            if (phase != "Running" && phase != "Succeeded") return $"pod {p.Name()} is {phase ?? "Pending"}";
            if (Condition(p, "Ready")?.Str("status") != "True") return $"pod {p.Name()} is Running but not Ready";
        }
        return null;
    }
}
