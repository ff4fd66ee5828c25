using System.Collections.Specialized;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.KubeApi;

internal sealed partial class SimCore
{
    /// <summary>What the simulated containers wrote to stdout/stderr, kept per pod and container as the kubelet keeps it.</summary>
    public PodLogStore PodLogs { get; } = new();
}

/// <summary>
/// Container logs the kubelet keeps: one bounded ring buffer per container instance (current and, after a restart,
/// the previous one), keyed by pod UID. Followers wait on a signal that changes with every write, restart or stop.
/// </summary>
internal sealed class PodLogStore
{
    public const int DefaultCapacity = 10_000;

    internal readonly record struct Line(long Seq, DateTime At, string Text);

    private sealed class Instance
    {
        public readonly Queue<Line> Lines = new();
        public bool Stopped;
    }

    private sealed class ContainerLog
    {
        public Instance Current = new();
        public Instance? Previous;
    }

    private readonly object _lock = new();
    private readonly Dictionary<(string Uid, string Container), ContainerLog> _logs = new();
    private readonly HashSet<string> _gone = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _seq;

    public int Capacity { get; init; } = DefaultCapacity;

    /// <summary>Appends lines (a text with newlines is split) to the running instance of the container.</summary>
    public void Write(string uid, string container, string text, DateTime? at = null)
    {
        var when = at ?? DateTime.UtcNow;
        lock (_lock)
        {
            var log = Get(uid, container);
            if (log.Current.Stopped) { log.Previous = log.Current; log.Current = new Instance(); }
            foreach (var line in text.TrimEnd('\n').Split('\n'))
            {
                log.Current.Lines.Enqueue(new Line(++_seq, when, line));
                while (log.Current.Lines.Count > Capacity) log.Current.Lines.Dequeue();
            }
            Signal();
        }
    }

    /// <summary>The container instance exited: followers of it end; the next write starts a new instance and this one becomes "previous".</summary>
    public void Stop(string uid, string container)
    {
        lock (_lock)
        {
            if (!_logs.TryGetValue((uid, container), out var log)) return;
            log.Current.Stopped = true;
            Signal();
        }
    }

    /// <summary>The pod is gone: its logs with it.</summary>
    public void Forget(string uid)
    {
        lock (_lock)
        {
            foreach (var k in _logs.Keys.Where(k => k.Uid == uid).ToList()) _logs.Remove(k);
            _gone.Add(uid);
            Signal();
        }
    }

    public bool HasLog(string uid, string container)
    {
        lock (_lock) return _logs.ContainsKey((uid, container));
    }

    /// <summary>Lines after <paramref name="afterSeq"/> of the current (or previous) instance; <paramref name="ended"/> when that instance has stopped or the pod is gone.</summary>
    public List<Line> Read(string uid, string container, bool previous, long afterSeq, out bool ended, out Task changed)
    {
        lock (_lock)
        {
            changed = _changed.Task;
            if (!_logs.TryGetValue((uid, container), out var log))
            {
                ended = _gone.Contains(uid);
                return [];
            }
            // the previous instance is the last one that terminated: the current one when it has stopped and none started since
            var inst = previous ? (log.Current.Stopped ? log.Current : log.Previous) : log.Current;
            ended = inst is null || inst.Stopped || previous;
            return inst is null ? [] : inst.Lines.Where(l => l.Seq > afterSeq).ToList();
        }
    }

    private ContainerLog Get(string uid, string container)
    {
        if (!_logs.TryGetValue((uid, container), out var log)) _logs[(uid, container)] = log = new ContainerLog();
        return log;
    }

    private void Signal()
    {
        var old = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        old.TrySetResult();
    }
}

/// <summary>GET /api/v1/namespaces/{ns}/pods/{name}/log as the API server (proxying the kubelet) serves it.</summary>
internal static class PodLogEndpoint
{
    public static bool Matches(string[] s) =>
        s.Length == 7 && s[0] == "api" && s[1] == "v1" && s[2] == "namespaces" && s[4] == "pods" && s[6] == "log";

