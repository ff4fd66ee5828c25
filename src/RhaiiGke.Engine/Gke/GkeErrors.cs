using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace RhaiiGke.Engine.Gke;

/// <summary>
/// Turns Google error bodies (<c>{"error":{"code","message","status","details"}}</c>) and failed
/// operations (<c>google.rpc.Status</c>) into <see cref="GkeApiException"/> with a stable ErrorId.
/// The message text decides before the status: GKE reports regional quota shortfalls as 403
/// PERMISSION_DENIED and stockouts as RESOURCE_EXHAUSTED or as a GCE_STOCKOUT/ZONE_RESOURCE_POOL_EXHAUSTED code
/// inside an operation error.
/// </summary>
public static class GkeErrors
{
    private static readonly Regex Stockout = new(@"ZONE_RESOURCE_POOL_EXHAUSTED|GCE_STOCKOUT|STOCKOUT|does not have enough resources available|resource pool exhausted",
        RegexOptions.IgnoreCase | RegexOptions.Compiled);
    private static readonly Regex Quota = new(@"quota", RegexOptions.IgnoreCase | RegexOptions.Compiled);
    private static readonly Regex RateLimit = new(@"per minute|per second|per user|rate limit|rateLimitExceeded", RegexOptions.IgnoreCase | RegexOptions.Compiled);
    private static readonly Regex Busy = new(@"incompatible operation|operation[^.]*is (still )?(in progress|running)|another operation", RegexOptions.IgnoreCase | RegexOptions.Compiled);
    private static readonly Regex ServiceDisabled = new(@"SERVICE_DISABLED|has not been used in project|is disabled", RegexOptions.IgnoreCase | RegexOptions.Compiled);
    private static readonly Regex QuotaMetric = new(@"(?:resource|metric|Quota)\s+[""']?([A-Z][A-Z0-9_]+)[""']?", RegexOptions.Compiled);

    /// <summary>google.rpc.Code numbers to canonical names.</summary>
    public static string CanonicalName(int code) => code switch
    {
        1 => "CANCELLED", 2 => "UNKNOWN", 3 => "INVALID_ARGUMENT", 4 => "DEADLINE_EXCEEDED", 5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS", 7 => "PERMISSION_DENIED", 8 => "RESOURCE_EXHAUSTED", 9 => "FAILED_PRECONDITION",
        10 => "ABORTED", 11 => "OUT_OF_RANGE", 12 => "UNIMPLEMENTED", 13 => "INTERNAL", 14 => "UNAVAILABLE",
        15 => "DATA_LOSS", 16 => "UNAUTHENTICATED", _ => "UNKNOWN",
    };

    /// <summary>Classifies an HTTP error response.</summary>
    public static GkeApiException FromHttp(HttpStatusCode status, string? body, string target, string? principal = null)
    {
        string message = $"HTTP {(int)status} {status}";
        string? googleStatus = null, reason = null;
        try
        {
            if (!string.IsNullOrWhiteSpace(body) && JsonNode.Parse(body) is JsonObject root && root["error"] is JsonObject err)
            {
                message = err["message"]?.GetValue<string>() ?? message;
                googleStatus = err["status"]?.GetValue<string>();
                reason = FindReason(err["details"]) ?? FindReason(err["errors"]);
            }
        }
        catch (System.Text.Json.JsonException) { message = $"{message}: {Trim(body)}"; }
        catch (InvalidOperationException) { }
        return Classify((int)status, googleStatus ?? StatusFromHttp(status), reason, message, target, principal, operation: null);
    }

    /// <summary>Classifies the error of an operation that finished in error.</summary>
    public static GkeApiException FromOperation(GkeOperation op, string target) =>
        Classify(0, CanonicalName(op.ErrorCode ?? 2), null, op.ErrorMessage ?? "The operation failed without a message.", target, null, op.Name);

