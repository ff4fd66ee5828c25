using System.Management.Automation;
using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.Serving;

/// <summary>
/// Deploy-, Get-, Wait-, Set- and Remove-LlmInferenceService on a sandbox with the operators and the
/// Istio gateway installed: the Baseline and CacheAware patterns become Ready, a re-run sends nothing,
/// bad input fails before anything is sent, and secrets never show.
/// </summary>
public class LlmInferenceServiceTests : IDisposable
{
    private const string Token = "hf_TESTTOKEN_4f1c2e9d77";
    private readonly PowerShellHost _ps = new();
    private readonly string _sandbox = "llmisvc-" + Guid.NewGuid().ToString("N")[..6];

    private void Platform(int tpuNodes)
    {
        _ps.Run($"$sb = Start-RhaiiSandbox -Name {_sandbox} -TpuNodes {tpuNodes} -ControllerDelay 00:00:00.005; $sb | Install-RhaiiOperators | Out-Null; New-InferenceGateway | Out-Null");
        _ps.Run($"$cred = [pscredential]::new('svc-account', (ConvertTo-SecureString 'registry-password-xyz' -AsPlainText -Force)); $hf = ConvertTo-SecureString '{Token}' -AsPlainText -Force");
    }

    private static LlmInferenceService Svc(PSObject o) => (LlmInferenceService)o.BaseObject;

    [Fact]
    public void BaselineBecomesReadyReRunSendsNothingAndVerificationPasses()
    {
        Platform(1);
        var deployed = Svc(Assert.Single(_ps.Run(
            "$DebugPreference = 'Continue'; $out = Deploy-LlmInferenceService -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace llm -RegistryCredential $cred -HuggingFaceToken $hf -Wait -Timeout 00:05:00 -Verbose 4>&1 5>&1 3>&1; $DebugPreference = 'SilentlyContinue'; " +
            "$global:verbose = @($out | Where-Object { $_ -is [System.Management.Automation.InformationalRecord] } | ForEach-Object Message); " +
            "$out | Where-Object { $_ -is [RhaiiGke.LlmInferenceService] }")));
        Assert.True(deployed.Ready);
        Assert.Equal(ServingStage.Ready, deployed.Stage);
        Assert.Equal(1, deployed.ReadyReplicas);
        Assert.Equal("Qwen/Qwen2.5-1.5B-Instruct", deployed.Model);
        Assert.NotNull(deployed.GatewayAddress);
        Assert.Equal($"http://{deployed.GatewayAddress}/llm/qwen", deployed.Url);
        Assert.Equal($"http://{deployed.GatewayAddress}/llm/qwen/v1", deployed.BaseUrl);
        Assert.True(deployed.MutatingRequests > 0);
        Assert.Contains(deployed.Conditions, c => c.Type == "Ready" && c.IsTrue && c.Parent is null);
        Assert.Contains(deployed.Conditions, c => c.Type == "MainWorkloadReady" && c.Parent == "WorkloadsReady");
        Assert.Contains(deployed.Pods, p => p.Role == "workload" && p.Ready);
        Assert.Contains(deployed.Objects, o => o.Kind == "NetworkPolicy" && o.Name == "qwen-default-deny");
        Assert.Contains(deployed.Objects, o => o.Kind == "Secret" && o.Name == "hf-token");
        Assert.DoesNotContain(deployed.Objects, o => o.Kind == "EnvoyFilter"); // Baseline has no scheduler

        // the token went into the Secret and the ServiceAccount lists it; it shows nowhere else
        var json = (string)_ps.Run("Get-LlmInferenceService -Namespace llm -Name qwen | ConvertTo-Json -Depth 6")[0].BaseObject;
        Assert.DoesNotContain(Token, json);
        Assert.DoesNotContain("registry-password-xyz", json);
        var verbose = string.Join("\n", _ps.Run("$global:verbose").Select(v => v.ToString()));
        Assert.Contains("qwen", verbose);
        Assert.DoesNotContain(Token, verbose);

        var again = Svc(Assert.Single(_ps.Run("Deploy-LlmInferenceService -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace llm -RegistryCredential $cred -HuggingFaceToken $hf")));
        Assert.Equal(0, again.MutatingRequests);
        Assert.True(again.Ready);
        // without credentials the existing secrets are kept, still nothing sent
        var third = Svc(Assert.Single(_ps.Run("Deploy-LlmInferenceService -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace llm")));
        Assert.Equal(0, third.MutatingRequests);

        var result = (TestRhaiiDeploymentResult)Assert.Single(_ps.Run("Test-RhaiiDeployment -Namespace llm -Name qwen")).BaseObject;
        Assert.True(result.Passed, string.Join("; ", result.Checks.Where(c => c.Status == CheckStatus.Failed).Select(c => c.ToString())));
        foreach (var traffic in new[] { "GatewayHealth", "GatewayModels", "GatewayCompletion" })
            Assert.Contains(result.Checks, c => c.Name == traffic && c.Status == CheckStatus.Passed);
        Assert.Contains(result.Checks, c => c.Name == "GatewayCompletion" && c.Detail.Contains("qwen-kserve-"));

        // the service pipes into the inference commands: BaseUrl and Model bind by property name
        var endpoint = Assert.Single(_ps.Run("Get-LlmInferenceService -Namespace llm -Name qwen | Test-InferenceEndpoint"));
        Assert.True((bool)endpoint.Properties["Passed"].Value, endpoint.ToString());

        var listed = _ps.Run("Get-LlmInferenceService").Select(Svc).ToList();
        Assert.Contains(listed, s => s.Name == "qwen" && s.Namespace == "llm" && s.Ready);
        Assert.Single(_ps.Run("Get-LlmInferenceService -Name q*"));
        var (_, errors) = _ps.Invoke("Get-LlmInferenceService -Namespace llm -Name nosuch");
        Assert.Equal("LlmInferenceServiceNotFound", Assert.Single(errors).FullyQualifiedErrorId.Split(',')[0]);
    }

