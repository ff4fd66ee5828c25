#Requires -Version 7.4
# The main job (build.ps1 -Task Demo runs examples/Demo.ps1): the card end to end on a simulated project,
# as a user runs it (a child pwsh, its printed lines, files and exit code) and as a script calls it
# (-Project against a project this test simulates, with -PassThru), including its teardown on failure.
BeforeAll {
    Import-Module $env:RHAII_MODULE_MANIFEST -Force
    $script:demo = Join-Path $PSScriptRoot '../../examples/Demo.ps1'
    $script:stepNames = 'sandbox', 'preflight', 'cluster', 'credentials', 'connect', 'operators', 'deploy', 'verify',
    'endpoint', 'cache', 'benchmark', 'report', 'cost', 'teardown'

    # The step lines: "<seconds> s  <step> <text>".
    function Get-DemoLine([string[]]$Lines) {
        foreach ($l in $Lines) {
            if ($l -match '^\s*(?<s>\d+(\.\d+)?) s  (?<step>[a-z]+)\s+(?<text>.+)$') {
                [pscustomobject]@{ Step = $Matches.step; Seconds = [double]$Matches.s; Text = $Matches.text }
            }
        }
    }
}

Describe 'examples/Demo.ps1 on a simulated project, as build.ps1 -Task Demo runs it' -Tag Integration, Demo {
    BeforeAll {
        $script:out = Join-Path $TestDrive 'demo'
        # A child pwsh, as build.ps1 starts it: under 'dotnet pwsh' the process is dotnet and needs pwsh.dll.
        $exe = [Environment]::ProcessPath
        $pre = @()
        if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { $pre = @(Join-Path $PSHOME 'pwsh.dll') }
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $script:lines = @(& $exe @pre -NoProfile -NonInteractive -File $demo -ModuleManifest $env:RHAII_MODULE_MANIFEST -OutputPath $out 2>&1 | ForEach-Object { "$_" })
        $script:exitCode = $LASTEXITCODE
        $watch.Stop()
        # No timing assertion (a loaded box varies); the duration is reported for the record.
        Write-Host "Demo (child pwsh, module import included) took $([math]::Round($watch.Elapsed.TotalSeconds, 1)) s"
        $script:steps = @(Get-DemoLine $lines)
        $json = Join-Path $out 'summary.json'
        $script:summary = if (Test-Path $json) { Get-Content -Raw $json | ConvertFrom-Json }
    }

    It 'exits 0 and reports every step of the card, in order, on one line each' {
        $exitCode | Should -Be 0 -Because ($lines -join "`n")
        $steps.Step | Should -Be $stepNames
        $lines[-1] | Should -Match '^Demo done in \d+(\.\d+)? s: 14 steps\. Report: .+benchmark-report\.html$'
        $lines | Should -Not -Match '(?-i)FAILED|WARNING:'
    }

    It 'puts the figures on the lines' {
        $line = @{}; foreach ($s in $steps) { $line[$s.Step] = $s.Text }
        $line.preflight | Should -Match '^(\d+)/\1 checks passed'
        $line.cluster | Should -Match '^rhaii-demo created, RUNNING, GKE \S+: .*tpu-pool 2 x ct6e-standard-4t \(v6e 2x2, 8 chips\)'
        $line.operators | Should -Match '^cert-manager, istio, lws, kserve Ready'
        $line.deploy | Should -Match '^rhaii-inference/qwen CacheAware: 2/2 replicas Ready behind \S+ at http://'
        $line.verify | Should -Match '^(\d+)/\1 checks passed'
        $line.endpoint | Should -Match '^(\d+)/\1 checks passed.*first request \d+ ms'
        $line.cache | Should -Match '^warm requests reused \d+(\.\d)? % of their prompt tokens'
        $line.benchmark | Should -Match '^3 stages \(synchronous, throughput, rate-[\d.]+\), best [\d,]+ req/s \(\S+\), [\d,]+ output tok/s, TTFT p99 [\d,]+ ms, 0 failed$'
        $line.cost | Should -Match '^\$[\d,.]+/hour, \$[\d,.]+/month on demand \(2 x ct6e-standard-4t, 8 chips, \d{4}-\d\d-\d\d prices\); \$[\d.]+/hour at zero; \$[\d.]+ per 1M output tokens \(simulated\)$'
        $line.credentials | Should -Match '^gke_rhaii-sandbox_europe-west4-a_rhaii-demo: https://127\.0\.0\.1:\d+, token in memory until \d\d:\d\d UTC$'
        $line.teardown | Should -Match '^removed service rhaii-inference/qwen, cluster rhaii-demo, simulated project stopped; 0 cluster\(s\) left in europe-west4-a$'
    }

    It 'writes a non-empty, self-contained HTML report at the path it prints' {
        $path = ($lines[-1] -split 'Report: ')[-1]
        $path | Should -Be (Join-Path (Resolve-Path $out).Path 'benchmark-report.html')
        $steps.Where({ $_.Step -eq 'report' }).Text | Should -Match ([regex]::Escape($path))
        $html = Get-Content -Raw -LiteralPath $path
        $html.Length | Should -BeGreaterThan 1000
        $html | Should -Match '^\s*<!DOCTYPE html>'
        $html | Should -Match '</html>\s*$'
        $html | Should -Match 'synchronous'
        $html | Should -Not -Match '<script[^>]+src='
        @(Get-ChildItem $out -Filter 'demo-*.csv').Count | Should -BeGreaterThan 0
    }

    It 'records every step, its figures and the teardown in summary.json' {
        $summary | Should -Not -BeNullOrEmpty -Because ($lines -join "`n")
        $summary.passed | Should -BeTrue
        $summary.simulated | Should -BeTrue
        $summary.steps.step | Should -Be $stepNames
        @($summary.steps | Where-Object { -not $_.passed }).Count | Should -Be 0
        $summary.steps.summary | Should -Be $steps.Text
        # the small sample's p99 warning is kept here instead of on the console
        (@($summary.steps | Where-Object step -eq 'benchmark').warnings -join "`n") | Should -Match 'p99 of \d+ requests'
        Write-Host "Demo script's own duration: $($summary.durationSeconds) s ($(($summary.steps | ForEach-Object { '{0} {1}' -f $_.step, $_.seconds }) -join ', '))"
    }
}