    private static GkeApiException Classify(int http, string googleStatus, string? reason, string message, string target, string? principal, string? operation)
    {
        var text = message + " " + reason;
        var op = operation is null ? "" : $" (operation {operation})";
        if (Stockout.IsMatch(text))
            return new GkeApiException("GkeStockout", RhaiiErrorCategory.ResourceUnavailable,
                $"Stockout: the zone has no capacity for {target} right now{op}. GKE said: {message}",
                "Try another zone that offers the accelerator, a reservation, spot capacity, or try again later.", target)
            { HttpStatus = http, GoogleStatus = googleStatus, Reason = reason ?? StockoutCode(text), Retryable = true, OperationName = operation };
        if (Quota.IsMatch(text) && googleStatus is "RESOURCE_EXHAUSTED" or "PERMISSION_DENIED" or "FAILED_PRECONDITION" or "INVALID_ARGUMENT" or "UNKNOWN" or "FORBIDDEN"
            && !RateLimit.IsMatch(text))
        {
            var metric = QuotaMetric.Match(message) is { Success: true } m ? m.Groups[1].Value : null;
            return new GkeApiException("GkeQuotaExceeded", RhaiiErrorCategory.QuotaExceeded,
                $"Quota exceeded for {target}{op}. GKE said: {message}",
                $"Request more quota{(metric is null ? "" : " for " + metric)} in the console (IAM & Admin > Quotas), or ask for fewer nodes (e.g. autoscaling from 0).", target)
            { HttpStatus = http, GoogleStatus = googleStatus, Reason = reason ?? metric, OperationName = operation };
        }
        if (googleStatus == "FAILED_PRECONDITION" && Busy.IsMatch(message) || http == 409 && Busy.IsMatch(message))
            return new GkeApiException("GkeClusterBusy", RhaiiErrorCategory.ResourceBusy,
                $"Another operation holds the cluster of {target}: {message}",
                "Wait for the running operation to finish (Get-TpuCluster shows it) and try again.", target)
            { HttpStatus = http, GoogleStatus = googleStatus, Reason = reason, Retryable = true, OperationName = operation };
        if (googleStatus == "PERMISSION_DENIED" && (reason == "SERVICE_DISABLED" || ServiceDisabled.IsMatch(message)))
            return new GkeApiException("GkeApiDisabled", RhaiiErrorCategory.NotEnabled,
                $"A required Google API is not enabled for {target}: {message}",
                "Enable it: gcloud services enable container.googleapis.com compute.googleapis.com --project <project>.", target)
            { HttpStatus = http, GoogleStatus = googleStatus, Reason = reason ?? "SERVICE_DISABLED", OperationName = operation };
        return googleStatus switch
        {
            "PERMISSION_DENIED" => new GkeApiException("GkePermissionDenied", RhaiiErrorCategory.PermissionDenied,
                $"Permission denied on {target}{op}: {message}",
                $"Grant {(principal is null ? "the caller" : principal)} roles/container.admin (clusters and node pools) and roles/compute.viewer (zones, quotas) on the project.", target)
            { HttpStatus = http, GoogleStatus = googleStatus, Reason = reason, OperationName = operation },
            "UNAUTHENTICATED" => new GkeApiException("GkeAuthenticationFailed", RhaiiErrorCategory.AuthenticationError,
                $"Google rejected the credentials for {target}: {message}",
                "The token may have expired or be for another audience: get a fresh one (gcloud auth print-access-token) or use ADC or a key file.", target)
            { HttpStatus = http, GoogleStatus = googleStatus, Reason = reason, OperationName = operation },
            "NOT_FOUND" => new GkeApiException("GkeNotFound", RhaiiErrorCategory.ObjectNotFound,
                $"Not found: {target}{op}. {message}", "Check the project, location and name (Get-TpuCluster lists what exists).", target)
            { HttpStatus = http, GoogleStatus = googleStatus, Reason = reason, OperationName = operation },
            "ALREADY_EXISTS" => new GkeApiException("GkeAlreadyExists", RhaiiErrorCategory.ResourceExists,
                $"Already exists: {target}{op}. {message}", "New-TpuCluster is idempotent: run it again to adopt the existing resource.", target)
            { HttpStatus = http, GoogleStatus = googleStatus, Reason = reason, OperationName = operation },
            "INVALID_ARGUMENT" or "OUT_OF_RANGE" => new GkeApiException("GkeInvalidArgument", RhaiiErrorCategory.InvalidArgument,
                $"GKE rejected the request for {target}{op}: {message}", "Fix the parameter GKE names; Get-TpuTopology lists valid machine types and topologies.", target)
            { HttpStatus = http, GoogleStatus = googleStatus, Reason = reason, OperationName = operation },
            "FAILED_PRECONDITION" => new GkeApiException("GkeFailedPrecondition", RhaiiErrorCategory.InvalidOperation,
                $"GKE cannot do this now for {target}{op}: {message}", "Check the cluster state with Get-TpuCluster.", target)
            { HttpStatus = http, GoogleStatus = googleStatus, Reason = reason, OperationName = operation },
            "RESOURCE_EXHAUSTED" => new GkeApiException("GkeRateLimited", RhaiiErrorCategory.LimitsExceeded,
                $"Rate limited on {target}{op}: {message}", "Wait a minute and retry.", target)
            { HttpStatus = http, GoogleStatus = googleStatus, Reason = reason, Retryable = true, OperationName = operation },
            "UNAVAILABLE" or "INTERNAL" or "DEADLINE_EXCEEDED" or "ABORTED" => new GkeApiException("GkeServiceUnavailable", RhaiiErrorCategory.ConnectionError,
                $"GKE is unavailable for {target}{op}: {message}", "Retry in a few minutes.", target)
            { HttpStatus = http, GoogleStatus = googleStatus, Reason = reason, Retryable = true, OperationName = operation },
            _ => new GkeApiException(operation is null ? "GkeRequestFailed" : "GkeOperationFailed", RhaiiErrorCategory.InvalidResult,
                $"The request for {target} failed{op}: {message}", null, target)
            { HttpStatus = http, GoogleStatus = googleStatus, Reason = reason, OperationName = operation },
        };
    }

    private static string? StockoutCode(string text) =>
        text.Contains("ZONE_RESOURCE_POOL_EXHAUSTED", StringComparison.OrdinalIgnoreCase) ? "ZONE_RESOURCE_POOL_EXHAUSTED"
        : text.Contains("GCE_STOCKOUT", StringComparison.OrdinalIgnoreCase) ? "GCE_STOCKOUT" : "STOCKOUT";

    private static string StatusFromHttp(HttpStatusCode s) => (int)s switch
    {
        400 => "INVALID_ARGUMENT", 401 => "UNAUTHENTICATED", 403 => "PERMISSION_DENIED", 404 => "NOT_FOUND",
        409 => "ALREADY_EXISTS", 429 => "RESOURCE_EXHAUSTED", 500 => "INTERNAL", 503 => "UNAVAILABLE", 504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    };

    private static string? FindReason(JsonNode? details)
    {
        if (details is not JsonArray arr) return null;
        foreach (var d in arr)
            if (d is JsonObject o && o["reason"] is JsonValue r && r.TryGetValue<string>(out var s) && !string.IsNullOrEmpty(s)) return s;
        return null;
    }

    private static string Trim(string? s) => s is null ? "" : s.Length > 300 ? s[..300] + "..." : s;
}
