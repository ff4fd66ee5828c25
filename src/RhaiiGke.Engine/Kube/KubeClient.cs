using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using RhaiiGke.Engine.Kube.Json;

namespace RhaiiGke.Engine.Kube;

/// <summary>
/// Raw REST over KubernetesClient's transport (kubeconfig auth, exec plugins, TLS): JSON in and out,
/// Kubernetes Status errors as <see cref="KubeApiException"/>, and a count of mutating requests.
/// </summary>
internal sealed class KubeClient : IDisposable
{
    private readonly Kubernetes _k;
    private int _mutating;
    private int _requests;

    private readonly ExecCredentialPlugin? _plugin;

    public KubeClient(KubernetesClientConfiguration config)
    {
        _k = new Kubernetes(config);
        _plugin = config.TokenProvider as ExecCredentialPlugin;
        BaseUri = _k.BaseUri;
        Mapper = new RestMapper(this);
    }

    /// <summary>The shared client of a connection (same as <see cref="KubeClients.For"/>).</summary>
    public static KubeClient For(ClusterConnection connection) => KubeClients.For(connection);

    public Uri BaseUri { get; }
    /// <summary>Send the Authorization header over plain http to a non-loopback server (the connection's opt-in).</summary>
    public bool AllowUnencryptedAuthentication { get; init; }
    public RestMapper Mapper { get; }
    public int MutatingRequests => Volatile.Read(ref _mutating);
    public int Requests => Volatile.Read(ref _requests);

    public void Dispose() => _k.Dispose();

