using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Engine.Kube.Json;

namespace RhaiiGke.Engine.Serving;

/// <summary>What Get-LlmInferenceServiceLog reads.</summary>
public sealed class ServiceLogOptions
{
    public LlmLogComponent[] Components { get; set; } = [LlmLogComponent.Workload, LlmLogComponent.Scheduler];
    /// <summary>Only these containers (any pod); empty: the component's own container.</summary>
    public string[] Containers { get; set; } = [];
    public long? Tail { get; set; }
    public DateTimeOffset? Since { get; set; }
    public bool Follow { get; set; }
    public bool Previous { get; set; }
    /// <summary>How often a follower whose stream ended looks at the pod for a restart.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// Reads the container logs of an LLMInferenceService's pods (vLLM, storage-initializer, EPP, gateway proxy)
/// through the pods/log subresource with timestamps, as typed lines. Following keeps one stream per container
/// and goes on across container restarts: when a stream ends the pod is looked at; a higher restartCount is
/// reported (with the last exit) and the new instance is followed from its first line; a deleted or finished
/// pod ends its follower.
/// </summary>
public sealed class ServiceLogReader
{
    private readonly KubeClient _client;
    private readonly LlmServiceManager _services;
    private readonly IRhaiiLog _log;

    public ServiceLogReader(ClusterConnection connection, IRhaiiLog? log = null)
    {
        _client = KubeClients.For(connection);
        _log = log ?? NullRhaiiLog.Instance;
        _services = new LlmServiceManager(connection, log);
    }

    public sealed record Source(LlmLogComponent Component, string Namespace, string Pod, string Container);

    /// <summary>The pods and containers to read, in component order then pod name.</summary>
    public async Task<List<Source>> SourcesAsync(string ns, string name, ServiceLogOptions o, CancellationToken ct)
    {
        var svc = await _services.GetAsync(ns, name, ct).ConfigureAwait(false) ?? throw new RhaiiException("LlmInferenceServiceNotFound", RhaiiErrorCategory.ObjectNotFound,
            $"LLMInferenceService {ns}/{name} was not found.", "Get-LlmInferenceService lists the services; give -Namespace and -Name of one.", name);
        var pods = (await _client.ListAsync($"api/v1/namespaces/{ns}/pods", $"app.kubernetes.io/name={svc.Name}", ct).ConfigureAwait(false)).Arr("items")?.OfType<JsonObject>().ToList() ?? [];
        var list = new List<Source>();
        foreach (var component in o.Components.Distinct().OrderBy(c => c))
        {
            IEnumerable<JsonObject> selected;
            string podNs = ns;
            switch (component)
            {
                case LlmLogComponent.Workload or LlmLogComponent.StorageInitializer:
                    selected = pods.Where(p => p.Labels().GetValueOrDefault("kserve.io/component") == "workload");
                    break;
                case LlmLogComponent.Scheduler:
                    selected = pods.Where(p => p.Labels().GetValueOrDefault("app.kubernetes.io/component") == "llminferenceservice-router-scheduler");
                    break;
                default:
                    if (svc.Gateway is not { } gw)
                    {
                        _log.Warning($"LLMInferenceService {ns}/{name} has no Gateway: there are no gateway pods to read.");
                        continue;
                    }
                    var parts = gw.Split('/', 2);
                    podNs = parts[0];
                    selected = (await _client.ListAsync($"api/v1/namespaces/{podNs}/pods", $"gateway.networking.k8s.io/gateway-name={parts[1]}", ct).ConfigureAwait(false))
                        .Arr("items")?.OfType<JsonObject>().ToList() ?? [];
                    break;
            }
            foreach (var p in selected.OrderBy(p => p.Name(), StringComparer.Ordinal))
            {
                var mains = (p.Arr("spec", "containers") ?? []).Select(c => c.Str("name") ?? "").ToList();
                var inits = (p.Arr("spec", "initContainers") ?? []).Select(c => c.Str("name") ?? "").ToList();
                IEnumerable<string> containers;
                if (o.Containers.Length > 0)
                    containers = mains.Concat(inits).Where(c => o.Containers.Contains(c, StringComparer.OrdinalIgnoreCase) && Belongs(component, c, mains));
                else if (component == LlmLogComponent.StorageInitializer) containers = inits.Where(c => c == "storage-initializer");
                else if (component == LlmLogComponent.Gateway || !mains.Contains("main")) containers = mains.Take(1);
                else containers = new[] { "main" };
                foreach (var c in containers.Distinct()) list.Add(new Source(component, podNs, p.Name(), c));
            }
        }
        return list;
    }

