using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace RhaiiGke.Sandbox.KubeApi;

/// <summary>
/// Structural-schema pruning and validation of custom resources against a CRD version's
/// openAPIV3Schema: types, required, enum, bounds, lengths, patterns, items; CEL rules are not evaluated.
/// </summary>
internal static class SchemaValidator
{
    /// <summary>
    /// The request's fieldValidation directive (Warn when absent, as kube-apiserver defaults it); another value
    /// fails the write as the apiserver validates its Create/Update/PatchOptions.
    /// </summary>
    public static string FieldValidation(string verb, string? value)
    {
        if (string.IsNullOrEmpty(value)) return "Warn";
        if (value is "Strict" or "Warn" or "Ignore") return value;
        var options = verb switch { "create" => "CreateOptions", "update" => "UpdateOptions", "patch" or "apply" => "PatchOptions", _ => null };
        if (options is null) return "Warn";
        throw new StatusError(422, "Invalid", $"{options}.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported value: \"{value}\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"",
            new JsonObject
            {
                ["group"] = "meta.k8s.io", ["kind"] = options,
                ["causes"] = new JsonArray(new JsonObject { ["reason"] = "FieldValueNotSupported", ["message"] = $"Unsupported value: \"{value}\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"", ["field"] = "fieldValidation" }),
            });
    }

    /// <summary>Removes fields the schema does not declare; returns their paths (<c>.spec.x</c>).</summary>
    /// <param name="smd">Paths as structured-merge-diff prints them (list elements by key), for apply errors.</param>
    public static List<string> Prune(JsonNode? value, JsonObject schema, bool isRoot = false, string path = "", bool smd = false)
    {
        var removed = new List<string>();
        PruneInto(value, schema, isRoot, path, removed, smd);
        return removed;
    }

    private static void PruneInto(JsonNode? value, JsonObject schema, bool isRoot, string path, List<string> removed, bool smd)
    {
        if (value is JsonObject o)
        {
            if (schema.Bool("x-kubernetes-preserve-unknown-fields") == true && schema["properties"] is null && schema["additionalProperties"] is null) return;
            var props = schema.Obj("properties");
            var additional = schema["additionalProperties"];
            var embedded = schema.Bool("x-kubernetes-embedded-resource") == true;
            foreach (var (k, v) in o.ToList())
            {
                if (isRoot && k is "apiVersion" or "kind" or "metadata") continue;
                if (embedded && k is "apiVersion" or "kind" or "metadata") continue;
                if (props?[k] is JsonObject ps) PruneInto(v, ps, false, path + "." + k, removed, smd);
                else if (additional is JsonObject asch) PruneInto(v, asch, false, path + "." + k, removed, smd);
                else if (additional is JsonValue av && av.GetValueKind() == JsonValueKind.True) { }
                else if (schema.Bool("x-kubernetes-preserve-unknown-fields") == true) { }
                else { o.Remove(k); removed.Add(path + "." + k); }
            }
        }
        else if (value is JsonArray a && schema.Obj("items") is { } items)
        {
            for (var i = 0; i < a.Count; i++) PruneInto(a[i], items, false, path + TypedDecoder.Element(schema, a[i], i, smd), removed, smd);
        }
    }

    public static void Validate(JsonNode? value, JsonObject schema, string path, List<(string, string, string)> causes, bool isRoot = false)
    {
        if (causes.Count > 50) return;
        if (value is null || (value is JsonValue nv && nv.GetValueKind() == JsonValueKind.Null))
        {
            if (schema.Bool("nullable") != true && !isRoot && schema["type"] is not null)
                causes.Add((path, "FieldValueTypeInvalid", $"Invalid value: \"null\": {path} in body must be of type {schema.Str("type")}: \"null\""));
            return;
        }
        var type = schema.Str("type");
        var intOrString = schema.Bool("x-kubernetes-int-or-string") == true;
        var kind = value.GetValueKind();
        if (intOrString)
        {
            if (kind is not (JsonValueKind.Number or JsonValueKind.String))
                causes.Add((path, "FieldValueTypeInvalid", $"Invalid value: \"{TypeName(kind)}\": {path} in body must be of type integer,string: \"{TypeName(kind)}\""));
        }
        else if (type is not null && !TypeMatches(type, value, kind))
        {
            causes.Add((path, "FieldValueTypeInvalid", $"Invalid value: \"{TypeName(kind)}\": {path} in body must be of type {type}: \"{TypeName(kind)}\""));
            return;
        }

        if (schema["enum"] is JsonArray en && !en.Any(e => ServerJson.DeepEquals(e, value)))
            causes.Add((path, "FieldValueNotSupported", $"Unsupported value: {value.ToJson()}: supported values: {string.Join(", ", en.Select(e => e.ToJson()))}"));

        switch (value)
        {
            case JsonObject o:
            {
                foreach (var r in schema.Arr("required") ?? [])
                {
                    var rn = r?.ToString() ?? "";
                    if (!o.ContainsKey(rn)) causes.Add((Join(path, rn), "FieldValueRequired", "Required value"));
                }
                var props = schema.Obj("properties");
                var additional = schema.Obj("additionalProperties");
                foreach (var (k, v) in o)
                {
                    if (isRoot && k is "apiVersion" or "kind" or "metadata") continue;
                    if (props?[k] is JsonObject ps) Validate(v, ps, Join(path, k), causes);
                    else if (additional is not null) Validate(v, additional, Join(path, k), causes);
                }
                if (schema.Long("maxProperties") is { } maxp && o.Count > maxp)
                    causes.Add((path, "TooMany", $"Too many: {o.Count}: must have at most {maxp} items"));
                if (schema.Long("minProperties") is { } minp && o.Count < minp)
                    causes.Add((path, "FieldValueInvalid", $"Invalid value: {o.Count}: {path} in body should have at least {minp} properties"));
                break;
            }
            case JsonArray a:
            {
                if (schema.Long("maxItems") is { } max && a.Count > max) causes.Add((path, "TooMany", $"Too many: {a.Count}: must have at most {max} items"));
                if (schema.Long("minItems") is { } min && a.Count < min) causes.Add((path, "FieldValueInvalid", $"Invalid value: {a.Count}: {path} in body should have at least {min} items"));
                if (schema.Obj("items") is { } items)
                    for (var i = 0; i < a.Count; i++) Validate(a[i], items, $"{path}[{i}]", causes);
                break;
            }
            case JsonValue v when kind == JsonValueKind.String:
            {
                var s = v.GetValue<string>();
                if (schema.Long("maxLength") is { } maxl && s.Length > maxl) causes.Add((path, "TooLong", $"Too long: may not be more than {maxl} bytes"));
                if (schema.Long("minLength") is { } minl && s.Length < minl) causes.Add((path, "FieldValueInvalid", $"Invalid value: \"{s}\": {path} in body should be at least {minl} chars long"));
                if (schema.Str("pattern") is { } pat && !intOrString)
                {
                    try
                    {
                        if (!Regex.IsMatch(s, pat, RegexOptions.None, TimeSpan.FromMilliseconds(100)))
                            causes.Add((path, "FieldValueInvalid", $"Invalid value: \"{s}\": {path} in body should match '{pat}'"));
                    }
                    catch (ArgumentException) { }
                    catch (RegexMatchTimeoutException) { }
                }
                break;
            }
            case JsonValue v when kind == JsonValueKind.Number:
            {
                var d = double.Parse(v.ToJsonString(), CultureInfo.InvariantCulture);
                if (type == "integer" && schema.Str("format") is "int32" or "int64" && !intOrString)
                {
                    var fmt = schema.Str("format");
                    var fits = fmt == "int32" ? d is >= int.MinValue and <= int.MaxValue : d is >= long.MinValue and <= long.MaxValue;
                    if (!fits)
                        causes.Add((path, "FieldValueTypeInvalid", $"Invalid value: {v.ToJsonString()}: {path} in body must be of type {fmt}: \"{v.ToJsonString()}\""));
                }
                if (schema.At("minimum") is JsonValue mn && d < double.Parse(mn.ToJsonString(), CultureInfo.InvariantCulture))
                    causes.Add((path, "FieldValueInvalid", $"Invalid value: {v.ToJsonString()}: {path} in body should be greater than or equal to {mn.ToJsonString()}"));
                if (schema.At("maximum") is JsonValue mx && d > double.Parse(mx.ToJsonString(), CultureInfo.InvariantCulture))
                    causes.Add((path, "FieldValueInvalid", $"Invalid value: {v.ToJsonString()}: {path} in body should be less than or equal to {mx.ToJsonString()}"));
                break;
            }
        }
    }

    private static string Join(string path, string k) => path.Length == 0 ? k : path + "." + k;

    private static bool TypeMatches(string type, JsonNode value, JsonValueKind kind) => type switch
    {
        "object" => value is JsonObject,
        "array" => value is JsonArray,
        "string" => kind == JsonValueKind.String,
        "boolean" => kind is JsonValueKind.True or JsonValueKind.False,
        "integer" => kind == JsonValueKind.Number && !value.ToJsonString().Contains('.') && !value.ToJsonString().Contains('e'),
        "number" => kind == JsonValueKind.Number,
        _ => true,
    };

    private static string TypeName(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        _ => "null",
    };
}
