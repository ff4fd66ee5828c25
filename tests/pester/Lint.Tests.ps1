#Requires -Version 7.4
# Module-level: Test-LlmInferenceServiceManifest from the built module, through pipelines and format views.
BeforeAll {
    Import-Module $env:RHAII_MODULE_MANIFEST -Force
    $script:fixtures = Join-Path $PSScriptRoot '../RhaiiGke.Tests/Lint/Fixtures'
    $script:seed004 = Join-Path $fixtures 'seed004-pattern1.yaml'
    $script:work = Join-Path ([IO.Path]::GetTempPath()) "rhaii-lint-pester-$([guid]::NewGuid().ToString('n'))"
    $null = New-Item -ItemType Directory -Path $work
}
AfterAll {
    Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Test-LlmInferenceServiceManifest' -Tag Unit, Lint {
    It 'finds the runbook mistakes in the seed 004 Pattern 1 manifest' {
        $f = Test-LlmInferenceServiceManifest -Path $seed004
        $f.Count | Should -Be 9
        $f[0].PSObject.TypeNames[0] | Should -Be 'RhaiiGke.ManifestFinding'
        $label = $f | Where-Object RuleId -eq 'RHAII001'
        $label.Fix | Should -Match 'tpu-v6e-slice'
        $label.ObjectPath | Should -Be "spec.template.nodeSelector['cloud.google.com/gke-tpu-accelerator']"
        ($f | Where-Object Severity -eq 'Error').RuleId | Sort-Object -Unique | Should -Be @('RHAII001', 'RHAII102', 'RHAII104', 'RHAII202')
    }

    It 'formats findings as a table grouped by file, and as a list with the fix' {
        $table = Test-LlmInferenceServiceManifest -Path $seed004 | Out-String -Width 200
        $table | Should -Match 'File: .*seed004-pattern1\.yaml'
        $table | Should -Match 'Line\s+Severity\s+RuleId\s+Name\s+Message'
        $table | Should -Match 'qwen2-3b-pattern1'
        $list = Test-LlmInferenceServiceManifest -Path $seed004 -IncludeRule RHAII001 | Format-List | Out-String -Width 200
        $list | Should -Match 'Fix\s+: Set cloud\.google\.com/gke-tpu-accelerator: tpu-v6e-slice\.'
        $list | Should -Match 'Location\s+: seed004-pattern1\.yaml:\d+'
        $list | Should -Match 'Object\s+: LLMInferenceService/qwen2-3b-pattern1'
    }

    It 'takes files from Get-ChildItem and summarises per file' {
        $r = Get-ChildItem $fixtures -Filter 'seed*.yaml' | Test-LlmInferenceServiceManifest -Summary
        $r.Count | Should -Be 2
        $r[0].PSObject.TypeNames[0] | Should -Be 'RhaiiGke.TestManifestResult'
        ($r | Out-String) | Should -Match 'Passed\s+: False\s+Errors\s+: \d+\s+Warnings\s+: \d+'
        @($r | Where-Object Passed).Count | Should -Be 0
    }

    It 'lints Export-RhaiiManifest output written to disk without findings' {
        $files = Export-RhaiiManifest -Pattern CacheAware -Path (Join-Path $work cache) -WarningAction SilentlyContinue
        $files | Test-LlmInferenceServiceManifest | Should -BeNullOrEmpty
        Test-LlmInferenceServiceManifest (Join-Path $work cache) -Quiet | Should -BeTrue
    }

    It 'reports unparsable YAML as a non-terminating error and goes on' {
        $out = Test-LlmInferenceServiceManifest (Join-Path $fixtures 'invalid.yaml'), (Join-Path $fixtures 'gs-uri.yaml') -ErrorVariable ev -ErrorAction SilentlyContinue
        $ev.Count | Should -Be 1
        $ev[0].FullyQualifiedErrorId | Should -BeLike 'ManifestYamlInvalid,*'
        $out.RuleId | Should -Be 'RHAII301'
    }

    It 'stops with ManifestPathNotFound for a missing path' {
        { Test-LlmInferenceServiceManifest (Join-Path $work 'nope.yaml') -ErrorAction Stop } |
            Should -Throw -ErrorId 'ManifestPathNotFound,RhaiiGke.Cmdlets.Manifests.TestLlmInferenceServiceManifestCommand'
    }

    It 'gates on errors with -Severity Error -Quiet' {
        Test-LlmInferenceServiceManifest (Join-Path $fixtures 'dtype-half.yaml') -Severity Error -Quiet | Should -BeTrue
        Test-LlmInferenceServiceManifest $seed004 -Severity Error -Quiet | Should -BeFalse
    }
}
