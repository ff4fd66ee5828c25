using System.Text.Json.Nodes;

namespace RhaiiGke.Engine.Kube.Json;

/// <summary>
/// A set of field paths in the FieldsV1 encoding of managedFields (<c>f:spec</c>, <c>k:{"name":"x"}</c>,
/// <c>v:"a"</c>, <c>i:0</c>, <c>.</c>). Used by the simulator's server-side apply and by the apply engine
/// to tell whether a re-apply would change anything.
/// </summary>
internal sealed class FieldSet
{
    private const char Sep = '\u0001';
    private readonly HashSet<string> _paths = new(StringComparer.Ordinal);

    public int Count => _paths.Count;
    public IEnumerable<IReadOnlyList<string>> Paths => _paths.Select(p => (IReadOnlyList<string>)p.Split(Sep));
    public bool Contains(IReadOnlyList<string> path) => _paths.Contains(string.Join(Sep, path));
    public bool IsEmpty => _paths.Count == 0;

    public void Add(IEnumerable<string> path) => _paths.Add(string.Join(Sep, path));
    public void Remove(IReadOnlyList<string> path) => _paths.Remove(string.Join(Sep, path));
    public FieldSet Clone() { var f = new FieldSet(); f._paths.UnionWith(_paths); return f; }
    public void UnionWith(FieldSet other) => _paths.UnionWith(other._paths);
    public void ExceptWith(FieldSet other) => _paths.ExceptWith(other._paths);
    public FieldSet Intersect(FieldSet other) { var f = Clone(); f._paths.IntersectWith(other._paths); return f; }
    public FieldSet Except(FieldSet other) { var f = Clone(); f._paths.ExceptWith(other._paths); return f; }
    public bool SetEquals(FieldSet other) => _paths.SetEquals(other._paths);

    /// <summary>Metadata the field manager never tracks.</summary>
    private static readonly HashSet<string> StrippedMetadata =
        ["name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink", "generateName"];

    /// <summary>The leaf paths (and list-element markers) of an object, as the field manager records them.</summary>
    public static FieldSet FromObject(JsonObject obj, bool includeStatus = true, bool onlyStatus = false)
    {
        var set = new FieldSet();
        foreach (var (k, v) in obj)
        {
            if (k is "apiVersion" or "kind") continue;
            if (k == "status" && !includeStatus) continue;
            if (onlyStatus && k != "status") continue;
            if (k == "metadata" && v is JsonObject meta)
            {
                foreach (var (mk, mv) in meta)
                    if (!StrippedMetadata.Contains(mk)) Collect(mv, ["f:metadata", "f:" + mk], mk, set);
                continue;
            }
            Collect(v, ["f:" + k], k, set);
        }
        return set;
    }

    private static void Collect(JsonNode? node, List<string> prefix, string field, FieldSet set)
    {
        switch (node)
        {
            case JsonObject o when o.Count > 0:
                foreach (var (k, v) in o) Collect(v, [.. prefix, "f:" + k], k, set);
                break;
            case JsonArray a when a.Count > 0:
            {
                var keys = ListKeys.For(field, a);
                if (keys is not null)
                {
                    foreach (var e in a.OfType<JsonObject>())
                    {
                        var kp = new List<string>(prefix) { "k:" + KeyOf(e, keys) };
                        set.Add([.. kp, "."]);
                        foreach (var (k, v) in e) Collect(v, [.. kp, "f:" + k], k, set);
                    }
                }
                else if (ListKeys.IsPrimitiveSet(field) && a.All(x => x is JsonValue))
                {
                    foreach (var v in a) set.Add([.. prefix, "v:" + v.ToJson()]);
                }
                else set.Add(prefix);
                break;
            }
            default:
                set.Add(prefix);
                break;
        }
    }

    public static string KeyOf(JsonObject element, IReadOnlyList<string> keys)
    {
        var k = new JsonObject();
        foreach (var key in keys.OrderBy(x => x, StringComparer.Ordinal))
            if (element[key] is { } v) k[key] = v.DeepClone();
            else if (key == "protocol") k[key] = "TCP";
        return k.ToJson();
    }

    /// <summary>The managedFields <c>fieldsV1</c> object of this set.</summary>
    public JsonObject ToFieldsV1()
    {
        var root = new JsonObject();
        foreach (var p in _paths.OrderBy(x => x, StringComparer.Ordinal))
        {
            var cur = root;
            foreach (var seg in p.Split(Sep))
            {
                if (cur[seg] is not JsonObject next) { next = new JsonObject(); cur[seg] = next; }
                cur = next;
            }
        }
        return root;
    }

