using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.KubeApi.Controllers;

/// <summary>Helpers shared by the workload controllers.</summary>
internal static class Pods
{
    public static bool Ready(JsonObject pod) =>
        pod.Str("status", "phase") == "Running" && !pod.Str("metadata", "deletionTimestamp").IsSet() &&
        pod.Arr("status", "conditions")?.Any(c => c.Str("type") == "Ready" && c.Str("status") == "True") == true;

    private static bool IsSet(this string? s) => s is not null;

    public static string TemplateHash(JsonNode? template)
    {
        var bytes = SHA256.HashData(Encoding.UTF8.GetBytes(template.ToJson()));
        const string alphabet = "bcdfghjklmnpqrstvwxz2456789";
        var sb = new StringBuilder();
        for (var i = 0; i < 10; i++) sb.Append(alphabet[bytes[i] % alphabet.Length]);
        return sb.ToString();
    }

    /// <summary>A Pod object from a pod template.</summary>
    public static JsonObject FromTemplate(JsonObject owner, JsonObject template, string name, Dictionary<string, string>? extraLabels = null, string? hostname = null)
    {
        var meta = template.Obj("metadata")?.Clone() ?? new JsonObject();
        meta["name"] = name;
        meta["namespace"] = owner.Namespace();
        var labels = meta["labels"] as JsonObject ?? new JsonObject();
        foreach (var (k, v) in extraLabels ?? []) labels[k] = v;
        meta["labels"] = labels;
        meta["ownerReferences"] = new JsonArray(new JsonObject
        {
            ["apiVersion"] = owner.Str("apiVersion"), ["kind"] = owner.Str("kind"), ["name"] = owner.Name(), ["uid"] = owner.Str("metadata", "uid"),
            ["controller"] = true, ["blockOwnerDeletion"] = true,
        });
        var spec = template.Obj("spec")?.Clone() ?? new JsonObject();
        if (hostname is not null) spec["hostname"] = hostname;
        return new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Pod", ["metadata"] = meta, ["spec"] = spec };
    }

    public static int Percent(JsonNode? v, int total, bool roundUp)
    {
        if (v is null) return roundUp ? (int)Math.Ceiling(total * 0.25) : (int)Math.Floor(total * 0.25);
        var s = v.ToString();
        if (s.EndsWith('%') && double.TryParse(s.TrimEnd('%'), NumberStyles.Float, CultureInfo.InvariantCulture, out var pct))
            return roundUp ? (int)Math.Ceiling(total * pct / 100) : (int)Math.Floor(total * pct / 100);
        return int.TryParse(s, out var n) ? n : 0;
    }
}

/// <summary>
/// Deployments → ReplicaSets as kube-controller-manager's deployment controller rolls them out (pkg/controller/deployment:
/// rolling.go, recreate.go, progress.go): a template change creates a new ReplicaSet; RollingUpdate (the default, maxSurge
/// 25% rounded up, maxUnavailable 25% rounded down) grows it only while all ReplicaSets together stay within
/// replicas + maxSurge and shrinks the old ones only while replicas - maxUnavailable pods stay available; Recreate scales
/// the old ones to 0 and creates the new one once their pods are gone. Status with the Available and Progressing
/// conditions (NewReplicaSetCreated, FoundNewReplicaSet, ReplicaSetUpdated, NewReplicaSetAvailable, and
/// ProgressDeadlineExceeded once progressDeadlineSeconds pass without progress).
/// </summary>
internal sealed class DeploymentController(ControllerManager m) : SimController(m)
{
    protected override string Name => "deployment-controller";

    public override void OnEvent(WatchEvent ev)
    {
        if (Is(ev, "apps", "deployments") && ev.Type != "DELETED") Enqueue(KeyOf(ev.Object));
        else if (Is(ev, "apps", "replicasets"))
        {
            foreach (var r in ev.Object.Arr("metadata", "ownerReferences") ?? [])
                if (r.Str("kind") == "Deployment") Enqueue(K(ev.Namespace, r.Str("name") ?? ""));
        }
        else if (Is(ev, "", "pods") && ev.Type == "DELETED")
        {
            // a Recreate rollout waits for the last old pod to be gone (deploymentcontroller's deletePod handler)
            foreach (var pr in ev.Object.Arr("metadata", "ownerReferences") ?? [])
                if (pr.Str("kind") == "ReplicaSet" && Get("apps", "replicasets", ev.Namespace, pr.Str("name") ?? "") is { } rs)
                    foreach (var dr in rs.Arr("metadata", "ownerReferences") ?? [])
                        if (dr.Str("kind") == "Deployment") Enqueue(K(ev.Namespace, dr.Str("name") ?? ""));
        }
    }

    /// <summary>deploymentutil.ResolveFenceposts: maxSurge rounds up, maxUnavailable down; both 0 means maxUnavailable 1.</summary>
    internal static (int MaxSurge, int MaxUnavailable) Fenceposts(JsonObject? strategy, int replicas)
    {
        if (strategy?.Str("type") == "Recreate") return (0, 0);
        var surge = Pods.Percent(strategy?.At("rollingUpdate", "maxSurge"), replicas, roundUp: true);
        var unavailable = Pods.Percent(strategy?.At("rollingUpdate", "maxUnavailable"), replicas, roundUp: false);
        if (surge == 0 && unavailable == 0) unavailable = 1;
        return (surge, unavailable);
    }

    private static int Spec(JsonObject rs) => (int)(rs.Long("spec", "replicas") ?? 0);

