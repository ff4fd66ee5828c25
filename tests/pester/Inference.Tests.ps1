#Requires -Version 7.4
# Module-level: the inference commands against the in-process vLLM simulator, end to end through pipelines.
BeforeAll {
    Import-Module $env:RHAII_MODULE_MANIFEST -Force
    $script:sim = Start-InferenceSimulator -Replicas 2 -Name pester
}
AfterAll {
    if ($sim) { $sim | Stop-InferenceSimulator }
}

Describe 'Start-InferenceSimulator' -Tag Unit, Inference {
    It 'returns a formatted simulator on loopback' {
        $sim.BaseUrl | Should -Match '^http://127\.0\.0\.1:\d+$'
        $sim.PSObject.TypeNames[0] | Should -Be 'RhaiiGke.InferenceSimulator'
        ($sim | Format-Table | Out-String) | Should -Match 'pester'
    }
    It 'answers an OpenAI chat request with the pod header' {
        $body = @{ model = $sim.Model; messages = @(@{ role = 'user'; content = 'hello there' }); max_tokens = 3 } | ConvertTo-Json -Depth 5
        $r = Invoke-WebRequest -Uri "$($sim.BaseUrl)/v1/chat/completions" -Method Post -Body $body -ContentType 'application/json'
        ($r.Content | ConvertFrom-Json).usage.completion_tokens | Should -Be 3
        $r.Headers['x-inference-pod'] | Should -BeIn $sim.PodNames
    }
}

Describe 'Inference pipelines' -Tag Unit, Inference {
    It 'pipes a simulator into Test-InferenceEndpoint' {
        $r = $sim | Test-InferenceEndpoint -WarningAction SilentlyContinue
        $r.Passed | Should -BeTrue -Because ($r.Checks | Out-String)
        ($r.Checks | Format-Table | Out-String) | Should -Match 'StreamingFraming'
    }
    It 'pipes a simulator into Invoke-InferenceBenchmark and formats the stages' {
        $runs = $sim | Invoke-InferenceBenchmark -Concurrency 1, 2 -NumPrompts 10 -InputTokens 16 -OutputTokens 4
        $runs.Count | Should -Be 2
        $runs.Stage | Should -Be @('concurrency-1', 'concurrency-2')
        ($runs | Format-Table | Out-String) | Should -Match 'TTFT50'
        $runs[1].Itl.Count | Should -Be 30
    }
    It 'reads metric deltas after a run' {
        $before = $sim | Get-InferenceMetrics -Name 'vllm:generation_tokens_total'
        $null = $sim | Invoke-InferenceBenchmark -NumPrompts 5 -OutputTokens 3 -Warmups 0
        $after = $sim | Get-InferenceMetrics -Name 'vllm:generation_tokens_total' -Since $before
        ($after | Measure-Object Delta -Sum).Sum | Should -Be 15
    }
}

Describe 'Cache routing, reports and comparisons' -Tag Unit, Inference {
    It 'proves prefix-aware routing on the simulator' {
        $r = $sim | Test-InferenceCacheRouting -Groups 2 -RequestsPerGroup 4 -PrefixTokens 200 -Seed 4 -WarningAction SilentlyContinue
        $r.Passed | Should -BeTrue -Because ($r.Evidence -join '; ')
        $r.Phases.Count | Should -Be 4
    }
    It 'writes a report and compares two runs' {
        $a = $sim | Invoke-InferenceBenchmark -NumPrompts 5 -OutputTokens 3 -Label a
        $b = $sim | Invoke-InferenceBenchmark -NumPrompts 5 -OutputTokens 3 -Label b
        $file = @($a; $b) | Export-InferenceBenchmarkReport -Path (Join-Path $TestDrive 'r.html') -PassThru
        $file.Length | Should -BeGreaterThan 1000
        $rows = $b | Compare-InferenceBenchmark -ReferenceResult $a
        $rows.Metric | Should -Contain 'request_throughput'
        ($rows | Format-Table | Out-String) | Should -Match 'Metric'
    }
}

Describe 'examples/InferenceBenchmark.ps1' -Tag Integration, Inference, Example {
    It 'prints a line per tier when its output is not a terminal, and no p99 warning caused by its own defaults' {
        $pwsh = [Environment]::ProcessPath
        $pre = @(if ([IO.Path]::GetFileNameWithoutExtension($pwsh) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
        $script = Join-Path $PSScriptRoot '../../examples/InferenceBenchmark.ps1'
        # output captured, as in CI: progress bars do not show, only what the script writes as lines
        $out = & $pwsh @pre -NoProfile -NonInteractive -File $script -ModuleManifest $env:RHAII_MODULE_MANIFEST `
            -OutputPath (Join-Path $TestDrive 'inference') -NumPrompts 20 2>&1 | Out-String
        $LASTEXITCODE | Should -Be 0 -Because $out
        foreach ($tier in 'tier-baseline', 'tier-serial', 'tier-light', 'tier-medium', 'tier-heavy') {
            $out | Should -Match "(?m)^\s+$tier\s+\d+ ok" -Because 'each tier reports when it finishes'
        }
        $out | Should -Not -Match 'p99 of \d+ requests'
        $out | Should -Match 'TTFT95'
        $out | Should -Match 'Report: .*tiers\.html'
    }
}
