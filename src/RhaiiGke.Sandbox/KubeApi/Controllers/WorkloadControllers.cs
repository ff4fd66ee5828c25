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

/// <summary>Deployments → ReplicaSets; status and the Available/Progressing conditions.</summary>
internal sealed class DeploymentController(ControllerManager m) : SimController(m)
{
    protected override string Name => "deployment-controller";

    public override void OnEvent(WatchEvent ev)
    {
        if (Is(ev, "apps", "deployments") && ev.Type != "DELETED") Enqueue(KeyOf(ev.Object));
        else if (Is(ev, "apps", "replicasets"))
            foreach (var r in ev.Object.Arr("metadata", "ownerReferences") ?? [])
                if (r.Str("kind") == "Deployment") Enqueue(K(ev.Namespace, r.Str("name") ?? ""));
    }

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
        var selector = d.Obj("spec", "selector")?.Clone() ?? new JsonObject();
        var ml = selector["matchLabels"] as JsonObject ?? new JsonObject();
        ml["pod-template-hash"] = hash;
        selector["matchLabels"] = ml;
        var rsTemplate = template.Clone();
        rsTemplate.Ensure("metadata").Ensure("labels")["pod-template-hash"] = hash;
        var rsLabels = rsTemplate.At("metadata", "labels")!.DeepClone();

        var owned = All("apps", "replicasets", ns).Where(rs => Owns(d, rs)).ToList();
        var current = owned.FirstOrDefault(rs => rs.Name() == rsName);
        if (current is null)
        {
            Core.Create(rsType, ns, new JsonObject
            {
                ["apiVersion"] = "apps/v1", ["kind"] = "ReplicaSet",
                ["metadata"] = new JsonObject
                {
                    ["name"] = rsName, ["namespace"] = ns, ["labels"] = rsLabels,
                    ["annotations"] = new JsonObject { ["deployment.kubernetes.io/desired-replicas"] = replicas.ToString(CultureInfo.InvariantCulture), ["deployment.kubernetes.io/revision"] = (owned.Count + 1).ToString(CultureInfo.InvariantCulture) },
                    ["ownerReferences"] = new JsonArray(OwnerRef(d)),
                },
                ["spec"] = new JsonObject { ["replicas"] = replicas, ["selector"] = selector, ["template"] = rsTemplate },
            }, WriteOptions.Controller(Name));
            current = Core.Peek(rsType, ns, rsName);
            if (replicas > 0) RecordEvent(d, "Normal", "ScalingReplicaSet", $"Scaled up replica set {rsName} from 0 to {replicas}", Name);
        }
        else if (current.Long("spec", "replicas") is var had && had != replicas)
        {
            current = Core.Mutate(rsType, current, o => o.Ensure("spec")["replicas"] = replicas, Name);
            RecordEvent(d, "Normal", "ScalingReplicaSet", $"Scaled {(replicas > (had ?? 0) ? "up" : "down")} replica set {rsName} from {had ?? 0} to {replicas}", Name);
        }
        foreach (var old in owned.Where(rs => rs.Name() != rsName && (rs.Long("spec", "replicas") ?? 0) != 0))
        {
            var from = old.Long("spec", "replicas") ?? 0;
            Core.Mutate(rsType, old, o => o.Ensure("spec")["replicas"] = 0, Name);
            RecordEvent(d, "Normal", "ScalingReplicaSet", $"Scaled down replica set {old.Name()} from {from} to 0", Name);
        }

        var pods = All("", "pods", ns).Where(p => owned.Concat(current is null ? [] : [current]).Any(rs => Owns(rs, p))).ToList();
        var newPods = current is null ? [] : pods.Where(p => Owns(current, p)).ToList();
        var ready = pods.Count(Pods.Ready);
        var updated = newPods.Count;
        var available = ready;
        var maxUnavailable = Pods.Percent(d.At("spec", "strategy", "rollingUpdate", "maxUnavailable"), replicas, roundUp: false);
        var isAvailable = available >= replicas - maxUnavailable;
        var complete = newPods.Count(Pods.Ready) >= replicas && pods.Count == newPods.Count;
        var prev = d.Obj("status");
        var status = new JsonObject
        {
            ["observedGeneration"] = d.Long("metadata", "generation") ?? 1,
            ["replicas"] = pods.Count, ["updatedReplicas"] = updated, ["readyReplicas"] = ready, ["availableReplicas"] = available,
        };
        if (pods.Count - available > 0) status["unavailableReplicas"] = pods.Count - available;
        status["conditions"] = new JsonArray(
            Condition("Available", isAvailable, isAvailable ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
                isAvailable ? "Deployment has minimum availability." : "Deployment does not have minimum availability.", previous: prev),
            Condition("Progressing", true, complete ? "NewReplicaSetAvailable" : "ReplicaSetUpdated",
                complete ? $"ReplicaSet \"{rsName}\" has successfully progressed." : $"ReplicaSet \"{rsName}\" is progressing.", previous: prev));
        foreach (var k in new[] { "readyReplicas", "availableReplicas", "updatedReplicas" })
            if (status.Long(k) == 0) status.Remove(k);
        SetStatus("apps", "deployments", d, status);
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
        foreach (var extra in pods.OrderBy(Pods.Ready).Skip(want).ToList().Take(Math.Max(0, pods.Count - want)))
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
