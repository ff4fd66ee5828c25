using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RhaiiGke.Engine.Catalog;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Engine.Manifests;
using static RhaiiGke.Engine.Serving.Diagnosis.ClusterSnapshot;

namespace RhaiiGke.Engine.Serving.Diagnosis;

/// <summary>One symptom from the runbooks' troubleshooting sections, turned into a check.</summary>
public interface IDiagnosisCheck
{
    string Id { get; }
    IEnumerable<DiagnosisFinding> Run(ClusterSnapshot snapshot);
}

/// <summary>Runs every check over a snapshot; findings ordered by severity, then object.</summary>
public static class Diagnoser
{
    public static IReadOnlyList<IDiagnosisCheck> Checks { get; } =
    [
        new ImagePullCheck(),
        new TpuSchedulingCheck(),
        new WebhookEndpointsCheck(),
        new InferencePoolCheck(),
        new InferencePoolGroupCheck(),
        new GatewayRoutingCheck(),
        new WorkloadCrashCheck(),
        new HuggingFaceTokenCheck(),
        new ProbeBudgetCheck(),
        new NetworkPolicyCheck(),
        new FirstInferenceTimeoutCheck(),
        new GkeHealthCheckCheck(),
        new MultiHostCheck(),
        new GcsModelAccessCheck(),
        new GpuSchedulingCheck(),
        new CudaImageOnTpuCheck(),
    ];

    public static IReadOnlyList<DiagnosisFinding> Run(ClusterSnapshot snapshot, IEnumerable<string>? onlyChecks = null)
    {
        var filter = onlyChecks?.ToHashSet(StringComparer.OrdinalIgnoreCase);
        return Checks
            .SelectMany(c => c.Run(snapshot))
            .Where(f => filter is null || filter.Contains(f.CheckId))
            .OrderByDescending(f => f.Severity).ThenBy(f => f.Namespace).ThenBy(f => f.Kind).ThenBy(f => f.Name).ThenBy(f => f.CheckId)
            .ToList();
    }

    /// <summary>Every check id any check can report, for completion and filtering.</summary>
    public static IReadOnlyList<string> CheckIds { get; } =
    [
        "GatewayImagePullFailed", "ImagePullFailed", "TpuAcceleratorLabelUnknown", "TpuTopologyUnavailable", "TpuCapacityUnavailable",
        "TpuTolerationMissing", "TpuRequestMismatch", "WebhookWithoutEndpoints", "InferencePoolMissing", "InferencePoolGroupMismatch",
        "GatewayNotProgrammed", "HttpRouteMissing", "HttpRouteNotAccepted", "HttpRouteRefsUnresolved", "WorkloadWithoutReadyEndpoints",
        "WorkloadCrashLoop", "TpuBoundsMismatch", "HuggingFaceTokenRejected", "HuggingFaceTokenNotOnServiceAccount", "SecretMissing",
        "ProbeBudgetTooShort", "NetworkPolicyBlocksGateway", "NetworkPolicyNotEnforced", "FirstInferenceTimeout", "GkeHealthCheckMissing",
        "MultiHostGroupSizeMismatch", "MultiHostPoolSmallerThanSlice",
        "WorkloadIdentityBindingMissing", "GcsAccessDenied", "GcsBucketNotFound", "GcsModelNotFound",
        "GpuAcceleratorLabelUnknown", "GpuTolerationMissing", "GpuCapacityUnavailable", "GpuDriversNotInstalled", "GpuRequestMismatch", "AcceleratorImageMismatch",
        "RolloutBlockedByAccelerator",
    ];

    internal static DiagnosisFinding Finding(string id, FindingSeverity sev, JsonObject obj, string message, string fix, IEnumerable<string>? evidence = null) => new()
    {
        CheckId = id,
        Severity = sev,
        Kind = Str(obj, "kind") ?? "",
        Namespace = ClusterSnapshot.Namespace(obj),
        Name = ClusterSnapshot.Name(obj),
        Message = message,
        Fix = fix,
        Evidence = evidence?.Where(e => !string.IsNullOrWhiteSpace(e)).Distinct().ToArray() ?? [],
    };

    internal static IEnumerable<string> EventMessages(ClusterSnapshot s, JsonObject obj, params string[] reasons) =>
        s.EventsFor(obj).Where(e => reasons.Length == 0 || reasons.Contains(Str(e, "reason")))
            .Select(e => $"{Str(e, "type") ?? "Event"} {Str(e, "reason")}: {Str(e, "message")}");

    internal static IEnumerable<(JsonObject Status, bool Init)> ContainerStatuses(JsonObject pod)
    {
        foreach (var key in new[] { "initContainerStatuses", "containerStatuses" })
            if (pod["status"]?[key] is JsonArray arr)
                foreach (var c in arr.OfType<JsonObject>()) yield return (c, key.StartsWith("init", StringComparison.Ordinal));
    }

    internal static string? WaitingReason(JsonObject status) => Str(status["state"]?["waiting"], "reason");

    internal static bool IsWorkloadPod(JsonObject pod) =>
        Labels(pod).TryGetValue("app.kubernetes.io/component", out var c) && c == "llminferenceservice-workload" || TpuRequest(pod) > 0;

    internal static int TpuRequest(JsonObject pod)
    {
        var total = 0;
        foreach (var c in (pod["spec"]?["containers"] as JsonArray)?.OfType<JsonObject>() ?? [])
            if (int.TryParse(c["resources"]?["requests"]?["google.com/tpu"]?.ToString() ?? c["resources"]?["limits"]?["google.com/tpu"]?.ToString(), out var n)) total += n;
        return total;
    }

    internal static JsonArray Items(JsonNode? n) => n as JsonArray ?? [];
}

internal sealed class ImagePullCheck : IDiagnosisCheck
{
    public string Id => "ImagePullFailed";

