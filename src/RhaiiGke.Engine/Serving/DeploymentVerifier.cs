using System.Text.Json.Nodes;
using RhaiiGke.Engine.Serving.Diagnosis;
using static RhaiiGke.Engine.Serving.Diagnosis.ClusterSnapshot;

namespace RhaiiGke.Engine.Serving;

/// <summary>
/// The runbooks' verification (verify-deployment.sh and the manual steps after it) as typed checks over
/// cluster state: operators, the service's condition tree, the objects KServe creates, routing, gateway
/// and NetworkPolicies.
/// </summary>
public static class DeploymentVerifier
{
    /// <summary>Operator Deployments that must be Available, by namespace.</summary>
    /// <summary>Operator Deployments that must be Available, by namespace; several names when distributions differ (odh-xks runs llmisvc-controller-manager).</summary>
    public static readonly (string Namespace, string[] Names, string Component)[] Operators =
    [
        ("cert-manager", ["cert-manager"], "cert-manager"),
        ("cert-manager", ["cert-manager-webhook"], "cert-manager"),
        ("istio-system", ["istiod"], "istio"),
        ("opendatahub", ["llmisvc-controller-manager", "kserve-controller-manager"], "kserve"),
        ("lws-system", ["lws-controller-manager"], "lws"),
    ];

    private static readonly string[] SubConditions =
        ["WorkloadsReady", "RouterReady", "MainWorkloadReady", "WorkerWorkloadReady", "SchedulerWorkloadReady", "GatewaysReady", "HTTPRoutesReady", "InferencePoolReady", "PresetsCombined"];

    public static IReadOnlyList<TestRhaiiDeploymentResult> Verify(ClusterSnapshot s, string? ns = null, string? name = null)
    {
        var services = s.OfKind("LLMInferenceService", ns).Where(o => name is null || Name(o) == name).ToList();
        if (services.Count == 0)
            throw new RhaiiException("LlmInferenceServiceNotFound", RhaiiErrorCategory.ObjectNotFound,
                name is null ? $"No LLMInferenceService found{(ns is null ? "" : $" in {ns}")}." : $"LLMInferenceService {ns}/{name} was not found.",
                "Deploy one with Deploy-LlmInferenceService, or check -Namespace and -Name.", name);
        var findings = Diagnoser.Run(s);
        return services.Select(svc => Verify(s, svc, findings)).ToList();
    }

