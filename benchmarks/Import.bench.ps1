<#
.SYNOPSIS
    Import-Module cost as a ratio to a bare pwsh start, both measured in this run.
.DESCRIPTION
    Four child processes, interleaved round by round (bare, import, import + first command, an empty binary
    module's import, bare, ...) so that a burst of load on a shared machine hits all of them alike; each figure is the best (lowest)
    of -Runs, the start-up cost without the noise. Goal: importing RhaiiGke at most 1.1x a bare start.
    Import plus the first command (Get-TpuTopology) is reported beside it, with the assemblies the
    import loaded (the sandbox, simulators and clients load only when first used).
#>
param(
    [Parameter(Mandatory)][string]$ModuleManifest,
    [string]$OutputPath = (Join-Path $PSScriptRoot '../out/bench'),
    [int]$Runs = 9
)
$ErrorActionPreference = 'Stop'
$ModuleManifest = (Resolve-Path $ModuleManifest).Path
$exe = [Environment]::ProcessPath
$pre = @(if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })

function Measure-Once([string]$Command) {
    # Under bash so that 'times' gives the child's CPU seconds beside the wall time; CPU time is the
    # steadier figure on a loaded machine (waiting for a core does not count).
    $args1 = @($pre + @('-NoProfile', '-NonInteractive', '-Command', $Command) | ForEach-Object { "'" + ($_ -replace "'", "'\''") + "'" }) -join ' '
    $sw = [Diagnostics.Stopwatch]::StartNew()
    $out = & bash -c "'$exe' $args1 >/dev/null || exit 1; times"
    if ($LASTEXITCODE -ne 0) { throw "child pwsh failed: $Command" }
    $ms = $sw.Elapsed.TotalMilliseconds
    $cpu = 0.0
    if ("$($out | Select-Object -Last 1)" -match '(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s') { $cpu = ([double]$Matches[1] * 60 + [double]$Matches[2] + [double]$Matches[3] * 60 + [double]$Matches[4]) * 1000 }
    [pscustomobject]@{ Ms = $ms; CpuMs = $cpu }
}

# PowerShell's own floor: an empty binary module of the same shape (a manifest whose RootModule is a compiled
# assembly with one cmdlet, no format or type files). Most of an import is PowerShell JIT-compiling its own
# module-loading code on first use (manifest parsing and evaluation, path resolution, export matching, the
# module-load telemetry), which every binary module pays; RhaiiGke's own share is Import less Floor.
$floorDir = Join-Path ([IO.Path]::GetTempPath()) "rhaii-import-floor-$PID"
$null = New-Item -ItemType Directory -Force -Path $floorDir
Add-Type -OutputAssembly (Join-Path $floorDir 'Floor.dll') -TypeDefinition @'
using System.Management.Automation;
[Cmdlet(VerbsCommon.Get, "ImportFloor")]
public sealed class GetImportFloorCommand : PSCmdlet { protected override void ProcessRecord() => WriteObject(1); }
'@
Set-Content (Join-Path $floorDir 'Floor.psd1') "@{ RootModule = 'Floor.dll'; ModuleVersion = '1.0.0'; GUID = '6f3c1d2e-0b7a-4c55-9e1f-2a8d4b6c7e90'; CmdletsToExport = @('Get-ImportFloor'); FunctionsToExport = @(); AliasesToExport = @(); VariablesToExport = @() }"
$floorManifest = Join-Path $floorDir 'Floor.psd1'

