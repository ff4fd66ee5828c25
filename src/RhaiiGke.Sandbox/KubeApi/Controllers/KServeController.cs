using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace RhaiiGke.Sandbox.KubeApi.Controllers;

/// <summary>
/// A first KServe LLMInferenceService controller (odh release-v0.15 shapes) when
/// llmisvc-controller-manager runs: merges the well-known LLMInferenceServiceConfig presets (looked up
/// in the service's namespace, then the controller's) and baseRefs, creates the workload Deployment
/// (or LeaderWorkerSet), Service, EPP scheduler, InferencePool(s) and HTTPRoute, and reports the
/// condition tree (Ready = WorkloadsReady ∧ RouterReady). Also registers the validating webhook's rules.
/// </summary>
internal sealed partial class KServeController : SimController
{
    private const string Group = "serving.kserve.io";
    public static readonly string[] OperatorNames = ["llmisvc-controller-manager", "kserve-controller-manager"];
    public const string ServiceWebhook = "llminferenceservice.kserve-webhook-server.validator";
    public const string ConfigWebhook = "llminferenceserviceconfig.kserve-webhook-server.validator";
    protected override string Name => "llmisvc-controller";
    /// <summary>The EventSource component of the LLMInferenceService reconciler's recorder (cmd/manager/main.go).</summary>
    private const string EventComponent = "LLMInferenceServiceController";

    public KServeController(ControllerManager m) : base(m)
    {
        Core.Validators[ServiceWebhook] = Validate;
        Core.Validators[ConfigWebhook] = (op, obj, old) => null;
    }

    /// <summary>The webhook rules of llminferenceservice_validator.go.</summary>
    public static string? Validate(string operation, JsonObject obj, JsonObject? old)
    {
        var spec = obj.Obj("spec");
        var http = spec.Obj("router", "route", "http");
        if (http?["refs"] is JsonArray { Count: > 0 } && http["spec"] is not null)
            return "spec.router.route.http: Invalid value: \"\": unsupported configuration: custom HTTP route refs and managed route spec are mutually exclusive";
        if (http?["refs"] is JsonArray { Count: > 0 } && spec.Arr("router", "gateway", "refs") is not { Count: > 0 })
            return "spec.router.gateway.refs: Required value: unsupported configuration: custom route refs require gateway refs";
        foreach (var (path, ws) in new[] { ("spec", spec), ("spec.prefill", spec.Obj("prefill")) })
        {
            if (ws is null) continue;
            var p = ws.Obj("parallelism");
            var data = p?["data"] is not null;
            var pipeline = p?["pipeline"] is not null;
            if (ws["worker"] is not null && !data && !pipeline)
                return $"{path}.worker: Invalid value: \"\": when worker is specified, parallelism.data or parallelism.pipeline must be set";
            if (data && pipeline)
                return $"{path}.parallelism: Invalid value: \"\": data and pipeline parallelism cannot be used together";
            if (data && p?["dataLocal"] is null)
                return $"{path}.parallelism.dataLocal: Required value: dataLocal must be set when data parallelism is set";
        }
        if (operation == "UPDATE" && old is not null && !ServerJson.DeepEquals(old.At("spec", "parallelism"), spec?["parallelism"]))
            return "spec.parallelism: Invalid value: \"\": field is immutable";
        return null;
    }

    public override void OnEvent(WatchEvent ev)
    {
        if (IsOperatorDeployment(ev, OperatorNames)) { EnqueueAll(); return; }
        switch (ev.StoreKey)
        {
            case "serving.kserve.io/llminferenceservices":
                // a deletion too: the last service of a namespace takes the shared monitoring objects with it
                Enqueue(KeyOf(ev.Object), Delays.KServeReconcile);
                break;
            case "serving.kserve.io/llminferenceserviceconfigs" or "gateway.networking.k8s.io/gateways" or "apiextensions.k8s.io/customresourcedefinitions":
                EnqueueAll();
                break;
            case "/serviceaccounts" or "/secrets" when ev.Namespace is not null:
                // the storage initializer's HF_TOKEN comes from the ServiceAccount's secrets
                foreach (var s in All(Group, "llminferenceservices", ev.Namespace)) Enqueue(KeyOf(s), Delays.KServeReconcile);
                break;
            case "apps/deployments" or "leaderworkerset.x-k8s.io/leaderworkersets" or "gateway.networking.k8s.io/httproutes" or "/pods":
                foreach (var r in ev.Object.Arr("metadata", "ownerReferences") ?? [])
                    if (r.Str("kind") == "LLMInferenceService") Enqueue(K(ev.Namespace, r.Str("name") ?? ""));
                if (ev.StoreKey == "/pods" && ev.Object.Labels().TryGetValue("app.kubernetes.io/name", out var n) && ev.Object.Labels().ContainsKey("kserve.io/component"))
                    Enqueue(K(ev.Namespace, n));
                break;
        }
    }

    private void EnqueueAll()
    {
        foreach (var s in All(Group, "llminferenceservices")) Enqueue(KeyOf(s), Delays.KServeReconcile);
    }

    [GeneratedRegex(@"\{\{-?\s*ChildName\s+\.ObjectMeta\.Name\s+(?:\\?""|`)([^""`\\]*)(?:\\?""|`)\s*-?\}\}")] private static partial Regex ChildName();
    [GeneratedRegex(@"\{\{-?\s*\.([A-Za-z.]+)\s*-?\}\}")] private static partial Regex Field();

