using System.Globalization;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace RhaiiGke.Sandbox.KubeApi;

/// <summary>A committed change, as watchers and controllers see it. Objects are never mutated after commit.</summary>
internal sealed record WatchEvent(long Rv, string Type, string StoreKey, string? Namespace, JsonObject Object, JsonObject? Old);

/// <summary>How a write is made: who, dry run, and whether it comes from a simulated controller (no admission, no faults).</summary>
internal sealed record WriteOptions(string Manager, bool DryRun = false, bool Internal = false, string FieldValidation = "Warn")
{
    /// <summary>Warnings for the response (Warning: 299 headers), e.g. unknown fields dropped.</summary>
    public List<string> Warnings { get; } = [];

    public static WriteOptions Controller(string manager) => new(manager, Internal: true);
}

internal sealed record DeleteOptions(string? PropagationPolicy = null, string? PreconditionUid = null, string? PreconditionRv = null);

internal sealed class Watcher
{
    public required string StoreKey { get; init; }
    public Channel<WatchEvent> Channel { get; } = System.Threading.Channels.Channel.CreateUnbounded<WatchEvent>(new UnboundedChannelOptions { SingleReader = true });
}

/// <summary>
/// The simulated apiserver's state and REST semantics. Every public member must be called with
/// <see cref="Gate"/> held; stored objects are immutable snapshots (clone before changing).
/// </summary>
internal sealed partial class SimCore
{
    public readonly object Gate = new();
    public ResourceRegistry Registry { get; } = new();
    public KubeApiSimulatorOptions Options { get; }

    private readonly Dictionary<string, SortedDictionary<string, JsonObject>> _objects = new(StringComparer.Ordinal);
    private readonly LinkedList<WatchEvent> _history = new();
    private readonly List<Watcher> _watchers = [];
    private long _rv = 1000;
    private long _oldestRv = 1000;
    private long _uidCounter;

    /// <summary>Called under the lock after every commit (controllers enqueue work here; must be quick).</summary>
    public event Action<WatchEvent>? Committed;

    public long WebhookFailures;

    public SimCore(KubeApiSimulatorOptions options)
    {
        Options = options;
        if (!string.IsNullOrEmpty(options.CrdSchemaPath))
        {
            Schemas = SchemaLibrary.Load(options.CrdSchemaPath, options.KubernetesVersion);
            Schemas.Warm();
            Registry.SchemaOverride = (crd, version) => Schemas.CrdSchema(crd, version);
        }
    }

    public long CurrentRv => _rv;

    public static string Now() => DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string Key(string? ns, string name) => (ns ?? "") + "/" + name;

    // ------------------------------------------------------------------ reads

    public JsonObject? Peek(ResourceType t, string? ns, string name) =>
        _objects.TryGetValue(t.StoreKey, out var m) && m.TryGetValue(Key(t.Namespaced ? ns : null, name), out var o) ? o : null;

    public JsonObject? Peek(string group, string plural, string? ns, string name) =>
        _objects.TryGetValue(group + "/" + plural, out var m) && m.TryGetValue(Key(ns, name), out var o) ? o : null;

    public IEnumerable<JsonObject> PeekAll(ResourceType t, string? ns = null) => PeekKey(t.StoreKey, t.Namespaced ? ns : null);

    public IEnumerable<JsonObject> PeekAll(string group, string plural, string? ns = null) => PeekKey(group + "/" + plural, ns);

