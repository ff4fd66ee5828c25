# Runs in a child pwsh: imports the built module, checks docs/<Command>.md for every exported command,
# and writes en-US/RhaiiGke.dll-Help.xml. -UpdateMarkdown creates or refreshes the markdown first.
param(
    [Parameter(Mandatory)][string]$ModuleManifest,
    [Parameter(Mandatory)][string]$DocsPath,
    [switch]$UpdateMarkdown,
    # Build uses -Lenient: write MAML for what is documented and warn about the rest. The Docs task and
    # the Pester help test are strict.
    [switch]$Lenient
)
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'HelpBuilder.psm1') -Force
$module = Import-Module $ModuleManifest -PassThru -Force
$commands = @(Get-Command -Module $module.Name -CommandType Cmdlet, Function | Sort-Object Name)
$docs = @{}
$problems = [System.Collections.Generic.List[string]]::new()
foreach ($c in $commands) {
    $path = Join-Path $DocsPath "$($c.Name).md"
    if ($UpdateMarkdown) { Update-CommandMarkdown -Command $c -DocsPath $DocsPath }
    if (-not (Test-Path $path)) { $problems.Add("$($c.Name): docs/$($c.Name).md is missing (run build.ps1 -Task Docs -UpdateMarkdown to scaffold it)"); continue }
    $docs[$c.Name] = Read-CommandMarkdown $path
    foreach ($p in Test-CommandMarkdown -Command $c -Doc $docs[$c.Name]) { $problems.Add($p) }
}
if ($problems.Count) {
    $problems | ForEach-Object { Write-Host "help: $_" }
    Write-Host "help: $($problems.Count) problem(s); fix the markdown in $DocsPath"
    if (-not $Lenient) { exit 1 }
    $commands = @($commands | Where-Object { $docs.ContainsKey($_.Name) })
}
$out = Join-Path $module.ModuleBase 'en-US/RhaiiGke.dll-Help.xml'
ConvertTo-MamlHelp -Commands $commands -Docs $docs -OutFile $out
Write-Host "help: wrote $out for $($commands.Count) command(s)"
