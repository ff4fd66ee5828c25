using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.KubeApi;

/// <summary>One served resource (one group/version/plural).</summary>
internal sealed class ResourceType
{
    public required string Group { get; init; }
    public required string Version { get; init; }
    public required string Kind { get; init; }
    public required string Plural { get; init; }
    public string Singular { get; init; } = "";
    public bool Namespaced { get; init; }
    public string[] ShortNames { get; init; } = [];
    public string[] Categories { get; init; } = [];
    public bool HasStatus { get; init; }
    public bool HasScale { get; init; }
    public bool HasGeneration { get; init; }
    public string ListKind => Kind + "List";
    /// <summary>The CRD that serves this type, null for built-ins.</summary>
    public string? CrdName { get; init; }
    /// <summary>openAPIV3Schema of this version (custom resources).</summary>
    public JsonObject? Schema { get; init; }
    public JsonArray? PrinterColumns { get; init; }
    public bool Served { get; init; } = true;
    public bool Storage { get; init; } = true;
    /// <summary>Discovery verbs when not the full set (create-only review resources).</summary>
    public string[]? Verbs { get; init; }

    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";
    public string GroupResource => Group.Length == 0 ? Plural : $"{Plural}.{Group}";
    /// <summary>Objects are stored once per group and resource, whatever version they were written in.</summary>
    public string StoreKey => Group + "/" + Plural;
    public bool IsCustom => CrdName is not null;
    public override string ToString() => $"{ApiVersion} {Kind}";
}

/// <summary>The built-in resources the simulator serves, and the custom ones added by Established CRDs.</summary>
internal sealed class ResourceRegistry
{
    private readonly List<ResourceType> _builtIn = [];
    private readonly Dictionary<string, List<ResourceType>> _custom = new(StringComparer.Ordinal); // by CRD name