    public static async Task ServeAsync(SimCore core, HttpListenerContext ctx, string ns, string podName, NameValueCollection q, CancellationToken stop)
    {
        if (ctx.Request.HttpMethod != "GET") throw StatusError.MethodNotAllowed();
        var podType = core.Registry.BuiltIn("", "pods");
        JsonObject pod;
        lock (core.Gate) pod = core.Peek(podType, ns, podName)?.DeepClone() as JsonObject ?? throw StatusError.NotFound(podType, podName);
        var uid = pod.Str("metadata", "uid") ?? "";
        var mains = (pod.Arr("spec", "containers") ?? []).Select(c => c.Str("name") ?? "").ToList();
        var inits = (pod.Arr("spec", "initContainers") ?? []).Select(c => c.Str("name") ?? "").ToList();
        var container = q["container"];
        if (string.IsNullOrEmpty(container))
        {
            if (mains.Count == 1 && inits.Count == 0) container = mains[0];
            else
            {
                var msg = $"a container name must be specified for pod {podName}, choose one of: [{string.Join(" ", mains)}]";
                if (inits.Count > 0) msg += $" or one of the init containers: [{string.Join(" ", inits)}]";
                throw StatusError.BadRequest(msg);
            }
        }
        if (!mains.Contains(container) && !inits.Contains(container))
            throw StatusError.BadRequest($"container {container} is not valid for pod {podName}");

        var previous = Bool(q["previous"], "previous");
        var follow = Bool(q["follow"], "follow");
        var timestamps = Bool(q["timestamps"], "timestamps");
        long? tail = null;
        if (q["tailLines"] is { } tl)
        {
            if (!long.TryParse(tl, NumberStyles.Integer, CultureInfo.InvariantCulture, out var t)) throw StatusError.BadRequest($"tailLines: Invalid value: \"{tl}\": must be an integer");
            if (t < 0) throw StatusError.BadRequest($"PodLogOptions.core \"\" is invalid: tailLines: Invalid value: {t}: must be greater than or equal to 0");
            tail = t;
        }
        DateTime? since = null;
        if (q["sinceSeconds"] is { } ss)
        {
            if (!long.TryParse(ss, NumberStyles.Integer, CultureInfo.InvariantCulture, out var sec)) throw StatusError.BadRequest($"sinceSeconds: Invalid value: \"{ss}\": must be an integer");
            if (sec < 1) throw StatusError.BadRequest($"PodLogOptions.core \"\" is invalid: sinceSeconds: Invalid value: {sec}: must be greater than 0");
            since = DateTime.UtcNow.AddSeconds(-sec);
        }
        if (q["sinceTime"] is { } st)
        {
            if (since is not null) throw StatusError.BadRequest("PodLogOptions.core \"\" is invalid: : Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified");
            if (!DateTimeOffset.TryParse(st, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var dto))
                throw StatusError.BadRequest($"sinceTime: Invalid value: \"{st}\": parsing time \"{st}\" as RFC3339 failed");
            since = dto.UtcDateTime;
        }
        long? limitBytes = null;
        if (q["limitBytes"] is { } lb)
        {
            if (!long.TryParse(lb, NumberStyles.Integer, CultureInfo.InvariantCulture, out var b) || b < 1)
                throw StatusError.BadRequest($"PodLogOptions.core \"\" is invalid: limitBytes: Invalid value: {lb}: must be greater than 0");
            limitBytes = b;
        }

        var logs = core.PodLogs;
        if (previous)
        {
            // the kubelet reads lastState.terminated of the container status
            var statuses = (pod.Arr("status", "containerStatuses") ?? []).Concat(pod.Arr("status", "initContainerStatuses") ?? []);
            if (statuses.FirstOrDefault(s => s.Str("name") == container)?.Obj("lastState", "terminated") is null)
                throw StatusError.BadRequest($"previous terminated container \"{container}\" in pod \"{podName}\" not found");
            follow = false;
        }
        else if (!logs.HasLog(uid, container) && Waiting(pod, container) is { } reason)
            throw StatusError.BadRequest($"container \"{container}\" in pod \"{podName}\" is waiting to start: {reason}");

        var lines = logs.Read(uid, container, previous, 0, out var ended, out var changed);
        var first = lines.Where(l => since is null || l.At >= since);
        if (tail is { } n) first = first.Skip(Math.Max(0, first.Count() - (int)Math.Min(n, int.MaxValue)));

        var res = ctx.Response;
        res.StatusCode = 200;
        res.ContentType = "text/plain";
        if (!follow)
        {
            // a complete answer: sized, on a connection that stays open, like the other responses
            using var buffer = new MemoryStream();
            await WriteLines(buffer, first, timestamps, limitBytes, new long[1]).ConfigureAwait(false);
            res.ContentLength64 = buffer.Length;
            await res.OutputStream.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), stop).ConfigureAwait(false);
            res.Close();
            return;
        }
        res.SendChunked = true;
        res.KeepAlive = false;
        var stream = res.OutputStream;
        var written = new long[1];
        long last = lines.Count > 0 ? lines[^1].Seq : 0;
        try
        {
            if (!await WriteLines(stream, first, timestamps, limitBytes, written).ConfigureAwait(false)) return;
            await stream.FlushAsync(stop).ConfigureAwait(false);
            while (follow && !ended && !stop.IsCancellationRequested)
            {
                await changed.WaitAsync(stop).ConfigureAwait(false);
                var more = logs.Read(uid, container, false, last, out ended, out changed);
                if (more.Count > 0) last = more[^1].Seq;
                if (!await WriteLines(stream, more, timestamps, limitBytes, written).ConfigureAwait(false)) return;
                await stream.FlushAsync(stop).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) { }
        catch (HttpListenerException) { }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
        finally
        {
            try { res.Close(); } catch (Exception) { }
        }
    }

    /// <summary>Writes lines; false once <paramref name="limitBytes"/> is reached.</summary>
    private static async Task<bool> WriteLines(Stream stream, IEnumerable<PodLogStore.Line> lines, bool timestamps, long? limitBytes, long[] written)
    {
        foreach (var l in lines)
        {
            var text = (timestamps ? l.At.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'00Z'", CultureInfo.InvariantCulture) + " " : "") + l.Text + "\n";
            var bytes = Encoding.UTF8.GetBytes(text);
            if (limitBytes is { } max && written[0] + bytes.Length > max)
            {
                var room = (int)Math.Max(0, max - written[0]);
                if (room > 0) await stream.WriteAsync(bytes.AsMemory(0, room)).ConfigureAwait(false);
                return false;
            }
            await stream.WriteAsync(bytes).ConfigureAwait(false);
            written[0] += bytes.Length;
        }
        return true;
    }

    private static bool Bool(string? v, string name) => v switch
    {
        null or "" or "false" or "0" or "False" => false,
        "true" or "1" or "True" => true,
        _ => throw StatusError.BadRequest($"{name}: Invalid value: \"{v}\": strconv.ParseBool: parsing \"{v}\": invalid syntax"),
    };

    /// <summary>Why a container that never ran has no log yet, as the kubelet words it; null when it has run.</summary>
    private static string? Waiting(JsonObject pod, string container)
    {
        var statuses = (pod.Arr("status", "containerStatuses") ?? []).Concat(pod.Arr("status", "initContainerStatuses") ?? []);
        var st = statuses.FirstOrDefault(s => s.Str("name") == container);
        if (st is null) return "ContainerCreating";
        if (st.Obj("state", "running") is not null || st.Obj("state", "terminated") is not null || st.Obj("lastState", "terminated") is not null) return null;
        var reason = st.Str("state", "waiting", "reason") ?? "ContainerCreating";
        return reason switch { "ErrImagePull" => "image can't be pulled", "ImagePullBackOff" => "trying and failing to pull image", _ => reason };
    }
}

