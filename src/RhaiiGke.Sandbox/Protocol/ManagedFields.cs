using System.Text;
using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.Protocol;

/// <summary>
/// A set of field paths kept as a trie, the way structured-merge-diff's fieldpath.Set nests them; its
/// FieldsV1 form is the trie itself (<c>f:spec</c> → <c>f:replicas</c> → <c>{}</c>). Path elements:
/// <c>f:name</c> a map member, <c>k:{...}</c> a list element by its merge keys, <c>v:json</c> a set
/// member, <c>i:n</c> an element by index, <c>.</c> the element itself.
/// </summary>
internal sealed class FieldTree
{
    private readonly SortedDictionary<string, FieldTree> _children = new(StringComparer.Ordinal);
    private bool _terminal;

    public bool IsEmpty => !_terminal && _children.Count == 0;

    public void Add(IReadOnlyList<string> path)
    {
        var node = this;
        foreach (var element in path)
        {
            if (!node._children.TryGetValue(element, out var next)) node._children[element] = next = new FieldTree();
            node = next;
        }
        node._terminal = true;
    }

    public bool Contains(IReadOnlyList<string> path)
    {
        var node = this;
        foreach (var element in path)
            if (!node._children.TryGetValue(element, out node!)) return false;
        return node._terminal;
    }

    public void Remove(IReadOnlyList<string> path) => Remove(path, 0);

    private bool Remove(IReadOnlyList<string> path, int depth)
    {
        if (depth == path.Count) _terminal = false;
        else if (_children.TryGetValue(path[depth], out var child) && child.Remove(path, depth + 1)) _children.Remove(path[depth]);
        return IsEmpty;
    }

    /// <summary>Every path of the set, parents before children.</summary>
    public IEnumerable<IReadOnlyList<string>> Paths() => Walk([]);

    private IEnumerable<IReadOnlyList<string>> Walk(List<string> prefix)
    {
        if (_terminal) yield return prefix.ToArray();
        foreach (var (element, child) in _children)
        {
            prefix.Add(element);
            foreach (var p in child.Walk(prefix)) yield return p;
            prefix.RemoveAt(prefix.Count - 1);
        }
    }

    private static FieldTree Combine(FieldTree a, FieldTree b, Func<bool, bool, bool> keep)
    {
        var result = new FieldTree { _terminal = keep(a._terminal, b._terminal) };
        foreach (var element in a._children.Keys.Union(b._children.Keys))
        {
            var child = Combine(a._children.GetValueOrDefault(element) ?? Empty, b._children.GetValueOrDefault(element) ?? Empty, keep);
            if (!child.IsEmpty) result._children[element] = child;
        }
        return result;
    }

    private static readonly FieldTree Empty = new();

    public FieldTree Union(FieldTree other) => Combine(this, other, (x, y) => x || y);
    public FieldTree Intersect(FieldTree other) => Combine(this, other, (x, y) => x && y);
    public FieldTree Minus(FieldTree other) => Combine(this, other, (x, y) => x && !y);
    public bool SameAs(FieldTree other) => Minus(other).IsEmpty && other.Minus(this).IsEmpty;

    // ------------------------------------------------------------------ FieldsV1

    public JsonObject ToFieldsV1()
    {
        var o = new JsonObject();
        if (_terminal && _children.Count > 0) o["."] = new JsonObject();
        foreach (var (element, child) in _children) o[element] = child.ToFieldsV1();
        return o;
    }

    public static FieldTree FromFieldsV1(JsonNode? fields)
    {
        var tree = new FieldTree();
        if (fields is JsonObject o) tree.Read(o);
        return tree;
    }

    private void Read(JsonObject o)
    {
        foreach (var (element, value) in o)
        {
            var child = new FieldTree();
            if (value is JsonObject inner && inner.Count > 0) child.Read(inner);
            else child._terminal = true;
            _children[element] = child;
        }
    }

    // ------------------------------------------------------------------ ownership of an object's fields

    /// <summary>Metadata that no manager owns.</summary>
    private static readonly HashSet<string> Unowned = new(StringComparer.Ordinal)
    {
        "name", "namespace", "generateName", "uid", "resourceVersion", "generation", "creationTimestamp",
        "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink",
    };

