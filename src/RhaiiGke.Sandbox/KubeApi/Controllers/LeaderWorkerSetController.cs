using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.KubeApi.Controllers;

/// <summary>
/// LeaderWorkerSet v1 as lws-controller-manager v0.10.0 runs it (leaderworkerset_controller.go, pod_controller.go,
/// webhooks/pod_webhook.go, utils/accelerators/tpu.go), when the operator's Deployment is available:
/// <list type="bullet">
/// <item>a headless Service named after the set (pods get <c>subdomain</c> = the set's name);</item>
/// <item>per group <c>g</c> a leader pod <c>&lt;lws&gt;-&lt;g&gt;</c> and workers <c>&lt;lws&gt;-&lt;g&gt;-&lt;i&gt;</c> (i = 1..size-1), labelled with
/// name, group-index, worker-index, group-key and template-revision-hash, annotated with size (and leader-name);</item>
/// <item>the pod webhook's env: LWS_LEADER_ADDRESS, LWS_GROUP_SIZE, LWS_WORKER_INDEX on every container, and
/// TPU_WORKER_HOSTNAMES, TPU_WORKER_ID, TPU_NAME, TPU_PROCESS_ADDRESSES, TPU_PROCESS_PORT on the container that
/// requests google.com/tpu;</item>
/// <item>the exclusive-topology annotation turned into required pod affinity (same group-key) and anti-affinity
/// (other group-keys) on that topology key, so a group lands on one slice and a slice holds one group;</item>
/// <item>restartPolicy RecreateGroupOnPodRestart (the default): a pod of a group deleted or a container restarted
/// deletes the whole group, which is then created again; None (or the deprecated Default) replaces only that pod;</item>
/// <item>status: readyReplicas (groups whose every pod is ready) and the Available / Progressing conditions.</item>
/// </list>
/// </summary>
internal sealed class LwsController(ControllerManager m) : SimController(m)
{
    private const string Group = "leaderworkerset.x-k8s.io";
    private const string Prefix = "leaderworkerset.sigs.k8s.io/";
    internal const string NameLabel = Prefix + "name", GroupIndexLabel = Prefix + "group-index", WorkerIndexLabel = Prefix + "worker-index";
    internal const string GroupKeyLabel = Prefix + "group-key", RevisionLabel = Prefix + "template-revision-hash";
    internal const string SizeAnnotation = Prefix + "size", LeaderNameAnnotation = Prefix + "leader-name", ExclusiveAnnotation = Prefix + "exclusive-topology";
    private const int TpuProcessPort = 8476;
    private static readonly string[] OperatorNames = ["lws-controller-manager"];
    protected override string Name => "lws-controller";

    public override void OnEvent(WatchEvent ev)
    {
        if (IsOperatorDeployment(ev, OperatorNames)) { foreach (var l in All(Group, "leaderworkersets")) Enqueue(KeyOf(l), Delays.LwsReconcile); return; }
        if (ev.StoreKey == Group + "/leaderworkersets" && ev.Type != "DELETED") Enqueue(KeyOf(ev.Object), Delays.LwsReconcile);
        if (ev.StoreKey == "/pods" && ev.Object.Labels().TryGetValue(NameLabel, out var set))
        {
            // the pod controller: a pod of a group deleted (or being deleted) restarts the group
            if ((ev.Type == "DELETED" || Deleting(ev.Object)) && OperatorRunning(OperatorNames)) RestartGroupOf(ev.Object);
            Enqueue(K(ev.Namespace, set));
        }
    }

