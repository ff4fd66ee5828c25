using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RhaiiGke.Sandbox.Protocol;
using RhaiiGke;
using RhaiiGke.Sandbox.KubeApi.Controllers;

namespace RhaiiGke.Sandbox.KubeApi;

internal sealed partial class SimCore
{
    /// <summary>Requests the simulated EPPs scheduled, per EPP Service (namespace/name) and model: the EPP's inference_model_request_total.</summary>
    public ConcurrentDictionary<(string Ns, string EppService, string Model), long> EppRequests { get; } = new();
}

/// <summary>
/// The pods and services <c>proxy</c> subresources as kube-apiserver serves them:
/// <c>/api/v1/namespaces/{ns}/pods/{[scheme:]name[:port]}/proxy/{path}</c> and the same under <c>services</c>.
/// The caller's credentials are checked by the front end and, as the real server's authentication filter
/// does, not passed on (the Authorization header is removed before the request reaches the pod). Pods are
/// reached at their podIP:port, which in the sandbox means the simulated vLLM registered in
/// <see cref="EndpointOverrides"/> for a ready workload pod, or the simulated EPP's metrics listener;
/// anything else answers as a closed port does: 503 "error trying to reach service: dial tcp ...: connect:
/// connection refused". A pod without an IP is "address not allowed" (400); a Service without ready
/// endpoints "no endpoints available for service" (503).
/// </summary>
internal static partial class PodProxyEndpoint
{
    private static readonly HttpClient s_backend = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, ConnectTimeout = TimeSpan.FromSeconds(5) })
    { Timeout = Timeout.InfiniteTimeSpan };

    public static bool Matches(string[] s) =>
        s.Length >= 7 && s[0] == "api" && s[1] == "v1" && s[2] == "namespaces" && s[4] is "pods" or "services" && s[6] == "proxy";

    public static async Task ServeAsync(SimCore core, HttpListenerContext ctx, string[] segs, CancellationToken stop)
    {
        var ns = segs[3];
        var service = segs[4] == "services";
        var id = segs[5];
        // the path after .../proxy, as sent (escaped, trailing slash kept)
        var url = ctx.Request.Url!;
        var raw = url.AbsolutePath;
        var parts = raw.Split('/');
        var rest = parts.Length > 8 ? "/" + string.Join('/', parts[8..]) : "/";
        var idParts = id.Split(':');
        string scheme = "", name, port = "";
        switch (idParts.Length)
        {
            case 1: name = idParts[0]; break;
            case 2: name = idParts[0]; port = idParts[1]; break;
            case 3: scheme = idParts[0]; name = idParts[1]; port = idParts[2]; break;
            default: throw StatusError.BadRequest($"invalid {(service ? "service" : "pod")} request \"{id}\"");
        }
        if (name.Length == 0 || scheme is not ("" or "http" or "https"))
            throw StatusError.BadRequest($"invalid {(service ? "service" : "pod")} request \"{id}\"");

        JsonObject pod;
        int targetPort;
        lock (core.Gate)
        {
            if (service)
            {
                var svcType = core.Registry.BuiltIn("", "services");
                var svc = core.Peek(svcType, ns, name) ?? throw StatusError.NotFound(svcType, name);
                (pod, targetPort) = ServiceTarget(core, svc, name, id, port);
            }
            else
            {
                var podType = core.Registry.BuiltIn("", "pods");
                pod = core.Peek(podType, ns, name)?.DeepClone() as JsonObject ?? throw StatusError.NotFound(podType, name);
                if (port.Length == 0)
                {
                    var first = (pod.Arr("spec", "containers") ?? []).Select(c => c.Arr("ports")?.FirstOrDefault().Long("containerPort")).FirstOrDefault(p => p is not null);
                    port = first?.ToString(CultureInfo.InvariantCulture) ?? "";
                }
                // a port without a number: the kubelet's address resolution fails as Go's dialer does
                if (port.Length == 0) targetPort = 80;
                else if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out targetPort) || targetPort is < 1 or > 65535)
                    throw Unavailable($"dial tcp: address {port}: invalid port");
            }
        }
        var ip = pod.Str("status", "podIP");
        if (ip is null || !IPAddress.TryParse(ip, out _)) throw StatusError.BadRequest("address not allowed");
        var addr = ip + ":" + targetPort.ToString(CultureInfo.InvariantCulture);

        if (ContainerOutput.IsEpp(pod) && targetPort == EppMetrics.MetricsPort(pod))
        {
            await EppMetrics.ServeAsync(core, ctx, pod, rest).ConfigureAwait(false);
            return;
        }
        if (!EndpointOverrides.IsOverridden(ip, targetPort)) throw Unavailable($"dial tcp {addr}: connect: connection refused");
        // KServe's vLLM serves TLS (--ssl-certfile): plain http to it gets the connection closed mid-handshake
        var tls = PodController.IsWorkloadPod(pod) && GkeGateway.ServesTls(pod);
        if (tls && scheme != "https") throw Unavailable("EOF");
        if (!tls && scheme == "https") throw Unavailable("tls: first record does not look like a TLS handshake");
        var (host, loopPort) = EndpointOverrides.Resolve(ip, targetPort);
        await ForwardAsync(ctx, $"http://{host}:{loopPort}{rest}{url.Query}", addr, stop).ConfigureAwait(false);
    }

    private static StatusError Unavailable(string why) => new(503, "ServiceUnavailable", "error trying to reach service: " + why);

    /// <summary>A ready endpoint of the Service for the port (by name or number; the first one when none is given).</summary>
    private static (JsonObject Pod, int Port) ServiceTarget(SimCore core, JsonObject svc, string name, string id, string port)
    {
        var ports = (svc.Arr("spec", "ports") ?? []).OfType<JsonObject>().ToList();
        var sp = port.Length == 0 ? ports.FirstOrDefault()
            : ports.FirstOrDefault(p => p.Str("name") == port || p.Long("port")?.ToString(CultureInfo.InvariantCulture) == port);
        if (sp is null) throw new StatusError(503, "ServiceUnavailable", $"no endpoints available for service \"{id}\"");
        var selector = svc.At("spec", "selector").StringMap();
        var ready = core.PeekAll("", "pods", svc.Namespace())
            .Where(p => selector.Count > 0 && selector.All(kv => p.Labels().GetValueOrDefault(kv.Key) == kv.Value) && Pods.Ready(p) && p.Str("status", "podIP") is not null)
            .OrderBy(p => p.Name(), StringComparer.Ordinal).ToList();
        if (ready.Count == 0) throw new StatusError(503, "ServiceUnavailable", $"no endpoints available for service \"{name}\"");
        var pod = ready[Random.Shared.Next(ready.Count)];
        int target;
        if (sp["targetPort"] is JsonValue v && v.TryGetValue<long>(out var n)) target = (int)n;
        else if (sp.Str("targetPort") is { } named)
        {
            var cp = (pod.Arr("spec", "containers") ?? []).SelectMany(c => c.Arr("ports") ?? []).FirstOrDefault(p => p.Str("name") == named);
            if (cp?.Long("containerPort") is not { } number) throw new StatusError(503, "ServiceUnavailable", $"no endpoints available for service \"{name}\"");
            target = (int)number;
        }
        else target = (int)(sp.Long("port") ?? 80);
        return ((JsonObject)pod.DeepClone(), target);
    }

    /// <summary>Sends the request on to the pod and streams the answer back (status, content type, body).</summary>
    private static async Task ForwardAsync(HttpListenerContext ctx, string url, string addr, CancellationToken stop)
    {
        using var req = new HttpRequestMessage(new HttpMethod(ctx.Request.HttpMethod), url);
        if (ctx.Request.HasEntityBody)
        {
            using var ms = new MemoryStream();
            await ctx.Request.InputStream.CopyToAsync(ms, stop).ConfigureAwait(false);
            req.Content = new ByteArrayContent(ms.ToArray());
            if (ctx.Request.ContentType is { } ct) req.Content.Headers.TryAddWithoutValidation("Content-Type", ct);
        }
        foreach (var h in new[] { "Accept", "User-Agent" })
            if (ctx.Request.Headers[h] is { } value) req.Headers.TryAddWithoutValidation(h, value);
        req.Headers.TryAddWithoutValidation("X-Forwarded-For", ctx.Request.RemoteEndPoint?.Address.ToString() ?? "127.0.0.1");
        HttpResponseMessage res;
        try { res = await s_backend.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, stop).ConfigureAwait(false); }
        catch (HttpRequestException e) when (e.InnerException is SocketException)
        {
            throw Unavailable($"dial tcp {addr}: connect: connection refused");
        }
        using (res)
        {
            var o = ctx.Response;
            o.StatusCode = (int)res.StatusCode;
            if (res.Content.Headers.ContentType is { } type) o.ContentType = type.ToString();
            if (res.Content.Headers.ContentLength is { } len) o.ContentLength64 = len;
            else o.SendChunked = true;
            try
            {
                await using var body = await res.Content.ReadAsStreamAsync(stop).ConfigureAwait(false);
                var buffer = new byte[16 * 1024];
                int read;
                while ((read = await body.ReadAsync(buffer, stop).ConfigureAwait(false)) > 0)
                {
                    await o.OutputStream.WriteAsync(buffer.AsMemory(0, read), stop).ConfigureAwait(false);
                    await o.OutputStream.FlushAsync(stop).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is IOException or HttpListenerException or OperationCanceledException or ObjectDisposedException) { }
            finally
            {
                try { o.Close(); } catch (Exception) { }
            }
        }
    }

    internal static async Task<string?> BackendGet(string ip, int port, string path)
    {
        if (!EndpointOverrides.IsOverridden(ip, port)) return null;
        var (host, p) = EndpointOverrides.Resolve(ip, port);
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            return await s_backend.GetStringAsync($"http://{host}:{p}{path}", cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException) { return null; }
    }
}

