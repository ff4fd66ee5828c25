using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.KubeApi;

/// <summary>Legacy discovery documents: APIGroupList, APIGroup and APIResourceList.</summary>
internal static class Discovery
{
    public static JsonObject GroupList(ResourceRegistry reg)
    {
        var groups = new JsonArray();
        foreach (var (g, versions) in reg.Groups())
            groups.Add(GroupObject(g, versions));
        return new JsonObject { ["kind"] = "APIGroupList", ["apiVersion"] = "v1", ["groups"] = groups };
    }

    public static JsonObject? Group(ResourceRegistry reg, string group)
    {
        foreach (var (g, versions) in reg.Groups())
            if (g == group)
            {
                var o = GroupObject(g, versions);
                o["kind"] = "APIGroup";
                o["apiVersion"] = "v1";
                return o;
            }
        return null;
    }

    private static JsonObject GroupObject(string g, List<string> versions) => new()
    {
        ["name"] = g,
        ["versions"] = new JsonArray(versions.Select(v => (JsonNode)new JsonObject { ["groupVersion"] = $"{g}/{v}", ["version"] = v }).ToArray()),
        ["preferredVersion"] = new JsonObject { ["groupVersion"] = $"{g}/{versions[0]}", ["version"] = versions[0] },
    };

    private static readonly string[] AllVerbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

    public static JsonObject? ResourceList(ResourceRegistry reg, string group, string version)
    {
        var types = reg.All.Where(t => t.Group == group && t.Version == version).ToList();
        if (types.Count == 0) return null;
        var resources = new JsonArray();
        foreach (var t in types)
        {
            var r = new JsonObject
            {
                ["name"] = t.Plural, ["singularName"] = t.Singular, ["namespaced"] = t.Namespaced, ["kind"] = t.Kind,
                ["verbs"] = new JsonArray((t.Verbs ?? AllVerbs).Select(v => (JsonNode)v).ToArray()),
            };
            if (t.ShortNames.Length > 0) r["shortNames"] = new JsonArray(t.ShortNames.Select(v => (JsonNode)v).ToArray());
            if (t.Categories.Length > 0) r["categories"] = new JsonArray(t.Categories.Select(v => (JsonNode)v).ToArray());
            r["storageVersionHash"] = Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(t.StoreKey)))[..11];
            resources.Add(r);
            if (t.HasStatus)
                resources.Add(new JsonObject { ["name"] = t.Plural + "/status", ["singularName"] = "", ["namespaced"] = t.Namespaced, ["kind"] = t.Kind, ["verbs"] = new JsonArray("get", "patch", "update") });
            if (t.HasScale)
                resources.Add(new JsonObject { ["name"] = t.Plural + "/scale", ["singularName"] = "", ["namespaced"] = t.Namespaced, ["group"] = "autoscaling", ["version"] = "v1", ["kind"] = "Scale", ["verbs"] = new JsonArray("get", "patch", "update") });
            if (t.Kind == "Pod" && t.Group.Length == 0)
                resources.Add(new JsonObject { ["name"] = "pods/log", ["singularName"] = "", ["namespaced"] = true, ["kind"] = "Pod", ["verbs"] = new JsonArray("get") });
            if (t.Kind == "Namespace")
                resources.Add(new JsonObject { ["name"] = "namespaces/finalize", ["singularName"] = "", ["namespaced"] = false, ["kind"] = "Namespace", ["verbs"] = new JsonArray("update") });
        }
        return new JsonObject { ["kind"] = "APIResourceList", ["apiVersion"] = "v1", ["groupVersion"] = group.Length == 0 ? version : $"{group}/{version}", ["resources"] = resources };
    }
}
