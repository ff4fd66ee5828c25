using System.Collections.Concurrent;
using System.Collections.Specialized;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.KubeApi;

/// <summary>
/// The HTTP side of the simulator: System.Net.HttpListener on 127.0.0.1, a free port chosen at start. With
/// <see cref="Tls"/> (as every <see cref="KubeApiSimulator"/> has) clients reach it only through <see cref="TlsFrontEnd"/> on another port, and
/// <see cref="Endpoint"/> is that https:// address.
/// </summary>
internal sealed class HttpFrontEnd : IDisposable
{
    private readonly SimCore _core;
    private readonly FaultInjector _faults;
    private readonly ConcurrentQueue<KubeApiRequest> _log = new();
    private readonly CancellationTokenSource _cts = new();
    private readonly ConcurrentDictionary<HttpListenerContext, byte> _open = new();
    private HttpListener? _listener;
    private Task? _loop;
    private long _requests, _mutating, _dryRun;

    public HttpFrontEnd(SimCore core, FaultInjector faults)
    {
        _core = core;
        _faults = faults;
    }

    /// <summary>The sandbox's CA and serving certificate: serve HTTPS only. <see cref="KubeApiSimulator"/> always sets it; null would serve plain HTTP.</summary>
    public SandboxPki? Tls { get; set; }

    /// <summary>Whether the Authorization header of a request authenticates it (a missing or wrong token is 401).</summary>
    public Func<string?, bool> Authenticate { get; init; } = _ => true;

    private TlsFrontEnd? _tls;

    public Uri? Endpoint { get; private set; }
    public long Requests => Interlocked.Read(ref _requests);
    public long Mutating => Interlocked.Read(ref _mutating);
    public long DryRun => Interlocked.Read(ref _dryRun);
    public IReadOnlyList<KubeApiRequest> Log => _log.ToArray();

    public void ResetCounters()
    {
        Interlocked.Exchange(ref _requests, 0);
        Interlocked.Exchange(ref _mutating, 0);
        Interlocked.Exchange(ref _dryRun, 0);
        _log.Clear();
    }