    /// <summary>
    /// One request, no retry, except once on 401 when the token came from an exec credential plugin: as client-go
    /// does, the cached token is dropped (it was revoked or rotated before its expiry) and the plugin runs again.
    /// Non-2xx answers throw <see cref="KubeApiException"/> (Code, Reason, Status body).
    /// </summary>
    public async Task<(HttpStatusCode Code, string Body, HttpResponseHeaders Headers)> SendRawAsync(HttpMethod method, string pathAndQuery, string? body, string? contentType, CancellationToken ct)
    {
        var uri = new Uri(BaseUri.ToString().TrimEnd('/') + "/" + pathAndQuery.TrimStart('/'));
        for (var attempt = 0; ; attempt++)
        {
            using var req = new HttpRequestMessage(method, uri);
            req.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            req.Headers.UserAgent.ParseAdd("rhaiigke/0.1");
            if (body is not null)
            {
                req.Content = new StringContent(body, Encoding.UTF8);
                req.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType ?? "application/json");
            }
            if (_k.Credentials is not null) await _k.Credentials.ProcessHttpRequestAsync(req, ct).ConfigureAwait(false);
            if (req.Headers.Authorization is not null)
                RhaiiGke.Engine.Net.TransportSecurity.EnsureAllowed(uri, "the cluster credentials (Authorization header)", AllowUnencryptedAuthentication);
            Interlocked.Increment(ref _requests);
            if (method != HttpMethod.Get && method != HttpMethod.Head) Interlocked.Increment(ref _mutating);
            try
            {
                using var res = await _k.HttpClient.SendAsync(req, ct).ConfigureAwait(false);
                if (res.StatusCode == HttpStatusCode.Unauthorized && attempt == 0 && _plugin is not null && _plugin.Invalidate(req.Headers.Authorization?.Parameter))
                    continue;
                if (!res.IsSuccessStatusCode) throw await KubeApiException.FromResponseAsync(res, method.Method, pathAndQuery, ct).ConfigureAwait(false);
                var text = await res.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
                Reachable();
                return (res.StatusCode, text, res.Headers);
            }
            catch (KubeApiException) { Reachable(); throw; }
            catch (Exception e) when (!ct.IsCancellationRequested && Wrap(e, method.Method, pathAndQuery) is { } wrapped) { throw wrapped; }
        }
    }

    /// <summary>
    /// Opens a watch (or any streaming GET): the response once its headers arrived, for the caller to read and dispose.
    /// Non-2xx answers throw <see cref="KubeApiException"/>, transport failures <see cref="KubeTransportException"/>.
    /// </summary>
    public async Task<HttpResponseMessage> OpenStreamAsync(string pathAndQuery, CancellationToken ct)
    {
        var uri = new Uri(BaseUri.ToString().TrimEnd('/') + "/" + pathAndQuery.TrimStart('/'));
        for (var attempt = 0; ; attempt++)
        {
            using var req = new HttpRequestMessage(HttpMethod.Get, uri);
            req.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            req.Headers.UserAgent.ParseAdd("rhaiigke/0.1");
            if (_k.Credentials is not null) await _k.Credentials.ProcessHttpRequestAsync(req, ct).ConfigureAwait(false);
            Interlocked.Increment(ref _requests);
            HttpResponseMessage res;
            try { res = await _k.HttpClient.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false); }
            catch (Exception e) when (!ct.IsCancellationRequested && Wrap(e, "GET", pathAndQuery) is { } wrapped) { throw wrapped; }
            if (res.StatusCode == HttpStatusCode.Unauthorized && attempt == 0 && _plugin is not null && _plugin.Invalidate(req.Headers.Authorization?.Parameter))
            {
                res.Dispose();
                continue;
            }
            if (!res.IsSuccessStatusCode)
            {
                using (res) throw await KubeApiException.FromResponseAsync(res, "GET", pathAndQuery, ct).ConfigureAwait(false);
            }
            Reachable();
            return res;
        }
    }

    // ------------------------------------------------------------------ transport failures

    private long _unreachableSince;

    /// <summary>
    /// How long connection failures (refused, reset, no answer) are retried, counted from the first failure of a
    /// streak: long enough to ride out a restart of the API server, short enough that a server that is gone is
    /// reported in seconds, not after every retry of every layer. DNS and TLS failures are never retried.
    /// </summary>
    public TimeSpan UnreachableRetryBudget { get; set; } = TimeSpan.FromSeconds(5);

    private void Reachable() => Interlocked.Exchange(ref _unreachableSince, 0);

    /// <summary>True when a retry of <paramref name="e"/> can help: a connection failure within <see cref="UnreachableRetryBudget"/>.</summary>
    public bool ShouldRetryTransport(Exception e)
    {
        var kind = e is KubeTransportException t ? t.Kind : Net.TransportFailure.Classify(e);
        if (kind is null or Net.TransportFailureKind.NameResolution or Net.TransportFailureKind.Tls) return false;
        var since = Interlocked.Read(ref _unreachableSince);
        return since == 0 || Environment.TickCount64 - since < UnreachableRetryBudget.TotalMilliseconds;
    }

    private KubeTransportException? Wrap(Exception e, string method, string path)
    {
        if (e is KubeTransportException k) return k;
        var kind = Net.TransportFailure.Classify(e) ?? (e is TaskCanceledException ? Net.TransportFailureKind.Timeout : null);
        if (kind is null) return null;
        if (kind is Net.TransportFailureKind.Unreachable or Net.TransportFailureKind.Timeout)
            Interlocked.CompareExchange(ref _unreachableSince, Math.Max(1, Environment.TickCount64), 0);
        return new KubeTransportException(kind.Value, BaseUri.ToString().TrimEnd('/'), method, path, e);
    }

    /// <summary>Reads (GET) are retried here on 429, 5xx and connection failures: they are idempotent, and every status check needs them.</summary>
    public int ReadRetries { get; set; } = 6;

    /// <summary>Longest pause between read retries (Retry-After is honoured up to this).</summary>
    public TimeSpan ReadRetryMaxDelay { get; set; } = TimeSpan.FromSeconds(1);

    public async Task<JsonObject> SendAsync(HttpMethod method, string path, JsonNode? body, string? contentType, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var (_, text, _) = await SendRawAsync(method, path, body?.ToJson(), contentType, ct).ConfigureAwait(false);
                return text.Length == 0 ? new JsonObject() : KJson.ParseObject(text);
            }
            catch (Exception e) when (method == HttpMethod.Get && attempt < ReadRetries && !ct.IsCancellationRequested &&
                                      (e is KubeApiException { Code: 429 or >= 500 } || e is HttpRequestException or IOException && ShouldRetryTransport(e)) &&
                                      ClusterConnector.TlsFailure(e) is null) // a certificate the CA does not sign stays rejected
            {
                var delay = TimeSpan.FromMilliseconds(50 * Math.Pow(2, attempt));
                if (e is KubeApiException { RetryAfter: { } ra } && ra > delay) delay = ra;
                if (delay > ReadRetryMaxDelay) delay = ReadRetryMaxDelay;
                Interlocked.Increment(ref _readRetries);
                await Task.Delay(delay, ct).ConfigureAwait(false);
            }
        }
    }

    private int _readRetries;

    /// <summary>Reads retried so far (429/5xx/connection on GET).</summary>
    public int ReadRetriesDone => Volatile.Read(ref _readRetries);

    /// <summary>GET an object; null when it does not exist (a kind that is not served still throws).</summary>
    public async Task<JsonObject?> GetAsync(string path, CancellationToken ct)
    {
        try { return await SendAsync(HttpMethod.Get, path, null, null, ct).ConfigureAwait(false); }
        catch (KubeApiException e) when (e.Code == 404 && !e.IsResourceNotServed) { return null; }
    }

    public Task<JsonObject> ListAsync(string path, string? labelSelector, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, labelSelector is null ? path : $"{path}?labelSelector={Uri.EscapeDataString(labelSelector)}", null, null, ct);

    public Task<JsonObject> ApplyAsync(string path, JsonObject obj, string fieldManager, bool force, bool dryRun, CancellationToken ct)
    {
        var q = $"{path}?fieldManager={Uri.EscapeDataString(fieldManager)}&force={(force ? "true" : "false")}{(dryRun ? "&dryRun=All" : "")}";
        return SendAsync(HttpMethod.Patch, q, obj, "application/apply-patch+yaml", ct);
    }

    /// <summary>DELETE; null when it was already gone.</summary>
    public async Task<JsonObject?> DeleteAsync(string path, string propagationPolicy, bool dryRun, CancellationToken ct)
    {
        var body = new JsonObject { ["kind"] = "DeleteOptions", ["apiVersion"] = "v1", ["propagationPolicy"] = propagationPolicy };
        if (dryRun) body["dryRun"] = new JsonArray("All");
        try { return await SendAsync(HttpMethod.Delete, path + (dryRun ? "?dryRun=All" : ""), body, "application/json", ct).ConfigureAwait(false); }
        catch (KubeApiException e) when (e.Code == 404 && !e.IsResourceNotServed) { return null; }
    }

    public static string SecureToString(SecureString s)
    {
        var ptr = Marshal.SecureStringToGlobalAllocUnicode(s);
        try { return Marshal.PtrToStringUni(ptr) ?? ""; }
        finally { Marshal.ZeroFreeGlobalAllocUnicode(ptr); }
    }
}

