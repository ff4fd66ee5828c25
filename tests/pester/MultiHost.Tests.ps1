#Requires -Version 7.4
# examples/MultiHost.ps1 as a user runs it: a 72B model sized to a v6e 4x4 slice, deployed on the sandbox as one
# LeaderWorkerSet group (leader + 3 workers on the slice's 4 hosts), Test-RhaiiDeployment with traffic through the
# gateway, then one worker pod deleted: the whole group is recreated and the service passes again.
BeforeAll {
    Import-Module $env:RHAII_MODULE_MANIFEST -Force
}

Describe 'examples/MultiHost.ps1' -Tag Integration, Example, MultiHost {
    It 'deploys a 4-host group, passes Test-RhaiiDeployment, and passes again after a worker is deleted' {
        $example = Join-Path $PSScriptRoot '../../examples/MultiHost.ps1'
        $all = & $example -ModuleManifest $env:RHAII_MODULE_MANIFEST -SandboxName pester-multihost -ControllerDelay 00:00:00.01 6>&1
        $text = ($all | Where-Object { $_ -is [System.Management.Automation.InformationRecord] } | ForEach-Object { "$($_.MessageData)" }) -join "`n"
        $check = $all | Where-Object { $_ -isnot [System.Management.Automation.InformationRecord] } | Select-Object -Last 1
        $text | Should -Match 'Test-RhaiiDeployment after deploy: Passed=True'
        $text | Should -Match 'Deleting worker pod big-kserve-mn-0-\d'
        $text | Should -Match 'Group recreated: leader big-kserve-mn-0 is a new pod'
        $check.Passed | Should -BeTrue
        ($check.Checks | Where-Object Name -eq GatewayCompletion).Status | Should -Be 'Passed'
    }
}
