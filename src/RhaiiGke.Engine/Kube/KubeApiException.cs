using System.Net;
using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube.Json;

namespace RhaiiGke.Engine.Kube;

/// <summary>A Kubernetes API error with the fields of its metav1.Status body.</summary>
internal sealed class KubeApiException : Exception
{
    public KubeApiException(int code, string reason, string message, JsonObject? status, TimeSpan? retryAfter, string method, string path)
        : base(message)
    {
        Code = code;
        Reason = reason;
        Status = status;
        RetryAfter = retryAfter;
        Method = method;
        Path = path;
    }

    public int Code { get; }
    public string Reason { get; }
    public JsonObject? Status { get; }
    public TimeSpan? RetryAfter { get; }
    public string Method { get; }
    public string Path { get; }

    public bool IsWebhookFailure => Message.Contains("failed calling webhook", StringComparison.Ordinal) || Message.Contains("failed to call webhook", StringComparison.Ordinal);
    public bool IsFieldManagerConflict => Code == 409 && Status?.Arr("details", "causes")?.Any(c => c.Str("reason") == "FieldManagerConflict") == true;
    /// <summary>404 for the resource type itself (group/version/resource not served), not for an object.</summary>
    public bool IsResourceNotServed => Code == 404 && (Message == "the server could not find the requested resource" || Message.StartsWith("404 page not found", StringComparison.Ordinal));
    public bool IsNamespaceTerminating => Code == 403 && Message.Contains("because it is being terminated", StringComparison.Ordinal);

    /// <summary>Errors worth retrying: webhooks not reachable yet, throttling, server errors, optimistic-lock conflicts, kinds not served yet.</summary>
    public bool IsTransient => Code is 429 or 500 or 502 or 503 or 504 || (Code == 409 && Reason == "Conflict" && !IsFieldManagerConflict) || IsResourceNotServed;

    /// <summary>A short tag for counting transient errors.</summary>
    public string Tag => IsWebhookFailure ? "WebhookUnavailable" : IsResourceNotServed ? "KindNotServedYet" : Reason.Length > 0 ? Reason : Code.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// The same error with every value of <paramref name="secrets"/> replaced in its message and Status body
    /// (a server may quote the rejected object, Secret data included).
    /// </summary>
    public KubeApiException Scrubbed(IReadOnlyCollection<string> secrets)
    {
        if (secrets.Count == 0) return this;
        var message = SecretRedaction.Scrub(Message, secrets);
        JsonObject? status = null;
        try { status = Status is null ? null : JsonNode.Parse(SecretRedaction.Scrub(Status.ToJsonString(), secrets)) as JsonObject; }
        catch (System.Text.Json.JsonException) { }
        return new KubeApiException(Code, Reason, message, status, RetryAfter, Method, Path);
    }

    /// <summary>The error as users see it: stable ErrorId, category and a fix.</summary>
    public RhaiiException ToRhaii(string? what = null, object? target = null)
    {
        var subject = what is null ? "" : what + ": ";
        var (id, category, fix) = (Code, Reason) switch
        {
            _ when IsWebhookFailure => ("KubeWebhookUnavailable", RhaiiErrorCategory.ResourceUnavailable,
                "An admission webhook could not be called (its Deployment is not Available yet, or its CA is not injected yet). Wait for the operator to become ready, then retry; Install-RhaiiOperators waits for this itself."),
            _ when IsFieldManagerConflict => ("KubeFieldManagerConflict", RhaiiErrorCategory.ResourceBusy,
                "Another field manager owns these fields. Re-run with -Force to take them over, or remove them from your manifest."),
            _ when IsResourceNotServed => ("KubeResourceNotServed", RhaiiErrorCategory.NotInstalled,
                "The API server does not serve this kind: install its CRD first (and wait for it to be Established)."),
            _ when IsNamespaceTerminating => ("KubeNamespaceTerminating", RhaiiErrorCategory.ResourceBusy,
                "The namespace is being deleted. Wait until it is gone, then apply again."),
            (401, _) => ("KubeApiUnauthorized", RhaiiErrorCategory.AuthenticationError, "The API server refused the credentials (token missing, wrong or expired): Connect-RhaiiCluster again with this cluster's token or kubeconfig (for GKE, Get-TpuClusterCredential)."),
            (403, _) => ("KubeForbidden", RhaiiErrorCategory.PermissionDenied, "The identity lacks RBAC permission for this operation; ask for cluster-admin or the listed verb."),
            (404, _) => ("KubeNotFound", RhaiiErrorCategory.ObjectNotFound, null),
            (409, "AlreadyExists") => ("KubeAlreadyExists", RhaiiErrorCategory.ResourceExists, null),
            (409, _) => ("KubeConflict", RhaiiErrorCategory.ResourceBusy, "The object changed while it was being updated; retry."),
            (410, _) => ("KubeResourceVersionExpired", RhaiiErrorCategory.ResourceUnavailable, "List again to get a current resourceVersion."),
            (422, _) => ("KubeInvalid", RhaiiErrorCategory.InvalidData, "Fix the fields named in the message; the server's validation rejected them."),
            (400, _) => ("KubeBadRequest", RhaiiErrorCategory.InvalidData, "The server could not decode or accept the request; check the manifest's fields and API version."),
            (429, _) => ("KubeTooManyRequests", RhaiiErrorCategory.LimitsExceeded, "The API server is throttling; retry later."),
            (504, _) or (_, "Timeout") => ("KubeServerTimeout", RhaiiErrorCategory.OperationTimeout, "The API server timed out; retry."),
            _ when Code >= 500 => ("KubeServerError", RhaiiErrorCategory.ResourceUnavailable, "The API server failed; retry, and check the control plane if it persists."),
            _ => ("KubeRequestFailed", RhaiiErrorCategory.NotSpecified, null),
        };
        return new RhaiiException(id, category, subject + Message, fix, target ?? what, this);
    }

    public static async Task<KubeApiException> FromResponseAsync(HttpResponseMessage res, string method, string path, CancellationToken ct)
    {
        var text = await res.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        JsonObject? status = null;
        try { status = JsonNode.Parse(text) as JsonObject; }
        catch (System.Text.Json.JsonException) { }
        var code = (int)res.StatusCode;
        var reason = status?.Str("reason") ?? (res.StatusCode == HttpStatusCode.NotFound ? "NotFound" : res.ReasonPhrase ?? "");
        var message = SecretRedaction.ScrubAuthorization(status?.Str("message") ?? (text.Length > 0 && text.Length < 500 ? text.Trim() : $"{code} {res.ReasonPhrase}"));
        TimeSpan? retryAfter = res.Headers.RetryAfter?.Delta;
        if (retryAfter is null && status?.Long("details", "retryAfterSeconds") is { } ra) retryAfter = TimeSpan.FromSeconds(ra);
        return new KubeApiException(code, reason, message, status, retryAfter, method, path);
    }
}