    [Fact]
    public async Task CacheAwareGetsTheEnvoyFilterForThePoolRulesAndScalesStopsAndRemoves()
    {
        Platform(3);
        _ps.Run("$spec = New-LlmInferenceServiceSpec -Name cache -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace llm -Pattern CacheAware");
        var svc = Svc(Assert.Single(_ps.Run("$spec | Deploy-LlmInferenceService -RegistryCredential $cred -HuggingFaceToken $hf -Wait -Timeout 00:05:00")));
        Assert.True(svc.Ready);
        Assert.Equal(3, svc.Replicas);
        Assert.Equal(3, svc.ReadyReplicas);
        Assert.True(svc.Scheduler);
        Assert.Contains(svc.Pods, p => p.Role == "scheduler" && p.Ready);
        Assert.NotNull(svc.InferencePoolGroup);
        var filter = Assert.Single(svc.Objects, o => o.Kind == "EnvoyFilter");
        Assert.Equal("opendatahub", filter.Namespace);

        // the filter patches exactly the InferencePool rules of the route KServe created
        var connection = (ClusterConnection)_ps.Run("$sb.Connection")[0].BaseObject;
        var live = await RhaiiGke.Engine.Kube.KubeClients.For(connection)
            .GetAsync("apis/networking.istio.io/v1alpha3/namespaces/opendatahub/envoyfilters/cache-llm-epp-body", CancellationToken.None);
        Assert.NotNull(live);
        var routeNames = live!["spec"]!["configPatches"]!.AsArray().Select(p => p!["match"]!["routeConfiguration"]!["vhost"]!["route"]!["name"]!.GetValue<string>()).ToList();
        Assert.Equal(["llm.cache-kserve-route.0", "llm.cache-kserve-route.1"], routeNames);

        var again = Svc(Assert.Single(_ps.Run("$spec | Deploy-LlmInferenceService")));
        Assert.Equal(0, again.MutatingRequests);

        var verified = (TestRhaiiDeploymentResult)Assert.Single(_ps.Run("Test-RhaiiDeployment -Namespace llm -Name cache")).BaseObject;
        Assert.True(verified.Passed, string.Join("; ", verified.Checks.Where(c => c.Status == CheckStatus.Failed).Select(c => c.ToString())));
        Assert.Contains(verified.Checks, c => c.Name == "Scheduler" && c.Passed);
        Assert.Contains(verified.Checks, c => c.Name == "GatewayCompletion" && c.Passed);

        var scaled = Svc(Assert.Single(_ps.Run("Set-LlmInferenceService -Namespace llm -Name cache -Replicas 2 -Wait -Timeout 00:05:00")));
        Assert.Equal(2, scaled.Replicas);
        Assert.Equal(2, scaled.ReadyReplicas);
        var (_, same) = _ps.Invoke("Set-LlmInferenceService -Namespace llm -Name cache -Replicas 2 -Verbose 4>&1 | Out-Null");
        Assert.Empty(same);

        // right after the stop (no wait) nothing is counted ready against the desired 0
        var stopping = Svc(Assert.Single(_ps.Run("Set-LlmInferenceService -Namespace llm -Name cache -Stop")));
        Assert.True(stopping.Stopped);
        Assert.Contains(stopping.Stage, new[] { ServingStage.Stopping, ServingStage.Stopped });
        Assert.Equal(0, stopping.Replicas);
        Assert.Equal(0, stopping.ReadyReplicas);
        var stopped = Svc(Assert.Single(_ps.Run("Get-LlmInferenceService -Namespace llm -Name cache | Set-LlmInferenceService -Stop -Wait -Timeout 00:05:00")));
        Assert.True(stopped.Stopped);
        Assert.Equal(ServingStage.Stopped, stopped.Stage);
        Assert.DoesNotContain(stopped.Pods, p => p.Role == "workload");

        var resumed = Svc(Assert.Single(_ps.Run("Set-LlmInferenceService -Namespace llm -Name cache -Start -Wait -Timeout 00:05:00")));
        Assert.True(resumed.Ready);
        Assert.False(resumed.Stopped);

        var preview = (KubeApplyResult)Assert.Single(_ps.Run("Remove-LlmInferenceService -Namespace llm -Name cache -WhatIf")).BaseObject;
        Assert.All(preview.Objects.Where(o => o.Action != KubeApplyAction.Absent), o => Assert.Equal(KubeApplyAction.WouldDelete, o.Action));
        Assert.Single(_ps.Run("Get-LlmInferenceService -Namespace llm -Name cache"));

        var removed = (KubeApplyResult)Assert.Single(_ps.Run("Remove-LlmInferenceService -Namespace llm -Name cache -Confirm:$false -PassThru")).BaseObject;
        Assert.Contains(removed.Objects, o => o.Kind == "LLMInferenceService" && o.Action == KubeApplyAction.Deleted);
        Assert.Contains(removed.Objects, o => o.Kind == "EnvoyFilter" && o.Action == KubeApplyAction.Deleted);
        Assert.Contains(removed.Objects, o => o.Kind == "NetworkPolicy" && o.Action == KubeApplyAction.Deleted);
        Assert.DoesNotContain(removed.Objects, o => o.Kind == "Secret");
        Assert.True(removed.Changed);
        Assert.Equal(removed.Objects.Count(o => o.Action == KubeApplyAction.Deleted), removed.Deleted);
        Assert.Contains($"{removed.Deleted} deleted", removed.ToString());
        Assert.Empty(_ps.Run("Get-LlmInferenceService -Namespace llm"));
        // a second teardown converges: the not-found error is non-terminating
        Assert.Empty(_ps.Run("Remove-LlmInferenceService -Namespace llm -Name cache -Confirm:$false -ErrorAction SilentlyContinue"));
        var (_, again2) = _ps.Invoke("Remove-LlmInferenceService -Namespace llm -Name cache -Confirm:$false");
        Assert.StartsWith("LlmInferenceServiceNotFound", Assert.Single(again2).FullyQualifiedErrorId);
    }

