#Requires -Version 7.4
# Module-level behaviour of the spec, export and diagnosis commands, through the built module.
BeforeAll {
    Import-Module $env:RHAII_MODULE_MANIFEST -Force
}

Describe 'Export-RhaiiManifest' -Tag Unit {
    It 'writes every pattern as one file per object, in apply order, and re-running converges' -ForEach @(
        @{ Pattern = 'Baseline' }, @{ Pattern = 'CacheAware' }, @{ Pattern = 'GkeNativeGateway' }
    ) {
        $dir = Join-Path $TestDrive $Pattern
        $files = @(Export-RhaiiManifest -Pattern $Pattern -Path $dir -WarningAction SilentlyContinue)
        $files.Count | Should -BeGreaterThan 5
        $files | ForEach-Object { $_ | Should -BeOfType ([RhaiiGke.ManifestFile]); $_.Path | Should -Exist }
        @($files.Order) | Should -Be @($files.Order | Sort-Object)
        $again = Export-RhaiiManifest -Pattern $Pattern -Path $dir -WarningAction SilentlyContinue -Verbose 4>&1 |
            Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -match 'file\(s\) written' }
        $again.Message | Should -Match '^0 file\(s\) written'
    }

    It 'never writes a secret value' {
        $dir = Join-Path $TestDrive 'secrets'
        Export-RhaiiManifest -Pattern CacheAware -Path $dir -WarningVariable warn -WarningAction SilentlyContinue | Out-Null
        ($warn -join ' ') | Should -Match 'REPLACE_ME'
        foreach ($f in Get-ChildItem $dir -Filter '*-secret-*') {
            (Get-Content $f -Raw) | Should -Match 'REPLACE_ME'
            (Get-Content $f -Raw) | Should -Not -Match '^\s*data:' -Because 'only stringData placeholders'
        }
    }

    It 'pipes a spec made from a CSV row' {
        $rows = @([pscustomobject]@{ Name = 'a'; Model = 'Qwen/Qwen2.5-0.5B-Instruct'; Topology = '1x1' },
                  [pscustomobject]@{ Name = 'b'; Model = 'Qwen/Qwen2.5-7B-Instruct'; Topology = '2x2' })
        $specs = $rows | New-LlmInferenceServiceSpec -WarningAction SilentlyContinue
        $specs.Count | Should -Be 2
        $specs[0].MachineType | Should -Be 'ct6e-standard-1t'
        $objs = $specs | Export-RhaiiManifest
        @($objs | Where-Object Kind -eq 'LLMInferenceService').Count | Should -Be 2
    }
}

Describe 'New-LlmInferenceServiceSpec errors' -Tag Unit {
    It 'stops a script with a stable ErrorId and a recommended action' {
        $err = $null
        try { New-LlmInferenceServiceSpec -Name q -Model https://example.com/model -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'UnsupportedModelUriScheme,*'
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err.ErrorDetails.RecommendedAction | Should -Match 'hf://'
    }
}

Describe 'Get-RhaiiDiagnosis' -Tag Unit {
    It 'finds a seeded fault in a kubectl dump folder and returns the fix' {
        $dir = New-Item -ItemType Directory (Join-Path $TestDrive 'bundle')
        @'
{"apiVersion":"v1","kind":"List","items":[
 {"apiVersion":"v1","kind":"Node","metadata":{"name":"n1","labels":{"cloud.google.com/gke-tpu-accelerator":"tpu-v6e-slice","cloud.google.com/gke-tpu-topology":"2x2"}}},
 {"apiVersion":"v1","kind":"Pod","metadata":{"name":"qwen-kserve-1","namespace":"demo"},
  "spec":{"nodeSelector":{"cloud.google.com/gke-tpu-accelerator":"tpu-v6e","cloud.google.com/gke-tpu-topology":"2x2"},
          "tolerations":[{"key":"google.com/tpu","operator":"Exists"}],
          "containers":[{"name":"main","resources":{"requests":{"google.com/tpu":"4"},"limits":{"google.com/tpu":"4"}}}]},
  "status":{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"False"}]}}]}
'@ | Set-Content (Join-Path $dir 'core.json')
        $f = @(Get-ChildItem $dir | Get-RhaiiDiagnosis)
        $f.Count | Should -Be 1
        $f[0] | Should -BeOfType ([RhaiiGke.DiagnosisFinding])
        $f[0].CheckId | Should -Be 'TpuAcceleratorLabelUnknown'
        $f[0].Fix | Should -Match 'tpu-v6e-slice'
    }
    It 'fails clearly on an unreadable file' {
        $bad = Join-Path $TestDrive 'bad.yaml'
        Set-Content $bad "key: [unclosed"
        { Get-RhaiiDiagnosis -Path $bad -ErrorAction Stop } | Should -Throw -ErrorId 'ClusterDumpUnreadable*'
    }
}
