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
    # Requests per tier (the baseline tier sends 10). p99 is reported from 1,000 up, where it means something;
    # below that the tiers report p95. About 40 s against the simulator at the default.
    [ValidateRange(10, 100000)]
    [int]$NumPrompts = 100
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

    # a tail percentile the sample size supports (Invoke-InferenceBenchmark warns about p99 under 1,000 requests)
    $tail = if ($NumPrompts -ge 1000) { 99 } else { 95 }
    Write-Host "`n== The runbook tiers, measured properly: 10 baseline requests, then $NumPrompts per tier at concurrency 1, 5, 10 and 20 (p$tail) =="
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    # one line per tier as it finishes: progress bars do not show when the output is not a terminal (CI logs)
    $tiers = Invoke-InferenceBenchmark -BaseUrl $BaseUrl -Profile RunbookTiers -NumPrompts $NumPrompts -InputTokens 256 -OutputTokens 32 `
        -Percentile 50, 90, $tail -Slo @{ ttft = 200; tpot = 50 } -Seed (Get-Random) -OutputDirectory $OutputPath -Label tiers -Confirm:$false |
        ForEach-Object {
            Write-Host ('  {0,-14} {1,5} ok {2,4} failed  {3,7:0.0} req/s  TTFT p50 {4,6:0.0} ms  p{5} {6,6:0.0} ms   ({7:0} s)' -f
                $_.Stage, $_.Completed, $_.Failed, $_.RequestThroughput, $_.Ttft.Median, $tail, $_.Ttft.Percentile($tail), $clock.Elapsed.TotalSeconds)
            $_
        }
    $tiers | Format-Table Stage, @{ n = 'OK'; a = 'Right'; e = { $_.Completed } }, @{ n = 'Req/s'; a = 'Right'; e = { '{0:0.00}' -f $_.RequestThroughput } },
        @{ n = 'Tok/s'; a = 'Right'; e = { '{0:0}' -f $_.OutputThroughput } }, @{ n = 'TTFT50'; a = 'Right'; e = { '{0:0.0}' -f $_.Ttft.Median } },
        @{ n = "TTFT$tail"; a = 'Right'; e = { '{0:0.0}' -f $_.Ttft.Percentile($tail) } }, @{ n = "E2E$tail"; a = 'Right'; e = { '{0:0.0}' -f $_.E2el.Percentile($tail) } },
        @{ n = 'Conc'; a = 'Right'; e = { '{0:0.0}' -f $_.AchievedConcurrency } }, @{ n = 'Good%'; a = 'Right'; e = { if ($null -ne $_.GoodputPercent) { '{0:0.#}' -f $_.GoodputPercent } } } | Out-Host

    $report = $tiers | Export-InferenceBenchmarkReport -Path (Join-Path $OutputPath 'tiers.html') -Title 'Runbook tiers' -PassThru -Confirm:$false
    Write-Host "Report: $($report.FullName)"
    Write-Host "Files:  $($tiers[0].RequestLogPath), $($tiers[0].CsvPath)"
}
finally {
    if ($sim) { $sim | Stop-InferenceSimulator }
}
