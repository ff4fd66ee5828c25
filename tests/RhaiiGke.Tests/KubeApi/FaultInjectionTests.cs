using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Sandbox.KubeApi;
using RhaiiGke.Tests.Infrastructure;
using RhaiiGke.Tests.Kube;
using Xunit;
using Xunit.Abstractions;

namespace RhaiiGke.Tests.KubeApi;

/// <summary>
/// The sandbox's fault injection is seedable from Start-RhaiiSandbox, its dropped and expired watches really happen
/// (the module's waits watch what they wait for), the counts are reported on the sandbox object, and install,
/// deploy (-Wait) and teardown converge under a 30% fault rate.
/// </summary>
public sealed class FaultInjectionTests(ITestOutputHelper output)
{
    [Fact]
    public void InstallDeployAndTeardownConvergeAtASeeded30PercentFaultRateWithDroppedWatches()
    {
        using var ps = new PowerShellHost();
        var name = "faults-" + Guid.NewGuid().ToString("N")[..6];
        try
        {
            var sb = (RhaiiSandbox)Assert.Single(ps.Run($"$sb = Start-RhaiiSandbox -Name {name} -TpuNodes 1 -ControllerDelay 00:00:00.03 -FaultRate 0.3 -FaultSeed 30; $sb")).BaseObject;
            Assert.Equal(30, sb.FaultSeed);
            Assert.NotNull(sb.Faults);
            var platform = (RhaiiPlatform)Assert.Single(ps.Run("$sb | Install-RhaiiOperators -Timeout 00:10:00")).BaseObject;
            Assert.True(platform.Ready, string.Join("; ", platform.Components.Select(c => $"{c.Name}: {c.State} {c.Message}")));
            ps.Run("New-InferenceGateway | Out-Null; $cred = [pscredential]::new('svc-account', (ConvertTo-SecureString 'registry-password-xyz' -AsPlainText -Force))");
            var svc = (LlmInferenceService)Assert.Single(ps.Run("Deploy-LlmInferenceService -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace llm -RegistryCredential $cred -Wait -Timeout 00:10:00")).BaseObject;
            Assert.True(svc.Ready);
            Assert.Equal(1, svc.ReadyReplicas);
            var removed = (KubeApplyResult)Assert.Single(ps.Run("Remove-LlmInferenceService -Namespace llm -Name qwen -IncludeSecrets -Confirm:$false -PassThru")).BaseObject;
            Assert.Contains(removed.Objects, o => o.Kind == "LLMInferenceService" && o.Action == KubeApplyAction.Deleted);
            Assert.Empty(ps.Run("Get-LlmInferenceService -Namespace llm"));
            var gone = (RhaiiPlatform)Assert.Single(ps.Run("Uninstall-RhaiiOperators -Confirm:$false -Timeout 00:10:00")).BaseObject;
            Assert.All(gone.Components, c => Assert.Equal("NotInstalled", c.State.ToString()));

            var f = sb.Faults!;
            output.WriteLine($"30% faults, seed 30: {f}");
            Assert.True(f.DroppedWatches > 0, f.ToString());
            Assert.True(f.ServerErrors > 0 && f.TooManyRequests > 0 && f.Conflicts > 0, f.ToString());
        }
        finally { ps.Invoke($"Stop-RhaiiSandbox -Name {name}"); }
    }

    [Fact]
    public void TheSameSeedGivesTheSameFaultSequence()
    {
        static string[] Run(int seed)
        {
            var o = KubeApiSimulatorOptions.Fast();
            o.RunControllers = false;
            o.Faults = KubeFaultOptions.Mixed(0.3, seed);
            using var sim = new KubeApiSimulator(o);
            sim.Start();
            using var client = new KubeClient(ClusterConnector.ToConfig(Fast.Connect(sim))) { ReadRetries = 0 };
            var outcomes = new List<string>();
            for (var i = 0; i < 40; i++)
            {
                try { client.SendAsync(HttpMethod.Get, "/api/v1/namespaces/default/configmaps", null, null, CancellationToken.None).GetAwaiter().GetResult(); outcomes.Add("ok"); }
                catch (KubeApiException e) { outcomes.Add(e.Code.ToString(System.Globalization.CultureInfo.InvariantCulture)); }
            }
            return [.. outcomes];
        }
        var a = Run(7);
        Assert.Equal(a, Run(7));
        Assert.Contains(a, x => x != "ok");
        Assert.NotEqual(a, Run(8));
    }

    [Fact]
    public async Task ADroppedWatchIsResumedAndAnExpiredResumeIsReadAgain()
    {
        var o = KubeApiSimulatorOptions.Fast();
        o.RunControllers = false;
        o.Faults = new KubeFaultOptions { WatchDropRate = 1, WatchDropAfter = TimeSpan.FromMilliseconds(20), Seed = 1 };
        using var sim = new KubeApiSimulator(o);
        sim.Start();
        using var client = new KubeClient(ClusterConnector.ToConfig(Fast.Connect(sim)));
        var cm = await client.SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps", new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "ConfigMap", ["metadata"] = new JsonObject { ["name"] = "w" }, ["data"] = new JsonObject { ["a"] = "1" },
        }, "application/json", CancellationToken.None);
        var tags = new List<string>();
        // nothing changes for a while: every stream is cut mid-way and resumed, until the deadline
        var outcome = await KubeWatch.WaitForChangeAsync(client, "/api/v1/namespaces/default/configmaps", "w", cm["metadata"]!["resourceVersion"]!.GetValue<string>(),
            TimeSpan.FromMilliseconds(400), t => { lock (tags) tags.Add(t); }, CancellationToken.None);
        Assert.Equal(KubeWatch.Outcome.TimedOut, outcome);
        Assert.Contains("WatchDropped", tags);
        Assert.True(sim.Stats.WatchesDropped > 0);

        // a resume from a compacted version: 410 Expired, and the caller is told to read again
        sim.SetFaults(new KubeFaultOptions { WatchExpireRate = 1, Seed = 1 });
        tags.Clear();
        outcome = await KubeWatch.WaitForChangeAsync(client, "/api/v1/namespaces/default/configmaps", "w", cm["metadata"]!["resourceVersion"]!.GetValue<string>(),
            TimeSpan.FromSeconds(30), t => { lock (tags) tags.Add(t); }, CancellationToken.None);
        Assert.Equal(KubeWatch.Outcome.Expired, outcome);
        Assert.Equal(["WatchExpired"], tags);
        Assert.Equal(1, sim.Stats.WatchesExpired);
    }
}