    private IEnumerable<JsonObject> PeekKey(string storeKey, string? ns)
    {
        if (!_objects.TryGetValue(storeKey, out var m)) return [];
        if (ns is null) return m.Values.ToList();
        var prefix = ns + "/";
        return m.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).Select(kv => kv.Value).ToList();
    }

    public IEnumerable<string> StoreKeys => _objects.Keys.ToList();

    public IEnumerable<JsonObject> PeekStore(string storeKey) => _objects.TryGetValue(storeKey, out var m) ? m.Values.ToList() : [];

    /// <summary>The object as served at the type's version (no conversion: apiVersion rewritten, as with strategy None).</summary>
    public static JsonObject Render(ResourceType t, JsonObject stored)
    {
        var c = stored.Clone();
        var r = new JsonObject { ["apiVersion"] = t.ApiVersion, ["kind"] = t.Kind };
        foreach (var (k, v) in c.ToList())
        {
            if (k is "apiVersion" or "kind") continue;
            c.Remove(k);
            r[k] = v;
        }
        return r;
    }

    // ------------------------------------------------------------------ commit and watch

    /// <summary>etcd's --max-request-bytes default (1.5 MiB): larger objects are refused by the store.</summary>
    public const int EtcdMaxRequestBytes = 1572864;

    private void Commit(ResourceType t, string type, JsonObject obj, JsonObject? old)
    {
        if (type != "DELETED" && obj.ToJsonString().Length > EtcdMaxRequestBytes)
            throw new StatusError(500, "", "etcdserver: request is too large");
        _rv++;
        var meta = obj.Ensure("metadata");
        meta["resourceVersion"] = _rv.ToString(CultureInfo.InvariantCulture);
        var ns = t.Namespaced ? obj.Namespace() : null;
        var key = Key(ns, obj.Name());
        if (!_objects.TryGetValue(t.StoreKey, out var m)) { m = new SortedDictionary<string, JsonObject>(StringComparer.Ordinal); _objects[t.StoreKey] = m; }
        Materialize(obj);
        if (type == "DELETED") m.Remove(key);
        else m[key] = obj;
        var ev = new WatchEvent(_rv, type, t.StoreKey, ns, obj, old);
        _history.AddLast(ev);
        while (_history.Count > Options.WatchHistory) { _oldestRv = _history.First!.Value.Rv; _history.RemoveFirst(); }
        foreach (var w in _watchers)
            if (w.StoreKey == t.StoreKey) w.Channel.Writer.TryWrite(ev);
        Committed?.Invoke(ev);
    }

    /// <summary>Forces lazily parsed JSON nodes to build their children so concurrent readers are safe.</summary>
    public static void Materialize(JsonNode? n)
    {
        switch (n)
        {
            case JsonObject o: foreach (var (_, v) in o) Materialize(v); break;
            case JsonArray a: foreach (var v in a) Materialize(v); break;
        }
    }

    /// <summary>Registers a watcher. Returns the events to send first: synthetic ADDED for resourceVersion 0/empty, else history after rv.</summary>
    public (Watcher Watcher, List<WatchEvent> Initial) Watch(ResourceType t, string? ns, string? resourceVersion)
    {
        var initial = new List<WatchEvent>();
        if (string.IsNullOrEmpty(resourceVersion) || resourceVersion == "0")
        {
            foreach (var o in PeekAll(t, ns)) initial.Add(new WatchEvent(long.Parse(o.Str("metadata", "resourceVersion") ?? "0", CultureInfo.InvariantCulture), "ADDED", t.StoreKey, o.Namespace(), o, null));
        }
        else
        {
            if (!long.TryParse(resourceVersion, NumberStyles.Integer, CultureInfo.InvariantCulture, out var rv))
                throw StatusError.BadRequest($"invalid resource version: {resourceVersion}");
            if (rv < _oldestRv)
                throw StatusError.Gone($"too old resource version: {rv} ({_oldestRv})");
            foreach (var ev in _history)
                if (ev.Rv > rv && ev.StoreKey == t.StoreKey) initial.Add(ev);
        }
        var w = new Watcher { StoreKey = t.StoreKey };
        _watchers.Add(w);
        return (w, initial);
    }

    public void Unwatch(Watcher w)
    {
        _watchers.Remove(w);
        w.Channel.Writer.TryComplete();
    }

    public void CloseAllWatches()
    {
        foreach (var w in _watchers) w.Channel.Writer.TryComplete();
        _watchers.Clear();
    }

    // ------------------------------------------------------------------ writes

    private string NewUid()
    {
        _uidCounter++;
        return Guid.NewGuid().ToString();
    }

    private void CheckKind(ResourceType t, JsonObject body, bool requireKind)
    {
        var kind = body.Str("kind");
        var apiVersion = body.Str("apiVersion");
        // like the apiserver's decoder, the request path supplies a missing apiVersion and kind
        _ = requireKind;
        if (kind is not null && kind != t.Kind)
            throw StatusError.BadRequest($"{kind} in version \"{VersionOf(apiVersion)}\" cannot be handled as a {t.Kind}: no kind \"{kind}\" is registered for version \"{apiVersion}\" in scheme \"pkg/runtime/scheme.go:100\"");
        if (apiVersion is not null)
        {
            var group = apiVersion.Contains('/') ? apiVersion[..apiVersion.IndexOf('/')] : "";
            if (group != t.Group)
                throw StatusError.BadRequest($"the API version in the data ({apiVersion}) does not match the expected API version ({t.ApiVersion})");
        }
        body["apiVersion"] = t.ApiVersion;
        body["kind"] = t.Kind;
    }

    private static string VersionOf(string? apiVersion) => apiVersion is null ? "" : apiVersion.Contains('/') ? apiVersion[(apiVersion.IndexOf('/') + 1)..] : apiVersion;

    private static readonly char[] GenChars = "bcdfghjklmnpqrstvwxz2456789".ToCharArray();

    public static string RandomSuffix(int n = 5) => new(Enumerable.Range(0, n).Select(_ => GenChars[Random.Shared.Next(GenChars.Length)]).ToArray());

    /// <summary>POST: create an object.</summary>
    public JsonObject Create(ResourceType t, string? urlNs, JsonObject body, WriteOptions o, IReadOnlyList<ManagedEntry>? presetManaged = null)
    {
        CheckKind(t, body, requireKind: !o.Internal);
        var meta = body.Ensure("metadata");
        string? ns = null;
        if (t.Namespaced)
        {
            var bodyNs = meta.Str("namespace");
            if (!string.IsNullOrEmpty(bodyNs) && !string.IsNullOrEmpty(urlNs) && bodyNs != urlNs)
                throw StatusError.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
            ns = string.IsNullOrEmpty(urlNs) ? (string.IsNullOrEmpty(bodyNs) ? "default" : bodyNs) : urlNs;
            meta["namespace"] = ns;
        }
        else meta.Remove("namespace");

        var name = meta.Str("name");
        if (string.IsNullOrEmpty(name))
        {
            var gen = meta.Str("generateName");
            if (string.IsNullOrEmpty(gen))
                throw StatusError.Invalid(t, "", [("metadata.name", "FieldValueRequired", "Required value: name or generateName is required")]);
            name = gen + RandomSuffix();
            meta["name"] = name;
        }

        if (t.Namespaced)
        {
            var nsObj = Peek("", "namespaces", null, ns!);
            if (nsObj is null) throw StatusError.NotFound("namespaces", ns!);
            if (nsObj.Str("metadata", "deletionTimestamp") is not null)
                throw new StatusError(403, "Forbidden",
                    $"{t.GroupResource} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                    new JsonObject
                    {
                        ["name"] = name, ["group"] = t.Group, ["kind"] = t.Plural,
                        ["causes"] = new JsonArray(new JsonObject { ["reason"] = "NamespaceTerminating", ["message"] = $"namespace {ns} is being terminated", ["field"] = "metadata.namespace" }),
                    });
        }
        if (Peek(t, ns, name) is not null) throw StatusError.AlreadyExists(t, name);

        foreach (var f in new[] { "uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "selfLink" }) meta.Remove(f);
        if (t.HasStatus && !o.Internal && t.Kind != "Namespace") body.Remove("status");

        if (!o.Internal) PruneUnknown(t, body, o);
        Defaulting.Apply(this, t, body, null);
        Validation.Validate(this, t, body, null);
        if (!o.Internal) Admit("CREATE", t, body, null, o, null);

        meta["uid"] = NewUid();
        meta["creationTimestamp"] = Now();
        if (t.HasGeneration) meta["generation"] = 1;
        if (presetManaged is not null) meta["managedFields"] = ManagedEntry.Write(presetManaged);
        else
        {
            meta.Remove("managedFields");
            ServerSideApply.RecordUpdate(null, body, o.Manager, t.ApiVersion, Now(), null, t.HasStatus);
        }
        if (o.DryRun) return Render(t, body);
        Commit(t, "ADDED", body, null);
        return Render(t, body);
    }

    /// <summary>PUT on the object or its status subresource.</summary>
    public JsonObject Update(ResourceType t, string? ns, string name, JsonObject body, WriteOptions o, string? subresource)
    {
        CheckKind(t, body, requireKind: !o.Internal);
        var bodyName = body.Name();
        if (bodyName != name)
            throw StatusError.BadRequest($"the name of the object ({bodyName}) does not match the name on the URL ({name})");
        if (t.Namespaced)
        {
            var bns = body.Namespace();
            if (!string.IsNullOrEmpty(bns) && bns != ns) throw StatusError.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
        }
        var existing = Peek(t, ns, name) ?? throw StatusError.NotFound(t, name);
        var rv = body.Str("metadata", "resourceVersion");
        if (!string.IsNullOrEmpty(rv) && rv != existing.Str("metadata", "resourceVersion")) throw StatusError.Conflict(t, name);

        JsonObject next;
        if (subresource == "status")
        {
            next = existing.Clone();
            next.Remove("status");
            if (body["status"] is { } st) next["status"] = st.DeepClone();
        }
        else if (subresource is "finalize" && t.Kind == "Namespace")
        {
            next = existing.Clone();
            next.Ensure("spec")["finalizers"] = body.At("spec", "finalizers")?.DeepClone() ?? new JsonArray();
        }
        else
        {
            next = body.Clone();
            if (t.HasStatus)
            {
                next.Remove("status");
                if (existing["status"] is { } st) next["status"] = st.DeepClone();
            }
        }
        CarryMetadata(existing, next);
        return FinishUpdate(t, existing, next, o, subresource, recordManager: true);
    }

    private static void CarryMetadata(JsonObject existing, JsonObject next)
    {
        var em = existing.Obj("metadata")!;
        var nm = next.Ensure("metadata");
        foreach (var f in new[] { "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "namespace", "name", "managedFields" })
        {
            nm.Remove(f);
            if (em[f] is { } v) nm[f] = v.DeepClone();
        }
        nm.Remove("resourceVersion");
        if (em["resourceVersion"] is { } rv) nm["resourceVersion"] = rv.DeepClone();
    }

    /// <summary>
    /// The decoder's unknown-field handling: fields the schema does not declare (a CRD's structural schema,
    /// or the Kubernetes OpenAPI for built-in kinds when the sandbox has it) are dropped; Strict fails the
    /// request (400), Warn (the default) adds a Warning header per field, Ignore drops them silently.
    /// A main-resource write keeps the stored status, so only a status write prunes status.
    /// </summary>
    private void PruneUnknown(ResourceType t, JsonObject obj, WriteOptions o, string? subresource = null)
    {
        var keepStatus = subresource != "status" && t.HasStatus ? obj["status"] : null;
        List<string> removed;
        if (t.IsCustom)
        {
            if (t.Schema is null) return;
            if (keepStatus is not null) obj.Remove("status");
            removed = SchemaValidator.Prune(obj, t.Schema, isRoot: true).Select(r => r.TrimStart('.')).ToList();
            if (keepStatus is not null) obj["status"] = keepStatus;
            // a custom resource's metadata is an ObjectMeta, decoded as for any kind
            if (Schemas is not null) removed.InsertRange(0, TypedDecoder.DecodeField(Schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", obj, "metadata", t));
        }
        else
        {
            if (Schemas?.DefinitionFor(t.Group, t.Version, t.Kind) is not { } def) return;
            removed = TypedDecoder.Decode(Schemas, def, obj, t);
        }
        if (removed.Count == 0) return;
        var strict = o.FieldValidation == "Strict" || Options.ForceStrictFieldValidation;
        RecordFinding($"{(strict ? "rejected" : o.FieldValidation == "Ignore" ? "ignored" : "warned")} {t.Kind} {obj.Namespace()}/{obj.Name()} ({o.Manager}): " +
            string.Join(", ", removed.Select(r => $"unknown field \"{r}\"")));
        if (strict)
            throw StatusError.BadRequest($"{t.Kind} in version \"{t.Version}\" cannot be handled as a {t.Kind}: strict decoding error: " +
                string.Join(", ", removed.Select(r => $"unknown field \"{r}\"")));
        if (o.FieldValidation != "Ignore") foreach (var r in removed) o.Warnings.Add($"unknown field \"{r}\"");
    }

    /// <summary>Unknown fields and rejections seen on client writes (bounded), for tests that assert a client sends only declared fields.</summary>
    public List<string> ValidationFindings { get; } = [];

    public void RecordFinding(string finding)
    {
        if (ValidationFindings.Count < 1000) ValidationFindings.Add(finding);
    }

    /// <summary>The upstream schemas this sandbox validates with, null for the stand-ins.</summary>
    public SchemaLibrary? Schemas { get; set; }

    /// <summary>
    /// Server-side apply converts the applied configuration to a typed object first: a field the schema
    /// does not declare fails the request whatever fieldValidation says (kube-apiserver 1.32 answers 500 with
    /// structured-merge-diff's message).
    /// </summary>
    private void CheckTypedPatch(ResourceType t, string? ns, string name, JsonObject applied)
    {
        List<string> unknown;
        var probe = applied.Clone();
        probe.Remove("status");
        if (t.IsCustom)
        {
            if (t.Schema is null) return;
            unknown = SchemaValidator.Prune(probe, t.Schema, isRoot: true, smd: true);
        }
        else
        {
            if (Schemas?.DefinitionFor(t.Group, t.Version, t.Kind) is not { } def) return;
            unknown = TypedDecoder.Decode(Schemas, def, probe, t, smd: true).Select(p => "." + p).ToList();
        }
        if (unknown.Count == 0) return;
        RecordFinding($"rejected apply {t.Kind} {ns}/{name}: " + string.Join(", ", unknown.Select(u => u + ": field not declared in schema")));
        var what = unknown.Count == 1 ? $"{unknown[0]}: field not declared in schema"
            : "errors:\n" + string.Join("\n", unknown.Select(u => $"  {u}: field not declared in schema"));
        throw new StatusError(500, "", $"failed to create typed patch object ({(t.Namespaced ? ns : "")}/{name}; {t.ApiVersion}, Kind={t.Kind}): {what}");
    }

    private JsonObject FinishUpdate(ResourceType t, JsonObject existing, JsonObject next, WriteOptions o, string? subresource, bool recordManager)
    {
        if (!o.Internal) PruneUnknown(t, next, o, subresource);
        Defaulting.Apply(this, t, next, existing);
        Validation.Validate(this, t, next, existing);
        if (!o.Internal) Admit("UPDATE", t, next, existing, o, subresource);

        if (t.HasGeneration && SpecChanged(existing, next))
            next.Ensure("metadata")["generation"] = (existing.Long("metadata", "generation") ?? 1) + 1;

        if (recordManager) ServerSideApply.RecordUpdate(existing, next, o.Manager, t.ApiVersion, Now(), subresource, t.HasStatus);

        if (SameObject(existing, next)) return Render(t, existing);
        if (o.DryRun) return Render(t, next);

        var finalizers = next.Arr("metadata", "finalizers");
        if (next.Str("metadata", "deletionTimestamp") is not null && (finalizers is null || finalizers.Count == 0)
            && !(t.Kind == "Namespace" && (next.Arr("spec", "finalizers")?.Count ?? 0) > 0))
        {
            Commit(t, "DELETED", next, existing);
            return Render(t, next);
        }
        Commit(t, "MODIFIED", next, existing);
        return Render(t, next);
    }

    private static bool SpecChanged(JsonObject a, JsonObject b)
    {
        foreach (var k in a.Select(x => x.Key).Union(b.Select(x => x.Key)).Distinct())
        {
            if (k is "metadata" or "status" or "apiVersion" or "kind") continue;
            if (!ServerJson.DeepEquals(a[k], b[k])) return true;
        }
        return false;
    }

    private static bool SameObject(JsonObject a, JsonObject b)
    {
        var ca = a.Clone();
        var cb = b.Clone();
        foreach (var c in new[] { ca, cb })
        {
            var m = c.Obj("metadata");
            m?.Remove("resourceVersion");
            if (m?["managedFields"] is JsonArray mf)
                foreach (var e in mf.OfType<JsonObject>()) e.Remove("time");
        }
        return ServerJson.DeepEquals(ca, cb);
    }

    /// <summary>PATCH with json-patch, merge-patch or strategic-merge-patch.</summary>
    public JsonObject Patch(ResourceType t, string? ns, string name, string contentType, string body, WriteOptions o, string? subresource)
    {
        var existing = Peek(t, ns, name) ?? throw StatusError.NotFound(t, name);
        JsonNode? patched;
        try
        {
            var current = Render(t, existing);
            if (contentType.StartsWith("application/json-patch+json", StringComparison.Ordinal))
            {
                var ops = JsonNode.Parse(body) as JsonArray ?? throw StatusError.BadRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
                patched = ServerJson.JsonPatch(current, ops);
            }
            else if (contentType.StartsWith("application/merge-patch+json", StringComparison.Ordinal))
            {
                patched = ServerJson.MergePatch(current, JsonNode.Parse(body));
            }
            else if (contentType.StartsWith("application/strategic-merge-patch+json", StringComparison.Ordinal))
            {
                if (t.IsCustom) throw StatusError.UnsupportedMediaType(contentType);
                patched = ServerJson.StrategicMerge(current, JsonNode.Parse(body));
            }
            else throw StatusError.UnsupportedMediaType(contentType);
        }
        catch (InvalidOperationException ex) { throw new StatusError(422, "Invalid", ex.Message); }
        catch (System.Text.Json.JsonException ex) { throw StatusError.BadRequest("error decoding patch: " + ex.Message); }
        if (patched is not JsonObject po) throw StatusError.BadRequest("patch did not produce an object");
        if (po.Name() != name) throw StatusError.BadRequest($"the name of the object ({po.Name()}) does not match the name on the URL ({name})");
        var rv = po.Str("metadata", "resourceVersion");
        if (!string.IsNullOrEmpty(rv) && rv != existing.Str("metadata", "resourceVersion")) throw StatusError.Conflict(t, name);

        JsonObject next;
        if (subresource == "status")
        {
            next = existing.Clone();
            next.Remove("status");
            if (po["status"] is { } st) next["status"] = st.DeepClone();
        }
        else
        {
            next = po;
            if (t.HasStatus)
            {
                next.Remove("status");
                if (existing["status"] is { } st) next["status"] = st.DeepClone();
            }
        }
        CarryMetadata(existing, next);
        return FinishUpdate(t, existing, next, o, subresource, recordManager: true);
    }

    /// <summary>PATCH application/apply-patch+yaml: server-side apply.</summary>
    public (JsonObject Result, bool Created) Apply(ResourceType t, string? ns, string name, JsonObject applied, bool force, WriteOptions o, string? subresource)
    {
        if (string.IsNullOrEmpty(applied.Str("apiVersion")) || string.IsNullOrEmpty(applied.Str("kind")))
            throw StatusError.BadRequest("error decoding YAML: " + (string.IsNullOrEmpty(applied.Str("kind")) ? "Object 'Kind' is missing" : "Object 'apiVersion' is missing"));
        CheckKind(t, applied, true);
        if (applied.Name() != name)
            throw StatusError.BadRequest($"the name of the object ({applied.Name()}) does not match the name on the URL ({name})");
        var m = applied.Obj("metadata");
        foreach (var f in new[] { "resourceVersion", "managedFields", "uid", "creationTimestamp" }) m?.Remove(f);
        if (t.Namespaced)
        {
            var bns = applied.Namespace();
            if (!string.IsNullOrEmpty(bns) && bns != ns) throw StatusError.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
        }
        CheckTypedPatch(t, ns, name, applied);
        var existing = Peek(t, ns, name);
        if (existing is null)
        {
            if (subresource is not null) throw StatusError.NotFound(t, name);
            var (created, _) = ServerSideApply.Apply(null, applied, o.Manager, force, t.ApiVersion, Now(), null, t.HasStatus);
            var entries = ManagedEntry.Read(created);
            if (t.HasStatus) created!.Remove("status");
            var stripped = created!.Clone();
            stripped.Obj("metadata")?.Remove("managedFields");
            // the apply entry only covers what the applier sent; defaults are nobody's
            return (Create(t, ns, stripped, o, entries), true);
        }

        var live = existing.Clone();
        var (merged, conflicts) = ServerSideApply.Apply(live, applied, o.Manager, force, t.ApiVersion, Now(), subresource, t.HasStatus);
        if (merged is null)
        {
            var causes = new JsonArray();
            foreach (var c in conflicts)
                causes.Add(new JsonObject { ["reason"] = "FieldManagerConflict", ["message"] = $"conflict with \"{c.Manager}\" using {c.ApiVersion}", ["field"] = c.Path });
            string msg;
            if (conflicts.Count == 1) msg = $"Apply failed with 1 conflict: conflict with \"{conflicts[0].Manager}\" using {conflicts[0].ApiVersion}: {conflicts[0].Path}";
            else
                msg = $"Apply failed with {conflicts.Count} conflicts: " + string.Join("\n", conflicts.GroupBy(c => (c.Manager, c.ApiVersion)).OrderBy(g => g.Key.Manager)
                    .Select(g => $"conflicts with \"{g.Key.Manager}\" using {g.Key.ApiVersion}:\n- " + string.Join("\n- ", g.Select(c => c.Path))));
            throw new StatusError(409, "Conflict", msg, new JsonObject { ["causes"] = causes });
        }
        JsonObject next;
        if (subresource == "status")
        {
            next = existing.Clone();
            next.Remove("status");
            if (merged["status"] is { } st) next["status"] = st.DeepClone();
            next.Ensure("metadata")["managedFields"] = merged.At("metadata", "managedFields")?.DeepClone();
        }
        else
        {
            next = merged;
            if (t.HasStatus)
            {
                next.Remove("status");
                if (existing["status"] is { } st) next["status"] = st.DeepClone();
            }
        }
        var mf = next.At("metadata", "managedFields")?.DeepClone();
        CarryMetadata(existing, next);
        next.Ensure("metadata")["managedFields"] = mf;
        return (FinishUpdate(t, existing, next, o, subresource, recordManager: false), false);
    }

    /// <summary>DELETE: finalizers, propagation (Background, Foreground, Orphan), namespaces go Terminating.</summary>
    public JsonObject Delete(ResourceType t, string? ns, string name, WriteOptions o, DeleteOptions d)
    {
        var existing = Peek(t, ns, name) ?? throw StatusError.NotFound(t, name);
        if (d.PreconditionUid is { } uid && uid != existing.Str("metadata", "uid"))
            throw new StatusError(409, "Conflict", $"Operation cannot be fulfilled on {t.GroupResource} \"{name}\": Precondition failed: UID in precondition: {uid}, UID in object meta: {existing.Str("metadata", "uid")}");
        if (d.PreconditionRv is { } prv && prv != existing.Str("metadata", "resourceVersion"))
            throw new StatusError(409, "Conflict", $"Operation cannot be fulfilled on {t.GroupResource} \"{name}\": Precondition failed: ResourceVersion in precondition: {prv}, ResourceVersion in object meta: {existing.Str("metadata", "resourceVersion")}");
        if (!o.Internal) Admit("DELETE", t, existing, existing, o, null);
        if (o.DryRun) return Render(t, existing);

        var policy = d.PropagationPolicy ?? "Background";
        var existingUid = existing.Str("metadata", "uid") ?? "";
        if (policy == "Orphan") Orphan(existingUid);

        var next = existing.Clone();
        var meta = next.Ensure("metadata");
        var finalizers = meta["finalizers"] as JsonArray ?? new JsonArray();
        if (policy == "Foreground" && HasDependents(existingUid) && !finalizers.Any(f => f?.ToString() == "foregroundDeletion"))
        {
            finalizers.Add("foregroundDeletion");
            meta["finalizers"] = finalizers;
        }
        if (t.Kind == "Namespace")
        {
            if (meta["deletionTimestamp"] is null)
            {
                meta["deletionTimestamp"] = Now();
                meta["deletionGracePeriodSeconds"] = 0;
                next.Ensure("status")["phase"] = "Terminating";
                Commit(t, "MODIFIED", next, existing);
            }
            return Render(t, Peek(t, ns, name) ?? next);
        }
        if (finalizers.Count > 0)
        {
            if (meta["deletionTimestamp"] is null)
            {
                meta["deletionTimestamp"] = Now();
                meta["deletionGracePeriodSeconds"] = 0;
                Commit(t, "MODIFIED", next, existing);
            }
            else if (!ServerJson.DeepEquals(existing.At("metadata", "finalizers"), finalizers)) Commit(t, "MODIFIED", next, existing);
            return Render(t, Peek(t, ns, name) ?? next);
        }
        meta["deletionTimestamp"] ??= Now();
        meta["deletionGracePeriodSeconds"] ??= 0;
        Commit(t, "DELETED", next, existing);
        if (t.IsCustom || t.Kind is "Pod" or "Service" or "CustomResourceDefinition") return Render(t, next);
        return new JsonObject
        {
            ["kind"] = "Status", ["apiVersion"] = "v1", ["metadata"] = new JsonObject(), ["status"] = "Success",
            ["details"] = new JsonObject { ["name"] = name, ["group"] = t.Group, ["kind"] = t.Plural, ["uid"] = existingUid },
        };
    }

    /// <summary>Removes an object now, whatever its finalizers (used by the namespace and CRD cleanup once finalizers are gone).</summary>
    public void ForceRemove(ResourceType t, JsonObject existing)
    {
        var next = existing.Clone();
        next.Ensure("metadata")["deletionTimestamp"] ??= Now();
        Commit(t, "DELETED", next, existing);
    }

    public bool HasDependents(string uid) =>
        _objects.Values.SelectMany(m => m.Values).Any(o => OwnedBy(o, uid));

    public static bool OwnedBy(JsonObject o, string uid) =>
        o.Arr("metadata", "ownerReferences")?.Any(r => r.Str("uid") == uid) == true;

    private void Orphan(string uid)
    {
        foreach (var storeKey in _objects.Keys.ToList())
        {
            var t = Registry.ByStoreKey(storeKey);
            if (t is null) continue;
            foreach (var o in _objects[storeKey].Values.ToList().Where(o => OwnedBy(o, uid)))
            {
                var n = o.Clone();
                var refs = n.Arr("metadata", "ownerReferences")!;
                foreach (var r in refs.Where(r => r.Str("uid") == uid).ToList()) refs.Remove(r);
                Commit(t, "MODIFIED", n, o);
            }
        }
    }

    /// <summary>Writes an object as a controller would: create or replace, status included, no admission.</summary>
    public JsonObject Upsert(ResourceType t, JsonObject obj, string manager)
    {
        var existing = Peek(t, obj.Namespace(), obj.Name());
        if (existing is null)
        {
            var status = obj["status"]?.DeepClone();
            var created = Create(t, obj.Namespace(), obj.Clone(), WriteOptions.Controller(manager));
            if (status is not null) return WriteStatus(t, created.Namespace(), created.Name(), status, manager);
            return created;
        }
        var next = existing.Clone();
        foreach (var (k, v) in obj)
        {
            if (k is "metadata") continue;
            next.Remove(k);
            next[k] = v?.DeepClone();
        }
        var nm = next.Ensure("metadata");
        foreach (var f in new[] { "labels", "annotations", "ownerReferences", "finalizers" })
            if (obj.At("metadata", f) is { } v) { nm.Remove(f); nm[f] = v.DeepClone(); }
        return FinishUpdate(t, existing, next, WriteOptions.Controller(manager), null, recordManager: true);
    }

    /// <summary>Replaces an object's status as a controller (no-op when equal).</summary>
    public JsonObject WriteStatus(ResourceType t, string? ns, string name, JsonNode status, string manager)
    {
        var existing = Peek(t, ns, name) ?? throw StatusError.NotFound(t, name);
        if (ServerJson.DeepEquals(existing["status"], status)) return Render(t, existing);
        var next = existing.Clone();
        next.Remove("status");
        next["status"] = status.DeepClone();
        return FinishUpdate(t, existing, next, WriteOptions.Controller(manager), "status", recordManager: true);
    }

    /// <summary>Applies a change to a stored object as a controller (no admission); returns the stored result.</summary>
    public JsonObject Mutate(ResourceType t, JsonObject existing, Action<JsonObject> change, string manager)
    {
        var next = existing.Clone();
        change(next);
        return FinishUpdate(t, existing, next, WriteOptions.Controller(manager), null, recordManager: true);
    }
}
