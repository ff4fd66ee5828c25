using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.Gke;

/// <summary>
/// IAM service accounts with their allow policies (iam.googleapis.com/v1 projects.serviceAccounts get, create,
/// getIamPolicy, setIamPolicy) and Cloud Storage buckets with objects and bucket IAM (storage/v1 b/{bucket}/iam,
/// b/{bucket}/o), as strict as the real services: setIamPolicy with a stale etag is 409 ABORTED, unknown
/// accounts and buckets are 404, a Workload Identity member whose pool does not exist is 400, and a read by an
/// identity without storage.objects.list/get on the bucket is the 403 Cloud Storage returns. The simulated
/// storage-initializer of a cluster of the GKE simulator reads models through <see cref="ReadModel"/>.
/// </summary>
public sealed class CloudIamStorage
{
    private readonly object _gate = new();
    private readonly Dictionary<string, ServiceAccount> _accounts = new(StringComparer.OrdinalIgnoreCase); // email
    private readonly Dictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);

    private sealed class Policy
    {
        public List<(string Role, List<string> Members)> Bindings { get; } = [];
        public long Version { get; set; }
        // an empty, never-set policy has IAM's etag ACAB
        public string Etag => Version == 0 ? "ACAB" : Convert.ToBase64String(Encoding.ASCII.GetBytes("BwX" + Version.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        public bool Has(string role, string member) => Bindings.Any(b => b.Role == role && b.Members.Contains(member, StringComparer.OrdinalIgnoreCase));
    }

    private sealed record ServiceAccount(string Project, string AccountId, string Email, string UniqueId, Policy Policy);

    private sealed record Bucket(string Project, string Name, Dictionary<string, long> Objects, Policy Policy);

    /// <summary>Number of setIamPolicy calls that carried an etag, and that did not (clients should always send it).</summary>
    public int SetIamPolicyWithEtag { get; private set; }
    public int SetIamPolicyWithoutEtag { get; private set; }

    /// <summary>The project number the simulator gives every project (as Compute's projects.get id).</summary>
    public static string ProjectNumber(string project) => "1000000000001";

    /// <summary>Creates a Google service account (accountId@project.iam.gserviceaccount.com) and returns its email.</summary>
    public string AddServiceAccount(string project, string accountId)
    {
        var email = $"{accountId}@{project}.iam.gserviceaccount.com";
        lock (_gate)
            if (!_accounts.ContainsKey(email))
                _accounts[email] = new ServiceAccount(project, accountId, email, "1" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(email)))[..20], new Policy());
        return email;
    }

    /// <summary>Creates a bucket with objects (name → size); grants nobody anything.</summary>
    public void AddBucket(string project, string bucket, IReadOnlyDictionary<string, long> objects)
    {
        lock (_gate) _buckets[bucket] = new Bucket(project, bucket, new Dictionary<string, long>(objects, StringComparer.Ordinal), new Policy());
    }

    /// <summary>Adds a member to a role on a bucket's IAM policy (what gcloud storage buckets add-iam-policy-binding does).</summary>
    public void GrantBucket(string bucket, string role, string member)
    {
        lock (_gate) Grant(_buckets[bucket].Policy, role, member);
    }

    /// <summary>Adds a member to a role on a service account's IAM policy.</summary>
    public void GrantServiceAccount(string email, string role, string member)
    {
        lock (_gate) Grant(_accounts[email].Policy, role, member);
    }

    private static void Grant(Policy p, string role, string member)
    {
        var b = p.Bindings.FirstOrDefault(x => x.Role == role);
        if (b.Role is null) p.Bindings.Add((role, [member]));
        else if (!b.Members.Contains(member)) b.Members.Add(member);
        p.Version++;
    }

    // ------------------------------------------------------------------ REST

    /// <summary>iam/v1/... (segments after "iam","v1").</summary>
    internal (int Status, JsonNode Body) Iam(string method, string[] s, string body, Func<string, bool> workloadPoolExists)
    {
        // projects/{p}/serviceAccounts[/{email}[:verb]]
        if (s.Length < 3 || s[0] != "projects" || s[2] != "serviceAccounts") return Err(404, "NOT_FOUND", "Unknown IAM path.");
        var project = s[1];
        lock (_gate)
        {
            if (s.Length == 3 && method == "POST")
            {
                var req = Parse(body);
                var id = req?["accountId"]?.GetValue<string>() ?? "";
                if (!System.Text.RegularExpressions.Regex.IsMatch(id, "^[a-z](?:[-a-z0-9]{4,28}[a-z0-9])$"))
                    return Err(400, "INVALID_ARGUMENT", $"Invalid account ID '{id}'. Account IDs must be 6-30 characters long, lowercase letters, digits and dashes, starting with a letter.");
                var email = $"{id}@{project}.iam.gserviceaccount.com";
                if (_accounts.ContainsKey(email)) return Err(409, "ALREADY_EXISTS", $"Service account {id} already exists within project projects/{project}.");
                AddServiceAccount(project, id);
                return (200, Account(_accounts[email]));
            }
            if (s.Length != 4) return Err(404, "NOT_FOUND", "Unknown IAM path.");
            var (name, verb) = s[3].Split(':') is { Length: 2 } parts ? (parts[0], parts[1]) : (s[3], "");
            if (!_accounts.TryGetValue(name, out var sa) || (project != "-" && !string.Equals(sa.Project, project, StringComparison.Ordinal)))
                return verb == ""
                    ? Err(404, "NOT_FOUND", "Unknown service account")
                    : Err(404, "NOT_FOUND", $"Service account projects/{project}/serviceAccounts/{name} does not exist.");
            if (method == "GET" && verb == "") return (200, Account(sa));
            if (method == "POST" && verb == "getIamPolicy") return (200, PolicyJson(sa.Policy, null));
            if (method == "POST" && verb == "setIamPolicy")
            {
                var req = Parse(body)?["policy"] as JsonObject;
                if (req is null) return Err(400, "INVALID_ARGUMENT", "Request contains an invalid argument.");
                if (Validate(req, member => Member(member, workloadPoolExists)) is { } bad) return bad;
                if (Stale(sa.Policy, req) is { } stale) return stale;
                Replace(sa.Policy, req);
                return (200, PolicyJson(sa.Policy, null));
            }
        }
        return Err(404, "NOT_FOUND", "Unknown IAM path.");
    }

    /// <summary>storage/v1/... (segments after "storage","v1"): b/{bucket}/iam (GET, PUT), b/{bucket}/o (GET list).</summary>
    internal (int Status, JsonNode Body) Storage(string method, string[] s, string query, string body, Func<string, bool> workloadPoolExists)
    {
        if (s.Length == 1 && s[0] == "b" && method == "POST")
        {
            var project = QueryValue(query, "project");
            var name = Parse(body)?["name"]?.GetValue<string>() ?? "";
            if (string.IsNullOrEmpty(project)) return GcsErr(400, "Required parameter: project", "required");
            if (!System.Text.RegularExpressions.Regex.IsMatch(name, "^[a-z0-9][-a-z0-9_.]{1,61}[a-z0-9]$")) return GcsErr(400, "Invalid bucket name: '" + name + "'", "invalid");
            lock (_gate)
            {
                if (_buckets.ContainsKey(name)) return GcsErr(409, "Your previous request to create the named bucket succeeded and you already own it.", "conflict");
                AddBucket(project, name, new Dictionary<string, long>());
                return (200, new JsonObject { ["kind"] = "storage#bucket", ["id"] = name, ["name"] = name, ["projectNumber"] = ProjectNumber(project) });
            }
        }
        if (s.Length < 2 || s[0] != "b") return GcsErr(404, "Not Found", "notFound");
        lock (_gate)
        {
            if (!_buckets.TryGetValue(s[1], out var bucket)) return GcsErr(404, "The specified bucket does not exist.", "notFound");
            if (s.Length == 2 && method == "GET")
                return (200, new JsonObject { ["kind"] = "storage#bucket", ["id"] = bucket.Name, ["name"] = bucket.Name, ["projectNumber"] = ProjectNumber(bucket.Project) });
            if (s.Length == 3 && s[2] == "iam" && method == "GET") return (200, PolicyJson(bucket.Policy, bucket.Name));
            if (s.Length == 3 && s[2] == "iam" && method == "PUT")
            {
                var req = Parse(body) as JsonObject;
                if (req is null) return GcsErr(400, "Invalid argument.", "invalid");
                if (Validate(req, member => Member(member, workloadPoolExists)) is { } bad) return GcsErr(400, bad.Body["error"]!["message"]!.GetValue<string>(), "invalid");
                if (req["etag"] is not null && req["etag"]!.GetValue<string>() != bucket.Policy.Etag)
                    return GcsErr(412, "Precondition Failed", "conditionNotMet");
                Replace(bucket.Policy, req);
                return (200, PolicyJson(bucket.Policy, bucket.Name));
            }
            if (s.Length == 3 && s[2] == "o" && method == "GET")
            {
                var prefix = QueryValue(query, "prefix") ?? "";
                return (200, new JsonObject
                {
                    ["kind"] = "storage#objects",
                    ["items"] = new JsonArray(bucket.Objects.Where(o => o.Key.StartsWith(prefix, StringComparison.Ordinal)).OrderBy(o => o.Key, StringComparer.Ordinal)
                        .Select(o => (JsonNode)new JsonObject { ["kind"] = "storage#object", ["name"] = o.Key, ["bucket"] = bucket.Name, ["size"] = o.Value.ToString(System.Globalization.CultureInfo.InvariantCulture) }).ToArray()),
                });
            }
        }
        return GcsErr(404, "Not Found", "notFound");
    }

    /// <summary>upload/storage/v1/b/{bucket}/o?uploadType=media&amp;name=... (segments after "upload","storage","v1").</summary>
    internal (int Status, JsonNode Body) Upload(string method, string[] s, string query, string body)
    {
        if (method != "POST" || s.Length != 3 || s[0] != "b" || s[2] != "o") return GcsErr(404, "Not Found", "notFound");
        if (QueryValue(query, "uploadType") != "media") return GcsErr(400, "Upload type must be media.", "invalid");
        var name = QueryValue(query, "name");
        if (string.IsNullOrEmpty(name)) return GcsErr(400, "Required parameter: name", "required");
        lock (_gate)
        {
            if (!_buckets.TryGetValue(s[1], out var bucket)) return GcsErr(404, "The specified bucket does not exist.", "notFound");
            bucket.Objects[name] = Encoding.UTF8.GetByteCount(body);
            return (200, new JsonObject { ["kind"] = "storage#object", ["name"] = name, ["bucket"] = bucket.Name, ["size"] = bucket.Objects[name].ToString(System.Globalization.CultureInfo.InvariantCulture) });
        }
    }

    // ------------------------------------------------------------------ what a pod can read

    /// <summary>
    /// KServe's storage-initializer (python google-cloud-storage with Application Default Credentials) reading
    /// gs://bucket/prefix in a pod of cluster <paramref name="clusterProject"/>, running as Kubernetes
    /// ServiceAccount ns/ksa whose <c>iam.gke.io/gcp-service-account</c> annotation is <paramref name="gsa"/>.
    /// With Workload Identity the GKE metadata server gives the pod a token of the GSA only when the GSA grants
    /// roles/iam.workloadIdentityUser to serviceAccount:POOL[ns/ksa]; without the annotation the pod acts as its
    /// federated principal. Returns null when the model downloads, else the container's output (exit 1).
    /// </summary>
    public string? ReadModel(string clusterProject, bool workloadIdentity, string ns, string ksa, string? gsa, string uri)
    {
        var rest = uri["gs://".Length..];
        var slash = rest.IndexOf('/');
        var bucketName = slash < 0 ? rest : rest[..slash];
        var prefix = slash < 0 ? "" : rest[(slash + 1)..];
        var pool = $"{clusterProject}.svc.id.goog";
        lock (_gate)
        {
            string identity;
            string[] members;
            if (!workloadIdentity)
            {
                identity = $"{ProjectNumber(clusterProject)}-compute@developer.gserviceaccount.com";
                members = [$"serviceAccount:{identity}"];
            }
            else if (!string.IsNullOrWhiteSpace(gsa))
            {
                if (!_accounts.TryGetValue(gsa, out var sa) || !sa.Policy.Has("roles/iam.workloadIdentityUser", $"serviceAccount:{pool}[{ns}/{ksa}]"))
                    return Traceback("google.auth.exceptions.RefreshError: (\"Failed to retrieve http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token?scopes=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fdevstorage.full_control from the Google Compute Engine metadata service. Status: 403 Response:\\nb\\\"Unable to generate access token; IAM returned 403 Forbidden: Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).\\\\nThis error could be caused by a missing IAM policy binding on the target IAM service account.\\\\nFor more information, refer to the Workload Identity documentation:\\\\n\\\\thttps://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity#authenticating_to\\\\n\\\\n\\\"\", <google.auth.transport.requests._Response object at 0x7f3c2a1b9d50>)");
                identity = gsa;
                members = [$"serviceAccount:{gsa}"];
            }
            else
            {
                identity = $"{pool}[{ns}/{ksa}]";
                members = [$"principal://iam.googleapis.com/projects/{ProjectNumber(clusterProject)}/locations/global/workloadIdentityPools/{pool}/subject/ns/{ns}/sa/{ksa}"];
            }
            var listUrl = $"https://storage.googleapis.com/storage/v1/b/{bucketName}/o?projection=noAcl&prefix={Uri.EscapeDataString(prefix)}&prettyPrint=false";
            if (!_buckets.TryGetValue(bucketName, out var bucket))
                return Traceback($"google.api_core.exceptions.NotFound: 404 GET {listUrl}: The specified bucket does not exist.");
            var readers = new[] { "roles/storage.objectViewer", "roles/storage.objectUser", "roles/storage.objectAdmin", "roles/storage.admin", "roles/storage.legacyBucketReader" };
            if (!members.Any(m => readers.Any(r => bucket.Policy.Has(r, m))))
                return Traceback($"google.api_core.exceptions.Forbidden: 403 GET {listUrl}: {identity} does not have storage.objects.list access to the Google Cloud Storage bucket. Permission 'storage.objects.list' denied on resource (or it may not exist).");
            if (!bucket.Objects.Keys.Any(k => k.StartsWith(prefix, StringComparison.Ordinal)))
                return Traceback($"RuntimeError: Failed to fetch model. No model found in {uri}.");
            return null;
        }
    }

    private static string Traceback(string last) =>
        "Traceback (most recent call last):\n" +
        "  File \"/kserve/storage-initializer/scripts/initializer-entrypoint\", line 31, in <module>\n" +
        "    Storage.download(src_uri, dest_path)\n" +
        "  File \"/kserve/kserve_storage/kserve_storage.py\", line 125, in download\n" +
        "    model_dir = Storage._download_gcs(uri, out_dir)\n" +
        last + "\n";

    // ------------------------------------------------------------------ helpers

    private static string? Member(string member, Func<string, bool> workloadPoolExists)
    {
        var m = System.Text.RegularExpressions.Regex.Match(member, @"^serviceAccount:([a-z][-a-z0-9]*\.svc\.id\.goog)\[([^/\]]+)/([^\]]+)\]$");
        if (m.Success)
            return workloadPoolExists(m.Groups[1].Value) ? null : $"Identity Pool does not exist ({m.Groups[1].Value}). Please check that you specified a valid resource name as returned in the `name` attribute in the configuration API.";
        if (member.StartsWith("serviceAccount:", StringComparison.Ordinal) || member.StartsWith("user:", StringComparison.Ordinal) ||
            member.StartsWith("group:", StringComparison.Ordinal) || member.StartsWith("principal://", StringComparison.Ordinal) ||
            member.StartsWith("principalSet://", StringComparison.Ordinal) || member.StartsWith("domain:", StringComparison.Ordinal) ||
            member is "allUsers" or "allAuthenticatedUsers" || member.StartsWith("projectViewer:", StringComparison.Ordinal))
            return null;
        return $"Invalid member '{member}'.";
    }

    private static (int Status, JsonNode Body)? Validate(JsonObject policy, Func<string, string?> member)
    {
        foreach (var b in policy["bindings"] as JsonArray ?? [])
        {
            var role = b?["role"]?.GetValue<string>();
            if (string.IsNullOrEmpty(role) || !role.StartsWith("roles/", StringComparison.Ordinal) && !role.StartsWith("projects/", StringComparison.Ordinal))
                return Err(400, "INVALID_ARGUMENT", $"Role {role} is not supported for this resource.");
            foreach (var m in b?["members"] as JsonArray ?? [])
                if (member(m?.GetValue<string>() ?? "") is { } why) return Err(400, "INVALID_ARGUMENT", why);
        }
        return null;
    }

    private static (int Status, JsonNode Body)? Stale(Policy current, JsonObject req)
    {
        var etag = req["etag"]?.GetValue<string>();
        return etag is not null && etag != current.Etag
            ? Err(409, "ABORTED", "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.")
            : null;
    }

    private void Replace(Policy p, JsonObject req)
    {
        if (req["etag"] is null) SetIamPolicyWithoutEtag++; else SetIamPolicyWithEtag++;
        p.Bindings.Clear();
        foreach (var b in req["bindings"] as JsonArray ?? [])
            p.Bindings.Add((b!["role"]!.GetValue<string>(), (b["members"] as JsonArray ?? []).Select(m => m!.GetValue<string>()).Distinct().ToList()));
        p.Bindings.RemoveAll(b => b.Members.Count == 0);
        p.Version++;
    }

    private static JsonObject PolicyJson(Policy p, string? bucket)
    {
        var o = new JsonObject();
        if (bucket is not null) { o["kind"] = "storage#policy"; o["resourceId"] = $"projects/_/buckets/{bucket}"; o["version"] = 1; }
        else if (p.Bindings.Count > 0) o["version"] = 1;
        if (p.Bindings.Count > 0)
            o["bindings"] = new JsonArray(p.Bindings.Select(b => (JsonNode)new JsonObject { ["role"] = b.Role, ["members"] = new JsonArray(b.Members.Select(m => (JsonNode)m).ToArray()) }).ToArray());
        o["etag"] = p.Etag;
        return o;
    }

    private static JsonObject Account(ServiceAccount sa) => new()
    {
        ["name"] = $"projects/{sa.Project}/serviceAccounts/{sa.Email}",
        ["projectId"] = sa.Project,
        ["uniqueId"] = sa.UniqueId,
        ["email"] = sa.Email,
        ["oauth2ClientId"] = sa.UniqueId,
        ["etag"] = "MDEwMjE5MjA=",
    };

    private static JsonNode? Parse(string body)
    {
        try { return string.IsNullOrWhiteSpace(body) ? null : JsonNode.Parse(body); }
        catch (System.Text.Json.JsonException) { return null; }
    }

    private static string? QueryValue(string query, string key) =>
        query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries).Select(kv => kv.Split('=', 2))
            .Where(kv => kv[0] == key).Select(kv => kv.Length > 1 ? Uri.UnescapeDataString(kv[1].Replace('+', ' ')) : "").FirstOrDefault();

    private static (int, JsonNode) Err(int code, string status, string message) =>
        (code, new JsonObject { ["error"] = new JsonObject { ["code"] = code, ["message"] = message, ["status"] = status } });

    private static (int, JsonNode) GcsErr(int code, string message, string reason) =>
        (code, new JsonObject
        {
            ["error"] = new JsonObject
            {
                ["code"] = code, ["message"] = message,
                ["errors"] = new JsonArray(new JsonObject { ["message"] = message, ["domain"] = "global", ["reason"] = reason }),
            },
        });
}