    public override void Reconcile(string key)
    {
        var op = FindOperator(OperatorNames);
        if (op is null) return;
        var ctrlNs = op.Namespace()!;
        var (ns, name) = Split(key);
        var svc = Get(Group, "llminferenceservices", ns, name);
        if (svc is null || Deleting(svc))
        {
            if (ns is not null && !MonitoringDisabled(op)) CleanupMonitoring(ns);
            return;
        }
        var spec = svc.Obj("spec") ?? new JsonObject();
        var gen = svc.Long("metadata", "generation") ?? 1;
        var prev = svc.Obj("status");

        var configNames = new List<string>();
        if (spec["worker"] is not null) configNames.Add(MultiNode.PresetName(spec));
        else if (spec["prefill"] is not null) { configNames.Add("kserve-config-llm-decode-template"); configNames.Add("kserve-config-llm-prefill-template"); }
        else configNames.Add("kserve-config-llm-template");
        if (spec.At("router", "scheduler") is not null) configNames.Add("kserve-config-llm-scheduler");
        if (spec.At("router", "route") is not null) configNames.Add("kserve-config-llm-router-route");
        foreach (var r in spec.Arr("baseRefs") ?? []) if (r.Str("name") is { } bn) configNames.Add(bn);

        var merged = new JsonObject();
        var used = new List<string>();
        foreach (var cn in configNames)
        {
            var cfg = Get(Group, "llminferenceserviceconfigs", ns, cn) ?? Get(Group, "llminferenceserviceconfigs", ctrlNs, cn);
            if (cfg is null)
            {
                WriteStatus(svc, prev, gen, [Condition("PresetsCombined", false, "CombineBaseError",
                    $"failed to get LLMInferenceServiceConfig \"{cn}\" from namespaces [{ns}, {ctrlNs}]: llminferenceserviceconfigs.serving.kserve.io \"{cn}\" not found", gen, prev)], null, null);
                return;
            }
            used.Add($"{cfg.Namespace()}/{cn}");
            merged = (JsonObject)ServerSideApply.MergeApplied(merged, cfg.Obj("spec")?.Clone() ?? new JsonObject(), "")!;
        }
        merged = (JsonObject)ServerSideApply.MergeApplied(merged, spec.Clone(), "")!;
        merged = Substitute(merged, svc, ctrlNs);

        var stopped = svc.Annotations().TryGetValue("serving.kserve.io/stop", out var stop) && stop == "true";
        var owner = new JsonArray(OwnerRef(svc));
        var wl = new JsonObject
        {
            ["app.kubernetes.io/component"] = "llminferenceservice-workload", ["app.kubernetes.io/name"] = name,
            ["app.kubernetes.io/part-of"] = "llminferenceservice", ["kserve.io/component"] = "workload", ["llm-d.ai/role"] = "both",
        };
        var replicas = stopped ? 0 : merged.Long("replicas") ?? 1;
        var podSpec = merged.Obj("template")?.Clone() ?? new JsonObject();
        if (podSpec.Arr("containers") is not { Count: > 0 })
            podSpec["containers"] = new JsonArray(new JsonObject { ["name"] = "main", ["image"] = "registry.redhat.io/rhaiis/vllm-tpu-rhel9:latest" });
        AddStorageInitializer(podSpec, merged.Str("model", "uri"), ns!);
        var conditions = new List<JsonObject> { Condition("PresetsCombined", true, "Combined", "", gen, prev) };
        bool mainReady;
        string mainReason = "", mainMessage = "";
        var multiNode = false;
        if (merged["worker"] is not null)
        {
            if (T("leaderworkerset.x-k8s.io", "leaderworkersets") is null)
            {
                mainReady = false;
                mainReason = "LWSNotInstalled";
                mainMessage = "multi-node workloads need LeaderWorkerSet: no matches for kind \"LeaderWorkerSet\" in version \"leaderworkerset.x-k8s.io/v1\"";
            }
            else
            {
                var workerSpec = merged.Obj("worker")!.Clone();
                var mnSa = MultiNode.ServiceAccount(svc, merged, Get("", "serviceaccounts", ns, MultiNode.ExistingServiceAccount(merged) ?? "") , owner);
                Upsert(mnSa);
                // KServe's self-signed serving certificate (workload_tls_self_signed.go), which the leader mounts for --ssl-certfile
                if (Get("", "secrets", ns, name + "-kserve-self-signed-certs") is null) Upsert(MultiNode.SelfSignedCertificate(svc, owner));
                // KServe attaches the model (storage initializer) to the leader and the worker templates alike, with
                // the <name>-kserve-mn ServiceAccount (a copy of the template's) on both
                podSpec = merged.Obj("template")?.Clone() ?? new JsonObject();
                podSpec["serviceAccountName"] = mnSa.Name();
                workerSpec["serviceAccountName"] = mnSa.Name();
                AddStorageInitializer(podSpec, merged.Str("model", "uri"), ns!);
                AddStorageInitializer(workerSpec, merged.Str("model", "uri"), ns!);
                Upsert(MultiNode.LeaderWorkerSet(svc, merged, merged.Obj("template") is null ? null : podSpec, workerSpec, replicas, owner));
                var lws = Get("leaderworkerset.x-k8s.io", "leaderworkersets", ns, name + "-kserve-mn");
                var available = lws?.Arr("status", "conditions")?.FirstOrDefault(c => c.Str("type") == "Available");
                mainReady = available.Str("status") == "True" || replicas == 0;
                if (!mainReady)
                {
                    mainReason = available?.Str("reason") ?? "Progressing";
                    mainMessage = WhyPodsNotReady(ns!, MultiNode.WorkloadSelector(name)) ?? available?.Str("message") ?? "";
                }
            }
            multiNode = true;
        }
        else
        {
            // KServe v0.17+ (the CRD serves v1alpha2) keeps the replicas an HPA set while spec.replicas is unset
            // (PreserveDeploymentReplicas, workload.go); release-v0.15 writes spec.replicas, or 1, on every reconcile
            if (!stopped && merged["replicas"] is null && PreservesReplicas() && Get("apps", "deployments", ns, name + "-kserve") is { } current)
                replicas = current.Long("spec", "replicas") ?? 1;
            var dep = EnsureDeployment(ns!, name + "-kserve", wl, podSpec, replicas, owner);
            mainReady = (ConditionTrue(dep, "Available") && (dep?.Long("status", "readyReplicas") ?? 0) >= replicas) || replicas == 0;
            if (!mainReady)
            {
                mainReason = "MinimumReplicasUnavailable";
                mainMessage = WhyPodsNotReady(ns!, wl) ?? "Deployment does not have minimum availability.";
            }
        }
        Upsert(new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Service",
            ["metadata"] = new JsonObject { ["name"] = name + "-kserve-workload-svc", ["namespace"] = ns, ["labels"] = wl.DeepClone(), ["ownerReferences"] = owner.DeepClone() },
            ["spec"] = new JsonObject
            {
                ["selector"] = MultiNode.WorkloadSelector(name),
                ["ports"] = new JsonArray(new JsonObject { ["name"] = "https", ["port"] = 8000, ["targetPort"] = 8000, ["appProtocol"] = "https" }),
            },
        });
        // multi-node: KServe clears MainWorkloadReady and reports the LeaderWorkerSet as WorkerWorkloadReady
        conditions.Add(Condition(multiNode ? "WorkerWorkloadReady" : "MainWorkloadReady", mainReady, mainReady ? "Ready" : mainReason, mainReady ? "" : mainMessage, gen, prev));
        var workloadsReady = mainReady;

