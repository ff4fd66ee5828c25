using System.Text;
using System.Text.Json;
using RhaiiGke.Engine.Inference;

namespace RhaiiGke.Engine.Serving;

/// <summary>
/// The runbooks' last verification step as checks: /health and /v1/models through the gateway path
/// /&lt;namespace&gt;/&lt;name&gt;, then one small completion. Failures are explained by what Envoy answers
/// (404 no route, 500 unresolved backend, 503 no healthy upstream or a policy timeout).
/// </summary>
public static class GatewayProbe
{
    public static async Task<IReadOnlyList<DeploymentCheck>> ProbeAsync(string serviceUrl, string? model, TimeSpan timeout, CancellationToken ct)
    {
        var checks = new List<DeploymentCheck>();
        HttpTarget target;
        try { target = new HttpTarget(serviceUrl); }
        catch (RhaiiException e)
        {
            checks.Add(Check("GatewayHealth", CheckStatus.Failed, serviceUrl, e.Message, "The service has no usable URL yet."));
            return checks;
        }
        var health = await GetAsync(target, "/health", timeout, ct).ConfigureAwait(false);
        checks.Add(health.Error is not null
            ? Check("GatewayHealth", CheckStatus.Failed, serviceUrl + "/health", health.Error, Unreachable(target))
            : health.Response!.Status == 200
                ? Check("GatewayHealth", CheckStatus.Passed, serviceUrl + "/health", $"200 in {health.Response.Ms:0} ms{(health.Response.Pod is { } p ? $" from {p}" : "")}")
                : Check("GatewayHealth", CheckStatus.Failed, serviceUrl + "/health", Describe(health.Response), FixFor(health.Response.Status)));
        if (health.Error is not null) return checks; // nothing else will get through

        var models = await GetAsync(target, "/v1/models", timeout, ct).ConfigureAwait(false);
        string? served = null;
        if (models.Response is { Status: 200 } mr)
        {
            try
            {
                using var doc = JsonDocument.Parse(mr.Body);
                served = doc.RootElement.GetProperty("data").EnumerateArray().Select(d => d.GetProperty("id").GetString()).FirstOrDefault(id => model is null || id == model)
                         ?? (model is null ? null : string.Join(", ", doc.RootElement.GetProperty("data").EnumerateArray().Select(d => d.GetProperty("id").GetString())));
                var ok = served is not null && (model is null || served == model);
                checks.Add(Check("GatewayModels", ok ? CheckStatus.Passed : CheckStatus.Failed, serviceUrl + "/v1/models",
                    ok ? $"serves {served}" : $"serves {served ?? "no model"}, not {model}",
                    $"Clients must send the served name; it comes from spec.model.name ({model}). Overridden vLLM args that drop --served-model-name make vLLM serve /mnt/models."));
                if (!ok) served = null;
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                checks.Add(Check("GatewayModels", CheckStatus.Failed, serviceUrl + "/v1/models", "200 but not an OpenAI model list", "Something other than vLLM answers this path; check the HTTPRoute's rules."));
            }
        }
        else
            checks.Add(Check("GatewayModels", CheckStatus.Failed, serviceUrl + "/v1/models", models.Error ?? Describe(models.Response!), models.Error is not null ? Unreachable(target) : FixFor(models.Response!.Status)));

        if (served is null) return checks;
        var body = JsonSerializer.Serialize(new { model = served, prompt = "Say hello.", max_tokens = 4, temperature = 0 });
        var completion = await SendAsync(target, "POST", "/v1/completions", Encoding.UTF8.GetBytes(body), timeout, ct).ConfigureAwait(false);
        var text = completion.Response is { Status: 200 } cr ? TryText(cr.Body) : null;
        checks.Add(text is not null
            ? Check("GatewayCompletion", CheckStatus.Passed, serviceUrl + "/v1/completions", $"200 in {completion.Response!.Ms:0} ms{(completion.Response.Pod is { } pod ? $" from {pod}" : "")}")
            : Check("GatewayCompletion", CheckStatus.Failed, serviceUrl + "/v1/completions", completion.Error ?? Describe(completion.Response!),
                completion.Error is not null ? "The first request after a start can wait for XLA compilation; retry with a longer -Timeout." : FixFor(completion.Response!.Status)));
        return checks;
    }

    private static string? TryText(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.GetProperty("choices")[0].GetProperty("text").GetString();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or IndexOutOfRangeException) { return null; }
    }

    private static DeploymentCheck Check(string name, CheckStatus status, string target, string detail, string? fix = null) =>
        new() { Name = name, Status = status, Target = target, Detail = detail, Fix = status == CheckStatus.Passed ? null : fix };

    private static string Describe(SimpleResponse r)
    {
        var body = r.Body.Trim();
        if (body.Length > 160) body = body[..160] + "...";
        return $"HTTP {r.Status}{(body.Length > 0 ? ": " + body : "")}";
    }

    private static string FixFor(int status) => status switch
    {
        404 => "No route matched: the HTTPRoute is missing, not accepted by the gateway, or attached to another Gateway (Get-RhaiiDiagnosis: HttpRouteMissing, HttpRouteNotAccepted).",
        500 => "The gateway cannot resolve the route's backend: usually an InferencePool group the gateway does not speak (Get-RhaiiDiagnosis: InferencePoolGroupMismatch).",
        502 or 503 or 504 => "No healthy backend: vLLM pods not Ready, or a NetworkPolicy dropping gateway traffic (Get-RhaiiDiagnosis: NoReadyEndpoints, NetworkPolicyBlocksGateway).",
        401 or 403 => "The gateway or vLLM asks for credentials: pass the API key the service expects.",
        _ => "Get-RhaiiDiagnosis names the cause.",
    };

    private static string Unreachable(HttpTarget t) =>
        $"Nothing answers at {t.HostHeader}: an internal gateway (GkeRegionalInternal) is reachable only from inside the VPC; run the check from there or through a port-forward to the gateway Service.";

    private sealed record Outcome(SimpleResponse? Response, string? Error);

    private static Task<Outcome> GetAsync(HttpTarget target, string path, TimeSpan timeout, CancellationToken ct) =>
        SendAsync(target, "GET", path, [], timeout, ct);

    private static async Task<Outcome> SendAsync(HttpTarget target, string method, string path, byte[] body, TimeSpan timeout, CancellationToken ct)
    {
        try { return new(await InferenceHttp.SendAsync(target, method, path, body, timeout, ct).ConfigureAwait(false), null); }
        catch (RawHttpException e) { return new(null, e.Message); }
    }
}
