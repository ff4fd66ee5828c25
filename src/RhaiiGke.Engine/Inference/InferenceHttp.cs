using System.Diagnostics;
using System.Text;

namespace RhaiiGke.Engine.Inference;

/// <summary>A plain response: status, body, pod header and time.</summary>
internal sealed class SimpleResponse
{
    public int Status;
    public string Body = "";
    public string? Pod;
    public string? ContentType;
    public double Ms;
}

/// <summary>One-off requests (health, models, metrics) over the raw client.</summary>
internal static class InferenceHttp
{
    private sealed class BodySink : IResponseSink
    {
        public int Status; public string? Pod, ContentType; public string Body = "";
        public void OnHead(int status, string? contentType, string? pod, long timestamp) { Status = status; ContentType = contentType; Pod = pod; }
        public void OnEvent(ReadOnlySpan<byte> data, long timestamp) => Body += Encoding.UTF8.GetString(data) + "\n";
        public void OnBody(ReadOnlySpan<byte> body, long timestamp) => Body = Encoding.UTF8.GetString(body);
    }

    public static Task<SimpleResponse> GetAsync(HttpTarget target, string path, TimeSpan timeout, CancellationToken ct) =>
        SendAsync(target, "GET", path, [], timeout, ct);

    /// <summary>One request on its own connection; the whole body is read.</summary>
    public static async Task<SimpleResponse> SendAsync(HttpTarget target, string method, string path, byte[] body, TimeSpan timeout, CancellationToken ct)
    {
        using var conn = new RawHttpConnection(target);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        var sink = new BodySink();
        var t0 = Stopwatch.GetTimestamp();
        try
        {
            await conn.SendAsync(target.BuildRequest(method, path, body, false), sink, cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new RawHttpException("timeout", $"{method} {path} did not answer within {timeout.TotalSeconds:0.#} s.");
        }
        return new SimpleResponse { Status = sink.Status, Body = sink.Body, Pod = sink.Pod, ContentType = sink.ContentType, Ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds };
    }

    /// <summary>
    /// A 401 or 403 from an inference endpoint as an authentication error (InferenceUnauthorized, InferenceForbidden)
    /// with the fix; null for any other status. The server's body is never quoted: servers echo rejected keys.
    /// </summary>
    public static RhaiiException? AuthFailure(int status, string baseUrl, string what, bool hadKey) => status switch
    {
        401 => new RhaiiException("InferenceUnauthorized", RhaiiErrorCategory.AuthenticationError,
            $"{what} answered HTTP 401 Unauthorized: {baseUrl} requires an API key{(hadKey ? " and rejected the one given" : " and none was given")}.",
            hadKey ? "Check the key passed with -ApiKey (a SecureString; it may be expired or for another endpoint)." : "Pass the endpoint's key with -ApiKey (a SecureString, e.g. -ApiKey (Read-Host -AsSecureString)).", baseUrl),
        403 => new RhaiiException("InferenceForbidden", RhaiiErrorCategory.PermissionDenied,
            $"{what} answered HTTP 403 Forbidden: {baseUrl} refuses this {(hadKey ? "API key" : "anonymous request")}.",
            hadKey ? "Use an -ApiKey that is allowed to call this endpoint (and model)." : "Pass a key that is allowed to call this endpoint with -ApiKey.", baseUrl),
        _ => null,
    };

    /// <summary>The first model id from /v1/models.</summary>
    public static async Task<string> DiscoverModelAsync(HttpTarget target, CancellationToken ct)
    {
        SimpleResponse r;
        try { r = await GetAsync(target, "/v1/models", TimeSpan.FromSeconds(30), ct).ConfigureAwait(false); }
        catch (RawHttpException ex)
        {
            throw new RhaiiException("InferenceEndpointUnreachable", RhaiiErrorCategory.ConnectionError, $"Cannot reach {target.BaseUrl}: {ex.Message}",
                "Check the URL and that the server or port-forward is running; Test-InferenceEndpoint shows each check.", target.BaseUrl, ex);
        }
        if (AuthFailure(r.Status, target.BaseUrl, $"GET {target.BaseUrl}/v1/models (model auto-detection)", target.HasApiKey) is { } auth) throw auth;
        if (r.Status == 200)
        {
            try
            {
                using var doc = System.Text.Json.JsonDocument.Parse(r.Body);
                if (doc.RootElement.TryGetProperty("data", out var data) && data.GetArrayLength() > 0 && data[0].TryGetProperty("id", out var id))
                    return id.GetString() ?? "";
            }
            catch (System.Text.Json.JsonException) { }
        }
        throw new RhaiiException("ModelDiscoveryFailed", RhaiiErrorCategory.InvalidResult, $"GET {target.BaseUrl}/v1/models answered {r.Status} without a model id.",
            "Pass -Model with the served model name.", target.BaseUrl);
    }
}