$commands = [ordered]@{
    Bare             = '1'
    Import           = "Import-Module '$ModuleManifest'"
    ImportAndCommand = "Import-Module '$ModuleManifest'; `$null = Get-TpuTopology -Accelerator v6e"
    Floor            = "Import-Module '$floorManifest'"
}
function Load { (Get-Content /proc/loadavg -ErrorAction SilentlyContinue) -replace '^(\S+ \S+ \S+).*', '$1' }
$load0 = Load
foreach ($c in $commands.Values) { $null = Measure-Once $c }   # warm the file cache once
$times = @{}; $cpus = @{}; foreach ($k in $commands.Keys) { $times[$k] = [Collections.Generic.List[double]]::new(); $cpus[$k] = [Collections.Generic.List[double]]::new() }
foreach ($i in 1..$Runs) {
    # Rotate the order each round so that no command always runs right after another.
    $keys = @($commands.Keys)
    $rot = $i % $keys.Count
    foreach ($j in 0..($keys.Count - 1)) { $k = $keys[($j + $rot) % $keys.Count]; $m = Measure-Once $commands[$k]; $times[$k].Add($m.Ms); $cpus[$k].Add($m.CpuMs) }
}
function Best($k) { ($times[$k] | Measure-Object -Minimum).Minimum }
function BestCpu($k) { ($cpus[$k] | Measure-Object -Minimum).Minimum }
function Median($k) { $s = @($times[$k] | Sort-Object); $s[[int][math]::Floor($s.Count / 2)] }
$bare = Best 'Bare'; $import = Best 'Import'; $first = Best 'ImportAndCommand'; $floor = Best 'Floor'
Remove-Item -Recurse -Force $floorDir -ErrorAction SilentlyContinue

# What the import itself loads, in a fresh process.
$asmScript = "`$null = @([AppDomain]::CurrentDomain.GetAssemblies().GetName().Name | Where-Object { `$_ } | Sort-Object) -join ','; `$before = @([AppDomain]::CurrentDomain.GetAssemblies().GetName().Name); Import-Module '$ModuleManifest'; @([AppDomain]::CurrentDomain.GetAssemblies().GetName().Name | Where-Object { `$_ -notin `$before } | Sort-Object) -join ','"
$loaded = @((& $exe @pre -NoProfile -NonInteractive -Command $asmScript | Select-Object -Last 1) -split ',' | Where-Object { $_ })

$result = [pscustomobject]@{
    Benchmark             = 'Import'
    Runs                  = $Runs
    LoadAverage           = "$load0 -> $(Load)"
    BareStartMs           = [math]::Round($bare, 1)
    ImportMs              = [math]::Round($import, 1)
    ImportAndCommandMs    = [math]::Round($first, 1)
    ImportRatio           = [math]::Round($import / $bare, 3)
    ImportAndCommandRatio = [math]::Round($first / $bare, 3)
    MedianImportRatio     = [math]::Round((Median 'Import') / (Median 'Bare'), 3)
    # An empty binary module imported the same way: what PowerShell itself costs, whatever the module.
    FloorMs               = [math]::Round($floor, 1)
    FloorRatio            = [math]::Round($floor / $bare, 3)
    FloorCpuRatio         = if (BestCpu 'Bare') { [math]::Round((BestCpu 'Floor') / (BestCpu 'Bare'), 3) }
    BareCpuMs             = [math]::Round((BestCpu 'Bare'), 0)
    ImportCpuRatio        = if (BestCpu 'Bare') { [math]::Round((BestCpu 'Import') / (BestCpu 'Bare'), 3) }
    ImportAndCommandCpuRatio = if (BestCpu 'Bare') { [math]::Round((BestCpu 'ImportAndCommand') / (BestCpu 'Bare'), 3) }
    AssembliesLoadedByImport = $loaded
    # The engine, the sandbox's simulators and the third-party clients load on first use, never at import.
    HeavyPartsDeferred    = -not @($loaded | Where-Object { $_ -match '^(RhaiiGke\.(Engine|Sandbox)|KubernetesClient|YamlDotNet|Google\.)' })
    Goal                  = 'ImportRatio <= 1.1 (best of Runs, interleaved)'
    Met                   = ($import / $bare) -le 1.1
}
$result | Add-Member Goals ([ordered]@{ 'ImportRatio <= 1.1' = $result.Met; 'heavy parts deferred' = $result.HeavyPartsDeferred })
$null = New-Item -ItemType Directory -Force -Path $OutputPath
$result | ConvertTo-Json | Set-Content (Join-Path $OutputPath 'import.json')
$result | Format-List | Out-Host