        var router = merged.Obj("router");
        var routerReady = true;
        string routerReason = "", routerMessage = "";
        string? poolGroup = null;
        if (router?["scheduler"] is JsonObject sched)
        {
            var eppLabels = new JsonObject
            {
                ["app.kubernetes.io/component"] = "llminferenceservice-router-scheduler", ["app.kubernetes.io/name"] = name,
                ["app.kubernetes.io/part-of"] = "llminferenceservice",
            };
            var eppSpec = sched.Obj("template")?.Clone() ?? new JsonObject();
            if (eppSpec.Arr("containers") is not { Count: > 0 })
                eppSpec["containers"] = new JsonArray(new JsonObject { ["name"] = "main", ["image"] = "registry.redhat.io/rhaii/llm-d-inference-scheduler-rhel9:latest" });
            // As KServe release-v0.15 does it: the merged config names the EPP's ServiceAccount <name>-epp-sa when the
            // template names none (config_merge.go:210-215); the reconciler creates that ServiceAccount with labels and
            // owner only, no imagePullSecrets (scheduler.go:697-716), and the EPP pod is the merged
            // spec.router.scheduler.template as it stands (scheduler.go:549-580), so only the template's own
            // imagePullSecrets (or ones added to the ServiceAccount by hand) let it pull from a private registry.
            // An existing ServiceAccount is left alone while its secrets, pull secrets, labels and annotations are a
            // superset of the expected ones (semanticServiceAccountIsEqual, DeepDerivative: scheduler.go:802-807);
            // otherwise it is replaced by the expected one, losing pull secrets added by hand.
            eppSpec["serviceAccountName"] ??= name + "-epp-sa";
            if (eppSpec.Str("serviceAccountName") == name + "-epp-sa")
            {
                var eppSa = new JsonObject
                {
                    ["apiVersion"] = "v1", ["kind"] = "ServiceAccount",
                    ["metadata"] = new JsonObject { ["name"] = name + "-epp-sa", ["namespace"] = ns, ["labels"] = eppLabels.DeepClone(), ["ownerReferences"] = owner.DeepClone() },
                };
                var existingSa = Get("", "serviceaccounts", ns, name + "-epp-sa");
                var existingLabels = existingSa?.Obj("metadata", "labels");
                if (existingSa is null || eppLabels.Any(kv => existingLabels?.Str(kv.Key) != kv.Value?.ToString())) Upsert(eppSa);
            }
            var epp = EnsureDeployment(ns!, name + "-kserve-router-scheduler", eppLabels, eppSpec, stopped ? 0 : 1, owner);
            Upsert(new JsonObject
            {
                ["apiVersion"] = "v1", ["kind"] = "Service",
                ["metadata"] = new JsonObject { ["name"] = name + "-epp-service", ["namespace"] = ns, ["labels"] = eppLabels.DeepClone(), ["ownerReferences"] = owner.DeepClone() },
                ["spec"] = new JsonObject
                {
                    ["selector"] = eppLabels.DeepClone(),
                    ["ports"] = new JsonArray(new JsonObject { ["name"] = "grpc", ["port"] = 9002, ["appProtocol"] = "http2" },
                        new JsonObject { ["name"] = "grpc-health", ["port"] = 9003 }, new JsonObject { ["name"] = "metrics", ["port"] = 9090 }),
                },
            });
            var eppReady = ConditionTrue(epp, "Available") || stopped;
            conditions.Add(Condition("SchedulerWorkloadReady", eppReady, eppReady ? "Ready" : "MinimumReplicasUnavailable",
                eppReady ? "" : WhyPodsNotReady(ns!, eppLabels) ?? "Deployment does not have minimum availability.", gen, prev));
            workloadsReady &= eppReady;

            var poolName = name + "-inference-pool";
            var poolSpec = sched.Obj("pool", "spec");
            var any = false;
            if (T("inference.networking.x-k8s.io", "inferencepools") is not null)
            {
                Upsert(new JsonObject
                {
                    ["apiVersion"] = "inference.networking.x-k8s.io/v1alpha2", ["kind"] = "InferencePool",
                    ["metadata"] = new JsonObject { ["name"] = poolName, ["namespace"] = ns, ["ownerReferences"] = owner.DeepClone() },
                    ["spec"] = new JsonObject
                    {
                        ["selector"] = MultiNode.WorkloadSelector(name), ["targetPortNumber"] = poolSpec?.Long("targetPortNumber") ?? 8000,
                        ["extensionRef"] = new JsonObject { ["kind"] = "Service", ["name"] = name + "-epp-service", ["failureMode"] = "FailOpen" },
                    },
                });
                poolGroup = "inference.networking.x-k8s.io";
                any = true;
            }
            if (T("inference.networking.k8s.io", "inferencepools") is not null)
            {
                Upsert(new JsonObject
                {
                    ["apiVersion"] = "inference.networking.k8s.io/v1", ["kind"] = "InferencePool",
                    ["metadata"] = new JsonObject { ["name"] = poolName, ["namespace"] = ns, ["ownerReferences"] = owner.DeepClone() },
                    ["spec"] = new JsonObject
                    {
                        ["selector"] = new JsonObject { ["matchLabels"] = MultiNode.WorkloadSelector(name) },
                        ["targetPorts"] = new JsonArray(new JsonObject { ["number"] = poolSpec?.Long("targetPortNumber") ?? 8000 }),
                        ["endpointPickerRef"] = new JsonObject { ["kind"] = "Service", ["name"] = name + "-epp-service", ["port"] = new JsonObject { ["number"] = 9002 }, ["failureMode"] = "FailOpen" },
                    },
                });
                poolGroup ??= "inference.networking.k8s.io";
                if (svc.Annotations().TryGetValue("serving.kserve.io/inferencepool-migrated", out var mig) && mig == "v1") poolGroup = "inference.networking.k8s.io";
                any = true;
            }
            conditions.Add(Condition("InferencePoolReady", any, any ? "Ready" : "InferencePoolCRDMissing",
                any ? "" : "no InferencePool CRD is installed (inference.networking.x-k8s.io or inference.networking.k8s.io)", gen, prev));
            if (!any) { routerReady = false; routerReason = "InferencePoolCRDMissing"; routerMessage = "no InferencePool CRD is installed"; }
        }

