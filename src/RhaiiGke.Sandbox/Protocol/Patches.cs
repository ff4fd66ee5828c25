using System.Text.Json;
using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.Protocol;

/// <summary>
/// The three PATCH bodies an API server accepts: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
/// strategic merge patch (built-in kinds only; list elements merge by the field's patchMergeKey).
/// </summary>
internal static class Patches
{
    // ------------------------------------------------------------------ RFC 7386

    /// <summary>Merge patch: a map patch edits the target member by member (null deletes); anything else replaces it.</summary>
    public static JsonNode? Merge(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject edits) return patch?.DeepClone();
        var doc = target as JsonObject ?? [];
        foreach (var name in edits.Select(m => m.Key).ToList())
        {
            var edit = edits[name];
            if (ServerJson.IsAbsent(edit)) { doc.Remove(name); continue; }
            var before = doc.TryGetPropertyValue(name, out var existing) ? existing : null;
            var after = edit is JsonObject ? Merge(before as JsonObject, edit) : edit!.DeepClone();
            if (!ReferenceEquals(before, after)) Replace(doc, name, after);
        }
        return doc;
    }

    private static void Replace(JsonObject parent, string name, JsonNode? value)
    {
        // A node can have one parent only: detach the old value before storing the new one.
        parent.Remove(name);
        parent[name] = value;
    }

    // ------------------------------------------------------------------ RFC 6902

    /// <summary>JSON patch on a copy of <paramref name="target"/>; a failing operation throws <see cref="InvalidOperationException"/> and nothing is kept.</summary>
    public static JsonNode? ApplyOperations(JsonNode? target, JsonArray operations)
    {
        var doc = target?.DeepClone();
        foreach (var operation in operations)
        {
            var kind = operation.Str("op") ?? throw new InvalidOperationException("missing op");
            var path = Pointer.Parse(operation.Str("path") ?? throw new InvalidOperationException("missing path"));
            string From() => operation.Str("from") ?? throw new InvalidOperationException("missing from");
            JsonNode? Value() => operation?["value"]?.DeepClone();
            doc = kind switch
            {
                "add" => Pointer.Add(doc, path, Value()),
                "remove" => Pointer.Remove(doc, path, out _),
                "replace" => Pointer.Replace(doc, path, Value()),
                "move" => MoveTo(doc, Pointer.Parse(From()), path),
                "copy" => Pointer.Add(doc, path, Pointer.Find(doc, Pointer.Parse(From()), out var found) ? found?.DeepClone()
                    : throw new InvalidOperationException($"copy from missing path {From()}")),
                "test" => Pointer.Find(doc, path, out var actual) && ServerJson.DeepEquals(actual, operation?["value"]) ? doc
                    : throw new InvalidOperationException($"testing value {operation.Str("path")} failed"),
                _ => throw new InvalidOperationException($"unexpected kind: {kind}"),
            };
        }
        return doc;
    }

    private static JsonNode? MoveTo(JsonNode? doc, Pointer from, Pointer to)
    {
        doc = Pointer.Remove(doc, from, out var moved);
        return Pointer.Add(doc, to, moved);
    }

    /// <summary>An RFC 6901 pointer, decoded into reference tokens.</summary>
    private sealed class Pointer
    {
        private readonly string[] _tokens;
        private readonly string _text;
        private Pointer(string text, string[] tokens) { _text = text; _tokens = tokens; }

        public static Pointer Parse(string text)
        {
            if (text.Length == 0) return new Pointer(text, []);
            if (text[0] != '/') throw new InvalidOperationException($"JSON pointer must start with '/': \"{text}\"");
            var tokens = text[1..].Split('/');
            for (var i = 0; i < tokens.Length; i++) tokens[i] = tokens[i].Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            return new Pointer(text, tokens);
        }

        private InvalidOperationException Missing(string op) => new($"{op} operation does not apply: doc is missing path: \"{_text}\"");

        public static bool Find(JsonNode? doc, Pointer p, out JsonNode? value) => Walk(doc, p._tokens, p._tokens.Length, out value);

        private static bool Walk(JsonNode? doc, string[] tokens, int count, out JsonNode? value)
        {
            value = doc;
            for (var i = 0; i < count; i++)
            {
                switch (value)
                {
                    case JsonObject map when map.TryGetPropertyValue(tokens[i], out var member): value = member; break;
                    case JsonArray list when Index(tokens[i], list.Count - 1) is { } at: value = list[at]; break;
                    default: value = null; return false;
                }
            }
            return true;
        }

        private static int? Index(string token, int max) =>
            token.Length > 0 && token.All(char.IsAsciiDigit) && (token.Length == 1 || token[0] != '0') && int.TryParse(token, out var n) && n <= max ? n : null;

        public static JsonNode? Add(JsonNode? doc, Pointer p, JsonNode? value)
        {
            if (p._tokens.Length == 0) return value;
            if (!Walk(doc, p._tokens, p._tokens.Length - 1, out var parent)) throw p.Missing("add");
            var last = p._tokens[^1];
            switch (parent)
            {
                case JsonObject map:
                    map.Remove(last);
                    map[last] = value;
                    break;
                case JsonArray list when last == "-":
                    list.Add(value);
                    break;
                case JsonArray list when Index(last, list.Count) is { } at:
                    list.Insert(at, value);
                    break;
                case JsonArray:
                    throw new InvalidOperationException($"invalid array index {last}");
                default:
                    throw p.Missing("add");
            }
            return doc;
        }

        /// <summary>Replaces an existing member or element where it stands (the path must exist).</summary>
        public static JsonNode? Replace(JsonNode? doc, Pointer p, JsonNode? value)
        {
            if (p._tokens.Length == 0) return value;
            if (!Walk(doc, p._tokens, p._tokens.Length - 1, out var parent)) throw p.Missing("replace");
            var last = p._tokens[^1];
            if (parent is JsonObject map && map.ContainsKey(last)) map[last] = value;
            else if (parent is JsonArray list && Index(last, list.Count - 1) is { } at) list[at] = value;
            else throw p.Missing("replace");
            return doc;
        }

        public static JsonNode? Remove(JsonNode? doc, Pointer p, out JsonNode? removed)
        {
            removed = null;
            if (p._tokens.Length == 0) { removed = doc; return null; }
            if (!Walk(doc, p._tokens, p._tokens.Length - 1, out var parent)) throw p.Missing("remove");
            var last = p._tokens[^1];
            if (parent is JsonObject map && map.TryGetPropertyValue(last, out var member))
            {
                map.Remove(last);
                removed = member;
            }
            else if (parent is JsonArray list && Index(last, list.Count - 1) is { } at)
            {
                removed = list[at];
                list.RemoveAt(at);
            }
            else throw p.Missing("remove");
            return doc;
        }
    }

    // ------------------------------------------------------------------ strategic merge

    private const string Directive = "$patch";
    private const string RetainKeys = "$retainKeys";
    private const string DeleteFromPrimitive = "$deleteFromPrimitiveList/";
    private const string SetElementOrder = "$setElementOrder/";

    /// <summary>
    /// Strategic merge patch as the apiserver runs it for built-in kinds: maps merge, lists of objects with
    /// a patchMergeKey merge element by element, other lists are replaced; <c>$patch</c>, <c>$retainKeys</c>,
    /// <c>$deleteFromPrimitiveList/</c> and <c>$setElementOrder/</c> directives are honoured.
    /// </summary>
    public static JsonNode? Strategic(JsonNode? target, JsonNode? patch, string field)
    {
        if (patch is not JsonObject edits) return patch?.DeepClone();
        switch (edits.Str(Directive))
        {
            case "delete": return null;
            case "replace":
                var whole = edits.Clone();
                whole.Remove(Directive);
                return whole;
        }
        var doc = target as JsonObject ?? [];
        if (edits[RetainKeys] is JsonArray keep)
        {
            var kept = new HashSet<string>(keep.Select(k => k?.ToString() ?? ""), StringComparer.Ordinal);
            foreach (var name in doc.Select(m => m.Key).Where(n => !kept.Contains(n)).ToList()) doc.Remove(name);
        }
        foreach (var (name, edit) in edits.ToList())
        {
            if (name.StartsWith('$'))
            {
                if (name.StartsWith(DeleteFromPrimitive, StringComparison.Ordinal) && doc[name[DeleteFromPrimitive.Length..]] is JsonArray list && edit is JsonArray gone)
                    foreach (var item in list.Where(i => gone.Any(g => ServerJson.DeepEquals(i, g))).ToList()) list.Remove(item);
                continue; // $patch, $retainKeys and $setElementOrder carry no data of their own
            }
            if (ServerJson.IsAbsent(edit)) { doc.Remove(name); continue; }
            doc.TryGetPropertyValue(name, out var before);
            JsonNode? after = (edit, before) switch
            {
                (JsonArray patchList, JsonArray liveList) => StrategicList(liveList, patchList, name),
                (JsonObject, _) => Strategic(before as JsonObject, edit, name),
                _ => edit!.DeepClone(),
            };
            if (after is null) doc.Remove(name);
            else if (!ReferenceEquals(before, after)) Replace(doc, name, after);
        }
        return doc;
    }

    private static JsonArray StrategicList(JsonArray live, JsonArray patch, string field)
    {
        static bool IsReplace(JsonNode? n) => n is JsonObject o && o.Str(Directive) == "replace";
        if (patch.Any(IsReplace)) return new JsonArray(patch.Where(p => !IsReplace(p)).Select(p => p?.DeepClone()).ToArray());
        var keys = MergeKeys.For(field, patch) ?? MergeKeys.For(field, live);
        var result = new JsonArray(live.Select(x => x?.DeepClone()).ToArray());
        if (keys is null)
        {
            if (!MergeKeys.IsSet(field) || patch.Any(p => p is not JsonValue)) return (JsonArray)patch.DeepClone();
            foreach (var p in patch.Where(p => !result.Any(r => ServerJson.DeepEquals(r, p)))) result.Add(p?.DeepClone());
            return result;
        }
        foreach (var element in patch.OfType<JsonObject>())
        {
            var at = MergeKeys.Find(result, element, keys);
            if (element.Str(Directive) == "delete")
            {
                if (at >= 0) result.RemoveAt(at);
            }
            else if (at < 0) result.Add(element.DeepClone());
            else
            {
                var merged = Strategic(result[at], element, field);
                result.RemoveAt(at);
                result.Insert(at, merged);
            }
        }
        return result;
    }
}