    public IEnumerable<DiagnosisFinding> Run(ClusterSnapshot s)
    {
        foreach (var pod in s.OfKind("Pod"))
        {
            foreach (var (cs, _) in Diagnoser.ContainerStatuses(pod))
            {
                var reason = Diagnoser.WaitingReason(cs);
                if (reason is not ("ImagePullBackOff" or "ErrImagePull")) continue;
                var image = Str(cs, "image") ?? "";
                var registry = image.Contains('/') ? image[..image.IndexOf('/')] : "docker.io";
                var ns = ClusterSnapshot.Namespace(pod);
                var saName = Str(pod["spec"], "serviceAccountName") ?? "default";
                var sa = s.Get("ServiceAccount", ns, saName);
                var podSecrets = Diagnoser.Items(pod["spec"]?["imagePullSecrets"]).Select(x => Str(x, "name")).OfType<string>();
                var saSecrets = Diagnoser.Items(sa?["imagePullSecrets"]).Select(x => Str(x, "name")).OfType<string>();
                var secrets = podSecrets.Concat(saSecrets).Distinct().ToList();
                var missing = secrets.Where(n => s.Get("Secret", ns, n) is null).ToList();
                var evidence = new List<string> { $"{Str(cs, "name")}: {reason}: {Str(cs["state"]?["waiting"], "message")}" };
                evidence.Add(secrets.Count == 0 ? $"ServiceAccount {saName} and the pod list no imagePullSecrets" : $"pull secrets: {string.Join(", ", secrets)}");
                if (missing.Count > 0) evidence.Add($"missing in {ns}: {string.Join(", ", missing)}");
                evidence.AddRange(Diagnoser.EventMessages(s, pod, "Failed"));
                var isGateway = Labels(pod).TryGetValue(ManifestBuilder.GatewayNameLabel, out var gw);
                if (isGateway)
                {
                    yield return Diagnoser.Finding("GatewayImagePullFailed", FindingSeverity.Error, pod,
                        $"The gateway pod cannot pull {image}: the Istio-generated ServiceAccount {saName} has no usable pull secret for {registry}.",
                        $"Create the pull secret in {ns} and give it to the generated ServiceAccount through the gateway's parametersRef ConfigMap (key serviceAccount: imagePullSecrets), as New-InferenceGateway and Export-RhaiiManifest do; or patch ServiceAccount {saName} with imagePullSecrets and delete the pod so it restarts.",
                        evidence);
                }
                else
                {
                    yield return Diagnoser.Finding("ImagePullFailed", FindingSeverity.Error, pod,
                        $"Container {Str(cs, "name")} cannot pull {image} from {registry}.",
                        missing.Count > 0
                            ? $"Create secret(s) {string.Join(", ", missing)} in {ns} (kubernetes.io/dockerconfigjson with credentials for {registry})."
                            : $"Add a pull secret for {registry} to ServiceAccount {saName} in {ns} (Deploy-LlmInferenceService -PullSecret does), or check the image name and tag.",
                        evidence);
                }
            }
        }
    }
}

internal sealed class TpuSchedulingCheck : IDiagnosisCheck
{
    public string Id => "TpuPodUnschedulable";

    public IEnumerable<DiagnosisFinding> Run(ClusterSnapshot s)
    {
        var tpuNodes = s.OfKind("Node").Where(n => Labels(n).ContainsKey(ManifestBuilder.TpuAcceleratorLabel)).ToList();
        var blocks = RolloutBlocks.Find(s.OfKind("Pod")).ToDictionary(b => (b.Namespace, b.PendingPod));
        foreach (var pod in s.OfKind("Pod"))
        {
            var selector = StringMap(pod["spec"]?["nodeSelector"]);
            var request = Diagnoser.TpuRequest(pod);
            var wantsTpu = request > 0 || selector.ContainsKey(ManifestBuilder.TpuAcceleratorLabel);
            if (!wantsTpu) continue;
            var scheduled = Condition(pod["status"], "PodScheduled");
            var pending = Str(pod["status"], "phase") == "Pending" && !IsTrue(scheduled);
            if (!pending) continue;
            var evidence = Diagnoser.EventMessages(s, pod, "FailedScheduling", "NotTriggerScaleUp", "FailedScaleUp").ToList();
            if (scheduled is not null && Str(scheduled, "message") is { } m) evidence.Add($"PodScheduled=False: {m}");
            var found = false;

            selector.TryGetValue(ManifestBuilder.TpuAcceleratorLabel, out var accel);
            selector.TryGetValue(ManifestBuilder.TpuTopologyLabel, out var topo);
            if (accel is not null && !TpuCatalog.IsKnownNodeLabel(accel))
            {
                found = true;
                var right = TpuCatalog.NodeLabelFor(accel);
                yield return Diagnoser.Finding("TpuAcceleratorLabelUnknown", FindingSeverity.Error, pod,
                    $"nodeSelector {ManifestBuilder.TpuAcceleratorLabel}={accel} matches no GKE TPU node: GKE labels nodes {string.Join(", ", TpuCatalog.All.Select(t => t.NodeLabel).Distinct())}.",
                    right is not null ? $"Use {ManifestBuilder.TpuAcceleratorLabel}: {right}." : "Use the label value from Get-TpuTopology.", evidence);
            }
            else if (accel is null || topo is null)
            {
                found = true;
                yield return Diagnoser.Finding("TpuTopologyUnavailable", FindingSeverity.Error, pod,
                    "The pod requests TPU chips but does not select both TPU node labels; GKE requires both the accelerator and the topology selector.",
                    $"Add nodeSelector {ManifestBuilder.TpuAcceleratorLabel} and {ManifestBuilder.TpuTopologyLabel} (New-LlmInferenceServiceSpec derives both).", evidence);
            }

            if (!Diagnoser.Items(pod["spec"]?["tolerations"]).OfType<JsonObject>().Any(t => Str(t, "key") == "google.com/tpu" && (Str(t, "operator") == "Exists" || Str(t, "value") == "present")))
            {
                found = true;
                yield return Diagnoser.Finding("TpuTolerationMissing", FindingSeverity.Error, pod,
                    "The pod does not tolerate the taint google.com/tpu=present:NoSchedule that GKE puts on TPU nodes.",
                    "Add the toleration {key: google.com/tpu, operator: Equal, value: present, effect: NoSchedule}.", evidence);
            }

            if (accel is not null && topo is not null && TpuCatalog.IsKnownNodeLabel(accel))
            {
                var slice = TpuCatalog.All.Where(t => t.NodeLabel == accel && t.Topology == topo).OrderBy(t => t.Hosts).FirstOrDefault();
                if (slice is null)
                {
                    found = true;
                    yield return Diagnoser.Finding("TpuTopologyUnavailable", FindingSeverity.Error, pod,
                        $"{accel} has no topology {topo}.", $"Use one of: {string.Join(", ", TpuCatalog.All.Where(t => t.NodeLabel == accel).Select(t => t.Topology).Distinct())}.", evidence);
                }
                else if (request != slice.ChipsPerHost)
                {
                    found = true;
                    yield return Diagnoser.Finding("TpuRequestMismatch", FindingSeverity.Error, pod,
                        $"The pod requests {request} google.com/tpu but a {topo} host ({slice.MachineType}) has {slice.ChipsPerHost} chips; GKE only schedules pods that request every chip of the host.",
                        $"Request google.com/tpu: \"{slice.ChipsPerHost}\" in both requests and limits.", evidence);
                }
                var matching = tpuNodes.Where(n => Labels(n).GetValueOrDefault(ManifestBuilder.TpuAcceleratorLabel) == accel && Labels(n).GetValueOrDefault(ManifestBuilder.TpuTopologyLabel) == topo).ToList();
                if (!found && matching.Count == 0 && slice is not null)
                {
                    found = true;
                    var offered = tpuNodes.Select(n => $"{Labels(n).GetValueOrDefault(ManifestBuilder.TpuAcceleratorLabel)} {Labels(n).GetValueOrDefault(ManifestBuilder.TpuTopologyLabel)}").Distinct().ToList();
                    yield return Diagnoser.Finding(offered.Count > 0 ? "TpuTopologyUnavailable" : "TpuCapacityUnavailable", FindingSeverity.Error, pod,
                        offered.Count > 0
                            ? $"No node offers {accel} {topo}; the TPU nodes offer {string.Join(", ", offered)}."
                            : $"There is no {accel} {topo} node: the TPU node pool is at zero, still scaling up, or out of capacity.",
                        offered.Count > 0
                            ? $"Change the service's -Topology to one the pool offers, or add a node pool with {slice.MachineType} {topo} (Set-TpuNodePool / New-TpuCluster)."
                            : $"Scale the TPU pool up (Set-TpuNodePool -NodeCount 1) or let autoscaling add a {slice.MachineType} node; if it does not, check quota and stockouts with Test-RhaiiPrerequisites.",
                        evidence);
                }
            }

            if (!found && blocks.TryGetValue((ClusterSnapshot.Namespace(pod) ?? "default", ClusterSnapshot.Name(pod)), out var block))
            {
                // an update, not a capacity problem: the previous revision of the same Deployment holds the chips
                var service = Labels(pod).GetValueOrDefault("app.kubernetes.io/name") ?? block.Deployment;
                var d = block.Describe();
                yield return Diagnoser.Finding(RolloutBlocks.ErrorId, FindingSeverity.Error, pod,
                    char.ToUpperInvariant(d[0]) + d[1..] + ". " + (block.OldPodsServing ? "The previous revision keeps serving meanwhile." : "The previous revision's pods serve nothing."),
                    RolloutBlock.Fix(block.Namespace, service), evidence.Append($"previous revision: {block.HoldersText}"));
            }
            else if (!found && evidence.Any(e => e.Contains("Insufficient google.com/tpu", StringComparison.Ordinal)))
                yield return Diagnoser.Finding("TpuCapacityUnavailable", FindingSeverity.Error, pod,
                    "Every matching TPU node's chips are taken.",
                    "Add a node (Set-TpuNodePool -NodeCount <n+1>), lower -Replicas, or raise the pool's autoscaling maximum.", evidence);
        }
    }
}

