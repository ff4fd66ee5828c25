using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace RhaiiGke.Sandbox.Vllm;

/// <summary>
/// A vLLM-compatible OpenAI server on loopback with several replicas behind an EPP-like picker, for
/// tests, demos and benchmarks without a cluster. Production code reaches it only through its URLs.
/// </summary>
public sealed class VllmSimulator : IDisposable
{
    private static readonly ConcurrentDictionary<Guid, VllmSimulator> s_running = new();
    private readonly InferenceSimulatorOptions _o;
    private readonly PreciseScheduler _scheduler;
    private readonly List<VllmReplica> _replicas = [];
    private readonly SimHttpServer _gateway;
    private readonly EppPicker _picker;
    private readonly Random _failureRng;
    private readonly byte[] _modelsBody;
    private readonly byte[] _versionBody;
    private int _disposed;

    private static readonly string[] s_failureTypes = ["rate_limit", "invalid_api_key", "context_length", "server_error", "invalid_request", "model_not_found"];

    private VllmSimulator(InferenceSimulatorOptions options, string name)
    {
        Validate(options);
        OpenFilesLimit.RaiseToHard();
        _o = options;
        _scheduler = new PreciseScheduler("vllm-sim-clock");
        for (var i = 0; i < options.Replicas; i++)
        {
            var r = new VllmReplica(i, options, _scheduler);
            r.Server = new SimHttpServer((c, req) => HandleAsync(c, req, r));
            _replicas.Add(r);
        }
        _picker = new EppPicker(options.Picker, options.Model, options.Replicas, options.Seed);
        _failureRng = new Random(options.Seed + 17);
        _gateway = new SimHttpServer((c, req) => HandleAsync(c, req, null));
        _modelsBody = ModelsBody(options);
        _versionBody = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["version"] = options.VllmVersion ?? VllmVersions.Default });
        Info = new InferenceSimulator
        {
            Id = Guid.NewGuid(),
            Name = name,
            BaseUrl = _gateway.Url,
            Model = options.Model,
            ReplicaUrls = _replicas.Select(r => r.Server!.Url).ToArray(),
            PodNames = _replicas.Select(r => r.PodName).ToArray(),
            Picker = options.Picker,
            StartedAt = DateTimeOffset.Now,
            Options = options,
            Running = true,
        };
    }

    /// <summary>The replicas (their live gauges: waiting, running, KV-cache usage), for the sandbox's HPA controller.</summary>
    internal IReadOnlyList<VllmReplica> Replicas => _replicas;

    /// <summary>The public description (URLs, pods) that cmdlets return.</summary>
    public InferenceSimulator Info { get; }

    /// <summary>Starts a simulator and registers it so that Stop-InferenceSimulator can find it by id.</summary>
    public static VllmSimulator Start(InferenceSimulatorOptions options, string? name = null)
    {
        var sim = new VllmSimulator(options, string.IsNullOrWhiteSpace(name) ? "vllm-sim" : name);
        s_running[sim.Info.Id] = sim;
        return sim;
    }

    /// <summary>Simulators started in this process and still running.</summary>
    public static IReadOnlyList<InferenceSimulator> Running => s_running.Values.Select(s => s.Info).OrderBy(i => i.StartedAt).ToList();

    /// <summary>Stops the simulator with this id; false when none is running.</summary>
    public static bool Stop(Guid id)
    {
        if (!s_running.TryRemove(id, out var sim)) return false;
        sim.Dispose();
        return true;
    }

    /// <summary>Forgets the prefix cache of every replica and the picker's index (a cold start).</summary>
    public void ResetCaches()
    {
        foreach (var r in _replicas) r.ResetCache();
        _picker.Clear();
    }

    /// <summary>Resets the caches of a running simulator by id.</summary>
    public static bool ResetCaches(Guid id)
    {
        if (!s_running.TryGetValue(id, out var sim)) return false;
        sim.ResetCaches();
        return true;
    }

    /// <summary>
    /// The simulator's own token timing error so far (count, p50/p99/p99.9/max of |gap between two streamed
    /// tokens - planned gap| in ms), for benchmarks; <paramref name="reset"/> starts a new window. Null when no
    /// simulator with this id runs.
    /// </summary>
    public static Dictionary<string, double>? TokenTiming(Guid id, bool reset) =>
        s_running.TryGetValue(id, out var sim) ? sim._scheduler.Timing.Snapshot(reset) : null;

    private static void Validate(InferenceSimulatorOptions o)
    {
        void Bad(string what, string fix) => throw new RhaiiException("InvalidSimulatorOption", RhaiiErrorCategory.InvalidArgument, what, fix);
        if (o.Replicas is < 1 or > 64) Bad($"Replicas must be 1-64, got {o.Replicas}.", "Use -Replicas between 1 and 64.");
        if (o.TimeToFirstTokenMs < 0 || o.InterTokenLatencyMs < 0 || o.PrefillTimePerTokenMs < 0 || o.FirstRequestDelayMs < 0)
            Bad("Latencies cannot be negative.", "Give TTFT, ITL, prefill and warm-up delays of 0 or more milliseconds.");
        if (o.LoadFactor < 1) Bad($"LoadFactor must be at least 1, got {o.LoadFactor}.", "Use 1 for no slowdown under load, 2-3 for a realistic one.");
        if (o.FailureRate is < 0 or > 100) Bad($"FailureRate is a percentage (0-100), got {o.FailureRate}.", "Use -FailureRate 5 for 5 % failures.");
        foreach (var t in o.FailureTypes)
            if (!s_failureTypes.Contains(t)) Bad($"Unknown failure type '{t}'.", "Use " + string.Join(", ", s_failureTypes) + ".");
        if (o.BlockSize < 1 || o.KvCacheBlocks < 1 || o.MaxNumSeqs < 1 || o.MaxModelLength < 2 || o.DefaultMaxTokens < 1)
            Bad("BlockSize, KvCacheBlocks, MaxNumSeqs, MaxModelLength and DefaultMaxTokens must be positive.", "Leave them at their defaults unless you test those limits.");
        if (string.IsNullOrWhiteSpace(o.Model)) Bad("Model must not be empty.", "Use -Model Qwen/Qwen2.5-3B-Instruct.");
    }

    private static byte[] ModelsBody(InferenceSimulatorOptions o)
    {
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        return JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["object"] = "list",
            ["data"] = new object[]
            {
                new Dictionary<string, object?>
                {
                    ["id"] = o.Model, ["object"] = "model", ["created"] = created, ["owned_by"] = "vllm", ["root"] = o.Model,
                    ["parent"] = null, ["max_model_len"] = o.MaxModelLength,
                },
            },
        });
    }

    private string? DrawFailure()
    {
        if (_o.FailureRate <= 0) return null;
        lock (_failureRng)
        {
            if (_failureRng.NextDouble() * 100 >= _o.FailureRate) return null;
            var types = _o.FailureTypes.Length > 0 ? _o.FailureTypes : s_failureTypes;
            return types[_failureRng.Next(types.Length)];
        }
    }

    /// <summary>Receives uvicorn's access log line of every request a replica answered (the sandbox writes it to the pod's log).</summary>
    internal Action<string>? AccessLog { get; set; }

    private async ValueTask HandleAsync(SimHttpConnection c, SimHttpRequest req, VllmReplica? replica)
    {
        req.Status = 0;
        await HandleRequestAsync(c, req, replica).ConfigureAwait(false);
        if (replica is not null && AccessLog is { } log && req.Status != 0)
        {
            // uvicorn: INFO:     10.0.0.7:51234 - "POST /v1/completions HTTP/1.1" 200 OK
            var target = req.Path + (string.IsNullOrEmpty(req.Query) ? "" : (req.Query.StartsWith('?') ? req.Query : "?" + req.Query));
            log($"INFO:     {c.Peer} - \"{req.Method} {target} HTTP/{(req.Http10 ? "1.0" : "1.1")}\" {req.Status} {Encoding.ASCII.GetString(HttpOut.Reason(req.Status))}");
        }
    }

    private async ValueTask HandleRequestAsync(SimHttpConnection c, SimHttpRequest req, VllmReplica? replica)
    {
        var pod = replica?.PodName;
        switch (req.Path)
        {
            case "/v1/chat/completions" or "/v1/completions" when req.Method == "POST":
            {
                var chat = req.Path == "/v1/chat/completions";
                var error = CompletionRequest.TryParse(req.Body, chat, out var r);
                if (error is not null)
                {
                    await WriteErrorAsync(c, req, "invalid_request", r.Model, pod, _o, error).ConfigureAwait(false);
                    return;
                }
                if (r.Model != _o.Model)
                {
                    await WriteErrorAsync(c, req, "model_not_found", r.Model, pod, _o).ConfigureAwait(false);
                    return;
                }
                var target = replica ?? _replicas[_picker.Pick(r.Prompt, _replicas)];
                await target.ServeAsync(c, req, r, DrawFailure()).ConfigureAwait(false);
                return;
            }
            case "/v1/models" when req.Method == "GET":
                HttpOut.Full(c.Out, req, 200, "application/json"u8, _modelsBody, pod);
                break;
            case "/version" when req.Method == "GET":
                HttpOut.Full(c.Out, req, 200, "application/json"u8, _versionBody, pod);
                break;
            case "/health" when req.Method == "GET":
                HttpOut.Full(c.Out, req, 200, "application/json"u8, [], pod);
                break;
            case "/metrics" when req.Method == "GET":
            {
                var text = replica is null ? GatewayMetrics() : VllmReplica.RenderMetrics([replica], podLabel: false);
                HttpOut.Full(c.Out, req, 200, "text/plain; version=0.0.4; charset=utf-8"u8, Encoding.UTF8.GetBytes(text), pod);
                break;
            }
            default:
                var known = req.Path is "/v1/chat/completions" or "/v1/completions" or "/v1/models" or "/version" or "/health" or "/metrics";
                HttpOut.Full(c.Out, req, known ? 405 : 404, "application/json"u8,
                    known ? "{\"detail\":\"Method Not Allowed\"}"u8 : "{\"detail\":\"Not Found\"}"u8, pod);
                break;
        }
        await c.FlushAsync().ConfigureAwait(false);
    }

    private string GatewayMetrics()
    {
        var sb = new StringBuilder(VllmReplica.RenderMetrics(_replicas, podLabel: true));
        var inv = CultureInfo.InvariantCulture;
        sb.Append("# HELP inference_pool_ready_pods The number of ready pods in the inference server pool.\n# TYPE inference_pool_ready_pods gauge\n");
        sb.Append("inference_pool_ready_pods{name=\"sim\"} ").Append(_replicas.Count.ToString(inv)).Append('\n');
        sb.Append("# HELP inference_pool_average_kv_cache_utilization The average kv cache utilization for an inference server pool.\n# TYPE inference_pool_average_kv_cache_utilization gauge\n");
        sb.Append("inference_pool_average_kv_cache_utilization{name=\"sim\"} ").Append(_replicas.Average(r => r.KvUsage).ToString("0.0#####", inv)).Append('\n');
        sb.Append("# HELP inference_pool_average_queue_size The average number of requests pending in the model server queue.\n# TYPE inference_pool_average_queue_size gauge\n");
        sb.Append("inference_pool_average_queue_size{name=\"sim\"} ").Append(_replicas.Average(r => r.Waiting).ToString("0.0#####", inv)).Append('\n');
        sb.Append("# HELP inference_pool_per_pod_queue_size The total number of requests pending in the model server queue for each underlying pod.\n# TYPE inference_pool_per_pod_queue_size gauge\n");
        foreach (var r in _replicas) sb.Append("inference_pool_per_pod_queue_size{model_server_pod=\"").Append(r.PodName).Append("\",name=\"sim\"} ").Append(r.Waiting.ToString(inv)).Append('\n');
        sb.Append("# HELP inference_extension_prefix_indexer_size Size of the prefix indexer.\n# TYPE inference_extension_prefix_indexer_size gauge\n");
        sb.Append("inference_extension_prefix_indexer_size ").Append(_picker.IndexSize.ToString(inv)).Append('\n');
        sb.Append("# HELP inference_extension_prefix_indexer_hit_ratio Ratio of prefix blocks found in the picked pod's index (mean over lookups).\n# TYPE inference_extension_prefix_indexer_hit_ratio gauge\n");
        sb.Append("inference_extension_prefix_indexer_hit_ratio ").Append(_picker.HitRatio.ToString("0.0#####", inv)).Append('\n');
        return sb.ToString();
    }

    internal static async ValueTask WriteErrorAsync(SimHttpConnection c, SimHttpRequest req, string type, string model, string? pod, InferenceSimulatorOptions o, string? message = null)
    {
        var (status, errType) = type switch
        {
            "rate_limit" => (429, "RateLimitError"),
            "invalid_api_key" => (401, "AuthenticationError"),
            "context_length" => (400, "BadRequestError"),
            "server_error" => (500, "InternalServerError"),
            "model_not_found" => (404, "NotFoundError"),
            _ => (400, "BadRequestError"),
        };
        message ??= type switch
        {
            "rate_limit" => $"Rate limit reached for {model}.",
            "invalid_api_key" => "Incorrect API key provided.",
            "context_length" => $"This model's maximum context length is {o.MaxModelLength} tokens. Please reduce the length of the messages or completion.",
            "server_error" => "The server had an error while processing your request.",
            "model_not_found" => $"The model `{model}` does not exist.",
            _ => "Invalid request.",
        };
        var body = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object?>
        {
            ["error"] = new Dictionary<string, object?> { ["message"] = message, ["type"] = errType, ["param"] = null, ["code"] = status },
        });
        HttpOut.Full(c.Out, req, status, "application/json"u8, body, pod);
        await c.FlushAsync().ConfigureAwait(false);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        s_running.TryRemove(Info.Id, out _);
        Info.Running = false;
        _gateway.Dispose();
        foreach (var r in _replicas) r.Server?.Dispose();
        _scheduler.Dispose();
    }
}