    /// <summary>The fields an object sets: leaves, keyed list elements (with <c>.</c>), set members.</summary>
    public static FieldTree Of(JsonObject obj, bool withStatus, bool statusOnly)
    {
        var tree = new FieldTree();
        foreach (var (name, value) in obj)
        {
            if (name is "apiVersion" or "kind") continue;
            if (statusOnly ? name != "status" : name == "status" && !withStatus) continue;
            if (name == "metadata" && value is JsonObject meta)
            {
                foreach (var (m, mv) in meta.Where(kv => !Unowned.Contains(kv.Key)))
                    tree.Mark(["f:metadata", "f:" + m], m, mv);
            }
            else tree.Mark(["f:" + name], name, value);
        }
        return tree;
    }

    private void Mark(List<string> at, string field, JsonNode? value)
    {
        if (value is JsonObject { Count: > 0 } map)
        {
            foreach (var (k, v) in map) Mark([.. at, "f:" + k], k, v);
            return;
        }
        if (value is JsonArray { Count: > 0 } list)
        {
            if (MergeKeys.For(field, list) is { } keys)
            {
                foreach (var element in list.Cast<JsonObject>())
                {
                    List<string> e = [.. at, "k:" + ElementKey(element, keys)];
                    Add([.. e, "."]);
                    foreach (var (k, v) in element) Mark([.. e, "f:" + k], k, v);
                }
                return;
            }
            if (MergeKeys.IsSet(field) && list.All(x => x is JsonValue))
            {
                foreach (var member in list) Add([.. at, "v:" + member.ToJson()]);
                return;
            }
        }
        Add(at);
    }

    /// <summary>The <c>k:</c> element of a keyed list item: its merge keys as a JSON object with sorted members.</summary>
    public static string ElementKey(JsonObject element, IReadOnlyList<string> keys)
    {
        var key = new JsonObject();
        foreach (var k in keys.Order(StringComparer.Ordinal))
            if (MergeKeys.KeyValue(element, k) is { } v) key[k] = v.DeepClone();
        return key.ToJson();
    }
}

/// <summary>Finds and removes the value a field path names inside an object.</summary>
internal static class FieldPaths
{
    public static bool TryGet(JsonNode? root, IReadOnlyList<string> path, out JsonNode? value)
    {
        value = root;
        foreach (var element in path)
        {
            if (element == ".") return true;
            if (!Step(value, element, out _, out value)) return false;
        }
        return true;
    }

    /// <summary>One step; for list elements also the index (-1 when not found).</summary>
    private static bool Step(JsonNode? from, string element, out int index, out JsonNode? value)
    {
        index = -1;
        value = null;
        var body = element.Length > 2 ? element[2..] : "";
        switch (element[..Math.Min(2, element.Length)])
        {
            case "f:" when from is JsonObject map:
                if (!map.TryGetPropertyValue(body, out value)) return false;
                index = 0;
                return true;
            case "k:" when from is JsonArray list:
                index = IndexByKey(list, body);
                break;
            case "v:" when from is JsonArray list:
                var wanted = JsonNode.Parse(body);
                index = list.Select((x, i) => (x, i)).FirstOrDefault(p => ServerJson.DeepEquals(p.x, wanted), (null, -1)).Item2;
                break;
            case "i:" when from is JsonArray list && int.TryParse(body, out var i) && i >= 0 && i < list.Count:
                index = i;
                break;
        }
        if (index < 0 || from is not JsonArray a) return false;
        value = a[index];
        return true;
    }

    private static int IndexByKey(JsonArray list, string keyJson)
    {
        if (JsonNode.Parse(keyJson) is not JsonObject key) return -1;
        for (var i = 0; i < list.Count; i++)
            if (list[i] is JsonObject candidate && key.All(kv => ServerJson.DeepEquals(MergeKeys.KeyValue(candidate, kv.Key), kv.Value)))
                return i;
        return -1;
    }

    /// <summary>Deletes what the path names; a path ending in <c>.</c> deletes the whole list element.</summary>
    public static void Remove(JsonNode? root, IReadOnlyList<string> path)
    {
        var trimmed = path.Count > 0 && path[^1] == "." ? path.Take(path.Count - 1).ToList() : path.ToList();
        if (trimmed.Count == 0 || !TryGet(root, trimmed.Take(trimmed.Count - 1).ToList(), out var parent)) return;
        var last = trimmed[^1];
        if (parent is JsonObject map && last.StartsWith("f:", StringComparison.Ordinal)) map.Remove(last[2..]);
        else if (parent is JsonArray list && !last.StartsWith("i:", StringComparison.Ordinal) && Step(list, last, out var at, out _) && at >= 0) list.RemoveAt(at);
    }