    public Uri Start()
    {
        Exception? last = null;
        for (var attempt = 0; attempt < 30; attempt++)
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            var l = new HttpListener { IgnoreWriteExceptions = true };
            l.Prefixes.Add($"http://127.0.0.1:{port}/");
            l.Prefixes.Add($"http://localhost:{port}/");
            try
            {
                l.Start();
                _listener = l;
                Endpoint = new Uri($"http://127.0.0.1:{port}/");
                if (Tls is not null)
                {
                    _tls = new TlsFrontEnd(Tls, new IPEndPoint(IPAddress.Loopback, port))
                    {
                        // port-forward upgrades need the raw connection, which HttpListener does not give
                        Upgrade = (head, stream, ct) => DataPlane.PortForwardServer.TryServeAsync(_core, Authenticate, head, stream, ct),
                    };
                    Endpoint = new Uri($"https://127.0.0.1:{_tls.Start()}/");
                }
                _loop = Task.Run(AcceptLoop);
                return Endpoint;
            }
            catch (HttpListenerException ex) { last = ex; l.Close(); }
            catch (SocketException ex) { last = ex; l.Close(); }
        }
        throw new InvalidOperationException("could not bind a loopback port for the Kubernetes API simulator", last);
    }

    private async Task AcceptLoop()
    {
        while (!_cts.IsCancellationRequested && _listener is { IsListening: true } l)
        {
            HttpListenerContext ctx;
            try { ctx = await l.GetContextAsync().ConfigureAwait(false); }
            catch (Exception) when (_cts.IsCancellationRequested || !l.IsListening) { return; }
            catch (HttpListenerException) { continue; }
            catch (ObjectDisposedException) { return; }
            _ = Task.Run(() => HandleAsync(ctx));
        }
    }

    public void Stop()
    {
        _cts.Cancel();
        lock (_core.Gate) _core.CloseAllWatches();
        foreach (var c in _open.Keys) { try { c.Response.Abort(); } catch (Exception) { } }
        _tls?.Stop();
        try { _listener?.Stop(); _listener?.Close(); } catch (Exception) { }
        try { _loop?.Wait(TimeSpan.FromSeconds(2)); } catch (Exception) { }
    }

    public void Dispose() => Stop();

    // ------------------------------------------------------------------ request handling

    private sealed class Req
    {
        public required HttpListenerContext Ctx { get; init; }
        public required string Method { get; init; }
        public required string[] Segs { get; init; }
        public required NameValueCollection Query { get; init; }
        public string Verb = "";
        public WriteOptions? Opts;
        public string? Fault;
        public int Status = 200;
        public string? Q(string k) => Query[k];
        public bool DryRun => Query["dryRun"] is "All" or "all";
    }

    private async Task HandleAsync(HttpListenerContext ctx)
    {
        _open[ctx] = 0;
        var path = ctx.Request.Url!.AbsolutePath;
        var segs = path.Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.UnescapeDataString).ToArray();
        var req = new Req { Ctx = ctx, Method = ctx.Request.HttpMethod.ToUpperInvariant(), Segs = segs, Query = ctx.Request.QueryString };
        Interlocked.Increment(ref _requests);
        try
        {
            if (_tls is not null && !_tls.IsPiped(ctx.Request.RemoteEndPoint))
            {
                // plain HTTP straight to the internal listener: the API server speaks HTTPS only
                await WriteText(req, 400, "Client sent an HTTP request to an HTTPS server.\n").ConfigureAwait(false);
                return;
            }
            if (!Authenticate(ctx.Request.Headers["Authorization"]))
            {
                // the authenticator's answer: a bare Status, no details (as kube-apiserver writes it)
                await WriteJson(req, 401, new JsonObject
                {
                    ["kind"] = "Status", ["apiVersion"] = "v1", ["metadata"] = new JsonObject(), ["status"] = "Failure",
                    ["message"] = "Unauthorized", ["reason"] = "Unauthorized", ["code"] = 401,
                }).ConfigureAwait(false);
                return;
            }
            await RouteAsync(req).ConfigureAwait(false);
        }
        catch (StatusError e) { await WriteStatus(req, e).ConfigureAwait(false); }
        catch (HttpListenerException) { }
        catch (ObjectDisposedException) { }
        catch (IOException) { }
        catch (Exception e)
        {
            try { await WriteStatus(req, StatusError.Internal(e.GetType().Name + ": " + e.Message)).ConfigureAwait(false); }
            catch (Exception) { }
        }
        finally
        {
            _open.TryRemove(ctx, out _);
            if (req.Verb.Length > 0 || req.Segs.Length > 0)
            {
                var entry = new KubeApiRequest(DateTimeOffset.UtcNow, req.Method, path, ctx.Request.Url.Query, req.Verb, req.Q("fieldManager"), req.DryRun,
                    req.Status, req.Fault, ctx.Request.UserAgent);
                _log.Enqueue(entry);
                while (_log.Count > _core.Options.RequestLogCapacity) _log.TryDequeue(out _);
            }
        }
    }

    private async Task RouteAsync(Req r)
    {
        var s = r.Segs;
        if (s.Length == 0) { await WriteJson(r, 200, new JsonObject { ["paths"] = new JsonArray("/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version", "/openapi/v2", "/openapi/v3") }).ConfigureAwait(false); return; }
        switch (s[0])
        {
            case "healthz" or "livez" or "readyz":
                await WriteText(r, 200, "ok").ConfigureAwait(false);
                return;
            case "version":
                await WriteJson(r, 200, VersionInfo()).ConfigureAwait(false);
                return;
            case "openapi" when s.Length == 2 && s[1] == "v2" && OpenApiV2Proto.Wants(r.Ctx.Request.Headers["Accept"]):
            {
                var swagger = OpenApi.Document(_core, s, r.Q("hash"), "application/json");
                var bytes = OpenApiV2Proto.Encode(swagger);
                r.Status = 200;
                var res = r.Ctx.Response;
                res.StatusCode = 200;
                res.ContentType = OpenApiV2Proto.MediaType;
                res.ContentLength64 = bytes.Length;
                await res.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
                res.Close();
                return;
            }
            case "openapi":
                await WriteJson(r, 200, OpenApi.Document(_core, s, r.Q("hash"), r.Ctx.Request.Headers["Accept"])).ConfigureAwait(false);
                return;
            case "api" when s.Length == 1:
                await WriteJson(r, 200, new JsonObject
                {
                    ["kind"] = "APIVersions", ["versions"] = new JsonArray("v1"),
                    ["serverAddressByClientCIDRs"] = new JsonArray(new JsonObject { ["clientCIDR"] = "0.0.0.0/0", ["serverAddress"] = Endpoint!.Authority }),
                }).ConfigureAwait(false);
                return;
            case "apis" when s.Length == 1:
                JsonObject groups;
                lock (_core.Gate) groups = Discovery.GroupList(_core.Registry);
                await WriteJson(r, 200, groups).ConfigureAwait(false);
                return;
            case "apis" when s.Length == 2:
                JsonObject? g;
                lock (_core.Gate) g = Discovery.Group(_core.Registry, s[1]);
                if (g is null) throw StatusError.NoResource();
                await WriteJson(r, 200, g).ConfigureAwait(false);
                return;
            case "api" when s.Length == 2:
            case "apis" when s.Length == 3:
            {
                var (group, version) = s[0] == "api" ? ("", s[1]) : (s[1], s[2]);
                JsonObject? list;
                lock (_core.Gate) list = Discovery.ResourceList(_core.Registry, group, version);
                if (list is null) throw StatusError.NoResource();
                await WriteJson(r, 200, list).ConfigureAwait(false);
                return;
            }
            case "api" when PodLogEndpoint.Matches(s):
                r.Verb = "get";
                await PodLogEndpoint.ServeAsync(_core, r.Ctx, s[3], s[5], r.Query, _cts.Token).ConfigureAwait(false);
                return;
            case "api" when PodProxyEndpoint.Matches(s):
                r.Verb = "proxy";
                await PodProxyEndpoint.ServeAsync(_core, r.Ctx, s, _cts.Token).ConfigureAwait(false);
                r.Status = r.Ctx.Response.StatusCode;
                return;
            case "apis" when AuthReviews.Matches(s):
                r.Verb = "create";
                await AuthReviews.ServeAsync(r.Ctx, s).ConfigureAwait(false);
                r.Status = r.Ctx.Response.StatusCode;
                return;
            case "api" or "apis":
                await ResourceAsync(r).ConfigureAwait(false);
                return;
            default:
                throw StatusError.NoResource();
        }
    }

    private JsonObject VersionInfo()
    {
        var v = _core.Options.KubernetesVersion;
        var parts = v.TrimStart('v').Split('.', '-', '+');
        return new JsonObject
        {
            ["major"] = parts[0], ["minor"] = parts.Length > 1 ? parts[1] : "0", ["gitVersion"] = v,
            ["gitCommit"] = "0000000000000000000000000000000000000000", ["gitTreeState"] = "clean", ["buildDate"] = "2025-01-01T00:00:00Z",
            ["goVersion"] = "go1.23.6", ["compiler"] = "gc", ["platform"] = "linux/amd64", ["rhaiiSandbox"] = true,
        };
    }

    private sealed record Target(ResourceType Type, string? Namespace, string? Name, string? Subresource);

    private Target Parse(Req r)
    {
        var s = r.Segs;
        string group, version;
        int i;
        if (s[0] == "api") { group = ""; version = s[1]; i = 2; }
        else { group = s[1]; version = s[2]; i = 3; }
        string? ns = null;
        if (i + 1 < s.Length && s[i] == "namespaces" && s.Length - i >= 3)
        {
            // /namespaces/{ns}/{resource}... unless it is /namespaces/{name}/status|finalize
            if (!(s.Length - i == 3 && group == "" && s[i + 2] is "status" or "finalize"))
            {
                ns = s[i + 1];
                i += 2;
            }
        }
        var plural = s[i];
        ResourceType? t;
        lock (_core.Gate) t = _core.Registry.Find(group, version, plural);
        if (t is null)
        {
            lock (_core.Gate) t = null;
            throw StatusError.NoResource();
        }
        if (ns is not null && !t.Namespaced) throw StatusError.NoResource();
        var name = i + 1 < s.Length ? s[i + 1] : null;
        var sub = i + 2 < s.Length ? s[i + 2] : null;
        if (i + 3 < s.Length) throw StatusError.NoResource();
        if (sub is not null && !(sub == "status" && t.HasStatus) && !(sub == "finalize" && t.Kind == "Namespace") && !(sub == "scale" && t.HasScale))
            throw StatusError.NoResource();
        return new Target(t, ns, name, sub);
    }

    private async Task ResourceAsync(Req r)
    {
        var target = Parse(r);
        var isWatch = QueryBool(r, "watch");
        r.Verb = (r.Method, target.Name, isWatch) switch
        {
            ("GET", null, true) => "watch",
            ("GET", null, false) => "list",
            ("GET", _, _) => "get",
            ("POST", _, _) => "create",
            ("PUT", _, _) => "update",
            ("PATCH", _, _) => r.Ctx.Request.ContentType?.StartsWith("application/apply-patch", StringComparison.Ordinal) == true ? "apply" : "patch",
            ("DELETE", null, _) => "deletecollection",
            ("DELETE", _, _) => "delete",
            _ => "unknown",
        };
        if (r.Method is "POST" or "PUT" or "PATCH" or "DELETE")
        {
            Interlocked.Increment(ref _mutating);
            if (r.DryRun) Interlocked.Increment(ref _dryRun);
        }

        var fault = _faults.Decide(r.Verb);
        if (fault.Delay > TimeSpan.Zero) await Task.Delay(fault.Delay).ConfigureAwait(false);
        if (fault.Error is not null)
        {
            r.Fault = fault.Name;
            if (fault.Error.RetryAfterSeconds is { } ra) r.Ctx.Response.Headers["Retry-After"] = ra.ToString(CultureInfo.InvariantCulture);
            if (fault.Error.Reason == "Conflict" && target.Name is not null)
                throw StatusError.Conflict(target.Type, target.Name);
            throw fault.Error;
        }

        if (r.Ctx.Request.ContentType?.Contains("protobuf", StringComparison.Ordinal) == true)
            throw new StatusError(415, "UnsupportedMediaType",
                $"the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (the simulator does not decode {r.Ctx.Request.ContentType}; kubectl's imperative 'create <type>' commands send protobuf, use 'kubectl apply -f' or 'kubectl create -f')");
        var manager = r.Q("fieldManager") ?? DefaultManager(r.Ctx.Request.UserAgent);
        var opts = new WriteOptions(manager, r.DryRun, FieldValidation: SchemaValidator.FieldValidation(r.Verb, r.Q("fieldValidation")));
        r.Opts = opts;
        var t = target.Type;
        switch (r.Verb)
        {
            case "get":
            {
                JsonObject obj;
                lock (_core.Gate)
                {
                    var stored = _core.Peek(t, target.Namespace, target.Name!) ?? throw StatusError.NotFound(t, target.Name!);
                    obj = SimCore.Render(t, stored);
                }
                if (target.Subresource == "scale") obj = Scale(t, obj);
                await WriteObject(r, 200, t, obj).ConfigureAwait(false);
                return;
            }
            case "list":
                await ListAsync(r, target).ConfigureAwait(false);
                return;
            case "watch":
                await WatchAsync(r, target, fault).ConfigureAwait(false);
                return;
            case "create":
            {
                if (target.Name is not null) throw StatusError.MethodNotAllowed();
                var body = ParseBody(r, await ReadBody(r).ConfigureAwait(false));
                JsonObject created;
                lock (_core.Gate) created = _core.Create(t, target.Namespace, body, opts);
                await WriteJson(r, 201, created).ConfigureAwait(false);
                return;
            }
            case "update":
            {
                var body = ParseBody(r, await ReadBody(r).ConfigureAwait(false));
                JsonObject updated;
                var code = 200;
                lock (_core.Gate)
                {
                    if (target.Subresource == "scale")
                    {
                        var existing = _core.Peek(t, target.Namespace, target.Name!) ?? throw StatusError.NotFound(t, target.Name!);
                        var replicas = body.Long("spec", "replicas") ?? 0;
                        updated = Scale(t, SimCore.Render(t, _core.Mutate(t, existing, o => o.Ensure("spec")["replicas"] = replicas, manager)));
                    }
                    else updated = _core.Update(t, target.Namespace, target.Name!, body, opts, target.Subresource);
                }
                await WriteJson(r, code, updated).ConfigureAwait(false);
                return;
            }
            case "patch":
            {
                var body = await ReadBody(r).ConfigureAwait(false);
                JsonObject patched;
                lock (_core.Gate)
                {
                    if (target.Subresource == "scale")
                    {
                        var existing = _core.Peek(t, target.Namespace, target.Name!) ?? throw StatusError.NotFound(t, target.Name!);
                        var scale = Scale(t, SimCore.Render(t, existing));
                        var ct = r.Ctx.Request.ContentType ?? "";
                        JsonNode? next = ct.StartsWith("application/json-patch+json", StringComparison.Ordinal)
                            ? ServerJson.JsonPatch(scale, JsonNode.Parse(body) as JsonArray ?? [])
                            : ServerJson.MergePatch(scale, JsonNode.Parse(body));
                        var replicas = next.Long("spec", "replicas") ?? 0;
                        patched = Scale(t, SimCore.Render(t, _core.Mutate(t, existing, o => o.Ensure("spec")["replicas"] = replicas, manager)));
                    }
                    else patched = _core.Patch(t, target.Namespace, target.Name!, r.Ctx.Request.ContentType ?? "", body, opts, target.Subresource);
                }
                await WriteJson(r, 200, patched).ConfigureAwait(false);
                return;
            }
            case "apply":
            {
                if (r.Q("fieldManager") is null)
                    throw StatusError.BadRequest("PATCH, application/apply-patch+yaml: fieldManager is required for apply requests");
                var text = await ReadBody(r).ConfigureAwait(false);
                JsonObject applied;
                try { applied = ServerYaml.ReadOne(text) as JsonObject ?? throw StatusError.BadRequest("error decoding YAML: expected an object"); }
                catch (FormatException ex) { throw StatusError.BadRequest("error decoding YAML: " + ex.Message); }
                var force = r.Q("force") is "true" or "1";
                (JsonObject Result, bool Created) res;
                lock (_core.Gate) res = _core.Apply(t, target.Namespace, target.Name!, applied, force, opts, target.Subresource);
                await WriteJson(r, res.Created ? 201 : 200, res.Result).ConfigureAwait(false);
                return;
            }
            case "delete":
            {
                var d = await ReadDeleteOptions(r).ConfigureAwait(false);
                JsonObject result;
                lock (_core.Gate) result = _core.Delete(t, target.Namespace, target.Name!, opts, d);
                await WriteJson(r, 200, result).ConfigureAwait(false);
                return;
            }
            case "deletecollection":
            {
                var d = await ReadDeleteOptions(r).ConfigureAwait(false);
                var ls = ParseLabels(r.Q("labelSelector"));
                var fs = ParseFields(r.Q("fieldSelector"));
                lock (_core.Gate)
                    foreach (var o in _core.PeekAll(t, target.Namespace).Where(o => ls.Matches(o) && fs.Matches(o)).ToList())
                        _core.Delete(t, o.Namespace(), o.Name(), opts, d);
                await WriteJson(r, 200, new JsonObject { ["kind"] = "Status", ["apiVersion"] = "v1", ["metadata"] = new JsonObject(), ["status"] = "Success" }).ConfigureAwait(false);
                return;
            }
            default:
                throw StatusError.MethodNotAllowed();
        }
    }

    private static JsonObject Scale(ResourceType t, JsonObject obj) => new()
    {
        ["kind"] = "Scale", ["apiVersion"] = "autoscaling/v1",
        ["metadata"] = new JsonObject { ["name"] = obj.Name(), ["namespace"] = obj.Namespace(), ["uid"] = obj.Str("metadata", "uid"), ["resourceVersion"] = obj.Str("metadata", "resourceVersion") },
        ["spec"] = new JsonObject { ["replicas"] = obj.Long("spec", "replicas") ?? 0 },
        ["status"] = new JsonObject { ["replicas"] = obj.Long("status", "replicas") ?? 0 },
    };

    private static string DefaultManager(string? userAgent)
    {
        if (string.IsNullOrEmpty(userAgent)) return "unknown";
        var first = userAgent.Split(' ')[0];
        var slash = first.IndexOf('/');
        return slash > 0 ? first[..slash] : first;
    }

    private static LabelSelector ParseLabels(string? s)
    {
        try { return LabelSelector.Parse(s); }
        catch (FormatException ex) { throw StatusError.BadRequest($"unable to parse requirement: {ex.Message}"); }
    }

    private static FieldSelector ParseFields(string? s)
    {
        try { return FieldSelector.Parse(s); }
        catch (FormatException ex) { throw StatusError.BadRequest(ex.Message); }
    }

    private static readonly HashSet<string> GenericFields = ["metadata.name", "metadata.namespace"];

    private static void CheckFieldSelector(ResourceType t, FieldSelector fs)
    {
        foreach (var (field, _, _) in fs.Requirements)
        {
            if (GenericFields.Contains(field)) continue;
            var ok = t.Kind switch
            {
                "Pod" => field is "spec.nodeName" or "status.phase" or "spec.restartPolicy" or "spec.schedulerName" or "spec.serviceAccountName" or "status.podIP",
                "Event" => field.StartsWith("involvedObject.", StringComparison.Ordinal) || field is "reason" or "type" or "source" or "reportingComponent",
                "Secret" => field == "type",
                "Node" => field == "spec.unschedulable",
                "Namespace" => field == "status.phase",
                "ReplicaSet" or "Job" => field == "status.replicas" || field == "status.successful",
                _ => false,
            };
            if (!ok) throw StatusError.BadRequest($"field label not supported: {field}");
        }
    }

    private async Task ListAsync(Req r, Target target)
    {
        var t = target.Type;
        var ls = ParseLabels(r.Q("labelSelector"));
        var fs = ParseFields(r.Q("fieldSelector"));
        CheckFieldSelector(t, fs);
        List<JsonObject> items;
        long rv;
        lock (_core.Gate)
        {
            rv = _core.CurrentRv;
            items = _core.PeekAll(t, target.Namespace).Where(o => ls.Matches(o) && fs.Matches(o)).Select(o => SimCore.Render(t, o)).ToList();
        }
        var meta = new JsonObject { ["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture) };
        if (int.TryParse(r.Q("limit"), out var limit) && limit > 0)
        {
            var start = 0;
            if (r.Q("continue") is { Length: > 0 } cont)
            {
                try { start = int.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(cont)), CultureInfo.InvariantCulture); }
                catch (FormatException) { throw StatusError.BadRequest("continue key is not valid"); }
            }
            var page = items.Skip(start).Take(limit).ToList();
            if (start + limit < items.Count)
            {
                meta["continue"] = Convert.ToBase64String(Encoding.UTF8.GetBytes((start + limit).ToString(CultureInfo.InvariantCulture)));
                meta["remainingItemCount"] = items.Count - start - limit;
            }
            items = page;
        }
        if (TableVersion(r) is { } tv)
        {
            await WriteJson(r, 200, Tables.Build(t, items, meta, Tables.IncludeObject(r.Q("includeObject")), tv)).ConfigureAwait(false);
            return;
        }
        var list = new JsonObject
        {
            ["kind"] = t.ListKind, ["apiVersion"] = t.ApiVersion, ["metadata"] = meta,
            ["items"] = new JsonArray(items.Cast<JsonNode>().ToArray()),
        };
        await WriteJson(r, 200, list).ConfigureAwait(false);
    }

    /// <summary>The meta.k8s.io Table version the Accept header asks for (kubectl get), null for the object itself.</summary>
    private static string? TableVersion(Req r) => Tables.NegotiateTable(r.Ctx.Request.Headers["Accept"]);

    private async Task WriteObject(Req r, int code, ResourceType t, JsonObject obj)
    {
        if (TableVersion(r) is { } tv)
        {
            var table = Tables.Build(t, [obj], new JsonObject { ["resourceVersion"] = obj.Str("metadata", "resourceVersion") }, Tables.IncludeObject(r.Q("includeObject")), tv);
            await WriteJson(r, code, table).ConfigureAwait(false);
            return;
        }
        await WriteJson(r, code, obj).ConfigureAwait(false);
    }

    private async Task WatchAsync(Req r, Target target, FaultInjector.Decision fault)
    {
        var drop = fault.DropWatch;
        var t = target.Type;
        var ls = ParseLabels(r.Q("labelSelector"));
        var fs = ParseFields(r.Q("fieldSelector"));
        CheckFieldSelector(t, fs);
        var timeout = int.TryParse(r.Q("timeoutSeconds"), out var ts) && ts > 0 ? TimeSpan.FromSeconds(ts) : TimeSpan.FromMinutes(30);
        var bookmarks = QueryBool(r, "allowWatchBookmarks");
        // kubectl get --watch: every event carries a Table of its one object; only the first has the column definitions
        var table = TableVersion(r) is { } tv ? new TableWatch(tv, Tables.IncludeObject(r.Q("includeObject"))) : null;
        Watcher w;
        List<WatchEvent> initial;
        var res = r.Ctx.Response;
        try
        {
            // injected: the resume point was compacted away (only a watch that resumes from a version can be told so)
            if (fault.ExpireWatch && r.Q("resourceVersion") is { Length: > 0 } resume && resume != "0")
            {
                _faults.CountExpired();
                r.Fault = "watch-expired";
                throw new StatusError(410, "Expired", $"too old resource version: {resume} ({_core.CurrentRv})");
            }
            lock (_core.Gate) (w, initial) = _core.Watch(t, target.Namespace, r.Q("resourceVersion"));
        }
        catch (StatusError e) when (e.Code == 410)
        {
            res.StatusCode = 200;
            res.ContentType = "application/json";
            var body = Encoding.UTF8.GetBytes(new JsonObject { ["type"] = "ERROR", ["object"] = e.ToStatus() }.ToJson() + "\n");
            await res.OutputStream.WriteAsync(body).ConfigureAwait(false);
            res.Close();
            return;
        }
        r.Status = 200;
        res.StatusCode = 200;
        res.ContentType = "application/json";
        res.SendChunked = true;
        res.KeepAlive = false;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token);
        using var dropTimer = new CancellationTokenSource();
        using var dropLink = dropTimer.Token.Register(cts.Cancel);
        cts.CancelAfter(timeout);
        if (drop) dropTimer.CancelAfter(fault.DropWatchAfter > TimeSpan.Zero ? fault.DropWatchAfter : _faults.Options.WatchDropAfter);
        await SendHeadersNow(res).ConfigureAwait(false);
        var lastRv = _core.CurrentRv;
        try
        {
            var stream = res.OutputStream;
            foreach (var ev in initial)
                if (Matches(ev, target.Namespace, ls, fs, out var type)) await WriteEvent(stream, t, type, ev.Object, table).ConfigureAwait(false);
            await stream.FlushAsync(cts.Token).ConfigureAwait(false);
            var reader = w.Channel.Reader;
            var lastBookmark = DateTime.UtcNow;
            while (!cts.IsCancellationRequested)
            {
                var waitTask = reader.WaitToReadAsync(cts.Token).AsTask();
                var ready = bookmarks ? await Task.WhenAny(waitTask, Task.Delay(TimeSpan.FromSeconds(1), cts.Token)).ConfigureAwait(false) == waitTask : true;
                if (ready && !await waitTask.ConfigureAwait(false)) break;
                while (reader.TryRead(out var ev))
                {
                    lastRv = ev.Rv;
                    if (Matches(ev, target.Namespace, ls, fs, out var type)) await WriteEvent(stream, t, type, ev.Object, table).ConfigureAwait(false);
                }
                if (bookmarks && DateTime.UtcNow - lastBookmark > TimeSpan.FromSeconds(1))
                {
                    lastBookmark = DateTime.UtcNow;
                    var bm = new JsonObject { ["type"] = "BOOKMARK", ["object"] = new JsonObject { ["kind"] = t.Kind, ["apiVersion"] = t.ApiVersion, ["metadata"] = new JsonObject { ["resourceVersion"] = lastRv.ToString(CultureInfo.InvariantCulture) } } };
                    var bb = Encoding.UTF8.GetBytes(bm.ToJson() + "\n");
                    await stream.WriteAsync(bb, cts.Token).ConfigureAwait(false);
                }
                await stream.FlushAsync(cts.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) { }
        catch (HttpListenerException) { }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
        finally
        {
            lock (_core.Gate) _core.Unwatch(w);
            // counted only when the cut happened while the stream was still open (not after the client left on its own)
            if (drop && dropTimer.IsCancellationRequested && !_cts.IsCancellationRequested)
            {
                _faults.CountDrop();
                r.Fault = "watch-dropped";
                try { res.Abort(); } catch (Exception) { }
            }
            else
            {
                try { res.Close(); } catch (Exception) { }
            }
        }
    }

    /// <summary>
    /// A boolean query parameter as apimachinery converts it (Convert_Slice_string_To_bool): absent is false,
    /// the first value "0" or "false" (any case) is false, every other value, the empty one included, is true.
    /// Read from the raw query because HttpListener files a bare "?watch" under a null key.
    /// </summary>
    private static bool QueryBool(Req r, string name)
    {
        foreach (var part in (r.Ctx.Request.Url?.Query ?? "").TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=');
            var key = Uri.UnescapeDataString((eq < 0 ? part : part[..eq]).Replace('+', ' '));
            if (key != name) continue;
            var value = eq < 0 ? "" : Uri.UnescapeDataString(part[(eq + 1)..].Replace('+', ' '));
            return !(value == "0" || value.Equals("false", StringComparison.OrdinalIgnoreCase));
        }
        return false;
    }

    /// <summary>
    /// A real API server writes the status line and headers of a watch (200, chunked) and flushes them before
    /// the first event, so clients that await the response return at once. The managed HttpListener sends
    /// headers only with the first body bytes (and a zero-length write would end the chunked body), so this
    /// writes the header block it would have prepended through its own (non-public) header builder. Where a
    /// runtime lacks those members the headers go out with the first event, as before.
    /// </summary>
    private static async Task SendHeadersNow(HttpListenerResponse res)
    {
        try
        {
            var stream = res.OutputStream;
            var flags = System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic;
            var getHeaders = stream.GetType().GetMethod("GetHeaders", flags);
            var inner = stream.GetType().GetField("_stream", flags)?.GetValue(stream) as Stream;
            if (getHeaders is null || inner is null) return;
            var args = getHeaders.GetParameters().Length == 2 ? new object[] { false, false } : new object[] { false };
            if (getHeaders.Invoke(stream, args) is not MemoryStream ms) return;
            var start = (int)ms.Position;
            await inner.WriteAsync(ms.GetBuffer().AsMemory(start, (int)ms.Length - start)).ConfigureAwait(false);
            await inner.FlushAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is System.Reflection.TargetInvocationException or IOException or ObjectDisposedException or InvalidOperationException) { }
    }

    private static bool Matches(WatchEvent ev, string? ns, LabelSelector ls, FieldSelector fs, out string type)
    {
        type = ev.Type;
        if (ns is not null && ev.Namespace != ns) return false;
        var now = ls.Matches(ev.Object) && fs.Matches(ev.Object);
        if (ev.Type != "MODIFIED" || ev.Old is null) return now;
        var before = ls.Matches(ev.Old) && fs.Matches(ev.Old);
        if (now && !before) { type = "ADDED"; return true; }
        if (!now && before) { type = "DELETED"; return true; }
        return now;
    }

    private sealed class TableWatch(string version, string includeObject)
    {
        public string Version { get; } = version;
        public string IncludeObject { get; } = includeObject;
        public bool HeadersSent { get; set; }
    }

    private static async Task WriteEvent(Stream stream, ResourceType t, string type, JsonObject obj, TableWatch? table = null)
    {
        JsonNode rendered = SimCore.Render(t, obj);
        if (table is not null)
        {
            rendered = Tables.Build(t, [(JsonObject)rendered], new JsonObject { ["resourceVersion"] = obj.Str("metadata", "resourceVersion") }, table.IncludeObject, table.Version, headers: !table.HeadersSent);
            table.HeadersSent = true;
        }
        var e = new JsonObject { ["type"] = type, ["object"] = rendered };
        var bytes = Encoding.UTF8.GetBytes(e.ToJson() + "\n");
        await stream.WriteAsync(bytes).ConfigureAwait(false);
    }

    private static JsonObject ParseBody(Req r, string text)
    {
        try
        {
            if (r.Ctx.Request.ContentType?.Contains("yaml", StringComparison.Ordinal) == true)
                return ServerYaml.ReadOne(text) as JsonObject ?? throw StatusError.BadRequest("the request body is not an object");
            return ServerJson.ParseObject(text);
        }
        catch (FormatException ex) { throw StatusError.BadRequest("error decoding the request body: " + ex.Message); }
        catch (System.Text.Json.JsonException ex) { throw StatusError.BadRequest("error decoding the request body: " + ex.Message); }
    }

    /// <summary>kube-apiserver's --max-request-bytes default for resource writes (3 MiB).</summary>
    private const int MaxRequestBodyBytes = 3 * 1024 * 1024;

    private static async Task<string> ReadBody(Req r)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int n;
        long total = 0;
        // a body over the limit is read to its end (up to 64 MiB) and discarded, so the client gets the 413 and not a reset
        while ((n = await r.Ctx.Request.InputStream.ReadAsync(chunk).ConfigureAwait(false)) > 0 && total <= 64L * 1024 * 1024)
        {
            total += n;
            if (total <= MaxRequestBodyBytes) buffer.Write(chunk, 0, n);
        }
        if (total > MaxRequestBodyBytes)
            throw new StatusError(413, "RequestEntityTooLarge", $"Request entity too large: limit is {MaxRequestBodyBytes}");
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length).TrimStart('\uFEFF');
    }

    private static async Task<DeleteOptions> ReadDeleteOptions(Req r)
    {
        var text = r.Ctx.Request.HasEntityBody ? await ReadBody(r).ConfigureAwait(false) : "";
        string? policy = r.Q("propagationPolicy");
        string? uid = null, rv = null;
        if (!string.IsNullOrWhiteSpace(text))
        {
            try
            {
                var o = ServerJson.ParseObject(text);
                policy = o.Str("propagationPolicy") ?? policy;
                if (o.Bool("orphanDependents") == true) policy ??= "Orphan";
                uid = o.Str("preconditions", "uid");
                rv = o.Str("preconditions", "resourceVersion");
            }
            catch (System.Text.Json.JsonException) { throw StatusError.BadRequest("invalid DeleteOptions body"); }
        }
        if (policy is not (null or "Background" or "Foreground" or "Orphan"))
            throw StatusError.BadRequest($"DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"{policy}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\"");
        return new DeleteOptions(policy, uid, rv);
    }

    private static Task WriteStatus(Req r, StatusError e)
    {
        if (e.RetryAfterSeconds is { } ra) r.Ctx.Response.Headers["Retry-After"] = ra.ToString(CultureInfo.InvariantCulture);
        return WriteJson(r, e.Code, e.ToStatus());
    }

    private static async Task WriteJson(Req r, int code, JsonNode body)
    {
        r.Status = code;
        var res = r.Ctx.Response;
        foreach (var w in r.Opts?.Warnings.Distinct() ?? []) res.Headers.Add("Warning", $"299 - \"{w.Replace("\"", "\\\"")}\"");
        var bytes = body.Utf8();
        res.StatusCode = code;
        res.ContentType = "application/json";
        res.ContentLength64 = bytes.Length;
        await res.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
        res.Close();
    }

    private static async Task WriteText(Req r, int code, string text)
    {
        r.Status = code;
        var res = r.Ctx.Response;
        var bytes = Encoding.UTF8.GetBytes(text);
        res.StatusCode = code;
        res.ContentType = "text/plain; charset=utf-8";
        res.ContentLength64 = bytes.Length;
        await res.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
        res.Close();
    }
}
