using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.KubeApi;

/// <summary>
/// OpenAPI as the apiserver publishes it. /openapi/v3 lists one document per group/version; each declares,
/// per kind, the operations (with <c>fieldValidation</c>, which kubectl checks before relying on server-side
/// validation) and the kind's schema with everything it references: built-in kinds from the Kubernetes
/// OpenAPI of the sandbox's schema folder, custom resources from their served openAPIV3Schema (upstream
/// when the folder has the CRD), with metadata as ObjectMeta. That is what <c>kubectl explain</c> reads.
/// /openapi/v2 is served as JSON (swagger 2.0), or as gnostic protobuf (<see cref="OpenApiV2Proto"/>) when
/// the client asks for that, as kubectl does; any other media type is 406.
/// </summary>
internal static class OpenApi
{
    private const string ObjectMeta = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

    public static JsonObject Document(SimCore core, string[] segs, string? hash, string? accept = null)
    {
        if (segs.Length == 2 && segs[1] == "v2")
        {
            if (accept is not null && !accept.Contains("json", StringComparison.OrdinalIgnoreCase) && !accept.Contains("*/*", StringComparison.Ordinal))
                throw new StatusError(406, "NotAcceptable", "only the following media types are accepted: application/json");
            lock (core.Gate) return V2(core);
        }
        lock (core.Gate)
        {
            if (segs.Length == 2 && segs[1] == "v3") return Root(core);
            if (segs.Length >= 3 && segs[1] == "v3")
            {
                var gvPath = string.Join("/", segs.Skip(2));
                var (group, version) = segs[2] == "api" && segs.Length == 4 ? ("", segs[3]) : segs[2] == "apis" && segs.Length == 5 ? (segs[3], segs[4]) : (null, null);
                if (group is null || version is null) throw StatusError.NoResource();
                var types = core.Registry.All.Where(t => t.Group == group && t.Version == version).ToList();
                if (types.Count == 0) throw StatusError.NoResource();
                return GroupVersion(core, types, gvPath);
            }
        }
        throw StatusError.NoResource();
    }

    private static JsonObject Root(SimCore core)
    {
        var paths = new JsonObject();
        foreach (var gv in core.Registry.All.GroupBy(t => (t.Group, t.Version)))
        {
            var p = gv.Key.Group.Length == 0 ? $"api/{gv.Key.Version}" : $"apis/{gv.Key.Group}/{gv.Key.Version}";
            paths[p] = new JsonObject { ["serverRelativeURL"] = $"/openapi/v3/{p}?hash={Hash(gv, core.Schemas)}" };
        }
        return new JsonObject { ["paths"] = paths };
    }

