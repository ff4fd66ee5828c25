using System.Security;
using System.Text;
using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Engine.Kube.Platform;
using RhaiiGke.Engine.Manifests;
using RhaiiGke.Engine.Serving;
using RhaiiGke.Sandbox.KubeApi;
using RhaiiGke.Tests.Kube;
using Xunit;

namespace RhaiiGke.Tests.Serving;

/// <summary>Issue 10 #12: two Deploys of one service started at the same instant never end as a silent mix of both requests.</summary>
public sealed class ConcurrentDeployTests
{
    private static SecureString Secure(string s)
    {
        var ss = new SecureString();
        foreach (var c in s) ss.AppendChar(c);
        return ss;
    }

    private static LlmDeployRequest Request(string name, int replicas, string token)
    {
        var spec = SpecFactory.Create(PatternDefaults.For(DeploymentPattern.Baseline));
        spec.Name = name;
        spec.Namespace = "race";
        spec.Replicas = replicas;
        return new LlmDeployRequest
        {
            Spec = spec, HuggingFaceToken = Secure(token), TokenFromEnvironment = false,
            PullSecretConfig = Secure("""{"auths":{"registry.redhat.io":{"auth":"dTpw"}}}"""),
        };
    }

    private sealed record Outcome(int Replicas, string Token, Exception? Error, DateTime Start, DateTime End);

    [Fact]
    public async Task TwoSimultaneousDeploysOfOneServiceSerializeOrOneFailsWithAConflictNeverAMix()
    {
        var options = KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(10));
        using var sim = new KubeApiSimulator(options);
        sim.Start();
        var conn = Fast.Connect(sim);
        var platform = await new PlatformInstaller(conn).InstallAsync(new RhaiiInstallOptions { Apply = Fast.Options(timeout: TimeSpan.FromMinutes(2)) }, CancellationToken.None);
        Assert.True(platform.Ready, platform.ToString());
        // every request takes a little while, as over a real network, so the two applies overlap
        sim.Options.Faults.SlowResponseRate = 1;
        sim.Options.Faults.SlowResponseDelay = TimeSpan.FromMilliseconds(15);