internal sealed class WebhookEndpointsCheck : IDiagnosisCheck
{
    public string Id => "WebhookWithoutEndpoints";

    public IEnumerable<DiagnosisFinding> Run(ClusterSnapshot s)
    {
        foreach (var cfg in s.OfKind("ValidatingWebhookConfiguration").Concat(s.OfKind("MutatingWebhookConfiguration")))
        {
            foreach (var wh in Diagnoser.Items(cfg["webhooks"]).OfType<JsonObject>())
            {
                var svc = wh["clientConfig"]?["service"];
                if (svc is null) continue;
                var ns = Str(svc, "namespace");
                var name = Str(svc, "name");
                if (ns is null || name is null) continue;
                var ready = ReadyAddresses(s, ns, name);
                if (ready is null or > 0) continue; // unknown (endpoints not collected) or fine
                var evidence = new List<string> { $"webhook {Str(wh, "name")} calls service {ns}/{name}, which has no ready endpoints" };
                evidence.AddRange(s.OfKind("Event").Select(e => Str(e, "message")).OfType<string>()
                    .Where(m => m.Contains("no endpoints available for service", StringComparison.Ordinal) && m.Contains(name, StringComparison.Ordinal)).Take(3));
                var service = s.Get("Service", ns, name);
                var selector = StringMap(service?["spec"]?["selector"]);
                var deployment = selector.Count == 0 ? null : s.OfKind("Deployment", ns).FirstOrDefault(d => Matches(StringMap(d["spec"]?["template"]?["metadata"]?["labels"]), selector));
                if (deployment is not null)
                    evidence.Add($"Deployment {Name(deployment)}: Available={Str(Condition(deployment["status"], "Available"), "status") ?? "Unknown"} {Str(Condition(deployment["status"], "Available"), "message")}");
                yield return Diagnoser.Finding("WebhookWithoutEndpoints", FindingSeverity.Error, cfg,
                    $"Admission webhook {Str(wh, "name")} has no ready endpoints, so the API server rejects matching requests with \"no endpoints available for service {name}\".",
                    deployment is not null
                        ? $"Wait for Deployment {ns}/{Name(deployment)} to become Available, then retry the apply (Install-RhaiiOperators does both); do not delete the webhook configuration."
                        : $"Start the controller behind service {ns}/{name} and retry the apply; do not delete the webhook configuration.",
                    evidence);
            }
        }
    }

    /// <summary>Ready addresses of a Service from Endpoints or EndpointSlices; null when neither was collected.</summary>
    internal static int? ReadyAddresses(ClusterSnapshot s, string ns, string service)
    {
        var ep = s.Get("Endpoints", ns, service);
        if (ep is not null)
            return Diagnoser.Items(ep["subsets"]).OfType<JsonObject>().Sum(ss => Diagnoser.Items(ss["addresses"]).Count);
        var slices = s.OfKind("EndpointSlice", ns).Where(es => Labels(es).GetValueOrDefault("kubernetes.io/service-name") == service).ToList();
        if (slices.Count > 0)
            return slices.Sum(es => Diagnoser.Items(es["endpoints"]).OfType<JsonObject>().Count(e => e["conditions"]?["ready"]?.GetValue<bool>() != false));
        return s.OfKind("Endpoints").Any() || s.OfKind("EndpointSlice").Any() ? 0 : null;
    }
}

internal sealed class InferencePoolCheck : IDiagnosisCheck
{
    public string Id => "InferencePoolMissing";

