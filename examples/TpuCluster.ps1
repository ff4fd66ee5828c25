#Requires -Version 7.4
<#
.SYNOPSIS
    The cluster runbook: preflight, create a GKE cluster with a TPU pool, get credentials, price it,
    scale to zero and back, remove. Runs against the GKE API simulator unless -Project is given.
.EXAMPLE
    dotnet pwsh ./examples/TpuCluster.ps1 -ModuleManifest ./out/RhaiiGke/RhaiiGke.psd1
.EXAMPLE
    ./examples/TpuCluster.ps1 -Project my-project -Zone europe-west4-a -Keep   # real cloud (ADC), keeps the cluster
#>
param(
    [string]$ModuleManifest = (Join-Path $PSScriptRoot '../out/RhaiiGke/RhaiiGke.psd1'),
    [string]$Project,
    [string]$Zone = 'europe-west4-a',
    [string]$Name = 'rhaii-demo',
    [string]$Topology = '2x2',
    [switch]$Keep
)
$ErrorActionPreference = 'Stop'
Import-Module $ModuleManifest
$sandbox = $null
if (-not $Project) {
    # No cloud: a GKE sandbox simulates the GKE, Compute and Service Usage APIs on loopback and points this
    # session's GKE commands at it (RHAII_GKE_ENDPOINT and friends, its own token); each cluster it
    # creates is a Kubernetes sandbox with TPU nodes.
    $sandbox = Start-RhaiiSandbox -Gke -Name gke-sandbox -OperationDuration 00:00:00.3
    $Project = $sandbox.Project
    Write-Host "GKE API sandbox at $($sandbox.Server) (project $Project)"
}
try {
    $pre = Test-RhaiiPrerequisites -Project $Project -Zone $Zone -Accelerator v6e -Topology $Topology -MaxNodes 2
    $pre.Checks | Format-Table Status, Name, Message -AutoSize | Out-Host
    if (-not $pre.Passed) { throw "Preflight failed: $(($pre.Failures | ForEach-Object Name) -join ', ')" }

    $cluster = New-TpuCluster -Project $Project -Name $Name -Zone $Zone -Accelerator v6e -Topology $Topology -MaxNodes 2 -InitialNodeCount 1
    $cluster | Format-List | Out-Host
    $cluster | Get-TpuClusterCredential -Path (Join-Path ([IO.Path]::GetTempPath()) "$Name.kubeconfig") | Format-Table | Out-Host
    $cluster | Get-RhaiiCostEstimate | Format-Table | Out-Host

    $cluster | Set-TpuNodePool -ScaleToZero | Format-Table | Out-Host
    $cluster | Set-TpuNodePool -Size 1 | Format-Table | Out-Host
    if (-not $Keep) { $cluster | Remove-TpuCluster -Confirm:$false }
}
finally {
    if ($sandbox) { Stop-RhaiiSandbox -Name $sandbox.Name }
}
