using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.KubeApi;

/// <summary>
/// What the apiserver's JSON decoder does with a built-in kind, driven by the Kubernetes OpenAPI
/// definitions: unknown fields are dropped (and reported, for fieldValidation Strict/Warn), and a value of
/// the wrong JSON type fails the request with Go's <c>json: cannot unmarshal ...</c> error (400).
/// </summary>
internal static class TypedDecoder
{
    /// <summary>Definitions the decoder accepts anything for (raw JSON, quantities and int-or-string take numbers and strings).</summary>
    private static readonly HashSet<string> s_anything = new(StringComparer.Ordinal)
    {
        "io.k8s.apimachinery.pkg.runtime.RawExtension", "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON", "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool", "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray",
    };

    private static readonly HashSet<string> s_scalarOrString = new(StringComparer.Ordinal)
    {
        "io.k8s.apimachinery.pkg.api.resource.Quantity", "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
    };

    /// <summary>
    /// Decodes <paramref name="obj"/> (a built-in kind, definition <paramref name="defName"/>): removes unknown
    /// fields and returns their paths (<c>spec.bogus</c>); throws the decoder's 400 on a type mismatch.
    /// The root <c>status</c> is skipped (it is the stored one, or a controller's).
    /// </summary>
    /// <param name="smd">Paths as structured-merge-diff prints them (list elements by key: <c>containers[name="main"]</c>), for apply errors.</param>
    public static List<string> Decode(SchemaLibrary lib, string defName, JsonObject obj, ResourceType t, bool smd = false)
    {
        var unknown = new List<string>();
        var def = lib.Definition(defName);
        if (def is null) return unknown;
        var ctx = new Ctx(lib, t, unknown, smd);
        var props = def.Obj("properties");
        foreach (var (k, v) in obj.ToList())
        {
            if (k is "apiVersion" or "kind" or "status") continue;
            if (props?[k] is JsonObject ps) Walk(ctx, v, ps, k, k, Short(defName));
            else { obj.Remove(k); unknown.Add(k); }
        }
        return unknown;
    }

    /// <summary>
    /// Decodes one field of a custom resource as its Go type (<c>metadata</c> is an ObjectMeta for every kind):
    /// removes unknown fields below it and returns their paths; throws the decoder's 400 on a type mismatch.
    /// </summary>
    public static List<string> DecodeField(SchemaLibrary lib, string defName, JsonObject parent, string field, ResourceType t)
    {
        var unknown = new List<string>();
        if (lib.Definition(defName) is null || parent[field] is null) return unknown;
        Walk(new Ctx(lib, t, unknown, false), parent[field], new JsonObject { ["$ref"] = "#/definitions/" + defName }, field, field, t.Kind);
        return unknown;
    }

    private sealed record Ctx(SchemaLibrary Lib, ResourceType Type, List<string> Unknown, bool Smd);

    /// <summary>A list element's path segment: <c>[i]</c>, or as structured-merge-diff names it (<c>[name="main"]</c>, <c>[="value"]</c>).</summary>
    public static string Element(JsonObject arraySchema, JsonNode? item, int i, bool smd)
    {
        if (!smd) return $"[{i}]";
        var keys = arraySchema.Arr("x-kubernetes-list-map-keys");
        if (arraySchema.Str("x-kubernetes-list-type") == "map" && keys is { Count: > 0 } && item is JsonObject io)
            return "[" + string.Join(",", keys.Select(k => $"{k}={io[k?.ToString() ?? ""]?.ToJsonString() ?? "null"}")) + "]";
        if (arraySchema.Str("x-kubernetes-list-type") == "set" && item is JsonValue) return $"[={item.ToJsonString()}]";
        return $"[{i}]";
    }

    private static string Short(string defName) => defName[(defName.LastIndexOf('.') + 1)..];

    private static string GoPackageType(string defName)
    {
        var parts = defName.Split('.');
        return parts.Length >= 2 ? parts[^2] + "." + parts[^1] : defName;
    }

    private static string GoType(SchemaLibrary lib, JsonObject schema)
    {
        if (schema.Str("$ref") is { } r) return GoPackageType(RefName(r));
        return schema.Str("type") switch
        {
            "string" => schema.Str("format") == "byte" ? "[]uint8" : "string",
            "integer" => schema.Str("format") switch { "int32" => "int32", "int64" => "int64", _ => "int" },
            "number" => "float64",
            "boolean" => "bool",
            "array" => "[]" + (schema.Obj("items") is { } it ? GoType(lib, it) : "interface {}"),
            "object" when schema.Obj("additionalProperties") is { } ap => "map[string]" + GoType(lib, ap),
            _ => "map[string]interface {}",
        };
    }

    private static string RefName(string r) => r[(r.LastIndexOf('/') + 1)..];

