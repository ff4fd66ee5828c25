using System.Text.Json.Nodes;
using RhaiiGke.Engine.Manifests;

namespace RhaiiGke.Engine.Gke;

/// <summary>Where a workload runs and which Google service account it reads a gs:// model as.</summary>
public sealed record WorkloadIdentityTarget(
    string ClusterProject, string ClusterLocation, string ClusterName,
    string Namespace, string KubernetesServiceAccount, string GcpServiceAccount, string ModelUri)
{
    /// <summary>serviceAccount:PROJECT.svc.id.goog[NAMESPACE/KSA].</summary>
    public string Member => GcsModels.Member(ClusterProject, Namespace, KubernetesServiceAccount);

    /// <summary>The target of a spec deployed to a GKE kubeconfig context (gke_PROJECT_LOCATION_CLUSTER), or null for other clusters.</summary>
    public static WorkloadIdentityTarget? For(LlmInferenceServiceSpec spec, ClusterConnection connection)
    {
        if (string.IsNullOrEmpty(spec.GcpServiceAccount) || !GcsModels.IsGcs(spec)) return null;
        foreach (var name in new[] { connection.Context, connection.Name })
        {
            if (name is null || !name.StartsWith("gke_", StringComparison.Ordinal)) continue;
            var parts = name.Split('_');
            if (parts.Length != 4 || parts.Any(string.IsNullOrEmpty)) continue;
            return new WorkloadIdentityTarget(parts[1], parts[2], parts[3], spec.Namespace, spec.ServiceAccountName, spec.GcpServiceAccount!, spec.ModelUri);
        }
        return null;
    }
}

/// <summary>What the IAM, Storage and GKE APIs say about a Workload Identity set-up.</summary>
public sealed class WorkloadIdentityReport
{
    /// <summary>workloadIdentityConfig.workloadPool of the cluster; null when Workload Identity is off.</summary>
    public string? WorkloadPool { get; init; }
    /// <summary>Node pools whose nodes do not run the GKE metadata server (workloadMetadataConfig.mode != GKE_METADATA).</summary>
    public IReadOnlyList<string> PoolsWithoutGkeMetadata { get; init; } = [];
    /// <summary>Of those, the pools with TPU or GPU machines (where the workload runs).</summary>
    public IReadOnlyList<string> AcceleratorPoolsWithoutGkeMetadata { get; init; } = [];
    public bool ServiceAccountExists { get; init; }
    /// <summary>The Google service account grants roles/iam.workloadIdentityUser to the member.</summary>
    public bool BindingExists { get; init; }
    /// <summary>Whether the bucket policy grants the Google service account a role that reads objects; null when the policy could not be read.</summary>
    public bool? BucketGrantsRead { get; init; }
    /// <summary>Why the bucket policy could not be read, when it could not.</summary>
    public string? BucketPolicyProblem { get; init; }
}

/// <summary>
/// Workload Identity for gs:// models through the IAM REST API (iam.googleapis.com/v1 projects.serviceAccounts get,
/// getIamPolicy, setIamPolicy with the policy's etag), the Cloud Storage JSON API (storage/v1 b/BUCKET/iam) and GKE
/// (workloadIdentityConfig, node pools' workloadMetadataConfig). Endpoints: RHAII_IAM_ENDPOINT, RHAII_STORAGE_ENDPOINT.
/// </summary>
public sealed class WorkloadIdentityClient
{
    public const string IamVariable = "RHAII_IAM_ENDPOINT";
    public const string StorageVariable = "RHAII_STORAGE_ENDPOINT";
    public const string DefaultIam = "https://iam.googleapis.com/";
    public const string DefaultStorage = "https://storage.googleapis.com/storage/";
    private static readonly string[] BucketReaders = ["roles/storage.objectViewer", "roles/storage.objectUser", "roles/storage.objectAdmin", "roles/storage.admin", "roles/storage.legacyBucketReader"];

    private readonly GkeSession _session;
    private readonly Uri _iam;
    private readonly Uri _storage;

    public WorkloadIdentityClient(GkeSession session, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        _session = session;
        _iam = GkeEndpoints.Parse(environment(IamVariable) ?? DefaultIam, "IamEndpoint", IamVariable);
        _storage = GkeEndpoints.Parse(environment(StorageVariable) ?? DefaultStorage, "StorageEndpoint", StorageVariable);
    }

    private Uri Account(string gsa, string verb = "") =>
        new(_iam, $"v1/projects/-/serviceAccounts/{Uri.EscapeDataString(gsa)}{verb}");

