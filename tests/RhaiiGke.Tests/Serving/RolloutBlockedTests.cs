using System.Management.Automation;
using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.Serving;

/// <summary>
/// An update of a running service on a full one-node TPU pool, through the cmdlets: the sandbox rolls the Deployment out
/// as kube-controller-manager does (RollingUpdate, one surge pod, none unavailable), so the new pod waits for the chips the
/// old one holds. Deploy/Set -Wait and Get-RhaiiDiagnosis say so (RolloutBlockedByAccelerator) instead of waiting out the
/// timeout, the old revision keeps serving, and -Recreate replaces it.
/// </summary>
public sealed class RolloutBlockedTests : IDisposable
{
    private readonly PowerShellHost _ps = new();
    private readonly string _sandbox = "rollout-" + Guid.NewGuid().ToString("N")[..6];

    private static LlmInferenceService Svc(PSObject o) => (LlmInferenceService)o.BaseObject;

    private const string Deploy = "Deploy-LlmInferenceService -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace llm -RegistryCredential $cred -HuggingFaceToken $hf -WarningAction SilentlyContinue";

    [Fact]
    public void AnUpdateOnAFullOneNodeTpuPoolIsReportedBlockedKeepsServingAndRecreateFinishesIt()
    {
        _ps.Run($"$sb = Start-RhaiiSandbox -Name {_sandbox} -TpuNodes 1 -ControllerDelay 00:00:00.005; $sb | Install-RhaiiOperators | Out-Null; New-InferenceGateway | Out-Null");
        _ps.Run("$cred = [pscredential]::new('svc-account', (ConvertTo-SecureString 'registry-password-xyz' -AsPlainText -Force)); $hf = ConvertTo-SecureString 'hf_TESTTOKEN_rollout' -AsPlainText -Force");
        var first = Svc(Assert.Single(_ps.Run($"{Deploy} -Wait -Timeout 00:05:00")));
        Assert.True(first.Ready);
        var oldPod = Assert.Single(first.Pods, p => p.Role == "workload").Name;

        // a changed image re-deployed: the new pod is Pending for the chips the old pod holds; the wait says so
        var (_, errors) = _ps.Invoke($"{Deploy} -Image quay.io/example/vllm-tpu:custom -Wait -Timeout 00:05:00");
        var error = Assert.Single(errors);
        Assert.StartsWith("RolloutBlockedByAccelerator", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ResourceUnavailable, error.CategoryInfo.Category);
        Assert.Contains("Insufficient google.com/tpu", error.Exception.Message);
        Assert.Contains(oldPod, error.Exception.Message);
        Assert.Contains("keeps serving", error.Exception.Message);
        var fix = error.ErrorDetails?.RecommendedAction ?? "";
        Assert.Contains("-Stop", fix);
        Assert.Contains("-Recreate", fix);
        Assert.Contains("Set-TpuNodePool", fix);

        // the old revision still serves, and the diagnosis names the blocked update rather than missing capacity
        var live = Svc(Assert.Single(_ps.Run("Get-LlmInferenceService -Namespace llm -Name qwen")));
        Assert.True(live.Ready);
        Assert.Contains(live.Pods, p => p.Name == oldPod && p.Ready);
        Assert.Contains(live.Pods, p => p.Role == "workload" && p.Stage == ServingStage.Unschedulable);
        var findings = _ps.Run("Get-RhaiiDiagnosis").Select(f => (DiagnosisFinding)f.BaseObject).ToList();
        var finding = Assert.Single(findings, f => f.CheckId == "RolloutBlockedByAccelerator");
        Assert.Equal("Pod", finding.Kind);
        Assert.Contains("previous revision", finding.Message);
        Assert.DoesNotContain(findings, f => f.CheckId == "TpuCapacityUnavailable");

        // Set -Wait on the same blocked update says the same; -Recreate needs -Wait
        (_, errors) = _ps.Invoke("Set-LlmInferenceService -Namespace llm -Name qwen -Image quay.io/example/vllm-tpu:custom -Wait -Timeout 00:05:00");
        Assert.StartsWith("RolloutBlockedByAccelerator", Assert.Single(errors).FullyQualifiedErrorId);
        (_, errors) = _ps.Invoke("Set-LlmInferenceService -Namespace llm -Name qwen -Image quay.io/example/vllm-tpu:custom -Recreate");
        Assert.StartsWith("RecreateNeedsWait", Assert.Single(errors).FullyQualifiedErrorId);

        // -Recreate: the previous revision goes (with a warning about the downtime), the new pod gets the chips
        var done = Svc(Assert.Single(_ps.Run($"{Deploy} -Image quay.io/example/vllm-tpu:custom -Wait -Recreate -Timeout 00:05:00 -WarningVariable w; " +
                                              "if (-not ($w -match 'serves nothing until the new pod is Ready')) { throw \"expected the downtime warning: $w\" }")));
        Assert.True(done.Ready);
        Assert.Equal("quay.io/example/vllm-tpu:custom", done.Image);
        var pod = Assert.Single(done.Pods, p => p.Role == "workload");
        Assert.NotEqual(oldPod, pod.Name);
        Assert.True(pod.Ready);
    }

    public void Dispose()
    {
        try { _ps.Invoke($"Stop-RhaiiSandbox -Name {_sandbox}"); } catch { /* best effort */ }
        _ps.Dispose();
    }
}
