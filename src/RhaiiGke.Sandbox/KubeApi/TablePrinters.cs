using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace RhaiiGke.Sandbox.KubeApi;

/// <summary>
/// Server-side printing: the meta.k8s.io Table kube-apiserver returns when a client asks with
/// <c>Accept: application/json;as=Table;v=v1;g=meta.k8s.io</c> (kubectl get does). The columns and cell
/// formats follow kubernetes/pkg/printers/internalversion/printers.go at the simulated version (v1.32): the
/// server prints every column (GenerateOptions Wide=true), wide-only ones have priority 1 and kubectl hides them
/// unless -o wide. CustomResourceDefinitions use the generic REST table convertor (Name, Created At as RFC3339);
/// custom resources their CRD version's additionalPrinterColumns (Age alone when it declares none), as the
/// apiextensions-apiserver table convertor does.
/// </summary>
internal static partial class Tables
{
    internal sealed record Column(string Name, string Type, int Priority, string Description, Func<JsonObject, JsonNode?> Cell, string Format = "");

    /// <summary>What <c>?includeObject=</c> asks for in each row: None, Metadata (the default: PartialObjectMetadata) or Object.</summary>
    public static string IncludeObject(string? value) => value switch
    {
        null or "" or "Metadata" => "Metadata",
        "None" => "None",
        "Object" => "Object",
        _ => throw StatusError.BadRequest($"unrecognized includeObject value: \"{value}\""),
    };

    /// <summary>
    /// The Table version an Accept header asks for ("v1" or "v1beta1"), null when it asks for the plain object
    /// (or does not name a Table). A header that accepts only Tables of versions the server does not have is 406.
    /// </summary>
    public static string? NegotiateTable(string? accept)
    {
        if (accept is null || !accept.Contains("as=Table", StringComparison.Ordinal)) return null;
        var otherwise = false;
        foreach (var part in accept.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var fields = part.Split(';', StringSplitOptions.TrimEntries);
            var media = fields[0];
            var p = fields.Skip(1).Select(f => f.Split('=', 2)).Where(kv => kv.Length == 2).ToDictionary(kv => kv[0], kv => kv[1], StringComparer.Ordinal);
            if (p.TryGetValue("as", out var asKind))
            {
                if (asKind == "Table" && p.GetValueOrDefault("g") == "meta.k8s.io" && p.GetValueOrDefault("v") is "v1" or "v1beta1"
                    && media is "application/json" or "application/yaml" or "*/*")
                    return p["v"];
                continue;
            }
            if (media is "application/json" or "application/yaml" or "*/*" or "application/*" or "application/vnd.kubernetes.protobuf") { otherwise = true; break; }
        }
        if (otherwise) return null;
        throw new StatusError(406, "NotAcceptable", "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf");
    }

    /// <summary>The Table of <paramref name="items"/> (one object for a get, the page of a list, one per watch event).</summary>
    public static JsonObject Build(ResourceType t, IEnumerable<JsonObject> items, JsonObject meta, string includeObject = "Metadata", string version = "v1", bool headers = true)
    {
        var cols = Columns(t);
        var defs = new JsonArray();
        if (headers)
            foreach (var c in cols)
                defs.Add(new JsonObject { ["name"] = c.Name, ["type"] = c.Type, ["format"] = c.Format, ["description"] = c.Description, ["priority"] = c.Priority });
        var rows = new JsonArray();
        foreach (var o in items)
        {
            var cells = new JsonArray();
            foreach (var c in cols) cells.Add(c.Cell(o)?.DeepClone());
            var row = new JsonObject { ["cells"] = cells };
            if (RowConditions(t, o) is { } conditions) row["conditions"] = conditions;
            row["object"] = includeObject switch
            {
                "None" => null,
                "Object" => o.DeepClone(),
                _ => new JsonObject
                {
                    ["kind"] = "PartialObjectMetadata", ["apiVersion"] = "meta.k8s.io/" + version,
                    ["metadata"] = o["metadata"]?.DeepClone() ?? new JsonObject(),
                },
            };
            rows.Add(row);
        }
        return new JsonObject
        {
            ["kind"] = "Table", ["apiVersion"] = "meta.k8s.io/" + version, ["metadata"] = meta.DeepClone(),
            ["columnDefinitions"] = defs, ["rows"] = rows,
        };
    }