/// <summary>
/// The metrics listener of the simulated EPP (llm-d inference scheduler on the Gateway API Inference Extension
/// v0.5 runner): <c>/metrics</c> on <c>--metrics-port</c> (default 9090). With <c>--metrics-endpoint-auth</c>
/// (the default) controller-runtime's filter requires a bearer token allowed to get the non-resource URL
/// /metrics and answers 401 "Unauthorized" without one — through the API server's proxy there never is one,
/// because the API server does not pass the caller's credentials on. With <c>--metrics-endpoint-auth=false</c>
/// it serves the pool gauges the EPP computes from scraping its pods (ready pods, average and per-pod queue,
/// average KV-cache utilization), the requests it scheduled per model, and its build info.
/// </summary>
internal static partial class EppMetrics
{
    [GeneratedRegex(@"--metrics-port(?:=|\s+)(\d+)")] private static partial Regex PortArg();
    [GeneratedRegex(@"--metrics-endpoint-auth(?:=|\s+)(false|0|False|FALSE)\b")] private static partial Regex AuthOff();
    [GeneratedRegex(@"--pool-name(?:=|\s+)(\S+)")] private static partial Regex PoolArg();
    [GeneratedRegex(@"^vllm:(num_requests_waiting|kv_cache_usage_perc)\{[^}]*\}\s+(\S+)", RegexOptions.Multiline)] private static partial Regex Gauge();