    public static FieldSet FromFieldsV1(JsonNode? fields)
    {
        var set = new FieldSet();
        if (fields is JsonObject o) Walk(o, [], set);
        return set;
    }

    private static void Walk(JsonObject o, List<string> prefix, FieldSet set)
    {
        foreach (var (k, v) in o)
        {
            var path = new List<string>(prefix) { k };
            if (k == ".") { set.Add(path); continue; }
            if (v is JsonObject child && child.Count > 0)
            {
                // a map field with children but no "." is only a container of its children
                Walk(child, path, set);
            }
            else set.Add(path);
        }
    }

    /// <summary>The node at a field path, or false when the path does not exist in <paramref name="root"/>.</summary>
    public static bool TryGet(JsonNode? root, IReadOnlyList<string> path, out JsonNode? value)
    {
        value = root;
        foreach (var seg in path)
        {
            if (seg == ".") return true;
            if (seg.StartsWith("f:", StringComparison.Ordinal))
            {
                if (value is not JsonObject o || !o.TryGetPropertyValue(seg[2..], out value)) return false;
            }
            else if (seg.StartsWith("k:", StringComparison.Ordinal))
            {
                if (value is not JsonArray a) return false;
                var idx = FindByKey(a, seg[2..]);
                if (idx < 0) return false;
                value = a[idx];
            }
            else if (seg.StartsWith("v:", StringComparison.Ordinal))
            {
                if (value is not JsonArray a) return false;
                var want = JsonNode.Parse(seg[2..]);
                var hit = a.FirstOrDefault(x => KJson.DeepEquals(x, want));
                if (hit is null && !a.Any(x => KJson.DeepEquals(x, want))) return false;
                value = hit;
            }
            else if (seg.StartsWith("i:", StringComparison.Ordinal))
            {
                if (value is not JsonArray a || !int.TryParse(seg[2..], out var i) || i >= a.Count) return false;
                value = a[i];
            }
            else return false;
        }
        return true;
    }

    public static int FindByKey(JsonArray a, string keyJson)
    {
        if (JsonNode.Parse(keyJson) is not JsonObject key) return -1;
        for (var i = 0; i < a.Count; i++)
        {
            if (a[i] is not JsonObject e) continue;
            var all = true;
            foreach (var (k, v) in key)
            {
                var ev = e[k];
                if (ev is null && k == "protocol" && v?.ToString() == "TCP") continue;
                if (!KJson.DeepEquals(ev, v)) { all = false; break; }
            }
            if (all) return i;
        }
        return -1;
    }

    /// <summary>Removes the field at <paramref name="path"/> (a whole list element for a <c>.</c> marker).</summary>
    public static void RemoveAt(JsonNode? root, IReadOnlyList<string> path)
    {
        if (path.Count == 0) return;
        var p = path[^1] == "." ? path.Take(path.Count - 1).ToList() : path.ToList();
        if (p.Count == 0) return;
        if (!TryGet(root, p.Take(p.Count - 1).ToList(), out var parent)) return;
        var last = p[^1];
        switch (parent)
        {
            case JsonObject o when last.StartsWith("f:", StringComparison.Ordinal):
                o.Remove(last[2..]);
                break;
            case JsonArray a when last.StartsWith("k:", StringComparison.Ordinal):
            {
                var i = FindByKey(a, last[2..]);
                if (i >= 0) a.RemoveAt(i);
                break;
            }
            case JsonArray a when last.StartsWith("v:", StringComparison.Ordinal):
            {
                var want = JsonNode.Parse(last[2..]);
                var hit = a.FirstOrDefault(x => KJson.DeepEquals(x, want));
                if (hit is not null) a.Remove(hit);
                break;
            }
        }
    }
}

/// <summary>One managedFields entry.</summary>
internal sealed class ManagedEntry
{
    public string Manager { get; set; } = "";
    public string Operation { get; set; } = "Update";
    public string ApiVersion { get; set; } = "";
    public string Time { get; set; } = "";
    public string? Subresource { get; set; }
    public FieldSet Fields { get; set; } = new();

