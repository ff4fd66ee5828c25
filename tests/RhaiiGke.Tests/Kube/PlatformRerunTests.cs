using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Engine.Kube.Platform;
using RhaiiGke.Sandbox.KubeApi;
using Xunit;

namespace RhaiiGke.Tests.Kube;

/// <summary>Issue 10 #8, #9: re-running Install-RhaiiOperators with fewer inputs keeps what exists; missing pull-secret namespaces are created.</summary>
public sealed class PlatformRerunTests
{
    private const string Config = "{\"auths\":{\"registry.redhat.io\":{\"auth\":\"dXNlcjpzM2NyM3Q=\"}}}";

    private static KubeApiSimulator Start()
    {
        var sim = new KubeApiSimulator(KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(15)));
        sim.Start();
        return sim;
    }

    private static RhaiiInstallOptions Options(bool withCredentials, params string[] extraNamespaces)
    {
        var o = new RhaiiInstallOptions { Components = ["cert-manager", "istio"], PullSecretNamespaces = extraNamespaces, Apply = Fast.Options(timeout: TimeSpan.FromMinutes(2)) };
        if (withCredentials)
        {
            o.PullSecretConfig = new System.Security.SecureString();
            foreach (var ch in Config) o.PullSecretConfig.AppendChar(ch);
        }
        return o;
    }

    private static string[] Refs(JsonNode? list, bool plain = false) =>
        list is JsonArray a ? a.Select(x => plain ? x!.GetValue<string>() : x!["name"]!.GetValue<string>()).ToArray() : [];

    private static string PullSecretRefs(KubeApiSimulator sim) => string.Join(" | ",
        new[] { Refs(sim.GetObject("v1", "ServiceAccount", "sail-operator", "sail-operator")!["imagePullSecrets"]),
         Refs(sim.GetObject("apps/v1", "Deployment", "sail-operator", "sail-operator")!["spec"]!["template"]!["spec"]!["imagePullSecrets"]),
         Refs(sim.GetObject("sailoperator.io/v1", "Istio", null, "default")!["spec"]!["values"]!["global"]!["imagePullSecrets"], plain: true) }.Select(a => string.Join(",", a)));

    [Fact]
    public async Task AReRunWithoutCredentialsKeepsThePullSecretAndSendsNoMutatingRequest()
    {
        using var sim = Start();
        var installer = new PlatformInstaller(Fast.Connect(sim));
        var first = await installer.InstallAsync(Options(withCredentials: true), CancellationToken.None);
        Assert.True(first.Ready, first.ToString());
        Assert.Equal("rhaii-pull-secret | rhaii-pull-secret | rhaii-pull-secret", PullSecretRefs(sim));
        var rollout = sim.GetObject("apps/v1", "Deployment", "sail-operator", "sail-operator")!["metadata"]!["generation"]!.ToString();

        var again = await installer.InstallAsync(Options(withCredentials: false), CancellationToken.None);
        Assert.True(again.Ready, again.ToString());
        Assert.Equal(0, again.MutatingRequests);
        Assert.All(again.Components, c => Assert.Equal(0, c.Apply!.Configured));
        Assert.Equal("rhaii-pull-secret | rhaii-pull-secret | rhaii-pull-secret", PullSecretRefs(sim));
        Assert.Equal(rollout, sim.GetObject("apps/v1", "Deployment", "sail-operator", "sail-operator")!["metadata"]!["generation"]!.ToString());
        Assert.NotNull(sim.GetObject("v1", "Secret", "sail-operator", "rhaii-pull-secret"));
    }

    [Fact]
    public async Task RemovePullSecretDropsTheReferencesAndTheSecretsItCreated()
    {
        using var sim = Start();
        var installer = new PlatformInstaller(Fast.Connect(sim));
        await installer.InstallAsync(Options(withCredentials: true), CancellationToken.None);
        var remove = Options(withCredentials: false);
        remove.RemovePullSecret = true;
        var removed = await installer.InstallAsync(remove, CancellationToken.None);
        Assert.True(removed.Ready, removed.ToString());
        Assert.Equal(" |  | ", PullSecretRefs(sim));
        Assert.Null(sim.GetObject("v1", "Secret", "sail-operator", "rhaii-pull-secret"));
        Assert.Null(sim.GetObject("v1", "Secret", "istio-system", "rhaii-pull-secret"));
        Assert.Contains(removed.Components.SelectMany(c => c.Apply!.Objects), o => o.Kind == "Secret" && o.Action == KubeApplyAction.Deleted);

        // converged: once more changes nothing
        var again = await installer.InstallAsync(remove, CancellationToken.None);
        Assert.True(again.MutatingRequests == 0, string.Join("; ", again.Components.SelectMany(c => c.Apply!.Objects).Where(o => o.Action != KubeApplyAction.Unchanged).Select(o => $"{o.Id} {o.Action} {o.Message}")));
    }

    [Fact]
    public async Task APullSecretNamespaceThatDoesNotExistYetIsCreated()
    {
        using var sim = Start();
        Assert.Null(sim.GetObject("v1", "Namespace", null, "rhaii-inference"));
        var platform = await new PlatformInstaller(Fast.Connect(sim)).InstallAsync(Options(withCredentials: true, "rhaii-inference", "rhcl"), CancellationToken.None);
        Assert.True(platform.Ready, platform.ToString());
        foreach (var ns in new[] { "rhaii-inference", "rhcl" })
        {
            Assert.NotNull(sim.GetObject("v1", "Namespace", null, ns));
            Assert.NotNull(sim.GetObject("v1", "Secret", ns, "rhaii-pull-secret"));
            Assert.Contains(ns, platform.PullSecretNamespaces);
        }
        var nsResult = platform.Components[0].Apply!.Objects.Single(o => o.Kind == "Namespace" && o.Name == "rhaii-inference");
        Assert.Equal(ApplyEngine.PhaseNamespaces, nsResult.Phase);
        Assert.Equal(KubeApplyAction.Created, nsResult.Action);
    }

    [Fact]
    public void RemovePullSecretWithCredentialsIsRefusedBeforeAnythingIsSent()
    {
        using var sim = Start();
        using var ps = new RhaiiGke.Tests.Infrastructure.PowerShellHost();
        var (_, errors) = ps.Invoke(
            "$cred = [pscredential]::new('u', (ConvertTo-SecureString 'p' -AsPlainText -Force)); " +
            "Install-RhaiiOperators -Cluster $conn -RemovePullSecret -RegistryCredential $cred -Component istio",
            new Dictionary<string, object?> { ["conn"] = Fast.Connect(sim) });
        var error = Assert.Single(errors);
        Assert.StartsWith("PullSecretRemoveConflict", error.FullyQualifiedErrorId);
        Assert.Equal(System.Management.Automation.ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        Assert.Equal(0, sim.Stats.Requests);
    }
}