    [Fact]
    public void ARedeployWithACorrectedTopologyReachesTheWorkloadAndBecomesReady()
    {
        Platform(1);
        // a slice the cluster has no pool for: the pod cannot be scheduled (the sandbox pool is 2x2 ct6e-standard-4t)
        var wrong = Svc(Assert.Single(_ps.Run("Deploy-LlmInferenceService -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace llm -Topology 2x4 -MachineType ct6e-standard-8t -RegistryCredential $cred -HuggingFaceToken $hf -WarningAction SilentlyContinue")));
        Assert.False(wrong.Ready);
        // the corrected spec: KServe pushes the new nodeSelector and TPU request into the Deployment, which rolls out
        var fixedSvc = Svc(Assert.Single(_ps.Run("Deploy-LlmInferenceService -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace llm -RegistryCredential $cred -HuggingFaceToken $hf -Wait -Timeout 00:05:00 -WarningAction SilentlyContinue")));
        Assert.True(fixedSvc.Ready);
        Assert.True(fixedSvc.MutatingRequests > 0);
        Assert.Contains(fixedSvc.Pods, p => p.Role == "workload" && p.Ready);
    }

    [Fact]
    public void DeploysExportedManifestsWithTheSecretsFilledAndRemovesWhatCameWithThem()
    {
        Platform(1);
        var dir = Path.Combine(Path.GetTempPath(), "rhaii-path-" + Guid.NewGuid().ToString("N")[..6]);
        try
        {
            _ps.Run($"New-LlmInferenceServiceSpec -Name fromfiles -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace files -WarningAction SilentlyContinue | Export-RhaiiManifest -Path '{dir}' | Out-Null");
            Assert.Contains(Directory.GetFiles(dir), f => File.ReadAllText(f).Contains("REPLACE_ME"));
            // placeholders left and no credential given: refused before anything is sent
            var (_, errors) = _ps.Invoke($"$env:HF_TOKEN = $null; Deploy-LlmInferenceService -Path '{dir}'");
            Assert.StartsWith("ManifestPlaceholder", Assert.Single(errors).FullyQualifiedErrorId);
            Assert.Empty(_ps.Run("Get-LlmInferenceService -Namespace files"));

            var svc = Svc(Assert.Single(_ps.Run($"Deploy-LlmInferenceService -Path '{dir}' -HuggingFaceToken $hf -RegistryCredential $cred -Wait -Timeout 00:05:00")));
            Assert.True(svc.Ready);
            Assert.Equal(0, Svc(Assert.Single(_ps.Run($"Deploy-LlmInferenceService -Path '{dir}' -HuggingFaceToken $hf -RegistryCredential $cred"))).MutatingRequests);
            foreach (var f in Directory.GetFiles(dir)) Assert.DoesNotContain(Token, File.ReadAllText(f)); // the files are not rewritten

            var removed = (KubeApplyResult)Assert.Single(_ps.Run("Remove-LlmInferenceService -Namespace files -Name fromfiles -IncludeSecrets -Confirm:$false -PassThru")).BaseObject;
            Assert.Contains(removed.Objects, o => o.Kind == "NetworkPolicy" && o.Action == KubeApplyAction.Deleted);
            Assert.Contains(removed.Objects, o => o.Kind == "Secret" && o.Name == "hf-token" && o.Action == KubeApplyAction.Deleted);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void BadInputFailsBeforeAnythingIsSent()
    {
        Platform(1);
        // no pull secret anywhere: refused before the namespace is created
        var (_, errors) = _ps.Invoke("Deploy-LlmInferenceService -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace fresh");
        var error = Assert.Single(errors);
        Assert.StartsWith("PullSecretMissing", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.AuthenticationError, error.CategoryInfo.Category);
        Assert.Contains("-PullSecretFile", error.ErrorDetails?.RecommendedAction ?? error.Exception.Message + (error.ErrorDetails?.RecommendedAction ?? ""));
        Assert.Empty(_ps.Run("Get-LlmInferenceService -Namespace fresh"));

        // a manifest with lint errors is refused with the findings
        var fixture = Path.Combine(AppContext.BaseDirectory, "Lint", "Fixtures", "seed004-pattern1.yaml");
        Assert.True(File.Exists(fixture), fixture);
        (_, errors) = _ps.Invoke($"Deploy-LlmInferenceService -Path '{fixture}'");
        error = Assert.Single(errors);
        Assert.StartsWith("ManifestLintFailed", error.FullyQualifiedErrorId);
        Assert.Contains("RHAII", error.Exception.Message);

        // -WhatIf: a server-side dry run, nothing persisted; without a token a public model is not called gated
        var preview = Svc(Assert.Single(_ps.Run("$env:HF_TOKEN = $null; $env:HUGGING_FACE_HUB_TOKEN = $null; " +
            "$out = Deploy-LlmInferenceService -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace llm -RegistryCredential $cred -WhatIf -WarningVariable w -WarningAction SilentlyContinue -Verbose 4>&1; " +
            "$global:w = @($w | ForEach-Object Message); $global:v = @($out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message); " +
            "$out | Where-Object { $_ -is [RhaiiGke.LlmInferenceService] }")));
        Assert.DoesNotContain(_ps.Run("$global:w").Select(x => x.ToString()), x => x.Contains("Hugging Face", StringComparison.Ordinal));
        Assert.Contains(_ps.Run("$global:v").Select(x => x.ToString()), x => x.Contains("none is needed", StringComparison.Ordinal));
        Assert.True(preview.DryRun);
        Assert.Contains(preview.Objects, o => o.Kind == "LLMInferenceService" && o.Action == KubeApplyAction.WouldCreate);
        Assert.Empty(_ps.Run("Get-LlmInferenceService -Namespace llm"));
    }

    [Fact]
    public async Task APipedSpecIsDeployedAsBuiltAndWarnsOnce()
    {
        Platform(1);
        // New-LlmInferenceServiceSpec warns that a 3B model fits one chip; Deploy must not rebuild the spec (and warn again)
        var svc = Svc(Assert.Single(_ps.Run(
            "$w = @(); $spec = New-LlmInferenceServiceSpec -Name piped -Model Qwen/Qwen2.5-3B-Instruct -Namespace llm -Topology 2x2 -MaxModelLength 2048 -Image quay.io/example/vllm-tpu:custom -WarningVariable +w -WarningAction SilentlyContinue; " +
            "$out = $spec | Deploy-LlmInferenceService -RegistryCredential $cred -HuggingFaceToken $hf -WhatIf -WarningVariable +w -WarningAction SilentlyContinue; $global:w = @($w | ForEach-Object Message); $out")));
        Assert.True(svc.DryRun);
        Assert.Equal("piped", svc.Name);
        var warnings = _ps.Run("$global:w").Select(x => x.ToString()).ToList();
        Assert.Single(warnings, x => x.StartsWith("Fits on 1 chip(s)", StringComparison.Ordinal));

        // the spec's other settings survive the pipe (they were lost when it bound by property name)
        var applied = Svc(Assert.Single(_ps.Run("$spec | Deploy-LlmInferenceService -RegistryCredential $cred -HuggingFaceToken $hf -WarningAction SilentlyContinue")));
        Assert.Equal("quay.io/example/vllm-tpu:custom", applied.Image);
        var connection = (ClusterConnection)_ps.Run("$sb.Connection")[0].BaseObject;
        var live = await RhaiiGke.Engine.Kube.KubeClients.For(connection)
            .GetAsync("apis/serving.kserve.io/v1alpha1/namespaces/llm/llminferenceservices/piped", CancellationToken.None);
        Assert.Contains("--max-model-len=2048", live!.ToJsonString());

        // a piped spec with spec parameters on the command line is refused before anything is sent
        var (_, errors) = _ps.Invoke("$spec | Deploy-LlmInferenceService -Name other -Model Qwen/Qwen2.5-3B-Instruct -RegistryCredential $cred -WarningAction SilentlyContinue");
        Assert.StartsWith("SpecAndSpecParameters", Assert.Single(errors).FullyQualifiedErrorId);
        Assert.Empty(_ps.Run("Get-LlmInferenceService -Namespace llm -Name other -ErrorAction SilentlyContinue"));

        // objects with Name and Model still bind to the spec parameters by property name
        var fromCsv = Svc(Assert.Single(_ps.Run("[pscustomobject]@{ Name = 'fromcsv'; Model = 'Qwen/Qwen2.5-3B-Instruct'; Namespace = 'llm'; Topology = '1x1' } | Deploy-LlmInferenceService -RegistryCredential $cred -WhatIf -WarningAction SilentlyContinue")));
        Assert.Equal("fromcsv", fromCsv.Name);
    }

    [Fact]
    public void SeededFaultsStopTheWaitWithTheDiagnosisAndTheFix()
    {
        Platform(1);
        // wrong topology: the pool is v6e 2x2; a 2x4 pod is refused by the scheduler
        var (_, errors) = _ps.Invoke("Deploy-LlmInferenceService -Name topo -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace faults -Topology 2x4 -RegistryCredential $cred -HuggingFaceToken $hf -Wait -SchedulingTimeout 00:00:02 -Timeout 00:05:00 -WarningVariable tw -WarningAction SilentlyContinue");
        var error = Assert.Single(errors);
        // this sandbox has no cluster autoscaler: the wait says that nothing will add the node, before its limit ends it
        Assert.Single(_ps.Run("$tw").Select(x => x.ToString()), x => x.Contains("no cluster autoscaler has answered", StringComparison.Ordinal) && x.Contains("-SchedulingTimeout (2 s)", StringComparison.Ordinal));
        Assert.StartsWith("LlmInferenceServiceUnschedulable", error.FullyQualifiedErrorId);
        Assert.Contains("didn't match Pod's node affinity/selector", error.Exception.Message);
        Assert.Contains("TpuTopology", error.Exception.Message);
        Assert.False(string.IsNullOrEmpty(error.ErrorDetails?.RecommendedAction));
        var topo = Svc(Assert.Single(_ps.Run("Get-LlmInferenceService -Namespace faults -Name topo")));
        Assert.Equal(ServingStage.Unschedulable, topo.Stage);
        Assert.Contains(_ps.Run("Get-RhaiiDiagnosis").Select(f => (DiagnosisFinding)f.BaseObject), f => f.CheckId.StartsWith("TpuTopology", StringComparison.Ordinal));

        // a gated model without a token: the storage initializer is refused; the error carries the diagnosis' fix
        (_, errors) = _ps.Invoke("$env:HF_TOKEN = $null; $env:HUGGING_FACE_HUB_TOKEN = $null; " +
            "Deploy-LlmInferenceService -Name gated -Model meta-llama/Llama-3.2-1B-Instruct -Namespace gated -RegistryCredential $cred -Wait -Timeout 00:05:00 -WarningVariable w -WarningAction SilentlyContinue; " +
            "if (-not ($w -match 'No Hugging Face token.*Llama-3.2-1B-Instruct is gated')) { throw 'expected the no-token warning' }");
        error = Assert.Single(errors);
        Assert.StartsWith("LlmInferenceServiceModelDownloadFailed", error.FullyQualifiedErrorId);
        Assert.Contains("HuggingFaceTokenRejected", error.Exception.Message);
        // the failure says it did not clear within the grace a failure gets, not that a download limit was reached
        Assert.Matches(@"model download failing for \d+ s without clearing \(a failure is given \d+ s to clear", error.Exception.Message);
        Assert.DoesNotContain("(limit ", error.Exception.Message);
        Assert.Contains("HF_TOKEN", error.ErrorDetails?.RecommendedAction ?? "");

        // the fix: deploy again with the token; the same command converges to Ready
        var healed = Svc(Assert.Single(_ps.Run("Deploy-LlmInferenceService -Name gated -Model meta-llama/Llama-3.2-1B-Instruct -Namespace gated -HuggingFaceToken $hf -Wait -Timeout 00:05:00 -WarningAction SilentlyContinue")));
        Assert.True(healed.Ready);
    }

    public void Dispose()
    {
        try { _ps.Invoke($"Stop-RhaiiSandbox -Name {_sandbox}"); } catch { /* best effort */ }
        _ps.Dispose();
    }
}

/// <summary>How a wait that ran out says why: the parameter that raises a progress stage's limit, or the grace a failure gets.</summary>
public class StageTimeoutWordingTests
{
    [Theory]
    [InlineData(RhaiiGke.ServingStage.DownloadingModel, "downloading the model for 1801 s, past the 1800 s limit (-DownloadTimeout raises it)")]
    [InlineData(RhaiiGke.ServingStage.Compiling, "loading and XLA compilation for 1801 s, past the 1800 s limit (-CompileTimeout raises it)")]
    [InlineData(RhaiiGke.ServingStage.Unschedulable, "refused by TPU scheduling rules for 1801 s, past the 1800 s limit (-SchedulingTimeout raises it)")]
    [InlineData(RhaiiGke.ServingStage.ImagePullFailed, "image pull failing for 1801 s without clearing (a failure is given 1800 s to clear before the wait stops)")]
    public void NamesTheLimitThatEndedTheWait(RhaiiGke.ServingStage stage, string expected) =>
        Assert.Equal(expected, RhaiiGke.Engine.Serving.LlmServiceManager.StageTimedOut(stage, TimeSpan.FromSeconds(1801), TimeSpan.FromSeconds(1800)));
}