Describe 'examples/Demo.ps1 -Project: the same script against a project it did not start' -Tag Integration, Demo {
    BeforeAll {
        Stop-RhaiiSandbox -All -ErrorAction SilentlyContinue
        # Stands in for a real project: this session's GKE commands point at it, and the script must not
        # start a simulator, nor remove anything it did not create.
        $script:gke = Start-RhaiiSandbox -Gke -Name pester-demo -Project pester-demo -OperationDuration 00:00:00.05 -ControllerDelay 00:00:00.01
        $null = New-TpuCluster -Name keep-me -Zone europe-west4-a -Accelerator v6e -Topology 1x1 -InitialNodeCount 1 -Confirm:$false
        $script:registry = [pscredential]::new('svc', (ConvertTo-SecureString 'registry-password' -AsPlainText -Force))
    }
    AfterAll {
        Stop-RhaiiSandbox -All -ErrorAction SilentlyContinue
    }

    It 'refuses a real project without registry credentials before creating anything' {
        { & $demo -ModuleManifest $env:RHAII_MODULE_MANIFEST -Project pester-demo -OutputPath (Join-Path $TestDrive 'nocred') 6>$null } |
            Should -Throw -ExpectedMessage '*needs registry.redhat.io credentials*Nothing was created*'
        (Get-TpuCluster -Zone europe-west4-a).Name | Should -Be 'keep-me'
    }

    It 'runs the card, returns its summary, and removes only what it created' {
        $out = Join-Path $TestDrive 'project'
        $r = & $demo -ModuleManifest $env:RHAII_MODULE_MANIFEST -Project pester-demo -ClusterName card -RegistryCredential $registry -OutputPath $out -NumPrompts 20 -PassThru 6>$null
        $r.Passed | Should -BeTrue
        $r.Simulated | Should -BeFalse
        $r.Project | Should -Be 'pester-demo'
        $r.Steps.Step | Should -Be ($stepNames | Where-Object { $_ -ne 'sandbox' })
        $r.Prerequisites.Passed | Should -BeTrue
        $r.TpuCluster.Name | Should -Be 'card'
        $r.LlmInferenceService.ReadyReplicas | Should -Be 2
        $r.Deployment.Passed | Should -BeTrue
        $r.Endpoint.Passed | Should -BeTrue
        $r.CacheRouting.GatewayWarmHitRate | Should -BeGreaterThan 0.5
        $r.Benchmark.Count | Should -Be 3
        ($r.Benchmark | Measure-Object Completed -Sum).Sum | Should -Be 60
        ($r.Benchmark | Measure-Object Failed -Sum).Sum | Should -Be 0
        $r.Cost.Hourly | Should -BeGreaterThan 0
        $r.Cost.CostPerMillionOutputTokens | Should -BeGreaterThan 0
        $r.ReportPath | Should -Exist
        (Get-Item $r.ReportPath).Length | Should -BeGreaterThan 1000
        $r.Teardown.Removed | Should -Be @('service rhaii-inference/qwen', 'cluster card')
        $r.Teardown.ClustersLeft | Should -Be @('keep-me')
        # the project the script was given is still there, with only the cluster it had before
        $env:RHAII_GKE_ENDPOINT | Should -Be $gke.Server
        (Get-TpuCluster -Zone europe-west4-a).Name | Should -Be 'keep-me'
    }

    It 'fails fast with the step, the error and its fix, and still removes what it created' {
        $out = Join-Path $TestDrive 'gated'
        $err = $null
        try {
            # a gated model without a Hugging Face token: the storage initializer gets 401
            & $demo -ModuleManifest $env:RHAII_MODULE_MANIFEST -Project pester-demo -ClusterName gated -Model meta-llama/Llama-3.2-1B-Instruct -RegistryCredential $registry `
                -OutputPath $out -InformationVariable info 6>$null
        }
        catch { $err = $_ }
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -BeLike 'LlmInferenceServiceModelDownloadFailed*'
        $text = @($info | ForEach-Object { "$($_.MessageData)" })
        $failed = @(Get-DemoLine $text | Where-Object Text -like 'FAILED*')
        $failed.Step | Should -Be 'deploy'
        $failed.Text | Should -Match 'FAILED \[LlmInferenceServiceModelDownloadFailed\]: .*meta-llama'
        $text | Should -Contain ($text | Where-Object { $_ -match '^\s+fix: .*HF_TOKEN' } | Select-Object -First 1)
        @(Get-DemoLine $text).Step | Should -Not -Contain 'benchmark'
        $text[-1] | Should -Match "^Demo FAILED after [\d.]+ s at step 'deploy'"
        $summary = Get-Content -Raw (Join-Path $out 'summary.json') | ConvertFrom-Json
        $summary.passed | Should -BeFalse
        $summary.error | Should -Match 'meta-llama'
        @($summary.steps | Where-Object step -eq 'teardown').summary | Should -Match '^removed service rhaii-inference/qwen, cluster gated;'
        (Get-TpuCluster -Zone europe-west4-a).Name | Should -Be 'keep-me'
    }
}
