#Requires -Version 7.4
<#
.SYNOPSIS
    Autoscaling a deployed service on its own load: an HPA on vLLM's waiting requests (Managed Prometheus metric
    names) between a minimum and a maximum, driven here by a rising Poisson load from Invoke-InferenceBenchmark.
.DESCRIPTION
    Without -Context it runs on a local sandbox, whose HPA controller runs the Kubernetes algorithm on the simulated
    vLLM pods. The sandbox installs KServe release-v0.15, whose reconciler overwrites the workload's replicas on every
    reconcile, so the script first shows the command's refusal; then (when kubectl is installed) it makes the sandbox's
    LLMInferenceService CRD serve v1alpha2 as KServe v0.17+ does (that release keeps replicas an HPA sets), enables
    autoscaling and sends load stage by stage until the HPA has scaled out and TTFT is back under the target. With
    -Context it uses that kubeconfig context (a GKE cluster with KServe v0.17+, Managed Prometheus, the Custom Metrics
    Stackdriver Adapter and the service already deployed).
.EXAMPLE
    dotnet pwsh ./examples/Autoscaling.ps1 -ModuleManifest ./out/RhaiiGke/RhaiiGke.psd1
.EXAMPLE
    ./examples/Autoscaling.ps1 -Context gke_my-project_us-east5-b_tpu-demo -Name qwen -Namespace rhaii-inference -MaxReplicas 4
#>
param(
    [string]$ModuleManifest = (Join-Path $PSScriptRoot '../out/RhaiiGke/RhaiiGke.psd1'),
    [string]$Context,
    [string]$Name = 'qwen',
    [string]$Namespace = 'rhaii-inference',
    [int]$MaxReplicas = 3,
    [double]$Rate = 4,
    [double]$TtftTargetMs = 8000,
    [int]$MaxStages = 30,
    [string]$KubeconfigPath = (Join-Path ([IO.Path]::GetTempPath()) 'rhaii-autoscaling.kubeconfig')
)
$ErrorActionPreference = 'Stop'
Import-Module $ModuleManifest

$sandbox = $null
if ($Context) {
    Connect-RhaiiCluster -Context $Context | Out-Null
} else {
    $sandbox = Start-RhaiiSandbox -TpuNodes $MaxReplicas -KubeconfigPath $KubeconfigPath -ControllerDelay 00:00:00.05
    $sandbox | Install-RhaiiOperators | Out-Null
    New-InferenceGateway | Out-Null
    $registry = [pscredential]::new('demo', (ConvertTo-SecureString 'not-a-real-password' -AsPlainText -Force))
    # --max-num-seqs=1: a batch of one, so with long answers a few requests per second already queue on one replica
    New-LlmInferenceServiceSpec -Name $Name -Namespace $Namespace -Model Qwen/Qwen2.5-1.5B-Instruct -VllmArgument '--max-num-seqs=1' |
        Deploy-LlmInferenceService -RegistryCredential $registry -Wait -WarningAction SilentlyContinue | Out-Null
}

try {
    $enable = @{
        Name = $Name; Namespace = $Namespace; MinReplicas = 1; MaxReplicas = $MaxReplicas
        Signal = 'RequestsWaiting'; RequestsWaitingTarget = 2
        # short windows for a demonstration; on TPU keep the scale-down window longer than a replica's start-up
        ScaleUpStabilization = '00:00:00'; ScaleDownStabilization = '00:01:00'; ScalePeriod = '00:00:15'
        WarningAction = 'SilentlyContinue'
    }
    if ($sandbox) {
        try {
            Enable-LlmInferenceServiceAutoscaling @enable | Out-Null
        } catch {
            "{0}: {1}" -f $_.FullyQualifiedErrorId, $_.Exception.Message
            "Fix: {0}" -f $_.ErrorDetails.RecommendedAction
        }
        if (-not (Get-Command kubectl -ErrorAction SilentlyContinue)) {
            Write-Warning 'kubectl is not installed, so the sandbox cannot be given the KServe v0.17 CRD; stopping here.'
            return
        }
        # The CRD as KServe v0.17+ ships it: v1alpha2 served next to v1alpha1 (the sandbox's KServe then keeps HPA replicas).
        $crd = kubectl --kubeconfig $KubeconfigPath get crd llminferenceservices.serving.kserve.io -o json | ConvertFrom-Json -Depth 100
        $v2 = $crd.spec.versions[0] | ConvertTo-Json -Depth 100 | ConvertFrom-Json -Depth 100
        $v2.name = 'v1alpha2'; $v2.storage = $false
        $crd.spec.versions += $v2
        $crd | ConvertTo-Json -Depth 100 | kubectl --kubeconfig $KubeconfigPath replace -f - | Out-Host
    }

    # Preview, then apply; a second run sends nothing.
    Enable-LlmInferenceServiceAutoscaling @enable -WhatIf | ForEach-Object Objects | Format-Table Id, Action
    $autoscaling = Get-LlmInferenceService -Name $Name -Namespace $Namespace | Enable-LlmInferenceServiceAutoscaling @enable
    $autoscaling | Format-Table
    $autoscaling.Notes
    "Second run: {0} mutating requests" -f (Enable-LlmInferenceServiceAutoscaling @enable).MutatingRequests

    # Rising Poisson load: a light stage, then stages at -Rate until the service has scaled out and TTFT is back.
    $svc = Get-LlmInferenceService -Name $Name -Namespace $Namespace
    $stage = @{ Profile = 'Poisson'; NumPrompts = 40; InputTokens = 32; OutputTokens = 512; Warmups = 0 }
    $svc | Invoke-InferenceBenchmark @stage -Rate 1 | Format-Table Stage, Completed, TtftP99Ms
    for ($i = 1; $i -le $MaxStages; $i++) {
        $r = $svc | Invoke-InferenceBenchmark @stage -Rate $Rate -Seed $i | Select-Object -Last 1
        $svc = Get-LlmInferenceService -Name $Name -Namespace $Namespace
        $pods = @($svc.Pods | Where-Object Role -eq workload)
        "stage {0}: p99 TTFT {1:0} ms, {2} workload pod(s), {3} ready" -f $i, $r.TtftP99Ms, $pods.Count, @($pods | Where-Object Ready).Count
        if ($pods.Count -gt 1 -and @($pods | Where-Object Ready).Count -eq $pods.Count -and $r.TtftP99Ms -lt $TtftTargetMs) { break }
    }
    Get-LlmInferenceServiceLog -Name $Name -Namespace $Namespace -Component Workload -Tail 1 | Select-Object Pod, Line | Format-Table

    # The load has stopped: the HPA scales back to the minimum after the scale-down window.
    'Load stopped; the HPA scales back after the scale-down window ({0}).' -f $enable.ScaleDownStabilization
    Disable-LlmInferenceServiceAutoscaling -Name $Name -Namespace $Namespace -WhatIf | Format-Table
} finally {
    if ($sandbox) { Stop-RhaiiSandbox -Name $sandbox.Name | Out-Null }
}