    // ------------------------------------------------------------------ columns

    private const string NameDoc = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
    private const string CreatedDoc = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

    private static Column NameCol() => new("Name", "string", 0, NameDoc, o => o.Name(), "name");
    private static Column AgeCol() => new("Age", "string", 0, CreatedDoc, o => Age(o.Str("metadata", "creationTimestamp")));
    private static Column S(string name, string doc, Func<JsonObject, JsonNode?> cell, int priority = 0) => new(name, "string", priority, doc, cell);
    private static Column I(string name, string doc, Func<JsonObject, JsonNode?> cell, int priority = 0) => new(name, "integer", priority, doc, cell);

    public static IReadOnlyList<Column> Columns(ResourceType t)
    {
        if (t.IsCustom) return CustomColumns(t);
        if (t.Group is "" or "apps" or "coordination.k8s.io" or "batch" or "rbac.authorization.k8s.io" or "discovery.k8s.io" or "policy" or "scheduling.k8s.io" or "storage.k8s.io" or "networking.k8s.io")
        {
            var cols = BuiltInColumns(t.Kind);
            if (cols is not null) return cols;
        }
        if (t.Kind == "CustomResourceDefinition" || t.Group == "apiregistration.k8s.io" || t.Group == "admissionregistration.k8s.io")
            return DefaultColumns();
        return [NameCol(), AgeCol()];
    }

    /// <summary>rest.NewDefaultTableConvertor: Name and Created At (RFC3339, UTC), what kubectl get crd shows.</summary>
    private static Column[] DefaultColumns() =>
    [
        NameCol(),
        new("Created At", "date", 0, CreatedDoc, o => Rfc3339(o.Str("metadata", "creationTimestamp"))),
    ];