/// <summary>
/// A request that failed below HTTP (refused, reset, DNS, TLS, timeout), with the server it was for. It is an
/// <see cref="HttpRequestException"/> so retry policies that handle those keep working.
/// </summary>
internal sealed class KubeTransportException : HttpRequestException
{
    public KubeTransportException(Net.TransportFailureKind kind, string server, string method, string path, Exception inner)
        : base($"{method} {server}{(path.StartsWith('/') ? "" : "/")}{StripQuery(path)}: {Net.TransportFailure.Detail(inner)}", inner)
    {
        Kind = kind;
        Server = server;
    }

    public Net.TransportFailureKind Kind { get; }
    public string Server { get; }

    private static string StripQuery(string p) => p.IndexOf('?') is var i and >= 0 ? p[..i] : p;

    /// <summary>The error as users see it: ClusterUnreachable, ClusterNameNotResolved, KubeApiTlsFailed or ClusterTimeout, with a fix.</summary>
    public RhaiiException ToRhaii(string? doing = null, object? target = null) =>
        Net.TransportFailure.ToRhaii(Kind, this, "Cluster", "the Kubernetes API", Server, doing,
            "Check that the API server is running and reachable (for GKE: a running cluster, authorized networks; for a sandbox: it was stopped, so Start-RhaiiSandbox again) and re-run: the command continues where it stopped.",
            target, tlsErrorId: "KubeApiTlsFailed");
}

