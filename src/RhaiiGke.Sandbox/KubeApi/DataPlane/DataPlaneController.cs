using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RhaiiGke.Sandbox.KubeApi.Controllers;
using RhaiiGke.Sandbox.Vllm;

namespace RhaiiGke.Sandbox.KubeApi.DataPlane;

/// <summary>
/// Keeps the simulated data plane in step with the store: a vLLM simulator behind every ready workload pod
/// (kserve.io/component=workload) at podIP:8000, and an Envoy-like proxy behind every Istio Gateway address
/// (and, on GKE clusters, every programmed gke-l7-* Gateway address) and listener port. Gateway addresses are
/// loopback addresses the proxy listens on itself (<see cref="LoopbackAddresses"/>), so any process on the machine
/// reaches them; pod addresses (and gateway addresses that could not be made loopback ones) are registered in
/// <see cref="EndpointOverrides"/> so in-process clients reach them by the cluster's addresses. Everything is stopped and unregistered when the pod or gateway goes away, and on
/// <see cref="Dispose"/>.
/// </summary>
internal sealed partial class DataPlaneController : SimController, IDisposable
{
    public const int VllmPort = 8000;
    private readonly Dictionary<string, PodBackend> _pods = new(StringComparer.Ordinal);
    private readonly Dictionary<string, GatewayProxy> _gateways = new(StringComparer.Ordinal);
    /// <summary>Ready pods of the UBI nginx image (a model route's /v1/models list), by pod uid.</summary>
    private readonly Dictionary<string, (StaticNginx Server, string Ip)> _statics = new(StringComparer.Ordinal);
    private readonly GatewayRouter _router;
    private bool _disposed;

    private sealed record PodBackend(VllmSimulator Sim, string Ip, int TargetPort, string Model);

    public DataPlaneController(ControllerManager m) : base(m) => _router = new GatewayRouter(m.Core);

    protected override string Name => "dataplane";

    public override void OnEvent(WatchEvent ev)
    {
        switch (ev.StoreKey)
        {
            case "/pods":
                var labels = ev.Object.Labels();
                if (labels.ContainsKey("kserve.io/component") || StaticNginx.Runs(ev.Object)) Enqueue("pods");
                if (labels.ContainsKey("gateway.networking.k8s.io/gateway-name")) Enqueue("gateways");
                break;
            case "gateway.networking.k8s.io/gateways" or "/services":
                Enqueue("gateways");
                break;
        }
    }

    public override void Reconcile(string key)
    {
        if (_disposed) return;
        if (key == "pods") SyncPods();
        else SyncGateways();
    }

