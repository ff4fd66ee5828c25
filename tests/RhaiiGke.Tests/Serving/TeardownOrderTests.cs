using System.Management.Automation;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.Serving;

/// <summary>
/// Issue 10 #11: Uninstall-RhaiiOperators refuses while LLMInferenceServices exist (or removes them first with -Force),
/// and Remove-LlmInferenceService removes the labelled leftovers once KServe's CRD is gone.
/// </summary>
public class TeardownOrderTests : IDisposable
{
    private readonly PowerShellHost _ps = new();
    private readonly string _sandbox = "teardown-" + Guid.NewGuid().ToString("N")[..6];

    private ClusterConnection Deployed()
    {
        _ps.Run($"$sb = Start-RhaiiSandbox -Name {_sandbox} -TpuNodes 1 -ControllerDelay 00:00:00.005; $sb | Install-RhaiiOperators | Out-Null; New-InferenceGateway | Out-Null");
        _ps.Run("$cred = [pscredential]::new('svc-account', (ConvertTo-SecureString 'registry-password-xyz' -AsPlainText -Force)); $hf = ConvertTo-SecureString 'hf_teardown_token' -AsPlainText -Force");
        _ps.Run("Deploy-LlmInferenceService -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace llm -RegistryCredential $cred -HuggingFaceToken $hf | Out-Null");
        return (ClusterConnection)Assert.Single(_ps.Run("(Get-RhaiiOperatorStatus).Connection")).BaseObject;
    }

    private static async Task<List<string>> LabelledAsync(ClusterConnection c)
    {
        var client = KubeClient.For(c);
        var found = new List<string>();
        foreach (var (path, kind) in new[] { ("api/v1/namespaces/llm/serviceaccounts", "ServiceAccount"), ("apis/networking.k8s.io/v1/namespaces/llm/networkpolicies", "NetworkPolicy"), ("api/v1/namespaces/llm/secrets", "Secret") })
        {
            var list = await client.ListAsync(path, "rhaiigke.io/service=qwen", CancellationToken.None);
            found.AddRange(list["items"]!.AsArray().Select(i => kind + "/" + i!["metadata"]!["name"]!.GetValue<string>()));
        }
        return found;
    }

    [Fact]
    public async Task UninstallRefusesWhileAServiceIsDeployedAndForceRemovesItFirst()
    {
        var conn = Deployed();
        var before = await LabelledAsync(conn);
        Assert.Contains(before, o => o.StartsWith("ServiceAccount/", StringComparison.Ordinal));
        Assert.Contains(before, o => o.StartsWith("NetworkPolicy/", StringComparison.Ordinal));
        Assert.Contains(before, o => o.StartsWith("Secret/", StringComparison.Ordinal));
        var mutatingBefore = KubeClient.For(conn).MutatingRequests;

        var (_, errors) = _ps.Invoke("Uninstall-RhaiiOperators -Confirm:$false");
        var error = Assert.Single(errors);
        Assert.StartsWith("LlmInferenceServicesExist", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidOperation, error.CategoryInfo.Category);
        Assert.Contains("llm/qwen", error.Exception.Message);
        Assert.Contains("-Force", error.ErrorDetails.RecommendedAction);
        Assert.Equal(mutatingBefore, KubeClient.For(conn).MutatingRequests); // refused before anything changed
        Assert.True(((RhaiiPlatform)Assert.Single(_ps.Run("Get-RhaiiOperatorStatus")).BaseObject).Ready);
        Assert.Single(_ps.Run("Get-LlmInferenceService -Namespace llm"));

        var removed = (RhaiiPlatform)Assert.Single(_ps.Run("Uninstall-RhaiiOperators -Force -Confirm:$false")).BaseObject;
        Assert.All(removed.Components, c => Assert.Equal("NotInstalled", c.State));
        Assert.Empty(await LabelledAsync(conn));
    }

    [Fact]
    public async Task RemoveLlmInferenceServiceCleansUpLabelledLeftoversWhenKServeIsGone()
    {
        var conn = Deployed();
        Assert.NotEmpty(await LabelledAsync(conn));
        // KServe's CRD disappears under the service (an uninstall by other means): the service goes with it, Deploy's objects stay
        await KubeClient.For(conn).DeleteAsync("apis/apiextensions.k8s.io/v1/customresourcedefinitions/llminferenceservices.serving.kserve.io", "Background", false, CancellationToken.None);
        var client = KubeClient.For(conn);
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (await client.GetAsync("apis/apiextensions.k8s.io/v1/customresourcedefinitions/llminferenceservices.serving.kserve.io", CancellationToken.None) is not null && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        client.Mapper.Forget("serving.kserve.io/v1alpha1");
        Assert.NotEmpty(await LabelledAsync(conn));

        _ps.Run("Remove-LlmInferenceService -Name qwen -Namespace llm -IncludeSecrets -Confirm:$false");
        Assert.Empty(await LabelledAsync(conn));
    }

    public void Dispose()
    {
        try { _ps.Invoke($"Stop-RhaiiSandbox -Name {_sandbox}"); } catch { /* best effort */ }
        _ps.Dispose();
        GC.SuppressFinalize(this);
    }
}
