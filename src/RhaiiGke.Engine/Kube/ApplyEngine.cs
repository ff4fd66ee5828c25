using System.Diagnostics;
using System.Text.Json.Nodes;
using Polly;
using Polly.Retry;
using RhaiiGke.Engine.Kube.Json;

namespace RhaiiGke.Engine.Kube;

/// <summary>
/// Readiness-gated server-side apply. Objects go in phases — Namespaces, CRDs (wait Established),
/// configuration and RBAC (plus custom resources of CRDs already installed), workloads and webhooks
/// (wait Available and reachable), then custom resources of the CRDs of this run (wait Ready). Each
/// object is compared with its live state first, so a re-run with nothing changed sends no mutating
/// request. Transient errors (webhook not reachable, 429, 5xx, optimistic conflicts, kinds not served
/// yet, connection failures) are retried with exponential backoff that honours Retry-After.
/// </summary>
public sealed class ApplyEngine
{
    public const string PhaseNamespaces = "Namespaces";
    public const string PhaseCrds = "CustomResourceDefinitions";
    public const string PhaseConfiguration = "Configuration";
    public const string PhaseWorkloads = "Workloads";
    public const string PhaseCustomResources = "CustomResources";
    private static readonly string[] PhaseOrder = [PhaseNamespaces, PhaseCrds, PhaseConfiguration, PhaseWorkloads, PhaseCustomResources];

    private static readonly HashSet<string> WorkloadKinds =
        ["Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet", "Pod", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "APIService"];

    private static readonly HashSet<string> BuiltInGroups =
    [
        "", "apps", "batch", "autoscaling", "policy", "rbac.authorization.k8s.io", "networking.k8s.io", "admissionregistration.k8s.io",
        "apiextensions.k8s.io", "apiregistration.k8s.io", "scheduling.k8s.io", "storage.k8s.io", "coordination.k8s.io", "discovery.k8s.io",
        "certificates.k8s.io", "node.k8s.io", "flowcontrol.apiserver.k8s.io", "events.k8s.io",
    ];

    private readonly ClusterConnection _connection;
    private readonly IRhaiiLog _log;
    private int _retries;
    private readonly Dictionary<string, int> _transient = new(StringComparer.Ordinal);
    /// <summary>Every sensitive value of the objects of the current run, scrubbed from whatever the server sends back.</summary>
    private HashSet<string> _secrets = new(StringComparer.Ordinal);

    public ApplyEngine(ClusterConnection connection, IRhaiiLog? log = null)
    {
        _connection = connection;
        _log = log ?? NullRhaiiLog.Instance;
    }

    /// <summary>Applies every object of a YAML (or JSON) stream.</summary>
    public Task<KubeApplyResult> ApplyAsync(string yaml, KubeApplyOptions options, CancellationToken ct) =>
        ApplyAsync(ParseManifests(yaml), options, ct);

    /// <summary>The objects of a YAML stream; <c>kind: List</c> is expanded. Throws <see cref="RhaiiException"/> on bad YAML.</summary>
    public static IReadOnlyList<JsonObject> ParseManifests(string yaml)
    {
        try { return KubeYaml.ReadObjects(yaml); }
        catch (FormatException ex) { throw new RhaiiException("ManifestInvalidYaml", RhaiiErrorCategory.ParserError, ex.Message, "Fix the YAML syntax at the reported line.", null, ex); }
    }

    /// <summary>The phase an object is applied in, given the CRDs of the same run.</summary>
    public static string PhaseOf(JsonObject obj, ISet<string> crdGroupKinds)
    {
        var kind = obj.Str("kind") ?? "";
        var group = GroupOf(obj.Str("apiVersion"));
        if (kind == "Namespace" && group == "") return PhaseNamespaces;
        if (kind == "CustomResourceDefinition") return PhaseCrds;
        if (BuiltInGroups.Contains(group)) return WorkloadKinds.Contains(kind) ? PhaseWorkloads : PhaseConfiguration;
        return crdGroupKinds.Contains(group + "/" + kind) ? PhaseCustomResources : PhaseConfiguration;
    }

