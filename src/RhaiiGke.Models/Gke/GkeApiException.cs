namespace RhaiiGke;

/// <summary>
/// A Google Cloud API failure, classified: <see cref="RhaiiException.ErrorId"/> is one of GkeStockout,
/// GkeQuotaExceeded, GkePermissionDenied, GkeAuthenticationFailed, GkeNotFound, GkeInvalidArgument,
/// GkeAlreadyExists, GkeClusterBusy, GkeApiDisabled, GkeRateLimited, GkeServiceUnavailable, GkeOperationFailed, and for
/// transport failures GkeConnectionFailed, GkeNameNotResolved, GkeTlsFailed, GkeRequestTimeout.
/// </summary>
public class GkeApiException : RhaiiException
{
    public GkeApiException(string errorId, RhaiiErrorCategory category, string message, string? recommendedAction = null,
        object? target = null, Exception? inner = null)
        : base(errorId, category, message, recommendedAction, target, inner)
    {
    }

    /// <summary>HTTP status of the failed call (0 for an operation that ended in error).</summary>
    public int HttpStatus { get; init; }

    /// <summary>Google's canonical status, e.g. RESOURCE_EXHAUSTED, PERMISSION_DENIED.</summary>
    public string? GoogleStatus { get; init; }

    /// <summary>The reason from the error details, e.g. SERVICE_DISABLED, or the GCE code such as ZONE_RESOURCE_POOL_EXHAUSTED.</summary>
    public string? Reason { get; init; }

    /// <summary>For a stockout: other zones that offer the same accelerator.</summary>
    public IReadOnlyList<string> AlternativeZones { get; init; } = [];

    /// <summary>True when trying again later can succeed (stockout, busy cluster, rate limit, service unavailable).</summary>
    public bool Retryable { get; init; }

    /// <summary>The operation that ended in the error, when there was one.</summary>
    public string? OperationName { get; init; }
}
