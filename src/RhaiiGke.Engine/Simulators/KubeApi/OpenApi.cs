using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace RhaiiGke.Engine.Simulators.KubeApi;

/// <summary>
/// OpenAPI v3 as kubectl reads it: /openapi/v3 lists one document per group/version, and each
/// document declares, per kind, a PATCH operation that accepts <c>fieldValidation</c>. kubectl then
/// relies on server-side field validation instead of downloading full schemas. /openapi/v2 is not
/// served (kubectl wants it as protobuf), which kubectl only needs when v3 is missing.
/// </summary>
internal static class OpenApi
{
    public static JsonObject Document(SimCore core, string[] segs, string? hash)
    {
        if (segs.Length >= 2 && segs[1] == "v2")
            throw StatusError.NoResource();
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
                return GroupVersion(types, gvPath);
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
            paths[p] = new JsonObject { ["serverRelativeURL"] = $"/openapi/v3/{p}?hash={Hash(gv)}" };
        }
        return new JsonObject { ["paths"] = paths };
    }

    private static string Hash(IEnumerable<ResourceType> types)
    {
        var s = string.Join("|", types.Select(t => $"{t.Kind}:{t.Plural}:{t.Namespaced}:{t.CrdName}"));
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(s)))[..32];
    }

    private static JsonObject GroupVersion(List<ResourceType> types, string gvPath)
    {
        var paths = new JsonObject();
        var schemas = new JsonObject();
        foreach (var t in types)
        {
            var gvk = new JsonObject { ["group"] = t.Group, ["version"] = t.Version, ["kind"] = t.Kind };
            var basePath = "/" + gvPath + (t.Namespaced ? "/namespaces/{namespace}/" : "/") + t.Plural;
            JsonObject Op(string action, bool withValidation)
            {
                var parameters = new JsonArray(
                    new JsonObject { ["name"] = "dryRun", ["in"] = "query", ["schema"] = new JsonObject { ["type"] = "string" } },
                    new JsonObject { ["name"] = "fieldManager", ["in"] = "query", ["schema"] = new JsonObject { ["type"] = "string" } });
                if (withValidation) parameters.Add(new JsonObject { ["name"] = "fieldValidation", ["in"] = "query", ["schema"] = new JsonObject { ["type"] = "string" } });
                if (action == "patch") parameters.Add(new JsonObject { ["name"] = "force", ["in"] = "query", ["schema"] = new JsonObject { ["type"] = "boolean" } });
                return new JsonObject
                {
                    ["operationId"] = action + t.Kind, ["x-kubernetes-action"] = action,
                    ["x-kubernetes-group-version-kind"] = gvk.DeepClone(), ["parameters"] = parameters,
                    ["responses"] = new JsonObject { ["200"] = new JsonObject { ["description"] = "OK" } },
                };
            }
            paths[basePath] = new JsonObject { ["get"] = Op("list", false), ["post"] = Op("post", true) };
            paths[basePath + "/{name}"] = new JsonObject { ["get"] = Op("get", false), ["put"] = Op("put", true), ["patch"] = Op("patch", true), ["delete"] = Op("delete", false) };
            var schemaName = (t.Group.Length == 0 ? "io.k8s.api.core" : string.Join(".", Enumerable.Reverse(t.Group.Split('.')))) + "." + t.Version + "." + t.Kind;
            var schema = t.Schema?.DeepClone() as JsonObject ?? new JsonObject { ["type"] = "object", ["x-kubernetes-preserve-unknown-fields"] = true };
            schema["x-kubernetes-group-version-kind"] = new JsonArray(gvk.DeepClone());
            schemas[schemaName] = schema;
        }
        return new JsonObject
        {
            ["openapi"] = "3.0.0",
            ["info"] = new JsonObject { ["title"] = "Kubernetes", ["version"] = "unversioned" },
            ["paths"] = paths,
            ["components"] = new JsonObject { ["schemas"] = schemas },
        };
    }
}