    public async Task<WorkloadIdentityReport> CheckAsync(WorkloadIdentityTarget t, CancellationToken ct)
    {
        var cluster = await _session.Transport.GetAsync(new Uri(_session.Endpoints.Container, $"v1/projects/{t.ClusterProject}/locations/{t.ClusterLocation}/clusters/{t.ClusterName}"),
            $"cluster {t.ClusterProject}/{t.ClusterLocation}/{t.ClusterName}", ct).ConfigureAwait(false);
        var pool = cluster?["workloadIdentityConfig"]?["workloadPool"]?.ToString();
        var without = new List<string>();
        var accelerated = new List<string>();
        foreach (var p in (cluster?["nodePools"] as JsonArray ?? []).OfType<JsonObject>())
        {
            if (p["config"]?["workloadMetadataConfig"]?["mode"]?.ToString() == "GKE_METADATA") continue;
            var name = p["name"]?.ToString() ?? "";
            without.Add(name);
            var machine = p["config"]?["machineType"]?.ToString() ?? "";
            if (machine.StartsWith("ct", StringComparison.Ordinal) || p["config"]?["accelerators"] is JsonArray { Count: > 0 } || machine.StartsWith("a2-", StringComparison.Ordinal) || machine.StartsWith("a3-", StringComparison.Ordinal) || machine.StartsWith("g2-", StringComparison.Ordinal))
                accelerated.Add(name);
        }
        var account = await _session.Transport.GetAsync(Account(t.GcpServiceAccount), $"service account {t.GcpServiceAccount}", ct, nullOnNotFound: true).ConfigureAwait(false);
        var binding = false;
        if (account is not null)
        {
            var policy = await _session.Transport.PostAsync(Account(t.GcpServiceAccount, ":getIamPolicy"), new JsonObject(), $"IAM policy of {t.GcpServiceAccount}", ct).ConfigureAwait(false);
            binding = HasMember(policy, GcsModels.WorkloadIdentityUserRole, t.Member);
        }
        bool? reads = null;
        string? problem = null;
        try
        {
            var bucketPolicy = await _session.Transport.GetAsync(new Uri(_storage, $"v1/b/{Uri.EscapeDataString(GcsModels.Bucket(t.ModelUri))}/iam"), $"bucket {GcsModels.Bucket(t.ModelUri)}", ct).ConfigureAwait(false);
            reads = BucketReaders.Any(r => HasMember(bucketPolicy, r, "serviceAccount:" + t.GcpServiceAccount));
        }
        catch (GkeApiException ex) when (ex.HttpStatus is 403 or 404)
        {
            problem = ex.HttpStatus == 404 ? $"bucket {GcsModels.Bucket(t.ModelUri)} does not exist" : $"the caller may not read the IAM policy of bucket {GcsModels.Bucket(t.ModelUri)}";
        }
        return new WorkloadIdentityReport
        {
            WorkloadPool = pool, PoolsWithoutGkeMetadata = without, AcceleratorPoolsWithoutGkeMetadata = accelerated,
            ServiceAccountExists = account is not null, BindingExists = binding, BucketGrantsRead = reads, BucketPolicyProblem = problem,
        };
    }

    /// <summary>
    /// Adds member to roles/iam.workloadIdentityUser on the Google service account: read-modify-write of the
    /// allow policy with its etag, re-read and retried when IAM reports a concurrent change (409 ABORTED).
    /// </summary>
    public async Task GrantAsync(WorkloadIdentityTarget t, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            var policy = await _session.Transport.PostAsync(Account(t.GcpServiceAccount, ":getIamPolicy"), new JsonObject(), $"IAM policy of {t.GcpServiceAccount}", ct).ConfigureAwait(false) ?? new JsonObject();
            if (HasMember(policy, GcsModels.WorkloadIdentityUserRole, t.Member)) return;
            var bindings = policy["bindings"] as JsonArray ?? new JsonArray();
            var binding = bindings.OfType<JsonObject>().FirstOrDefault(b => b["role"]?.ToString() == GcsModels.WorkloadIdentityUserRole && b["condition"] is null);
            if (binding is null) bindings.Add(new JsonObject { ["role"] = GcsModels.WorkloadIdentityUserRole, ["members"] = new JsonArray(t.Member) });
            else ((binding["members"] as JsonArray) ?? (JsonArray)(binding["members"] = new JsonArray())).Add(t.Member);
            var updated = new JsonObject { ["bindings"] = bindings.DeepClone(), ["etag"] = policy["etag"]?.DeepClone() };
            if (policy["version"] is { } v) updated["version"] = v.DeepClone();
            try
            {
                await _session.Transport.PostAsync(Account(t.GcpServiceAccount, ":setIamPolicy"), new JsonObject { ["policy"] = updated }, $"IAM policy of {t.GcpServiceAccount}", ct).ConfigureAwait(false);
                _session.Log.Verbose($"Granted {GcsModels.WorkloadIdentityUserRole} on {t.GcpServiceAccount} to {t.Member}.");
                return;
            }
            catch (GkeApiException ex) when (ex.GoogleStatus == "ABORTED" && attempt < 5)
            {
                _session.Log.Verbose($"The IAM policy of {t.GcpServiceAccount} changed meanwhile (etag); reading it again.");
            }
        }
    }

    private static bool HasMember(JsonObject? policy, string role, string member) =>
        (policy?["bindings"] as JsonArray ?? []).OfType<JsonObject>().Any(b => b["role"]?.ToString() == role && b["condition"] is null &&
            (b["members"] as JsonArray ?? []).Any(m => string.Equals(m?.ToString(), member, StringComparison.OrdinalIgnoreCase)));
}
