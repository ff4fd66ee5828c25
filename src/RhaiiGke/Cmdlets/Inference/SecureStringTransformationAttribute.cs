using System.Management.Automation;
using System.Security;

namespace RhaiiGke.Cmdlets.Inference;

/// <summary>
/// Lets a SecureString parameter also take a plain string (for example <c>-ApiKey $env:VLLM_API_KEY</c>):
/// the string is copied into a read-only SecureString and the parameter never holds it as text.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class SecureStringTransformationAttribute : ArgumentTransformationAttribute
{
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
    {
        var value = inputData is PSObject p ? p.BaseObject : inputData;
        if (value is not string s) return value;
        var secure = new SecureString();
        foreach (var c in s) secure.AppendChar(c);
        secure.MakeReadOnly();
        return secure;
    }
}
