using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace RhaiiGke.Sandbox.KubeApi.Controllers;

/// <summary>
/// The kubelet's container lifecycle for pods that need more than "start and be ready": images from
/// registries that need credentials (ErrImagePull, ImagePullBackOff with back-off retries), init containers
/// (KServe's storage-initializer downloading the model; gated Hugging Face repos without a token exit 1 and
/// back off as Init:CrashLoopBackOff), vLLM started but not ready while it loads weights and compiles XLA
/// (startup probe failing), and vLLM crashing when its tensor-parallel size exceeds the TPU chips of the pod.
/// Pods without any of these keep the plain start-and-ready path.
/// </summary>
internal sealed partial class PodController
{
    private const string Kubelet = "kubelet";
    private const string Placeholder = "REPLACE_ME";

    private sealed class Run
    {
        public int Init;
        public DateTime? InitEnds;
        public DateTime InitStartedAt;
        public int InitRestarts;
        public JsonObject? InitLastTerm;
        public int PullFailures;
        public string? PullFailing;
        public DateTime NextAt;
        public DateTime? MainStarted;
        public int MainRestarts;
        public JsonObject? MainLastTerm;
        public bool StartupEvent;
    }

    private readonly Dictionary<string, Run> _runs = new();
    private readonly HashSet<string> _probeFailureLogged = new(StringComparer.Ordinal);

    private KubeApiSimulatorOptions Options => Core.Options;

    internal static bool IsWorkloadPod(JsonObject pod) => pod.Labels().TryGetValue("kserve.io/component", out var c) && c == "workload";

    private bool NeedsKubelet(JsonObject pod) =>
        pod.Arr("spec", "initContainers") is { Count: > 0 } || IsWorkloadPod(pod) || DataPlane.StaticNginx.Runs(pod) ||
        (pod.Arr("spec", "containers") ?? []).Any(c => NeedsCredentials(c.Str("image") ?? ""));