    private static string Hash(IEnumerable<ResourceType> types, SchemaLibrary? lib)
    {
        var s = string.Join("|", types.Select(t => $"{t.Kind}:{t.Plural}:{t.Namespaced}:{t.CrdName}:{(t.Schema is null ? 0 : RuntimeHelpers.GetHashCode(t.Schema))}"))
                + "|" + (lib?.SwaggerFile ?? "");
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(s)))[..32];
    }

    /// <summary>The schema name the apiserver gives a kind: built-ins by their Go package, CRs as reversed-group.version.Kind.</summary>
    private static string SchemaName(SchemaLibrary? lib, ResourceType t) =>
        (!t.IsCustom ? lib?.DefinitionFor(t.Group, t.Version, t.Kind) : null)
        ?? (t.Group.Length == 0 ? "io.k8s.api.core" : string.Join(".", Enumerable.Reverse(t.Group.Split('.')))) + "." + t.Version + "." + t.Kind;

    /// <summary>The kind's schema (v3 refs), or null when the sandbox has none (built-ins without a Kubernetes OpenAPI).</summary>
    private static JsonObject? KindSchema(SchemaLibrary? lib, ResourceType t, string refPrefix)
    {
        if (!t.IsCustom)
        {
            var def = lib?.DefinitionFor(t.Group, t.Version, t.Kind) is { } dn ? lib.Definition(dn) : null;
            return def is null ? null : Rewrite(def, refPrefix);
        }
        if (t.Schema is null) return null;
        var schema = t.Schema.Clone();
        if (lib?.Definition(ObjectMeta) is not null)
        {
            var props = schema["properties"] as JsonObject ?? new JsonObject();
            schema["properties"] = props;
            props.Remove("metadata");
            props["metadata"] = new JsonObject
            {
                ["description"] = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
                ["allOf"] = new JsonArray(new JsonObject { ["$ref"] = refPrefix + ObjectMeta }),
            };
        }
        return schema;
    }

    /// <summary>A swagger definition with its <c>#/definitions/</c> references pointed at <paramref name="refPrefix"/>.</summary>
    private static JsonObject Rewrite(JsonObject def, string refPrefix)
    {
        var c = def.Clone();
        void Walk(JsonNode? n)
        {
            switch (n)
            {
                case JsonObject o:
                    if (o.Str("$ref") is { } r && r.StartsWith("#/definitions/", StringComparison.Ordinal)) o["$ref"] = refPrefix + r["#/definitions/".Length..];
                    foreach (var (_, v) in o) Walk(v);
                    break;
                case JsonArray a:
                    foreach (var v in a) Walk(v);
                    break;
            }
        }
        Walk(c);
        return c;
    }

    /// <summary>Adds every definition <paramref name="schema"/> references (transitively) to <paramref name="into"/>.</summary>
    private static void AddReferenced(SchemaLibrary lib, JsonNode? schema, JsonObject into, string refPrefix)
    {
        var queue = new Queue<JsonNode?>([schema]);
        while (queue.Count > 0)
        {
            switch (queue.Dequeue())
            {
                case JsonObject o:
                    if (o.Str("$ref") is { } r && r.StartsWith(refPrefix, StringComparison.Ordinal))
                    {
                        var name = r[refPrefix.Length..];
                        if (!into.ContainsKey(name) && lib.Definition(name) is { } def)
                        {
                            var rewritten = Rewrite(def, refPrefix);
                            into[name] = rewritten;
                            queue.Enqueue(rewritten);
                        }
                    }
                    foreach (var (_, v) in o) queue.Enqueue(v);
                    break;
                case JsonArray a:
                    foreach (var v in a) queue.Enqueue(v);
                    break;
            }
        }
    }

    private static JsonObject GroupVersion(SimCore core, List<ResourceType> types, string gvPath)
    {
        const string refPrefix = "#/components/schemas/";
        var lib = core.Schemas;
        var paths = new JsonObject();
        var schemas = new JsonObject();
        foreach (var t in types)
        {
            var gvk = new JsonObject { ["group"] = t.Group, ["version"] = t.Version, ["kind"] = t.Kind };
            var basePath = "/" + gvPath + (t.Namespaced ? "/namespaces/{namespace}/" : "/") + t.Plural;
            var schemaName = SchemaName(lib, t);
            JsonObject Op(string action, bool withValidation)
            {
                var parameters = new JsonArray(
                    new JsonObject { ["name"] = "dryRun", ["in"] = "query", ["schema"] = new JsonObject { ["type"] = "string" } },
                    new JsonObject { ["name"] = "fieldManager", ["in"] = "query", ["schema"] = new JsonObject { ["type"] = "string" } });
                if (withValidation) parameters.Add(new JsonObject { ["name"] = "fieldValidation", ["in"] = "query", ["schema"] = new JsonObject { ["type"] = "string" } });
                if (action == "patch") parameters.Add(new JsonObject { ["name"] = "force", ["in"] = "query", ["schema"] = new JsonObject { ["type"] = "boolean" } });
                var ok = new JsonObject { ["description"] = "OK" };
                if (action is "get" or "put" or "patch" or "post")
                    ok["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = new JsonObject { ["$ref"] = refPrefix + schemaName } } };
                return new JsonObject
                {
                    ["operationId"] = action + t.Kind, ["x-kubernetes-action"] = action,
                    ["x-kubernetes-group-version-kind"] = gvk.DeepClone(), ["parameters"] = parameters,
                    ["responses"] = new JsonObject { ["200"] = ok },
                };
            }
            paths[basePath] = new JsonObject { ["get"] = Op("list", false), ["post"] = Op("post", true) };
            paths[basePath + "/{name}"] = new JsonObject { ["get"] = Op("get", false), ["put"] = Op("put", true), ["patch"] = Op("patch", true), ["delete"] = Op("delete", false) };
            var schema = KindSchema(lib, t, refPrefix) ?? new JsonObject { ["type"] = "object", ["x-kubernetes-preserve-unknown-fields"] = true };
            schema["x-kubernetes-group-version-kind"] = new JsonArray(gvk.DeepClone());
            schemas[schemaName] = schema;
        }
        if (lib?.Definitions is not null)
            foreach (var (_, s) in schemas.ToList()) AddReferenced(lib, s, schemas, refPrefix);
        return new JsonObject
        {
            ["openapi"] = "3.0.0",
            ["info"] = new JsonObject { ["title"] = "Kubernetes", ["version"] = core.Options.KubernetesVersion },
            ["paths"] = paths,
            ["components"] = new JsonObject { ["schemas"] = schemas },
        };
    }

    /// <summary>Swagger 2.0 for every served kind: the Kubernetes OpenAPI's definitions (when present) and the CRDs' schemas.</summary>
    private static JsonObject V2(SimCore core)
    {
        const string refPrefix = "#/definitions/";
        var lib = core.Schemas;
        var defs = new JsonObject();
        var paths = new JsonObject();
        foreach (var t in core.Registry.All)
        {
            var name = SchemaName(lib, t);
            var schema = KindSchema(lib, t, refPrefix);
            if (schema is null) continue;
            schema["x-kubernetes-group-version-kind"] = new JsonArray(new JsonObject { ["group"] = t.Group, ["version"] = t.Version, ["kind"] = t.Kind });
            defs[name] = schema;
            var gvPath = t.Group.Length == 0 ? $"/api/{t.Version}" : $"/apis/{t.Group}/{t.Version}";
            paths[gvPath + (t.Namespaced ? "/namespaces/{namespace}/" : "/") + t.Plural + "/{name}"] = new JsonObject
            {
                ["get"] = new JsonObject
                {
                    ["operationId"] = "read" + t.Kind, ["x-kubernetes-action"] = "get",
                    ["x-kubernetes-group-version-kind"] = new JsonObject { ["group"] = t.Group, ["version"] = t.Version, ["kind"] = t.Kind },
                    ["responses"] = new JsonObject { ["200"] = new JsonObject { ["description"] = "OK", ["schema"] = new JsonObject { ["$ref"] = refPrefix + name } } },
                },
            };
        }
        if (lib?.Definitions is not null)
            foreach (var (_, s) in defs.ToList()) AddReferenced(lib, s, defs, refPrefix);
        return new JsonObject
        {
            ["swagger"] = "2.0",
            ["info"] = new JsonObject { ["title"] = "Kubernetes", ["version"] = core.Options.KubernetesVersion },
            ["paths"] = paths,
            ["definitions"] = defs,
        };
    }
}
