namespace RhaiiGke;

/// <summary>
/// Mirrors System.Management.Automation.ErrorCategory by name so that Models and Engine stay free of
/// PowerShell references; the cmdlet layer maps it one to one.
/// </summary>
public enum RhaiiErrorCategory
{
    NotSpecified,
    OpenError,
    CloseError,
    DeviceError,
    DeadlockDetected,
    InvalidArgument,
    InvalidData,
    InvalidOperation,
    InvalidResult,
    InvalidType,
    MetadataError,
    NotImplemented,
    NotInstalled,
    ObjectNotFound,
    OperationStopped,
    OperationTimeout,
    SyntaxError,
    ParserError,
    PermissionDenied,
    ResourceBusy,
    ResourceExists,
    ResourceUnavailable,
    ReadError,
    WriteError,
    FromStdErr,
    SecurityError,
    ProtocolError,
    ConnectionError,
    AuthenticationError,
    LimitsExceeded,
    QuotaExceeded,
    NotEnabled,
}

/// <summary>
/// An error with a stable identifier, a category and, where one exists, the fix. Every failure that
/// reaches a user goes through this type so that scripts can switch on <see cref="ErrorId"/>.
/// </summary>
public class RhaiiException : Exception
{
    public RhaiiException(string errorId, RhaiiErrorCategory category, string message, string? recommendedAction = null, object? target = null, Exception? inner = null)
        : base(message, inner)
    {
        ErrorId = errorId;
        Category = category;
        RecommendedAction = recommendedAction;
        Target = target;
    }

    /// <summary>Stable identifier, e.g. <c>UnsupportedModelUriScheme</c>.</summary>
    public string ErrorId { get; }

    public RhaiiErrorCategory Category { get; }

    /// <summary>What the user can do about it, when there is something.</summary>
    public string? RecommendedAction { get; }

    public object? Target { get; }
}