    public ResourceRegistry()
    {
        const string all = "all";
        // core/v1
        B("", "v1", "Namespace", "namespaces", false, ["ns"], status: true);
        B("", "v1", "Node", "nodes", false, ["no"], status: true);
        B("", "v1", "Pod", "pods", true, ["po"], [all], status: true);
        B("", "v1", "Service", "services", true, ["svc"], [all], status: true);
        B("", "v1", "Endpoints", "endpoints", true, ["ep"]);
        B("", "v1", "ConfigMap", "configmaps", true, ["cm"]);
        B("", "v1", "Secret", "secrets", true);
        B("", "v1", "ServiceAccount", "serviceaccounts", true, ["sa"]);
        B("", "v1", "Event", "events", true, ["ev"]);
        B("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true, ["pvc"], status: true);
        B("", "v1", "PersistentVolume", "persistentvolumes", false, ["pv"], status: true);
        B("", "v1", "ResourceQuota", "resourcequotas", true, ["quota"], status: true);
        B("", "v1", "LimitRange", "limitranges", true, ["limits"]);
        // apps/v1
        B("apps", "v1", "Deployment", "deployments", true, ["deploy"], [all], status: true, scale: true, generation: true);
        B("apps", "v1", "ReplicaSet", "replicasets", true, ["rs"], [all], status: true, scale: true, generation: true);
        B("apps", "v1", "StatefulSet", "statefulsets", true, ["sts"], [all], status: true, scale: true, generation: true);
        B("apps", "v1", "DaemonSet", "daemonsets", true, ["ds"], [all], status: true, generation: true);
        B("apps", "v1", "ControllerRevision", "controllerrevisions", true);
        B("batch", "v1", "Job", "jobs", true, [], [all], status: true, generation: true);
        B("batch", "v1", "CronJob", "cronjobs", true, ["cj"], [all], status: true, generation: true);
        B("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true, ["hpa"], [all], status: true);
        B("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true, ["pdb"], status: true, generation: true);
        B("coordination.k8s.io", "v1", "Lease", "leases", true);
        B("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true);
        B("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true, ["netpol"], generation: true);
        B("networking.k8s.io", "v1", "Ingress", "ingresses", true, ["ing"], status: true, generation: true);
        B("networking.k8s.io", "v1", "IngressClass", "ingressclasses", false);
        B("rbac.authorization.k8s.io", "v1", "Role", "roles", true);
        B("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true);
        B("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false);
        B("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false);
        B("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations", false, generation: true);
        B("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", false, generation: true);
        B("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false, ["crd", "crds"], status: true, generation: true);
        B("apiregistration.k8s.io", "v1", "APIService", "apiservices", false, status: true);
        B("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", false, ["pc"]);
        B("storage.k8s.io", "v1", "StorageClass", "storageclasses", false, ["sc"]);
        // create-only reviews (AuthReviews answers them; nothing is stored)
        _builtIn.Add(new ResourceType { Group = "authorization.k8s.io", Version = "v1", Kind = "SelfSubjectAccessReview", Plural = "selfsubjectaccessreviews", Singular = "selfsubjectaccessreview", Verbs = ["create"] });
        _builtIn.Add(new ResourceType { Group = "authentication.k8s.io", Version = "v1", Kind = "SelfSubjectReview", Plural = "selfsubjectreviews", Singular = "selfsubjectreview", Verbs = ["create"] });
    }

    private void B(string group, string version, string kind, string plural, bool ns, string[]? shortNames = null, string[]? categories = null,
        bool status = false, bool scale = false, bool generation = false) =>
        _builtIn.Add(new ResourceType
        {
            Group = group, Version = version, Kind = kind, Plural = plural, Singular = kind.ToLowerInvariant(), Namespaced = ns,
            ShortNames = shortNames ?? [], Categories = categories ?? [], HasStatus = status, HasScale = scale, HasGeneration = generation,
        });

    /// <summary>Every served type: built-ins and those of Established CRDs.</summary>
    public IEnumerable<ResourceType> All => _builtIn.Concat(_custom.Values.SelectMany(v => v)).Where(t => t.Served);

    public ResourceType? Find(string group, string version, string plural) =>
        All.FirstOrDefault(t => t.Group == group && t.Version == version && t.Plural == plural);

    public ResourceType? FindKind(string apiVersion, string kind) =>
        All.FirstOrDefault(t => t.ApiVersion == apiVersion && t.Kind == kind);

    /// <summary>Any version of a group/resource, for objects stored under it (garbage collection, namespace cleanup).</summary>
    public ResourceType? ByStoreKey(string storeKey) =>
        All.Where(t => t.StoreKey == storeKey).OrderByDescending(t => t.Storage).FirstOrDefault();

    public ResourceType BuiltIn(string group, string plural) => _builtIn.First(t => t.Group == group && t.Plural == plural);

    public bool IsBuiltInGroup(string group) => _builtIn.Any(t => t.Group == group);

    /// <summary>
    /// The upstream schema of a CRD version (by CRD name and version), when the sandbox was given a schema
    /// folder: it replaces the installed (stand-in) CRD's schema for validation, pruning and OpenAPI.
    /// </summary>
    public Func<string, string, JsonObject?>? SchemaOverride { get; set; }

    /// <summary>Serves the versions of an Established CRD.</summary>
    public void AddCrd(JsonObject crd)
    {
        var name = crd.Name();
        var spec = crd.Obj("spec")!;
        var group = spec.Str("group") ?? "";
        var names = spec.Obj("names");
        var scope = spec.Str("scope");
        var list = new List<ResourceType>();
        foreach (var v in spec.Arr("versions") ?? [])
        {
            list.Add(new ResourceType
            {
                Group = group,
                Version = v.Str("name") ?? "v1",
                Kind = names.Str("kind") ?? "",
                Plural = names.Str("plural") ?? "",
                Singular = names.Str("singular") ?? (names.Str("kind") ?? "").ToLowerInvariant(),
                ShortNames = (names.Arr("shortNames") ?? []).Select(x => x?.ToString() ?? "").ToArray(),
                Categories = (names.Arr("categories") ?? []).Select(x => x?.ToString() ?? "").ToArray(),
                Namespaced = scope != "Cluster",
                HasStatus = v.At("subresources", "status") is not null,
                HasScale = v.At("subresources", "scale") is not null,
                HasGeneration = true,
                CrdName = name,
                Schema = (SchemaOverride?.Invoke(name, v.Str("name") ?? "v1") ?? v.Obj("schema", "openAPIV3Schema"))?.Clone(),
                PrinterColumns = v.Arr("additionalPrinterColumns")?.DeepClone() as JsonArray,
                Served = v.Bool("served") ?? true,
                Storage = v.Bool("storage") ?? false,
            });
        }
        _custom[name] = list;
    }

    public void RemoveCrd(string name) => _custom.Remove(name);

    public bool IsServedCrd(string name) => _custom.ContainsKey(name);

    /// <summary>Groups with their versions, preferred (first listed) first, for /apis.</summary>
    public IEnumerable<(string Group, List<string> Versions)> Groups()
    {
        var order = new List<string>();
        var versions = new Dictionary<string, List<string>>();
        foreach (var t in All)
        {
            if (t.Group.Length == 0) continue;
            if (!versions.TryGetValue(t.Group, out var vs)) { vs = []; versions[t.Group] = vs; order.Add(t.Group); }
            if (!vs.Contains(t.Version)) vs.Add(t.Version);
        }
        foreach (var g in order) yield return (g, SortVersions(versions[g]));
    }

    /// <summary>Kubernetes version priority: GA before beta before alpha, higher numbers first.</summary>
    public static List<string> SortVersions(IEnumerable<string> versions) =>
        versions.OrderBy(VersionRank).ThenByDescending(VersionMajor).ThenByDescending(VersionMinor).ToList();

    private static int VersionRank(string v) => v.Contains("alpha") ? 2 : v.Contains("beta") ? 1 : System.Text.RegularExpressions.Regex.IsMatch(v, @"^v\d+$") ? 0 : 3;
    private static int VersionMajor(string v) { var m = System.Text.RegularExpressions.Regex.Match(v, @"^v(\d+)"); return m.Success ? int.Parse(m.Groups[1].Value) : 0; }
    private static int VersionMinor(string v) { var m = System.Text.RegularExpressions.Regex.Match(v, @"(alpha|beta)(\d+)$"); return m.Success ? int.Parse(m.Groups[2].Value) : 0; }
}
