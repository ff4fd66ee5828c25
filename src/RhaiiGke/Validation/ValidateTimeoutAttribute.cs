using System.Management.Automation;

namespace RhaiiGke.Validation;

/// <summary>
/// A timeout parameter must be longer than zero: <c>-Timeout 0</c> or <c>-Timeout '-00:00:05'</c> is
/// refused when the command binds, before anything is created, instead of failing with "timed out after
/// -00:00:05" after a gateway was made. With <see cref="AllowZero"/> (delays, not timeouts) zero passes
/// and only negative values are refused.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class ValidateTimeoutAttribute : ValidateArgumentsAttribute
{
    /// <summary>Accept zero (for delays); negative values are still refused.</summary>
    public bool AllowZero { get; set; }

    protected override void Validate(object arguments, EngineIntrinsics engineIntrinsics)
    {
        var value = arguments is PSObject pso ? pso.BaseObject : arguments;
        if (value is not TimeSpan t) return; // null for an optional TimeSpan?: nothing to check
        if (t < TimeSpan.Zero || (t == TimeSpan.Zero && !AllowZero))
            throw new ValidationMetadataException(
                $"The value {t} is not valid: it must be {(AllowZero ? "zero or longer" : "longer than zero")}. " +
                "Pass a positive time span such as 00:10:00 (10 minutes) or 00:00:30.");
    }
}