    /// <summary>
    /// group/kind of the custom resources that must wait for the workloads of this run: those of CRDs
    /// created in this run, and those an admission webhook of this run would intercept.
    /// </summary>
    private static HashSet<string> GatedKinds(List<JsonObject> list)
    {
        var set = list.Where(o => o.Str("kind") == "CustomResourceDefinition")
            .Select(o => o.Str("spec", "group") + "/" + o.Str("spec", "names", "kind")).ToHashSet(StringComparer.Ordinal);
        var hookedGroups = list.Where(o => o.Str("kind") is "ValidatingWebhookConfiguration" or "MutatingWebhookConfiguration")
            .SelectMany(o => o.Arr("webhooks") ?? []).SelectMany(w => w.Arr("rules") ?? []).SelectMany(r => r.Arr("apiGroups") ?? [])
            .Select(g => g?.ToString() ?? "").Where(g => !BuiltInGroups.Contains(g)).ToHashSet(StringComparer.Ordinal);
        foreach (var o in list)
        {
            var g = GroupOf(o.Str("apiVersion"));
            if (!BuiltInGroups.Contains(g) && (hookedGroups.Contains(g) || hookedGroups.Contains("*"))) set.Add(g + "/" + o.Str("kind"));
        }
        return set;
    }

    private static string GroupOf(string? apiVersion) => apiVersion is not null && apiVersion.Contains('/') ? apiVersion[..apiVersion.IndexOf('/')] : "";

    public async Task<KubeApplyResult> ApplyAsync(IEnumerable<JsonObject> objects, KubeApplyOptions options, CancellationToken ct)
    {
        try { return await ApplyCoreAsync(objects, options, ct).ConfigureAwait(false); }
        catch (KubeTransportException e) { throw e.ToRhaii(options.Component is { Length: > 0 } c ? c : null, options.Component); }
        catch (KubeApiException e) { throw e.ToRhaii(options.Component is { Length: > 0 } c ? c : null, options.Component); }
    }

    private async Task<KubeApplyResult> ApplyCoreAsync(IEnumerable<JsonObject> objects, KubeApplyOptions options, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var client = KubeClients.For(_connection);
        client.ReadRetryMaxDelay = options.MaxRetryDelay;
        var startMutating = client.MutatingRequests;
        var startReadRetries = client.ReadRetriesDone;
        _retries = 0;
        _transient.Clear();
        var list = objects.Select(o => o.Clone()).ToList();
        _secrets = SecretRedaction.CollectValues(list);
        foreach (var o in list)
        {
            if (string.IsNullOrEmpty(o.Str("apiVersion")) || string.IsNullOrEmpty(o.Str("kind")) || string.IsNullOrEmpty(o.Name()))
                throw new RhaiiException("ManifestIncomplete", RhaiiErrorCategory.InvalidData,
                    $"{Label(options)}an object lacks apiVersion, kind or metadata.name: {Truncate(SecretRedaction.RedactObject(o).ToJson())}", "Every manifest needs apiVersion, kind and metadata.name.");
        }
        ObjectLimits.Check(list); // names and sizes as the API server checks them: refused here, before anything is sent
        var crdKinds = GatedKinds(list);
        var results = new List<(JsonObject Obj, KubeObjectResult Result, RestMapper.Mapping? Map)>();
        var pipeline = Pipeline(options, client);

        foreach (var phase in PhaseOrder)
        {
            var items = list.Where(o => PhaseOf(o, crdKinds) == phase).ToList();
            if (items.Count == 0) continue;
            _log.Progress(options.Component ?? "apply", $"{phase}: applying {items.Count} object(s)", -1);
            var phaseResults = new List<(JsonObject Obj, KubeObjectResult Result, RestMapper.Mapping? Map)>();
            foreach (var obj in items)
            {
                ct.ThrowIfCancellationRequested();
                var (o2, res2, map2) = await ApplyOneAsync(client, pipeline, obj, phase, crdKinds, options, ct).ConfigureAwait(false);
                var r = (Obj: o2, Result: res2, Map: map2);
                phaseResults.Add(r);
                _log.Verbose($"{Label(options)}{r.Result.Id} {r.Result.Action}{(r.Result.Message is { Length: > 0 } m ? " (" + m + ")" : "")}");
            }
            results.AddRange(phaseResults);
            if (options.Wait && !options.DryRun)
                await WaitReadyAsync(client, pipeline, phaseResults.Where(r => r.Map is not null && r.Result.Action != KubeApplyAction.Skipped).Select(r => (r.Obj, r.Result, r.Map!)).ToList(), options, phase, ct).ConfigureAwait(false);
        }
        return new KubeApplyResult
        {
            Component = options.Component,
            Objects = results.Select(r => r.Result).ToList(),
            DryRun = options.DryRun,
            MutatingRequests = client.MutatingRequests - startMutating,
            Retries = _retries + client.ReadRetriesDone - startReadRetries,
            TransientErrors = new Dictionary<string, int>(_transient),
            Duration = sw.Elapsed,
        };
    }

