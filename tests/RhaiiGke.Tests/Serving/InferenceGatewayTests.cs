using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.Serving;

/// <summary>New-InferenceGateway on the sandbox: programmed with an address, idempotent, -WhatIf changes nothing.</summary>
public class InferenceGatewayTests : IDisposable
{
    private readonly PowerShellHost _ps = new();

    [Fact]
    public void GatewayIsProgrammedWithAnAddressAndReRunsSendNothing()
    {
        _ps.Run("$sb = Start-RhaiiSandbox -Name gw-test -ControllerDelay 00:00:00.005; $sb | Install-RhaiiOperators | Out-Null");
        var preview = (InferenceGateway)Assert.Single(_ps.Run("New-InferenceGateway -WhatIf")).BaseObject;
        Assert.True(preview.DryRun);
        Assert.Empty(_ps.Run("Get-RhaiiDiagnosis -CheckId GatewayNotProgrammed")); // nothing was created

        var gw = (InferenceGateway)Assert.Single(_ps.Run("New-InferenceGateway -PullSecretName redhat-pull-secret")).BaseObject;
        Assert.True(gw.Programmed);
        Assert.False(string.IsNullOrEmpty(gw.Address));
        Assert.Equal("istio", gw.GatewayClassName);
        Assert.True(gw.MutatingRequests > 0);

        var again = (InferenceGateway)Assert.Single(_ps.Run("New-InferenceGateway -PullSecretName redhat-pull-secret")).BaseObject;
        Assert.Equal(0, again.MutatingRequests);
        Assert.Equal(gw.Address, again.Address);
    }

    [Fact]
    public void AGatewayClassTheClusterLacksIsRefusedBeforeAnythingIsSent()
    {
        _ps.Run("Start-RhaiiSandbox -Name gw-test -ControllerDelay 00:00:00.005 | Install-RhaiiOperators | Out-Null");
        var (_, errors) = _ps.Invoke("New-InferenceGateway -GatewayClass GkeRegionalExternal");
        var error = Assert.Single(errors);
        Assert.StartsWith("GatewayClassNotFound", error.FullyQualifiedErrorId);
        Assert.Contains("gke-l7-regional-external-managed", error.Exception.Message);
        Assert.Contains("--gateway-api=standard", error.ErrorDetails?.RecommendedAction ?? "");
        Assert.Empty(_ps.Run("Get-RhaiiDiagnosis -CheckId GatewayNotProgrammed")); // no Gateway was created
    }

    public void Dispose()
    {
        try { _ps.Invoke("Stop-RhaiiSandbox -Name gw-test"); } catch { /* best effort */ }
        _ps.Dispose();
    }
}