    private static long Revision(JsonObject rs) =>
        long.TryParse(rs.Str("metadata", "annotations", "deployment.kubernetes.io/revision"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : 0;

    public override void Reconcile(string key)
    {
        var (ns, name) = Split(key);
        var d = Get("apps", "deployments", ns, name);
        if (d is null || Deleting(d)) return;
        var rsType = T("apps", "replicasets")!;
        var template = d.Obj("spec", "template") ?? new JsonObject();
        var hash = Pods.TemplateHash(template);
        var rsName = $"{name}-{hash}";
        var replicas = (int)(d.Long("spec", "replicas") ?? 1);
        var strategy = d.Obj("spec", "strategy");
        var recreate = strategy?.Str("type") == "Recreate";
        var (maxSurge, maxUnavailable) = Fenceposts(strategy, replicas);
        if (maxUnavailable > replicas) maxUnavailable = replicas; // deploymentutil.MaxUnavailable

        var owned = All("apps", "replicasets", ns).Where(rs => Owns(d, rs)).ToList();
        var current = owned.FirstOrDefault(rs => rs.Name() == rsName);
        var olds = owned.Where(rs => rs.Name() != rsName)
            .OrderBy(rs => rs.Str("metadata", "creationTimestamp"), StringComparer.Ordinal).ThenBy(Revision).ToList();
        var allPods = All("", "pods", ns).ToList();
        int Available(JsonObject? rs) => rs is null ? 0 : allPods.Count(p => Owns(rs, p) && Pods.Ready(p));
        var sizes = olds.ToDictionary(rs => rs.Name(), Spec);
        string? created = null;

        void ScaleOld(JsonObject rs, int to)
        {
            var from = Spec(rs);
            if (from == to) return;
            Core.Mutate(rsType, rs, o => o.Ensure("spec")["replicas"] = to, Name);
            sizes[rs.Name()] = to;
            RecordEvent(d, "Normal", "ScalingReplicaSet", $"Scaled {(to > from ? "up" : "down")} replica set {rs.Name()} to {to} from {from}", Name);
        }

        void CreateOrScaleNew(int want)
        {
            if (current is null)
            {
                Core.Create(rsType, ns, NewReplicaSet(d, rsName, hash, template, replicas, maxSurge, want, olds.Count == 0 ? 1 : olds.Max(Revision) + 1), WriteOptions.Controller(Name));
                current = Core.Peek(rsType, ns, rsName);
                created = rsName;
                if (want > 0) RecordEvent(d, "Normal", "ScalingReplicaSet", $"Scaled up replica set {rsName} to {want}", Name);
            }
            else if (Spec(current) is var had && had != want)
            {
                current = Core.Mutate(rsType, current, o =>
                {
                    o.Ensure("spec")["replicas"] = want;
                    var a = o.Ensure("metadata").Ensure("annotations");
                    a["deployment.kubernetes.io/desired-replicas"] = replicas.ToString(CultureInfo.InvariantCulture);
                    a["deployment.kubernetes.io/max-replicas"] = (replicas + maxSurge).ToString(CultureInfo.InvariantCulture);
                }, Name);
                RecordEvent(d, "Normal", "ScalingReplicaSet", $"Scaled {(want > had ? "up" : "down")} replica set {rsName} to {want} from {had}", Name);
            }
        }

        if (recreate)
        {
            // recreate.go: scale every old ReplicaSet to 0, wait until none of their pods runs, then the new one at full size
            foreach (var old in olds) ScaleOld(old, 0);
            var oldRunning = allPods.Any(p => olds.Any(rs => Owns(rs, p)) && p.Str("status", "phase") is not ("Failed" or "Succeeded"));
            if (!oldRunning) CreateOrScaleNew(replicas);
        }
        else
        {
            // rolling.go reconcileNewReplicaSet (deploymentutil.NewRSNewReplicas): grow within replicas + maxSurge
            int want;
            var had = current is null ? 0 : Spec(current);
            if (had > replicas) want = replicas;
            else
            {
                var currentPodCount = olds.Sum(Spec) + had;
                var maxTotal = replicas + maxSurge;
                want = currentPodCount >= maxTotal ? had : had + Math.Min(maxTotal - currentPodCount, replicas - had);
            }
            CreateOrScaleNew(want);

            // rolling.go reconcileOldReplicaSets: unhealthy old pods first, then healthy ones while minAvailable holds
            var oldPodsCount = olds.Sum(rs => sizes[rs.Name()]);
            if (oldPodsCount > 0)
            {
                var newSize = current is null ? 0 : Spec(current);
                var minAvailable = replicas - maxUnavailable;
                var maxScaledDown = oldPodsCount + newSize - minAvailable - (newSize - Available(current));
                if (maxScaledDown > 0)
                {
                    var cleaned = 0;
                    foreach (var rs in olds)
                    {
                        if (cleaned >= maxScaledDown) break;
                        var size = sizes[rs.Name()];
                        var unhealthy = size - Available(rs);
                        if (size == 0 || unhealthy <= 0) continue;
                        ScaleOld(rs, size - Math.Min(maxScaledDown - cleaned, unhealthy));
                        cleaned += size - sizes[rs.Name()];
                    }
                    // scaleDownOldReplicaSetsForRollingUpdate
                    var availableAll = Available(current) + olds.Sum(rs => Math.Min(Available(rs), sizes[rs.Name()]));
                    var total = availableAll - minAvailable;
                    foreach (var rs in olds)
                    {
                        if (total <= 0) break;
                        var size = sizes[rs.Name()];
                        if (size == 0) continue;
                        var down = Math.Min(size, total);
                        ScaleOld(rs, size - down);
                        total -= down;
                    }
                }
            }
        }

        WriteStatus(d, current, olds, created, replicas, maxUnavailable, rsName);
    }

    private static JsonObject NewReplicaSet(JsonObject d, string rsName, string hash, JsonObject template, int replicas, int maxSurge, int want, long revision)
    {
        var selector = d.Obj("spec", "selector")?.Clone() ?? new JsonObject();
        var ml = selector["matchLabels"] as JsonObject ?? new JsonObject();
        ml["pod-template-hash"] = hash;
        selector["matchLabels"] = ml;
        var rsTemplate = template.Clone();
        rsTemplate.Ensure("metadata").Ensure("labels")["pod-template-hash"] = hash;
        var rsLabels = rsTemplate.At("metadata", "labels")!.DeepClone();
        return new JsonObject
        {
            ["apiVersion"] = "apps/v1", ["kind"] = "ReplicaSet",
            ["metadata"] = new JsonObject
            {
                ["name"] = rsName, ["namespace"] = d.Namespace(), ["labels"] = rsLabels,
                ["annotations"] = new JsonObject
                {
                    ["deployment.kubernetes.io/desired-replicas"] = replicas.ToString(CultureInfo.InvariantCulture),
                    ["deployment.kubernetes.io/max-replicas"] = (replicas + maxSurge).ToString(CultureInfo.InvariantCulture),
                    ["deployment.kubernetes.io/revision"] = revision.ToString(CultureInfo.InvariantCulture),
                },
                ["ownerReferences"] = new JsonArray(OwnerRef(d)),
            },
            ["spec"] = new JsonObject { ["replicas"] = want, ["selector"] = selector, ["template"] = rsTemplate },
        };
    }

    /// <summary>sync.go calculateStatus and progress.go syncRolloutStatus.</summary>
    private void WriteStatus(JsonObject d, JsonObject? current, List<JsonObject> olds, string? created, int replicas, int maxUnavailable, string rsName)
    {
        var ns = d.Namespace();
        var sets = olds.Select(o => Get("apps", "replicasets", ns, o.Name()) ?? o).ToList();
        if (current is not null) sets.Add(current);
        var pods = All("", "pods", ns).Where(p => sets.Any(rs => Owns(rs, p))).ToList();
        var newPods = current is null ? [] : pods.Where(p => Owns(current, p)).ToList();
        var ready = pods.Count(Pods.Ready);
        var available = ready;
        var specTotal = sets.Sum(Spec);
        var isAvailable = available >= replicas - maxUnavailable;
        var generation = d.Long("metadata", "generation") ?? 1;
        var prev = d.Obj("status");
        var status = new JsonObject
        {
            ["observedGeneration"] = generation,
            ["replicas"] = pods.Count, ["updatedReplicas"] = newPods.Count, ["readyReplicas"] = ready, ["availableReplicas"] = available,
        };
        if (Math.Max(0, specTotal - available) is var unavailable && unavailable > 0) status["unavailableReplicas"] = unavailable;
        var conditions = new JsonArray(Condition("Available", isAvailable, isAvailable ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
            isAvailable ? "Deployment has minimum availability." : "Deployment does not have minimum availability.", previous: prev));

        // Progressing: a timestamp of the last progress (lastUpdateTime) against spec.progressDeadlineSeconds
        var prevProgressing = prev?.Arr("conditions")?.OfType<JsonObject>().FirstOrDefault(c => c.Str("type") == "Progressing");
        var deadline = d.Long("spec", "progressDeadlineSeconds");
        JsonObject? progressing = prevProgressing?.Clone();
        if (created is not null)
            progressing = DeploymentCondition("Progressing", "True", "NewReplicaSetCreated", $"Created new replica set \"{created}\"", prevProgressing, touch: true);
        else if (progressing is null && current is not null)
            progressing = DeploymentCondition("Progressing", "True", "FoundNewReplicaSet", $"Found new replica set \"{rsName}\"", prevProgressing, touch: true);
        var updated = (long)newPods.Count;
        var complete = updated == replicas && pods.Count == replicas && available == replicas && pods.Count == newPods.Count;
        var wasComplete = pods.Count == newPods.Count && prevProgressing?.Str("reason") == "NewReplicaSetAvailable";
        long P(string k) => prev?.Long(k) ?? 0;
        if (!wasComplete)
        {
            if (complete)
            {
                if (progressing?.Str("reason") != "NewReplicaSetAvailable")
                    progressing = DeploymentCondition("Progressing", "True", "NewReplicaSetAvailable", $"ReplicaSet \"{rsName}\" has successfully progressed.", progressing, touch: true);
            }
            else if (updated > P("updatedReplicas") || ready > P("readyReplicas") || available > P("availableReplicas") ||
                     pods.Count - updated < P("replicas") - P("updatedReplicas") || created is not null)
            {
                if (created is null)
                    progressing = DeploymentCondition("Progressing", "True", "ReplicaSetUpdated", $"ReplicaSet \"{rsName}\" is progressing.", progressing, touch: true);
            }
            else if (deadline is long secs && progressing is not null && progressing.Str("reason") != "ProgressDeadlineExceeded" &&
                     DateTimeOffset.TryParse(progressing.Str("lastUpdateTime"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var last))
            {
                var due = last + TimeSpan.FromSeconds(secs);
                if (DateTimeOffset.UtcNow > due)
                    progressing = DeploymentCondition("Progressing", "False", "ProgressDeadlineExceeded", $"ReplicaSet \"{rsName}\" has timed out progressing.", progressing, touch: true);
                else
                    Enqueue(KeyOf(d), due - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(1)); // requeueStuckDeployment
            }
        }
        if (deadline is null) progressing = null; // no progressDeadlineSeconds: no Progressing condition
        if (progressing is not null) conditions.Add(progressing);
        status["conditions"] = conditions;
        foreach (var k in new[] { "readyReplicas", "availableReplicas", "updatedReplicas" })
            if (status.Long(k) == 0) status.Remove(k);
        SetStatus("apps", "deployments", d, status);
    }

    /// <summary>A Deployment condition (with lastUpdateTime); lastTransitionTime kept while the status stays the same.</summary>
    private static JsonObject DeploymentCondition(string type, string status, string reason, string message, JsonObject? previous, bool touch)
    {
        var now = SimCore.Now();
        var transition = previous is not null && previous.Str("status") == status ? previous.Str("lastTransitionTime") ?? now : now;
        return new JsonObject
        {
            ["type"] = type, ["status"] = status, ["lastUpdateTime"] = touch ? now : previous?.Str("lastUpdateTime") ?? now,
            ["lastTransitionTime"] = transition, ["reason"] = reason, ["message"] = message,
        };
    }
}

/// <summary>ReplicaSets → Pods.</summary>
internal sealed class ReplicaSetController(ControllerManager m) : SimController(m)
{
    protected override string Name => "replicaset-controller";

    public override void OnEvent(WatchEvent ev)
    {
        if (Is(ev, "apps", "replicasets") && ev.Type != "DELETED") Enqueue(KeyOf(ev.Object));
        else if (Is(ev, "", "pods"))
            foreach (var r in ev.Object.Arr("metadata", "ownerReferences") ?? [])
                if (r.Str("kind") == "ReplicaSet") Enqueue(K(ev.Namespace, r.Str("name") ?? ""));
    }

    public override void Reconcile(string key)
    {
        var (ns, name) = Split(key);
        var rs = Get("apps", "replicasets", ns, name);
        if (rs is null || Deleting(rs)) return;
        var podType = T("", "pods")!;
        var want = (int)(rs.Long("spec", "replicas") ?? 1);
        var pods = All("", "pods", ns).Where(p => Owns(rs, p) && !Deleting(p)).ToList();
        for (var i = pods.Count; i < Math.Min(want, PodCapacityPerWorkload); i++)
        {
            var pod = Pods.FromTemplate(rs, rs.Obj("spec", "template") ?? new JsonObject(), $"{name}-{SimCore.RandomSuffix()}");
            Core.Create(podType, ns, pod, WriteOptions.Controller(Name));
            RecordEvent(rs, "Normal", "SuccessfulCreate", $"Created pod: {pod.Name()}", Name);
        }
        // controller.ActivePods ordering: unscheduled, pending and not-ready pods go first, ready ones are kept
        foreach (var extra in pods.OrderByDescending(Pods.Ready).Skip(want).ToList())
        {
            Core.Delete(podType, ns, extra.Name(), WriteOptions.Controller(Name), new DeleteOptions());
            RecordEvent(rs, "Normal", "SuccessfulDelete", $"Deleted pod: {extra.Name()}", Name);
        }
        pods = All("", "pods", ns).Where(p => Owns(rs, p) && !Deleting(p)).ToList();
        var ready = pods.Count(Pods.Ready);
        var status = new JsonObject
        {
            ["replicas"] = pods.Count, ["fullyLabeledReplicas"] = pods.Count, ["readyReplicas"] = ready, ["availableReplicas"] = ready,
            ["observedGeneration"] = rs.Long("metadata", "generation") ?? 1,
        };
        SetStatus("apps", "replicasets", rs, status);
    }
}

/// <summary>The scheduler and the kubelet: binds pods to nodes that fit (selectors, affinity, taints, resources), then runs them.</summary>
internal sealed partial class PodController(ControllerManager m) : SimController(m)
{
    protected override string Name => "default-scheduler";
    private readonly Dictionary<string, DateTime> _startAt = new();

    public override void OnEvent(WatchEvent ev)
    {
        if (Is(ev, "", "pods") && ev.Type == "DELETED") { _runs.Remove(ev.Object.Str("metadata", "uid") ?? ""); Logs.Forget(ev.Object.Str("metadata", "uid") ?? ""); }
        if (Is(ev, "", "pods") && ev.Type != "DELETED")
        {
            var p = ev.Object;
            if (Deleting(p)) return;
            if (p.Str("spec", "nodeName") is null || p.Str("status", "phase") == "Pending") Enqueue(KeyOf(p));
        }
        else if ((Is(ev, "", "secrets") || Is(ev, "", "configmaps")) && ev.Type != "DELETED")
        {
            foreach (var p in All("", "pods", ev.Namespace).Where(p => p.Str("status", "phase") == "Pending" && p.Str("spec", "nodeName") is not null))
                Enqueue(KeyOf(p));
        }
        else if (Is(ev, "", "nodes") || (Is(ev, "", "pods") && ev.Type == "DELETED"))
        {
            foreach (var p in All("", "pods").Where(p => p.Str("spec", "nodeName") is null && !Deleting(p)))
                Enqueue(KeyOf(p));
        }
    }

    public override void Reconcile(string key)
    {
        var (ns, name) = Split(key);
        var pod = Get("", "pods", ns, name);
        if (pod is null || Deleting(pod)) return;
        var podType = T("", "pods")!;
        if (pod.Str("spec", "nodeName") is null)
        {
            var (node, why) = Schedule(pod);
            var prev = pod.Obj("status");
            if (node is null)
            {
                var st = prev?.Clone() ?? new JsonObject();
                st["phase"] = "Pending";
                st["conditions"] = new JsonArray(Condition("PodScheduled", false, "Unschedulable", why, previous: prev));
                Core.WriteStatus(podType, ns, name, st, Name);
                FailedSchedulingEvent(pod, why);
                return;
            }
            pod = Core.Mutate(podType, pod, o => o.Ensure("spec")["nodeName"] = node, Name);
            ScheduledEvent(pod, node);
            var s2 = pod.Obj("status")?.Clone() ?? new JsonObject();
            s2["phase"] = "Pending";
            s2["conditions"] = new JsonArray(Condition("PodScheduled", true, "", "", previous: prev));
            s2["hostIP"] = NodeIp(node);
            Core.WriteStatus(podType, ns, name, s2, "kubelet");
            _startAt[pod.Str("metadata", "uid")!] = DateTime.UtcNow + Delays.PodReady;
            Enqueue(key, Delays.PodReady);
            return;
        }
        if (_runs.ContainsKey(pod.Str("metadata", "uid") ?? "")) { RunKubelet(pod, key); return; }
        if (pod.Str("status", "phase") != "Pending") { _startAt.Remove(pod.Str("metadata", "uid") ?? ""); return; }
        var uid = pod.Str("metadata", "uid")!;
        if (!_startAt.TryGetValue(uid, out var startAt)) { startAt = DateTime.UtcNow + Delays.PodReady; _startAt[uid] = startAt; }
        if (startAt > DateTime.UtcNow) { Enqueue(key, startAt - DateTime.UtcNow); return; }
        _startAt.Remove(uid);
        if (MissingVolume(pod) is { } mount)
        {
            // the kubelet cannot mount a Secret or ConfigMap that does not exist: ContainerCreating until it does
            var waiting = new JsonArray();
            foreach (var c in pod.Arr("spec", "containers") ?? [])
                waiting.Add(new JsonObject
                {
                    ["name"] = c.Str("name"), ["ready"] = false, ["started"] = false, ["restartCount"] = 0, ["image"] = c.Str("image"), ["imageID"] = "",
                    ["state"] = new JsonObject { ["waiting"] = new JsonObject { ["reason"] = "ContainerCreating", ["message"] = mount } },
                });
            var ps = pod.Obj("status")?.Clone() ?? new JsonObject();
            ps["containerStatuses"] = waiting;
            Core.WriteStatus(podType, ns, name, ps, "kubelet");
            return;
        }
        if (NeedsKubelet(pod)) { RunKubelet(pod, key); return; }
        // kubelet: start containers
        var restart = pod.Str("spec", "restartPolicy");
        var nodeName = pod.Str("spec", "nodeName")!;
        var now = SimCore.Now();
        var statuses = new JsonArray();
        foreach (var c in pod.Arr("spec", "containers") ?? [])
            statuses.Add(new JsonObject
            {
                ["name"] = c.Str("name"), ["ready"] = restart is not ("Never" or "OnFailure"), ["started"] = true, ["restartCount"] = 0,
                ["image"] = c.Str("image"), ["imageID"] = "sha256:" + Pods.TemplateHash(c?["image"]),
                ["state"] = restart is "Never" or "OnFailure"
                    ? new JsonObject { ["terminated"] = new JsonObject { ["exitCode"] = 0, ["reason"] = "Completed", ["startedAt"] = now, ["finishedAt"] = now } }
                    : new JsonObject { ["running"] = new JsonObject { ["startedAt"] = now } },
            });
        var job = restart is "Never" or "OnFailure";
        foreach (var c in (pod.Arr("spec", "containers") ?? []).OfType<JsonObject>())
        {
            StartEvents(pod, c, nodeName);
            StartOutput(pod, c, readyNow: true);
            if (job) Logs.Stop(Uid(pod), c.Str("name") ?? "");
        }
        var p0 = pod.Obj("status");
        var status = new JsonObject
        {
            ["phase"] = job ? "Succeeded" : "Running",
            ["conditions"] = new JsonArray(
                Condition("PodReadyToStartContainers", true, "", "", previous: p0),
                Condition("Initialized", true, "", "", previous: p0),
                Condition("Ready", !job, job ? "PodCompleted" : "", "", previous: p0),
                Condition("ContainersReady", !job, job ? "PodCompleted" : "", "", previous: p0),
                Condition("PodScheduled", true, "", "", previous: p0)),
            ["hostIP"] = NodeIp(nodeName), ["podIP"] = PodIp(pod), ["podIPs"] = new JsonArray(new JsonObject { ["ip"] = PodIp(pod) }),
            ["startTime"] = now, ["containerStatuses"] = statuses, ["qosClass"] = "BestEffort",
        };
        foreach (var c in status.Arr("conditions")!.OfType<JsonObject>()) { if (c.Str("reason") == "") c.Remove("reason"); if (c.Str("message") == "") c.Remove("message"); }
        Core.WriteStatus(podType, ns, name, status, "kubelet");
    }

    private string? MissingVolume(JsonObject pod)
    {
        var ns = pod.Namespace();
        foreach (var v in pod.Arr("spec", "volumes") ?? [])
        {
            if (v.Obj("secret") is { } sec && sec.Bool("optional") != true && Get("", "secrets", ns, sec.Str("secretName") ?? "") is null)
                return $"MountVolume.SetUp failed for volume \"{v.Str("name")}\" : secret \"{sec.Str("secretName")}\" not found";
            if (v.Obj("configMap") is { } cm && cm.Bool("optional") != true && Get("", "configmaps", ns, cm.Str("name") ?? "") is null)
                return $"MountVolume.SetUp failed for volume \"{v.Str("name")}\" : configmap \"{cm.Str("name")}\" not found";
        }
        return null;
    }

    internal static string NodeIp(string node) => $"10.128.0.{(uint)node.GetHashCode() % 250 + 2}";
    internal static string PodIp(JsonObject pod) => $"10.{8 + (uint)(pod.Str("spec", "nodeName") ?? "").GetHashCode() % 8}.{(uint)pod.Name().GetHashCode() % 250}.{(uint)(pod.Str("metadata", "uid") ?? "").GetHashCode() % 250 + 2}";

    private (string? Node, string Why) Schedule(JsonObject pod)
    {
        var nodes = All("", "nodes").ToList();
        if (nodes.Count == 0) return (null, "no nodes available to schedule pods");
        var reasons = new Dictionary<string, int>();
        void Why(string r) => reasons[r] = reasons.TryGetValue(r, out var n) ? n + 1 : 1;
        var fits = new List<string>();
        var requests = Requests(pod);
        var selector = pod.At("spec", "nodeSelector").StringMap();
        var tolerations = pod.Arr("spec", "tolerations") ?? [];
        foreach (var n in nodes)
        {
            var labels = n.Labels();
            if (!ConditionTrue(n, "Ready")) { Why("node(s) had untolerated taint {node.kubernetes.io/not-ready: }"); continue; }
            if (n.Bool("spec", "unschedulable") == true) { Why("node(s) were unschedulable"); continue; }
            if (selector.Any(kv => !labels.TryGetValue(kv.Key, out var v) || v != kv.Value) || !AffinityMatches(pod, labels))
            {
                Why("node(s) didn't match Pod's node affinity/selector");
                continue;
            }
            if (PodAffinityMismatch(pod, n, nodes) is { } podAffinity) { Why(podAffinity); continue; }
            var untolerated = (n.Arr("spec", "taints") ?? []).FirstOrDefault(tn => tn.Str("effect") is "NoSchedule" or "NoExecute" && !Tolerates(tolerations, tn!));
            if (untolerated is not null)
            {
                Why($"node(s) had untolerated taint {{{untolerated.Str("key")}: {untolerated.Str("value")}}}");
                continue;
            }
            var insufficient = false;
            foreach (var (res, qty) in requests)
            {
                var cap = Quantity(n.At("status", "allocatable", res)?.ToString());
                if (cap is null) { if (res is "cpu" or "memory") continue; Why($"Insufficient {res}"); insufficient = true; break; }
                var used = All("", "pods").Where(p => p.Str("spec", "nodeName") == n.Name() && !Deleting(p) && p.Str("status", "phase") is not ("Succeeded" or "Failed"))
                    .Sum(p => Requests(p).TryGetValue(res, out var q) ? q : 0);
                if (used + qty > cap) { Why($"Insufficient {res}"); insufficient = true; break; }
            }
            if (insufficient) continue;
            fits.Add(n.Name());
        }
        if (fits.Count > 0)
        {
            // spread: the node with the fewest pods
            var counts = fits.ToDictionary(f => f, f => All("", "pods").Count(p => p.Str("spec", "nodeName") == f));
            return (fits.OrderBy(f => counts[f]).ThenBy(f => f, StringComparer.Ordinal).First(), "");
        }
        var msg = $"0/{nodes.Count} nodes are available: " + string.Join(", ", reasons.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Value} {r.Key}")) +
                  $". preemption: 0/{nodes.Count} nodes are available: {nodes.Count} Preemption is not helpful for scheduling.";
        return (null, msg);
    }

    internal static bool Tolerates(JsonArray tolerations, JsonNode taint)
    {
        foreach (var t in tolerations)
        {
            var op = t.Str("operator") ?? "Equal";
            var key = t.Str("key");
            var effect = t.Str("effect");
            if (effect is { Length: > 0 } && effect != taint.Str("effect")) continue;
            if (key is null or "" && op == "Exists") return true;
            if (key != taint.Str("key")) continue;
            if (op == "Exists" || (t.Str("value") ?? "") == (taint.Str("value") ?? "")) return true;
        }
        return false;
    }

    internal static bool AffinityMatches(JsonObject pod, Dictionary<string, string> labels)
    {
        var terms = pod.Arr("spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms");
        if (terms is null || terms.Count == 0) return true;
        foreach (var term in terms)
        {
            var ok = true;
            foreach (var e in term.Arr("matchExpressions") ?? [])
            {
                var key = e.Str("key") ?? "";
                var values = (e.Arr("values") ?? []).Select(v => v?.ToString()).ToHashSet();
                var has = labels.TryGetValue(key, out var v);
                ok &= e.Str("operator") switch
                {
                    "In" => has && values.Contains(v),
                    "NotIn" => !has || !values.Contains(v),
                    "Exists" => has,
                    "DoesNotExist" => !has,
                    _ => true,
                };
            }
            if (ok) return true;
        }
        return false;
    }

    internal static Dictionary<string, double> Requests(JsonObject pod)
    {
        var r = new Dictionary<string, double>();
        foreach (var c in pod.Arr("spec", "containers") ?? [])
        {
            var req = c.Obj("resources", "requests") ?? c.Obj("resources", "limits");
            foreach (var (k, v) in req ?? new JsonObject())
                if (Quantity(v?.ToString()) is { } q) r[k] = (r.TryGetValue(k, out var x) ? x : 0) + q;
        }
        return r;
    }

    /// <summary>A Kubernetes quantity as a number (cpu in cores, memory in bytes).</summary>
    public static double? Quantity(string? s)
    {
        if (string.IsNullOrEmpty(s)) return null;
        var suffixes = new (string S, double F)[]
        {
            ("Ki", 1024), ("Mi", 1024d * 1024), ("Gi", 1024d * 1024 * 1024), ("Ti", 1024d * 1024 * 1024 * 1024),
            ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("m", 1e-3),
        };
        foreach (var (suf, f) in suffixes)
            if (s.EndsWith(suf, StringComparison.Ordinal) && double.TryParse(s[..^suf.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var v)) return v * f;
        return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : null;
    }
}

/// <summary>StatefulSets → ordinal pods.</summary>
internal sealed class StatefulSetController(ControllerManager m) : SimController(m)
{
    protected override string Name => "statefulset-controller";

    public override void OnEvent(WatchEvent ev)
    {
        if (Is(ev, "apps", "statefulsets") && ev.Type != "DELETED") Enqueue(KeyOf(ev.Object));
        else if (Is(ev, "", "pods"))
            foreach (var r in ev.Object.Arr("metadata", "ownerReferences") ?? [])
                if (r.Str("kind") == "StatefulSet") Enqueue(K(ev.Namespace, r.Str("name") ?? ""));
    }

    public override void Reconcile(string key)
    {
        var (ns, name) = Split(key);
        var sts = Get("apps", "statefulsets", ns, name);
        if (sts is null || Deleting(sts)) return;
        var podType = T("", "pods")!;
        var want = (int)(sts.Long("spec", "replicas") ?? 1);
        for (var i = 0; i < Math.Min(want, PodCapacityPerWorkload); i++)
        {
            var podName = $"{name}-{i}";
            if (Core.Peek(podType, ns, podName) is null)
                Core.Create(podType, ns, Pods.FromTemplate(sts, sts.Obj("spec", "template") ?? new JsonObject(), podName,
                    new() { ["statefulset.kubernetes.io/pod-name"] = podName, ["apps.kubernetes.io/pod-index"] = i.ToString(CultureInfo.InvariantCulture) }, podName), WriteOptions.Controller(Name));
        }
        var pods = All("", "pods", ns).Where(p => Owns(sts, p) && !Deleting(p)).ToList();
        foreach (var p in pods.Where(p => int.TryParse(p.Name()[(name.Length + 1)..], out var idx) && idx >= want))
            Core.Delete(podType, ns, p.Name(), WriteOptions.Controller(Name), new DeleteOptions());
        pods = All("", "pods", ns).Where(p => Owns(sts, p) && !Deleting(p)).ToList();
        var ready = pods.Count(Pods.Ready);
        SetStatus("apps", "statefulsets", sts, new JsonObject
        {
            ["observedGeneration"] = sts.Long("metadata", "generation") ?? 1, ["replicas"] = pods.Count, ["readyReplicas"] = ready,
            ["currentReplicas"] = pods.Count, ["updatedReplicas"] = pods.Count, ["availableReplicas"] = ready,
        });
    }
}

/// <summary>DaemonSets → one pod per node that fits.</summary>
internal sealed class DaemonSetController(ControllerManager m) : SimController(m)
{
    protected override string Name => "daemonset-controller";

    public override void OnEvent(WatchEvent ev)
    {
        if (Is(ev, "apps", "daemonsets") && ev.Type != "DELETED") Enqueue(KeyOf(ev.Object));
        else if (Is(ev, "", "nodes")) foreach (var ds in All("apps", "daemonsets")) Enqueue(KeyOf(ds));
        else if (Is(ev, "", "pods"))
            foreach (var r in ev.Object.Arr("metadata", "ownerReferences") ?? [])
                if (r.Str("kind") == "DaemonSet") Enqueue(K(ev.Namespace, r.Str("name") ?? ""));
    }

    public override void Reconcile(string key)
    {
        var (ns, name) = Split(key);
        var ds = Get("apps", "daemonsets", ns, name);
        if (ds is null || Deleting(ds)) return;
        var podType = T("", "pods")!;
        var template = ds.Obj("spec", "template") ?? new JsonObject();
        var selector = template.At("spec", "nodeSelector").StringMap();
        var nodes = All("", "nodes").Where(n => selector.All(kv => n.Labels().TryGetValue(kv.Key, out var v) && v == kv.Value)).ToList();
        var pods = All("", "pods", ns).Where(p => Owns(ds, p) && !Deleting(p)).ToList();
        foreach (var n in nodes)
        {
            if (pods.Any(p => p.Str("spec", "nodeName") == n.Name())) continue;
            var pod = Pods.FromTemplate(ds, template, $"{name}-{SimCore.RandomSuffix()}");
            // DaemonSet pods tolerate the node's taints, as the DaemonSet controller adds its tolerations
            var tol = pod.Obj("spec")!["tolerations"] as JsonArray ?? new JsonArray();
            tol.Add(new JsonObject { ["operator"] = "Exists" });
            pod.Obj("spec")!["tolerations"] = tol;
            pod.Obj("spec")!["nodeName"] = n.Name();
            Core.Create(podType, ns, pod, WriteOptions.Controller(Name));
        }
        pods = All("", "pods", ns).Where(p => Owns(ds, p) && !Deleting(p)).ToList();
        var ready = pods.Count(Pods.Ready);
        SetStatus("apps", "daemonsets", ds, new JsonObject
        {
            ["observedGeneration"] = ds.Long("metadata", "generation") ?? 1, ["desiredNumberScheduled"] = nodes.Count, ["currentNumberScheduled"] = pods.Count,
            ["numberReady"] = ready, ["numberAvailable"] = ready, ["updatedNumberScheduled"] = pods.Count, ["numberMisscheduled"] = 0,
        });
    }
}

/// <summary>Jobs → one pod; Complete when it succeeds.</summary>
internal sealed class JobController(ControllerManager m) : SimController(m)
{
    protected override string Name => "job-controller";

    public override void OnEvent(WatchEvent ev)
    {
        if (Is(ev, "batch", "jobs") && ev.Type != "DELETED") Enqueue(KeyOf(ev.Object));
        else if (Is(ev, "", "pods"))
            foreach (var r in ev.Object.Arr("metadata", "ownerReferences") ?? [])
                if (r.Str("kind") == "Job") Enqueue(K(ev.Namespace, r.Str("name") ?? ""));
    }

    public override void Reconcile(string key)
    {
        var (ns, name) = Split(key);
        var job = Get("batch", "jobs", ns, name);
        if (job is null || Deleting(job) || ConditionTrue(job, "Complete")) return;
        var podType = T("", "pods")!;
        var pods = All("", "pods", ns).Where(p => Owns(job, p)).ToList();
        if (pods.Count == 0)
        {
            var template = job.Obj("spec", "template")?.Clone() ?? new JsonObject();
            template.Ensure("spec")["restartPolicy"] ??= "Never";
            Core.Create(podType, ns, Pods.FromTemplate(job, template, $"{name}-{SimCore.RandomSuffix()}", new() { ["job-name"] = name, ["batch.kubernetes.io/job-name"] = name }), WriteOptions.Controller(Name));
            SetStatus("batch", "jobs", job, new JsonObject { ["active"] = 1, ["startTime"] = SimCore.Now() });
            return;
        }
        if (pods.Any(p => p.Str("status", "phase") == "Succeeded"))
        {
            var prev = job.Obj("status");
            SetStatus("batch", "jobs", job, new JsonObject
            {
                ["succeeded"] = 1, ["startTime"] = prev?.Str("startTime") ?? SimCore.Now(), ["completionTime"] = SimCore.Now(),
                ["conditions"] = new JsonArray(Condition("SuccessCriteriaMet", true, "CompletionsReached", "Reached expected number of succeeded pods", previous: prev),
                    Condition("Complete", true, "CompletionsReached", "Reached expected number of succeeded pods", previous: prev)),
            });
        }
    }
}

/// <summary>Services: Endpoints and EndpointSlices from ready pods; LoadBalancer addresses.</summary>
internal sealed class EndpointsController(ControllerManager m) : SimController(m)
{
    protected override string Name => "endpoint-controller";

    public override void OnEvent(WatchEvent ev)
    {
        if (Is(ev, "", "services")) Enqueue(KeyOf(ev.Object));
        else if (Is(ev, "", "pods"))
        {
            var labels = ev.Object.Labels();
            var oldLabels = ev.Old?.Labels();
            foreach (var s in All("", "services", ev.Namespace))
            {
                var sel = LabelSelector.FromMap(s.At("spec", "selector"));
                if (sel.Matches(labels) || (oldLabels is not null && sel.Matches(oldLabels))) Enqueue(KeyOf(s));
            }
        }
    }

    public override void Reconcile(string key)
    {
        if (key.StartsWith("lb:", StringComparison.Ordinal)) { AssignLoadBalancer(key[3..]); return; }
        var (ns, name) = Split(key);
        var svc = Get("", "services", ns, name);
        var epType = T("", "endpoints")!;
        var sliceType = T("discovery.k8s.io", "endpointslices")!;
        var sliceName = $"{name}-{Pods.TemplateHash(JsonValue.Create(key))[..5]}";
        if (svc is null || Deleting(svc))
        {
            if (Core.Peek(epType, ns, name) is { } ep) Core.Delete(epType, ns, name, WriteOptions.Controller(Name), new DeleteOptions());
            return;
        }
        if (svc.Str("spec", "type") == "LoadBalancer" && svc.Arr("status", "loadBalancer", "ingress") is null)
        {
            Enqueue("lb:" + key, Delays.LoadBalancer);
        }
        if (svc.At("spec", "selector") is not JsonObject sel || sel.Count == 0) return;
        var selector = LabelSelector.FromMap(sel);
        var pods = All("", "pods", ns).Where(p => selector.Matches(p) && p.Str("status", "podIP") is not null && !Deleting(p)).OrderBy(p => p.Name()).ToList();
        var ready = pods.Where(Pods.Ready).ToList();
        var notReady = pods.Except(ready).ToList();
        JsonObject Addr(JsonObject p) => new()
        {
            ["ip"] = p.Str("status", "podIP"), ["nodeName"] = p.Str("spec", "nodeName"),
            ["targetRef"] = new JsonObject { ["kind"] = "Pod", ["namespace"] = ns, ["name"] = p.Name(), ["uid"] = p.Str("metadata", "uid") },
        };
        var ports = new JsonArray();
        var slicePorts = new JsonArray();
        foreach (var sp in svc.Arr("spec", "ports") ?? [])
        {
            var target = sp?["targetPort"];
            long port = target is JsonValue tv && tv.TryGetValue<string>(out var named)
                ? ResolveNamedPort(pods.FirstOrDefault(), named) ?? 0
                : target.Long() ?? sp.Long("port") ?? 0;
            var p = new JsonObject { ["port"] = port, ["protocol"] = sp.Str("protocol") ?? "TCP" };
            if (sp.Str("name") is { } pn) p["name"] = pn;
            ports.Add(p);
            slicePorts.Add(p.DeepClone());
        }
        var subsets = new JsonArray();
        if (pods.Count > 0)
        {
            var subset = new JsonObject();
            if (ready.Count > 0) subset["addresses"] = new JsonArray(ready.Select(p => (JsonNode)Addr(p)).ToArray());
            if (notReady.Count > 0) subset["notReadyAddresses"] = new JsonArray(notReady.Select(p => (JsonNode)Addr(p)).ToArray());
            subset["ports"] = ports;
            subsets.Add(subset);
        }
        var endpoints = new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Endpoints",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns, ["labels"] = svc.At("metadata", "labels")?.DeepClone() ?? new JsonObject() },
        };
        if (subsets.Count > 0) endpoints["subsets"] = subsets;
        var existing = Core.Peek(epType, ns, name);
        if (existing is null || !ServerJson.DeepEquals(existing["subsets"], endpoints["subsets"])) Core.Upsert(epType, endpoints, Name);
        if (existing is not null && endpoints["subsets"] is null && existing["subsets"] is not null)
            Core.Mutate(epType, Core.Peek(epType, ns, name)!, o => o.Remove("subsets"), Name);

        var slice = new JsonObject
        {
            ["apiVersion"] = "discovery.k8s.io/v1", ["kind"] = "EndpointSlice", ["addressType"] = "IPv4",
            ["metadata"] = new JsonObject
            {
                ["name"] = sliceName, ["namespace"] = ns,
                ["labels"] = new JsonObject { ["kubernetes.io/service-name"] = name, ["endpointslice.kubernetes.io/managed-by"] = "endpointslice-controller.k8s.io" },
                ["ownerReferences"] = new JsonArray(OwnerRef(svc)),
            },
            ["endpoints"] = new JsonArray(pods.Select(p => (JsonNode)new JsonObject
            {
                ["addresses"] = new JsonArray(p.Str("status", "podIP")),
                ["conditions"] = new JsonObject { ["ready"] = Pods.Ready(p), ["serving"] = Pods.Ready(p), ["terminating"] = false },
                ["nodeName"] = p.Str("spec", "nodeName"),
                ["targetRef"] = new JsonObject { ["kind"] = "Pod", ["namespace"] = ns, ["name"] = p.Name(), ["uid"] = p.Str("metadata", "uid") },
            }).ToArray()),
            ["ports"] = slicePorts,
        };
        var es = Core.Peek(sliceType, ns, sliceName);
        if (es is null || !ServerJson.DeepEquals(es["endpoints"], slice["endpoints"]) || !ServerJson.DeepEquals(es["ports"], slice["ports"])) Core.Upsert(sliceType, slice, "endpointslice-controller");
    }

    private static long? ResolveNamedPort(JsonObject? pod, string name)
    {
        foreach (var c in pod?.Arr("spec", "containers") ?? [])
            foreach (var p in c.Arr("ports") ?? [])
                if (p.Str("name") == name) return p.Long("containerPort");
        return null;
    }

    /// <summary>Handles the delayed LoadBalancer address.</summary>
    public void AssignLoadBalancer(string key)
    {
        var (ns, name) = Split(key);
        var svc = Get("", "services", ns, name);
        if (svc is null || svc.Str("spec", "type") != "LoadBalancer") return;
        // derived from the Service's uid, so two simulators in one process never hand out the same address
        // (the data plane registers gateway addresses process-wide)
        var h = System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(key + "/" + svc.Str("metadata", "uid")));
        // with the data plane, an address this machine answers on (DataPlane.LoopbackAddresses); else, or when
        // the ports cannot be bound here, a public-looking one only in-process clients reach
        var ports = (svc.Arr("spec", "ports") ?? []).Select(p => (int)(p.Long("port") ?? 0)).Where(p => p > 0).Distinct().ToList();
        var ip = (Core.Options.DataPlane ? DataPlane.LoopbackAddresses.Allocate(key + "/" + svc.Str("metadata", "uid"), ports) : null)
                 ?? $"34.{h[0] % 200 + 10}.{h[1] % 250}.{h[2] % 250 + 1}";
        SetStatus("", "services", svc, new JsonObject { ["loadBalancer"] = new JsonObject { ["ingress"] = new JsonArray(new JsonObject { ["ip"] = ip, ["ipMode"] = "VIP" }) } });
    }
}