    private void RunKubelet(JsonObject pod, string key)
    {
        var uid = pod.Str("metadata", "uid")!;
        if (!_runs.TryGetValue(uid, out var run)) _runs[uid] = run = new Run();
        var now = DateTime.UtcNow;
        if (run.NextAt > now) { Enqueue(key, run.NextAt - now); return; }
        var inits = (pod.Arr("spec", "initContainers") ?? []).OfType<JsonObject>().ToList();
        var mains = (pod.Arr("spec", "containers") ?? []).OfType<JsonObject>().ToList();
        var node = pod.Str("spec", "nodeName");

        // init containers, one after the other
        while (run.Init < inits.Count)
        {
            var c = inits[run.Init];
            if (PullError(pod, c) is { } pullError) { PullFailed(pod, key, run, c, pullError, initIndex: run.Init); return; }
            if (run.PullFailing == c.Str("name")) { run.PullFailing = null; run.PullFailures = 0; }
            if (run.InitEnds is null)
            {
                if (ConfigError(pod, c) is { } cfg) { ConfigFailed(pod, key, run, c, cfg, initIndex: run.Init); return; }
                var duration = c.Str("name") == "storage-initializer" ? Delays.ModelDownload : TimeSpan.Zero;
                run.InitStartedAt = now;
                run.InitEnds = now + duration;
                if (duration > TimeSpan.Zero)
                {
                    if (run.InitRestarts == 0) StartEvents(pod, c, node);
                    Logs.Write(uid, c.Str("name") ?? "", ContainerOutput.StorageInitializerStart(c, now), now);
                    WriteStatus(pod, run, initState: InitRunning(c, run), mainsWaiting: "PodInitializing");
                    Enqueue(key, duration);
                    return;
                }
            }
            if (run.InitEnds > now) { Enqueue(key, run.InitEnds.Value - now); return; }
            run.InitEnds = null;
            if (InitFailure(pod, c) is { } failure)
            {
                Logs.Write(uid, c.Str("name") ?? "", failure);
                Logs.Stop(uid, c.Str("name") ?? "");
                run.InitRestarts++;
                run.InitLastTerm = new JsonObject
                {
                    ["exitCode"] = 1, ["reason"] = "Error", ["message"] = failure,
                    ["startedAt"] = Stamp(run.InitStartedAt), ["finishedAt"] = SimCore.Now(), ["containerID"] = ContainerId(pod, c, run.InitRestarts),
                };
                var backoff = BackOff(run.InitRestarts);
                run.NextAt = now + backoff;
                RecordEvent(pod, "Warning", "BackOff", $"Back-off restarting failed container {c.Str("name")} in pod {pod.Name()}_{pod.Namespace()}({uid})", Kubelet, node);
                WriteStatus(pod, run, initState: new JsonObject
                {
                    ["waiting"] = new JsonObject { ["reason"] = "CrashLoopBackOff", ["message"] = $"back-off {Seconds(backoff)} restarting failed container={c.Str("name")} pod={pod.Name()}_{pod.Namespace()}({uid})" },
                }, mainsWaiting: "PodInitializing");
                Enqueue(key, backoff);
                return;
            }
            if (c.Str("name") == "storage-initializer")
                Logs.Write(uid, c.Str("name") ?? "", ContainerOutput.StorageInitializerDone(c, run.InitStartedAt, now), now);
            Logs.Stop(uid, c.Str("name") ?? "");
            run.Init++;
            run.InitRestarts = 0;
            run.InitLastTerm = null;
        }

        // main containers: images, configuration, then start
        foreach (var c in mains)
        {
            if (PullError(pod, c) is { } pullError) { PullFailed(pod, key, run, c, pullError, initIndex: null); return; }
            if (run.PullFailing == c.Str("name")) { run.PullFailing = null; run.PullFailures = 0; }
            if (ConfigError(pod, c) is { } cfg) { ConfigFailed(pod, key, run, c, cfg, initIndex: null); return; }
        }
        var job = pod.Str("spec", "restartPolicy") is "Never" or "OnFailure";
        foreach (var c in mains)
        {
            if (CrashMessage(pod, c) is not { } crash) continue;
            run.MainRestarts++;
            StartEvents(pod, c, node);
            Logs.Write(uid, c.Str("name") ?? "", ContainerOutput.VllmCrash(c, crash, now), now);
            Logs.Stop(uid, c.Str("name") ?? "");
            var started = Stamp(now);
            run.MainLastTerm = new JsonObject
            {
                ["exitCode"] = 1, ["reason"] = "Error", ["message"] = crash, ["startedAt"] = started, ["finishedAt"] = started,
                ["containerID"] = ContainerId(pod, c, run.MainRestarts),
            };
            var backoff = BackOff(run.MainRestarts);
            run.NextAt = now + backoff;
            RecordEvent(pod, "Warning", "BackOff", $"Back-off restarting failed container {c.Str("name")} in pod {pod.Name()}_{pod.Namespace()}({uid})", Kubelet, node);
            WriteStatus(pod, run, mainState: name => name == c.Str("name")
                ? (new JsonObject { ["waiting"] = new JsonObject { ["reason"] = "CrashLoopBackOff", ["message"] = $"back-off {Seconds(backoff)} restarting failed container={name} pod={pod.Name()}_{pod.Namespace()}({uid})" } }, false, false)
                : (Running(now), true, true), phase: "Running");
            Enqueue(key, backoff);
            return;
        }
        run.MainStarted ??= now;
        if (run.MainStarted == now)
            foreach (var c in mains)
            {
                StartEvents(pod, c, node);
                StartOutput(pod, c, readyNow: false);
            }
        var compile = IsWorkloadPod(pod) && !job ? Delays.XlaCompile : TimeSpan.Zero;
        var readyAt = run.MainStarted.Value + compile;
        if (readyAt > now)
        {
            // vLLM is up but loading weights and compiling: the startup (or readiness) probe fails until then
            if (!run.StartupEvent)
            {
                run.StartupEvent = true;
                var probe = mains.Select(c => (Kind: c["startupProbe"] is not null ? "Startup" : c["readinessProbe"] is not null ? "Readiness" : null, Probe: c["startupProbe"] ?? c["readinessProbe"]))
                    .FirstOrDefault(p => p.Kind is not null);
                if (probe.Kind is not null && probe.Probe?["httpGet"] is JsonObject get)
                {
                    var ip = PodIp(pod);
                    var scheme = (get.Str("scheme") ?? "HTTP").ToLowerInvariant();
                    var port = get["port"]?.ToString() ?? "8000";
                    RecordEvent(pod, "Warning", "Unhealthy",
                        $"{probe.Kind} probe failed: Get \"{scheme}://{ip}:{port}{get.Str("path") ?? "/"}\": dial tcp {ip}:{port}: connect: connection refused", Kubelet, node);
                }
            }
            var startedAt = run.MainStarted.Value;
            WriteStatus(pod, run, mainState: _ => (Running(startedAt), false, false), phase: "Running");
            Enqueue(key, readyAt - now);
            return;
        }
        if (!job && GroupIncomplete(pod) is { } waitingForGroup)
        {
            // multi-host: vLLM serves only once every host of its group joined
            var since = run.MainStarted.Value;
            if (_groupWaitLogged.Add(uid + waitingForGroup)) foreach (var c in mains) Logs.Write(uid, c.Str("name") ?? "", waitingForGroup + "\n", now);
            WriteStatus(pod, run, mainState: _ => (Running(since), false, false), phase: "Running");
            Enqueue(key, Delays.PodReady);
            return;
        }
        if (!job && DataPlane.StaticNginx.Runs(pod) && DataPlane.StaticNginx.ReadinessFailure(Core, pod, PodIp(pod)) is { } unready)
        {
            // the kubelet's readiness probe against what this nginx serves: not Ready until it answers 2xx/3xx
            var since = run.MainStarted.Value;
            if (_probeFailureLogged.Add(uid + unready)) RecordEvent(pod, "Warning", "Unhealthy", $"Readiness probe failed: {unready}", Kubelet, node);
            WriteStatus(pod, run, mainState: _ => (Running(since), true, false), phase: "Running");
            Enqueue(key, Delays.PodReady);
            return;
        }
        var at = run.MainStarted.Value;
        foreach (var c in mains) ReadyOutput(pod, c, at);
        if (job) foreach (var c in mains) Logs.Stop(uid, c.Str("name") ?? "");
        if (job)
            WriteStatus(pod, run, mainState: _ => (new JsonObject { ["terminated"] = new JsonObject { ["exitCode"] = 0, ["reason"] = "Completed", ["startedAt"] = Stamp(at), ["finishedAt"] = SimCore.Now() } }, false, false), phase: "Succeeded");
        else
            WriteStatus(pod, run, mainState: _ => (Running(at), true, true), phase: "Running");
        _runs.Remove(uid);
    }

