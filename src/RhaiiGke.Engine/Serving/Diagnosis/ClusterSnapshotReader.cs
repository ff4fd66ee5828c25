using System.Net;
using System.Text.Json.Nodes;
using k8s;

namespace RhaiiGke.Engine.Serving.Diagnosis;

/// <summary>
/// Reads the objects the checks look at from a live API server: one list request per kind, cluster-wide.
/// Kinds whose API the cluster does not serve (a CRD not installed) are skipped; Secrets are reduced to
/// their key names so no secret value is held in memory or shown.
/// </summary>
public static class ClusterSnapshotReader
{
    /// <summary>(list path, kind): core, apps, networking, admission, Gateway API, InferencePool (both groups), KServe.</summary>
    public static readonly (string Path, string Kind)[] Sources =
    [
        ("api/v1/nodes", "Node"), ("api/v1/namespaces", "Namespace"), ("api/v1/pods", "Pod"), ("api/v1/events", "Event"),
        ("api/v1/services", "Service"), ("api/v1/endpoints", "Endpoints"), ("api/v1/serviceaccounts", "ServiceAccount"), ("api/v1/secrets", "Secret"),
        ("apis/apps/v1/deployments", "Deployment"), ("apis/apps/v1/daemonsets", "DaemonSet"),
        ("apis/networking.k8s.io/v1/networkpolicies", "NetworkPolicy"),
        ("apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", "ValidatingWebhookConfiguration"),
        ("apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", "MutatingWebhookConfiguration"),
        ("apis/apiextensions.k8s.io/v1/customresourcedefinitions", "CustomResourceDefinition"),
        ("apis/gateway.networking.k8s.io/v1/gateways", "Gateway"), ("apis/gateway.networking.k8s.io/v1/httproutes", "HTTPRoute"),
        ("apis/inference.networking.k8s.io/v1/inferencepools", "InferencePool"), ("apis/inference.networking.x-k8s.io/v1alpha2/inferencepools", "InferencePool"),
        ("apis/serving.kserve.io/v1alpha1/llminferenceservices", "LLMInferenceService"),
        ("apis/serving.kserve.io/v1alpha1/llminferenceserviceconfigs", "LLMInferenceServiceConfig"),
        ("apis/networking.gke.io/v1/healthcheckpolicies", "HealthCheckPolicy"),
        ("apis/leaderworkerset.x-k8s.io/v1/leaderworkersets", "LeaderWorkerSet"),
    ];

    /// <summary>Reads a snapshot over a connection (kubeconfig auth and exec plugins included).</summary>
    public static Task<ClusterSnapshot> ReadAsync(ClusterConnection connection, IRhaiiLog? log = null, CancellationToken cancellationToken = default)
    {
        var client = Kube.KubeClients.For(connection);
        return ReadAsync(async (path, ct) =>
        {
            try
            {
                var (code, body, _) = await client.SendRawAsync(HttpMethod.Get, path, null, null, ct).ConfigureAwait(false);
                return (code, body);
            }
            catch (Kube.KubeApiException e) when (e.Code is 403 or 404)
            {
                return ((HttpStatusCode)e.Code, e.Status?.ToJsonString() ?? e.Message);
            }
        }, log, cancellationToken);
    }

    /// <summary>Reads a snapshot from an endpoint with a bearer token and optional CA (PEM).</summary>
    public static async Task<ClusterSnapshot> ReadAsync(Uri server, string? bearerToken, string? caCertificatePem, bool skipTlsVerify,
        IRhaiiLog? log = null, CancellationToken cancellationToken = default)
    {
        var config = new KubernetesClientConfiguration { Host = server.ToString(), AccessToken = bearerToken, SkipTlsVerify = skipTlsVerify };
        if (!string.IsNullOrEmpty(caCertificatePem))
            config.SslCaCerts = new System.Security.Cryptography.X509Certificates.X509Certificate2Collection
            {
                System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(caCertificatePem),
            };
        using var client = new Kubernetes(config);
        var baseUri = new Uri(server.ToString().TrimEnd('/') + "/");
        return await ReadAsync(async (path, ct) =>
        {
            using var req = new HttpRequestMessage(HttpMethod.Get, new Uri(baseUri, path));
            // the client's HttpClient does not authenticate by itself: the bearer token goes on each request
            if (client.Credentials is not null) await client.Credentials.ProcessHttpRequestAsync(req, ct).ConfigureAwait(false);
            using var resp = await client.HttpClient.SendAsync(req, ct).ConfigureAwait(false);
            return (resp.StatusCode, await resp.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
        }, log, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<ClusterSnapshot> ReadAsync(Func<string, CancellationToken, Task<(HttpStatusCode Code, string Body)>> get, IRhaiiLog? log, CancellationToken ct)
    {
        log ??= NullRhaiiLog.Instance;
        var snapshot = new ClusterSnapshot();
        var i = 0;
        foreach (var (path, kind) in Sources)
        {
            i++;
            log.Progress("Reading cluster state", kind, i * 100 / Sources.Length);
            var (code, body) = await get(path, ct).ConfigureAwait(false);
            if (code is HttpStatusCode.NotFound) { log.Verbose($"{path}: not served (CRD not installed)"); continue; }
            if (code is HttpStatusCode.Forbidden) { log.Warning($"{path}: forbidden; checks that need {kind} objects are skipped."); continue; }
            if ((int)code is < 200 or > 299)
                throw new RhaiiException("ClusterReadFailed", RhaiiErrorCategory.ConnectionError,
                    $"Listing {path} failed with {(int)code}: {KubeStatusMessage(body)}", "Check the connection and your RBAC permissions.", path);
            var list = JsonNode.Parse(body) as JsonObject;
            if (list?["items"] is not JsonArray items) continue;
            foreach (var item in items.OfType<JsonObject>())
            {
                item["kind"] ??= kind;
                if (kind == "Secret") RedactSecret(item);
            }
            snapshot.Add(list);
        }
        log.Progress("Reading cluster state", "done", 100);
        return snapshot;
    }

    /// <summary>Replaces secret values with empty strings; only key names survive.</summary>
    internal static void RedactSecret(JsonObject secret)
    {
        foreach (var field in new[] { "data", "stringData" })
            if (secret[field] is JsonObject d)
                foreach (var key in d.Select(kv => kv.Key).ToList()) d[key] = "";
        secret["metadata"]?.AsObject().Remove("managedFields");
        if (secret["metadata"]?["annotations"] is JsonObject a) a.Remove("kubectl.kubernetes.io/last-applied-configuration");
    }

    private static string KubeStatusMessage(string body)
    {
        try { return JsonNode.Parse(body)?["message"]?.GetValue<string>() ?? body; }
        catch (System.Text.Json.JsonException) { return body.Length > 200 ? body[..200] : body; }
    }
}
