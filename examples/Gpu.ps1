#Requires -Version 7.4
<#
.SYNOPSIS
    The GPU pattern: size a model for NVIDIA GPUs, check GPU quota, create a GKE cluster with an L4 node pool
    (GKE-managed drivers), install the operators, serve a model with the Red Hat AI Inference Server CUDA image
    behind the inference gateway, verify it, price it, and remove it. Runs against the GKE sandbox unless
    -Project is given.
.EXAMPLE
    dotnet pwsh ./examples/Gpu.ps1 -ModuleManifest ./out/RhaiiGke/RhaiiGke.psd1
.EXAMPLE
    ./examples/Gpu.ps1 -Project my-project -Zone us-central1-a -Accelerator nvidia-l4 -Keep   # real cloud (ADC), keeps the cluster
#>
param(
    [string]$ModuleManifest = (Join-Path $PSScriptRoot '../out/RhaiiGke/RhaiiGke.psd1'),
    [string]$Project,
    [string]$Zone = 'us-central1-a',
    [string]$Name = 'rhaii-gpu',
    [string]$Accelerator = 'nvidia-l4',
    [string]$Model = 'Qwen/Qwen2.5-7B-Instruct',
    [pscredential]$RegistryCredential,
    [switch]$Keep
)
$ErrorActionPreference = 'Stop'
Import-Module $ModuleManifest
$sandbox = $null
if (-not $Project) {
    # No cloud: the GKE sandbox simulates GKE, Compute and Service Usage; each cluster it creates is a Kubernetes
    # sandbox whose GPU nodes carry cloud.google.com/gke-accelerator, the nvidia.com/gpu taint and (with drivers) nvidia.com/gpu.
    $sandbox = Start-RhaiiSandbox -Gke -Name gpu-sandbox -OperationDuration 00:00:00.3 -ControllerDelay 00:00:00.05
    $Project = $sandbox.Project
    if (-not $RegistryCredential) {
        $RegistryCredential = [pscredential]::new('demo', (ConvertTo-SecureString 'not-a-real-password' -AsPlainText -Force))
    }
    Write-Host "GKE API sandbox at $($sandbox.Server) (project $Project)"
}
try {
    # 1. Which GPU machine holds the model (weights + KV cache, tensor parallel across the GPUs of one machine)?
    $fit = Get-TpuTopology -Model $Model -Accelerator $Accelerator -FitOnly | Sort-Object Chips | Select-Object -First 1
    $fit | Format-Table Model, MachineType, Chips, WeightsGiB, KvCacheGiB, UsableHbmGiB, TensorParallelSize
    $gpus = $fit.Chips

    # 2. Preflight: the zone offers the GPU and the region has NVIDIA_*_GPUS quota.
    Test-RhaiiPrerequisites -Project $Project -Zone $Zone -Accelerator $Accelerator -Topology $gpus |
        ForEach-Object Checks | Format-Table Name, Status, Message -Wrap

    # 3. What it costs (a dated, overridable GPU price table), then the cluster with GKE-managed NVIDIA drivers.
    Get-RhaiiCostEstimate -Accelerator $Accelerator -MachineType $fit.MachineType | Format-List MachineType, Chips, PricePerChipHour, Hourly, Monthly, PriceTableDate
    $cluster = New-GpuCluster -Name $Name -Project $Project -Zone $Zone -Accelerator $Accelerator -GpuCount $gpus -InitialNodeCount 1 -MaxNodes 2
    $cluster.GpuNodePools | Format-Table Name, MachineType, Accelerator, ChipsPerNode, GpuDriverVersion, NodeCount

    # 4. Operators, gateway and the model on the GPU node: CUDA image, nvidia.com/gpu, gke-accelerator selector, GPU toleration.
    $service = $cluster | Get-TpuClusterCredential -AuthMode Token | Connect-RhaiiCluster | Install-RhaiiOperators |
        Deploy-LlmInferenceService -Name qwen -Model $Model -Accelerator $Accelerator -Topology $gpus -RegistryCredential $RegistryCredential -Wait -Timeout 00:30:00
    $service | Format-List Name, Ready, Url

    # 5. The runbook's verification through the gateway, the endpoint checks and a diagnosis.
    Test-RhaiiDeployment -Namespace $service.Namespace -Name $service.Name | ForEach-Object Checks | Format-Table Name, Status
    $service | Test-InferenceEndpoint | Format-Table
    Get-RhaiiDiagnosis -MinimumSeverity Warning | Format-List CheckId, Message, Fix

    # 6. The same objects as files, for GitOps or review.
    New-LlmInferenceServiceSpec -Name qwen -Model $Model -Accelerator $Accelerator -Topology $gpus |
        Export-RhaiiManifest -Path (Join-Path ([IO.Path]::GetTempPath()) 'rhaii-gpu-manifests') -IncludePlatform | Format-Table Kind, Name, Path
}
finally {
    if (-not $Keep) { Remove-TpuCluster -Name $Name -Project $Project -Zone $Zone -Force -Confirm:$false -ErrorAction SilentlyContinue }
    if ($sandbox) { Stop-RhaiiSandbox -All }
}
