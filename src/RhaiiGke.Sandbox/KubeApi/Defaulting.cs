using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace RhaiiGke.Sandbox.KubeApi;

/// <summary>The apiserver's defaulting for the built-in types the operators use, and CR schema pruning.</summary>
internal static class Defaulting
{
    private static int s_nextIp = 10;

    public static void Apply(SimCore core, ResourceType t, JsonObject obj, JsonObject? old)
    {
        switch (t.Kind)
        {
            case "Namespace":
            {
                var labels = obj.Ensure("metadata").Ensure("labels");
                labels["kubernetes.io/metadata.name"] = obj.Name();
                if (old is null) obj.Ensure("spec")["finalizers"] ??= new JsonArray("kubernetes");
                else if (old.At("spec") is { } os) { obj.Remove("spec"); obj["spec"] = os.DeepClone(); }
                obj.Ensure("status")["phase"] ??= "Active";
                break;
            }
            case "Service": Service(obj, old); break;
            case "Secret":
            {
                obj["type"] ??= "Opaque";
                if (obj["stringData"] is JsonObject sd)
                {
                    var data = obj.Ensure("data");
                    foreach (var (k, v) in sd) data[k] = Convert.ToBase64String(Encoding.UTF8.GetBytes(v?.ToString() ?? ""));
                    obj.Remove("stringData");
                }
                break;
            }
            case "Deployment":
            {
                var spec = obj.Ensure("spec");
                spec["replicas"] ??= 1;
                spec["revisionHistoryLimit"] ??= 10;
                spec["progressDeadlineSeconds"] ??= 600;
                if (spec["strategy"] is null)
                    spec["strategy"] = new JsonObject { ["type"] = "RollingUpdate", ["rollingUpdate"] = new JsonObject { ["maxUnavailable"] = "25%", ["maxSurge"] = "25%" } };
                PodTemplate(spec.Obj("template"));
                break;
            }
            case "ReplicaSet" or "StatefulSet":
            {
                var spec = obj.Ensure("spec");
                spec["replicas"] ??= 1;
                PodTemplate(spec.Obj("template"));
                break;
            }
            case "DaemonSet" or "Job":
                PodTemplate(obj.Obj("spec", "template"));
                break;
            case "Pod":
            {
                PodSpec(obj.Obj("spec"));
                var spec = obj.Obj("spec");
                if (spec is not null)
                {
                    spec["serviceAccountName"] ??= "default";
                    spec["serviceAccount"] ??= spec["serviceAccountName"]?.DeepClone();
                    // the ServiceAccount admission plugin: a pod without imagePullSecrets gets its ServiceAccount's
                    // (at creation only, so a ServiceAccount patched later needs the pod recreated)
                    if (old is null && core is not null && spec.Arr("imagePullSecrets") is not { Count: > 0 } &&
                        core.Peek("", "serviceaccounts", obj.Namespace(), spec.Str("serviceAccountName") ?? "default")?.Arr("imagePullSecrets") is { Count: > 0 } saSecrets)
                        spec["imagePullSecrets"] = saSecrets.DeepClone();
                    spec["enableServiceLinks"] ??= true;
                    spec["priority"] ??= 0;
                }
                if (old is null) obj.Ensure("status")["phase"] ??= "Pending";
                break;
            }
            case "ValidatingWebhookConfiguration" or "MutatingWebhookConfiguration":
                foreach (var w in obj.Arr("webhooks")?.OfType<JsonObject>() ?? [])
                {
                    w["failurePolicy"] ??= "Fail";
                    w["matchPolicy"] ??= "Equivalent";
                    w["timeoutSeconds"] ??= 10;
                    w["namespaceSelector"] ??= new JsonObject();
                    w["objectSelector"] ??= new JsonObject();
                    if (t.Kind == "MutatingWebhookConfiguration") w["reinvocationPolicy"] ??= "Never";
                    if (w.Obj("clientConfig", "service") is { } svc) svc["port"] ??= 443;
                    foreach (var r in w.Arr("rules")?.OfType<JsonObject>() ?? []) r["scope"] ??= "*";
                }
                break;
            case "CustomResourceDefinition":
            {
                var spec = obj.Ensure("spec");
                spec["conversion"] ??= new JsonObject { ["strategy"] = "None" };
                break;
            }
        }
    }