    public override void Reconcile(string key)
    {
        if (!OperatorRunning(OperatorNames)) return;
        var (ns, name) = Split(key);
        var lws = Get(Group, "leaderworkersets", ns, name);
        if (lws is null || Deleting(lws)) return;
        var podType = T("", "pods")!;
        var replicas = (int)(lws.Long("spec", "replicas") ?? 1);
        var size = Math.Max(1, (int)(lws.Long("spec", "leaderWorkerTemplate", "size") ?? 1));
        var worker = lws.Obj("spec", "leaderWorkerTemplate", "workerTemplate") ?? new JsonObject();
        var leader = lws.Obj("spec", "leaderWorkerTemplate", "leaderTemplate") ?? worker;
        var startup = lws.Str("spec", "startupPolicy") ?? "LeaderCreated";
        var revision = Pods.TemplateHash(lws.At("spec", "leaderWorkerTemplate"));
        EnsureHeadlessService(lws);

        var groups = Math.Min(replicas, PodCapacityPerWorkload / size);
        var readyGroups = 0;
        for (var g = 0; g < groups; g++)
        {
            var leaderName = $"{name}-{g}";
            var leaderPod = Core.Peek(podType, ns, leaderName);
            if (RecreatesGroups(lws) && GroupPods(ns, name, g).Any(p => !Deleting(p) && ContainerRestarted(p)))
            {
                // RecreateGroupOnPodRestart: a restarted container restarts every pod of the group together
                RecordEvent(lws, "Normal", "RecreateGroup", $"A container of group {g} restarted, deleted leader pod {leaderName} to recreate group {g}", Name);
                DeleteGroup(ns!, name, g);
                Enqueue(key, Delays.LwsReconcile);
                continue;
            }
            if (GroupPods(ns, name, g).Any(Deleting)) { Enqueue(key, Delays.LwsReconcile); continue; }
            if (leaderPod is null)
            {
                // workers of a group whose leader is gone go with it (the worker StatefulSet is owned by the leader pod)
                if (GroupPods(ns, name, g).Any()) { DeleteGroup(ns!, name, g); Enqueue(key, Delays.LwsReconcile); continue; }
                Core.Create(podType, ns, GroupPod(lws, leader, g, 0, size, revision), WriteOptions.Controller(Name));
                continue;
            }
            var groupReady = Pods.Ready(leaderPod);
            if (size > 1 && startup == "LeaderReady" && !Pods.Ready(leaderPod)) continue;
            // exclusive placement: workers wait until the leader is scheduled, then select the leader's topology domain
            string? domainKey = null, domain = null;
            if (size > 1 && lws.Annotations().TryGetValue(ExclusiveAnnotation, out var exclusiveKey))
            {
                if (leaderPod.Str("spec", "nodeName") is not { } leaderNode) continue;
                domainKey = exclusiveKey;
                domain = Get("", "nodes", null, leaderNode)?.Labels().GetValueOrDefault(exclusiveKey);
            }
            for (var w = 1; w < size; w++)
            {
                var pod = Core.Peek(podType, ns, $"{leaderName}-{w}");
                if (pod is null)
                {
                    var workerPod = GroupPod(lws, worker, g, w, size, revision);
                    if (domainKey is not null && domain is not null)
                    {
                        var spec = workerPod.Obj("spec")!;
                        var sel = spec["nodeSelector"] as JsonObject ?? new JsonObject();
                        sel[domainKey] = domain;
                        spec["nodeSelector"] = sel;
                    }
                    Core.Create(podType, ns, workerPod, WriteOptions.Controller(Name));
                    groupReady = false;
                }
                else if (!Pods.Ready(pod)) groupReady = false;
            }
            if (groupReady) readyGroups++;
        }
        // groups beyond replicas (scale down)
        foreach (var p in All("", "pods", ns).Where(p => p.Labels().GetValueOrDefault(NameLabel) == name && !Deleting(p)))
            if (int.TryParse(p.Labels().GetValueOrDefault(GroupIndexLabel), NumberStyles.Integer, CultureInfo.InvariantCulture, out var gi) && gi >= groups)
                Remove("", "pods", p);

        var available = readyGroups >= replicas;
        var prev = lws.Obj("status");
        SetStatus(Group, "leaderworkersets", lws, new JsonObject
        {
            ["replicas"] = replicas, ["readyReplicas"] = readyGroups, ["updatedReplicas"] = replicas,
            ["hpaPodSelector"] = $"{NameLabel}={name},{WorkerIndexLabel}=0",
            ["conditions"] = new JsonArray(
                Condition("Available", available, available ? "AllGroupsReady" : "GroupsProgressing", available ? "All replicas are ready" : "Replicas are progressing", previous: prev),
                Condition("Progressing", !available, available ? "AllGroupsReady" : "GroupsProgressing", available ? "All replicas are ready" : "Replicas are progressing", previous: prev)),
        });
    }

    private static bool RecreatesGroups(JsonObject lws) =>
        (lws.Str("spec", "leaderWorkerTemplate", "restartPolicy") ?? "RecreateGroupOnPodRestart") is "RecreateGroupOnPodRestart" or "RecreateGroupAfterStart";

    private static bool ContainerRestarted(JsonObject pod) =>
        pod.Str("status", "phase") is "Running" or "Pending" &&
        (pod.Arr("status", "initContainerStatuses") ?? []).Concat(pod.Arr("status", "containerStatuses") ?? []).Any(c => (c.Long("restartCount") ?? 0) > 0);