    private string? Scrub(string? text) => text is null ? null : SecretRedaction.Scrub(text, _secrets);

    /// <summary>
    /// Read-only: the result of applying <paramref name="objects"/> when every one of them is already up to date (all
    /// Unchanged), or null as soon as one would change (or its kind is not served). Sends no mutating request.
    /// </summary>
    public async Task<KubeApplyResult?> UnchangedAsync(IEnumerable<JsonObject> objects, KubeApplyOptions options, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var client = KubeClients.For(_connection);
        var list = objects.Select(o => o.Clone()).ToList();
        var crdKinds = GatedKinds(list);
        var results = new List<KubeObjectResult>();
        foreach (var obj in list)
        {
            var apiVersion = obj.Str("apiVersion");
            var kind = obj.Str("kind");
            if (apiVersion is null || kind is null || string.IsNullOrEmpty(obj.Name())) return null;
            RestMapper.Mapping? map;
            try { map = await client.Mapper.FindAsync(apiVersion, kind, ct).ConfigureAwait(false); }
            catch (KubeApiException) { return null; }
            if (map is null) return null;
            var ns = map.Namespaced ? obj.Namespace() ?? _connection.Namespace : null;
            var meta = obj.Ensure("metadata");
            if (ns is null) meta.Remove("namespace"); else meta["namespace"] = ns;
            JsonObject? live;
            try { live = await client.GetAsync(map.Item(ns, obj.Name()), ct).ConfigureAwait(false); }
            catch (KubeApiException) { return null; }
            if (live is null || ObjectDiff.Difference(obj, live, options.FieldManager) is not null) return null;
            results.Add(new KubeObjectResult { ApiVersion = apiVersion, Kind = kind, Name = obj.Name(), Namespace = ns, Phase = PhaseOf(obj, crdKinds), Action = KubeApplyAction.Unchanged });
        }
        return new KubeApplyResult { Component = options.Component, Objects = results, DryRun = options.DryRun, Duration = sw.Elapsed };
    }

    private static string Label(KubeApplyOptions o) => o.Component is { Length: > 0 } c ? c + ": " : "";
    private static string Truncate(string s) => s.Length > 200 ? s[..200] + "..." : s;

