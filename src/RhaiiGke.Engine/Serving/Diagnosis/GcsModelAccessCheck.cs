using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RhaiiGke.Engine.Manifests;

namespace RhaiiGke.Engine.Serving.Diagnosis;

/// <summary>
/// The storage initializer could not read a gs:// model: the GKE metadata server gave no token for the Google
/// service account (the Workload Identity binding is missing), Cloud Storage answered 403 (the identity lacks
/// storage.objects.list/get on the bucket; anonymous when Workload Identity is not in play), the bucket does not
/// exist, or nothing is stored under the path.
/// </summary>
internal sealed partial class GcsModelAccessCheck : IDiagnosisCheck
{
    public string Id => "GcsAccessDenied";

    public static readonly string[] Ids = ["WorkloadIdentityBindingMissing", "GcsAccessDenied", "GcsBucketNotFound", "GcsModelNotFound"];

    [GeneratedRegex(@"(Anonymous caller|\S+) does not have (storage\.objects\.(?:list|get)) access to the Google Cloud Storage (?:bucket|object)")] private static partial Regex Denied();
    [GeneratedRegex(@"storage\.googleapis\.com/(?:storage/v1|download/storage/v1)/b/([^/?\s]+)")] private static partial Regex BucketInUrl();
    [GeneratedRegex(@"No model found in (gs://\S+?)\.?(?:\s|$)")] private static partial Regex NoModel();

    /// <summary>True for storage-initializer output about Cloud Storage or the GKE metadata server (not Hugging Face).</summary>
    public static bool IsGcsFailure(string text) =>
        text.Contains("Google Cloud Storage", StringComparison.Ordinal) || text.Contains("storage.googleapis.com", StringComparison.Ordinal) ||
        text.Contains("metadata.google.internal", StringComparison.Ordinal) || text.Contains("No model found in gs://", StringComparison.Ordinal);

    public IEnumerable<DiagnosisFinding> Run(ClusterSnapshot s)
    {
        foreach (var pod in s.OfKind("Pod"))
        {
            foreach (var (cs, init) in Diagnoser.ContainerStatuses(pod))
            {
                if (!init || cs["name"]?.ToString() != "storage-initializer") continue;
                var term = cs["state"]?["terminated"] ?? cs["lastState"]?["terminated"];
                var text = term?["message"]?.ToString() ?? "";
                if (!IsGcsFailure(text)) continue;
                var ns = ClusterSnapshot.Namespace(pod);
                var ksa = pod["spec"]?["serviceAccountName"]?.ToString() ?? "default";
                var uri = (pod["spec"]?["initContainers"] as JsonArray ?? []).OfType<JsonObject>()
                    .Where(c => c["name"]?.ToString() == "storage-initializer")
                    .SelectMany(c => c["args"] as JsonArray ?? []).Select(a => a?.ToString()).FirstOrDefault(a => a?.StartsWith("gs://", StringComparison.Ordinal) == true);
                var bucket = uri is null ? BucketInUrl().Match(text) is { Success: true } bm ? bm.Groups[1].Value : "BUCKET" : GcsModels.Bucket(uri);
                var gsa = s.Get("ServiceAccount", ns, ksa)?["metadata"]?["annotations"]?[GcsModels.ServiceAccountAnnotation]?.ToString();
                var project = gsa is null ? null : GcsModels.ProjectOf(gsa);
                var member = $"serviceAccount:{project ?? "PROJECT"}.svc.id.goog[{ns}/{ksa}]";
                var evidence = new[] { $"storage-initializer: {LastLine(text)}" };

                if (text.Contains("iam.serviceAccounts.getAccessToken", StringComparison.Ordinal) || text.Contains("Unable to generate access token", StringComparison.Ordinal))
                    yield return Diagnoser.Finding("WorkloadIdentityBindingMissing", FindingSeverity.Error, pod,
                        $"The storage initializer got no token for {gsa ?? "the Google service account"}: the GKE metadata server refused it because the account does not grant {GcsModels.WorkloadIdentityUserRole} to Kubernetes ServiceAccount {ns}/{ksa}.",
                        $"gcloud iam service-accounts add-iam-policy-binding {gsa ?? "GSA@PROJECT.iam.gserviceaccount.com"} --role {GcsModels.WorkloadIdentityUserRole} --member \"{member}\" (the pool is the cluster project's; Deploy-LlmInferenceService -GrantWorkloadIdentity does it), then delete the pod or wait for the next retry.",
                        evidence);
                else if (Denied().Match(text) is { Success: true } d)
                {
                    var identity = d.Groups[1].Value;
                    string fix;
                    if (identity == "Anonymous caller")
                        fix = $"The pod had no Google credentials. Annotate ServiceAccount {ns}/{ksa} with {GcsModels.ServiceAccountAnnotation}: GSA@PROJECT.iam.gserviceaccount.com (New-LlmInferenceServiceSpec -GcpServiceAccount), run the workload on a GKE cluster with Workload Identity, and grant the account {GcsModels.ObjectViewerRole} on gs://{bucket}.";
                    else if (identity.EndsWith("-compute@developer.gserviceaccount.com", StringComparison.Ordinal))
                        fix = $"The pod acted as the node's service account {identity}: Workload Identity is not active on its node pool. Enable it (gcloud container node-pools update POOL --cluster CLUSTER --workload-metadata=GKE_METADATA) and annotate ServiceAccount {ns}/{ksa} with {GcsModels.ServiceAccountAnnotation}.";
                    else if (identity.Contains(".svc.id.goog[", StringComparison.Ordinal))
                        fix = $"The pod acted as its own federated identity (ServiceAccount {ns}/{ksa} has no {GcsModels.ServiceAccountAnnotation} annotation). Annotate it with a Google service account that has {GcsModels.ObjectViewerRole} on gs://{bucket}, or grant {GcsModels.ObjectViewerRole} on the bucket to principal://iam.googleapis.com/projects/PROJECT_NUMBER/locations/global/workloadIdentityPools/PROJECT.svc.id.goog/subject/ns/{ns}/sa/{ksa}.";
                    else
                        fix = $"gcloud storage buckets add-iam-policy-binding gs://{bucket} --member serviceAccount:{identity} --role {GcsModels.ObjectViewerRole}";
                    yield return Diagnoser.Finding("GcsAccessDenied", FindingSeverity.Error, pod,
                        $"Cloud Storage refused the model download (403): {identity} lacks {d.Groups[2].Value} on bucket {bucket}.", fix, evidence);
                }
                else if (text.Contains("The specified bucket does not exist", StringComparison.Ordinal))
                    yield return Diagnoser.Finding("GcsBucketNotFound", FindingSeverity.Error, pod,
                        $"Bucket {bucket} of the model URI does not exist.", "Fix the gs:// URI of the model (gcloud storage ls shows your buckets) and deploy again.", evidence);
                else if (NoModel().Match(text) is { Success: true } nm)
                    yield return Diagnoser.Finding("GcsModelNotFound", FindingSeverity.Error, pod,
                        $"Nothing is stored under {nm.Groups[1].Value}.", $"Upload the model (config.json, tokenizer and weights) there (gcloud storage cp -r ./model {nm.Groups[1].Value}) or fix the path.", evidence);
            }
        }
    }

    private static string LastLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? text;
}