    private static TestRhaiiDeploymentResult Verify(ClusterSnapshot s, JsonObject svc, IReadOnlyList<DiagnosisFinding> findings)
    {
        var ns = ClusterSnapshot.Namespace(svc) ?? "default";
        var name = Name(svc);
        var checks = new List<DeploymentCheck>();
        void Add(string check, CheckStatus st, string target, string detail, string? fix = null) =>
            checks.Add(new DeploymentCheck { Name = check, Status = st, Target = target, Detail = detail, Fix = st is CheckStatus.Failed or CheckStatus.Warning ? fix : null });

        foreach (var (ons, onames, comp) in Operators)
        {
            var oname = onames.FirstOrDefault(n => s.Get("Deployment", ons, n) is not null) ?? onames[0];
            var d = s.Get("Deployment", ons, oname);
            if (d is null) { Add($"Operator:{comp}", s.OfKind("Deployment", ons).Any() ? CheckStatus.Failed : CheckStatus.Skipped, $"Deployment/{ons}/{oname}", "not found", "Install-RhaiiOperators installs it."); continue; }
            var avail = Condition(d["status"], "Available");
            Add($"Operator:{comp}", IsTrue(avail) ? CheckStatus.Passed : CheckStatus.Failed, $"Deployment/{ons}/{oname}",
                IsTrue(avail) ? "Available" : $"not Available: {Str(avail, "message") ?? "no status"}", "Get-RhaiiOperatorStatus shows why; Install-RhaiiOperators waits for it.");
        }

        var ready = Condition(svc["status"], "Ready");
        Add("ServiceReady", IsTrue(ready) ? CheckStatus.Passed : CheckStatus.Failed, $"LLMInferenceService/{ns}/{name}",
            ready is null ? "no Ready condition yet" : $"Ready={Str(ready, "status")} {Str(ready, "reason")} {Str(ready, "message")}".Trim(),
            "Wait-LlmInferenceService shows the stage; Get-RhaiiDiagnosis names the cause.");
        foreach (var t in SubConditions)
        {
            var c = Condition(svc["status"], t);
            if (c is null) continue;
            Add($"Condition:{t}", IsTrue(c) ? CheckStatus.Passed : CheckStatus.Failed, $"LLMInferenceService/{ns}/{name}",
                $"{t}={Str(c, "status")} {Str(c, "reason")} {Str(c, "message")}".Trim(), "Get-RhaiiDiagnosis names the cause.");
        }

        var scheduler = svc["spec"]?["router"]?["scheduler"] is not null;
        if (svc["spec"]?["router"]?["route"] is not null)
        {
            var route = s.Get("HTTPRoute", ns, $"{name}-kserve-route");
            var accepted = Diagnoser.Items(route?["status"]?["parents"]).OfType<JsonObject>().Select(p => Condition(p, "Accepted")).FirstOrDefault(c => c is not null);
            Add("HttpRoute", route is null ? CheckStatus.Failed : IsTrue(accepted) ? CheckStatus.Passed : accepted is null ? CheckStatus.Warning : CheckStatus.Failed,
                $"HTTPRoute/{ns}/{name}-kserve-route",
                route is null ? "not created by KServe" : accepted is null ? "exists; no parent has reported Accepted yet" : $"Accepted={Str(accepted, "status")} {Str(accepted, "message")}".Trim(),
                "See Get-RhaiiDiagnosis (HttpRouteMissing, HttpRouteNotAccepted).");
        }
        if (scheduler)
        {
            var pools = s.OfKind("InferencePool", ns).Where(p => Name(p) == $"{name}-inference-pool").ToList();
            Add("InferencePool", pools.Count > 0 ? CheckStatus.Passed : CheckStatus.Failed, $"InferencePool/{ns}/{name}-inference-pool",
                pools.Count > 0 ? $"present in {string.Join(", ", pools.Select(p => Str(p, "apiVersion")))}" : "missing", "See Get-RhaiiDiagnosis InferencePoolMissing.");
            var epp = s.Get("Deployment", ns, $"{name}-kserve-router-scheduler");
            var eppAvail = Condition(epp?["status"], "Available");
            Add("Scheduler", epp is null ? CheckStatus.Failed : IsTrue(eppAvail) ? CheckStatus.Passed : CheckStatus.Failed, $"Deployment/{ns}/{name}-kserve-router-scheduler",
                epp is null ? "EPP Deployment missing" : IsTrue(eppAvail) ? "Available" : "not Available", "Check the EPP pod's events and logs.");
        }

        var gwRef = Diagnoser.Items(svc["spec"]?["router"]?["gateway"]?["refs"]).OfType<JsonObject>().FirstOrDefault();
        var gw = s.Get("Gateway", Str(gwRef, "namespace") ?? "opendatahub", Str(gwRef, "name") ?? "inference-gateway");
        var address = Diagnoser.Items(gw?["status"]?["addresses"]).OfType<JsonObject>().Select(a => Str(a, "value")).FirstOrDefault();
        Add("GatewayAddress", address is not null ? CheckStatus.Passed : CheckStatus.Failed, gw is null ? "Gateway (not found)" : $"Gateway/{Namespace(gw)}/{Name(gw)}",
            address is not null ? $"http://{address}/{ns}/{name}/v1/..." : "no address", "New-InferenceGateway waits for Programmed and an address.");

        foreach (var (id, check) in new[] { ("InferencePoolGroupMismatch", "InferencePoolGroup"), ("NetworkPolicyBlocksGateway", "NetworkPolicyAdmitsGateway"), ("NetworkPolicyNotEnforced", "NetworkPolicyEnforced") })
        {
            var hit = findings.FirstOrDefault(f => f.CheckId == id && (f.Namespace == ns || f.Kind == "NetworkPolicy"));
            Add(check, hit is null ? CheckStatus.Passed : id == "NetworkPolicyNotEnforced" ? CheckStatus.Warning : CheckStatus.Failed,
                hit?.Object ?? $"{ns}/{name}", hit?.Message ?? "ok", hit?.Fix);
        }
        var policies = s.OfKind("NetworkPolicy", ns).Count();
        Add("NetworkPoliciesPresent", policies > 0 ? CheckStatus.Passed : CheckStatus.Warning, $"Namespace/{ns}", $"{policies} NetworkPolicies",
            "Export-RhaiiManifest renders default-deny plus the gateway and EPP allowances.");
        return new TestRhaiiDeploymentResult { Namespace = ns, Name = name, Checks = checks.ToArray() };
    }
}