    public IEnumerable<DiagnosisFinding> Run(ClusterSnapshot s)
    {
        foreach (var svc in s.OfKind("LLMInferenceService"))
        {
            if (svc["spec"]?["router"]?["scheduler"] is null) continue;
            var ns = ClusterSnapshot.Namespace(svc);
            var name = Name(svc);
            var poolName = svc["spec"]?["router"]?["scheduler"]?["pool"]?["ref"]?["name"]?.ToString() ?? $"{name}-inference-pool";
            if (s.OfKind("InferencePool", ns).Any(p => Name(p) == poolName)) continue;
            var evidence = new List<string>();
            foreach (var t in new[] { "InferencePoolReady", "RouterReady", "SchedulerWorkloadReady", "PresetsCombined" })
                if (Condition(svc["status"], t) is { } c && !IsTrue(c)) evidence.Add($"{t}={Str(c, "status")} {Str(c, "reason")}: {Str(c, "message")}");
            var crds = s.OfKind("CustomResourceDefinition").Select(Name).ToHashSet();
            var missingCrds = new[] { "inferencepools.inference.networking.k8s.io", "inferencepools.inference.networking.x-k8s.io" }.Where(c => crds.Count > 0 && !crds.Contains(c)).ToList();
            var presetMissing = s.OfKind("LLMInferenceServiceConfig").Any() && !s.OfKind("LLMInferenceServiceConfig").Any(c => Name(c) == "kserve-config-llm-scheduler");
            if (missingCrds.Count > 0) evidence.Add($"CRDs missing: {string.Join(", ", missingCrds)}");
            if (presetMissing) evidence.Add("LLMInferenceServiceConfig kserve-config-llm-scheduler not found");
            yield return Diagnoser.Finding("InferencePoolMissing", FindingSeverity.Error, svc,
                $"The service asks for the EPP scheduler but InferencePool {poolName} does not exist, so its HTTPRoute has no backend (404/500 through the gateway).",
                missingCrds.Count > 0 ? $"Install the InferencePool CRDs ({string.Join(", ", missingCrds)}); the EPP watches the x-k8s group and Istio 1.28+ routes to the v1 group, so both must exist (Install-RhaiiOperators installs them)."
                : presetMissing ? "Install KServe's LLMInferenceServiceConfig presets (kserve-config-llm-scheduler and the others) in the controller namespace; reconcile stops without them."
                : "Read the KServe controller log for this service and the conditions above; re-apply the service once the cause is fixed.",
                evidence);
        }
    }
}

internal sealed class InferencePoolGroupCheck : IDiagnosisCheck
{
    public string Id => "InferencePoolGroupMismatch";
    private static readonly Regex Version = new(@":v?(\d+)\.(\d+)", RegexOptions.Compiled);

    public IEnumerable<DiagnosisFinding> Run(ClusterSnapshot s)
    {
        var istiod = s.OfKind("Deployment").FirstOrDefault(d => Name(d).StartsWith("istiod", StringComparison.Ordinal));
        (int Major, int Minor)? istio = null;
        if (istiod is not null && Diagnoser.Items(istiod["spec"]?["template"]?["spec"]?["containers"]).OfType<JsonObject>().Select(c => Str(c, "image")).FirstOrDefault() is { } img
            && Version.Match(img) is { Success: true } m)
            istio = (int.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value));

        foreach (var route in s.OfKind("HTTPRoute"))
        {
            var parents = Diagnoser.Items(route["spec"]?["parentRefs"]).OfType<JsonObject>().ToList();
            var gwRef = parents.FirstOrDefault();
            var gateway = gwRef is null ? null : s.Get("Gateway", Str(gwRef, "namespace") ?? ClusterSnapshot.Namespace(route), Str(gwRef, "name") ?? "");
            var gwClass = Str(gateway?["spec"], "gatewayClassName");
            string? spoken = gwClass switch
            {
                null => null,
                _ when gwClass.StartsWith("gke-", StringComparison.Ordinal) => "inference.networking.k8s.io",
                "istio" when istio is { } v => v.Major > 1 || v.Minor >= 28 ? "inference.networking.k8s.io" : "inference.networking.x-k8s.io",
                _ => null,
            };
            var used = Diagnoser.Items(route["spec"]?["rules"]).OfType<JsonObject>()
                .SelectMany(r => Diagnoser.Items(r["backendRefs"]).OfType<JsonObject>())
                .Where(b => Str(b, "kind") == "InferencePool" && (b["weight"] is null || b["weight"]!.ToString() != "0"))
                .Select(b => Str(b, "group") ?? "").Distinct().ToList();
            var unresolved = Diagnoser.Items(route["status"]?["parents"]).OfType<JsonObject>()
                .Select(p => Condition(p, "ResolvedRefs")).Where(c => c is not null && !IsTrue(c)).ToList();
            if (used.Count == 0) continue;
            var evidence = new List<string> { $"route sends traffic to InferencePool group(s) {string.Join(", ", used)}" };
            if (gwClass is not null) evidence.Add($"gateway class {gwClass}{(istio is { } iv && gwClass == "istio" ? $", Istio {iv.Major}.{iv.Minor}" : "")}");
            evidence.AddRange(unresolved.Select(c => $"ResolvedRefs=False {Str(c, "reason")}: {Str(c, "message")}"));
            if (spoken is not null && !used.Contains(spoken))
            {
                yield return Diagnoser.Finding("InferencePoolGroupMismatch", FindingSeverity.Error, route,
                    $"The route's InferencePool backend uses {string.Join(", ", used)} but the gateway implementation speaks {spoken}; requests get 500/404.",
                    spoken == "inference.networking.x-k8s.io"
                        ? "Istio before 1.28 speaks only InferencePool v1alpha2: keep the route on inference.networking.x-k8s.io (remove the serving.kserve.io/inferencepool-migrated annotation) or upgrade Istio to 1.28+."
                        : "This gateway speaks InferencePool v1 only: make sure the v1 CRD exists and the v1 pool was created (KServe migrates the route when v1 ResolvedRefs is True), or annotate the service serving.kserve.io/inferencepool-migrated: v1.",
                    evidence);
            }
        }
    }
}

internal sealed class GatewayRoutingCheck : IDiagnosisCheck
{
    public string Id => "GatewayRouting";