    private IEnumerable<JsonObject> GroupPods(string? ns, string set, int group) =>
        All("", "pods", ns).Where(p => p.Labels().GetValueOrDefault(NameLabel) == set && p.Labels().GetValueOrDefault(GroupIndexLabel) == group.ToString(CultureInfo.InvariantCulture));

    private void DeleteGroup(string ns, string set, int group)
    {
        foreach (var p in GroupPods(ns, set, group).Where(p => !Deleting(p)).ToList()) Remove("", "pods", p);
    }

    /// <summary>A pod of a group went away: with RecreateGroupOnPodRestart the rest of its group goes too.</summary>
    private void RestartGroupOf(JsonObject pod)
    {
        var labels = pod.Labels();
        var ns = pod.Namespace();
        var lws = Get(Group, "leaderworkersets", ns, labels[NameLabel]);
        if (lws is null || Deleting(lws) || !RecreatesGroups(lws) || (lws.Long("spec", "leaderWorkerTemplate", "size") ?? 1) <= 1) return;
        if (!int.TryParse(labels.GetValueOrDefault(GroupIndexLabel), NumberStyles.Integer, CultureInfo.InvariantCulture, out var g)) return;
        if (g >= (lws.Long("spec", "replicas") ?? 1)) return;
        var rest = GroupPods(ns, lws.Name(), g).Where(p => !Deleting(p) && p.Name() != pod.Name()).ToList();
        if (rest.Count == 0) return;
        RecordEvent(lws, "Normal", "RecreateGroup", $"Pod {pod.Name()} of group {g} was deleted, deleted the group's other pods to recreate group {g}", Name);
        foreach (var p in rest) Remove("", "pods", p);
    }