    // with -Container, a container belongs to the component whose pods have it: init containers to StorageInitializer only
    private static bool Belongs(LlmLogComponent component, string container, List<string> mains) =>
        component != LlmLogComponent.Workload || mains.Contains(container);

    /// <summary>Reads (or follows) every source, writing lines to <paramref name="output"/> as they come; completes the channel at the end.</summary>
    public async Task ReadAsync(string service, IReadOnlyList<Source> sources, ServiceLogOptions o, ChannelWriter<LlmInferenceServiceLogLine> output, CancellationToken ct)
    {
        try
        {
            if (!o.Follow)
            {
                // one after the other, like kubectl logs: each container's lines together
                foreach (var s in sources) await ReadOnceAsync(service, s, o, output, ct).ConfigureAwait(false);
                return;
            }
            await Task.WhenAll(sources.Select(s => FollowAsync(service, s, o, output, ct))).ConfigureAwait(false);
        }
        finally { output.TryComplete(); }
    }

    private static string LogPath(Source s, ServiceLogOptions o, bool follow, long? tail, DateTimeOffset? since)
    {
        var q = new StringBuilder($"api/v1/namespaces/{s.Namespace}/pods/{s.Pod}/log?container={Uri.EscapeDataString(s.Container)}&timestamps=true");
        if (follow) q.Append("&follow=true");
        if (o.Previous) q.Append("&previous=true");
        if (tail is { } t) q.Append(CultureInfo.InvariantCulture, $"&tailLines={t}");
        if (since is { } st) q.Append("&sinceTime=").Append(Uri.EscapeDataString(st.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)));
        return q.ToString();
    }

    private async Task ReadOnceAsync(string service, Source s, ServiceLogOptions o, ChannelWriter<LlmInferenceServiceLogLine> output, CancellationToken ct)
    {
        string body;
        try { (_, body, _) = await _client.SendRawAsync(HttpMethod.Get, LogPath(s, o, false, o.Tail, o.Since), null, null, ct).ConfigureAwait(false); }
        catch (KubeApiException e) when (e.Code is 400 or 404)
        {
            _log.Warning($"{s.Pod}/{s.Container}: {e.Message}");
            return;
        }
        foreach (var raw in body.Split('\n'))
        {
            if (raw.Length == 0) continue;
            var line = Parse(service, s, raw, o.Previous);
            if (o.Since is { } since && line.Timestamp < since) continue;
            await output.WriteAsync(line, ct).ConfigureAwait(false);
        }
    }