    public IEnumerable<DiagnosisFinding> Run(ClusterSnapshot s)
    {
        foreach (var gw in s.OfKind("Gateway"))
        {
            var programmed = Condition(gw["status"], "Programmed");
            var addresses = Diagnoser.Items(gw["status"]?["addresses"]).Count;
            if (IsTrue(programmed) && addresses > 0) continue;
            var evidence = new List<string>();
            if (programmed is not null) evidence.Add($"Programmed={Str(programmed, "status")} {Str(programmed, "reason")}: {Str(programmed, "message")}");
            if (addresses == 0) evidence.Add("status.addresses is empty");
            var cls = Str(gw["spec"], "gatewayClassName") ?? "";
            yield return Diagnoser.Finding("GatewayNotProgrammed", FindingSeverity.Error, gw,
                "The gateway is not programmed or has no address, so requests through it fail.",
                cls.StartsWith("gke-", StringComparison.Ordinal)
                    ? "GKE regional gateways need the Gateway API enabled on the cluster, a VPC-native cluster and a proxy-only subnet (purpose REGIONAL_MANAGED_PROXY) in the region; the global class never turned healthy for inference pools."
                    : "Check that GatewayClass istio exists and istiod is running, and that the gateway pod starts (see GatewayImagePullFailed).",
                evidence);
        }

        foreach (var svc in s.OfKind("LLMInferenceService"))
        {
            var ns = ClusterSnapshot.Namespace(svc);
            var name = Name(svc);
            if (svc["spec"]?["router"]?["route"] is null) continue;
            var route = s.Get("HTTPRoute", ns, $"{name}-kserve-route");
            if (route is null)
            {
                var cond = Condition(svc["status"], "HTTPRoutesReady");
                yield return Diagnoser.Finding("HttpRouteMissing", FindingSeverity.Error, svc,
                    $"No HTTPRoute {name}-kserve-route exists, so /{ns}/{name}/v1/... returns 404 at the gateway.",
                    "Check that the KServe controller runs and the route config preset exists; fix the conditions below and re-apply.",
                    cond is null ? [] : [$"HTTPRoutesReady={Str(cond, "status")} {Str(cond, "reason")}: {Str(cond, "message")}"]);
            }
            else
            {
                foreach (var parent in Diagnoser.Items(route["status"]?["parents"]).OfType<JsonObject>())
                {
                    var accepted = Condition(parent, "Accepted");
                    if (accepted is not null && !IsTrue(accepted))
                    {
                        var msg = Str(accepted, "message") ?? "";
                        var timeouts = msg.Contains("timeout", StringComparison.OrdinalIgnoreCase) || msg.Contains("GWCER104", StringComparison.Ordinal);
                        yield return Diagnoser.Finding("HttpRouteNotAccepted", FindingSeverity.Error, route,
                            "The gateway did not accept the service's HTTPRoute, so its paths return 404.",
                            timeouts
                                ? "GKE gateways reject HTTPRoute timeouts; add a namespace-local LLMInferenceServiceConfig kserve-config-llm-router-route without timeouts (Export-RhaiiManifest -Pattern GkeNativeGateway renders it) instead of editing the global one."
                                : "Make the route's parentRef match a listener that allows routes from this namespace (allowedRoutes.namespaces.from: All).",
                            [$"Accepted=False {Str(accepted, "reason")}: {msg}"]);
                    }
                }
            }
            var ready = WebhookEndpointsCheck.ReadyAddresses(s, ns!, $"{name}-kserve-workload-svc");
            if (ready == 0 && s.Get("Service", ns, $"{name}-kserve-workload-svc") is not null)
                yield return Diagnoser.Finding("WorkloadWithoutReadyEndpoints", FindingSeverity.Error, svc,
                    "No vLLM pod is ready behind the workload Service, so requests through the gateway get 503.",
                    "Look at the workload pods' findings (scheduling, image pull, crash loop, probes); a TPU pod needs several minutes for model download and XLA compilation before it is ready.",
                    [$"Service {name}-kserve-workload-svc has 0 ready endpoints"]);
        }
    }
}

/// <summary>
/// The first requests after a start compile XLA graphs for new shapes (one to two minutes on v6e); a route
/// or backend timeout shorter than that turns them into 504s although the service is healthy.
/// </summary>
internal sealed class FirstInferenceTimeoutCheck : IDiagnosisCheck
{
    public string Id => "FirstInferenceTimeout";
    public static readonly TimeSpan Minimum = TimeSpan.FromMinutes(3);
    private static readonly Regex Part = new(@"(\d+(?:\.\d+)?)(h|ms|m|s)", RegexOptions.Compiled);

    /// <summary>A Gateway API duration ("30s", "1m30s", "500ms"); null when it is not one.</summary>
    public static TimeSpan? ParseDuration(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var total = TimeSpan.Zero;
        var pos = 0;
        foreach (Match m in Part.Matches(text))
        {
            if (m.Index != pos) return null;
            var v = double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            total += m.Groups[2].Value switch { "h" => TimeSpan.FromHours(v), "m" => TimeSpan.FromMinutes(v), "s" => TimeSpan.FromSeconds(v), _ => TimeSpan.FromMilliseconds(v) };
            pos = m.Index + m.Length;
        }
        return pos == text.Length ? total : null;
    }

    public IEnumerable<DiagnosisFinding> Run(ClusterSnapshot s)
    {
        foreach (var route in s.OfKind("HTTPRoute"))
        {
            var rules = Diagnoser.Items(route["spec"]?["rules"]).OfType<JsonObject>().ToList();
            for (var i = 0; i < rules.Count; i++)
            {
                foreach (var field in new[] { "request", "backendRequest" })
                {
                    var text = Str(rules[i]["timeouts"], field);
                    if (ParseDuration(text) is not { } d || d == TimeSpan.Zero || d >= Minimum) continue;
                    yield return Diagnoser.Finding("FirstInferenceTimeout", FindingSeverity.Warning, route,
                        $"Rule {i} of HTTPRoute {Name(route)} times out after {text}; the first requests after a vLLM start compile XLA graphs on the TPU for one to two minutes and get 504 from the gateway.",
                        $"Set timeouts.{field} to 0s (no timeout, as KServe's own route does) or at least {Minimum.TotalMinutes:0}m, and warm the service up before sending traffic (Test-InferenceEndpoint -WarmupTimeout).",
                        [$"spec.rules[{i}].timeouts.{field}: {text}"]);
                    break;
                }
            }
        }
    }
}

/// <summary>
/// GKE gateways probe backends with their own health checks, by default "/" over the Service's
/// appProtocol; vLLM answers 404 there, so without a HealthCheckPolicy per backend the load balancer
/// never sends traffic (the GKE-native runbook's issues #5, #13).
/// </summary>
internal sealed class GkeHealthCheckCheck : IDiagnosisCheck
{
    public string Id => "GkeHealthCheck";