    private void EnsureHeadlessService(JsonObject lws)
    {
        if (Get("", "services", lws.Namespace(), lws.Name()) is not null) return;
        Upsert(new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Service",
            ["metadata"] = new JsonObject { ["name"] = lws.Name(), ["namespace"] = lws.Namespace(), ["ownerReferences"] = new JsonArray(OwnerRef(lws)) },
            ["spec"] = new JsonObject
            {
                ["clusterIP"] = "None", ["publishNotReadyAddresses"] = true,
                ["selector"] = new JsonObject { [NameLabel] = lws.Name() },
            },
        });
    }

    /// <summary>The pod the set's StatefulSets create, after LWS's pod webhook defaulted it.</summary>
    private static JsonObject GroupPod(JsonObject lws, JsonObject template, int group, int workerIndex, int size, string revision)
    {
        var set = lws.Name();
        var ns = lws.Namespace();
        var leaderName = $"{set}-{group}";
        var podName = workerIndex == 0 ? leaderName : $"{leaderName}-{workerIndex}";
        var groupKey = Sha1($"{ns}/{leaderName}");
        var labels = new Dictionary<string, string>
        {
            [NameLabel] = set, [GroupIndexLabel] = group.ToString(CultureInfo.InvariantCulture),
            [WorkerIndexLabel] = workerIndex.ToString(CultureInfo.InvariantCulture), [GroupKeyLabel] = groupKey, [RevisionLabel] = revision,
        };
        var pod = Pods.FromTemplate(lws, template, podName, labels, podName);
        var meta = pod.Obj("metadata")!;
        var annotations = meta["annotations"] as JsonObject ?? new JsonObject();
        annotations[SizeAnnotation] = size.ToString(CultureInfo.InvariantCulture);
        if (workerIndex > 0) annotations[LeaderNameAnnotation] = leaderName;
        // annotations on the set reach the pods through the templates (KServe propagates leaderworkerset.sigs.k8s.io/* to both)
        if (lws.Annotations().TryGetValue(ExclusiveAnnotation, out var setKey) && !annotations.ContainsKey(ExclusiveAnnotation)) annotations[ExclusiveAnnotation] = setKey;
        meta["annotations"] = annotations;
        var spec = pod.Obj("spec")!;
        spec["subdomain"] = set;
        if (annotations.Str(ExclusiveAnnotation) is { Length: > 0 } topologyKey) SetExclusiveAffinities(spec, groupKey, topologyKey);

        var containers = (spec.Arr("containers") ?? []).OfType<JsonObject>().ToList();
        var tpu = containers.FirstOrDefault(c => TpuChips(c) > 0);
        if (tpu is not null && (tpu.Arr("env") ?? []).All(e => e.Str("name") is not ("TPU_WORKER_HOSTNAMES" or "TPU_WORKER_ID")))
        {
            // the leader requests TPUs too, so it is TPU worker 0 and every host of the group is listed
            var hosts = Enumerable.Range(0, size).Select(i => (i == 0 ? leaderName : $"{leaderName}-{i}") + "." + set).ToList();
            var port = (tpu.Arr("env") ?? []).FirstOrDefault(e => e.Str("name") == "TPU_PROCESS_PORT").Str("value") ?? TpuProcessPort.ToString(CultureInfo.InvariantCulture);
            AddEnv(tpu, "TPU_WORKER_HOSTNAMES", string.Join(',', hosts));
            AddEnv(tpu, "TPU_WORKER_ID", workerIndex.ToString(CultureInfo.InvariantCulture));
            AddEnv(tpu, "TPU_NAME", leaderName);
            AddEnv(tpu, "TPU_PROCESS_ADDRESSES", string.Join(',', hosts.Select(h => h + ":" + port)));
            if ((tpu.Arr("env") ?? []).All(e => e.Str("name") != "TPU_PROCESS_PORT")) AddEnv(tpu, "TPU_PROCESS_PORT", port);
        }
        foreach (var c in containers)
        {
            AddEnvIfMissing(c, "LWS_LEADER_ADDRESS", $"{leaderName}.{set}.{ns}");
            AddEnvIfMissing(c, "LWS_GROUP_SIZE", size.ToString(CultureInfo.InvariantCulture));
            AddEnvIfMissing(c, "LWS_WORKER_INDEX", workerIndex.ToString(CultureInfo.InvariantCulture));
        }
        return pod;
    }

    private static int TpuChips(JsonObject c) =>
        int.TryParse(c.Str("resources", "limits", "google.com/tpu") ?? c.Str("resources", "requests", "google.com/tpu"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0;

    private static void AddEnv(JsonObject c, string name, string value)
    {
        if (c["env"] is not JsonArray env) c["env"] = env = new JsonArray();
        env.Add(new JsonObject { ["name"] = name, ["value"] = value });
    }

    private static void AddEnvIfMissing(JsonObject c, string name, string value)
    {
        if ((c.Arr("env") ?? []).Any(e => e.Str("name") == name)) return;
        AddEnv(c, name, value);
    }

    /// <summary>As the pod webhook's SetExclusiveAffinities: the group together on one domain, alone on it.</summary>
    private static void SetExclusiveAffinities(JsonObject spec, string groupKey, string topologyKey)
    {
        var affinity = spec["affinity"] as JsonObject ?? new JsonObject();
        spec["affinity"] = affinity;
        var pa = affinity["podAffinity"] as JsonObject ?? new JsonObject();
        affinity["podAffinity"] = pa;
        var paa = affinity["podAntiAffinity"] as JsonObject ?? new JsonObject();
        affinity["podAntiAffinity"] = paa;
        var req = pa["requiredDuringSchedulingIgnoredDuringExecution"] as JsonArray ?? new JsonArray();
        pa["requiredDuringSchedulingIgnoredDuringExecution"] = req;
        req.Add(new JsonObject
        {
            ["labelSelector"] = new JsonObject
            {
                ["matchExpressions"] = new JsonArray(new JsonObject { ["key"] = GroupKeyLabel, ["operator"] = "In", ["values"] = new JsonArray(groupKey) }),
            },
            ["topologyKey"] = topologyKey,
        });
        var anti = paa["requiredDuringSchedulingIgnoredDuringExecution"] as JsonArray ?? new JsonArray();
        paa["requiredDuringSchedulingIgnoredDuringExecution"] = anti;
        anti.Add(new JsonObject
        {
            ["labelSelector"] = new JsonObject
            {
                ["matchExpressions"] = new JsonArray(
                    new JsonObject { ["key"] = GroupKeyLabel, ["operator"] = "Exists" },
                    new JsonObject { ["key"] = GroupKeyLabel, ["operator"] = "NotIn", ["values"] = new JsonArray(groupKey) }),
            },
            ["topologyKey"] = topologyKey,
        });
    }

    private static string Sha1(string s) => Convert.ToHexString(SHA1.HashData(Encoding.UTF8.GetBytes(s))).ToLowerInvariant();
}