/// <summary>
/// The patchMergeKey / x-kubernetes-list-map-keys of the lists the server merges by key rather than
/// replacing (for built-in kinds, from the Go types; for the rest, a list of objects with unique names).
/// </summary>
internal static class MergeKeys
{
    private static readonly string[] ByName = ["name"];

    private static readonly Dictionary<string, string[]> Known = new(StringComparer.Ordinal)
    {
        // core/v1 PodSpec and Container
        ["containers"] = ByName, ["initContainers"] = ByName, ["ephemeralContainers"] = ByName, ["volumes"] = ByName,
        ["imagePullSecrets"] = ByName, ["env"] = ByName, ["resourceClaims"] = ByName, ["schedulingGates"] = ByName,
        ["volumeMounts"] = ["mountPath"], ["volumeDevices"] = ["devicePath"], ["hostAliases"] = ["ip"],
        ["topologySpreadConstraints"] = ["topologyKey", "whenUnsatisfiable"],
        // metadata, status, and the other built-ins
        ["ownerReferences"] = ["uid"], ["conditions"] = ["type"], ["secrets"] = ByName, ["webhooks"] = ByName,
        ["versions"] = ByName, ["additionalPrinterColumns"] = ByName, ["listeners"] = ByName, ["parents"] = ["parentRef"],
    };