    public IEnumerable<DiagnosisFinding> Run(ClusterSnapshot s)
    {
        var policies = s.OfKind("HealthCheckPolicy").ToList();
        foreach (var route in s.OfKind("HTTPRoute"))
        {
            var ns = ClusterSnapshot.Namespace(route);
            var gke = Diagnoser.Items(route["spec"]?["parentRefs"]).OfType<JsonObject>().Any(p =>
                Str(s.Get("Gateway", Str(p, "namespace") ?? ns, Str(p, "name") ?? "")?["spec"], "gatewayClassName")?.StartsWith("gke-l7", StringComparison.Ordinal) == true);
            if (!gke) continue;
            var seen = new HashSet<string>();
            foreach (var b in Diagnoser.Items(route["spec"]?["rules"]).OfType<JsonObject>().SelectMany(r => Diagnoser.Items(r["backendRefs"]).OfType<JsonObject>()))
            {
                var kind = Str(b, "kind") ?? "Service";
                var name = Str(b, "name") ?? "";
                var bns = Str(b, "namespace") ?? ns;
                if (kind is not ("Service" or "InferencePool") || !seen.Add($"{kind}/{bns}/{name}")) continue;
                var covered = policies.Any(p => ClusterSnapshot.Namespace(p) == bns && Str(p["spec"]?["targetRef"], "kind") == kind && Str(p["spec"]?["targetRef"], "name") == name);
                if (covered) continue;
                var backend = s.Get(kind, bns, name);
                var evidence = new List<string> { $"no HealthCheckPolicy in {bns} targets {kind} {name}" };
                if (backend is not null) evidence.AddRange(Diagnoser.EventMessages(s, backend, "BackendUnhealthy"));
                yield return Diagnoser.Finding("GkeHealthCheckMissing", FindingSeverity.Error, route,
                    $"The GKE gateway health-checks {kind} {bns}/{name} with its default check (path /, protocol from the Service's appProtocol); vLLM answers 404 there, so the backend stays unhealthy and requests get 503.",
                    $"Create a networking.gke.io/v1 HealthCheckPolicy targeting {kind} {name} that probes /health on port 8000 over HTTPS (KServe serves TLS); Deploy-LlmInferenceService -Pattern GkeNativeGateway and Export-RhaiiManifest render one per backend.",
                    evidence);
            }
        }
    }
}

internal sealed class WorkloadCrashCheck : IDiagnosisCheck
{
    public string Id => "WorkloadCrashLoop";

    private static readonly (Regex Pattern, string Cause, string Fix)[] Causes =
    [
        (new Regex(@"Failed to infer device type|No ba16c7433 device found", RegexOptions.IgnoreCase),
            "The vLLM image does not match the node's accelerator (a CUDA build without NVIDIA GPUs, or a TPU build on a GPU node).",
            "Use the image for the accelerator: registry.redhat.io/rhaiis/vllm-cuda-rhel9 on GPUs, vllm-tpu-rhel9 on TPUs (New-LlmInferenceServiceSpec picks it from -Accelerator when -Image is not given)."),
        (new Regex("prefix.cache.block.size", RegexOptions.IgnoreCase), "vLLM on TPU crash-loops with --prefix-cache-block-size.", "Remove --prefix-cache-block-size from the vLLM flags."),
        (new Regex(@"float16|dtype.*half|half.*not supported", RegexOptions.IgnoreCase), "float16 is not a TPU data type.", "Remove --dtype=half (TPU runs bfloat16)."),
        (new Regex(@"TPU.*(in use|busy|already|initializ|not found|No TPU|unavailable)|No TPU|libtpu|chips? per host|TPU_CHIPS_PER_HOST_BOUNDS|TPU_HOST_BOUNDS", RegexOptions.IgnoreCase),
            "The TPU runtime failed to start: the pod's TPU settings do not match the host.",
            "Request every chip of the host (google.com/tpu = chips per host in requests and limits), select both TPU labels, and remove TPU_CHIPS_PER_HOST_BOUNDS/TPU_HOST_BOUNDS or make them match the topology."),
        (new Regex(@"RESOURCE_EXHAUSTED|out of memory|OOM|HBM|Not enough memory", RegexOptions.IgnoreCase), "The model and its KV cache do not fit the slice's HBM.",
            "Pick a larger topology or lower --max-model-len; Get-TpuTopology -Model <id> -FitOnly lists what fits."),
        (new Regex(@"tensor.parallel|divisible by|not divisible", RegexOptions.IgnoreCase), "The tensor-parallel size does not divide the model's attention heads or the chips.",
            "Set a tensor-parallel size that divides both (New-LlmInferenceServiceSpec derives one)."),
    ];

    public IEnumerable<DiagnosisFinding> Run(ClusterSnapshot s)
    {
        foreach (var pod in s.OfKind("Pod").Where(Diagnoser.IsWorkloadPod))
        {
            foreach (var (cs, init) in Diagnoser.ContainerStatuses(pod))
            {
                if (init || Diagnoser.WaitingReason(cs) != "CrashLoopBackOff") continue;
                var term = cs["lastState"]?["terminated"];
                var text = $"{Str(term, "reason")} {Str(term, "message")}";
                var evidence = new List<string> { $"{Str(cs, "name")}: CrashLoopBackOff, restarts {cs["restartCount"]}, last exit {term?["exitCode"]} {text.Trim()}" };
                var cause = Causes.FirstOrDefault(c => c.Pattern.IsMatch(text));
                yield return Diagnoser.Finding("WorkloadCrashLoop", FindingSeverity.Error, pod,
                    cause.Cause ?? $"vLLM container {Str(cs, "name")} keeps crashing.",
                    cause.Fix ?? "Read the container log (kubectl logs --previous) for the first error; check the TPU settings, the model URI and the vLLM flags.",
                    evidence);
            }

            // TPU bounds that do not match the selected topology crash libtpu even before vLLM logs anything.
            var topo = StringMap(pod["spec"]?["nodeSelector"]).GetValueOrDefault(ManifestBuilder.TpuTopologyLabel);
            foreach (var c in Diagnoser.Items(pod["spec"]?["containers"]).OfType<JsonObject>())
            {
                var bounds = Diagnoser.Items(c["env"]).OfType<JsonObject>().FirstOrDefault(e => Str(e, "name") == "TPU_CHIPS_PER_HOST_BOUNDS");
                if (bounds is null || topo is null) continue;
                var dims = (Str(bounds, "value") ?? "").Split(',').Select(x => int.TryParse(x.Trim(), out var n) ? n : 0).ToArray();
                var chips = dims.Aggregate(1, (a, b) => a * b);
                var expected = TpuCatalog.All.Where(t => t.Topology == topo && !t.MultiHost).Select(t => t.ChipsPerHost).FirstOrDefault();
                if (expected > 0 && chips != expected)
                    yield return Diagnoser.Finding("TpuBoundsMismatch", FindingSeverity.Error, pod,
                        $"TPU_CHIPS_PER_HOST_BOUNDS={Str(bounds, "value")} describes {chips} chip(s) but topology {topo} has {expected} per host.",
                        "Remove TPU_CHIPS_PER_HOST_BOUNDS and TPU_HOST_BOUNDS (whole-host pods do not need them) or make them match the topology.",
                        [$"{Str(c, "name")}: TPU_CHIPS_PER_HOST_BOUNDS={Str(bounds, "value")}, nodeSelector topology {topo}"]);
            }
        }
    }
}