        for (var round = 0; round < 3; round++)
        {
            var name = $"qwen{round}";
            var requests = new[] { (Replicas: 1, Token: $"hf_AAAA_{round}_token"), (Replicas: 2, Token: $"hf_BBBB_{round}_token") };
            using var barrier = new Barrier(2);
            var tasks = requests.Select(r => Task.Run(async () =>
            {
                barrier.SignalAndWait();
                var start = DateTime.UtcNow;
                try
                {
                    await new LlmServiceManager(conn).DeployAsync(Request(name, r.Replicas, r.Token), Fast.Options(timeout: TimeSpan.FromMinutes(2)), null, CancellationToken.None);
                    return new Outcome(r.Replicas, r.Token, null, start, DateTime.UtcNow);
                }
                catch (Exception e) { return new Outcome(r.Replicas, r.Token, e, start, DateTime.UtcNow); }
            })).ToArray();
            var outcomes = await Task.WhenAll(tasks);

            var failed = outcomes.Where(o => o.Error is not null).ToList();
            foreach (var f in failed)
            {
                var rx = Assert.IsType<RhaiiException>(f.Error);
                Assert.Equal("LlmInferenceServiceDeployInProgress", rx.ErrorId);
                Assert.Equal(RhaiiErrorCategory.ResourceBusy, rx.Category);
                Assert.Contains($"race/{name}", rx.Message);
                Assert.DoesNotContain(f.Token, rx.Message + rx.RecommendedAction);
            }
            Assert.True(failed.Count < 2, "at most one deploy may be refused");
            var (a, b) = (outcomes[0], outcomes[1]);
            var overlapped = a.Start < b.End && b.Start < a.End;
            if (failed.Count == 0)
                Assert.False(overlapped, $"round {round}: both deploys reported success although they ran at the same time");

            // what is live is exactly one request: the one that succeeded (the later one when they ran one after the other)
            var winner = failed.Count == 1 ? outcomes.Single(o => o.Error is null) : outcomes.OrderBy(o => o.End).Last();
            var svc = sim.GetObject("serving.kserve.io/v1alpha1", "LLMInferenceService", "race", name)!;
            Assert.Equal(winner.Replicas.ToString(System.Globalization.CultureInfo.InvariantCulture), svc["spec"]!["replicas"]!.ToString());
            var tokenSecret = sim.ListObjects("v1", "Secret", "race").Single(s =>
                s["metadata"]!["labels"]?["rhaiigke.io/service"]?.GetValue<string>() == name && s["data"]?["HF_TOKEN"] is not null);
            Assert.Equal(winner.Token, Encoding.UTF8.GetString(Convert.FromBase64String(tokenSecret["data"]!["HF_TOKEN"]!.GetValue<string>())));
            // the lease is released
            Assert.Null(sim.GetObject("coordination.k8s.io/v1", "Lease", "race", DeployLease.NameFor(name)));
        }
    }

    [Fact]
    public async Task AReRunWithNothingToChangeTakesNoLeaseAndSendsNoMutatingRequest()
    {
        using var sim = new KubeApiSimulator(KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(10)));
        sim.Start();
        var conn = Fast.Connect(sim);
        await new PlatformInstaller(conn).InstallAsync(new RhaiiInstallOptions { Apply = Fast.Options(timeout: TimeSpan.FromMinutes(2)) }, CancellationToken.None);
        await new LlmServiceManager(conn).DeployAsync(Request("calm", 1, "hf_CALM_token"), Fast.Options(timeout: TimeSpan.FromMinutes(2)), null, CancellationToken.None);
        var before = sim.Stats.MutatingRequests;
        var again = await new LlmServiceManager(conn).DeployAsync(Request("calm", 1, "hf_CALM_token"), Fast.Options(timeout: TimeSpan.FromMinutes(2)), null, CancellationToken.None);
        Assert.Equal(0, Assert.Single(again).MutatingRequests);
        Assert.Equal(before, sim.Stats.MutatingRequests);
    }

    [Fact]
    public async Task AnExpiredLeaseOfADeployThatDiedIsTakenOverAndALiveOneRefuses()
    {
        using var sim = new KubeApiSimulator(KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(10)));
        sim.Start();
        var conn = Fast.Connect(sim);
        await new PlatformInstaller(conn).InstallAsync(new RhaiiInstallOptions { Apply = Fast.Options(timeout: TimeSpan.FromMinutes(2)) }, CancellationToken.None);
        sim.Seed("apiVersion: v1\nkind: Namespace\nmetadata: {name: race}\n");
        string LeaseYaml(DateTime renewed) => $$"""
            apiVersion: coordination.k8s.io/v1
            kind: Lease
            metadata: {name: {{DeployLease.NameFor("held")}}, namespace: race}
            spec: {holderIdentity: other-host/1234/abc, leaseDurationSeconds: 60, renewTime: "{{renewed:yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'}}"}
            """;
        sim.Seed(LeaseYaml(DateTime.UtcNow));
        var refused = await Assert.ThrowsAsync<RhaiiException>(() => new LlmServiceManager(conn).DeployAsync(Request("held", 1, "hf_X_token"), Fast.Options(), null, CancellationToken.None));
        Assert.Equal("LlmInferenceServiceDeployInProgress", refused.ErrorId);
        Assert.Contains("other-host/1234/abc", refused.Message);
        Assert.Null(sim.GetObject("serving.kserve.io/v1alpha1", "LLMInferenceService", "race", "held"));

        sim.Seed(LeaseYaml(DateTime.UtcNow.AddMinutes(-5)));
        var deployed = await new LlmServiceManager(conn).DeployAsync(Request("held", 1, "hf_X_token"), Fast.Options(timeout: TimeSpan.FromMinutes(2)), null, CancellationToken.None);
        Assert.Single(deployed);
        Assert.NotNull(sim.GetObject("serving.kserve.io/v1alpha1", "LLMInferenceService", "race", "held"));
        Assert.Null(sim.GetObject("coordination.k8s.io/v1", "Lease", "race", DeployLease.NameFor("held")));
    }
}
