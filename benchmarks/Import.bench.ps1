<#
.SYNOPSIS
    Import-Module cost as a ratio to a bare pwsh start, both measured in this run.
    Target: importing RhaiiGke (and running its first command) adds under 25% to a bare start.
#>
param(
    [Parameter(Mandatory)][string]$ModuleManifest,
    [string]$OutputPath = (Join-Path $PSScriptRoot '../out/bench'),
    [int]$Runs = 7
)
$ErrorActionPreference = 'Stop'
$exe = [Environment]::ProcessPath
$pre = @(if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })

function Measure-Start([string]$Command) {
    $times = foreach ($i in 1..$Runs) {
        $sw = [Diagnostics.Stopwatch]::StartNew()
        & $exe @pre -NoProfile -NonInteractive -Command $Command | Out-Null
        if ($LASTEXITCODE -ne 0) { throw "child pwsh failed: $Command" }
        $sw.Elapsed.TotalMilliseconds
    }
    $sorted = @($times | Sort-Object)
    $sorted[[int][math]::Floor($sorted.Count / 2)]   # median
}

$null = Measure-Start '1'   # warm the file cache once
$bare = Measure-Start '1'
$import = Measure-Start "Import-Module '$ModuleManifest'"
$firstCommand = Measure-Start "Import-Module '$ModuleManifest'; `$null = Get-TpuTopology -Accelerator v6e"
$result = [pscustomobject]@{
    Benchmark           = 'Import'
    Runs                = $Runs
    BareStartMs         = [math]::Round($bare, 1)
    ImportMs            = [math]::Round($import, 1)
    ImportAndCommandMs  = [math]::Round($firstCommand, 1)
    ImportRatio         = [math]::Round($import / $bare, 3)
    ImportAndCommandRatio = [math]::Round($firstCommand / $bare, 3)
    Target              = 'ImportRatio < 1.25'
    Met                 = ($import / $bare) -lt 1.25
}
$null = New-Item -ItemType Directory -Force -Path $OutputPath
$result | ConvertTo-Json | Set-Content (Join-Path $OutputPath 'import.json')
$result | Format-List | Out-Host