    public static List<ManagedEntry> Read(JsonNode? obj)
    {
        var list = new List<ManagedEntry>();
        if (obj.Arr("metadata", "managedFields") is not { } arr) return list;
        foreach (var e in arr)
            list.Add(new ManagedEntry
            {
                Manager = e.Str("manager") ?? "",
                Operation = e.Str("operation") ?? "Update",
                ApiVersion = e.Str("apiVersion") ?? "",
                Time = e.Str("time") ?? "",
                Subresource = e.Str("subresource"),
                Fields = FieldSet.FromFieldsV1(e.At("fieldsV1")),
            });
        return list;
    }

    public static JsonArray Write(IEnumerable<ManagedEntry> entries)
    {
        var arr = new JsonArray();
        foreach (var e in entries.Where(e => !e.Fields.IsEmpty))
        {
            var o = new JsonObject
            {
                ["manager"] = e.Manager,
                ["operation"] = e.Operation,
                ["apiVersion"] = e.ApiVersion,
                ["time"] = e.Time,
                ["fieldsType"] = "FieldsV1",
                ["fieldsV1"] = e.Fields.ToFieldsV1(),
            };
            if (e.Subresource is not null) o["subresource"] = e.Subresource;
            arr.Add(o);
        }
        return arr;
    }
}

/// <summary>Server-side apply over JSON nodes: conflicts, ownership, removal of dropped fields, merge.</summary>
internal static class ServerSideApply
{
    public sealed record Conflict(string Manager, string ApiVersion, string Path);