    // ------------------------------------------------------------------ status

    private static JsonObject Running(DateTime since) => new() { ["running"] = new JsonObject { ["startedAt"] = Stamp(since) } };

    private static JsonObject InitRunning(JsonObject c, Run run) => new() { ["running"] = new JsonObject { ["startedAt"] = Stamp(run.InitStartedAt) } };

    /// <summary>Writes the pod status: completed init containers, the current one (<paramref name="initState"/>), the rest waiting; main containers from <paramref name="mainState"/> or waiting.</summary>
    private void WriteStatus(JsonObject pod, Run run, JsonObject? initState = null, string? mainsWaiting = null,
        Func<string, (JsonObject State, bool Started, bool Ready)>? mainState = null, string phase = "Pending", JsonObject? mainWaitingState = null, string? waitingContainer = null)
    {
        var prev = pod.Obj("status");
        var inits = (pod.Arr("spec", "initContainers") ?? []).OfType<JsonObject>().ToList();
        var initStatuses = new JsonArray();
        for (var i = 0; i < inits.Count; i++)
        {
            var c = inits[i];
            JsonObject state;
            if (i < run.Init) state = new JsonObject { ["terminated"] = new JsonObject { ["exitCode"] = 0, ["reason"] = "Completed", ["startedAt"] = Stamp(run.InitStartedAt), ["finishedAt"] = Stamp(run.InitStartedAt) } };
            else if (i == run.Init && initState is not null) state = initState;
            else state = new JsonObject { ["waiting"] = new JsonObject { ["reason"] = "PodInitializing" } };
            var st = ContainerStatus(pod, c, state, started: state["running"] is not null, ready: i < run.Init, restarts: i == run.Init ? run.InitRestarts : 0);
            if (i == run.Init && run.InitLastTerm is not null) st["lastState"] = new JsonObject { ["terminated"] = run.InitLastTerm.DeepClone() };
            initStatuses.Add(st);
        }
        var mains = new JsonArray();
        var allReady = true;
        var unready = new List<string>();
        foreach (var c in (pod.Arr("spec", "containers") ?? []).OfType<JsonObject>())
        {
            var name = c.Str("name") ?? "";
            JsonObject state; bool started, ready;
            if (waitingContainer == name && mainWaitingState is not null) (state, started, ready) = (mainWaitingState, false, false);
            else if (mainState is not null) (state, started, ready) = mainState(name);
            else (state, started, ready) = (new JsonObject { ["waiting"] = new JsonObject { ["reason"] = mainsWaiting ?? "ContainerCreating" } }, false, false);
            var st = ContainerStatus(pod, c, state, started, ready, run.MainRestarts);
            if (run.MainLastTerm is not null) st["lastState"] = new JsonObject { ["terminated"] = run.MainLastTerm.DeepClone() };
            mains.Add(st);
            if (!ready) { allReady = false; unready.Add(name); }
        }
        var initialized = run.Init >= inits.Count;
        var incomplete = inits.Skip(run.Init).Select(c => c.Str("name")).ToList();
        var succeeded = phase == "Succeeded";
        var conditions = new JsonArray(
            Condition("PodReadyToStartContainers", true, "", "", previous: prev),
            Condition("Initialized", initialized, initialized ? "" : "ContainersNotInitialized", initialized ? "" : $"containers with incomplete status: [{string.Join(" ", incomplete)}]", previous: prev),
            Condition("Ready", allReady, succeeded ? "PodCompleted" : allReady ? "" : "ContainersNotReady", allReady || succeeded ? "" : $"containers with unready status: [{string.Join(" ", unready)}]", previous: prev),
            Condition("ContainersReady", allReady, succeeded ? "PodCompleted" : allReady ? "" : "ContainersNotReady", allReady || succeeded ? "" : $"containers with unready status: [{string.Join(" ", unready)}]", previous: prev),
            Condition("PodScheduled", true, "", "", previous: prev));
        foreach (var cond in conditions.OfType<JsonObject>()) { if (cond.Str("reason") == "") cond.Remove("reason"); if (cond.Str("message") == "") cond.Remove("message"); }
        var node = pod.Str("spec", "nodeName")!;
        var status = new JsonObject
        {
            ["phase"] = phase, ["conditions"] = conditions,
            ["hostIP"] = NodeIp(node), ["hostIPs"] = new JsonArray(new JsonObject { ["ip"] = NodeIp(node) }),
            ["podIP"] = PodIp(pod), ["podIPs"] = new JsonArray(new JsonObject { ["ip"] = PodIp(pod) }),
            ["startTime"] = prev?.Str("startTime") ?? SimCore.Now(),
        };
        if (initStatuses.Count > 0) status["initContainerStatuses"] = initStatuses;
        status["containerStatuses"] = mains;
        status["qosClass"] = (pod.Arr("spec", "containers") ?? []).Any(c => c.Obj("resources", "requests") is { Count: > 0 } || c.Obj("resources", "limits") is { Count: > 0 }) ? "Burstable" : "BestEffort";
        Core.WriteStatus(T("", "pods")!, pod.Namespace(), pod.Name(), status, Kubelet);
    }

