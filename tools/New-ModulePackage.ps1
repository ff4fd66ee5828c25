#Requires -Version 7.4
<#
.SYNOPSIS
    Packages a laid-out RhaiiGke module (build.ps1 -Task Build output) for PowerShell repositories.
.DESCRIPTION
    Writes <OutputPath>/RhaiiGke/<version>/ (the module without .pdb files, with CHANGELOG.md), a zip of it, and
    <OutputPath>/RhaiiGke.<version>.nupkg made by PSResourceGet's Compress-PSResource: the file Install-PSResource
    installs from a local folder repository (Register-PSResourceRepository -Uri <folder>) and Publish-PSResource
    pushes to a NuGet feed. The packaged manifest's ReleaseNotes are the changelog's section for the version.
    Stops on any Test-ModuleManifest error or warning, and when help, formats, types or the about topic are missing.
    build.ps1 -Task Package runs it; the package tests run it on the module under test.
.EXAMPLE
    ./tools/New-ModulePackage.ps1 -ModulePath ./out/RhaiiGke -OutputPath ./out/package
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)][string]$ModulePath,
    [Parameter(Mandatory)][string]$OutputPath,
    [string]$ChangelogPath = (Join-Path (Split-Path -Parent $PSScriptRoot) 'CHANGELOG.md')
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

$ModulePath = (Resolve-Path -LiteralPath $ModulePath).ProviderPath
$manifestPath = Join-Path $ModulePath 'RhaiiGke.psd1'
$data = Import-PowerShellDataFile -LiteralPath $manifestPath
$version = $data.ModuleVersion
if (Test-Path -LiteralPath $OutputPath) { Remove-Item -LiteralPath $OutputPath -Recurse -Force }
$root = New-Item -ItemType Directory -Force -Path (Join-Path $OutputPath 'RhaiiGke')
$pkg = New-Item -ItemType Directory -Force -Path (Join-Path $root.FullName $version)
Copy-Item -Path (Join-Path $ModulePath '*') -Destination $pkg.FullName -Recurse
Get-ChildItem -LiteralPath $pkg.FullName -Recurse -Filter '*.pdb' | Remove-Item

# the changelog ships in the module folder, and its section for this version is the package's release notes
if (-not (Test-Path -LiteralPath $ChangelogPath)) { throw "package: $ChangelogPath is missing; every package carries its changelog." }
Copy-Item -LiteralPath $ChangelogPath -Destination (Join-Path $pkg.FullName 'CHANGELOG.md')
$changelog = Get-Content -LiteralPath $ChangelogPath -Raw
$section = [regex]::Match($changelog, "(?ms)^## \[$([regex]::Escape($version))\][^\n]*\n(.*?)(?=^## |\z)")
if (-not $section.Success) { throw "package: $ChangelogPath has no '## [$version]' section for this version." }
$notes = "$version`n`n$($section.Groups[1].Value.Trim())`n`nFull history: CHANGELOG.md in the module folder."
$packagedManifest = Join-Path $pkg.FullName 'RhaiiGke.psd1'
$text = Get-Content -LiteralPath $packagedManifest -Raw
$pattern = "(?m)^(\s*ReleaseNotes\s*=\s*)'(?:[^']|'')*'"
if ($text -notmatch $pattern) { throw "package: the manifest has no single-quoted ReleaseNotes entry to fill in." }
$text = [regex]::Replace($text, $pattern, { param($m) $m.Groups[1].Value + "'" + $notes.Replace("'", "''") + "'" })
[IO.File]::WriteAllText($packagedManifest, $text, [Text.UTF8Encoding]::new($false))

# what a consumer needs besides the assemblies
$required = @('RhaiiGke.dll', 'RhaiiGke.Models.dll', 'Dependencies/RhaiiGke.Engine.dll', 'en-US/RhaiiGke.dll-Help.xml', 'en-US/about_RhaiiGke.help.txt', 'CHANGELOG.md') +
    @($data['FormatsToProcess'] | Where-Object { $_ }) + @($data['TypesToProcess'] | Where-Object { $_ })
$missing = @($required | Where-Object { -not (Test-Path -LiteralPath (Join-Path $pkg.FullName $_)) })
if ($missing.Count -gt 0) { throw "package: missing from $($pkg.FullName): $($missing -join ', ')" }

$warnings = $null
$null = Test-ModuleManifest -Path $packagedManifest -WarningVariable warnings -WarningAction SilentlyContinue -ErrorAction Stop
if ($warnings) { throw "package: Test-ModuleManifest warns: $($warnings -join '; ')" }

$zip = Join-Path $OutputPath "RhaiiGke-$version.zip"
Compress-Archive -Path $root.FullName -DestinationPath $zip -Force

Import-Module Microsoft.PowerShell.PSResourceGet -ErrorAction Stop
Compress-PSResource -Path $pkg.FullName -DestinationPath $OutputPath
$nupkg = Join-Path $OutputPath "RhaiiGke.$version.nupkg"
if (-not (Test-Path -LiteralPath $nupkg)) { throw "package: Compress-PSResource wrote no $nupkg" }

[pscustomobject]@{ Version = $version; ModulePath = $pkg.FullName; Zip = $zip; Nupkg = $nupkg }