    private static void Walk(Ctx c, JsonNode? v, JsonObject schema, string path, string goPath, string goStruct)
    {
        if (v is null || (v is JsonValue nv && nv.GetValueKind() == JsonValueKind.Null)) return; // Go leaves the zero value
        var declared = schema;
        if (schema.Str("$ref") is { } r)
        {
            var name = RefName(r);
            if (s_anything.Contains(name)) return;
            if (s_scalarOrString.Contains(name))
            {
                if (v.GetValueKind() is not (JsonValueKind.String or JsonValueKind.Number)) Mismatch(c, v, goPath, goStruct, GoPackageType(name));
                return;
            }
            schema = c.Lib.Definition(name) ?? new JsonObject();
            if (schema.Str("format") == "int-or-string")
            {
                if (v.GetValueKind() is not (JsonValueKind.String or JsonValueKind.Number)) Mismatch(c, v, goPath, goStruct, GoPackageType(name));
                return;
            }
            if (schema.Str("type") == "string") // Time, MicroTime, Duration
            {
                if (v.GetValueKind() != JsonValueKind.String) Mismatch(c, v, goPath, goStruct, GoPackageType(name));
                return;
            }
            var props = schema.Obj("properties");
            if (v is not JsonObject o)
            {
                Mismatch(c, v, goPath, goStruct, GoPackageType(name));
                return;
            }
            if (props is null && schema["additionalProperties"] is null) return;
            foreach (var (k, child) in o.ToList())
            {
                if (props?[k] is JsonObject ps) Walk(c, child, ps, path + "." + k, goPath + "." + k, Short(name));
                else if (schema.Obj("additionalProperties") is { } ap) Walk(c, child, ap, path + "." + k, goPath + "." + k, Short(name));
                else { o.Remove(k); c.Unknown.Add(path + "." + k); }
            }
            return;
        }
        var kind = v.GetValueKind();
        switch (schema.Str("type"))
        {
            case "string":
                if (kind != JsonValueKind.String) { Mismatch(c, v, goPath, goStruct, GoType(c.Lib, declared)); return; }
                if (schema.Str("format") == "byte")
                {
                    var s = v.GetValue<string>();
                    var buf = new byte[s.Length];
                    if (!Convert.TryFromBase64String(s, buf, out _))
                        throw StatusError.BadRequest($"{Prefix(c.Type)}illegal base64 data at input byte {BadBase64At(s)}");
                }
                return;
            case "boolean":
                if (kind is not (JsonValueKind.True or JsonValueKind.False)) Mismatch(c, v, goPath, goStruct, "bool");
                return;
            case "integer":
            {
                if (kind != JsonValueKind.Number) { Mismatch(c, v, goPath, goStruct, GoType(c.Lib, declared)); return; }
                var text = v.ToJsonString();
                var fits = schema.Str("format") == "int32"
                    ? int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)
                    : long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _);
                if (!fits) Mismatch(c, v, goPath, goStruct, GoType(c.Lib, declared), "number " + text);
                return;
            }
            case "number":
                if (kind != JsonValueKind.Number) Mismatch(c, v, goPath, goStruct, "float64");
                return;
            case "array":
            {
                if (v is not JsonArray a) { Mismatch(c, v, goPath, goStruct, GoType(c.Lib, declared)); return; }
                if (schema.Obj("items") is { } items)
                    for (var i = 0; i < a.Count; i++) Walk(c, a[i], items, path + Element(schema, a[i], i, c.Smd), goPath, goStruct);
                return;
            }
            case "object":
            {
                if (v is not JsonObject o) { Mismatch(c, v, goPath, goStruct, GoType(c.Lib, declared)); return; }
                var inline = schema.Obj("properties");
                foreach (var (k, child) in o.ToList())
                {
                    if (inline?[k] is JsonObject ps) Walk(c, child, ps, path + "." + k, goPath + "." + k, goStruct);
                    else if (schema.Obj("additionalProperties") is { } ap) Walk(c, child, ap, path + "." + k, goPath, goStruct);
                    else if (inline is not null) { o.Remove(k); c.Unknown.Add(path + "." + k); }
                }
                return;
            }
        }
    }

    private static int BadBase64At(string s)
    {
        for (var i = 0; i < s.Length; i++)
            if (!(char.IsAsciiLetterOrDigit(s[i]) || s[i] is '+' or '/' or '=')) return i;
        return s.Length - (s.Length % 4);
    }

    private static string Prefix(ResourceType t) => $"{t.Kind} in version \"{t.Version}\" cannot be handled as a {t.Kind}: ";

    private static void Mismatch(Ctx c, JsonNode v, string goPath, string goStruct, string goType, string? value = null)
    {
        value ??= v.GetValueKind() switch
        {
            JsonValueKind.String => "string",
            JsonValueKind.Number => "number",
            JsonValueKind.Object => "object",
            JsonValueKind.Array => "array",
            _ => "bool",
        };
        throw StatusError.BadRequest($"{Prefix(c.Type)}json: cannot unmarshal {value} into Go struct field {goStruct}.{goPath} of type {goType}");
    }
}
