#Requires -Version 7.4
# Module-level contract: manifest, exports, conventions, help quality.
BeforeDiscovery {
    $script:manifestPath = $env:RHAII_MODULE_MANIFEST
    $module = Import-Module $manifestPath -PassThru -Force
    $script:commands = @(Get-Command -Module $module.Name -CommandType Cmdlet | ForEach-Object { @{ Name = $_.Name } })
}

BeforeAll {
    $script:module = Import-Module $env:RHAII_MODULE_MANIFEST -PassThru -Force
    $script:manifest = Import-PowerShellDataFile $env:RHAII_MODULE_MANIFEST
    $script:common = [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters
}

Describe 'RhaiiGke manifest' -Tag Unit {
    It 'passes Test-ModuleManifest' {
        { Test-ModuleManifest $env:RHAII_MODULE_MANIFEST -ErrorAction Stop } | Should -Not -Throw
    }
    It 'targets PowerShell 7.4+ Core' {
        $manifest.PowerShellVersion | Should -Be '7.4'
        $manifest.CompatiblePSEditions | Should -Be @('Core')
    }
    It 'lists its exports explicitly (no wildcards) and exactly the compiled cmdlets' {
        $manifest.CmdletsToExport | Should -Not -Contain '*'
        $compiled = [System.Reflection.Assembly]::LoadFrom((Join-Path $module.ModuleBase 'RhaiiGke.dll')).GetExportedTypes() |
            Where-Object { $_.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false) } |
            ForEach-Object { $a = $_.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0]; "$($a.VerbName)-$($a.NounName)" }
        @($manifest.CmdletsToExport | Sort-Object) | Should -Be @($compiled | Sort-Object)
    }
    It 'keeps third-party assemblies out of the module root' {
        $rootDlls = Get-ChildItem $module.ModuleBase -Filter *.dll | ForEach-Object Name | Sort-Object
        $rootDlls | Should -Be @('RhaiiGke.dll', 'RhaiiGke.Models.dll')
        Join-Path $module.ModuleBase 'Dependencies/YamlDotNet.dll' | Should -Exist
        Join-Path $module.ModuleBase 'Dependencies/KubernetesClient.dll' | Should -Exist
    }
}

Describe '<Name> follows the conventions' -Tag Unit -ForEach $commands {
    BeforeAll { $script:cmd = Get-Command $Name }
    It 'uses an approved verb' {
        (Get-Verb).Verb | Should -Contain $cmd.Verb
    }
    It 'declares its output types' {
        $cmd.OutputType.Count | Should -BeGreaterThan 0
        foreach ($t in $cmd.OutputType) { $t.Type | Should -Not -BeNullOrEmpty -Because "$($t.Name) must resolve to a loaded type" }
    }
    It 'supports -WhatIf when it changes state' {
        # New-*Spec commands only build an object in memory; nothing changes, so there is nothing to confirm.
        if ($cmd.Noun -notlike '*Spec' -and $cmd.Verb -in 'New', 'Set', 'Remove', 'Install', 'Uninstall', 'Deploy', 'Export', 'Start', 'Stop', 'Invoke', 'Connect', 'Add', 'Update', 'Publish', 'Register') {
            $cmd.Parameters.Keys | Should -Contain 'WhatIf'
        }
    }
    It 'has a singular noun' {
        # Plural names fixed by the product card and the issues: Install-/Uninstall-RhaiiOperators,
        # Get-InferenceMetrics, Test-RhaiiPrerequisites.
        if ($cmd.Noun -notin 'RhaiiOperators', 'InferenceMetrics', 'RhaiiPrerequisites', 'RhaiiOperatorStatus') {
            $cmd.Noun | Should -Not -Match '(?<!ss|si|u)s$' -Because 'nouns are singular'
        }
    }
}

Describe 'Help for <Name>' -Tag Unit, Help -ForEach $commands {
    BeforeAll { $script:help = Get-Help $Name -Full; $script:cmd = Get-Command $Name }
    It 'has a synopsis' {
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -Match "^\s*$Name\s*\[" -Because 'an auto-generated synopsis means the MAML was not found'
    }
    It 'has a description' {
        ($help.Description | Out-String).Trim() | Should -Not -BeNullOrEmpty
    }
    It 'has at least one example with code' {
        @($help.Examples.Example).Count | Should -BeGreaterThan 0
        $help.Examples.Example[0].Code | Should -Not -BeNullOrEmpty
    }
    It 'documents every parameter' {
        foreach ($p in $cmd.Parameters.Keys | Where-Object { $_ -notin $common }) {
            $ph = $help.Parameters.Parameter | Where-Object Name -eq $p
            ($ph.Description | Out-String).Trim() | Should -Not -BeNullOrEmpty -Because "-$p needs a description"
        }
    }
}

Describe 'about_RhaiiGke' -Tag Unit, Help {
    It 'is found by Get-Help' {
        (Get-Help about_RhaiiGke | Out-String) | Should -Match 'AssemblyLoadContext'
    }
}