    private void SyncPods()
    {
        SyncStatics();
        var want = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var p in All("", "pods"))
            if (PodController.IsWorkloadPod(p) && Pods.Ready(p) && p.Str("status", "podIP") is not null)
                want[p.Str("metadata", "uid")!] = p;
        foreach (var (uid, backend) in _pods.Where(kv => !want.ContainsKey(kv.Key) || want[kv.Key].Str("status", "podIP") != kv.Value.Ip).ToList())
        {
            EndpointOverrides.Unregister(backend.Ip, VllmPort, backend.TargetPort);
            backend.Sim.Dispose();
            _pods.Remove(uid);
        }
        foreach (var (uid, pod) in want)
        {
            if (_pods.ContainsKey(uid)) continue;
            var model = ServedModel(pod);
            var sim = VllmSimulator.Start(new InferenceSimulatorOptions
            {
                Model = model, Replicas = 1, PodNamePrefix = pod.Name(),
                TimeToFirstTokenMs = Core.Options.VllmTimeToFirstTokenMs, InterTokenLatencyMs = Core.Options.VllmInterTokenLatencyMs,
                Seed = (int)(uint)uid.GetHashCode(),
                MaxModelLength = MaxModelLen(pod) ?? new InferenceSimulatorOptions().MaxModelLength,
                MaxNumSeqs = MaxNumSeqs(pod) ?? new InferenceSimulatorOptions().MaxNumSeqs,
                VllmVersion = VllmVersions.ForImage(MainContainer(pod)?.Str("image")),
            }, $"{pod.Namespace()}/{pod.Name()}");
            var podUid = uid;
            sim.AccessLog = line => Core.PodLogs.Write(podUid, "main", line);
            var url = new Uri(sim.Info.ReplicaUrls[0]);
            var ip = pod.Str("status", "podIP")!;
            EndpointOverrides.Register(ip, VllmPort, url.Host, url.Port);
            _pods[uid] = new PodBackend(sim, ip, url.Port, model);
        }
    }

    /// <summary>A static nginx behind every ready UBI nginx pod at podIP:8080, started with the pod's mounted files of that moment.</summary>
    private void SyncStatics()
    {
        var want = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var p in All("", "pods"))
            if (StaticNginx.Runs(p) && Pods.Ready(p) && p.Str("status", "podIP") is not null)
                want[p.Str("metadata", "uid")!] = p;
        foreach (var (uid, s) in _statics.Where(kv => !want.ContainsKey(kv.Key) || want[kv.Key].Str("status", "podIP") != kv.Value.Ip).ToList())
        {
            EndpointOverrides.Unregister(s.Ip, StaticNginx.Port, s.Server.ListenPort);
            s.Server.Dispose();
            _statics.Remove(uid);
        }
        foreach (var (uid, pod) in want)
        {
            if (_statics.ContainsKey(uid)) continue;
            var server = StaticNginx.Start(Core, pod);
            if (server is null) continue; // nginx refused its configuration: nothing listens
            var ip = pod.Str("status", "podIP")!;
            EndpointOverrides.Register(ip, StaticNginx.Port, "127.0.0.1", server.ListenPort);
            _statics[uid] = (server, ip);
        }
    }

    [GeneratedRegex(@"--max-model-len(?:=|\s+)(""?)(\d+)\1(?:\s|$)")] private static partial Regex MaxModelLenArg();
    [GeneratedRegex(@"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")] private static partial Regex ShellVar();
    [GeneratedRegex(@"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")] private static partial Regex KubeVar();

    private static JsonObject? MainContainer(JsonObject pod) =>
        (pod.Arr("spec", "containers") ?? []).OfType<JsonObject>().FirstOrDefault(c => c.Str("name") == "main")
        ?? (pod.Arr("spec", "containers") ?? []).OfType<JsonObject>().FirstOrDefault();

    /// <summary>
    /// The main container's command line as it runs: command and args with $(VAR) expanded by the kubelet and
    /// ${VAR}/$VAR by the shell KServe's template starts vLLM with (VLLM_ADDITIONAL_ARGS carries the module's flags),
    /// from the container's literal env values. Null without a main container.
    /// </summary>
    private static string? ExpandedCommandLine(JsonObject pod)
    {
        var main = MainContainer(pod);
        if (main is null) return null;
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var e in (main.Arr("env") ?? []).OfType<JsonObject>())
            if (e.Str("name") is { } n && e.Str("value") is { } v) env[n] = v;
        var text = string.Join(' ', (main.Arr("command") ?? []).Concat(main.Arr("args") ?? []).Select(a => a?.ToString()));
        text = KubeVar().Replace(text, m => env.TryGetValue(m.Groups[1].Value, out var v) ? v : m.Value);
        return ShellVar().Replace(text, m => env.GetValueOrDefault(m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value, ""));
    }

    /// <summary>The last value of an integer flag on the expanded command line (argparse: the last occurrence wins); null without it or below <paramref name="min"/>.</summary>
    private static int? LastIntArg(JsonObject pod, Regex flag, int min)
    {
        var last = ExpandedCommandLine(pod) is { } text ? flag.Matches(text).LastOrDefault() : null;
        return last is not null && int.TryParse(last.Groups[2].Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n >= min ? n : null;
    }

    /// <summary>vLLM's --max-model-len as the container runs it; null without the flag (vLLM then uses the model's own context length).</summary>
    private static int? MaxModelLen(JsonObject pod) => LastIntArg(pod, MaxModelLenArg(), 2);

    [GeneratedRegex(@"--max-num-seqs(?:=|\s+)(""?)(\d+)\1(?:\s|$)")] private static partial Regex MaxNumSeqsArg();

    /// <summary>vLLM's --max-num-seqs (the batch: more requests wait in the queue, vllm:num_requests_waiting), read like --max-model-len.</summary>
    private static int? MaxNumSeqs(JsonObject pod) => LastIntArg(pod, MaxNumSeqsArg(), 1);

    /// <summary>The simulated vLLM replica serving the ready pod with this uid, if any (the HPA's "custom metrics API").</summary>
    internal Vllm.VllmReplica? Replica(string podUid) => _pods.TryGetValue(podUid, out var b) ? b.Sim.Replicas[0] : null;

    [GeneratedRegex(@"--served-model-name(?:=|\s+)(""[^""]*""|'[^']*'|\S+)")] private static partial Regex ServedName();
    [GeneratedRegex(@"vllm\s+serve\s+(""[^""]*""|'[^']*'|\S+)")] private static partial Regex ServePath();

    /// <summary>
    /// The model name vLLM serves: --served-model-name from the main container's command and args (KServe's
    /// template passes the service's spec.model.name); without it, the path after "vllm serve" (clients then
    /// have to send /mnt/models); else the owning LLMInferenceService's spec.model.name or name.
    /// </summary>
    private string ServedModel(JsonObject pod)
    {
        var main = (pod.Arr("spec", "containers") ?? []).OfType<JsonObject>().FirstOrDefault(c => c.Str("name") == "main")
                   ?? (pod.Arr("spec", "containers") ?? []).OfType<JsonObject>().FirstOrDefault();
        var text = string.Join(' ', (main?.Arr("command") ?? []).Concat(main?.Arr("args") ?? []).Select(a => a?.ToString()));
        if (ServedName().Match(text) is { Success: true } m) return m.Groups[1].Value.Trim('"', '\'');
        if (ServePath().Match(text) is { Success: true } s && !s.Groups[1].Value.StartsWith('-')) return s.Groups[1].Value.Trim('"', '\'');
        var owner = pod.Labels().GetValueOrDefault("app.kubernetes.io/name");
        var svc = owner is null ? null : Get("serving.kserve.io", "llminferenceservices", pod.Namespace(), owner);
        return svc?.Str("spec", "model", "name") ?? owner ?? pod.Name();
    }

    private void SyncGateways()
    {
        var want = new Dictionary<string, (JsonObject Gw, string Ip, List<int> Ports)>(StringComparer.Ordinal);
        foreach (var gw in All("gateway.networking.k8s.io", "gateways"))
        {
            var cls = gw.Str("spec", "gatewayClassName");
            if (Deleting(gw) || !(cls == "istio" || (Core.Options.GkeGatewayApi && GkeGateway.IsGkeClass(cls)))) continue;
            var ip = gw.Arr("status", "addresses")?.FirstOrDefault().Str("value");
            if (ip is null) continue;
            var key = KeyOf(gw);
            // serve from the first time the gateway is Programmed; keep serving (resetting connections) while its address stays
            if (!_gateways.ContainsKey(key) && !ConditionTrue(gw, "Programmed")) continue;
            var ports = (gw.Arr("spec", "listeners") ?? []).Select(l => (int)(l.Long("port") ?? 80)).Distinct().OrderBy(p => p).ToList();
            want[key] = (gw, ip, ports);
        }
        foreach (var (key, proxy) in _gateways.ToList())
        {
            if (want.TryGetValue(key, out var w) && proxy.Serves.Select(r => r.Port).SequenceEqual(w.Ports) && proxy.Serves.All(r => r.Host == w.Ip)) continue;
            Release(proxy);
            _gateways.Remove(key);
        }
        foreach (var (key, w) in want)
        {
            if (_gateways.ContainsKey(key)) continue;
            // a loopback address (LoopbackAddresses): the proxy listens on it with the listeners' own ports, reachable
            // by every process here; a made-up public one: an ephemeral port that only in-process clients reach
            IReadOnlyList<System.Net.IPEndPoint> bind = LoopbackAddresses.IsLoopback(w.Ip)
                ? w.Ports.Select(p => new System.Net.IPEndPoint(System.Net.IPAddress.Parse(w.Ip), p)).ToList() : [];
            var google = Core.Options.GkeGatewayApi && GkeGateway.IsGkeClass(w.Gw.Str("spec", "gatewayClassName"));
            var proxy = new GatewayProxy(_router, w.Gw.Namespace()!, w.Gw.Name(), Core.Options.GatewayConnectTimeout, google: google, bind: bind);
            // an Istio gateway pod's istio-proxy logs each request when the mesh enables access logging; a GKE gateway
            // has no pods (its logs go to Cloud Logging)
            if (!google)
            {
                var (gwNs, gwName) = (w.Gw.Namespace()!, w.Gw.Name());
                proxy.AccessLog = () => AccessLogTo(gwNs, gwName);
            }
            foreach (var port in w.Ports)
            {
                proxy.Serves.Add((w.Ip, port));
                if (proxy.Bound.Count > 0) continue;
                EndpointOverrides.Register(w.Ip, port, "127.0.0.1", proxy.Port);
                proxy.Registered.Add((w.Ip, port));
            }
            _gateways[key] = proxy;
        }
    }

    /// <summary>
    /// The istio-proxy log of a ready gateway pod of the Gateway, when the Istio resource sets
    /// spec.values.meshConfig.accessLogFile (as /dev/stdout); null otherwise (Istio's default profile logs no requests).
    /// </summary>
    private Action<string>? AccessLogTo(string gwNs, string gwName)
    {
        lock (Core.Gate)
        {
            if (Core.PeekAll("sailoperator.io", "istios").All(i => string.IsNullOrEmpty(i.Str("spec", "values", "meshConfig", "accessLogFile")))) return null;
            var pod = Core.PeekAll("", "pods", gwNs).Where(p => p.Labels().GetValueOrDefault("gateway.networking.k8s.io/gateway-name") == gwName && Pods.Ready(p))
                .OrderBy(p => p.Name(), StringComparer.Ordinal).FirstOrDefault();
            if (pod?.Str("metadata", "uid") is not { } uid) return null;
            var container = (pod.Arr("spec", "containers") ?? []).FirstOrDefault().Str("name") ?? "istio-proxy";
            return line => Core.PodLogs.Write(uid, container, line);
        }
    }

    private static void Release(GatewayProxy proxy)
    {
        foreach (var (host, port) in proxy.Registered) EndpointOverrides.Unregister(host, port, proxy.Port);
        proxy.Dispose();
    }

    public void Dispose()
    {
        lock (Core.Gate)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var p in _gateways.Values) Release(p);
            _gateways.Clear();
            foreach (var b in _pods.Values)
            {
                EndpointOverrides.Unregister(b.Ip, VllmPort, b.TargetPort);
                b.Sim.Dispose();
            }
            _pods.Clear();
            foreach (var s in _statics.Values)
            {
                EndpointOverrides.Unregister(s.Ip, StaticNginx.Port, s.Server.ListenPort);
                s.Server.Dispose();
            }
            _statics.Clear();
        }
    }
}
