using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RhaiiGke.Engine.Kube.Json;

namespace RhaiiGke.Engine.Kube;

/// <summary>
/// What the API server would refuse about an object's names and size, checked on the client for every
/// object before the first request, so that a bad object in a set never leaves a partial apply behind
/// (a Namespace created, then a 422 for the object after it):
/// <list type="bullet">
/// <item>metadata.name as the server validates it for the kind: a DNS-1123 label (63 characters) for
/// Namespaces and Services, a path segment for RBAC kinds (so <c>system:aggregate-to-view</c> passes), a
/// DNS-1123 subdomain (253) for everything else; metadata.namespace a DNS-1123 label;</item>
/// <item>annotations at most 256 KiB together (apimachinery's TotalAnnotationSizeLimitB, keys and values);</item>
/// <item>the object at most 1.5 MiB as JSON (etcd's request limit; the API server itself refuses bodies over 3 MiB).</item>
/// </list>
/// </summary>
public static partial class ObjectLimits
{
    /// <summary>apimachinery's TotalAnnotationSizeLimitB.</summary>
    public const int MaxAnnotationBytes = 256 * 1024;

    /// <summary>etcd's default request size limit (--max-request-bytes 1.5 MiB), which bounds what one object may weigh.</summary>
    public const int MaxObjectBytes = 1536 * 1024;

    /// <summary>Deepest nesting of objects and arrays sent (System.Text.Json's default writer depth); the YAML readers allow more, for lint.</summary>
    public const int MaxDepth = 64;

    /// <summary>Nesting depth of a node (an object or array counts one level), without recursion.</summary>
    public static int Depth(JsonNode? root)
    {
        var max = 0;
        var stack = new Stack<(JsonNode Node, int Depth)>();
        if (root is JsonObject or JsonArray) stack.Push((root, 1));
        while (stack.Count > 0)
        {
            var (n, d) = stack.Pop();
            if (d > max) max = d;
            if (d > MaxDepth) return d; // enough to refuse
            IEnumerable<JsonNode?> children = n is JsonObject obj ? obj.Select(kv => kv.Value) : (JsonArray)n;
            foreach (var c in children)
                if (c is JsonObject or JsonArray) stack.Push((c, d + 1));
        }
        return max;
    }

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")] private static partial Regex Label();
    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")] private static partial Regex Subdomain();

    private static readonly HashSet<string> LabelNamedKinds = new(StringComparer.Ordinal) { "Namespace", "Service" };
    private static readonly HashSet<string> PathSegmentNamedKinds = new(StringComparer.Ordinal) { "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding" };

    /// <summary>Why the API server would refuse <paramref name="name"/> for <paramref name="kind"/>, or null when it is valid.</summary>
    public static string? NameProblem(string kind, string name)
    {
        if (name.Length == 0) return "a name is required";
        if (PathSegmentNamedKinds.Contains(kind))
        {
            if (name is "." or "..") return $"may not be '{name}'";
            return name.IndexOfAny(['/', '%']) >= 0 ? "may not contain '/' or '%'" : null;
        }
        if (LabelNamedKinds.Contains(kind))
            return name.Length <= 63 && Label().IsMatch(name) ? null
                : "must be a lowercase RFC 1123 label: at most 63 lowercase letters, digits or '-', starting and ending with a letter or digit (e.g. 'my-name')";
        return name.Length <= 253 && Subdomain().IsMatch(name) ? null
            : "must be a lowercase RFC 1123 subdomain: at most 253 lowercase letters, digits, '-' or '.', starting and ending with a letter or digit (e.g. 'example.com')";
    }

    /// <summary>Why the API server would refuse <paramref name="ns"/> as a namespace, or null.</summary>
    public static string? NamespaceProblem(string ns) => NameProblem("Namespace", ns);

    /// <summary>Total size of the annotations as apimachinery counts it (UTF-8 bytes of keys and values).</summary>
    public static long AnnotationBytes(JsonObject obj)
    {
        long total = 0;
        foreach (var (k, v) in obj.Obj("metadata", "annotations") ?? [])
            total += Encoding.UTF8.GetByteCount(k) + (v is JsonValue jv && jv.TryGetValue<string>(out var s) ? Encoding.UTF8.GetByteCount(s) : Encoding.UTF8.GetByteCount(v?.ToJsonString() ?? ""));
        return total;
    }

    /// <summary>
    /// Throws <see cref="RhaiiException"/> for the first object the API server would refuse for its name
    /// (<c>InvalidObjectName</c>, InvalidArgument), its annotations (<c>AnnotationsTooLarge</c>) or its size
    /// (<c>ObjectTooLarge</c>, both LimitsExceeded). Call it before anything is sent.
    /// </summary>
    public static void Check(IEnumerable<JsonObject> objects)
    {
        foreach (var o in objects)
        {
            var kind = o.Str("kind") ?? "";
            var name = o.Name();
            var ns = o.Namespace();
            var id = $"{kind} {(ns is null ? "" : ns + "/")}{name}";
            if (o.Str("metadata", "generateName") is null || name.Length > 0)
            {
                if (NameProblem(kind, name) is { } why)
                    throw new RhaiiException("InvalidObjectName", RhaiiErrorCategory.InvalidArgument,
                        $"{id}: metadata.name '{name}' is not valid: it {why}. The API server would refuse it; nothing was sent.",
                        "Rename the object (Kubernetes names are lowercase: use 'my-model', not 'My-Model').", name);
            }
            if (ns is not null && NamespaceProblem(ns) is { } nsWhy)
                throw new RhaiiException("InvalidObjectName", RhaiiErrorCategory.InvalidArgument,
                    $"{id}: metadata.namespace '{ns}' is not valid: it {nsWhy}. The API server would refuse it; nothing was sent.",
                    "Use a lowercase namespace name such as 'llm'.", ns);
            var annotations = AnnotationBytes(o);
            if (annotations > MaxAnnotationBytes)
                throw new RhaiiException("AnnotationsTooLarge", RhaiiErrorCategory.LimitsExceeded,
                    $"{id}: its annotations take {annotations:N0} bytes; the API server allows {MaxAnnotationBytes:N0} bytes (256 KiB) for all annotations of an object together; nothing was sent.",
                    "Move large data out of annotations (into a ConfigMap, or a volume the pod reads).", id);
            if (Depth(o) > MaxDepth)
                throw new RhaiiException("ObjectNestingTooDeep", RhaiiErrorCategory.LimitsExceeded,
                    $"{id} nests objects and arrays more than {MaxDepth} levels deep; Kubernetes objects nest a few dozen levels at most, and this client sends up to {MaxDepth}; nothing was sent.",
                    "Check that the manifest is the one you meant (a generated or hostile file?) and flatten it.", id);
            var size = Encoding.UTF8.GetByteCount(o.ToJson());
            if (size > MaxObjectBytes)
                throw new RhaiiException("ObjectTooLarge", RhaiiErrorCategory.LimitsExceeded,
                    $"{id} is {size:N0} bytes as JSON; etcd stores objects up to {MaxObjectBytes:N0} bytes (1.5 MiB) and the API server refuses bodies over 3 MiB; nothing was sent.",
                    "Split the data over several objects, or keep large files (models, datasets) in storage the pod mounts instead of in ConfigMaps or Secrets.", id);
        }
    }
}