/// <summary>Maps apiVersion + kind to REST paths from discovery, one group/version at a time, refreshed on a miss.</summary>
internal sealed class RestMapper
{
    private readonly KubeClient _client;
    private readonly Dictionary<string, Dictionary<string, (string Plural, bool Namespaced)>> _byGv = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _gate = new(1, 1);

    public RestMapper(KubeClient client) => _client = client;

    public sealed record Mapping(string ApiVersion, string Kind, string Plural, bool Namespaced)
    {
        public string Collection(string? ns)
        {
            var root = ApiVersion.Contains('/') ? "/apis/" + ApiVersion : "/api/" + ApiVersion;
            return Namespaced ? $"{root}/namespaces/{ns ?? "default"}/{Plural}" : $"{root}/{Plural}";
        }

        public string Item(string? ns, string name) => Collection(ns) + "/" + Uri.EscapeDataString(name);
    }

    /// <summary>The mapping, or null when the server does not serve the kind (yet).</summary>
    public async Task<Mapping?> FindAsync(string apiVersion, string kind, CancellationToken ct, bool refresh = false)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (refresh || !_byGv.TryGetValue(apiVersion, out var kinds) || !kinds.ContainsKey(kind))
            {
                kinds = await LoadAsync(apiVersion, ct).ConfigureAwait(false);
                _byGv[apiVersion] = kinds;
            }
            return kinds.TryGetValue(kind, out var m) ? new Mapping(apiVersion, kind, m.Plural, m.Namespaced) : null;
        }
        finally { _gate.Release(); }
    }

    public void Forget(string apiVersion)
    {
        _gate.Wait();
        try { _byGv.Remove(apiVersion); }
        finally { _gate.Release(); }
    }

    private async Task<Dictionary<string, (string, bool)>> LoadAsync(string apiVersion, CancellationToken ct)
    {
        var path = apiVersion.Contains('/') ? "/apis/" + apiVersion : "/api/" + apiVersion;
        var result = new Dictionary<string, (string, bool)>(StringComparer.Ordinal);
        JsonObject list;
        try { list = await _client.SendAsync(HttpMethod.Get, path, null, null, ct).ConfigureAwait(false); }
        catch (KubeApiException e) when (e.Code == 404) { return result; }
        foreach (var r in list.Arr("resources") ?? [])
        {
            var name = r.Str("name") ?? "";
            if (name.Contains('/')) continue;
            result[r.Str("kind") ?? ""] = (name, r.Bool("namespaced") ?? false);
        }
        return result;
    }
}

/// <summary>One <see cref="KubeClient"/> per <see cref="ClusterConnection"/>, so HTTP connections and discovery are reused.</summary>
internal static class KubeClients
{
    private static readonly ConditionalWeakTable<ClusterConnection, KubeClient> s_clients = new();

    public static KubeClient For(ClusterConnection c) => s_clients.GetValue(c, conn => new KubeClient(ClusterConnector.ToConfig(conn)) { AllowUnencryptedAuthentication = conn.AllowUnencryptedAuthentication });
}
