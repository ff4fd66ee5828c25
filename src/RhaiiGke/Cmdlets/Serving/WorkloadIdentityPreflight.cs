using RhaiiGke.Engine.Gke;
using RhaiiGke.Engine.Manifests;

namespace RhaiiGke.Cmdlets.Serving;

/// <summary>
/// Before a gs:// model is deployed: checks through the GKE, IAM and Storage APIs that the cluster runs Workload
/// Identity, that the Google service account exists and grants roles/iam.workloadIdentityUser to the workload's
/// Kubernetes ServiceAccount, and (as a warning) that the bucket lets the Google service account read objects.
/// A missing binding refuses the deploy before anything changes, unless -GrantWorkloadIdentity creates it under
/// ShouldProcess.
/// </summary>
internal static class WorkloadIdentityPreflight
{
    public static async Task RunAsync(RhaiiCmdlet cmdlet, LlmInferenceServiceSpec spec, ClusterConnection connection, bool grant, bool dryRun, CancellationToken ct)
    {
        if (!GcsModels.IsGcs(spec)) return;
        var target = WorkloadIdentityTarget.For(spec, connection);
        if (target is null)
        {
            cmdlet.WriteWarning($"Workload Identity was not checked: {connection.Name} is not a GKE kubeconfig context (gke_PROJECT_LOCATION_CLUSTER). " +
                $"The storage initializer reads {spec.ModelUri} as {spec.GcpServiceAccount} only if that account grants {GcsModels.WorkloadIdentityUserRole} to serviceAccount:PROJECT.svc.id.goog[{spec.Namespace}/{spec.ServiceAccountName}].");
            return;
        }
        using var session = GkeSession.Open(new GkeConnectionOptions { AccessToken = Sandbox.SandboxRegistry.GkeTokenFor(null) }, cmdlet);
        var client = new WorkloadIdentityClient(session);
        var report = await client.CheckAsync(target, ct);
        var pool = $"{target.ClusterProject}.svc.id.goog";
        if (report.WorkloadPool is null)
            throw new RhaiiException("WorkloadIdentityNotEnabled", RhaiiErrorCategory.InvalidOperation,
                $"Cluster {target.ClusterName} does not run Workload Identity (no workloadIdentityConfig.workloadPool), so pods cannot act as {target.GcpServiceAccount}.",
                $"gcloud container clusters update {target.ClusterName} --location {target.ClusterLocation} --project {target.ClusterProject} --workload-pool={pool}, then --workload-metadata=GKE_METADATA on the node pools (New-TpuCluster enables both by default).", target.ClusterName);
        if (report.AcceleratorPoolsWithoutGkeMetadata.Count > 0)
            throw new RhaiiException("WorkloadIdentityNotEnabledOnNodePool", RhaiiErrorCategory.InvalidOperation,
                $"Node pool(s) {string.Join(", ", report.AcceleratorPoolsWithoutGkeMetadata)} of {target.ClusterName} do not run the GKE metadata server (workloadMetadataConfig.mode is not GKE_METADATA): the workload there would read {spec.ModelUri} as the node's service account.",
                $"gcloud container node-pools update {report.AcceleratorPoolsWithoutGkeMetadata[0]} --cluster {target.ClusterName} --location {target.ClusterLocation} --workload-metadata=GKE_METADATA", report.AcceleratorPoolsWithoutGkeMetadata[0]);
        if (!report.ServiceAccountExists)
            throw new RhaiiException("GcpServiceAccountNotFound", RhaiiErrorCategory.ObjectNotFound,
                $"Google service account {target.GcpServiceAccount} does not exist (or the caller may not see it).",
                $"Create it (gcloud iam service-accounts create {target.GcpServiceAccount.Split('@')[0]} --project {GcsModels.ProjectOf(target.GcpServiceAccount) ?? target.ClusterProject}) and grant it {GcsModels.ObjectViewerRole} on gs://{GcsModels.Bucket(target.ModelUri)}.", target.GcpServiceAccount);
        if (!report.BindingExists)
        {
            var fix = $"gcloud iam service-accounts add-iam-policy-binding {target.GcpServiceAccount} --role {GcsModels.WorkloadIdentityUserRole} --member \"{target.Member}\", or deploy again with -GrantWorkloadIdentity.";
            if (!grant)
                throw new RhaiiException("WorkloadIdentityBindingMissing", RhaiiErrorCategory.PermissionDenied,
                    $"{target.GcpServiceAccount} does not grant {GcsModels.WorkloadIdentityUserRole} to {target.Member}: the storage initializer would get no token for it and the model download would fail with 403. Nothing was deployed.",
                    fix, target.GcpServiceAccount);
            if (cmdlet.ShouldProcess($"{target.GcpServiceAccount}", $"Grant {GcsModels.WorkloadIdentityUserRole} to {target.Member}"))
            {
                if (!dryRun) await client.GrantAsync(target, ct);
            }
            else if (!dryRun) // -WhatIf has reported the grant; a declined -Confirm stops here
                throw new RhaiiException("WorkloadIdentityBindingMissing", RhaiiErrorCategory.PermissionDenied,
                    $"{target.GcpServiceAccount} does not grant {GcsModels.WorkloadIdentityUserRole} to {target.Member}, and the grant was declined. Nothing was deployed.", fix, target.GcpServiceAccount);
        }
        if (report.BucketGrantsRead == false)
            cmdlet.WriteWarning($"The IAM policy of bucket {GcsModels.Bucket(target.ModelUri)} grants {target.GcpServiceAccount} no role that reads objects; unless a project-level role does, the download fails with 403. " +
                $"Fix: gcloud storage buckets add-iam-policy-binding gs://{GcsModels.Bucket(target.ModelUri)} --member serviceAccount:{target.GcpServiceAccount} --role {GcsModels.ObjectViewerRole}");
        else if (report.BucketPolicyProblem is { } why)
            cmdlet.WriteWarning($"Bucket access was not checked: {why}.");
    }
}
