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
$sim = $null
if (-not $Project) {
    # No cloud: start the GKE API simulator (an Engine type, so it is created by reflection) and point the
    # module at it through the documented environment variables.
    $null = Get-TpuTopology -Accelerator v6e
    $engine = [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'RhaiiGke.Engine' } | Select-Object -First 1
    $options = [Activator]::CreateInstance($engine.GetType('RhaiiGke.Engine.Simulators.Gke.GkeApiSimulatorOptions'))
    $options.OperationDuration = [timespan]::FromMilliseconds(300)
    $sim = [Activator]::CreateInstance($engine.GetType('RhaiiGke.Engine.Simulators.Gke.GkeApiSimulator'), @($options))
    foreach ($kv in $sim.EnvironmentVariables.GetEnumerator()) { Set-Item "env:$($kv.Key)" $kv.Value }
    $Project = 'sandbox-project'
    $PSDefaultParameterValues['*-Tpu*:AccessToken'] = ConvertTo-SecureString $sim.IssueToken() -AsPlainText -Force
    $PSDefaultParameterValues['Test-RhaiiPrerequisites:AccessToken'] = $PSDefaultParameterValues['*-Tpu*:AccessToken']
    Write-Host "GKE API simulator at $($sim.Url)"
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
    if ($sim) { $sim.Dispose() }
}
