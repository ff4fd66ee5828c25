#Requires -Version 7.4
<#
.SYNOPSIS
    Day-2 observation of a deployed service without pod URLs: metrics of every vLLM pod and the EPP
    through the Kubernetes API, the vLLM and EPP logs as objects, and a support bundle read back by
    Get-RhaiiDiagnosis. Runs on a local sandbox; point it at a real cluster by replacing the
    sandbox with Connect-RhaiiCluster.
.EXAMPLE
    dotnet pwsh ./examples/Observability.ps1 -ModuleManifest ./out/RhaiiGke/RhaiiGke.psd1
#>
param(
    [string]$ModuleManifest = (Join-Path $PSScriptRoot '../out/RhaiiGke/RhaiiGke.psd1'),
    [TimeSpan]$ControllerDelay = '00:00:00.05'
)
$ErrorActionPreference = 'Stop'
Import-Module $ModuleManifest

$sandbox = Start-RhaiiSandbox -TpuNodes 3 -ControllerDelay $ControllerDelay
try {
    $sandbox | Install-RhaiiOperators | Out-Null
    New-InferenceGateway | Out-Null
    $hf = ConvertTo-SecureString 'hf_example_token' -AsPlainText -Force
    $cred = [pscredential]::new('svc-account', (ConvertTo-SecureString 'example-password' -AsPlainText -Force))
    $svc = New-LlmInferenceServiceSpec -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -Namespace llm -Pattern CacheAware |
        Deploy-LlmInferenceService -RegistryCredential $cred -HuggingFaceToken $hf -Wait -Timeout 00:05:00

    # Some traffic through the gateway.
    1..5 | ForEach-Object { $svc | Test-InferenceEndpoint | Out-Null }

    # Metrics of every pod, scraped through the API server: the service summary, then per pod.
    $m = $svc | Get-InferenceMetrics -WarningAction SilentlyContinue
    $m | Format-Table
    $m.Pods | Format-Table
    if ($m.Scheduler.Error) { "EPP: $($m.Scheduler.Error)" }

    # Three scrapes a second apart: each covers the second since the previous one.
    Get-InferenceMetrics -ServiceName qwen -Namespace llm -Count 3 -Interval 1 -WarningAction SilentlyContinue | Format-Table

    # Logs as objects: the requests vLLM served, and how the model came down.
    Get-LlmInferenceServiceLog qwen -Namespace llm -Component Workload |
        Where-Object Line -match '"POST /v1/' | Group-Object Pod | Format-Table Count, Name
    Get-LlmInferenceServiceLog qwen -Namespace llm -Component StorageInitializer -Tail 1 | Format-Table Pod, Line

    # What the EPP logged at start-up.
    Get-LlmInferenceServiceLog qwen -Namespace llm -Component Scheduler |
        ForEach-Object { ($_.Line | ConvertFrom-Json).msg }

    # Everything a diagnosis needs, in one zip without secret values, and the diagnosis read back from it.
    $zip = Join-Path ([IO.Path]::GetTempPath()) 'rhaii-support.zip'
    Export-RhaiiSupportBundle -Path $zip -Force | Format-Table
    Get-RhaiiDiagnosis -Path $zip | Format-Table
}
finally {
    $sandbox | Stop-RhaiiSandbox
}