    private ResiliencePipeline Pipeline(KubeApplyOptions options, KubeClient client)
    {
        if (options.MaxRetries <= 0) return ResiliencePipeline.Empty;
        return new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = options.MaxRetries,
                ShouldHandle = new PredicateBuilder()
                    .Handle<KubeApiException>(e => e.IsTransient)
                    .Handle<HttpRequestException>(client.ShouldRetryTransport)
                    .Handle<IOException>(client.ShouldRetryTransport)
                    .Handle<TaskCanceledException>(e => !e.CancellationToken.IsCancellationRequested),
                DelayGenerator = args =>
                {
                    var exp = options.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(args.AttemptNumber, 10));
                    var jittered = exp * (0.5 + Random.Shared.NextDouble() / 2);
                    var delay = TimeSpan.FromMilliseconds(jittered);
                    if (args.Outcome.Exception is KubeApiException { RetryAfter: { } ra } && ra > delay) delay = ra;
                    if (delay > options.MaxRetryDelay) delay = options.MaxRetryDelay;
                    return new ValueTask<TimeSpan?>(delay);
                },
                OnRetry = args =>
                {
                    _retries++;
                    var tag = args.Outcome.Exception switch
                    {
                        KubeApiException k => k.Tag,
                        HttpRequestException => "ConnectionFailed",
                        _ => args.Outcome.Exception?.GetType().Name ?? "Unknown",
                    };
                    _transient[tag] = _transient.TryGetValue(tag, out var n) ? n + 1 : 1;
                    if (args.Outcome.Exception is KubeApiException { IsResourceNotServed: true } nf && nf.Path.StartsWith("/apis/", StringComparison.Ordinal))
                    {
                        var parts = nf.Path.Split('/', StringSplitOptions.RemoveEmptyEntries);
                        if (parts.Length >= 3) client.Mapper.Forget(parts[1] + "/" + parts[2]);
                    }
                    _log.Debug($"{Label(options)}retry {args.AttemptNumber + 1} after {tag}: {Scrub(args.Outcome.Exception?.Message)}");
                    return default;
                },
            })
            .Build();
    }

    private async Task<(JsonObject, KubeObjectResult, RestMapper.Mapping?)> ApplyOneAsync(KubeClient client, ResiliencePipeline pipeline, JsonObject obj, string phase,
        ISet<string> crdKinds, KubeApplyOptions options, CancellationToken ct)
    {
        var apiVersion = obj.Str("apiVersion")!;
        var kind = obj.Str("kind")!;
        var name = obj.Name();
        var result = new KubeObjectResult { ApiVersion = apiVersion, Kind = kind, Name = name, Namespace = obj.Namespace(), Phase = phase };
        if (kind == "CustomResourceDefinition" && options.SkipCrds.Contains(name))
        {
            result.Action = KubeApplyAction.Skipped;
            result.Message = "left alone (managed outside this install)";
            return (obj, result, null);
        }
        var inRun = crdKinds.Contains(GroupOf(apiVersion) + "/" + kind);
        RestMapper.Mapping? map;
        if (options.DryRun && inRun)
        {
            map = await client.Mapper.FindAsync(apiVersion, kind, ct).ConfigureAwait(false);
            if (map is null)
            {
                result.Action = KubeApplyAction.WouldCreate;
                result.Message = "its CRD is created by this install; not dry-run";
                return (obj, result, null);
            }
        }
        else
        {
            var refresh = false;
            try
            {
                map = await pipeline.ExecuteAsync(async token =>
                {
                    var m = await client.Mapper.FindAsync(apiVersion, kind, token, refresh).ConfigureAwait(false);
                    refresh = true;
                    return m ?? throw new KubeApiException(404, "NotFound", "the server could not find the requested resource", null, null, "GET", "/apis/" + apiVersion);
                }, ct).ConfigureAwait(false);
            }
            catch (KubeApiException e) when (e.IsResourceNotServed)
            {
                throw new RhaiiException("KubeResourceNotServed", RhaiiErrorCategory.NotInstalled,
                    $"{Label(options)}no matches for kind \"{kind}\" in version \"{apiVersion}\" ({result.Id}); ensure its CRD is installed first",
                    "Install the operator that provides this kind (or its CRDs) before applying it.", result.Id, e);
            }
        }
        var ns = map!.Namespaced ? obj.Namespace() ?? _connection.Namespace : null;
        var meta = obj.Ensure("metadata");
        if (ns is null) meta.Remove("namespace"); else meta["namespace"] = ns;
        result = new KubeObjectResult { ApiVersion = apiVersion, Kind = kind, Name = name, Namespace = ns, Phase = phase };
        var path = map.Item(ns, name);
        try
        {
            var live = await pipeline.ExecuteAsync(async token => await client.GetAsync(path, token).ConfigureAwait(false), ct).ConfigureAwait(false);
            if (live is not null && kind == "CustomResourceDefinition" && IsGkeManaged(live))
            {
                result.Action = KubeApplyAction.Skipped;
                result.Message = "managed by GKE; left alone";
                return (obj, result, map);
            }
            if (live is not null && ObjectDiff.Difference(obj, live, options.FieldManager, _secrets) is null)
            {
                result.Action = KubeApplyAction.Unchanged;
                return (obj, result, map);
            }
            var applied = await pipeline.ExecuteAsync(async token =>
                await client.ApplyAsync(path, obj, options.FieldManager, options.Force, options.DryRun, token).ConfigureAwait(false), ct).ConfigureAwait(false);
            var changed = live is null || applied.Str("metadata", "resourceVersion") != live.Str("metadata", "resourceVersion") || options.DryRun && !SameIgnoringServerFields(applied, live);
            result.Action = (live is null, changed, options.DryRun) switch
            {
                (true, _, true) => KubeApplyAction.WouldCreate,
                (true, _, false) => KubeApplyAction.Created,
                (false, false, _) => KubeApplyAction.Unchanged,
                (false, true, true) => KubeApplyAction.WouldConfigure,
                (false, true, false) => KubeApplyAction.Configured,
            };
            if (live is not null && changed) result.Message = ObjectDiff.Difference(obj, live, options.FieldManager, _secrets);
            return (obj, result, map);
        }
        catch (KubeApiException e) when (options.DryRun && e.Code == 404 && e.Message.StartsWith("namespaces \"", StringComparison.Ordinal))
        {
            result.Action = KubeApplyAction.WouldCreate;
            result.Message = "its namespace does not exist yet; not dry-run";
            return (obj, result, map);
        }
        catch (KubeApiException e)
        {
            throw e.Scrubbed(_secrets).ToRhaii($"{Label(options)}applying {result.Id}", options.Component ?? result.Id);
        }
        catch (KubeTransportException e)
        {
            throw e.ToRhaii($"{Label(options)}applying {result.Id}", options.Component ?? result.Id);
        }
    }

    private static bool SameIgnoringServerFields(JsonObject a, JsonObject b)
    {
        var ca = a.Clone();
        var cb = b.Clone();
        foreach (var c in new[] { ca, cb })
        {
            var m = c.Obj("metadata");
            m?.Remove("resourceVersion");
            m?.Remove("managedFields");
            m?.Remove("generation");
        }
        return KJson.DeepEquals(ca, cb);
    }

    /// <summary>GKE's own CRDs (Gateway API, inference) carry addon-manager markers; they are never overwritten.</summary>
    public static bool IsGkeManaged(JsonObject crd)
    {
        var labels = crd.Labels();
        var ann = crd.Annotations();
        return labels.ContainsKey("addonmanager.kubernetes.io/mode") || ann.ContainsKey("components.gke.io/component-name") ||
               labels.TryGetValue("gke-managed", out var g) && g == "true";
    }

    private async Task WaitReadyAsync(KubeClient client, ResiliencePipeline pipeline, List<(JsonObject Obj, KubeObjectResult Result, RestMapper.Mapping Map)> items,
        KubeApplyOptions options, string phase, CancellationToken ct)
    {
        var gated = items.Where(i => Readiness.HasGate(i.Obj)).ToList();
        foreach (var i in items.Except(gated)) i.Result.Ready = true;
        if (gated.Count == 0) return;
        var deadline = DateTime.UtcNow + options.Timeout;
        var started = DateTime.UtcNow;
        var notes = new Dictionary<KubeObjectResult, string?>(ReferenceEqualityComparer.Instance);
        while (true)
        {
            var pending = new List<(KubeObjectResult Result, string Why)>();
            (string Collection, string Name, string? Rv)? watch = null;
            foreach (var (obj, result, map) in gated)
            {
                if (result.Ready) continue;
                var path = map.Item(result.Namespace, result.Name);
                JsonObject? live;
                try { live = await pipeline.ExecuteAsync(async token => await client.GetAsync(path, token).ConfigureAwait(false), ct).ConfigureAwait(false); }
                catch (KubeApiException e) { throw e.ToRhaii($"{Label(options)}reading {result.Id}", options.Component ?? result.Id); }
                catch (KubeTransportException e) { throw e.ToRhaii($"{Label(options)}waiting for {result.Id}", options.Component ?? result.Id); }
                if (live is null) { pending.Add((result, "it does not exist (deleted by someone else?)")); continue; }
                var state = await Readiness.CheckAsync(client, live, ct).ConfigureAwait(false);
                notes.TryAdd(result, result.Message);
                result.Ready = state.Ready;
                result.Message = state.Ready ? notes[result] : state.Why;
                if (!state.Ready)
                {
                    pending.Add((result, state.Why));
                    watch ??= (map.Collection(result.Namespace), result.Name, live.Str("metadata", "resourceVersion"));
                }
            }
            if (pending.Count == 0) return;
            if (DateTime.UtcNow >= deadline)
            {
                var what = string.Join("; ", pending.Select(p => $"{p.Result.Id} is not ready: {p.Why}"));
                throw new RhaiiException("ComponentNotReady", RhaiiErrorCategory.OperationTimeout,
                    $"{Label(options)}timed out after {options.Timeout} waiting for {phase}: {what}",
                    "Fix what the message names (for Pending pods: node capacity, selectors, taints; for webhooks: the operator's Deployment), or raise -Timeout; re-running continues where this stopped.",
                    options.Component ?? pending[0].Result.Id);
            }
            _log.Progress(options.Component ?? "apply", $"{phase}: waiting for {pending.Count} object(s) ({(int)(DateTime.UtcNow - started).TotalSeconds}s): {pending[0].Result.Id}: {pending[0].Why}", -1);
            await PauseAsync(client, watch, options.PollInterval, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Waits until the watched object changes (or is deleted), or <paramref name="poll"/> at the latest; dropped and expired
    /// watches are handled by <see cref="KubeWatch"/> and counted in the result's TransientErrors (WatchDropped, WatchExpired).
    /// </summary>
    private async Task PauseAsync(KubeClient client, (string Collection, string Name, string? Rv)? watch, TimeSpan poll, CancellationToken ct)
    {
        if (watch is not { } w || w.Rv is null)
        {
            await Task.Delay(poll, ct).ConfigureAwait(false);
            return;
        }
        var outcome = await KubeWatch.WaitForChangeAsync(client, w.Collection, w.Name, w.Rv, poll, CountTransient, ct).ConfigureAwait(false);
        if (outcome == KubeWatch.Outcome.Unavailable) await Task.Delay(poll, ct).ConfigureAwait(false);
    }

    private void CountTransient(string tag)
    {
        lock (_transient) _transient[tag] = _transient.TryGetValue(tag, out var n) ? n + 1 : 1;
    }

    /// <summary>
    /// Deletes objects in reverse phase order (custom resources first, CRDs and namespaces last), waiting
    /// for each phase to be gone so controllers can run their finalizers before they are removed.
    /// </summary>
    public async Task<KubeApplyResult> DeleteAsync(IEnumerable<JsonObject> objects, KubeApplyOptions options, CancellationToken ct)
    {
        try { return await DeleteCoreAsync(objects, options, ct).ConfigureAwait(false); }
        catch (KubeTransportException e) { throw e.ToRhaii(options.Component is { Length: > 0 } c ? c : null, options.Component); }
        catch (KubeApiException e) { throw e.ToRhaii(options.Component is { Length: > 0 } c ? c : null, options.Component); }
    }

    private async Task<KubeApplyResult> DeleteCoreAsync(IEnumerable<JsonObject> objects, KubeApplyOptions options, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var client = KubeClients.For(_connection);
        var startMutating = client.MutatingRequests;
        _retries = 0;
        _transient.Clear();
        var pipeline = Pipeline(options, client);
        var list = objects.Select(o => o.Clone()).ToList();
        var crdKinds = GatedKinds(list);
        var results = new List<KubeObjectResult>();
        foreach (var phase in Enumerable.Reverse(PhaseOrder))
        {
            var items = list.Where(o => PhaseOf(o, crdKinds) == phase).Reverse().ToList();
            var waiting = new List<(KubeObjectResult Result, string Path)>();
            foreach (var obj in items)
            {
                var apiVersion = obj.Str("apiVersion")!;
                var kind = obj.Str("kind")!;
                var r = new KubeObjectResult { ApiVersion = apiVersion, Kind = kind, Name = obj.Name(), Namespace = obj.Namespace(), Phase = phase };
                results.Add(r);
                if (kind == "CustomResourceDefinition" && options.SkipCrds.Contains(obj.Name())) { r.Action = KubeApplyAction.Skipped; r.Message = "left alone (managed outside this install)"; continue; }
                var map = await client.Mapper.FindAsync(apiVersion, kind, ct).ConfigureAwait(false);
                if (map is null) { r.Action = KubeApplyAction.Absent; r.Message = "kind not served"; continue; }
                var ns = map.Namespaced ? obj.Namespace() ?? _connection.Namespace : null;
                r = new KubeObjectResult { ApiVersion = apiVersion, Kind = kind, Name = obj.Name(), Namespace = ns, Phase = phase };
                results[^1] = r;
                var path = map.Item(ns, obj.Name());
                try
                {
                    var live = await pipeline.ExecuteAsync(async t => await client.GetAsync(path, t).ConfigureAwait(false), ct).ConfigureAwait(false);
                    if (live is null) { r.Action = KubeApplyAction.Absent; continue; }
                    if (kind == "CustomResourceDefinition" && IsGkeManaged(live)) { r.Action = KubeApplyAction.Skipped; r.Message = "managed by GKE; left alone"; continue; }
                    if (live.Str("metadata", "deletionTimestamp") is null)
                        await pipeline.ExecuteAsync(async t => await client.DeleteAsync(path, "Background", options.DryRun, t).ConfigureAwait(false), ct).ConfigureAwait(false);
                    r.Action = options.DryRun ? KubeApplyAction.WouldDelete : KubeApplyAction.Deleted;
                    _log.Verbose($"{Label(options)}{r.Id} {r.Action}");
                    if (!options.DryRun) waiting.Add((r, path));
                }
                catch (KubeApiException e) { throw e.ToRhaii($"{Label(options)}deleting {r.Id}", options.Component ?? r.Id); }
                catch (KubeTransportException e) { throw e.ToRhaii($"{Label(options)}deleting {r.Id}", options.Component ?? r.Id); }
            }
            if (!options.Wait || waiting.Count == 0) continue;
            var deadline = DateTime.UtcNow + options.Timeout;
            while (true)
            {
                var still = new List<(KubeObjectResult, JsonObject)>();
                foreach (var (r, path) in waiting)
                {
                    var live = await pipeline.ExecuteAsync(async t => await client.GetAsync(path, t).ConfigureAwait(false), ct).ConfigureAwait(false);
                    if (live is not null) still.Add((r, live));
                }
                if (still.Count == 0) break;
                if (DateTime.UtcNow >= deadline)
                {
                    var what = string.Join("; ", still.Select(s =>
                    {
                        var fin = s.Item2.Arr("metadata", "finalizers")?.Select(f => f?.ToString()).ToList() ?? [];
                        return fin.Count > 0 ? $"{s.Item1.Id} still has finalizers {string.Join(", ", fin)}" : $"{s.Item1.Id} is still terminating";
                    }));
                    throw new RhaiiException("ComponentNotRemoved", RhaiiErrorCategory.OperationTimeout,
                        $"{Label(options)}timed out after {options.Timeout} waiting for {phase} to be deleted: {what}",
                        "A controller that owns these finalizers must be running to release them; check it, or remove the finalizers by hand as a last resort.", options.Component);
                }
                _log.Progress(options.Component ?? "delete", $"{phase}: waiting for {still.Count} object(s) to go", -1);
                var first = still[0];
                var firstPath = waiting.First(w => ReferenceEquals(w.Result, first.Item1)).Path;
                await PauseAsync(client, (firstPath[..firstPath.LastIndexOf('/')], first.Item1.Name, first.Item2.Str("metadata", "resourceVersion")), options.PollInterval, ct).ConfigureAwait(false);
            }
        }
        return new KubeApplyResult
        {
            Component = options.Component, Objects = results, DryRun = options.DryRun, MutatingRequests = client.MutatingRequests - startMutating,
            Retries = _retries, TransientErrors = new Dictionary<string, int>(_transient), Duration = sw.Elapsed,
        };
    }
}