        string? url = null;
        if (router?["route"] is JsonObject route && route.At("http", "refs") is null)
        {
            var gwRefs = router.Arr("gateway", "refs") is { Count: > 0 } refs
                ? refs.Select(r => (r.Str("name") ?? "", r.Str("namespace") ?? ns!)).ToList()
                : [("inference-gateway", ctrlNs)];
            if (T("gateway.networking.k8s.io", "httproutes") is null)
            {
                routerReady = false; routerReason = "GatewayAPINotInstalled"; routerMessage = "no matches for kind \"HTTPRoute\" in version \"gateway.networking.k8s.io/v1\"";
            }
            else
            {
                var prefix = $"/{ns}/{name}";
                JsonObject Backend(bool pool) => pool && poolGroup is not null
                    ? new JsonObject { ["group"] = poolGroup, ["kind"] = "InferencePool", ["name"] = name + "-inference-pool", ["port"] = 8000, ["weight"] = 1 }
                    : new JsonObject { ["group"] = "", ["kind"] = "Service", ["name"] = name + "-kserve-workload-svc", ["port"] = 8000, ["weight"] = 1 };
                JsonObject Rule(string path, bool pool, string rewrite) => new()
                {
                    ["matches"] = new JsonArray(new JsonObject { ["path"] = new JsonObject { ["type"] = "PathPrefix", ["value"] = path } }),
                    ["filters"] = new JsonArray(new JsonObject { ["type"] = "URLRewrite", ["urlRewrite"] = new JsonObject { ["path"] = new JsonObject { ["type"] = "ReplacePrefixMatch", ["replacePrefixMatch"] = rewrite } } }),
                    ["backendRefs"] = new JsonArray(Backend(pool)),
                    ["timeouts"] = new JsonObject { ["request"] = "0s", ["backendRequest"] = "0s" },
                };
                var routeSpec = new JsonObject
                {
                    ["parentRefs"] = new JsonArray(gwRefs.Select(g => (JsonNode)new JsonObject { ["group"] = "gateway.networking.k8s.io", ["kind"] = "Gateway", ["name"] = g.Item1, ["namespace"] = g.Item2 }).ToArray()),
                    ["rules"] = new JsonArray(Rule(prefix + "/v1/completions", true, "/v1/completions"), Rule(prefix + "/v1/chat/completions", true, "/v1/chat/completions"), Rule(prefix, false, "/")),
                };
                // a route config (the service's namespace-local kserve-config-llm-router-route, or route.http.spec on the
                // service) that spells out the HTTPRoute spec is used as written, templates filled in
                if (route.Obj("http", "spec") is { } given && given.Arr("rules") is { Count: > 0 })
                {
                    routeSpec = given.Clone();
                    if (routeSpec.Arr("parentRefs") is not { Count: > 0 }) routeSpec["parentRefs"] = new JsonArray(gwRefs.Select(g => (JsonNode)new JsonObject { ["group"] = "gateway.networking.k8s.io", ["kind"] = "Gateway", ["name"] = g.Item1, ["namespace"] = g.Item2 }).ToArray());
                    gwRefs = routeSpec.Arr("parentRefs")!.Select(p => (p.Str("name") ?? "", p.Str("namespace") ?? ns!)).ToList();
                }
                Upsert(new JsonObject
                {
                    ["apiVersion"] = "gateway.networking.k8s.io/v1", ["kind"] = "HTTPRoute",
                    ["metadata"] = new JsonObject { ["name"] = name + "-kserve-route", ["namespace"] = ns, ["labels"] = wl.DeepClone(), ["ownerReferences"] = owner.DeepClone() },
                    ["spec"] = routeSpec,
                });
                var httpRoute = Get("gateway.networking.k8s.io", "httproutes", ns, name + "-kserve-route");
                var gwsReady = true;
                var gwMsg = new List<string>();
                foreach (var (gn, gns) in gwRefs)
                {
                    var gw = Get("gateway.networking.k8s.io", "gateways", gns, gn);
                    if (gw is null) { gwsReady = false; gwMsg.Add($"Gateway {gns}/{gn} not found"); continue; }
                    if (!ConditionTrue(gw, "Programmed")) { gwsReady = false; gwMsg.Add($"Gateway {gns}/{gn} is not Programmed"); }
                    var ip = gw.Arr("status", "addresses")?.FirstOrDefault().Str("value");
                    if (ip is not null && gw.Arr("spec", "listeners")?.FirstOrDefault() is { } listener)
                    {
                        // as KServe's DiscoverURLs: the first listener's scheme, its port unless the scheme's default
                        var https = listener.Str("protocol") == "HTTPS";
                        var port = listener.Long("port") ?? 80;
                        var host = port == (https ? 443 : 80) ? ip : $"{ip}:{port}";
                        url ??= $"{(https ? "https" : "http")}://{host}{prefix}";
                    }
                }
                conditions.Add(Condition("GatewaysReady", gwsReady, gwsReady ? "Ready" : "GatewayNotReady", string.Join("; ", gwMsg), gen, prev));
                var parents = httpRoute?.Arr("status", "parents") ?? [];
                var routeOk = parents.Count > 0 && parents.All(p => p.Arr("conditions")?.Any(c => c.Str("type") == "Accepted" && c.Str("status") == "True") == true &&
                                                                    p.Arr("conditions")?.Any(c => c.Str("type") == "ResolvedRefs" && c.Str("status") == "True") == true);
                var routeMsg = parents.Count == 0 ? "HTTPRoute has no parent status yet: no gateway controller has accepted it"
                    : string.Join("; ", parents.SelectMany(p => p.Arr("conditions") ?? []).Where(c => c.Str("status") != "True").Select(c => $"{c.Str("type")}: {c.Str("message")}"));
                conditions.Add(Condition("HTTPRoutesReady", routeOk, routeOk ? "Ready" : "HTTPRouteNotReady", routeOk ? "" : routeMsg, gen, prev));
                if (!gwsReady) { routerReady = false; routerReason = "GatewayNotReady"; routerMessage = string.Join("; ", gwMsg); }
                else if (!routeOk) { routerReady = false; routerReason = "HTTPRouteNotReady"; routerMessage = routeMsg; }
            }
        }
        conditions.Add(Condition("WorkloadsReady", workloadsReady, workloadsReady ? "Ready" : "WorkloadsNotReady", workloadsReady ? "" : mainMessage, gen, prev));
        conditions.Add(Condition("RouterReady", routerReady, routerReady ? "Ready" : routerReason, routerMessage, gen, prev));
        var ready = workloadsReady && routerReady && !stopped;
        conditions.Add(Condition("Ready", ready, ready ? "Ready" : stopped ? "Stopped" : !workloadsReady ? "WorkloadsNotReady" : routerReason,
            ready ? "" : stopped ? "the service is stopped (serving.kserve.io/stop)" : !workloadsReady ? mainMessage : routerMessage, gen, prev));
        if (!stopped && !MonitoringDisabled(op) && ReconcileMonitoring(ns!) is { } monitoringError)
            RecordEvent(svc, "Warning", "Error", $"Reconciliation failed: failed to reconcile monitoring resources: {monitoringError}", EventComponent);
        WriteStatus(svc, prev, gen, conditions, url, used);
    }

    /// <summary>True when the LLMInferenceService CRD serves v1alpha2: a KServe release (v0.17+) whose reconciler preserves externally set replicas.</summary>
    private bool PreservesReplicas() =>
        Get("apiextensions.k8s.io", "customresourcedefinitions", null, "llminferenceservices.serving.kserve.io")?.Arr("spec", "versions")?
            .Any(v => v.Str("name") == "v1alpha2" && v.Bool("served") == true) == true;

    /// <summary>
    /// LLMISVC_MONITORING_DISABLED as monitoring.go reads it (env.GetBool, default false: an unset or unparsable
    /// value means monitoring on), from the controller Deployment's pod template (a change rolls the controller).
    /// </summary>
    internal static bool MonitoringDisabled(JsonObject controller)
    {
        foreach (var c in controller.Arr("spec", "template", "spec", "containers") ?? [])
            foreach (var e in c.Arr("env") ?? [])
                if (e.Str("name") == "LLMISVC_MONITORING_DISABLED")
                    return e.Str("value") is "1" or "t" or "T" or "TRUE" or "true" or "True";
        return false;
    }

    private static JsonObject MonitoringLabels(bool scrape)
    {
        var l = new JsonObject { ["app.kubernetes.io/component"] = "llm-monitoring", ["app.kubernetes.io/part-of"] = "llminferenceservice" };
        if (scrape) l["monitoring.opendatahub.io/scrape"] = "true";
        return l;
    }

    /// <summary>
    /// reconcileMonitoringResources of KServe release-v0.15 (monitoring.go): per namespace, the metrics reader
    /// ServiceAccount, its token Secret and ClusterRoleBinding, the vLLM PodMonitor and the scheduler
    /// ServiceMonitor (monitoring.coreos.com/v1), none owned by the service. Returns the error text when the
    /// Prometheus Operator kinds are not served (the reconcile fails with it; status is still written).
    /// </summary>
    private string? ReconcileMonitoring(string ns)
    {
        Upsert(new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "ServiceAccount",
            ["metadata"] = new JsonObject { ["name"] = "kserve-metrics-reader-sa", ["namespace"] = ns, ["labels"] = MonitoringLabels(false) },
            ["automountServiceAccountToken"] = false,
        });
        if (Get("", "secrets", ns, "kserve-metrics-reader-sa-secret") is null)
            Upsert(new JsonObject
            {
                ["apiVersion"] = "v1", ["kind"] = "Secret",
                ["metadata"] = new JsonObject
                {
                    ["name"] = "kserve-metrics-reader-sa-secret", ["namespace"] = ns, ["labels"] = MonitoringLabels(false),
                    ["annotations"] = new JsonObject { ["kubernetes.io/service-account.name"] = "kserve-metrics-reader-sa" },
                },
                ["type"] = "kubernetes.io/service-account-token",
            });
        Upsert(new JsonObject
        {
            ["apiVersion"] = "rbac.authorization.k8s.io/v1", ["kind"] = "ClusterRoleBinding",
            ["metadata"] = new JsonObject { ["name"] = MetricsReaderBinding(ns), ["labels"] = MonitoringLabels(false) },
            ["subjects"] = new JsonArray(new JsonObject { ["kind"] = "ServiceAccount", ["name"] = "kserve-metrics-reader-sa", ["namespace"] = ns }),
            ["roleRef"] = new JsonObject { ["apiGroup"] = "rbac.authorization.k8s.io", ["kind"] = "ClusterRole", ["name"] = "kserve-metrics-reader-cluster-role" },
        });
        JsonArray NameRelabel() => new(new JsonObject { ["sourceLabels"] = new JsonArray("__name__"), ["action"] = "replace", ["replacement"] = "kserve_$1", ["targetLabel"] = "__name__" });
        JsonObject Relabel(string source, string target, string? regex = null)
        {
            var r = new JsonObject { ["sourceLabels"] = new JsonArray(source), ["action"] = "replace", ["targetLabel"] = target };
            if (regex is not null) { r["regex"] = regex; r["replacement"] = "$1"; }
            return r;
        }
        if (T("monitoring.coreos.com", "podmonitors") is null)
            return $"failed to reconcile VLLM engine monitor: failed to get PodMonitor {ns}/kserve-llm-isvc-vllm-engine: no matches for kind \"PodMonitor\" in version \"monitoring.coreos.com/v1\"";
        Upsert(new JsonObject
        {
            ["apiVersion"] = "monitoring.coreos.com/v1", ["kind"] = "PodMonitor",
            ["metadata"] = new JsonObject { ["name"] = "kserve-llm-isvc-vllm-engine", ["namespace"] = ns, ["labels"] = MonitoringLabels(true) },
            ["spec"] = new JsonObject
            {
                ["selector"] = new JsonObject
                {
                    ["matchLabels"] = new JsonObject { ["app.kubernetes.io/part-of"] = "llminferenceservice" },
                    ["matchExpressions"] = new JsonArray(new JsonObject
                    {
                        ["key"] = "app.kubernetes.io/component", ["operator"] = "In",
                        ["values"] = new JsonArray("llminferenceservice-workload", "llminferenceservice-workload-prefill", "llminferenceservice-workload-worker",
                            "llminferenceservice-workload-leader", "llminferenceservice-workload-leader-prefill", "llminferenceservice-workload-worker-prefill"),
                    }),
                },
                ["podMetricsEndpoints"] = new JsonArray(new JsonObject
                {
                    ["targetPort"] = 8000, ["scheme"] = "https", ["tlsConfig"] = new JsonObject { ["insecureSkipVerify"] = true },
                    ["metricRelabelings"] = NameRelabel(),
                    ["relabelings"] = new JsonArray(Relabel("__meta_kubernetes_pod_label_app_kubernetes_io_name", "llm_isvc_name"),
                        Relabel("__meta_kubernetes_pod_label_llm_d_ai_role", "llm_isvc_role"),
                        Relabel("__meta_kubernetes_pod_label_app_kubernetes_io_component", "llm_isvc_component", "llminferenceservice-(.*)")),
                }),
            },
        });
        if (T("monitoring.coreos.com", "servicemonitors") is null)
            return $"failed to reconcile scheduler monitor: failed to get ServiceMonitor {ns}/kserve-llm-isvc-scheduler: no matches for kind \"ServiceMonitor\" in version \"monitoring.coreos.com/v1\"";
        Upsert(new JsonObject
        {
            ["apiVersion"] = "monitoring.coreos.com/v1", ["kind"] = "ServiceMonitor",
            ["metadata"] = new JsonObject { ["name"] = "kserve-llm-isvc-scheduler", ["namespace"] = ns, ["labels"] = MonitoringLabels(true) },
            ["spec"] = new JsonObject
            {
                ["selector"] = new JsonObject { ["matchLabels"] = new JsonObject { ["app.kubernetes.io/component"] = "llminferenceservice-router-scheduler", ["app.kubernetes.io/part-of"] = "llminferenceservice" } },
                ["endpoints"] = new JsonArray(new JsonObject
                {
                    ["port"] = "metrics",
                    ["authorization"] = new JsonObject { ["credentials"] = new JsonObject { ["name"] = "kserve-metrics-reader-sa-secret", ["key"] = "token" } },
                    ["metricRelabelings"] = NameRelabel(),
                    ["relabelings"] = new JsonArray(Relabel("__meta_kubernetes_pod_label_app_kubernetes_io_name", "llm_isvc_name"),
                        Relabel("__meta_kubernetes_pod_label_app_kubernetes_io_component", "llm_isvc_component", "llminferenceservice-(.*)")),
                }),
            },
        });
        return null;
    }

    private static string MetricsReaderBinding(string ns) => "kserve-metrics-reader-role-binding-" + ns;

    /// <summary>cleanupMonitoringResources: once no live, running service is left in the namespace, its monitoring objects go.</summary>
    private void CleanupMonitoring(string ns)
    {
        if (All(Group, "llminferenceservices", ns).Any(s => !Deleting(s) && !(s.Annotations().TryGetValue("serving.kserve.io/stop", out var v) && v == "true"))) return;
        foreach (var (g, plural, n) in new[] { ("monitoring.coreos.com", "podmonitors", "kserve-llm-isvc-vllm-engine"), ("monitoring.coreos.com", "servicemonitors", "kserve-llm-isvc-scheduler"),
                     ("", "serviceaccounts", "kserve-metrics-reader-sa"), ("", "secrets", "kserve-metrics-reader-sa-secret") })
            if (Get(g, plural, ns, n) is { } o) Remove(g, plural, o);
        if (Get("rbac.authorization.k8s.io", "clusterrolebindings", null, MetricsReaderBinding(ns)) is { } crb) Remove("rbac.authorization.k8s.io", "clusterrolebindings", crb);
    }

    private JsonObject? EnsureDeployment(string ns, string name, JsonObject labels, JsonObject podSpec, long replicas, JsonArray owner)
    {
        var desired = new JsonObject
        {
            ["apiVersion"] = "apps/v1", ["kind"] = "Deployment",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns, ["labels"] = labels.DeepClone(), ["ownerReferences"] = owner.DeepClone() },
            ["spec"] = new JsonObject
            {
                ["replicas"] = replicas,
                ["selector"] = new JsonObject { ["matchLabels"] = labels.DeepClone() },
                ["template"] = new JsonObject { ["metadata"] = new JsonObject { ["labels"] = labels.DeepClone() }, ["spec"] = podSpec.DeepClone() },
            },
        };
        var existing = Get("apps", "deployments", ns, name);
        // As KServe's Reconcile/Update with semanticDeploymentIsEqual (lifecycle_crud.go, workload_single_node.go): the
        // expected Deployment is defaulted (a dry-run update), then its pod spec must DeepEqual the live one (so a field
        // removed or changed anywhere in the pod spec — nodeSelector, tolerations, resources, env — is pushed down), and
        // the rest of its spec, labels and annotations must be DeepDerivative of the live ones; otherwise the whole
        // Deployment is replaced by the expected one and the Deployment controller rolls out a new ReplicaSet.
        var normalized = Normalize(podSpec);
        if (existing is null || !SemanticDeploymentIsEqual(desired, normalized, existing))
        {
            Upsert(desired);
            if (Get(Group, "llminferenceservices", ns, owner.FirstOrDefault().Str("name") ?? "") is { } svcObj)
                RecordEvent(svcObj, "Normal", existing is null ? "Created" : "Updated", $"{(existing is null ? "Created" : "Updated")} v1.Deployment {ns}/{name}", EventComponent);
        }
        return Get("apps", "deployments", ns, name);
    }

    /// <summary>semanticDeploymentIsEqual of KServe release-v0.15 on JSON: DeepEqual pod spec, DeepDerivative spec, labels, annotations.</summary>
    internal static bool SemanticDeploymentIsEqual(JsonObject expected, JsonObject normalizedPodSpec, JsonObject current)
    {
        if (!ServerJson.DeepEquals(normalizedPodSpec, current.At("spec", "template", "spec"))) return false;
        var spec = expected.Obj("spec")!.Clone();
        spec.Obj("template")?.Remove("spec");
        var currSpec = current.Obj("spec")?.Clone() ?? new JsonObject();
        currSpec.Obj("template")?.Remove("spec");
        return DeepDerivative(spec, currSpec) && DeepDerivative(expected.At("metadata", "labels"), current.At("metadata", "labels")) &&
               DeepDerivative(expected.At("metadata", "annotations"), current.At("metadata", "annotations"));
    }

    /// <summary>
    /// apimachinery's equality.Semantic.DeepDerivative on JSON: unset (null, empty map or list) in
    /// <paramref name="expected"/> matches anything; maps need every expected key to be derivative; lists need the
    /// same length and derivative elements; scalars must be equal.
    /// </summary>
    internal static bool DeepDerivative(JsonNode? expected, JsonNode? current)
    {
        if (ServerJson.IsAbsent(expected)) return true;
        switch (expected)
        {
            case JsonObject eo:
                if (eo.Count == 0) return true;
                if (current is not JsonObject co || eo.Count > co.Count) return false;
                return eo.All(kv => co.TryGetPropertyValue(kv.Key, out var cv) && DeepDerivative(kv.Value, cv));
            case JsonArray ea:
                if (ea.Count == 0) return true;
                if (current is not JsonArray ca || ea.Count > ca.Count) return false;
                return ea.Zip(ca).All(p => DeepDerivative(p.First, p.Second));
            default:
                var kind = expected!.GetValueKind();
                if (kind == System.Text.Json.JsonValueKind.String && expected.GetValue<string>().Length == 0) return true;
                // a typed field missing from the live object holds its zero value
                if (ServerJson.IsAbsent(current)) return kind == System.Text.Json.JsonValueKind.False || (kind == System.Text.Json.JsonValueKind.Number && expected.ToJsonString() is "0" or "0.0");
                return ServerJson.DeepEquals(expected, current);
        }
    }

    private const string ModelVolume = "kserve-provision-location";
    private const string ModelMountPath = "/mnt/models";
    private const string StorageInitializerImage = "quay.io/opendatahub/kserve-storage-initializer:v0.15";

    /// <summary>
    /// As KServe's workload_storage.go does for hf:// (and s3://) model URIs: an emptyDir model volume mounted at
    /// /mnt/models in the storage-initializer init container (args [uri, /mnt/models]) and in the main
    /// container; HF_TOKEN for the initializer from the Secrets listed under the pod ServiceAccount's
    /// <c>secrets:</c> that hold key HF_TOKEN (pkg/credentials service_account_credentials.go).
    /// </summary>
    private void AddStorageInitializer(JsonObject podSpec, string? uri, string ns)
    {
        if (uri is null || !(uri.StartsWith("hf://", StringComparison.OrdinalIgnoreCase) || uri.StartsWith("s3://", StringComparison.OrdinalIgnoreCase))) return;
        var saName = podSpec.Str("serviceAccountName") ?? "default";
        var env = new JsonArray();
        var sa = Get("", "serviceaccounts", ns, saName);
        foreach (var r in sa?.Arr("secrets") ?? [])
        {
            var secret = Get("", "secrets", ns, r.Str("name") ?? "");
            if (secret is null || (secret.Obj("data")?.ContainsKey("HF_TOKEN") != true && secret.Obj("stringData")?.ContainsKey("HF_TOKEN") != true)) continue;
            env.Add(new JsonObject
            {
                ["name"] = "HF_TOKEN",
                ["valueFrom"] = new JsonObject { ["secretKeyRef"] = new JsonObject { ["name"] = secret.Name(), ["key"] = "HF_TOKEN", ["optional"] = false } },
            });
            break;
        }
        var init = new JsonObject
        {
            ["name"] = "storage-initializer", ["image"] = StorageInitializerImage,
            ["args"] = new JsonArray(uri, ModelMountPath),
            ["resources"] = new JsonObject
            {
                ["requests"] = new JsonObject { ["cpu"] = "100m", ["memory"] = "100Mi" },
                ["limits"] = new JsonObject { ["cpu"] = "1", ["memory"] = "1Gi" },
            },
            ["terminationMessagePolicy"] = "FallbackToLogsOnError",
            ["volumeMounts"] = new JsonArray(new JsonObject { ["name"] = ModelVolume, ["mountPath"] = ModelMountPath }),
        };
        if (env.Count > 0) init["env"] = env;
        var inits = podSpec["initContainers"] as JsonArray ?? new JsonArray();
        // utils.AddStorageInitializerContainer adds the init container "if not present": one the template
        // already has (e.g. one that downloads gs://) is kept with its image and args; only credentials are added.
        if (inits.OfType<JsonObject>().FirstOrDefault(c => c.Str("name") == "storage-initializer") is { } given)
        {
            if (env.Count > 0) { var ge = given["env"] as JsonArray ?? new JsonArray(); foreach (var e in env.ToList()) { env.Remove(e); ge.Add(e); } given["env"] = ge; }
        }
        else inits.Insert(0, init);
        podSpec["initContainers"] = inits;
        var volumes = podSpec["volumes"] as JsonArray ?? new JsonArray();
        if (!volumes.Any(v => v.Str("name") == ModelVolume)) volumes.Add(new JsonObject { ["name"] = ModelVolume, ["emptyDir"] = new JsonObject() });
        podSpec["volumes"] = volumes;
        foreach (var c in (podSpec.Arr("containers") ?? []).OfType<JsonObject>().Where(c => c.Str("name") == "main"))
        {
            var mounts = c["volumeMounts"] as JsonArray ?? new JsonArray();
            if (!mounts.Any(m => m.Str("name") == ModelVolume)) mounts.Add(new JsonObject { ["name"] = ModelVolume, ["mountPath"] = ModelMountPath, ["readOnly"] = true });
            c["volumeMounts"] = mounts;
        }
    }

    private static JsonObject Normalize(JsonObject podSpec)
    {
        var t = new JsonObject { ["spec"] = new JsonObject { ["template"] = new JsonObject { ["spec"] = podSpec.DeepClone() } } };
        Defaulting.Apply(null!, new ResourceType { Group = "apps", Version = "v1", Kind = "Deployment", Plural = "deployments" }, t, t);
        return t.Obj("spec", "template", "spec")!;
    }

    private string? WhyPodsNotReady(string ns, JsonObject labels)
    {
        var sel = LabelSelector.FromMap(labels);
        foreach (var p in All("", "pods", ns).Where(p => sel.Matches(p) && !Pods.Ready(p)))
        {
            var sched = p.Arr("status", "conditions")?.FirstOrDefault(c => c.Str("type") == "PodScheduled");
            if (sched?.Str("status") == "False") return $"pod {p.Name()} is Pending: {sched.Str("message")}";
            return $"pod {p.Name()} is {p.Str("status", "phase") ?? "Pending"}";
        }
        return null;
    }

    private JsonObject Substitute(JsonObject merged, JsonObject svc, string ctrlNs)
    {
        var text = merged.ToJson();
        if (!text.Contains("{{", StringComparison.Ordinal)) return merged;
        var name = svc.Name();
        var modelName = merged.Str("model", "name") ?? name;
        text = text.Replace("\\u0060", "`", StringComparison.Ordinal); // Go templates quote with backticks too
        text = ChildName().Replace(text, m => name + m.Groups[1].Value);
        text = Field().Replace(text, m => m.Groups[1].Value switch
        {
            "ObjectMeta.Name" => name,
            "ObjectMeta.Namespace" => svc.Namespace() ?? "",
            "Spec.Model.Name" => modelName,
            "Spec.Model.URI" => merged.Str("model", "uri") ?? "",
            "GlobalConfig.IngressGatewayName" => "inference-gateway",
            "GlobalConfig.IngressGatewayNamespace" => ctrlNs,
            _ => m.Value,
        });
        return ServerJson.ParseObject(text);
    }

    private void WriteStatus(JsonObject svc, JsonObject? prev, long gen, List<JsonObject> conditions, string? url, List<string>? used)
    {
        var status = new JsonObject { ["observedGeneration"] = gen, ["conditions"] = new JsonArray(conditions.Cast<JsonNode>().ToArray()) };
        if (url is not null)
        {
            status["url"] = url;
            status["addresses"] = new JsonArray(new JsonObject { ["url"] = url });
        }
        if (used is not null)
        {
            var ann = new JsonObject();
            for (var i = 0; i < used.Count; i++) ann[$"serving.kserve.io/config-{i}"] = used[i];
            status["annotations"] = ann;
        }
        SetStatus(Group, "llminferenceservices", svc, status);
    }
}
