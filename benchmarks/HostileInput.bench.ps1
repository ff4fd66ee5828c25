<#
.SYNOPSIS
    Hostile YAML (issue 10): a 342-byte "billion laughs" alias bomb and 50,000-deep nesting, given to
    lint, Deploy-LlmInferenceService -Path and the kubeconfig reader. Each case runs in its own child pwsh.
    Target: each command fails with its ErrorId within 1 s, and the child's peak working set grows by
    less than 200 MB over the same child running the command on a good file.
#>
param(
    [Parameter(Mandatory)][string]$ModuleManifest,
    [string]$OutputPath = (Join-Path $PSScriptRoot '../out/bench')
)
$ErrorActionPreference = 'Stop'
$exe = [Environment]::ProcessPath
$pre = @(if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
$dir = Join-Path ([IO.Path]::GetTempPath()) ("rhaii-hostile-bench-" + [guid]::NewGuid().ToString('n'))
$null = New-Item -ItemType Directory -Path $dir

$bomb = "a: &a [`"lol`",`"lol`",`"lol`",`"lol`",`"lol`",`"lol`",`"lol`",`"lol`",`"lol`"]`n"
foreach ($c in [char[]]'bcdefghi') {
    $prev = [char]([int]$c - 1)
    $bomb += "${c}: &$c [" + ((1..9 | ForEach-Object { "*$prev" }) -join ',') + "]`n"
}
$deep = ('[' * 50000) + (']' * 50000)
$files = @{
    bomb = $bomb
    deep = $deep
    good = "apiVersion: v1`nkind: ConfigMap`nmetadata: {name: ok}`ndata: {a: b}`n"
    'kc-bomb' = "apiVersion: v1`nkind: Config`ncurrent-context: x`n" + $bomb
    'kc-deep' = "apiVersion: v1`nkind: Config`ncurrent-context: x`npreferences: $deep`n"
    'kc-good' = "apiVersion: v1`nkind: Config`nclusters: []`ncontexts: []`nusers: []`ncurrent-context: ''`n"
}
foreach ($k in $files.Keys) { [IO.File]::WriteAllText((Join-Path $dir "$k.yaml"), $files[$k]) }

# One child per case: import, set up, then time the command alone and report the peak working set.
function Measure-Case([string]$Setup, [string]$Command) {
    $script = @"
Import-Module '$ModuleManifest'
$Setup
`$id = ''
`$sw = [Diagnostics.Stopwatch]::StartNew()
try { $Command -ErrorAction Stop | Out-Null } catch { `$id = (`$_.FullyQualifiedErrorId -split ',')[0] }
`$ms = `$sw.Elapsed.TotalMilliseconds
`$p = [Diagnostics.Process]::GetCurrentProcess(); `$p.Refresh()
'{0}|{1}|{2}' -f `$id, `$ms, `$p.PeakWorkingSet64
"@
    $out = & $exe @pre -NoProfile -NonInteractive -Command $script
    $last = @($out)[-1] -split '\|'
    [pscustomobject]@{ ErrorId = $last[0]; Ms = [double]$last[1]; PeakMB = [math]::Round([double]$last[2] / 1MB, 1) }
}

$sandbox = "`$null = Start-RhaiiSandbox -Name hostile-bench -CpuNodes 1"
$cases = @(
    @{ Name = 'Lint'; Setup = ''; Command = { param($f) "Test-LlmInferenceServiceManifest -Path '$dir/$f.yaml'" }; Files = 'bomb', 'deep', 'good' }
    @{ Name = 'DeployPath'; Setup = $sandbox; Command = { param($f) "Deploy-LlmInferenceService -Path '$dir/$f.yaml' -Confirm:`$false" }; Files = 'bomb', 'deep', 'good' }
    @{ Name = 'Kubeconfig'; Setup = ''; Command = { param($f) "Connect-RhaiiCluster -Kubeconfig '$dir/kc-$f.yaml' -NoDefault" }; Files = 'bomb', 'deep', 'good' }
)
$rows = foreach ($case in $cases) {
    $m = @{}
    foreach ($f in $case.Files) { $m[$f] = Measure-Case $case.Setup (& $case.Command $f) }
    foreach ($f in 'bomb', 'deep') {
        [pscustomobject]@{
            Reader      = $case.Name
            Input       = $f
            ErrorId     = $m[$f].ErrorId
            Ms          = [math]::Round($m[$f].Ms, 1)
            PeakMB      = $m[$f].PeakMB
            BaselinePeakMB = $m['good'].PeakMB
            GrowthMB    = [math]::Round($m[$f].PeakMB - $m['good'].PeakMB, 1)
            Met         = $m[$f].ErrorId -in 'YamlAliasExpansionTooLarge', 'YamlNestingTooDeep' -and $m[$f].Ms -lt 1000 -and ($m[$f].PeakMB - $m['good'].PeakMB) -lt 200
        }
    }
}
Remove-Item -Recurse -Force $dir
$result = [pscustomobject]@{
    Benchmark = 'HostileInput'
    Target    = 'ErrorId within 1 s and < 200 MB peak growth for every reader'
    Met       = -not ($rows | Where-Object { -not $_.Met })
    Cases     = $rows
}
$null = New-Item -ItemType Directory -Force -Path $OutputPath
$result | ConvertTo-Json -Depth 4 | Set-Content (Join-Path $OutputPath 'hostile-input.json')
$rows | Format-Table -AutoSize | Out-Host
