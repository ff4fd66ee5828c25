using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace RhaiiGke.Engine.Gke;

/// <summary>
/// JSON over HTTPS to Google APIs with a bearer token. Retries reads on 429/5xx, retries mutations while
/// another operation holds the cluster (FAILED_PRECONDITION "incompatible operation"), and turns every
/// error body into a <see cref="GkeApiException"/>. Logs method and URL only: never headers or tokens.
/// </summary>
internal sealed class GoogleApiTransport : IDisposable
{
    private readonly HttpClient _http;
    private readonly IAccessTokenSource _tokens;
    private readonly IRhaiiLog _log;
    private readonly TimeSpan _retryBase;
    private readonly TimeSpan _busyTimeout;

    public GoogleApiTransport(IAccessTokenSource tokens, IRhaiiLog log, bool skipCertificateCheck, TimeSpan retryBase, TimeSpan busyTimeout)
    {
        _tokens = tokens;
        _log = log;
        _retryBase = retryBase;
        _busyTimeout = busyTimeout;
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), AutomaticDecompression = DecompressionMethods.All };
        if (skipCertificateCheck)
        {
            log.Warning("TLS certificate validation is OFF for Google API endpoints (-SkipCertificateCheck).");
            handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        }
        _http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(120) };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("RhaiiGke/0.1");
    }

    public IAccessTokenSource Tokens => _tokens;

    public Task<string> GetTokenAsync(CancellationToken ct) => _tokens.GetTokenAsync(ct);

    /// <summary>GET returning the JSON body, or null on 404 when <paramref name="nullOnNotFound"/>.</summary>
    public Task<JsonObject?> GetAsync(Uri url, string target, CancellationToken ct, bool nullOnNotFound = false) =>
        SendAsync(HttpMethod.Get, url, null, target, ct, nullOnNotFound, mutating: false);

    public Task<JsonObject?> PostAsync(Uri url, JsonNode? body, string target, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, url, body, target, ct, false, mutating: true);

    public Task<JsonObject?> DeleteAsync(Uri url, string target, CancellationToken ct, bool nullOnNotFound = false) =>
        SendAsync(HttpMethod.Delete, url, null, target, ct, nullOnNotFound, mutating: true);

    public async Task<JsonObject?> SendAsync(HttpMethod method, Uri url, JsonNode? body, string target, CancellationToken ct, bool nullOnNotFound, bool mutating)
    {
        var started = DateTime.UtcNow;
        var attempt = 0;
        while (true)
        {
            attempt++;
            var token = await _tokens.GetTokenAsync(ct).ConfigureAwait(false);
            using var request = new HttpRequestMessage(method, url);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            if (body is not null)
                request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
            _log.Debug($"{method} {url.GetLeftPart(UriPartial.Path)}");

            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, ct).ConfigureAwait(false);
            }
            catch (HttpRequestException ex) when (Net.TransportFailure.IsPermanent(ex))
            {
                // a name that does not resolve or a certificate that is not trusted: retrying cannot help
                throw Net.TransportFailure.Classify(ex) == Net.TransportFailureKind.Tls
                    ? new GkeApiException("GkeTlsFailed", RhaiiErrorCategory.SecurityError,
                        $"The TLS handshake with {url.Host} failed for {target} (certificate not trusted, expired, or issued for another host name): {Net.TransportFailure.Detail(ex)}",
                        "Check the endpoint (-Endpoint, RHAII_GKE_ENDPOINT) and any TLS-intercepting proxy (its CA must be trusted by this machine); use -SkipCertificateCheck only against a local simulator.", target, ex)
                    : new GkeApiException("GkeNameNotResolved", RhaiiErrorCategory.ConnectionError,
                        $"The host name {url.Host} does not resolve ({target}): {Net.TransportFailure.Detail(ex)}",
                        "Check the endpoint (-Endpoint, RHAII_GKE_ENDPOINT) and this machine's DNS and proxy settings.", target, ex);
            }
            catch (HttpRequestException ex) when (!mutating && attempt < 4)
            {
                _log.Verbose($"{method} {url.Host}: {ex.Message}; retrying.");
                await Task.Delay(Backoff(attempt), ct).ConfigureAwait(false);
                continue;
            }
            catch (HttpRequestException ex)
            {
                throw new GkeApiException("GkeConnectionFailed", RhaiiErrorCategory.ConnectionError,
                    $"Could not reach {url.Host} for {target}: {Net.TransportFailure.Detail(ex)}", "Check the network and the endpoint (-Endpoint, RHAII_GKE_ENDPOINT).", target, ex)
                { Retryable = true };
            }
            catch (TaskCanceledException ex) when (!ct.IsCancellationRequested)
            {
                throw new GkeApiException("GkeRequestTimeout", RhaiiErrorCategory.OperationTimeout,
                    $"{method} {url.GetLeftPart(UriPartial.Path)} timed out for {target}.", "Retry; check the endpoint.", target, ex) { Retryable = true };
            }

            using (response)
            {
                var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                    return string.IsNullOrWhiteSpace(text) ? new JsonObject() : JsonNode.Parse(text) as JsonObject ?? new JsonObject();
                if (response.StatusCode == HttpStatusCode.NotFound && nullOnNotFound) return null;

                var error = GkeErrors.FromHttp(response.StatusCode, text, target, _tokens.Description);
                if (error.ErrorId == "GkeClusterBusy" && DateTime.UtcNow - started < _busyTimeout)
                {
                    var wait = Backoff(Math.Min(attempt, 6));
                    _log.Verbose($"{target}: another operation holds the cluster; retrying in {wait.TotalSeconds:0.#} s.");
                    _log.Progress("Waiting for the cluster", $"another operation is running on it ({target})", -1);
                    await Task.Delay(wait, ct).ConfigureAwait(false);
                    continue;
                }
                if (error.ErrorId == "GkeClusterBusy")
                    throw new GkeApiException(error.ErrorId, error.Category,
                        $"{error.Message} Still busy after {_busyTimeout.TotalMinutes:0.#} min.", error.RecommendedAction, target)
                    { HttpStatus = error.HttpStatus, GoogleStatus = error.GoogleStatus, Retryable = true };
                var transient = error.ErrorId is "GkeRateLimited" or "GkeServiceUnavailable";
                if (transient && attempt < 4 && (!mutating || error.ErrorId == "GkeRateLimited"))
                {
                    await Task.Delay(Backoff(attempt), ct).ConfigureAwait(false);
                    continue;
                }
                throw error;
            }
        }
    }

    private TimeSpan Backoff(int attempt) => TimeSpan.FromMilliseconds(_retryBase.TotalMilliseconds * Math.Pow(2, attempt - 1));

    public void Dispose() => _http.Dispose();
}
