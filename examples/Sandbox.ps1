#Requires -Version 7.4
<#
.SYNOPSIS
    The runbooks without a cloud: a local sandbox with a TPU pool, the RHAII operators, the Istio
    inference gateway, a CacheAware LLMInferenceService deployed and verified through the gateway,
    a short benchmark, a seeded fault and its diagnosis, scale to zero, and teardown.
.EXAMPLE
    dotnet pwsh ./examples/Sandbox.ps1 -ModuleManifest ./out/RhaiiGke/RhaiiGke.psd1
.EXAMPLE
    # the same script against a flaky API server: 10% of requests fail or are slowed
    dotnet pwsh ./examples/Sandbox.ps1 -FaultRate 0.1
#>
param(
    [string]$ModuleManifest = (Join-Path $PSScriptRoot '../out/RhaiiGke/RhaiiGke.psd1'),
    [double]$FaultRate = 0,
    [TimeSpan]$ControllerDelay = '00:00:00.2',
    [string]$KubeconfigPath = (Join-Path ([IO.Path]::GetTempPath()) 'rhaii-sandbox.kubeconfig')
)
$ErrorActionPreference = 'Stop'
Import-Module $ModuleManifest

# Three v6e 2x2 TPU hosts next to three CPU nodes, labelled and tainted as GKE does.
$sandbox = Start-RhaiiSandbox -TpuNodes 3 -Accelerator v6e -Topology 2x2 -FaultRate $FaultRate `
    -ControllerDelay $ControllerDelay -KubeconfigPath $KubeconfigPath
$sandbox | Format-List

try {
    # What would happen, as a server-side dry run.
    $preview = Install-RhaiiOperators -Component cert-manager -WhatIf
    $preview.Components.Apply | Format-List

    # The install: phases, readiness waits, webhook checks, retries.
    $platform = $sandbox | Install-RhaiiOperators -Verbose
    $platform
    $platform.Components.Apply | Format-List

    # Nothing changed, so nothing is sent.
    $again = Install-RhaiiOperators
    "Second run: {0} mutating requests" -f $again.MutatingRequests

    Get-RhaiiOperatorStatus | ForEach-Object Components | Format-Table

    if (Get-Command kubectl -ErrorAction SilentlyContinue) {
        kubectl --kubeconfig $KubeconfigPath get pods -A
        kubectl --kubeconfig $KubeconfigPath get certificates,clusterissuers -A
    }

    # The gateway, then a CacheAware service (3 replicas, EPP, prefix caching). The sandbox's kubelet
    # wants registry credentials for registry.redhat.io; any will do here.
    New-InferenceGateway | Format-List
    $registry = [pscredential]::new('demo', (ConvertTo-SecureString 'not-a-real-password' -AsPlainText -Force))
    $service = New-LlmInferenceServiceSpec -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -Pattern CacheAware -WarningAction SilentlyContinue |
        Deploy-LlmInferenceService -RegistryCredential $registry -Wait -Timeout 00:05:00
    $service | Format-List

    # The runbook's verification (operators, conditions, route, pool, policies, traffic) and the endpoint checks.
    Test-RhaiiDeployment -Namespace $service.Namespace -Name $service.Name | ForEach-Object Checks | Format-Table
    $service | Test-InferenceEndpoint | Format-Table
    $service | Invoke-InferenceBenchmark -Profile Concurrent -Concurrency 4 -NumPrompts 40 -OutputTokens 16 | Format-List

    # A seeded fault: a gated model without a Hugging Face token. Free a TPU host first, then the
    # wait stops at the storage initializer's 401 and the error carries the diagnosis and its fix.
    Set-LlmInferenceService -Name qwen -Namespace $service.Namespace -Replicas 2 -Wait | Format-Table
    try {
        Remove-Item Env:HF_TOKEN, Env:HUGGING_FACE_HUB_TOKEN -ErrorAction SilentlyContinue
        Deploy-LlmInferenceService -Name gated -Model meta-llama/Llama-3.2-1B-Instruct -RegistryCredential $registry `
            -Wait -Timeout 00:02:00 -WarningAction SilentlyContinue | Out-Null
    }
    catch {
        "{0}: {1}" -f $_.FullyQualifiedErrorId, $_.Exception.Message
        "Fix: {0}" -f $_.ErrorDetails.RecommendedAction
    }
    Get-RhaiiDiagnosis | Format-Table
    Remove-LlmInferenceService -Name gated -Confirm:$false

    # Scale to zero and back; then remove.
    Set-LlmInferenceService -Name qwen -Namespace $service.Namespace -Stop -Wait | Format-Table
    Set-LlmInferenceService -Name qwen -Namespace $service.Namespace -Start -Wait | Format-Table
    Remove-LlmInferenceService -Name qwen -Namespace $service.Namespace -Confirm:$false

    Uninstall-RhaiiOperators -Confirm:$false | Out-Null
}
finally {
    Stop-RhaiiSandbox -Name $sandbox.Name
    Remove-Item $KubeconfigPath -ErrorAction SilentlyContinue
}