internal sealed class HuggingFaceTokenCheck : IDiagnosisCheck
{
    public string Id => "HuggingFaceToken";
    private static readonly Regex Rejected = new(@"\b401\b|\b403\b|gated|Unauthorized|Access to model .* is restricted|Repository Not Found|Invalid (user )?token|authentication", RegexOptions.IgnoreCase | RegexOptions.Compiled);
    private static readonly Regex SecretNotFound = new("secret \"([^\"]+)\" not found", RegexOptions.Compiled);

    public IEnumerable<DiagnosisFinding> Run(ClusterSnapshot s)
    {
        foreach (var pod in s.OfKind("Pod"))
        {
            foreach (var (cs, init) in Diagnoser.ContainerStatuses(pod))
            {
                var term = cs["state"]?["terminated"] ?? cs["lastState"]?["terminated"];
                var text = $"{Str(term, "message")} {Str(cs["state"]?["waiting"], "message")}";
                if (init && Str(cs, "name") == "storage-initializer" && Rejected.IsMatch(text) && !GcsModelAccessCheck.IsGcsFailure(text))
                    yield return Diagnoser.Finding("HuggingFaceTokenRejected", FindingSeverity.Error, pod,
                        "The storage initializer could not download the model from Hugging Face: the token is missing, wrong, or has not been granted access to this gated or private model.",
                        "Create a Secret with key HF_TOKEN (a token whose account accepted the model's licence) and list it under secrets: of the pod's ServiceAccount; the storage initializer reads it only from there (Deploy-LlmInferenceService -HuggingFaceToken does both).",
                        [$"storage-initializer: {text.Trim()}"]);
                if (Diagnoser.WaitingReason(cs) == "CreateContainerConfigError" && SecretNotFound.Match(text) is { Success: true } m)
                    yield return Diagnoser.Finding("SecretMissing", FindingSeverity.Error, pod,
                        $"Container {Str(cs, "name")} references Secret {m.Groups[1].Value}, which does not exist.",
                        $"Create Secret {m.Groups[1].Value} in {ClusterSnapshot.Namespace(pod)}.", [text.Trim()]);
            }
        }

        foreach (var svc in s.OfKind("LLMInferenceService"))
        {
            var uri = svc["spec"]?["model"]?["uri"]?.ToString() ?? "";
            if (!uri.StartsWith("hf://", StringComparison.OrdinalIgnoreCase)) continue;
            var ns = ClusterSnapshot.Namespace(svc);
            var svcName = Str(svc["metadata"], "name");
            // evidence that this service's download needs a token: one of its pods' storage initializer got 401/403
            var refused = s.OfKind("Pod", ns).Any(p => Str(p["metadata"]?["labels"], "app.kubernetes.io/name") == svcName
                && Diagnoser.ContainerStatuses(p).Any(x => x.Init && Str(x.Status, "name") == "storage-initializer"
                    && Rejected.IsMatch($"{Str(x.Status["state"]?["terminated"] ?? x.Status["lastState"]?["terminated"], "message")} {Str(x.Status["state"]?["waiting"], "message")}")));
            var gated = ModelCatalog.IsGated(uri);
            if (gated == false && !refused) continue; // a public model downloads without a token
            var saName = Str(svc["spec"]?["template"], "serviceAccountName") ?? "default";
            var sa = s.Get("ServiceAccount", ns, saName);
            if (sa is null && !s.OfKind("ServiceAccount", ns).Any()) continue; // not collected
            var listed = Diagnoser.Items(sa?["secrets"]).Select(x => Str(x, "name")).OfType<string>().ToList();
            var withToken = listed.Where(n => s.Get("Secret", ns, n) is { } sec && (sec["data"]?["HF_TOKEN"] is not null || sec["stringData"]?["HF_TOKEN"] is not null)).ToList();
            var missing = listed.Where(n => s.Get("Secret", ns, n) is null && s.OfKind("Secret", ns).Any()).ToList();
            foreach (var m in missing)
                yield return Diagnoser.Finding("SecretMissing", FindingSeverity.Error, svc,
                    $"ServiceAccount {saName} lists Secret {m}, which does not exist.", $"Create Secret {m} with key HF_TOKEN in {ns}.", []);
            if (withToken.Count == 0 && s.OfKind("Secret", ns).Any())
            {
                var envOnly = Diagnoser.Items(svc["spec"]?["template"]?["containers"]).OfType<JsonObject>()
                    .Any(c => Diagnoser.Items(c["env"]).OfType<JsonObject>().Any(e => Str(e, "name") == "HF_TOKEN"));
                var why = gated == true ? $"{uri[5..]} is gated, so its download fails without a token (401)."
                    : refused ? "the storage initializer's download was refused (401/403), so this model needs a token."
                    : "public models download without one, but a gated or private model fails with 401/403.";
                yield return Diagnoser.Finding("HuggingFaceTokenNotOnServiceAccount", FindingSeverity.Warning, svc,
                    $"The model comes from Hugging Face and ServiceAccount {saName} lists no Secret with key HF_TOKEN: {why}",
                    $"List a Secret with key HF_TOKEN under secrets: of ServiceAccount {saName} (an HF_TOKEN env on the main container does not reach the storage initializer).",
                    envOnly ? ["HF_TOKEN is set only as an env var of the main container"] : []);
            }
        }
    }
}

