using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.Inference;

public sealed class SimulatorCmdletTests : IDisposable
{
    private readonly PowerShellHost _ps = new();

    [Fact]
    public void StartReturnsATypedSimulatorThatStopStopsByPipeline()
    {
        var sim = (InferenceSimulator)_ps.Run("Start-InferenceSimulator -Replicas 3 -Ttft 1 -Name t1")[0].BaseObject;
        Assert.True(sim.Running);
        Assert.Equal(3, sim.ReplicaUrls.Length);
        Assert.StartsWith("http://127.0.0.1:", sim.BaseUrl);
        Assert.Equal(["t1-0", "t1-1", "t1-2"], sim.PodNames);
        var stopped = _ps.Run($"[pscustomobject]@{{ Id = [guid]'{sim.Id}' }} | Stop-InferenceSimulator -PassThru");
        Assert.False(((InferenceSimulator)stopped[0].BaseObject).Running);
    }

    [Fact]
    public void WhatIfStartsNothingAndUnknownIdIsAStableError()
    {
        Assert.Empty(_ps.Run("Start-InferenceSimulator -WhatIf"));
        var (_, errors) = _ps.Invoke("Stop-InferenceSimulator -Id ([guid]::NewGuid())");
        Assert.StartsWith("InferenceSimulatorNotFound,", Assert.Single(errors).FullyQualifiedErrorId);
    }

    public void Dispose()
    {
        // Not -All: other test classes run simulators in this process at the same time.
        _ps.Dispose();
    }
}