    /// <summary>The path as the apiserver prints it in a conflict: <c>.spec.containers[name="x"].image</c>.</summary>
    public static string Describe(IReadOnlyList<string> path)
    {
        var sb = new StringBuilder();
        foreach (var element in path.Where(e => e != "."))
        {
            var body = element[2..];
            _ = element[0] switch
            {
                'f' => sb.Append('.').Append(body),
                'k' => sb.Append('[').AppendJoin(",", JsonNode.Parse(body)!.AsObject().Select(kv => kv.Key + "=" + kv.Value.ToJson())).Append(']'),
                'v' => sb.Append("[=").Append(body).Append(']'),
                _ => sb.Append('[').Append(body).Append(']'),
            };
        }
        return sb.ToString();
    }
}

/// <summary>One metadata.managedFields entry: who (manager, operation, subresource) owns which fields, as of which apiVersion and time.</summary>
internal sealed class ManagedEntry(string manager, string operation, string? subresource)
{
    public string Manager => manager;
    public string Operation => operation;
    public string? Subresource => subresource;
    public FieldTree Fields { get; set; } = new();
    public string ApiVersion { get; set; } = "";
    public string Time { get; set; } = "";

    public bool Is(string who, string how, string? sub) => manager == who && operation == how && subresource == sub;

    public static List<ManagedEntry> Read(JsonNode? obj) =>
        (obj.Arr("metadata", "managedFields") ?? []).Select(e =>
            new ManagedEntry(e.Str("manager") ?? "", e.Str("operation") ?? "Update", e.Str("subresource"))
            {
                Fields = FieldTree.FromFieldsV1(e?["fieldsV1"]), ApiVersion = e.Str("apiVersion") ?? "", Time = e.Str("time") ?? "",
            }).ToList();

    /// <summary>The managedFields list; entries that own nothing are dropped, as the apiserver does.</summary>
    public static JsonArray Write(IEnumerable<ManagedEntry> entries)
    {
        var list = new JsonArray();
        foreach (var e in entries)
        {
            if (e.Fields.IsEmpty) continue;
            var o = new JsonObject { ["manager"] = e.Manager, ["operation"] = e.Operation, ["apiVersion"] = e.ApiVersion, ["time"] = e.Time };
            if (e.Subresource is not null) o["subresource"] = e.Subresource;
            o["fieldsType"] = "FieldsV1";
            o["fieldsV1"] = e.Fields.ToFieldsV1();
            list.Add(o);
        }
        return list;
    }
}

/// <summary>Server-side apply and the field manager's bookkeeping for ordinary writes.</summary>
internal static class ServerSideApply
{
    public sealed record Conflict(string Manager, string ApiVersion, string Path);

    /// <summary>
    /// Applies <paramref name="applied"/> as <paramref name="manager"/> onto <paramref name="live"/> (null: create).
    /// Without <paramref name="force"/>, any field another manager owns with a different value is a conflict and nothing changes.
    /// </summary>
    public static (JsonObject? Result, List<Conflict> Conflicts) Apply(JsonObject? live, JsonObject applied, string manager, bool force, string apiVersion,
        string now, string? subresource, bool statusSeparate)
    {
        var statusOnly = subresource == "status";
        var desired = FieldTree.Of(applied, withStatus: statusOnly || !statusSeparate, statusOnly);
        var entries = ManagedEntry.Read(live);
        var working = live?.Clone() ?? [];
        var conflicts = new List<Conflict>();

        foreach (var other in entries.Where(e => !e.Is(manager, "Apply", subresource)))
        {
            var contested = other.Fields.Intersect(desired).Paths()
                .Where(p => p[^1] != ".")
                .Where(p => !ServerJson.DeepEquals(ValueAt(working, p), ValueAt(applied, p)))
                .ToList();
            foreach (var p in contested)
            {
                conflicts.Add(new Conflict(other.Manager, other.ApiVersion, FieldPaths.Describe(p)));
                if (force) other.Fields.Remove(p);
            }
        }
        if (!force && conflicts.Count > 0) return (null, conflicts);

        var mine = entries.Find(e => e.Is(manager, "Apply", subresource));
        if (mine is not null)
        {
            var ownedByOthers = entries.Where(e => e != mine).Aggregate(new FieldTree(), (acc, e) => acc.Union(e.Fields));
            var released = mine.Fields.Minus(desired).Minus(ownedByOthers);
            foreach (var p in released.Paths().OrderByDescending(p => p.Count)) FieldPaths.Remove(working, p);
        }
        else entries.Add(mine = new ManagedEntry(manager, "Apply", subresource));

        var result = (JsonObject)MergeApplied(working, applied, "")!;
        var changed = !mine.Fields.SameAs(desired) || !ServerJson.DeepEquals(WithoutManagedFields(result), WithoutManagedFields(live));
        mine.Fields = desired;
        mine.ApiVersion = apiVersion;
        if (changed || mine.Time.Length == 0) mine.Time = now;
        result.Ensure("metadata")["managedFields"] = ManagedEntry.Write(entries);
        return (result, conflicts);
    }

