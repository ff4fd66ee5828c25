#Requires -Version 7.4
# The module must import next to another module that already loaded a different YamlDotNet, and its own
# third-party assemblies must live in the RhaiiGke AssemblyLoadContext. Each case runs in a fresh pwsh.
BeforeAll {
    $script:pwsh = [Environment]::ProcessPath
    $script:pre = @(if ([IO.Path]::GetFileNameWithoutExtension($pwsh) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
    $packages = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { ((& dotnet nuget locals global-packages --list) -replace '^global-packages:\s*', '').Trim() }
    $script:oldYaml = Get-ChildItem (Join-Path $packages 'yamldotnet/11.2.1/lib') -Recurse -Filter YamlDotNet.dll |
        Where-Object { $_.FullName -match 'netstandard2\.[01]' } | Select-Object -First 1 -ExpandProperty FullName
    function Invoke-Fresh([string]$Script) {
        $out = & $pwsh @pre -NoProfile -NonInteractive -Command $Script 2>&1
        [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = ($out | Out-String) }
    }
}

Describe 'Assembly isolation' -Tag Unit, Isolation {
    It 'has an old YamlDotNet to load first' {
        $oldYaml | Should -Exist
    }
    It 'imports after YamlDotNet 11 was loaded and uses its own YamlDotNet 18 in the RhaiiGke context' {
        $r = Invoke-Fresh @"
`$ErrorActionPreference = 'Stop'
Add-Type -Path '$oldYaml'
Import-Module '$env:RHAII_MODULE_MANIFEST'
`$null = Get-TpuTopology -Accelerator v6e
if (Get-Command Export-RhaiiManifest -ErrorAction SilentlyContinue) {
    `$null = New-LlmInferenceServiceSpec -Name iso -Model hf://Qwen/Qwen2.5-3B-Instruct -Accelerator v6e -Topology 2x2 | Export-RhaiiManifest
}
foreach (`$a in [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -in 'YamlDotNet', 'RhaiiGke.Engine', 'RhaiiGke.Models' }) {
    '{0}|{1}|{2}' -f `$a.GetName().Name, `$a.GetName().Version.Major, [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext(`$a).Name
}
"@
        $r.ExitCode | Should -Be 0 -Because $r.Output
        $r.Output | Should -Match 'YamlDotNet\|11\|Default'
        $r.Output | Should -Match 'RhaiiGke\.Engine\|0\|RhaiiGke'
        $r.Output | Should -Match 'YamlDotNet\|18\|RhaiiGke'
        $r.Output | Should -Match 'RhaiiGke\.Models\|0\|Default'
    }
    It 'lets another YamlDotNet load after RhaiiGke' {
        $r = Invoke-Fresh @"
`$ErrorActionPreference = 'Stop'
Import-Module '$env:RHAII_MODULE_MANIFEST'
`$null = Get-TpuTopology -Accelerator v6e
Add-Type -Path '$oldYaml'
[YamlDotNet.Serialization.SerializerBuilder]::new().Build().Serialize(@{ a = 1 })
"@
        $r.ExitCode | Should -Be 0 -Because $r.Output
        $r.Output | Should -Match 'a: 1'
    }
    It 're-imports with -Force' {
        $r = Invoke-Fresh "Import-Module '$env:RHAII_MODULE_MANIFEST'; Import-Module '$env:RHAII_MODULE_MANIFEST' -Force; (Get-TpuTopology -Accelerator v6e -Topology 2x2).MachineType"
        $r.ExitCode | Should -Be 0 -Because $r.Output
        $r.Output.Trim() | Should -Be 'ct6e-standard-4t'
    }
}

Describe 'Simulators load on first use' -Tag Unit, Isolation {
    It 'does not load RhaiiGke.Sandbox for ordinary commands, and loads it into the RhaiiGke context when a simulator starts' {
        $r = Invoke-Fresh @"
`$ErrorActionPreference = 'Stop'
function Test-Loaded { [bool]([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -eq 'RhaiiGke.Sandbox' }) }
Import-Module '$env:RHAII_MODULE_MANIFEST'
'import|{0}' -f (Test-Loaded)
`$null = Get-TpuTopology -Accelerator v6e
`$null = New-LlmInferenceServiceSpec -Name lazy -Model hf://Qwen/Qwen2.5-3B-Instruct -Accelerator v6e -Topology 2x2 | Export-RhaiiManifest
# Reading the simulator commands' parameters must not load their implementation either.
`$null = Get-Command Start-RhaiiSandbox, Stop-RhaiiSandbox, Start-InferenceSimulator, Stop-InferenceSimulator -Syntax
`$null = Get-Help Start-InferenceSimulator -Parameter Replicas
'commands|{0}' -f (Test-Loaded)
`$sim = Start-InferenceSimulator -Replicas 1
try {
    `$a = [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -eq 'RhaiiGke.Sandbox' }
    'started|{0}|{1}' -f (Test-Loaded), [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext(`$a).Name
    'engine-refs|{0}' -f ((`$a.GetReferencedAssemblies().Name -contains 'RhaiiGke.Engine'))
} finally { `$sim | Stop-InferenceSimulator }
"@
        $r.ExitCode | Should -Be 0 -Because $r.Output
        $r.Output | Should -Match 'import\|False'
        $r.Output | Should -Match 'commands\|False'
        $r.Output | Should -Match 'started\|True\|RhaiiGke'
        $r.Output | Should -Match 'engine-refs\|False'
    }
}