    private static JsonObject ContainerStatus(JsonObject pod, JsonObject c, JsonObject state, bool started, bool ready, int restarts)
    {
        var image = c.Str("image") ?? "";
        var st = new JsonObject
        {
            ["name"] = c.Str("name"), ["ready"] = ready, ["started"] = started, ["restartCount"] = restarts, ["image"] = image,
            ["imageID"] = state["waiting"] is not null && state.Str("waiting", "reason") is "ErrImagePull" or "ImagePullBackOff" or "ContainerCreating" or "PodInitializing" ? "" : "sha256:" + Pods.TemplateHash(JsonValue.Create(image)),
            ["state"] = state,
        };
        if (state["running"] is not null || state["terminated"] is not null) st["containerID"] = ContainerId(pod, c, restarts);
        return st;
    }

    private static string ContainerId(JsonObject pod, JsonObject c, int restarts) =>
        "containerd://" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes($"{pod.Str("metadata", "uid")}/{c.Str("name")}/{restarts}"))).ToLowerInvariant();

    private static string Stamp(DateTime t) => new DateTimeOffset(t, TimeSpan.Zero).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string Seconds(TimeSpan t) => t.TotalSeconds >= 1 ? $"{Math.Round(t.TotalSeconds):0}s" : $"{Math.Max(1, Math.Round(t.TotalMilliseconds)):0}ms";

    private TimeSpan BackOff(int failures) => TimeSpan.FromTicks(Delays.BackOff.Ticks * (1L << Math.Min(4, Math.Max(0, failures - 1))));

    // ------------------------------------------------------------------ image pulls

    internal static string RegistryOf(string image)
    {
        var slash = image.IndexOf('/');
        if (slash < 0) return "docker.io";
        var first = image[..slash];
        return first.Contains('.') || first.Contains(':') || first == "localhost" ? first : "docker.io";
    }

    private static string Repository(string image)
    {
        var at = image.IndexOf('@');
        if (at >= 0) image = image[..at];
        var colon = image.LastIndexOf(':');
        return colon > image.LastIndexOf('/') ? image[..colon] : image;
    }

    private bool NeedsCredentials(string image) =>
        Options.AuthenticatedRegistries.Contains(RegistryOf(image), StringComparer.OrdinalIgnoreCase) &&
        !Options.PreloadedImages.Any(p => Repository(image).StartsWith(p, StringComparison.OrdinalIgnoreCase));

    /// <summary>The containerd error when the image needs credentials the pod does not have, else null.</summary>
    private string? PullError(JsonObject pod, JsonObject c)
    {
        var image = c.Str("image") ?? "";
        if (!NeedsCredentials(image)) return null;
        var registry = RegistryOf(image);
        foreach (var r in pod.Arr("spec", "imagePullSecrets") ?? [])
        {
            var secret = Get("", "secrets", pod.Namespace(), r.Str("name") ?? "");
            if (secret is null || secret.Str("type") != "kubernetes.io/dockerconfigjson") continue;
            var raw = secret.Str("data", ".dockerconfigjson") is { } b64 ? Decode(b64) : secret.Str("stringData", ".dockerconfigjson");
            if (raw is null) continue;
            try
            {
                if (JsonNode.Parse(raw)?["auths"] is not JsonObject auths) continue;
                foreach (var (host, entry) in auths)
                {
                    var h = host.Replace("https://", "", StringComparison.OrdinalIgnoreCase).Replace("http://", "", StringComparison.OrdinalIgnoreCase).TrimEnd('/');
                    if (h.Contains('/')) h = h[..h.IndexOf('/')];
                    if (!string.Equals(h, registry, StringComparison.OrdinalIgnoreCase)) continue;
                    var text = entry?.ToJsonString() ?? "";
                    if (!text.Contains(Placeholder, StringComparison.Ordinal) && (entry?["auth"] is not null || entry?["password"] is not null)) return null;
                }
            }
            catch (System.Text.Json.JsonException) { }
        }
        var repo = Repository(image);
        var reference = image[repo.Length..].TrimStart(':', '@');
        if (reference.Length == 0) reference = "latest";
        return $"failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": unexpected status from HEAD request to https://{registry}/v2/{repo[(registry.Length + 1)..]}/manifests/{reference}: 401 Unauthorized";
    }

    private void PullFailed(JsonObject pod, string key, Run run, JsonObject c, string error, int? initIndex)
    {
        var name = c.Str("name") ?? "";
        var image = c.Str("image") ?? "";
        var node = pod.Str("spec", "nodeName");
        if (run.PullFailing != name) { run.PullFailing = name; run.PullFailures = 0; }
        run.PullFailures++;
        var backoff = BackOff(run.PullFailures);
        run.NextAt = DateTime.UtcNow + backoff;
        JsonObject waiting;
        if (run.PullFailures == 1)
        {
            RecordEvent(pod, "Normal", "Pulling", $"Pulling image \"{image}\"", Kubelet, node);
            RecordEvent(pod, "Warning", "Failed", $"Failed to pull image \"{image}\": {error}", Kubelet, node);
            RecordEvent(pod, "Warning", "Failed", "Error: ErrImagePull", Kubelet, node);
            waiting = new JsonObject { ["waiting"] = new JsonObject { ["reason"] = "ErrImagePull", ["message"] = error } };
        }
        else
        {
            RecordEvent(pod, "Normal", "BackOff", $"Back-off pulling image \"{image}\"", Kubelet, node);
            RecordEvent(pod, "Warning", "Failed", "Error: ImagePullBackOff", Kubelet, node);
            waiting = new JsonObject { ["waiting"] = new JsonObject { ["reason"] = "ImagePullBackOff", ["message"] = $"Back-off pulling image \"{image}\": ErrImagePull: {error}" } };
        }
        if (initIndex is not null) WriteStatus(pod, run, initState: waiting, mainsWaiting: "PodInitializing");
        else WriteStatus(pod, run, mainsWaiting: "ContainerCreating", mainWaitingState: waiting, waitingContainer: name);
        Enqueue(key, backoff);
    }

    // ------------------------------------------------------------------ container configuration (env from Secrets)

    private string? ConfigError(JsonObject pod, JsonObject c)
    {
        foreach (var e in c.Arr("env") ?? [])
        {
            if (e.Obj("valueFrom", "secretKeyRef") is not { } r || r.Bool("optional") == true) continue;
            var secret = Get("", "secrets", pod.Namespace(), r.Str("name") ?? "");
            if (secret is null) return $"secret \"{r.Str("name")}\" not found";
            var k = r.Str("key") ?? "";
            if (secret.Obj("data")?.ContainsKey(k) != true && secret.Obj("stringData")?.ContainsKey(k) != true)
                return $"couldn't find key {k} in Secret {pod.Namespace()}/{r.Str("name")}";
        }
        return null;
    }

    private void ConfigFailed(JsonObject pod, string key, Run run, JsonObject c, string error, int? initIndex)
    {
        RecordEvent(pod, "Warning", "Failed", $"Error: {error}", Kubelet, pod.Str("spec", "nodeName"));
        var waiting = new JsonObject { ["waiting"] = new JsonObject { ["reason"] = "CreateContainerConfigError", ["message"] = error } };
        if (initIndex is not null) WriteStatus(pod, run, initState: waiting, mainsWaiting: "PodInitializing");
        else WriteStatus(pod, run, mainsWaiting: "ContainerCreating", mainWaitingState: waiting, waitingContainer: c.Str("name"));
        run.NextAt = DateTime.UtcNow + BackOff(1);
        Enqueue(key, BackOff(1));
    }

    /// <summary>An env var's value as the kubelet resolves it (value or secretKeyRef), or null.</summary>
    private string? EnvValue(JsonObject pod, JsonObject c, string name)
    {
        var e = (c.Arr("env") ?? []).FirstOrDefault(x => x.Str("name") == name);
        if (e is null) return null;
        if (e.Str("value") is { } v) return v;
        if (e.Obj("valueFrom", "secretKeyRef") is { } r && Get("", "secrets", pod.Namespace(), r.Str("name") ?? "") is { } secret)
            return secret.Str("data", r.Str("key") ?? "") is { } b64 ? Decode(b64) : secret.Str("stringData", r.Str("key") ?? "");
        return null;
    }

    private static string? Decode(string b64)
    {
        try { return Encoding.UTF8.GetString(Convert.FromBase64String(b64)); }
        catch (FormatException) { return null; }
    }

    // ------------------------------------------------------------------ what the containers do

    /// <summary>KServe's storage-initializer on a gated Hugging Face repo without a usable token: huggingface_hub's GatedRepoError.</summary>
    private string? InitFailure(JsonObject pod, JsonObject c)
    {
        if (c.Str("name") != "storage-initializer") return null;
        if (GcsFailure(pod, c) is { } gcs) return gcs.Length == 0 ? null : gcs;
        var uri = (c.Arr("args") ?? []).Select(a => a?.ToString()).FirstOrDefault(a => a?.StartsWith("hf://", StringComparison.OrdinalIgnoreCase) == true);
        if (uri is null) return null;
        var repo = uri[5..].Split('@')[0].TrimEnd('/');
        if (!Options.GatedModelPrefixes.Any(p => repo.StartsWith(p, StringComparison.OrdinalIgnoreCase))) return null;
        var token = EnvValue(pod, c, "HF_TOKEN")?.Trim();
        if (!string.IsNullOrEmpty(token) && token != Placeholder) return null;
        var requestId = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(pod.Name() + DateTime.UtcNow.Ticks)))[..24].ToLowerInvariant();
        return "Traceback (most recent call last):\n" +
               "  File \"/kserve/storage-initializer/scripts/initializer-entrypoint\", line 31, in <module>\n" +
               "huggingface_hub.errors.GatedRepoError: 401 Client Error. (Request ID: Root=1-" + requestId[..8] + "-" + requestId[8..] + ")\n\n" +
               $"Cannot access gated repo for url https://huggingface.co/api/models/{repo}/revision/main.\n" +
               $"Access to model {repo} is restricted. You must have access to it and be authenticated to access it. Please log in.\n";
    }

    /// <summary>
    /// KServe's storage-initializer on a gs:// URI (google-cloud-storage with Application Default Credentials):
    /// "" when the model downloads, the container's output when it fails, null when the init container reads no gs:// URI.
    /// Without the GKE metadata server (plain sandbox) the client falls back to anonymous access, which a private bucket refuses.
    /// </summary>
    private string? GcsFailure(JsonObject pod, JsonObject c)
    {
        var uri = (c.Arr("args") ?? []).Select(a => a?.ToString()).FirstOrDefault(a => a?.StartsWith("gs://", StringComparison.Ordinal) == true);
        if (uri is null) return null;
        var ns = pod.Namespace() ?? "default";
        var ksa = pod.Str("spec", "serviceAccountName") ?? "default";
        var gsa = Get("", "serviceaccounts", ns, ksa)?.Annotations().GetValueOrDefault("iam.gke.io/gcp-service-account");
        var node = pod.Str("spec", "nodeName") is { } n ? Get("", "nodes", null, n) : null;
        var metadata = node?.Labels().GetValueOrDefault("iam.gke.io/gke-metadata-server-enabled") == "true";
        if (Options.CloudStorage is { } storage) return storage(new CloudStorageRead(ns, ksa, gsa, metadata, uri)) ?? "";
        var rest = uri[5..];
        var bucket = rest.Split('/')[0];
        return "Traceback (most recent call last):\n" +
               "  File \"/kserve/storage-initializer/scripts/initializer-entrypoint\", line 31, in <module>\n" +
               $"google.api_core.exceptions.Unauthorized: 401 GET https://storage.googleapis.com/storage/v1/b/{bucket}/o?projection=noAcl&prefix={Uri.EscapeDataString(rest.Length > bucket.Length ? rest[(bucket.Length + 1)..] : "")}&prettyPrint=false: " +
               "Anonymous caller does not have storage.objects.list access to the Google Cloud Storage bucket. Permission 'storage.objects.list' denied on resource (or it may not exist).\n";
    }

    private static readonly Regex TensorParallel = new(@"(?:--tensor-parallel-size|-tp)(?:=|\s+)(\d+)", RegexOptions.Compiled);

    /// <summary>vLLM on TPU exits at start when the tensor-parallel size exceeds the chips the container gets.</summary>
    private string? CrashMessage(JsonObject pod, JsonObject c)
    {
        if (!IsWorkloadPod(pod)) return null;
        if (AcceleratorImageMismatch(pod, c) is { } mismatch) return mismatch;
        var chipsText = c.Str("resources", "limits", "google.com/tpu") ?? c.Str("resources", "requests", "google.com/tpu");
        if (!int.TryParse(chipsText, NumberStyles.Integer, CultureInfo.InvariantCulture, out var chips) || chips <= 0) return null;
        var text = string.Join(' ', (c.Arr("command") ?? []).Concat(c.Arr("args") ?? []).Select(a => a?.ToString())) + " " + (EnvValue(pod, c, "VLLM_ADDITIONAL_ARGS") ?? "");
        var m = TensorParallel.Matches(text).LastOrDefault();
        if (m is null || !int.TryParse(m.Groups[1].Value, out var tp) || tp <= chips) return null;
        return $"INFO [tpu.py] Found {chips} TPU chips on this host.\n" +
               $"ValueError: Tensor parallel size ({tp}) is larger than the number of available TPU chips ({chips}). " +
               "Set --tensor-parallel-size to at most the google.com/tpu chips of the pod.\n";
    }
}