    private static JsonNode? ValueAt(JsonNode? root, IReadOnlyList<string> path) => FieldPaths.TryGet(root, path, out var v) ? v : null;

    private static JsonObject? WithoutManagedFields(JsonObject? o)
    {
        if (o is null) return null;
        var copy = o.Clone();
        copy.Obj("metadata")?.Remove("managedFields");
        return copy;
    }

    /// <summary>Merges an applied configuration: maps member by member, keyed lists element by element, set lists as sets; the rest replaces.</summary>
    public static JsonNode? MergeApplied(JsonNode? live, JsonNode? applied, string field)
    {
        if (applied is JsonObject config)
        {
            var target = live as JsonObject ?? [];
            foreach (var (name, value) in config)
            {
                target.TryGetPropertyValue(name, out var before);
                var after = MergeApplied(before, value, name);
                if (ReferenceEquals(before, after)) continue;
                target.Remove(name);
                target[name] = after;
            }
            return target;
        }
        if (applied is not JsonArray wanted) return applied?.DeepClone();
        if (live is not JsonArray current) return wanted.DeepClone();
        if (MergeKeys.For(field, wanted) is { } keys)
        {
            var result = (JsonArray)current.DeepClone();
            foreach (var element in wanted.OfType<JsonObject>())
            {
                var at = MergeKeys.Find(result, element, keys);
                if (at < 0) { result.Add(element.DeepClone()); continue; }
                var merged = MergeApplied(result[at], element, field);
                result.RemoveAt(at);
                result.Insert(at, merged);
            }
            return result;
        }
        if (MergeKeys.IsSet(field) && wanted.All(x => x is JsonValue))
        {
            var result = (JsonArray)current.DeepClone();
            foreach (var x in wanted.Where(x => !result.Any(r => ServerJson.DeepEquals(r, x)))) result.Add(x?.DeepClone());
            return result;
        }
        return wanted.DeepClone();
    }

    /// <summary>An Update (create, PUT, PATCH) by <paramref name="manager"/>: the fields it changed become its own.</summary>
    public static void RecordUpdate(JsonObject? oldObj, JsonObject newObj, string manager, string apiVersion, string now, string? subresource, bool statusSeparate)
    {
        var statusOnly = subresource == "status";
        var withStatus = statusOnly || !statusSeparate;
        var before = oldObj is null ? new FieldTree() : FieldTree.Of(oldObj, withStatus, statusOnly);
        var after = FieldTree.Of(newObj, withStatus, statusOnly);
        var touched = new FieldTree();
        foreach (var p in after.Paths())
            if (!before.Contains(p) || !ServerJson.DeepEquals(ValueAt(oldObj, p), ValueAt(newObj, p))) touched.Add(p);
        var gone = before.Minus(after);

        var entries = oldObj is null ? [] : ManagedEntry.Read(oldObj);
        foreach (var e in entries)
        {
            e.Fields = e.Fields.Minus(gone);
            if (!e.Is(manager, "Update", subresource)) e.Fields = e.Fields.Minus(touched);
        }
        if (!touched.IsEmpty)
        {
            var mine = entries.Find(e => e.Is(manager, "Update", subresource));
            if (mine is null) entries.Add(mine = new ManagedEntry(manager, "Update", subresource));
            mine.Fields = mine.Fields.Union(touched);
            mine.ApiVersion = apiVersion;
            mine.Time = now;
        }
        newObj.Ensure("metadata")["managedFields"] = ManagedEntry.Write(entries);
    }
}