    private static void Service(JsonObject obj, JsonObject? old)
    {
        var spec = obj.Ensure("spec");
        spec["type"] ??= "ClusterIP";
        spec["sessionAffinity"] ??= "None";
        if (spec.Str("type") != "ExternalName")
        {
            if (old?.Str("spec", "clusterIP") is { } ip && spec["clusterIP"] is null) spec["clusterIP"] = ip;
            if (spec["clusterIP"] is null)
            {
                var n = Interlocked.Increment(ref s_nextIp);
                spec["clusterIP"] = $"10.96.{n / 250 % 250}.{n % 250 + 1}";
            }
            spec["clusterIPs"] ??= new JsonArray(spec["clusterIP"]!.DeepClone());
            spec["ipFamilies"] ??= new JsonArray("IPv4");
            spec["ipFamilyPolicy"] ??= "SingleStack";
            spec["internalTrafficPolicy"] ??= "Cluster";
        }
        foreach (var p in spec.Arr("ports")?.OfType<JsonObject>() ?? [])
        {
            p["protocol"] ??= "TCP";
            p["targetPort"] ??= p["port"]?.DeepClone();
        }
        if (old?.At("status") is null) obj["status"] ??= new JsonObject { ["loadBalancer"] = new JsonObject() };
    }

    private static void PodTemplate(JsonObject? template)
    {
        if (template is null) return;
        template.Ensure("metadata");
        PodSpec(template.Obj("spec"));
    }

    private static void PodSpec(JsonObject? spec)
    {
        if (spec is null) return;
        spec["restartPolicy"] ??= "Always";
        spec["dnsPolicy"] ??= "ClusterFirst";
        spec["schedulerName"] ??= "default-scheduler";
        spec["terminationGracePeriodSeconds"] ??= 30;
        spec["securityContext"] ??= new JsonObject();
        foreach (var list in new[] { "containers", "initContainers" })
            foreach (var c in spec.Arr(list)?.OfType<JsonObject>() ?? [])
            {
                var image = c.Str("image") ?? "";
                var tag = image.Contains('@') ? "digest" : image.LastIndexOf(':') > image.LastIndexOf('/') ? image[(image.LastIndexOf(':') + 1)..] : "latest";
                c["imagePullPolicy"] ??= tag == "latest" ? "Always" : "IfNotPresent";
                c["terminationMessagePath"] ??= "/dev/termination-log";
                c["terminationMessagePolicy"] ??= "File";
                c["resources"] ??= new JsonObject();
                foreach (var p in c.Arr("ports")?.OfType<JsonObject>() ?? []) p["protocol"] ??= "TCP";
                foreach (var kind in new[] { "livenessProbe", "readinessProbe", "startupProbe" })
                    if (c[kind] is JsonObject probe) Probe(probe);
            }
    }

    /// <summary>SetDefaults_Probe and SetDefaults_HTTPGetAction of k8s.io/kubernetes/pkg/apis/core/v1/defaults.go.</summary>
    private static void Probe(JsonObject probe)
    {
        probe["timeoutSeconds"] ??= 1;
        probe["periodSeconds"] ??= 10;
        probe["successThreshold"] ??= 1;
        probe["failureThreshold"] ??= 3;
        if (probe["httpGet"] is JsonObject get)
        {
            get["path"] ??= "/";
            get["scheme"] ??= "HTTP";
        }
    }
}

/// <summary>Create and update validation with the apiserver's field paths and wording (a subset).</summary>
internal static partial class Validation
{
    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")] private static partial Regex Subdomain();
    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")] private static partial Regex Label();
    [GeneratedRegex(@"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")] private static partial Regex LabelValue();

    private const string SubdomainMsg = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    private const string LabelMsg = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

    /// <summary>apimachinery's TotalAnnotationSizeLimitB: keys and values of all annotations together.</summary>
    public const int TotalAnnotationSizeLimitB = 256 * 1024;