    private static string Args(JsonObject pod)
    {
        var main = (pod.Arr("spec", "containers") ?? []).OfType<JsonObject>().FirstOrDefault(c => c.Str("name") == "main")
                   ?? (pod.Arr("spec", "containers") ?? []).OfType<JsonObject>().FirstOrDefault();
        return string.Join(' ', (main?.Arr("command") ?? []).Concat(main?.Arr("args") ?? []).Select(a => a?.ToString()));
    }

    public static int MetricsPort(JsonObject pod) =>
        PortArg().Match(Args(pod)) is { Success: true } m && int.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var p) ? p : 9090;

    public static async Task ServeAsync(SimCore core, HttpListenerContext ctx, JsonObject epp, string path)
    {
        var res = ctx.Response;
        string body;
        if (path != "/metrics") { res.StatusCode = 404; body = "404 page not found\n"; }
        else if (!AuthOff().IsMatch(Args(epp))) { res.StatusCode = 401; body = "Unauthorized\n"; }
        else if (ctx.Request.HttpMethod is not ("GET" or "HEAD")) { res.StatusCode = 405; body = ""; }
        else { res.StatusCode = 200; body = await Render(core, epp).ConfigureAwait(false); }
        res.ContentType = res.StatusCode == 200 ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8";
        var bytes = Encoding.UTF8.GetBytes(body);
        res.ContentLength64 = bytes.Length;
        await res.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
        res.Close();
    }

    private static async Task<string> Render(SimCore core, JsonObject epp)
    {
        var ns = epp.Namespace()!;
        var owner = epp.Labels().GetValueOrDefault("app.kubernetes.io/name") ?? "";
        var poolName = PoolArg().Match(Args(epp)) is { Success: true } m ? m.Groups[1].Value : owner + "-inference-pool";
        List<JsonObject> pods;
        lock (core.Gate)
        {
            var pool = core.Peek("inference.networking.x-k8s.io", "inferencepools", ns, poolName) ?? core.Peek("inference.networking.k8s.io", "inferencepools", ns, poolName);
            var selector = pool is null ? new Dictionary<string, string> { ["app.kubernetes.io/name"] = owner, ["kserve.io/component"] = "workload" }
                : (pool.At("spec", "selector", "matchLabels").StringMap() is { Count: > 0 } ml ? ml : pool.At("spec", "selector").StringMap());
            pods = core.PeekAll("", "pods", ns)
                .Where(p => selector.Count > 0 && selector.All(kv => p.Labels().GetValueOrDefault(kv.Key) == kv.Value) && Pods.Ready(p) && p.Str("status", "podIP") is not null)
                .OrderBy(p => p.Name(), StringComparer.Ordinal).ToList();
        }
        var stats = new List<(string Pod, double Waiting, double Kv)>();
        foreach (var p in pods)
        {
            // the EPP scrapes each pod's vLLM metrics (port 8000)
            var text = await PodProxyEndpoint.BackendGet(p.Str("status", "podIP")!, 8000, "/metrics").ConfigureAwait(false);
            if (text is null) continue;
            double waiting = 0, kv = 0;
            foreach (Match g in Gauge().Matches(text))
            {
                if (!double.TryParse(g.Groups[2].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)) continue;
                if (g.Groups[1].Value == "num_requests_waiting") waiting += v; else kv = Math.Max(kv, v);
            }
            stats.Add((p.Name(), waiting, kv));
        }
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        var eppService = owner + "-epp-service";
        sb.Append("# HELP inference_model_request_total [ALPHA] Counter of inference model requests broken out for each model and target model.\n# TYPE inference_model_request_total counter\n");
        foreach (var ((rns, rsvc, model), count) in core.EppRequests.OrderBy(kv => kv.Key.Model, StringComparer.Ordinal))
            if (rns == ns && rsvc == eppService)
                sb.Append(CultureInfo.InvariantCulture, $"inference_model_request_total{{model_name=\"{model}\",target_model_name=\"{model}\"}} {count}\n");
        sb.Append("# HELP inference_pool_average_kv_cache_utilization [ALPHA] The average kv cache utilization for an inference server pool.\n# TYPE inference_pool_average_kv_cache_utilization gauge\n");
        sb.Append(inv, $"inference_pool_average_kv_cache_utilization{{name=\"{poolName}\"}} {(stats.Count == 0 ? 0 : stats.Average(s => s.Kv)).ToString("0.0#####", inv)}\n");
        sb.Append("# HELP inference_pool_average_queue_size [ALPHA] The average number of requests pending in the model server queue.\n# TYPE inference_pool_average_queue_size gauge\n");
        sb.Append(inv, $"inference_pool_average_queue_size{{name=\"{poolName}\"}} {(stats.Count == 0 ? 0 : stats.Average(s => s.Waiting)).ToString("0.0#####", inv)}\n");
        sb.Append("# HELP inference_pool_per_pod_queue_size [ALPHA] The total number of requests pending in the model server queue for each underlying pod.\n# TYPE inference_pool_per_pod_queue_size gauge\n");
        foreach (var s in stats) sb.Append(inv, $"inference_pool_per_pod_queue_size{{model_server_pod=\"{s.Pod}\",name=\"{poolName}\"}} {s.Waiting.ToString("0.#####", inv)}\n");
        sb.Append("# HELP inference_pool_ready_pods [ALPHA] The number of ready pods in the inference server pool.\n# TYPE inference_pool_ready_pods gauge\n");
        sb.Append(inv, $"inference_pool_ready_pods{{name=\"{poolName}\"}} {stats.Count}\n");
        sb.Append("# HELP inference_extension_info [ALPHA] General information of the current build of Inference Extension.\n# TYPE inference_extension_info gauge\n");
        sb.Append("inference_extension_info{build_ref=\"v0.5.1\",commit=\"sandbox\"} 1\n");
        return sb.ToString();
    }

    /// <summary>Counts a request the EPP behind <paramref name="eppService"/> scheduled (the gateway's ext_proc call).</summary>
    public static void Count(SimCore core, string ns, string eppService, string body)
    {
        var model = "";
        try { model = JsonNode.Parse(body)?["model"]?.ToString() ?? ""; }
        catch (System.Text.Json.JsonException) { }
        core.EppRequests.AddOrUpdate((ns, eppService, model), 1, (_, n) => n + 1);
    }
}