    /// <summary>Human form of a field path: <c>.spec.containers[name="x"].image</c>.</summary>
    public static string Describe(IReadOnlyList<string> path)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var seg in path)
        {
            if (seg == ".") continue;
            if (seg.StartsWith("f:", StringComparison.Ordinal)) sb.Append('.').Append(seg[2..]);
            else if (seg.StartsWith("k:", StringComparison.Ordinal))
            {
                var key = JsonNode.Parse(seg[2..]) as JsonObject;
                sb.Append('[').Append(string.Join(",", key!.Select(kv => $"{kv.Key}={kv.Value.ToJson()}"))).Append(']');
            }
            else if (seg.StartsWith("v:", StringComparison.Ordinal)) sb.Append("[=").Append(seg[2..]).Append(']');
            else if (seg.StartsWith("i:", StringComparison.Ordinal)) sb.Append('[').Append(seg[2..]).Append(']');
        }
        return sb.ToString();
    }

    /// <summary>
    /// Applies <paramref name="applied"/> for <paramref name="manager"/> onto <paramref name="live"/> (null to create).
    /// Returns the merged object with managedFields set, or the conflicts when not forced.
    /// </summary>
    public static (JsonObject? Result, List<Conflict> Conflicts) Apply(JsonObject? live, JsonObject applied, string manager, bool force, string apiVersion,
        string now, string? subresource, bool statusSeparate)
    {
        var onlyStatus = subresource == "status";
        var newSet = FieldSet.FromObject(applied, includeStatus: !statusSeparate || onlyStatus, onlyStatus: onlyStatus);
        var entries = live is null ? [] : ManagedEntry.Read(live);
        var conflicts = new List<Conflict>();
        var baseObj = live?.Clone() ?? new JsonObject();

        foreach (var e in entries)
        {
            if (e.Manager == manager && e.Operation == "Apply" && e.Subresource == subresource) continue;
            var overlap = newSet.Intersect(e.Fields);
            foreach (var p in overlap.Paths)
            {
                if (p[^1] == ".") continue;
                FieldSet.TryGet(baseObj, p, out var cur);
                FieldSet.TryGet(applied, p, out var want);
                if (!KJson.DeepEquals(cur, want)) conflicts.Add(new Conflict(e.Manager, e.ApiVersion, Describe(p)));
                else continue;
                if (force) e.Fields.Remove(p);
            }
        }
        if (conflicts.Count > 0 && !force) return (null, conflicts);

        var mine = entries.FirstOrDefault(e => e.Manager == manager && e.Operation == "Apply" && e.Subresource == subresource);
        var others = new FieldSet();
        foreach (var e in entries.Where(e => e != mine)) others.UnionWith(e.Fields);
        if (mine is not null)
        {
            var dropped = mine.Fields.Except(newSet).Except(others);
            foreach (var p in dropped.Paths.OrderByDescending(p => p.Count)) FieldSet.RemoveAt(baseObj, p);
        }
        var merged = (JsonObject)MergeApplied(baseObj, applied, "")!;
        if (mine is null)
        {
            mine = new ManagedEntry { Manager = manager, Operation = "Apply", Subresource = subresource };
            entries.Add(mine);
        }
        var changed = !mine.Fields.SetEquals(newSet) || !KJson.DeepEquals(Strip(merged), Strip(live));
        mine.Fields = newSet;
        mine.ApiVersion = apiVersion;
        if (changed || string.IsNullOrEmpty(mine.Time)) mine.Time = now;
        merged.Ensure("metadata")["managedFields"] = ManagedEntry.Write(entries);
        return (merged, conflicts);
    }

    private static JsonObject? Strip(JsonObject? o)
    {
        if (o is null) return null;
        var c = o.Clone();
        (c["metadata"] as JsonObject)?.Remove("managedFields");
        return c;
    }

    /// <summary>Merges an applied configuration into an object: maps recurse, keyed lists merge by key, the rest replaces.</summary>
    public static JsonNode? MergeApplied(JsonNode? live, JsonNode? applied, string field)
    {
        switch (applied)
        {
            case JsonObject ao:
            {
                var t = live as JsonObject ?? new JsonObject();
                foreach (var (k, v) in ao)
                {
                    t.TryGetPropertyValue(k, out var cur);
                    var merged = MergeApplied(cur, v, k);
                    if (!ReferenceEquals(merged, cur)) { t.Remove(k); t[k] = merged; }
                }
                return t;
            }
            case JsonArray aa:
            {
                var keys = ListKeys.For(field, aa);
                if (keys is null || live is not JsonArray la)
                {
                    if (ListKeys.IsPrimitiveSet(field) && live is JsonArray ls && aa.All(x => x is JsonValue))
                    {
                        var res = new JsonArray(ls.Select(x => x?.DeepClone()).ToArray());
                        foreach (var x in aa) if (!res.Any(r => KJson.DeepEquals(r, x))) res.Add(x?.DeepClone());
                        return res;
                    }
                    return aa.DeepClone();
                }
                var result = new JsonArray(la.Select(x => x?.DeepClone()).ToArray());
                foreach (var e in aa.OfType<JsonObject>())
                {
                    var idx = FieldSet.FindByKey(result, FieldSet.KeyOf(e, keys));
                    if (idx >= 0)
                    {
                        var m = MergeApplied(result[idx], e, field);
                        result.RemoveAt(idx);
                        result.Insert(idx, m);
                    }
                    else result.Add(e.DeepClone());
                }
                return result;
            }
            default:
                return applied?.DeepClone();
        }
    }

    /// <summary>Records an Update (PUT/PATCH/create) by <paramref name="manager"/>: changed fields move to it.</summary>
    public static void RecordUpdate(JsonObject? oldObj, JsonObject newObj, string manager, string apiVersion, string now, string? subresource, bool statusSeparate)
    {
        var onlyStatus = subresource == "status";
        var include = !statusSeparate || onlyStatus;
        var oldSet = oldObj is null ? new FieldSet() : FieldSet.FromObject(oldObj, include, onlyStatus);
        var newSet = FieldSet.FromObject(newObj, include, onlyStatus);
        var changed = new FieldSet();
        foreach (var p in newSet.Paths)
        {
            if (!oldSet.Contains(p)) { changed.Add(p); continue; }
            FieldSet.TryGet(oldObj, p, out var a);
            FieldSet.TryGet(newObj, p, out var b);
            if (!KJson.DeepEquals(a, b)) changed.Add(p);
        }
        var removed = oldSet.Except(newSet);
        var entries = ManagedEntry.Read(oldObj ?? newObj);
        if (oldObj is null) entries.Clear();
        foreach (var e in entries)
        {
            e.Fields.ExceptWith(removed);
            if (!(e.Manager == manager && e.Operation == "Update" && e.Subresource == subresource)) e.Fields.ExceptWith(changed);
        }
        if (!changed.IsEmpty)
        {
            var mine = entries.FirstOrDefault(e => e.Manager == manager && e.Operation == "Update" && e.Subresource == subresource);
            if (mine is null) { mine = new ManagedEntry { Manager = manager, Operation = "Update", Subresource = subresource }; entries.Add(mine); }
            mine.Fields.UnionWith(changed);
            mine.ApiVersion = apiVersion;
            mine.Time = now;
        }
        newObj.Ensure("metadata")["managedFields"] = ManagedEntry.Write(entries);
    }
}