internal sealed class ProbeBudgetCheck : IDiagnosisCheck
{
    public string Id => "ProbeBudgetTooShort";
    public const int MinimumSeconds = 240;

    public IEnumerable<DiagnosisFinding> Run(ClusterSnapshot s)
    {
        foreach (var pod in s.OfKind("Pod").Where(Diagnoser.IsWorkloadPod))
        {
            var killed = Diagnoser.EventMessages(s, pod, "Unhealthy", "Killing")
                .Where(e => e.Contains("Liveness probe failed", StringComparison.Ordinal) || e.Contains("Startup probe failed", StringComparison.Ordinal) || e.Contains("failed liveness probe", StringComparison.Ordinal)).ToList();
            foreach (var c in Diagnoser.Items(pod["spec"]?["containers"]).OfType<JsonObject>())
            {
                var startup = c["startupProbe"];
                var live = c["livenessProbe"];
                var probe = startup ?? live;
                if (probe is null) continue;
                int N(string k, int d) => int.TryParse(probe[k]?.ToString(), out var v) ? v : d;
                var budget = N("initialDelaySeconds", 0) + N("periodSeconds", 10) * N("failureThreshold", 3);
                if (budget >= MinimumSeconds) continue;
                var restarts = Diagnoser.ContainerStatuses(pod).Where(x => Str(x.Status, "name") == Str(c, "name")).Select(x => (int.TryParse(x.Status["restartCount"]?.ToString(), out var rc) ? rc : 0)).FirstOrDefault();
                if (killed.Count == 0 && restarts == 0) continue;
                yield return Diagnoser.Finding("ProbeBudgetTooShort", FindingSeverity.Error, pod,
                    $"The {(startup is not null ? "startup" : "liveness")} probe of {Str(c, "name")} gives up after {budget} s, before model download and XLA compilation finish, so the kubelet restarts vLLM in a loop.",
                    "Add a startupProbe on /health with periodSeconds 10 and failureThreshold 180 (30 minutes); New-LlmInferenceServiceSpec -StartupTimeout sets it.",
                    killed.Prepend($"restarts: {restarts}"));
            }
        }
    }
}

internal sealed class NetworkPolicyCheck : IDiagnosisCheck
{
    public string Id => "NetworkPolicy";

    public IEnumerable<DiagnosisFinding> Run(ClusterSnapshot s)
    {
        var policies = s.OfKind("NetworkPolicy").ToList();
        if (policies.Count == 0) return [];
        var findings = new List<DiagnosisFinding>();

        foreach (var svc in s.OfKind("LLMInferenceService"))
        {
            var ns = ClusterSnapshot.Namespace(svc) ?? "default";
            var name = Name(svc);
            var gwRef = Diagnoser.Items(svc["spec"]?["router"]?["gateway"]?["refs"]).OfType<JsonObject>().FirstOrDefault();
            var gwName = Str(gwRef, "name") ?? "inference-gateway";
            var gwNs = Str(gwRef, "namespace") ?? "opendatahub";
            var gateway = s.Get("Gateway", gwNs, gwName);
            if (Str(gateway?["spec"], "gatewayClassName")?.StartsWith("gke-", StringComparison.Ordinal) == true) continue; // traffic arrives from proxy IPs
            var workloadLabels = s.PodsMatching(ns, new Dictionary<string, string> { ["app.kubernetes.io/component"] = "llminferenceservice-workload", ["app.kubernetes.io/name"] = name })
                .Select(Labels).FirstOrDefault()
                // a multi-host service serves from the leader of each LeaderWorkerSet group
                ?? s.PodsMatching(ns, new Dictionary<string, string> { ["app.kubernetes.io/component"] = MultiHostManifests.LeaderComponent, ["app.kubernetes.io/name"] = name })
                    .Select(Labels).FirstOrDefault()
                ?? new Dictionary<string, string>
                {
                    ["app.kubernetes.io/component"] = "llminferenceservice-workload", ["app.kubernetes.io/name"] = name,
                    ["app.kubernetes.io/part-of"] = "llminferenceservice", ["kserve.io/component"] = "workload",
                };
            var gatewayLabels = new Dictionary<string, string> { [ManifestBuilder.GatewayNameLabel] = gwName };
            var verdict = NetworkPolicyEvaluator.EvaluateIngress(policies, n => s.Get("Namespace", null, n) is { } nsObj ? Labels(nsObj) : null,
                gwNs, gatewayLabels, ns, workloadLabels, 8000);
            var selecting = verdict.Selecting;
            if (selecting.Count == 0) continue;
            if (!verdict.Allowed)
                findings.Add(Diagnoser.Finding("NetworkPolicyBlocksGateway", FindingSeverity.Error, svc,
                    $"NetworkPolicies in {ns} select the vLLM pods but none admits the gateway pods ({gwNs}, {ManifestBuilder.GatewayNameLabel}={gwName}) on port 8000; requests through the gateway time out.",
                    $"Allow ingress to the workload pods on TCP 8000 from namespaceSelector kubernetes.io/metadata.name={gwNs} with podSelector {ManifestBuilder.GatewayNameLabel}={gwName} (Export-RhaiiManifest renders {name}-allow-gateway-to-vllm).",
                    selecting.Select(p => $"NetworkPolicy {Name(p)} selects the workload pods")));
        }

        // NetworkPolicies only work where the dataplane enforces them (GKE Dataplane V2 or Calico).
        var systemPods = s.OfKind("Pod", "kube-system").Concat(s.OfKind("DaemonSet", "kube-system")).ToList();
        if (systemPods.Count > 0 && !systemPods.Any(p => Name(p).StartsWith("anetd", StringComparison.Ordinal) || Name(p).StartsWith("cilium", StringComparison.Ordinal) || Name(p).StartsWith("calico", StringComparison.Ordinal)))
            findings.Add(Diagnoser.Finding("NetworkPolicyNotEnforced", FindingSeverity.Warning, policies[0],
                $"{policies.Count} NetworkPolicies exist but the cluster runs no policy dataplane (no anetd, cilium or calico in kube-system), so none is enforced.",
                "Create the cluster with Dataplane V2 (New-TpuCluster does) or enable GKE network policy enforcement.",
                [$"kube-system has {systemPods.Count} pods/daemonsets, none of anetd, cilium or calico"]));
        return findings;
    }

    internal static bool SelectorMatches(JsonNode? selector, IReadOnlyDictionary<string, string> labels) =>
        NetworkPolicyEvaluator.SelectorMatches(selector, labels);
}