    public static void Validate(SimCore core, ResourceType t, JsonObject obj, JsonObject? old)
    {
        var causes = new List<(string, string, string)>();
        var name = obj.Name();
        var dnsLabel = t.Kind is "Namespace" or "Service";
        if (dnsLabel ? !(Label().IsMatch(name) && name.Length <= 63) : !(Subdomain().IsMatch(name) && name.Length <= 253))
            causes.Add(("metadata.name", "FieldValueInvalid", $"Invalid value: \"{name}\": {(dnsLabel ? LabelMsg : SubdomainMsg)}"));
        foreach (var (k, v) in obj.Labels())
            if (v.Length > 63 || !LabelValue().IsMatch(v))
                causes.Add(($"metadata.labels", "FieldValueInvalid", $"Invalid value: \"{v}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"));

        switch (t.Kind)
        {
            case "Deployment" or "ReplicaSet" or "StatefulSet" or "DaemonSet":
                Workload(obj, old, causes);
                break;
            case "Service":
                if (obj.Str("spec", "type") is not ("ExternalName") && (obj.Arr("spec", "ports")?.Count ?? 0) == 0 && obj.Str("spec", "clusterIP") != "None")
                    causes.Add(("spec.ports", "FieldValueRequired", "Required value"));
                if (old is not null && old.Str("spec", "clusterIP") is { } oip && obj.Str("spec", "clusterIP") != oip && oip.Length > 0)
                    causes.Add(("spec.clusterIPs[0]", "FieldValueInvalid", $"Invalid value: []string{{\"{obj.Str("spec", "clusterIP")}\"}}: may not change once set"));
                break;
            case "CustomResourceDefinition":
                Crd(obj, old, causes);
                break;
            case "ValidatingWebhookConfiguration" or "MutatingWebhookConfiguration":
                var i = 0;
                foreach (var w in obj.Arr("webhooks")?.OfType<JsonObject>() ?? [])
                {
                    var wn = w.Str("name") ?? "";
                    if (wn.Split('.').Length < 3) causes.Add(($"webhooks[{i}].name", "FieldValueInvalid", $"Invalid value: \"{wn}\": should be a domain with at least three segments separated by dots"));
                    if (w["sideEffects"] is null) causes.Add(($"webhooks[{i}].sideEffects", "FieldValueRequired", "Required value: must specify one of None, NoneOnDryRun"));
                    if ((w.Arr("admissionReviewVersions")?.Count ?? 0) == 0) causes.Add(($"webhooks[{i}].admissionReviewVersions", "FieldValueRequired", "Required value: must specify one of v1, v1beta1"));
                    i++;
                }
                break;
        }
        var annotationBytes = obj.Obj("metadata")?.Obj("annotations")?.Sum(kv => Encoding.UTF8.GetByteCount(kv.Key) + Encoding.UTF8.GetByteCount(kv.Value?.GetValueKind() == System.Text.Json.JsonValueKind.String ? kv.Value.GetValue<string>() : kv.Value?.ToJsonString() ?? "")) ?? 0;
        if (annotationBytes > TotalAnnotationSizeLimitB)
            causes.Add(("metadata.annotations", "FieldValueTooLong", $"Too long: must have at most {TotalAnnotationSizeLimitB} bytes"));
        if (t.IsCustom && t.Schema is not null)
        {
            // validation ratcheting (on by default since 1.30): an unchanged status is not re-validated on a spec write
            var subject = obj;
            if (old is not null && obj["status"] is not null && ServerJson.DeepEquals(obj["status"], old["status"]))
            {
                subject = obj.Clone();
                subject.Remove("status");
            }
            SchemaValidator.Validate(subject, t.Schema, "", causes, isRoot: true);
        }
        ReplicasInt32(obj, causes);
        if (causes.Count > 0) throw StatusError.Invalid(t, name, causes);
    }

