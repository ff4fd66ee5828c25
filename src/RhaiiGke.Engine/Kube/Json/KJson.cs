using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RhaiiGke.Engine.Kube.Json;

/// <summary>
/// Small helpers over System.Text.Json nodes for Kubernetes objects: paths, deep equality that treats
/// 1 and 1.0 alike, RFC 7386 merge patch, RFC 6902 JSON patch and an approximation of strategic merge.
/// </summary>
internal static class KJson
{
    public static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };

    public static JsonNode? At(this JsonNode? node, params string[] path)
    {
        var cur = node;
        foreach (var p in path)
        {
            if (cur is JsonObject o) cur = o.TryGetPropertyValue(p, out var v) ? v : null;
            else return null;
        }
        return cur;
    }

    public static string? Str(this JsonNode? node, params string[] path)
    {
        var v = node.At(path);
        if (v is JsonValue jv)
        {
            if (jv.TryGetValue<string>(out var s)) return s;
            return jv.ToJsonString();
        }
        return null;
    }

    public static long? Long(this JsonNode? node, params string[] path)
    {
        var v = node.At(path);
        if (v is JsonValue jv)
        {
            if (jv.TryGetValue<long>(out var l)) return l;
            if (jv.TryGetValue<int>(out var i)) return i;
            if (jv.TryGetValue<double>(out var d)) return (long)d;
            if (jv.TryGetValue<string>(out var s) && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ls)) return ls;
            if (jv.TryGetValue<JsonElement>(out var e) && e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out var el)) return el;
        }
        return null;
    }

    public static bool? Bool(this JsonNode? node, params string[] path)
    {
        var v = node.At(path);
        if (v is JsonValue jv)
        {
            if (jv.TryGetValue<bool>(out var b)) return b;
            if (jv.TryGetValue<JsonElement>(out var e) && e.ValueKind is JsonValueKind.True or JsonValueKind.False) return e.GetBoolean();
        }
        return null;
    }

    public static JsonObject? Obj(this JsonNode? node, params string[] path) => node.At(path) as JsonObject;
    public static JsonArray? Arr(this JsonNode? node, params string[] path) => node.At(path) as JsonArray;

    /// <summary>The object at <paramref name="path"/>, created (and replacing non-objects) on the way.</summary>
    public static JsonObject Ensure(this JsonObject node, params string[] path)
    {
        var cur = node;
        foreach (var p in path)
        {
            if (cur[p] is JsonObject next) cur = next;
            else { next = new JsonObject(); cur[p] = next; cur = next; }
        }
        return cur;
    }

    public static JsonObject Clone(this JsonObject o) => (JsonObject)o.DeepClone();

    public static JsonNode? CloneNode(this JsonNode? n) => n?.DeepClone();

    public static JsonObject ParseObject(string json)
    {
        var n = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true });
        return n as JsonObject ?? throw new FormatException("expected a JSON object");
    }

    public static Dictionary<string, string> StringMap(this JsonNode? node)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        if (node is JsonObject o)
            foreach (var (k, v) in o)
                if (v is not null) d[k] = v is JsonValue jv && jv.TryGetValue<string>(out var s) ? s : v.ToJsonString();
        return d;
    }

    public static Dictionary<string, string> Labels(this JsonNode? obj) => obj.At("metadata", "labels").StringMap();
    public static Dictionary<string, string> Annotations(this JsonNode? obj) => obj.At("metadata", "annotations").StringMap();
    public static string Name(this JsonNode? obj) => obj.Str("metadata", "name") ?? "";
    public static string? Namespace(this JsonNode? obj) => obj.Str("metadata", "namespace");

    /// <summary>Deep equality with numbers compared by value and object member order ignored.</summary>
    public static bool DeepEquals(JsonNode? a, JsonNode? b)
    {
        if (a is null || b is null) return IsNull(a) && IsNull(b);
        switch (a)
        {
            case JsonObject oa when b is JsonObject ob:
                if (oa.Count != ob.Count) return false;
                foreach (var (k, v) in oa)
                    if (!ob.TryGetPropertyValue(k, out var w) || !DeepEquals(v, w)) return false;
                return true;
            case JsonArray aa when b is JsonArray ab:
                if (aa.Count != ab.Count) return false;
                for (var i = 0; i < aa.Count; i++)
                    if (!DeepEquals(aa[i], ab[i])) return false;
                return true;
            case JsonValue va when b is JsonValue vb:
                return ScalarEquals(va, vb);
            default:
                return false;
        }
    }

    private static bool IsNull(JsonNode? n) => n is null || (n is JsonValue v && v.GetValueKind() == JsonValueKind.Null);

    public static bool ScalarEquals(JsonValue a, JsonValue b)
    {
        var ka = a.GetValueKind();
        var kb = b.GetValueKind();
        if (ka != kb)
        {
            if (ka is JsonValueKind.True or JsonValueKind.False && kb is JsonValueKind.True or JsonValueKind.False) return false;
            return false;
        }
        if (ka == JsonValueKind.Number)
        {
            var sa = a.ToJsonString();
            var sb = b.ToJsonString();
            if (sa == sb) return true;
            return decimal.TryParse(sa, NumberStyles.Float, CultureInfo.InvariantCulture, out var da) &&
                   decimal.TryParse(sb, NumberStyles.Float, CultureInfo.InvariantCulture, out var db) && da == db;
        }
        if (ka == JsonValueKind.String) return a.GetValue<string>() == b.GetValue<string>();
        return ka == kb;
    }

    /// <summary>RFC 7386 JSON merge patch, in place on <paramref name="target"/> when it is an object.</summary>
    public static JsonNode? MergePatch(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject po) return patch?.DeepClone();
        var t = target as JsonObject ?? new JsonObject();
        foreach (var (k, v) in po.ToList())
        {
            if (IsNull(v)) t.Remove(k);
            else
            {
                t.TryGetPropertyValue(k, out var cur);
                var merged = MergePatch(cur is JsonObject ? cur : null, v);
                if (!ReferenceEquals(merged, cur)) { t.Remove(k); t[k] = merged; }
            }
        }
        return t;
    }

    /// <summary>RFC 6902 JSON patch. Throws <see cref="InvalidOperationException"/> on a failed op or test.</summary>
    public static JsonNode? JsonPatch(JsonNode? target, JsonArray ops)
    {
        var doc = target?.DeepClone();
        foreach (var opNode in ops)
        {
            var op = opNode.Str("op") ?? throw new InvalidOperationException("missing op");
            var path = opNode.Str("path") ?? throw new InvalidOperationException("missing path");
            switch (op)
            {
                case "add": doc = PointerSet(doc, path, opNode!["value"]?.DeepClone(), insert: true); break;
                case "replace":
                    if (PointerGet(doc, path, out _) is false) throw new InvalidOperationException($"replace operation does not apply: doc is missing key: {path}");
                    doc = PointerSet(doc, path, opNode!["value"]?.DeepClone(), insert: false); break;
                case "remove": doc = PointerRemove(doc, path, out _); break;
                case "move":
                {
                    var from = opNode.Str("from") ?? throw new InvalidOperationException("missing from");
                    doc = PointerRemove(doc, from, out var moved);
                    doc = PointerSet(doc, path, moved, insert: true);
                    break;
                }
                case "copy":
                {
                    var from = opNode.Str("from") ?? throw new InvalidOperationException("missing from");
                    if (!PointerGet(doc, from, out var v)) throw new InvalidOperationException($"copy from missing path {from}");
                    doc = PointerSet(doc, path, v?.DeepClone(), insert: true);
                    break;
                }
                case "test":
                    if (!PointerGet(doc, path, out var cur) || !DeepEquals(cur, opNode!["value"]))
                        throw new InvalidOperationException($"testing value {path} failed");
                    break;
                default: throw new InvalidOperationException($"unexpected kind: {op}");
            }
        }
        return doc;
    }

    private static List<string> Pointer(string path) =>
        path.Length == 0 ? [] : path.Split('/').Skip(1).Select(s => s.Replace("~1", "/").Replace("~0", "~")).ToList();

    private static bool PointerGet(JsonNode? doc, string path, out JsonNode? value)
    {
        value = doc;
        foreach (var seg in Pointer(path))
        {
            if (value is JsonObject o) { if (!o.TryGetPropertyValue(seg, out value)) return false; }
            else if (value is JsonArray a && int.TryParse(seg, out var i) && i >= 0 && i < a.Count) value = a[i];
            else return false;
        }
        return true;
    }

    private static JsonNode? PointerSet(JsonNode? doc, string path, JsonNode? value, bool insert)
    {
        var segs = Pointer(path);
        if (segs.Count == 0) return value;
        var parentPath = "/" + string.Join("/", segs.Take(segs.Count - 1).Select(s => s.Replace("~", "~0").Replace("/", "~1")));
        if (!PointerGet(doc, segs.Count == 1 ? "" : parentPath, out var parent))
            throw new InvalidOperationException($"add operation does not apply: doc is missing path: \"{path}\"");
        var last = segs[^1];
        switch (parent)
        {
            case JsonObject o: o.Remove(last); o[last] = value; break;
            case JsonArray a:
                if (last == "-") a.Add(value);
                else if (int.TryParse(last, out var i) && i >= 0 && i <= a.Count)
                {
                    if (insert) a.Insert(i, value);
                    else { a.RemoveAt(i); a.Insert(i, value); }
                }
                else throw new InvalidOperationException($"invalid array index {last}");
                break;
            default: throw new InvalidOperationException($"cannot set {path}");
        }
        return doc;
    }

    private static JsonNode? PointerRemove(JsonNode? doc, string path, out JsonNode? removed)
    {
        var segs = Pointer(path);
        removed = null;
        if (segs.Count == 0) { removed = doc; return null; }
        var parentPath = segs.Count == 1 ? "" : "/" + string.Join("/", segs.Take(segs.Count - 1).Select(s => s.Replace("~", "~0").Replace("/", "~1")));
        if (!PointerGet(doc, parentPath, out var parent)) throw new InvalidOperationException($"remove operation does not apply: doc is missing path: \"{path}\"");
        var last = segs[^1];
        switch (parent)
        {
            case JsonObject o:
                if (!o.TryGetPropertyValue(last, out removed)) throw new InvalidOperationException($"remove operation does not apply: doc is missing path: \"{path}\"");
                o.Remove(last);
                removed = removed?.DeepClone();
                break;
            case JsonArray a when int.TryParse(last, out var i) && i >= 0 && i < a.Count:
                removed = a[i]?.DeepClone();
                a.RemoveAt(i);
                break;
            default: throw new InvalidOperationException($"remove operation does not apply: doc is missing path: \"{path}\"");
        }
        return doc;
    }

    /// <summary>
    /// Strategic merge patch without schema: objects merge, lists of objects whose elements carry a
    /// merge key (see <see cref="ListKeys"/>) merge by key, other lists are replaced. Honours
    /// <c>$patch: delete|replace</c>, <c>$retainKeys</c>, <c>$deleteFromPrimitiveList/</c> and drops
    /// <c>$setElementOrder/</c> directives.
    /// </summary>
    public static JsonNode? StrategicMerge(JsonNode? target, JsonNode? patch, string fieldName = "")
    {
        if (patch is JsonObject po)
        {
            if (po.Str("$patch") == "replace") { var c = po.Clone(); c.Remove("$patch"); return c; }
            if (po.Str("$patch") == "delete") return null;
            var t = target as JsonObject ?? new JsonObject();
            if (po["$retainKeys"] is JsonArray retain)
            {
                var keep = retain.Select(x => x?.GetValue<string>()).ToHashSet();
                foreach (var k in t.Select(kv => kv.Key).ToList()) if (!keep.Contains(k)) t.Remove(k);
            }
            foreach (var (k, v) in po.ToList())
            {
                if (k is "$patch" or "$retainKeys" || k.StartsWith("$setElementOrder/", StringComparison.Ordinal)) continue;
                if (k.StartsWith("$deleteFromPrimitiveList/", StringComparison.Ordinal))
                {
                    var field = k["$deleteFromPrimitiveList/".Length..];
                    if (t[field] is JsonArray arr && v is JsonArray del)
                        foreach (var d in del) foreach (var item in arr.ToList()) if (DeepEquals(item, d)) arr.Remove(item);
                    continue;
                }
                if (IsNull(v)) { t.Remove(k); continue; }
                t.TryGetPropertyValue(k, out var cur);
                JsonNode? merged;
                if (v is JsonArray va && cur is JsonArray ca) merged = MergeList(ca, va, k);
                else if (v is JsonObject) merged = StrategicMerge(cur is JsonObject ? cur : null, v, k);
                else merged = v?.DeepClone();
                if (merged is null) t.Remove(k);
                else if (!ReferenceEquals(merged, cur)) { t.Remove(k); t[k] = merged; }
            }
            return t;
        }
        return patch?.DeepClone();
    }

    private static JsonNode MergeList(JsonArray current, JsonArray patch, string field)
    {
        var keys = ListKeys.For(field, patch) ?? ListKeys.For(field, current);
        if (patch.Any(p => p is JsonObject o && o.Str("$patch") == "replace"))
            return new JsonArray(patch.Where(p => !(p is JsonObject o && o.Str("$patch") == "replace")).Select(p => p?.DeepClone()).ToArray());
        if (keys is null)
        {
            if (ListKeys.IsPrimitiveSet(field) && patch.All(p => p is JsonValue))
            {
                var res = new JsonArray(current.Select(c => c?.DeepClone()).ToArray());
                foreach (var p in patch) if (!res.Any(r => DeepEquals(r, p))) res.Add(p?.DeepClone());
                return res;
            }
            return patch.DeepClone();
        }
        var result = new JsonArray(current.Select(c => c?.DeepClone()).ToArray());
        foreach (var p in patch)
        {
            if (p is not JsonObject po) continue;
            var idx = IndexOfKey(result, po, keys);
            if (po.Str("$patch") == "delete") { if (idx >= 0) result.RemoveAt(idx); continue; }
            if (idx >= 0)
            {
                var merged = StrategicMerge(result[idx], po, field);
                result.RemoveAt(idx);
                result.Insert(idx, merged);
            }
            else result.Add(po.DeepClone());
        }
        return result;
    }

    public static int IndexOfKey(JsonArray list, JsonObject element, IReadOnlyList<string> keys)
    {
        for (var i = 0; i < list.Count; i++)
            if (list[i] is JsonObject o && keys.All(k => DeepEquals(o[k], element[k]) || (k == "protocol" && (o[k] ?? "TCP").ToString() == (element[k] ?? "TCP").ToString())))
                return i;
        return -1;
    }

    public static string ToJson(this JsonNode? n) => n?.ToJsonString(Compact) ?? "null";

    public static byte[] Utf8(this JsonNode? n) => Encoding.UTF8.GetBytes(n.ToJson());
}

