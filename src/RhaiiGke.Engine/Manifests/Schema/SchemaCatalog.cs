using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace RhaiiGke.Engine.Manifests.Schema;

/// <summary>One schema problem in one object.</summary>
public sealed record SchemaError(string Kind, string Name, string Path, string Message)
{
    public override string ToString() => $"{Kind}/{Name} {Path}: {Message}";
}

/// <summary>
/// Strict validation of Kubernetes objects against upstream schemas: CRD openAPIV3Schema (per served
/// version) and the Kubernetes OpenAPI v2 definitions (built-in kinds and ObjectMeta). Unknown fields
/// are errors unless the schema preserves them, as the API server does with strict field validation.
/// CEL rules (x-kubernetes-validations) are not evaluated.
/// </summary>
public sealed class SchemaCatalog
{
    private readonly Dictionary<(string Group, string Version, string Kind), JsonNode> _schemas = new();
    private JsonObject? _definitions;

    public IReadOnlyCollection<(string Group, string Version, string Kind)> Kinds => _schemas.Keys;

    /// <summary>Loads every CRD (*.yaml) and Kubernetes swagger (*.json) file under <paramref name="root"/>.</summary>
    public static SchemaCatalog Load(string root, string swaggerFileName = "swagger-v1.34.0.json")
    {
        var cat = new SchemaCatalog();
        foreach (var file in Directory.EnumerateFiles(root, "*.yaml", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            foreach (var doc in YamlCodec.ReadAll(File.ReadAllText(file)))
                if (doc is JsonObject o && o["kind"]?.GetValue<string>() == "CustomResourceDefinition") cat.AddCrd(o);
        var swagger = Directory.EnumerateFiles(root, swaggerFileName, SearchOption.AllDirectories).FirstOrDefault();
        if (swagger is not null) cat.AddSwagger(JsonNode.Parse(File.ReadAllText(swagger))!.AsObject());
        return cat;
    }

    public void AddCrd(JsonObject crd)
    {
        var spec = crd["spec"]!;
        var group = spec["group"]!.GetValue<string>();
        var kind = spec["names"]!["kind"]!.GetValue<string>();
        foreach (var v in spec["versions"]!.AsArray())
        {
            var schema = v!["schema"]?["openAPIV3Schema"];
            if (schema is not null) _schemas[(group, v["name"]!.GetValue<string>(), kind)] = schema;
        }
    }

    public void AddSwagger(JsonObject swagger)
    {
        _definitions = swagger["definitions"]!.AsObject();
        foreach (var (_, def) in _definitions)
        {
            if (def?["x-kubernetes-group-version-kind"] is not JsonArray gvks) continue;
            foreach (var gvk in gvks)
                _schemas.TryAdd((gvk!["group"]!.GetValue<string>(), gvk["version"]!.GetValue<string>(), gvk["kind"]!.GetValue<string>()), def);
        }
    }

    public bool Has(string apiVersion, string kind) => _schemas.ContainsKey(Gvk(apiVersion, kind));

    private static (string, string, string) Gvk(string apiVersion, string kind)
    {
        var i = apiVersion.IndexOf('/');
        return i < 0 ? ("", apiVersion, kind) : (apiVersion[..i], apiVersion[(i + 1)..], kind);
    }

    /// <summary>Validates one object; an object whose kind has no schema yields one error saying so.</summary>
    public List<SchemaError> Validate(JsonObject obj)
    {
        var apiVersion = obj["apiVersion"]?.GetValue<string>() ?? "";
        var kind = obj["kind"]?.GetValue<string>() ?? "";
        var name = obj["metadata"]?["name"]?.GetValue<string>() ?? "";
        var errors = new List<SchemaError>();
        if (!_schemas.TryGetValue(Gvk(apiVersion, kind), out var schema))
        {
            errors.Add(new SchemaError(kind, name, "", $"no schema for {apiVersion} {kind}"));
            return errors;
        }
        var v = new Walker(this, kind, name, errors);
        v.Check(obj, schema, "");
        // CRD schemas describe metadata as a bare object: hold it to ObjectMeta like the API server does.
        if (obj["metadata"] is JsonNode meta && _definitions?["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"] is JsonNode om)
            v.Check(meta, om, ".metadata");
        return errors;
    }

    private JsonNode Resolve(JsonNode schema)
    {
        for (var i = 0; i < 32 && schema["$ref"] is JsonValue r; i++)
        {
            var name = r.GetValue<string>().Replace("#/definitions/", "");
            schema = _definitions?[name] ?? throw new InvalidOperationException($"unresolved $ref {name}");
        }
        return schema;
    }

    private sealed class Walker(SchemaCatalog cat, string kind, string name, List<SchemaError> errors)
    {
        private void Error(string path, string message) => errors.Add(new SchemaError(kind, name, path == "" ? "." : path, message));

        public void Check(JsonNode? value, JsonNode schema, string path)
        {
            schema = cat.Resolve(schema);
            if (value is null)
            {
                if (schema["nullable"]?.GetValue<bool>() != true && schema["type"] is not null) Error(path, "null is not allowed");
                return;
            }
            if (schema["allOf"] is JsonArray allOf) foreach (var s in allOf) Check(value, s!, path);
            if (schema["anyOf"] is JsonArray anyOf && !anyOf.Any(s => Matches(value, s!, path))) Error(path, "matches none of anyOf");
            if (schema["oneOf"] is JsonArray oneOf && oneOf.Count(s => Matches(value, s!, path)) != 1) Error(path, "must match exactly one of oneOf");

            var intOrString = schema["x-kubernetes-int-or-string"]?.GetValue<bool>() == true || schema["format"]?.GetValue<string>() == "int-or-string";
            var type = schema["type"]?.GetValue<string>();
            var isQuantity = schema["description"]?.GetValue<string>()?.StartsWith("Quantity is a fixed-point", StringComparison.Ordinal) == true;
            if (intOrString || isQuantity)
            {
                if (!(IsString(value) || IsInteger(value) || isQuantity && IsNumber(value))) Error(path, "must be an integer or a string");
                return;
            }
            switch (type)
            {
                case "object":
                    if (value is not JsonObject o) { Error(path, $"must be an object, not {Describe(value)}"); return; }
                    CheckObject(o, schema, path);
                    break;
                case "array":
                    if (value is not JsonArray a) { Error(path, $"must be an array, not {Describe(value)}"); return; }
                    if (schema["maxItems"] is JsonValue max && a.Count > Num(max)) Error(path, $"has {a.Count} items, more than {max}");
                    if (schema["minItems"] is JsonValue min && a.Count < Num(min)) Error(path, $"has {a.Count} items, fewer than {min}");
                    if (schema["items"] is JsonNode items) for (var i = 0; i < a.Count; i++) Check(a[i], items, $"{path}[{i}]");
                    break;
                case "string":
                    if (!IsString(value)) { Error(path, $"must be a string, not {Describe(value)}"); return; }
                    var s = value.GetValue<string>();
                    if (schema["maxLength"] is JsonValue ml && s.Length > Num(ml)) Error(path, $"is longer than {ml}");
                    if (schema["minLength"] is JsonValue mn && s.Length < Num(mn)) Error(path, $"is shorter than {mn}");
                    if (schema["pattern"] is JsonValue p && !SafeMatch(s, p.GetValue<string>())) Error(path, $"'{s}' does not match {p}");
                    break;
                case "integer":
                    if (!IsInteger(value)) { Error(path, $"must be an integer, not {Describe(value)}"); return; }
                    CheckRange(Num(value), schema, path);
                    break;
                case "number":
                    if (!IsNumber(value)) { Error(path, $"must be a number, not {Describe(value)}"); return; }
                    CheckRange(Num(value), schema, path);
                    break;
                case "boolean":
                    if (value is not JsonValue bv || bv.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False)) Error(path, $"must be a boolean, not {Describe(value)}");
                    break;
                case null:
                    if (schema["properties"] is not null && value is JsonObject oo) CheckObject(oo, schema, path);
                    else if (schema["required"] is JsonArray bareRequired && value is JsonObject ro)
                        foreach (var r in bareRequired)
                            if (!ro.ContainsKey(r!.GetValue<string>())) Error(path, $"missing required field '{r}'");
                    break;
            }
            if (schema["not"] is JsonNode not && Matches(value, not, path)) Error(path, "matches a schema it must not match");
            if (schema["enum"] is JsonArray en && !en.Any(e => JsonNode.DeepEquals(e, value)))
                Error(path, $"{value.ToJsonString()} is not one of {en.ToJsonString()}");
        }

        private void CheckObject(JsonObject o, JsonNode schema, string path)
        {
            var props = schema["properties"] as JsonObject;
            var preserve = schema["x-kubernetes-preserve-unknown-fields"]?.GetValue<bool>() == true;
            var additional = schema["additionalProperties"];
            foreach (var (k, v) in o)
            {
                var childPath = $"{path}.{k}";
                if (props is not null && props.TryGetPropertyValue(k, out var ps) && ps is not null) Check(v, ps, childPath);
                else if (additional is JsonObject addSchema) Check(v, addSchema, childPath);
                else if (additional is JsonValue addBool && addBool.GetValueKind() == JsonValueKind.True) { }
                else if (preserve) { }
                else if (path == "" && k is "apiVersion" or "kind" or "metadata") { }
                else if (props is null && additional is null && !HasStructure(schema)) { } // free-form object
                else Error(childPath, "unknown field");
            }
            if (schema["required"] is JsonArray req)
                foreach (var r in req)
                    if (!o.ContainsKey(r!.GetValue<string>())) Error(path, $"missing required field '{r}'");
            if (schema["maxProperties"] is JsonValue mp && o.Count > Num(mp)) Error(path, $"has more than {mp} properties");
            if (schema["minProperties"] is JsonValue mnp && o.Count < Num(mnp)) Error(path, $"has fewer than {mnp} properties");
        }

        private static bool HasStructure(JsonNode schema) => schema["properties"] is not null || schema["additionalProperties"] is not null;

        private void CheckRange(double d, JsonNode schema, string path)
        {
            if (schema["minimum"] is JsonValue min && d < Num(min)) Error(path, $"{d} is below the minimum {min}");
            if (schema["maximum"] is JsonValue max && d > Num(max)) Error(path, $"{d} is above the maximum {max}");
        }

        private bool Matches(JsonNode value, JsonNode schema, string path)
        {
            var probe = new List<SchemaError>();
            new Walker(cat, kind, name, probe).Check(value, schema, path);
            return probe.Count == 0;
        }

        private static bool SafeMatch(string s, string pattern)
        {
            try { return Regex.IsMatch(s, pattern, RegexOptions.None, TimeSpan.FromSeconds(1)); }
            catch (ArgumentException) { return true; } // an RE2 construct .NET does not parse: not our finding
        }

        private static bool IsString(JsonNode v) => v is JsonValue jv && jv.GetValueKind() == JsonValueKind.String;
        private static bool IsNumber(JsonNode v) => v is JsonValue jv && jv.GetValueKind() == JsonValueKind.Number;
        private static bool IsInteger(JsonNode v) => IsNumber(v) && Math.Abs(Num(v) % 1) < double.Epsilon;
        private static double Num(JsonNode v) => double.Parse(v.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture);
        private static string Describe(JsonNode v) => v switch { JsonObject => "an object", JsonArray => "an array", _ => v.ToJsonString() };
    }
}