    /// <summary>
    /// spec.replicas is an int32 in every workload API (apps/v1, LeaderWorkerSet, LLMInferenceService and
    /// their scale subresources): a value outside it is refused, never stored for a controller to wrap.
    /// </summary>
    private static void ReplicasInt32(JsonObject obj, List<(string, string, string)> causes)
    {
        if (obj.At("spec", "replicas") is not JsonValue v || v.GetValueKind() != System.Text.Json.JsonValueKind.Number) return;
        // the JSON text, whatever CLR type the node holds (int, long, double or a parsed element)
        var inRange = double.TryParse(v.ToJsonString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d)
                      && d is >= int.MinValue and <= int.MaxValue;
        if (!inRange) causes.Add(("spec.replicas", "FieldValueInvalid", $"Invalid value: {v.ToJsonString()}: must be within the int32 range (at most {int.MaxValue})"));
    }

    private static void Workload(JsonObject obj, JsonObject? old, List<(string, string, string)> causes)
    {
        var selector = obj.At("spec", "selector");
        if (obj.Str("kind") != "DaemonSet" || selector is not null)
        {
            if (selector is not JsonObject sel || sel.Count == 0) causes.Add(("spec.selector", "FieldValueRequired", "Required value"));
            else
            {
                var tl = obj.At("spec", "template", "metadata", "labels").StringMap();
                if (!LabelSelector.FromObject(sel).Matches(tl))
                    causes.Add(("spec.template.metadata.labels", "FieldValueInvalid",
                        $"Invalid value: map[string]string{{{string.Join(", ", tl.Select(kv => $"\"{kv.Key}\":\"{kv.Value}\""))}}}: `selector` does not match template `labels`"));
                if (old is not null && old.At("spec", "selector") is { } os && !ServerJson.DeepEquals(os, sel))
                    causes.Add(("spec.selector", "FieldValueInvalid", $"Invalid value: {sel.ToJson()}: field is immutable"));
            }
        }
        var containers = obj.Arr("spec", "template", "spec", "containers");
        if (containers is null || containers.Count == 0) causes.Add(("spec.template.spec.containers", "FieldValueRequired", "Required value"));
        else
            for (var i = 0; i < containers.Count; i++)
            {
                if (string.IsNullOrEmpty(containers[i].Str("name"))) causes.Add(($"spec.template.spec.containers[{i}].name", "FieldValueRequired", "Required value"));
                if (string.IsNullOrEmpty(containers[i].Str("image"))) causes.Add(($"spec.template.spec.containers[{i}].image", "FieldValueRequired", "Required value"));
            }
        if (obj.Long("spec", "replicas") is < 0) causes.Add(("spec.replicas", "FieldValueInvalid", $"Invalid value: {obj.Long("spec", "replicas")}: must be greater than or equal to 0"));
    }

    private static void Crd(JsonObject obj, JsonObject? old, List<(string, string, string)> causes)
    {
        var group = obj.Str("spec", "group") ?? "";
        var plural = obj.Str("spec", "names", "plural") ?? "";
        if (string.IsNullOrEmpty(group)) causes.Add(("spec.group", "FieldValueRequired", "Required value"));
        if (string.IsNullOrEmpty(plural)) causes.Add(("spec.names.plural", "FieldValueRequired", "Required value"));
        if (string.IsNullOrEmpty(obj.Str("spec", "names", "kind"))) causes.Add(("spec.names.kind", "FieldValueRequired", "Required value"));
        if (obj.Name() != $"{plural}.{group}")
            causes.Add(("metadata.name", "FieldValueInvalid", $"Invalid value: \"{obj.Name()}\": must be spec.names.plural+\".\"+spec.group"));
        var scope = obj.Str("spec", "scope");
        if (scope is not ("Namespaced" or "Cluster")) causes.Add(("spec.scope", "FieldValueNotSupported", $"Unsupported value: \"{scope}\": supported values: \"Cluster\", \"Namespaced\""));
        var versions = obj.Arr("spec", "versions") ?? [];
        if (versions.Count == 0) causes.Add(("spec.versions", "FieldValueInvalid", "Invalid value: null: must have exactly one version marked as storage version"));
        else if (versions.Count(v => v.Bool("storage") == true) != 1)
            causes.Add(("spec.versions", "FieldValueInvalid", $"Invalid value: {versions.ToJson()}: must have exactly one version marked as storage version"));
        if (old is not null)
        {
            if (old.Str("spec", "scope") != scope) causes.Add(("spec.scope", "FieldValueInvalid", $"Invalid value: \"{scope}\": field is immutable"));
        }
    }
}