/// <summary>
/// Which lists merge by key without a schema, the way the Kubernetes built-in types and most CRDs
/// declare them (x-kubernetes-list-type: map / patchMergeKey).
/// </summary>
internal static class ListKeys
{
    private static readonly Dictionary<string, string[]> ByField = new(StringComparer.Ordinal)
    {
        ["containers"] = ["name"], ["initContainers"] = ["name"], ["ephemeralContainers"] = ["name"],
        ["env"] = ["name"], ["volumes"] = ["name"], ["volumeMounts"] = ["mountPath"], ["volumeDevices"] = ["devicePath"],
        ["imagePullSecrets"] = ["name"], ["conditions"] = ["type"], ["webhooks"] = ["name"],
        ["hostAliases"] = ["ip"], ["secrets"] = ["name"], ["versions"] = ["name"], ["listeners"] = ["name"],
        ["resourceClaims"] = ["name"], ["schedulingGates"] = ["name"], ["ownerReferences"] = ["uid"],
        ["topologySpreadConstraints"] = ["topologyKey", "whenUnsatisfiable"], ["parents"] = ["parentRef"],
        ["additionalPrinterColumns"] = ["name"],
    };

    /// <summary>Merge keys for the list in field <paramref name="field"/> with these elements, or null when atomic.</summary>
    public static IReadOnlyList<string>? For(string field, JsonArray elements)
    {
        if (elements.Count == 0 || !elements.All(e => e is JsonObject)) return null;
        if (field == "ports")
        {
            // container ports (containerPort) and service ports (port) merge by port and protocol
            if (elements.All(e => e!["containerPort"] is not null)) return ["containerPort", "protocol"];
            if (elements.All(e => e!["port"] is JsonValue)) return ["port", "protocol"];
            if (elements.All(e => e!["name"] is not null)) return ["name"];
            return null;
        }
        if (ByField.TryGetValue(field, out var keys) && elements.All(e => keys.All(k => e![k] is not null || k == "protocol"))) return keys;
        // Fallback: a list of named objects with unique names is a map keyed by name.
        var names = elements.Select(e => e!["name"] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null).ToList();
        if (field is not ("rules" or "tolerations" or "args" or "command") && names.All(n => n is not null) && names.Distinct().Count() == names.Count) return ["name"];
        return null;
    }

    public static bool IsPrimitiveSet(string field) => field is "finalizers";
}
