using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace RhaiiGke.Engine.Manifests;

/// <summary>
/// Models from Cloud Storage (gs://) with Workload Identity Federation for GKE.
/// <para>
/// KServe's LLMInferenceService (release-v0.15, pkg/controller/llmisvc/workload_storage.go) accepts only hf://,
/// s3://, pvc:// and oci:// in spec.model.uri and fails reconciliation on gs:// ("unsupported schema in model
/// URI"). Its storage initializer image, though, downloads gs:// with Application Default Credentials, which on
/// GKE with Workload Identity are the Google service account the pod's Kubernetes ServiceAccount is bound to.
/// KServe adds the storage-initializer init container only "if not present" (pkg/utils/storage.go
/// AddStorageInitializerContainer), so a template that brings its own keeps it with its args. RhaiiGke therefore
/// renders: spec.model.uri as the s3:// form of the same bucket/path (a scheme KServe accepts, which makes it mount
/// the model volume at /mnt/models), the annotation rhaiigke.io/model-uri with the real gs:// URI, and in
/// spec.template the storage-initializer init container with args [gs://bucket/path, /mnt/models] that
/// KServe keeps; the workload ServiceAccount carries iam.gke.io/gcp-service-account.
/// </para>
/// The binding checked and created is the common one: roles/iam.workloadIdentityUser on the Google service
/// account for member serviceAccount:PROJECT.svc.id.goog[NAMESPACE/KSA]; the Google service account needs
/// roles/storage.objectViewer on the bucket. (The direct principal:// form granted on the bucket also works
/// in the sandbox, but Deploy checks only the service-account form.)
/// </summary>
public static partial class GcsModels
{
    public const string ServiceAccountAnnotation = "iam.gke.io/gcp-service-account";
    public const string ModelUriAnnotation = "rhaiigke.io/model-uri";
    public const string StorageInitializerImage = "quay.io/opendatahub/kserve-storage-initializer:v0.15";
    public const string WorkloadIdentityUserRole = "roles/iam.workloadIdentityUser";
    public const string ObjectViewerRole = "roles/storage.objectViewer";
    private const string ModelVolume = "kserve-provision-location";
    private const string ModelMountPath = "/mnt/models";

    [GeneratedRegex(@"^gs://([a-z0-9][-a-z0-9_.]{1,220}[a-z0-9])(/.*)?$")] private static partial Regex GsUri();
    [GeneratedRegex(@"^[a-z][-a-z0-9]{4,28}[a-z0-9]@([a-z][-a-z0-9]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com$")] private static partial Regex UserManagedSa();
    [GeneratedRegex(@"^[0-9]+-compute@developer\.gserviceaccount\.com$")] private static partial Regex ComputeDefaultSa();

    /// <summary>gs://bucket[/path] with a valid bucket name; returns it with a lowercase scheme.</summary>
    public static string ValidateUri(string model)
    {
        var m = "gs" + model.Trim()[2..];
        var match = GsUri().Match(m);
        if (!match.Success || match.Groups[1].Value.Contains("..", StringComparison.Ordinal) || match.Groups[1].Value.Split('.').Any(p => p.Length > 63))
            throw new RhaiiException("InvalidModelUri", RhaiiErrorCategory.InvalidArgument,
                $"'{model}' is not a Cloud Storage URI: expected gs://<bucket>/<path> with a bucket name of lowercase letters, digits, '-', '_' and '.'.",
                "Use gs://<bucket>/<folder holding config.json and the weights>, e.g. gs://my-models/qwen2.5-3b-instruct.", model);
        return m.TrimEnd('/');
    }