    private static Column[]? BuiltInColumns(string kind) => kind switch
    {
        "Pod" =>
        [
            NameCol(),
            S("Ready", "The aggregate readiness state of this pod for accepting traffic.", o => PodSummary(o).Ready),
            S("Status", "The aggregate status of the containers in this pod.", o => PodSummary(o).Reason),
            S("Restarts", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.", o => PodSummary(o).Restarts),
            AgeCol(),
            S("IP", "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
                o => o.Arr("status", "podIPs")?.FirstOrDefault().Str("ip") ?? o.Str("status", "podIP") ?? "<none>", 1),
            S("Node", "NodeName indicates in which node this pod is scheduled.", o => NonEmpty(o.Str("spec", "nodeName")), 1),
            S("Nominated Node", "nominatedNodeName is set only when this pod preempts other pods on the node.", o => NonEmpty(o.Str("status", "nominatedNodeName")), 1),
            S("Readiness Gates", "If specified, all readiness gates will be evaluated for pod readiness.", ReadinessGates, 1),
        ],
        "Node" =>
        [
            NameCol(),
            S("Status", "The status of the node", NodeStatus),
            S("Roles", "The roles of the node", NodeRoles),
            AgeCol(),
            S("Version", "Kubelet Version reported by the node.", o => o.Str("status", "nodeInfo", "kubeletVersion") ?? ""),
            S("Internal-IP", "List of addresses reachable to the node.", o => NodeAddress(o, "InternalIP"), 1),
            S("External-IP", "List of addresses reachable to the node.", o => NodeAddress(o, "ExternalIP"), 1),
            S("OS-Image", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).", o => Unknown(o.Str("status", "nodeInfo", "osImage")), 1),
            S("Kernel-Version", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", o => Unknown(o.Str("status", "nodeInfo", "kernelVersion")), 1),
            S("Container-Runtime", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).", o => Unknown(o.Str("status", "nodeInfo", "containerRuntimeVersion")), 1),
        ],
        "Event" =>
        [
            S("Last Seen", "The time at which the most recent occurrence of this event was recorded.", o => EventTimes(o).Last),
            S("Type", "Type of this event (Normal, Warning), new types could be added in the future", o => o.Str("type") ?? ""),
            S("Reason", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.", o => o.Str("reason") ?? ""),
            S("Object", "The object that this event is about.", EventTarget),
            S("Subobject", "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2].", o => o.Str("involvedObject", "fieldPath") ?? "", 1),
            S("Source", "The component reporting this event. Should be a short machine understandable string.", EventSource, 1),
            S("Message", "A human-readable description of the status of this operation.", o => (o.Str("message") ?? "").Trim()),
            S("First Seen", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)", o => EventTimes(o).First, 1),
            S("Count", "The number of times this event has occurred.", o => EventTimes(o).Count, 1),
            new("Name", "string", 1, NameDoc, o => o.Name(), "name"),
        ],
        "Deployment" =>
        [
            NameCol(),
            S("Ready", "Number of the pod with ready state", o => $"{o.Long("status", "readyReplicas") ?? 0}/{o.Long("spec", "replicas") ?? 0}"),
            S("Up-to-date", "Total number of non-terminated pods targeted by this deployment that have the desired template spec.", o => o.Long("status", "updatedReplicas") ?? 0),
            S("Available", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.", o => o.Long("status", "availableReplicas") ?? 0),
            AgeCol(),
            .. TemplateColumns(),
        ],
        "ReplicaSet" =>
        [
            NameCol(),
            I("Desired", "Replicas is the number of desired pods.", o => o.Long("spec", "replicas") ?? 0),
            I("Current", "Replicas is the most recently observed number of non-terminating pods.", o => o.Long("status", "replicas") ?? 0),
            I("Ready", "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.", o => o.Long("status", "readyReplicas") ?? 0),
            AgeCol(),
            .. TemplateColumns(),
        ],
        "StatefulSet" =>
        [
            NameCol(),
            S("Ready", "Number of the pod with ready state", o => $"{o.Long("status", "readyReplicas") ?? 0}/{o.Long("spec", "replicas") ?? 0}"),
            AgeCol(),
            S("Containers", "Names of each container in the template.", o => Containers(o, "name"), 1),
            S("Images", "Images referenced by each container in the template.", o => Containers(o, "image"), 1),
        ],
        "DaemonSet" =>
        [
            NameCol(),
            I("Desired", "The total number of nodes that should be running the daemon pod.", o => o.Long("status", "desiredNumberScheduled") ?? 0),
            I("Current", "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.", o => o.Long("status", "currentNumberScheduled") ?? 0),
            I("Ready", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.", o => o.Long("status", "numberReady") ?? 0),
            I("Up-to-date", "The total number of nodes that are running updated daemon pod", o => o.Long("status", "updatedNumberScheduled") ?? 0),
            I("Available", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)", o => o.Long("status", "numberAvailable") ?? 0),
            S("Node Selector", "NodeSelector is a selector which must be true for the pod to fit on a node.", o => FormatLabels(o.Obj("spec", "template", "spec", "nodeSelector"))),
            AgeCol(),
            .. TemplateColumns(),
        ],
        "Service" =>
        [
            NameCol(),
            S("Type", "type determines how the Service is exposed.", o => o.Str("spec", "type") ?? "ClusterIP"),
            S("Cluster-IP", "clusterIP is the IP address of the service and is usually assigned randomly.", o => o.Arr("spec", "clusterIPs")?.FirstOrDefault()?.ToString() ?? NonEmpty(o.Str("spec", "clusterIP"))),
            S("External-IP", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.", ServiceExternalIp),
            S("Port(s)", "The list of ports that are exposed by this service.", ServicePorts),
            AgeCol(),
            S("Selector", "Route service traffic to pods with label keys and values matching this selector.", o => FormatLabels(o.Obj("spec", "selector")), 1),
        ],
        "Endpoints" =>
        [
            NameCol(),
            S("Endpoints", "The set of all endpoints is the union of all subsets.", EndpointsText),
            AgeCol(),
        ],
        "Namespace" =>
        [
            NameCol(),
            S("Status", "The status of the namespace", o => o.Str("status", "phase") ?? ""),
            AgeCol(),
        ],
        "ConfigMap" =>
        [
            NameCol(),
            I("Data", "Number of data in the configmap", o => (o.Obj("data")?.Count ?? 0) + (o.Obj("binaryData")?.Count ?? 0)),
            AgeCol(),
        ],
        "Secret" =>
        [
            NameCol(),
            S("Type", "The type of the secret", o => o.Str("type") ?? "Opaque"),
            I("Data", "The number of data in the secret", o => o.Obj("data")?.Count ?? 0),
            AgeCol(),
        ],
        "ServiceAccount" =>
        [
            NameCol(),
            I("Secrets", "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.", o => o.Arr("secrets")?.Count ?? 0),
            AgeCol(),
        ],
        "Lease" =>
        [
            NameCol(),
            S("Holder", "The holder of the lease", o => o.Str("spec", "holderIdentity") ?? ""),
            AgeCol(),
        ],
        "Job" =>
        [
            NameCol(),
            S("Status", "Status of the job execution", JobStatus),
            S("Completions", "The completion status of the job", o => $"{o.Long("status", "succeeded") ?? 0}/{o.Long("spec", "completions") ?? 1}"),
            S("Duration", "Time required to complete the job", JobDuration),
            AgeCol(),
            .. TemplateColumns(),
        ],
        "PersistentVolumeClaim" =>
        [
            NameCol(),
            S("Status", "Phase represents the current phase of PersistentVolumeClaim.", o => o.Str("status", "phase") ?? ""),
            S("Volume", "VolumeName is the binding reference to the PersistentVolume backing this claim.", o => o.Str("spec", "volumeName") ?? ""),
            S("Capacity", "Capacity represents the actual resources of the underlying volume.", o => o.Str("status", "capacity", "storage") ?? ""),
            S("Access Modes", "AccessModes contains the desired access modes the volume should have.", o => AccessModes(o.Arr("status", "accessModes"))),
            S("StorageClass", "StorageClassName is the name of the StorageClass required by the claim.", o => o.Str("spec", "storageClassName") ?? ""),
            S("VolumeAttributesClass", "Name of the VolumeAttributesClass used by this claim", o => NonEmpty(o.Str("spec", "volumeAttributesClassName"), "<unset>")),
            AgeCol(),
            S("VolumeMode", "spec.volumeMode", o => o.Str("spec", "volumeMode") ?? "Filesystem", 1),
        ],
        "Role" or "ClusterRole" or "LimitRange" => DefaultColumns(),
        _ => null,
    };

    private static Column[] TemplateColumns() =>
    [
        S("Containers", "Names of each container in the template.", o => Containers(o, "name"), 1),
        S("Images", "Images referenced by each container in the template.", o => Containers(o, "image"), 1),
        S("Selector", "Label selector for pods.", o => Selector(o.Obj("spec", "selector")), 1),
    ];

    /// <summary>The CRD version's additionalPrinterColumns after Name (Age when it declares none).</summary>
    private static Column[] CustomColumns(ResourceType t)
    {
        var defined = t.PrinterColumns?.OfType<JsonObject>().ToList() ?? [];
        if (defined.Count == 0)
            defined = [new JsonObject { ["name"] = "Age", ["type"] = "date", ["jsonPath"] = ".metadata.creationTimestamp", ["description"] = CreatedDoc }];
        var cols = new List<Column> { NameCol() };
        foreach (var pc in defined)
        {
            var path = pc.Str("jsonPath") ?? "";
            var type = pc.Str("type") ?? "string";
            cols.Add(new Column(pc.Str("name") ?? "", type, (int)(pc.Long("priority") ?? 0), pc.Str("description") ?? "Custom resource definition column (in JSONPath format): " + path,
                o => CustomCell(type, JsonPath(o, path)), pc.Str("format") ?? ""));
        }
        return [.. cols];
    }

    /// <summary>cellForJSONValue of the apiextensions table convertor; "string" columns print the value as kubectl's JSONPath does.</summary>
    private static JsonNode? CustomCell(string type, JsonNode? value)
    {
        if (value is null) return null;
        var kind = value.GetValueKind();
        switch (type)
        {
            case "string":
                return kind switch
                {
                    JsonValueKind.String => value.GetValue<string>(),
                    JsonValueKind.Object or JsonValueKind.Array => GoPrint(value),
                    _ => value.ToJsonString(),
                };
            case "integer":
                return kind == JsonValueKind.Number && double.TryParse(value.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var n) ? (long)n : null;
            case "number":
                return kind == JsonValueKind.Number ? value.DeepClone() : null;
            case "boolean":
                return kind is JsonValueKind.True or JsonValueKind.False ? value.DeepClone() : null;
            case "date":
                if (kind != JsonValueKind.String) return null;
                var s = value.GetValue<string>();
                return DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out _) ? Age(s) : "<invalid>";
            default:
                return null;
        }
    }

    /// <summary>Go's %v of a decoded JSON value (map[k:v] / [a b]), what jsonpath prints for a structured value.</summary>
    private static string GoPrint(JsonNode? n) => n switch
    {
        null => "<nil>",
        JsonObject o => "map[" + string.Join(" ", o.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key + ":" + GoPrint(kv.Value))) + "]",
        JsonArray a => "[" + string.Join(" ", a.Select(GoPrint)) + "]",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => n.ToJsonString(),
    };

    // ------------------------------------------------------------------ cells

    private sealed record PodLine(string Ready, string Reason, string Restarts);

    /// <summary>printPod's READY, STATUS and RESTARTS.</summary>
    private static PodLine PodSummary(JsonObject pod)
    {
        var reason = pod.Str("status", "reason") is { Length: > 0 } r ? r : pod.Str("status", "phase") ?? "";
        var total = pod.Arr("spec", "containers")?.Count ?? 0;
        var ready = 0;
        var restarts = 0L;
        DateTimeOffset? lastRestart = null;
        void NoteRestart(JsonNode? c)
        {
            if (c.Str("lastState", "terminated", "finishedAt") is { } f && DateTimeOffset.TryParse(f, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
                && (lastRestart is null || at > lastRestart)) lastRestart = at;
        }
        var initializing = false;
        var inits = pod.Arr("status", "initContainerStatuses") ?? [];
        var initSpecs = pod.Arr("spec", "initContainers") ?? [];
        for (var i = 0; i < inits.Count; i++)
        {
            var c = inits[i];
            restarts += c.Long("restartCount") ?? 0;
            NoteRestart(c);
            var term = c.Obj("state", "terminated");
            if (term is not null && (term.Long("exitCode") ?? 0) == 0) continue;
            if (term is not null)
                reason = term.Str("reason") is { Length: > 0 } tr ? "Init:" + tr
                    : (term.Long("signal") ?? 0) != 0 ? $"Init:Signal:{term.Long("signal")}" : $"Init:ExitCode:{term.Long("exitCode")}";
            else if (c.Str("state", "waiting", "reason") is { Length: > 0 } wr && wr != "PodInitializing") reason = "Init:" + wr;
            else reason = $"Init:{i}/{initSpecs.Count}";
            initializing = true;
            break;
        }
        var initialized = pod.Arr("status", "conditions")?.Any(c => c.Str("type") == "Initialized" && c.Str("status") == "True") == true;
        if (!initializing || initialized)
        {
            restarts = 0;
            lastRestart = null;
            var hasRunning = false;
            var statuses = pod.Arr("status", "containerStatuses") ?? [];
            for (var i = statuses.Count - 1; i >= 0; i--)
            {
                var c = statuses[i];
                restarts += c.Long("restartCount") ?? 0;
                NoteRestart(c);
                var term = c.Obj("state", "terminated");
                if (c.Str("state", "waiting", "reason") is { Length: > 0 } wr) reason = wr;
                else if (term is not null && term.Str("reason") is { Length: > 0 } tr) reason = tr;
                else if (term is not null) reason = (term.Long("signal") ?? 0) != 0 ? $"Signal:{term.Long("signal")}" : $"ExitCode:{term.Long("exitCode")}";
                else if (c.Bool("ready") == true && c.Obj("state", "running") is not null) { hasRunning = true; ready++; }
            }
            if (reason == "Completed" && hasRunning)
                reason = pod.Arr("status", "conditions")?.Any(c => c.Str("type") == "Ready" && c.Str("status") == "True") == true ? "Running" : "NotReady";
        }
        var phase = pod.Str("status", "phase");
        if (pod.Str("metadata", "deletionTimestamp") is not null && pod.Str("status", "reason") == "NodeLost") reason = "Unknown";
        else if (pod.Str("metadata", "deletionTimestamp") is not null && phase is not ("Succeeded" or "Failed")) reason = "Terminating";
        var restartText = restarts.ToString(CultureInfo.InvariantCulture);
        if (restarts != 0 && lastRestart is { } lr) restartText = $"{restarts} ({HumanDuration(DateTimeOffset.UtcNow - lr)} ago)";
        return new PodLine($"{ready}/{total}", reason, restartText);
    }

    private static JsonNode ReadinessGates(JsonObject pod)
    {
        var gates = pod.Arr("spec", "readinessGates");
        if (gates is null || gates.Count == 0) return "<none>";
        var conditions = pod.Arr("status", "conditions") ?? [];
        var ok = gates.Count(g => conditions.FirstOrDefault(c => c.Str("type") == g.Str("conditionType")).Str("status") == "True");
        return $"{ok}/{gates.Count}";
    }

    /// <summary>printPod's row conditions: kubectl hides Completed pods only on request, but clients read them.</summary>
    private static JsonArray? RowConditions(ResourceType t, JsonObject o)
    {
        if (t.Kind != "Pod" || t.Group.Length != 0) return null;
        return o.Str("status", "phase") switch
        {
            "Succeeded" => new JsonArray(new JsonObject { ["type"] = "Completed", ["status"] = "True", ["reason"] = "Succeeded", ["message"] = "The pod has completed successfully." }),
            "Failed" => new JsonArray(new JsonObject { ["type"] = "Completed", ["status"] = "True", ["reason"] = "Failed", ["message"] = "The pod failed." }),
            _ => null,
        };
    }

    private static JsonNode NodeStatus(JsonObject node)
    {
        var parts = new List<string>();
        var ready = node.Arr("status", "conditions")?.FirstOrDefault(c => c.Str("type") == "Ready");
        if (ready is not null) parts.Add(ready.Str("status") == "True" ? "Ready" : "NotReady");
        if (parts.Count == 0) parts.Add("Unknown");
        if (node.Bool("spec", "unschedulable") == true) parts.Add("SchedulingDisabled");
        return string.Join(",", parts);
    }

    private static JsonNode NodeRoles(JsonObject node)
    {
        var roles = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (k, v) in node.Obj("metadata", "labels") ?? [])
        {
            if (k.StartsWith("node-role.kubernetes.io/", StringComparison.Ordinal)) { var role = k["node-role.kubernetes.io/".Length..]; if (role.Length > 0) roles.Add(role); }
            else if (k == "kubernetes.io/role" && v.Str() is { Length: > 0 } val) roles.Add(val);
        }
        return roles.Count == 0 ? "<none>" : string.Join(",", roles);
    }

    private static JsonNode NodeAddress(JsonObject node, string type) =>
        node.Arr("status", "addresses")?.FirstOrDefault(a => a.Str("type") == type).Str("address") ?? "<none>";

    private sealed record EventLine(string Last, string First, long Count);

    private static EventLine EventTimes(JsonObject e)
    {
        var first = e.Str("firstTimestamp") is { } ft ? Age(ft) : Age(e.Str("eventTime"));
        var last = e.Str("lastTimestamp") is { } lt ? Age(lt) : first;
        var count = e.Long("count") ?? 0;
        if (e.Obj("series") is { } series) { last = Age(series.Str("lastObservedTime")); count = series.Long("count") ?? 0; }
        else if (count == 0) count = 1;
        return new EventLine(last, first, count);
    }

    private static JsonNode EventTarget(JsonObject e)
    {
        var kind = (e.Str("involvedObject", "kind") ?? "").ToLowerInvariant();
        return e.Str("involvedObject", "name") is { Length: > 0 } n ? $"{kind}/{n}" : kind;
    }

    private static JsonNode EventSource(JsonObject e)
    {
        var component = e.Str("source", "component") is { Length: > 0 } c ? c : e.Str("reportingComponent") ?? "";
        var instance = e.Str("source", "host") is { Length: > 0 } h ? h : e.Str("reportingInstance") ?? "";
        return instance.Length == 0 ? component : component + ", " + instance;
    }

    private static JsonNode ServiceExternalIp(JsonObject svc)
    {
        var external = (svc.Arr("spec", "externalIPs") ?? []).Select(x => x?.ToString() ?? "").ToList();
        switch (svc.Str("spec", "type") ?? "ClusterIP")
        {
            case "ClusterIP" or "NodePort":
                return external.Count > 0 ? string.Join(",", external) : "<none>";
            case "LoadBalancer":
                var lb = (svc.Arr("status", "loadBalancer", "ingress") ?? []).Select(i => i.Str("ip") is { Length: > 0 } ip ? ip : i.Str("hostname") ?? "").Where(s => s.Length > 0).ToList();
                if (external.Count > 0) return string.Join(",", external.Concat(lb));
                return lb.Count > 0 ? string.Join(",", lb) : "<pending>";
            case "ExternalName":
                return svc.Str("spec", "externalName") ?? "";
            default:
                return "<unknown>";
        }
    }

    private static JsonNode ServicePorts(JsonObject svc)
    {
        var ports = svc.Arr("spec", "ports") ?? [];
        if (ports.Count == 0) return "<none>";
        return string.Join(",", ports.Select(p => (p.Long("nodePort") ?? 0) > 0
            ? $"{p.Long("port")}:{p.Long("nodePort")}/{p.Str("protocol") ?? "TCP"}"
            : $"{p.Long("port")}/{p.Str("protocol") ?? "TCP"}"));
    }

    private static JsonNode EndpointsText(JsonObject ep)
    {
        var list = new List<string>();
        foreach (var subset in ep.Arr("subsets") ?? [])
        {
            var ports = subset.Arr("ports") ?? [];
            foreach (var a in subset.Arr("addresses") ?? [])
            {
                if (ports.Count == 0) list.Add(a.Str("ip") ?? "");
                else list.AddRange(ports.Select(p => $"{a.Str("ip")}:{p.Long("port")}"));
            }
        }
        if (list.Count == 0) return "<none>";
        var shown = string.Join(",", list.Take(3));
        return list.Count > 3 ? $"{shown} + {list.Count - 3} more..." : shown;
    }

    private static JsonNode JobStatus(JsonObject job)
    {
        var conditions = job.Arr("status", "conditions") ?? [];
        bool Has(string type) => conditions.Any(c => c.Str("type") == type && c.Str("status") == "True");
        if (Has("Complete")) return "Complete";
        if (Has("Failed")) return "Failed";
        if (job.Str("metadata", "deletionTimestamp") is not null) return "Terminating";
        if (Has("FailureTarget")) return "FailureTarget";
        if (Has("SuccessCriteriaMet")) return "SuccessCriteriaMet";
        if (Has("Suspended")) return "Suspended";
        return "Running";
    }

    private static JsonNode JobDuration(JsonObject job)
    {
        if (!TryTime(job.Str("status", "startTime"), out var start)) return "";
        var end = TryTime(job.Str("status", "completionTime"), out var c) ? c : DateTimeOffset.UtcNow;
        return HumanDuration(end - start);
    }

    private static string AccessModes(JsonArray? modes)
    {
        var set = (modes ?? []).Select(m => m?.ToString()).ToHashSet();
        var parts = new List<string>();
        if (set.Contains("ReadWriteOnce")) parts.Add("RWO");
        if (set.Contains("ReadOnlyMany")) parts.Add("ROX");
        if (set.Contains("ReadWriteMany")) parts.Add("RWX");
        if (set.Contains("ReadWriteOncePod")) parts.Add("RWOP");
        return string.Join(",", parts);
    }

    private static JsonNode Containers(JsonObject o, string field) =>
        string.Join(",", (o.Arr("spec", "template", "spec", "containers") ?? []).Select(c => c.Str(field) ?? ""));

    /// <summary>labels.FormatLabels: sorted k=v pairs, "&lt;none&gt;" when empty.</summary>
    private static JsonNode FormatLabels(JsonObject? labels)
    {
        if (labels is null || labels.Count == 0) return "<none>";
        return string.Join(",", labels.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value.Str()}"));
    }

    /// <summary>metav1.LabelSelectorAsSelector(...).String(): requirements sorted by key.</summary>
    private static JsonNode Selector(JsonObject? selector)
    {
        if (selector is null) return "<none>";
        var reqs = new List<(string Key, string Text)>();
        foreach (var (k, v) in selector.Obj("matchLabels") ?? []) reqs.Add((k, $"{k}={v.Str()}"));
        foreach (var e in selector.Arr("matchExpressions") ?? [])
        {
            var key = e.Str("key") ?? "";
            var values = (e.Arr("values") ?? []).Select(x => x?.ToString() ?? "").Order(StringComparer.Ordinal);
            reqs.Add((key, e.Str("operator") switch
            {
                "In" => $"{key} in ({string.Join(",", values)})",
                "NotIn" => $"{key} notin ({string.Join(",", values)})",
                "Exists" => key,
                "DoesNotExist" => "!" + key,
                _ => key,
            }));
        }
        if (reqs.Count == 0) return "";
        return string.Join(",", reqs.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => r.Text));
    }

    private static JsonNode NonEmpty(string? s, string none = "<none>") => string.IsNullOrEmpty(s) ? none : s;
    private static JsonNode Unknown(string? s) => string.IsNullOrEmpty(s) ? "<unknown>" : s;

    private static bool TryTime(string? s, out DateTimeOffset t) =>
        DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out t);

    private static string Rfc3339(string? timestamp) =>
        TryTime(timestamp, out var t) ? t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture) : "0001-01-01T00:00:00Z";

    /// <summary>translateTimestampSince: the age of a timestamp, "&lt;unknown&gt;" without one.</summary>
    public static string Age(string? timestamp) =>
        TryTime(timestamp, out var t) ? HumanDuration(DateTimeOffset.UtcNow - t) : "<unknown>";

    /// <summary>k8s.io/apimachinery/pkg/util/duration.HumanDuration.</summary>
    public static string HumanDuration(TimeSpan d)
    {
        var seconds = (long)Math.Truncate(d.TotalSeconds);
        if (seconds < -1) return "<invalid>";
        if (seconds < 0) return "0s";
        if (seconds < 60 * 2) return $"{seconds}s";
        var minutes = (long)d.TotalMinutes;
        if (minutes < 10)
        {
            var s = seconds % 60;
            return s == 0 ? $"{minutes}m" : $"{minutes}m{s}s";
        }
        if (minutes < 60 * 3) return $"{minutes}m";
        var hours = (long)d.TotalHours;
        if (hours < 8)
        {
            var m = minutes % 60;
            return m == 0 ? $"{hours}h" : $"{hours}h{m}m";
        }
        if (hours < 48) return $"{hours}h";
        if (hours < 24 * 8)
        {
            var h = hours % 24;
            return h == 0 ? $"{hours / 24}d" : $"{hours / 24}d{h}h";
        }
        if (hours < 24 * 365 * 2) return $"{hours / 24}d";
        if (hours < 24 * 365 * 8)
        {
            var dy = hours / 24 % 365;
            return dy == 0 ? $"{hours / 24 / 365}y" : $"{hours / 24 / 365}y{dy}d";
        }
        return $"{hours / 24 / 365}y";
    }

    // ------------------------------------------------------------------ JSONPath

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
                if (inner.StartsWith("['", StringComparison.Ordinal) && cur is JsonObject named) { cur = named[inner[2..^2]]; continue; }
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
