<#
.SYNOPSIS
    The runbooks' endpoint test, cache-routing test and Apache Bench tiers, done with the inference
    commands against the vLLM simulator (or a real endpoint with -BaseUrl and -PodUrl).
.EXAMPLE
    dotnet pwsh ./examples/InferenceBenchmark.ps1 -OutputPath ./out/inference
.EXAMPLE
    dotnet pwsh ./examples/InferenceBenchmark.ps1 -BaseUrl https://gateway.example.com/qwen -PodUrl http://127.0.0.1:8001, http://127.0.0.1:8002
#>
param(
    [string]$ModuleManifest = (Join-Path $PSScriptRoot '../out/RhaiiGke/RhaiiGke.psd1'),
    [string]$OutputPath = (Join-Path $PSScriptRoot '../out/inference'),
    # A real endpoint; without it a four-replica simulator with small-model latencies stands in.
    [string]$BaseUrl,
    [string[]]$PodUrl = @(),
    [int]$NumPrompts = 300
)
$ErrorActionPreference = 'Stop'
Import-Module $ModuleManifest -Force
$sim = $null
if (-not $BaseUrl) {
    # H100-class 3B model at batch 1 (llm-d-inference-sim latency profiles), slowing down 2x at 32 running requests.
    $sim = Start-InferenceSimulator -Replicas 4 -TimeToFirstToken 40 -PrefillTimePerToken 0.05 -InterTokenLatency 8 -LoadFactor 2 -MaxNumSeqs 32
    $BaseUrl = $sim.BaseUrl
    $PodUrl = $sim.ReplicaUrls
}
try {
    Write-Host "`n== Endpoint checks ($BaseUrl) =="
    $check = Test-InferenceEndpoint -BaseUrl $BaseUrl -WarningAction SilentlyContinue
    $check.Checks | Format-Table | Out-Host
    if (-not $check.Passed) { throw "The endpoint failed: $($check.FailedChecks -join ', ')" }

    Write-Host "== Does the gateway route shared prefixes to warm pods? =="
    $routing = Test-InferenceCacheRouting -BaseUrl $BaseUrl -PodUrl $PodUrl -WarningAction SilentlyContinue
    $routing.Phases | Format-Table | Out-Host
    $routing.Evidence | ForEach-Object { Write-Host "  $_" }

    Write-Host "`n== The runbook tiers, measured properly =="
    $tiers = Invoke-InferenceBenchmark -BaseUrl $BaseUrl -Profile RunbookTiers -NumPrompts $NumPrompts -InputTokens 256 -OutputTokens 32 `
        -Slo @{ ttft = 200; tpot = 50 } -Seed (Get-Random) -OutputDirectory $OutputPath -Label tiers -Confirm:$false
    $tiers | Format-Table | Out-Host

    $report = $tiers | Export-InferenceBenchmarkReport -Path (Join-Path $OutputPath 'tiers.html') -Title 'Runbook tiers' -PassThru -Confirm:$false
    Write-Host "Report: $($report.FullName)"
    Write-Host "Files:  $($tiers[0].RequestLogPath), $($tiers[0].CsvPath)"
}
finally {
    if ($sim) { $sim | Stop-InferenceSimulator }
}
