# Runs the Pester suite in this (child) pwsh and writes a JSON summary for build.ps1.
param(
    [Parameter(Mandatory)][string]$PesterPath,
    [Parameter(Mandatory)][string]$ModuleManifest,
    [Parameter(Mandatory)][string]$SummaryPath,
    [Parameter(Mandatory)][string]$ResultPath,
    [string]$Tag
)
$ErrorActionPreference = 'Stop'
Import-Module $PesterPath
$env:RHAII_MODULE_MANIFEST = (Resolve-Path $ModuleManifest).Path
# this run's own kubeconfig (beside its results): suites running at the same time never share ~/.kube/config
$env:KUBECONFIG = Join-Path (Split-Path -Parent ([IO.Path]::GetFullPath($SummaryPath))) 'kubeconfig'

$c = New-PesterConfiguration
$c.Run.Path = $PSScriptRoot
$c.Run.PassThru = $true
$c.Output.Verbosity = 'Detailed'
$c.Output.RenderMode = 'Plaintext'
$c.TestResult.Enabled = $true
$c.TestResult.OutputFormat = 'JUnitXml'
$c.TestResult.OutputPath = $ResultPath
if ($Tag) { $c.Filter.Tag = $Tag -split ',' }
$r = Invoke-Pester -Configuration $c
[pscustomobject]@{ Passed = $r.PassedCount; Failed = $r.FailedCount + $r.FailedBlocksCount + $r.FailedContainersCount; Skipped = $r.SkippedCount } |
    ConvertTo-Json | Set-Content -LiteralPath $SummaryPath
if ($r.FailedCount + $r.FailedBlocksCount + $r.FailedContainersCount -gt 0) { exit 1 }
