#Requires -Version 7.4
<#
.SYNOPSIS
    Runbook pattern "operators on a cluster" without a cloud: a local sandbox, the RHAII operators,
    their status, an idempotent re-run, kubectl against the same API, and teardown.
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

# One v6e 2x2 TPU host next to three CPU nodes, labelled and tainted as GKE does.
$sandbox = Start-RhaiiSandbox -TpuNodes 1 -Accelerator v6e -Topology 2x2 -FaultRate $FaultRate `
    -ControllerDelay $ControllerDelay -KubeconfigPath $KubeconfigPath
$sandbox | Format-Table

try {
    # What would happen, as a server-side dry run.
    $preview = Install-RhaiiOperators -Component cert-manager -WhatIf
    $preview.Components.Apply | Format-Table

    # The install: phases, readiness waits, webhook checks, retries.
    $platform = $sandbox | Install-RhaiiOperators -Verbose
    $platform
    $platform.Components.Apply | Format-Table

    # Nothing changed, so nothing is sent.
    $again = Install-RhaiiOperators
    "Second run: {0} mutating requests" -f $again.MutatingRequests

    Get-RhaiiOperatorStatus | ForEach-Object Components | Format-Table

    if (Get-Command kubectl -ErrorAction SilentlyContinue) {
        kubectl --kubeconfig $KubeconfigPath get pods -A
        kubectl --kubeconfig $KubeconfigPath get certificates,clusterissuers -A
    }

    Uninstall-RhaiiOperators -Confirm:$false | Out-Null
}
finally {
    Stop-RhaiiSandbox -Name $sandbox.Name
    Remove-Item $KubeconfigPath -ErrorAction SilentlyContinue
}