    private static readonly HashSet<string> NeverByName = new(StringComparer.Ordinal) { "rules", "tolerations", "args", "command" };

    /// <summary>Keys that identify the elements of list <paramref name="field"/>, or null when the list is atomic.</summary>
    public static IReadOnlyList<string>? For(string field, JsonArray elements)
    {
        if (elements.Count == 0) return null;
        var objects = elements.OfType<JsonObject>().ToList();
        if (objects.Count != elements.Count) return null;
        bool AllHave(string key) => objects.All(o => o[key] is not null);

        if (field == "ports")
        {
            // Container ports merge on containerPort+protocol, Service ports on port+protocol (protocol defaults to TCP).
            if (AllHave("containerPort")) return ["containerPort", "protocol"];
            if (objects.All(o => o["port"] is JsonValue)) return ["port", "protocol"];
            return AllHave("name") ? ByName : null;
        }
        if (Known.TryGetValue(field, out var declared))
            return declared.Where(k => k != "protocol").All(AllHave) ? declared : null;
        if (NeverByName.Contains(field)) return null;
        var names = objects.Select(o => o["name"] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? o.Str("name") : null).ToList();
        return names.All(n => n is not null) && names.Distinct(StringComparer.Ordinal).Count() == names.Count ? ByName : null;
    }

    /// <summary>Lists of scalars merged as sets (metadata.finalizers).</summary>
    public static bool IsSet(string field) => field == "finalizers";

    /// <summary>The value of one key in an element, with protocol defaulting to TCP as the server does.</summary>
    public static JsonNode? KeyValue(JsonObject element, string key) =>
        element[key] ?? (key == "protocol" ? JsonValue.Create("TCP") : null);

    /// <summary>Index of the element of <paramref name="list"/> whose keys equal those of <paramref name="element"/>, or -1.</summary>
    public static int Find(JsonArray list, JsonObject element, IReadOnlyList<string> keys)
    {
        for (var i = 0; i < list.Count; i++)
            if (list[i] is JsonObject candidate && keys.All(k => ServerJson.DeepEquals(KeyValue(candidate, k), KeyValue(element, k))))
                return i;
        return -1;
    }
}