    /// <summary>The Google service account for a spec: required for gs://, validated when given.</summary>
    public static string? ValidateServiceAccount(string? gsa, string uri, string scheme)
    {
        if (string.IsNullOrWhiteSpace(gsa))
        {
            if (scheme == "gs")
                throw new RhaiiException("GcpServiceAccountRequired", RhaiiErrorCategory.InvalidArgument,
                    $"The model {uri} is in Cloud Storage; the workload reads it as a Google service account through Workload Identity.",
                    "Pass -GcpServiceAccount NAME@PROJECT.iam.gserviceaccount.com (an account with roles/storage.objectViewer on the bucket).", uri);
            return null;
        }
        var g = gsa.Trim();
        if (!UserManagedSa().IsMatch(g) && !ComputeDefaultSa().IsMatch(g))
            throw new RhaiiException("InvalidGcpServiceAccount", RhaiiErrorCategory.InvalidArgument,
                $"'{gsa}' is not a Google service account email.",
                "Use NAME@PROJECT.iam.gserviceaccount.com (gcloud iam service-accounts list shows them).", gsa);
        return g;
    }

    /// <summary>The project of a user-managed service account (NAME@PROJECT.iam.gserviceaccount.com), else null.</summary>
    public static string? ProjectOf(string gsa) => UserManagedSa().Match(gsa) is { Success: true } m ? m.Groups[1].Value : null;

    public static string Bucket(string uri) => uri[5..].Split('/')[0];

    /// <summary>The object prefix after the bucket ("" for the whole bucket).</summary>
    public static string Prefix(string uri)
    {
        var rest = uri[5..];
        var slash = rest.IndexOf('/');
        return slash < 0 ? "" : rest[(slash + 1)..];
    }

    /// <summary>The Workload Identity member of a Kubernetes ServiceAccount: serviceAccount:PROJECT.svc.id.goog[NS/KSA].</summary>
    public static string Member(string clusterProject, string ns, string ksa) => $"serviceAccount:{clusterProject}.svc.id.goog[{ns}/{ksa}]";

    public static bool IsGcs(LlmInferenceServiceSpec s) => s.ModelUri.StartsWith("gs://", StringComparison.Ordinal);

    /// <summary>What spec.model.uri says to KServe: the s3:// form of a gs:// URI (see the class remarks), else the URI.</summary>
    public static string KServeModelUri(LlmInferenceServiceSpec s) => IsGcs(s) ? "s3://" + s.ModelUri[5..] : s.ModelUri;

    /// <summary>iam.gke.io/gcp-service-account on the workload ServiceAccount.</summary>
    public static void AnnotateServiceAccount(LlmInferenceServiceSpec s, JsonObject sa)
    {
        if (string.IsNullOrEmpty(s.GcpServiceAccount)) return;
        var meta = (JsonObject)sa["metadata"]!;
        var ann = meta["annotations"] as JsonObject ?? new JsonObject();
        ann[ServiceAccountAnnotation] = s.GcpServiceAccount;
        meta["annotations"] = ann;
    }

    /// <summary>For gs:// models: the storage-initializer init container KServe keeps, the model volume and its mount, the annotation.</summary>
    public static void AddDownload(LlmInferenceServiceSpec s, JsonObject llmisvc, JsonObject template, JsonObject main)
    {
        if (!IsGcs(s)) return;
        var meta = (JsonObject)llmisvc["metadata"]!;
        var ann = meta["annotations"] as JsonObject ?? new JsonObject();
        ann[ModelUriAnnotation] = s.ModelUri;
        meta["annotations"] = ann;
        template["initContainers"] = new JsonArray(new JsonObject
        {
            ["name"] = "storage-initializer",
            ["image"] = StorageInitializerImage,
            ["args"] = new JsonArray(s.ModelUri, ModelMountPath),
            ["resources"] = new JsonObject
            {
                ["requests"] = new JsonObject { ["cpu"] = "100m", ["memory"] = "100Mi" },
                ["limits"] = new JsonObject { ["cpu"] = "1", ["memory"] = "1Gi" },
            },
            ["terminationMessagePolicy"] = "FallbackToLogsOnError",
            ["volumeMounts"] = new JsonArray(new JsonObject { ["name"] = ModelVolume, ["mountPath"] = ModelMountPath }),
        });
        template["volumes"] = new JsonArray(new JsonObject { ["name"] = ModelVolume, ["emptyDir"] = new JsonObject() });
        main["volumeMounts"] = new JsonArray(new JsonObject { ["name"] = ModelVolume, ["mountPath"] = ModelMountPath, ["readOnly"] = true });
    }
}
