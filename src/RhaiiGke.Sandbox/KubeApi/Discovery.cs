using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

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

/// <summary>meta.k8s.io/v1 Table responses for kubectl get: built-in columns and CRD additionalPrinterColumns.</summary>
internal static partial class Tables
{
    public static JsonObject Build(ResourceType t, IEnumerable<JsonObject> items, JsonObject meta)
    {
        var cols = new List<(string Name, string Type, string? Path, Func<JsonObject, JsonNode?>? Fn, int Priority)>
        {
            ("Name", "string", null, o => o.Name(), 0),
        };
        switch (t.Kind)
        {
            case "Pod":
                cols.Add(("Ready", "string", null, o => $"{(o.Arr("status", "containerStatuses") ?? []).Count(c => c.Bool("ready") == true)}/{o.Arr("spec", "containers")?.Count ?? 0}", 0));
                cols.Add(("Status", "string", null, o => o.Str("metadata", "deletionTimestamp") is not null ? "Terminating" : o.Str("status", "phase"), 0));
                cols.Add(("Restarts", "string", null, _ => "0", 0));
                break;
            case "Deployment":
                cols.Add(("Ready", "string", null, o => $"{o.Long("status", "readyReplicas") ?? 0}/{o.Long("spec", "replicas") ?? 0}", 0));
                cols.Add(("Up-to-date", "integer", null, o => o.Long("status", "updatedReplicas") ?? 0, 0));
                cols.Add(("Available", "integer", null, o => o.Long("status", "availableReplicas") ?? 0, 0));
                break;
            case "Service":
                cols.Add(("Type", "string", null, o => o.Str("spec", "type"), 0));
                cols.Add(("Cluster-IP", "string", null, o => o.Str("spec", "clusterIP"), 0));
                cols.Add(("External-IP", "string", null, o => o.Arr("status", "loadBalancer", "ingress")?.FirstOrDefault().Str("ip") ?? "<none>", 0));
                cols.Add(("Port(s)", "string", null, o => string.Join(",", (o.Arr("spec", "ports") ?? []).Select(p => $"{p.Long("port")}/{p.Str("protocol") ?? "TCP"}")), 0));
                break;
            case "Namespace":
                cols.Add(("Status", "string", null, o => o.Str("status", "phase"), 0));
                break;
            case "CustomResourceDefinition":
                cols.Add(("Created At", "date", null, o => o.Str("metadata", "creationTimestamp"), 0));
                break;
            case "Node":
                cols.Add(("Status", "string", null, o => o.Arr("status", "conditions")?.Any(c => c.Str("type") == "Ready" && c.Str("status") == "True") == true ? "Ready" : "NotReady", 0));
                break;
        }
        foreach (var pc in t.PrinterColumns?.OfType<JsonObject>() ?? [])
        {
            var path = pc.Str("jsonPath") ?? "";
            if (path == ".metadata.creationTimestamp") continue;
            cols.Add((pc.Str("name") ?? "", pc.Str("type") ?? "string", path, null, (int)(pc.Long("priority") ?? 0)));
        }
        cols.Add(("Age", "string", null, o => Age(o.Str("metadata", "creationTimestamp")), 0));

        var defs = new JsonArray();
        foreach (var c in cols)
            defs.Add(new JsonObject
            {
                ["name"] = c.Name, ["type"] = c.Type == "date" ? "string" : c.Type, ["format"] = c.Name == "Name" ? "name" : "",
                ["description"] = c.Name, ["priority"] = c.Priority,
            });
        var rows = new JsonArray();
        foreach (var o in items)
        {
            var cells = new JsonArray();
            foreach (var c in cols)
            {
                var v = c.Fn is not null ? c.Fn(o) : JsonPath(o, c.Path!);
                if (c.Type == "date" && v is JsonValue dv && dv.TryGetValue<string>(out var ds)) v = Age(ds);
                cells.Add(v?.DeepClone() ?? (c.Type is "integer" or "number" ? null : ""));
            }
            var partial = new JsonObject
            {
                ["kind"] = "PartialObjectMetadata", ["apiVersion"] = "meta.k8s.io/v1",
                ["metadata"] = o["metadata"]?.DeepClone(),
            };
            rows.Add(new JsonObject { ["cells"] = cells, ["object"] = partial });
        }
        return new JsonObject
        {
            ["kind"] = "Table", ["apiVersion"] = "meta.k8s.io/v1", ["metadata"] = meta.DeepClone(),
            ["columnDefinitions"] = defs, ["rows"] = rows,
        };
    }

    public static string Age(string? timestamp)
    {
        if (!DateTimeOffset.TryParse(timestamp, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)) return "<unknown>";
        var d = DateTimeOffset.UtcNow - t;
        if (d.TotalSeconds < 120) return $"{Math.Max(0, (int)d.TotalSeconds)}s";
        if (d.TotalMinutes < 60) return $"{(int)d.TotalMinutes}m";
        if (d.TotalHours < 48) return $"{(int)d.TotalHours}h";
        return $"{(int)d.TotalDays}d";
    }

    [GeneratedRegex(@"^\[\?\(@\.(\w+)\s*==\s*[""']([^""']*)[""']\)\]$")] private static partial Regex Filter();

    /// <summary>The subset of JSONPath CRD printer columns use: <c>.a.b</c>, <c>.a[0]</c>, <c>.a[?(@.type=="Ready")].status</c>.</summary>
    public static JsonNode? JsonPath(JsonNode? root, string path)
    {
        var cur = root;
        var p = path.Trim().TrimStart('{').TrimEnd('}').TrimStart('$');
        var i = 0;
        while (i < p.Length && cur is not null)
        {
            if (p[i] == '.')
            {
                i++;
                var start = i;
                while (i < p.Length && p[i] != '.' && p[i] != '[') i++;
                var name = p[start..i];
                cur = cur is JsonObject o ? o[name] : null;
            }
            else if (p[i] == '[')
            {
                var close = p.IndexOf(']', i);
                if (close < 0) return null;
                var inner = p[i..(close + 1)];
                i = close + 1;
                if (cur is not JsonArray a) return null;
                var m = Filter().Match(inner);
                if (m.Success) cur = a.FirstOrDefault(e => e.Str(m.Groups[1].Value) == m.Groups[2].Value);
                else if (int.TryParse(inner.Trim('[', ']'), out var idx)) cur = idx >= 0 && idx < a.Count ? a[idx] : null;
                else if (inner == "[*]") cur = a.FirstOrDefault();
                else return null;
            }
            else i++;
        }
        return cur;
    }
}