    private async Task FollowAsync(string service, Source s, ServiceLogOptions o, ChannelWriter<LlmInferenceServiceLogLine> output, CancellationToken ct)
    {
        var pod = await PodAsync(s, ct).ConfigureAwait(false);
        if (pod is null) return;
        var restarts = Restarts(pod, s.Container);
        DateTimeOffset? last = null;
        var first = true;
        while (!ct.IsCancellationRequested)
        {
            // a container that has not started yet has no log: wait for it
            if (!await WaitStartedAsync(s, o, ct).ConfigureAwait(false)) return;
            var path = LogPath(s, o, true, first ? o.Tail : null, first ? o.Since : last);
            first = false;
            // lines up to here were written already; lines of one stream may share a timestamp
            var seenUpTo = last;
            try
            {
                using var res = await _client.OpenStreamAsync(path, ct).ConfigureAwait(false);
                await using var stream = await res.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
                using var reader = new StreamReader(stream, Encoding.UTF8);
                while (await reader.ReadLineAsync(ct).ConfigureAwait(false) is { } raw)
                {
                    if (raw.Length == 0) continue;
                    var line = Parse(service, s, raw, false);
                    // after a reconnect the server repeats what was already read (sinceTime has second precision)
                    if (seenUpTo is { } l && line.Timestamp <= l) continue;
                    if (o.Since is { } since && line.Timestamp < since) continue;
                    last = line.Timestamp;
                    await output.WriteAsync(line, ct).ConfigureAwait(false);
                }
            }
            catch (KubeApiException e) when (e.Code is 400)
            {
                // e.g. the container is waiting to start again (CrashLoopBackOff): look at the pod below
                _log.Debug($"{s.Pod}/{s.Container}: {e.Message}");
            }
            catch (KubeApiException e) when (e.Code is 404)
            {
                _log.Warning($"Pod {s.Namespace}/{s.Pod} is gone; no more lines from {s.Container}.");
                return;
            }
            catch (IOException) when (!ct.IsCancellationRequested) { }
            catch (HttpRequestException) when (!ct.IsCancellationRequested) { }

            // the stream ended: the container stopped (or the connection dropped). Restarted, finished or gone?
            while (!ct.IsCancellationRequested)
            {
                pod = await PodAsync(s, ct).ConfigureAwait(false);
                if (pod is null)
                {
                    _log.Warning($"Pod {s.Namespace}/{s.Pod} was deleted; no more lines from {s.Container}.");
                    return;
                }
                var st = Status(pod, s.Container);
                var now = Restarts(pod, s.Container);
                if (now > restarts)
                {
                    var term = st?.Obj("lastState", "terminated");
                    var why = term is null ? "" : $" after it exited ({term.Str("reason") ?? "Error"}, exit code {term.Long("exitCode") ?? 0})";
                    _log.Warning($"Container {s.Container} of pod {s.Pod} restarted{why} (restart {now}); following the new instance.");
                    restarts = now;
                    break;
                }
                if (pod.Str("status", "phase") is "Succeeded" or "Failed" || (st?.Obj("state", "terminated") is not null && pod.Str("spec", "restartPolicy") == "Never"))
                {
                    _log.Verbose($"Container {s.Container} of pod {s.Pod} has ended.");
                    return;
                }
                if (st?.Obj("state", "running")?.Str("startedAt") is { } started && DateTimeOffset.TryParse(started, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
                    && (last is null || at > last)) break; // running, and the stream only dropped: reconnect
                await Task.Delay(o.PollInterval, ct).ConfigureAwait(false);
            }
        }
    }

    private async Task<bool> WaitStartedAsync(Source s, ServiceLogOptions o, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            var pod = await PodAsync(s, ct).ConfigureAwait(false);
            if (pod is null) return false;
            var st = Status(pod, s.Container);
            if (st is not null && (st.Obj("state", "running") is not null || st.Obj("state", "terminated") is not null || st.Obj("lastState", "terminated") is not null)) return true;
            await Task.Delay(o.PollInterval, ct).ConfigureAwait(false);
        }
        return false;
    }

    private async Task<JsonObject?> PodAsync(Source s, CancellationToken ct)
    {
        try { return await _client.GetAsync($"api/v1/namespaces/{s.Namespace}/pods/{s.Pod}", ct).ConfigureAwait(false); }
        catch (KubeApiException e) when (e.Code == 404) { return null; }
    }

    private static JsonNode? Status(JsonObject pod, string container) =>
        (pod.Arr("status", "containerStatuses") ?? []).Concat(pod.Arr("status", "initContainerStatuses") ?? []).FirstOrDefault(c => c.Str("name") == container);

    private static long Restarts(JsonObject pod, string container) => Status(pod, container)?.Long("restartCount") ?? 0;

    /// <summary>A line as the API returns it with timestamps=true: RFC 3339 time (nanoseconds), a space, the text.</summary>
    internal static LlmInferenceServiceLogLine Parse(string service, Source s, string raw, bool previous)
    {
        var space = raw.IndexOf(' ');
        var ts = DateTimeOffset.MinValue;
        var text = raw;
        if (space > 0 && TryParseTime(raw[..space], out var t)) { ts = t; text = raw[(space + 1)..]; }
        return new LlmInferenceServiceLogLine
        {
            Namespace = s.Namespace, Service = service, Component = s.Component, Pod = s.Pod, Container = s.Container,
            Timestamp = ts, Line = text.TrimEnd('\r'), Previous = previous,
        };
    }

    /// <summary>RFC 3339 with up to nine fractional digits (.NET parses seven).</summary>
    internal static bool TryParseTime(string s, out DateTimeOffset value)
    {
        var dot = s.IndexOf('.');
        if (dot > 0)
        {
            var end = dot + 1;
            while (end < s.Length && char.IsAsciiDigit(s[end])) end++;
            if (end - dot - 1 > 7) s = s[..(dot + 8)] + s[end..];
        }
        return DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out value);
    }
}