/// <summary>What the simulated containers print, in the formats of the real programs.</summary>
internal static class ContainerOutput
{
    private static string VllmStamp(DateTime t) => t.ToString("MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    private static string Args(JsonObject c) => string.Join(' ', (c.Arr("command") ?? []).Concat(c.Arr("args") ?? []).Select(a => a?.ToString()));

    private static string? Model(JsonObject c)
    {
        var args = (c.Arr("command") ?? []).Concat(c.Arr("args") ?? []).Select(a => a?.ToString() ?? "").ToList();
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == "--model" && i + 1 < args.Count) return args[i + 1];
            if (args[i].StartsWith("--model=", StringComparison.Ordinal)) return args[i][8..];
            if (args[i] == "serve" && i + 1 < args.Count && !args[i + 1].StartsWith('-')) return args[i + 1];
        }
        return null;
    }

    private static string Flag(JsonObject c, string name, string fallback)
    {
        var m = System.Text.RegularExpressions.Regex.Match(Args(c), $@"{System.Text.RegularExpressions.Regex.Escape(name)}(?:=|\s+)(\S+)");
        return m.Success ? m.Groups[1].Value : fallback;
    }

    /// <summary>vLLM from start until it listens (weights loaded, XLA compiled is <see cref="VllmReady"/>).</summary>
    public static string VllmStarting(JsonObject c, DateTime now)
    {
        var t = VllmStamp(now);
        var model = Model(c) ?? "/mnt/models";
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"INFO {t} [__init__.py:244] Automatically detected platform tpu.\n");
        sb.Append(CultureInfo.InvariantCulture, $"INFO {t} [api_server.py:1395] vLLM API server version 0.9.2\n");
        sb.Append(CultureInfo.InvariantCulture, $"INFO {t} [cli_args.py:325] non-default args: {{'model': '{model}', 'max_model_len': {Flag(c, "--max-model-len", "None")}, 'tensor_parallel_size': {Flag(c, "--tensor-parallel-size", "1")}}}\n");
        sb.Append(CultureInfo.InvariantCulture, $"INFO {t} [config.py:841] This model supports multiple tasks: {{'generate'}}. Defaulting to 'generate'.\n");
        sb.Append(CultureInfo.InvariantCulture, $"INFO {t} [tpu.py:112] [TPU] Forcing DYNAMO_ONCE compilation level\n");
        sb.Append(CultureInfo.InvariantCulture, $"INFO {t} [core.py:69] Initializing a V1 LLM engine (v0.9.2) with config: model='{model}', dtype=torch.bfloat16, device_config=None, seed=0\n");
        sb.Append(CultureInfo.InvariantCulture, $"INFO {t} [tpu_model_runner.py:1125] Loading model from scratch...\n");
        return sb.ToString();
    }

    public static string VllmReady(JsonObject c, DateTime started, DateTime now)
    {
        var t = VllmStamp(now);
        var secs = Math.Max(0.01, (now - started).TotalSeconds);
        var port = Flag(c, "--port", "8000");
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"INFO {t} [default_loader.py:272] Loading weights took {secs / 3:0.00} seconds\n");
        sb.Append(CultureInfo.InvariantCulture, $"INFO {t} [tpu_model_runner.py:1143] Compiling the model with different input shapes.\n");
        sb.Append(CultureInfo.InvariantCulture, $"INFO {t} [tpu_model_runner.py:1199] Compilation finished in {secs * 2 / 3:0.00} [secs].\n");
        sb.Append(CultureInfo.InvariantCulture, $"INFO {t} [core.py:172] init engine (profile, create kv cache, warmup model) took {secs:0.00} seconds\n");
        sb.Append(CultureInfo.InvariantCulture, $"INFO {t} [api_server.py:1457] Starting vLLM API server 0 on http://0.0.0.0:{port}\n");
        sb.Append(CultureInfo.InvariantCulture, $"INFO {t} [launcher.py:29] Available routes are:\n");
        sb.Append(CultureInfo.InvariantCulture, $"INFO {t} [launcher.py:37] Route: /health, Methods: GET\n");
        sb.Append(CultureInfo.InvariantCulture, $"INFO {t} [launcher.py:37] Route: /v1/models, Methods: GET\n");
        sb.Append(CultureInfo.InvariantCulture, $"INFO {t} [launcher.py:37] Route: /v1/chat/completions, Methods: POST\n");
        sb.Append(CultureInfo.InvariantCulture, $"INFO {t} [launcher.py:37] Route: /v1/completions, Methods: POST\n");
        sb.Append("INFO:     Started server process [1]\n");
        sb.Append("INFO:     Waiting for application startup.\n");
        sb.Append("INFO:     Application startup complete.\n");
        return sb.ToString();
    }

    public static string VllmCrash(JsonObject c, string message, DateTime now) => VllmStarting(c, now) + message;

    /// <summary>KServe's storage-initializer copying the model.</summary>
    public static string StorageInitializerStart(JsonObject c, DateTime now)
    {
        var args = (c.Arr("args") ?? []).Select(a => a?.ToString() ?? "").ToList();
        var src = args.ElementAtOrDefault(0) ?? "";
        var dest = args.ElementAtOrDefault(1) ?? "/mnt/models";
        var ts = now.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture);
        return $"{ts} 1 kserve INFO [initializer-entrypoint:<module>():16] Initializing, args: src_uri [{src}] dest_path[ {dest} ]\n" +
               $"{ts} 1 kserve INFO [storage.py:download():66] Copy from {src} to {dest}\n";
    }

    public static string StorageInitializerDone(JsonObject c, DateTime started, DateTime now)
    {
        var args = (c.Arr("args") ?? []).Select(a => a?.ToString() ?? "").ToList();
        var src = args.ElementAtOrDefault(0) ?? "";
        var dest = args.ElementAtOrDefault(1) ?? "/mnt/models";
        var ts = now.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture);
        return $"{ts} 1 kserve INFO [storage.py:download():110] Successfully copied {src} to {dest}\n" +
               $"{ts} 1 kserve INFO [storage.py:download():111] Model downloaded in {(now - started).TotalSeconds:0.000} seconds.\n" +
               $"{ts} 1 kserve INFO [initializer-entrypoint:<module>():41] Storage initializer completed.\n";
    }

    /// <summary>The llm-d inference scheduler (EPP), zap JSON lines.</summary>
    public static string EppStart(JsonObject pod, DateTime now)
    {
        var ts = now.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        var pool = pod.Labels().TryGetValue("app.kubernetes.io/name", out var n) ? n + "-inference-pool" : "inference-pool";
        return $"{{\"level\":\"info\",\"ts\":\"{ts}\",\"logger\":\"setup\",\"caller\":\"runner/runner.go:141\",\"msg\":\"Flags processed\",\"flags\":{{\"poolName\":\"{pool}\",\"poolNamespace\":\"{pod.Namespace()}\",\"grpcPort\":9002,\"grpcHealthPort\":9003,\"metricsPort\":9090}}}}\n" +
               $"{{\"level\":\"info\",\"ts\":\"{ts}\",\"logger\":\"setup\",\"caller\":\"runner/runner.go:226\",\"msg\":\"Loaded configuration from file\",\"plugins\":[\"prefix-cache-scorer\",\"queue-scorer\",\"kv-cache-utilization-scorer\",\"max-score-picker\"]}}\n" +
               $"{{\"level\":\"info\",\"ts\":\"{ts}\",\"logger\":\"controller-runtime.metrics\",\"caller\":\"server/server.go:208\",\"msg\":\"Starting metrics server\"}}\n" +
               $"{{\"level\":\"info\",\"ts\":\"{ts}\",\"logger\":\"setup\",\"caller\":\"runner/runner.go:312\",\"msg\":\"Starting Gateway API Inference Extension\"}}\n" +
               $"{{\"level\":\"info\",\"ts\":\"{ts}\",\"caller\":\"server/runserver.go:162\",\"msg\":\"Ext-proc server listening\",\"port\":9002}}\n";
    }

    public static bool IsEpp(JsonObject pod) =>
        pod.Labels().TryGetValue("app.kubernetes.io/component", out var c) && c == "llminferenceservice-router-scheduler";
}

public sealed partial class KubeApiSimulator
{
    /// <summary>Appends a line to the log of a container of the pod with this UID, as the container would print it (followers receive it).</summary>
    public void WritePodLog(string podUid, string container, string line) => _core.PodLogs.Write(podUid, container, line);
}
