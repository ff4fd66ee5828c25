#Requires -Version 7.4
<#
.SYNOPSIS
    Builds, tests, documents, benchmarks and packages the RhaiiGke module.
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 -Task Test
.EXAMPLE
    dotnet pwsh ./build.ps1 -Task Docs -UpdateMarkdown   # scaffold or refresh docs/<Command>.md
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Docs', 'Bench', 'Demo', 'Package', 'Clean')]
    [string]$Task = 'Build',
    [ValidateSet('Debug', 'Release')]
    [string]$Configuration = 'Release',
    # xunit filter expression (dotnet test --filter), e.g. 'FullyQualifiedName~Catalog'
    [string]$TestFilter,
    # Pester tags to run; default all
    [string[]]$PesterTag,
    [switch]$SkipXunit,
    [switch]$SkipPester,
    [switch]$UpdateMarkdown,
    # xunit tests that fail are run once more on their own; a pass there counts, and is reported as flaky
    # by name above the summary line. 0 turns the second run off.
    [ValidateRange(0, 3)]
    [int]$RetryFailed = 1,
    # Where the module and test results go (default ./out)
    [string]$OutputPath = (Join-Path $PSScriptRoot 'out')
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_NOLOGO = '1'
$env:NO_COLOR = '1'
$Root = $PSScriptRoot
$ModuleOut = Join-Path $OutputPath 'RhaiiGke'

function Invoke-Native {
    param([string]$Exe, [string[]]$Arguments, [switch]$AllowFailure)
    Write-Verbose "$Exe $($Arguments -join ' ')"
    & $Exe @Arguments | Out-Host
    if ($LASTEXITCODE -ne 0 -and -not $AllowFailure) { throw "$Exe $($Arguments[0]) failed with exit code $LASTEXITCODE" }
    $LASTEXITCODE
}

function Get-ChildPwsh {
    # Under 'dotnet pwsh' the process is dotnet; a child needs pwsh.dll as its first argument.
    $exe = [Environment]::ProcessPath
    if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { return @($exe, (Join-Path $PSHOME 'pwsh.dll')) }
    @($exe)
}

function Invoke-ChildPwsh {
    param([string[]]$Arguments, [switch]$AllowFailure)
    $cmd = Get-ChildPwsh
    $rest = @($cmd | Select-Object -Skip 1) + @('-NoProfile', '-NonInteractive') + $Arguments
    Invoke-Native -Exe $cmd[0] -Arguments $rest -AllowFailure:$AllowFailure
}

function Get-NuGetPackagesFolder {
    if ($env:NUGET_PACKAGES) { return $env:NUGET_PACKAGES }
    $line = & dotnet nuget locals global-packages --list
    ($line -replace '^global-packages:\s*', '').Trim()
}

function Invoke-Build {
    $publish = Join-Path $OutputPath 'publish'
    if (Test-Path $publish) { Remove-Item $publish -Recurse -Force }
    $null = Invoke-Native dotnet @('publish', (Join-Path $Root 'src/RhaiiGke/RhaiiGke.csproj'), '-c', $Configuration, '-o', $publish, '--nologo', '-v', 'q')
    if (Test-Path $ModuleOut) { Remove-Item $ModuleOut -Recurse -Force }
    $deps = New-Item -ItemType Directory -Force -Path (Join-Path $ModuleOut 'Dependencies')
    # Module root: the cmdlet assembly and the shared models. Everything else is isolated in Dependencies/.
    $rootFiles = 'RhaiiGke.dll', 'RhaiiGke.pdb', 'RhaiiGke.Models.dll', 'RhaiiGke.Models.pdb', 'RhaiiGke.Models.xml'
    Get-ChildItem $publish -File | ForEach-Object {
        if ($_.Name -in $rootFiles) { Copy-Item $_.FullName $ModuleOut }
        elseif ($_.Extension -in '.dll', '.pdb') { Copy-Item $_.FullName $deps }
    }
    if (Test-Path (Join-Path $publish 'runtimes')) { Copy-Item (Join-Path $publish 'runtimes') $deps -Recurse }
    Copy-Item (Join-Path $Root 'RhaiiGke.psd1') $ModuleOut
    Copy-Item (Join-Path $Root 'module/*') $ModuleOut -Recurse -Force
    Invoke-Docs -Lenient
    Write-Host "build: module laid out in $ModuleOut"
}

function Invoke-Docs([switch]$Lenient) {
    $helpArgs = @('-File', (Join-Path $Root 'tools/Build-Help.ps1'), '-ModuleManifest', (Join-Path $ModuleOut 'RhaiiGke.psd1'), '-DocsPath', (Join-Path $Root 'docs'))
    if ($UpdateMarkdown) { $helpArgs += '-UpdateMarkdown' }
    if ($Lenient) { $helpArgs += '-Lenient' }
    $null = Invoke-ChildPwsh $helpArgs
}

function Read-TrxCounts([string]$Path) {
    [xml]$trx = Get-Content -LiteralPath $Path -Raw
    $c = $trx.TestRun.ResultSummary.Counters
    # Skipped tests are counted in total but not in executed (notExecuted stays 0 in current TRX files).
    [pscustomobject]@{ Passed = [int]$c.passed; Failed = [int]$c.failed + [int]$c.error + [int]$c.timeout + [int]$c.aborted; Skipped = [int]$c.total - [int]$c.executed }
}

# The failed tests of a TRX file with the first lines of their message, so the tail of a CI log names them.
function Read-TrxFailures([string]$Path) {
    [xml]$trx = Get-Content -LiteralPath $Path -Raw
    foreach ($r in $trx.TestRun.Results.UnitTestResult) {
        if ($r.outcome -in 'Passed', 'NotExecuted') { continue }
        $msg = "$($r.Output.ErrorInfo.Message)" -split "`n" | Select-Object -First 6
        "xunit FAILED $($r.testName) ($($r.duration)): $($msg -join ' | ')"
    }
}

# The fully qualified method names (Class.Method, theory arguments dropped) of a TRX file's failed tests.
function Read-TrxFailedMethods([string]$Path) {
    [xml]$trx = Get-Content -LiteralPath $Path -Raw
    $byId = @{}
    foreach ($d in $trx.TestRun.TestDefinitions.UnitTest) { $byId[$d.id] = "$($d.TestMethod.className).$($d.TestMethod.name)" }
    @(foreach ($r in $trx.TestRun.Results.UnitTestResult) {
        if ($r.outcome -in 'Passed', 'NotExecuted') { continue }
        $byId[$r.testId]
    }) | Where-Object { $_ } | Sort-Object -Unique
}

# The skipped tests of a TRX file, one line per skip reason (xunit's Skip text) with the tests it skipped.
function Read-TrxSkips([string]$Path) {
    [xml]$trx = Get-Content -LiteralPath $Path -Raw
    $skipped = foreach ($r in $trx.TestRun.Results.UnitTestResult | Where-Object outcome -eq 'NotExecuted') {
        $reason = "$($r.Output.ErrorInfo.Message)".Trim()
        if (-not $reason) { $reason = "$($r.Output.StdOut)".Trim() }
        [pscustomobject]@{ Name = ($r.testName -split '\(')[0]; Reason = (($reason -split "`n")[0]) }
    }
    foreach ($g in $skipped | Group-Object Reason) {
        $names = @($g.Group.Name | Select-Object -Unique)
        "xunit SKIPPED $($names.Count) test(s): $(if ($g.Name) { $g.Name } else { '(no reason given)' }) [$(($names | Select-Object -First 4) -join ', ')$(if ($names.Count -gt 4) { ', ...' })]"
    }
}

# The failed tests of a Pester result file (JUnit XML, as Invoke-PesterSuite writes it; NUnit too), likewise.
function Read-PesterFailures([string]$Path) {
    [xml]$x = Get-Content -LiteralPath $Path -Raw
    foreach ($t in $x.SelectNodes('//testcase[failure or error] | //test-case[@result="Failure" or @result="Error"]')) {
        $f = if ($t.failure) { $t.failure } else { $t.error }
        $text = if ($f -is [string]) { $f } elseif ($f.message) { $f.message } else { $f.InnerText }
        $msg = "$text" -split "`n" | Select-Object -First 6
        "pester FAILED $($t.name): $($msg -join ' | ')"
    }
}

function Invoke-Test {
    Invoke-Build
    $results = Join-Path $OutputPath 'test-results'
    if (Test-Path $results) { Remove-Item $results -Recurse -Force }
    $null = New-Item -ItemType Directory -Force -Path $results
    $total = [pscustomobject]@{ Passed = 0; Failed = 0; Skipped = 0 }
    $problems = [System.Collections.Generic.List[string]]::new()

    if (-not $SkipXunit) {
        $testArgs = @('test', (Join-Path $Root 'tests/RhaiiGke.Tests/RhaiiGke.Tests.csproj'), '-c', $Configuration, '--nologo',
            '--logger', 'trx;LogFileName=xunit.trx', '--logger', 'console;verbosity=minimal', '--results-directory', $results)
        if ($TestFilter) { $testArgs += @('--filter', $TestFilter) }
        $code = Invoke-Native dotnet $testArgs -AllowFailure
        $trx = Join-Path $results 'xunit.trx'
        if (Test-Path $trx) {
            $x = Read-TrxCounts $trx
            Write-Host "xunit: $($x.Passed) passed, $($x.Failed) failed, $($x.Skipped) skipped"
            if ($x.Skipped -gt 0) { try { Read-TrxSkips $trx | ForEach-Object { Write-Host $_ } } catch { Write-Host "test: could not read $trx ($_)" } }
            $attempt = 0
            while ($x.Failed -gt 0 -and $attempt -lt $RetryFailed) {
                $attempt++
                $methods = @(Read-TrxFailedMethods $trx)
                if ($methods.Count -eq 0 -or $methods.Count -gt 10) { break }   # many failures are not flakes
                Write-Host "xunit: failed in run $($attempt): $($methods -join ', ')"
                Read-TrxFailures $trx | ForEach-Object { Write-Host $_ }
                $retryTrx = "xunit-retry$attempt.trx"
                $retryArgs = @('test', (Join-Path $Root 'tests/RhaiiGke.Tests/RhaiiGke.Tests.csproj'), '-c', $Configuration, '--nologo', '--no-build',
                    '--logger', "trx;LogFileName=$retryTrx", '--logger', 'console;verbosity=minimal', '--results-directory', $results,
                    '--filter', (($methods | ForEach-Object { "FullyQualifiedName=$_" }) -join '|'))
                $code = Invoke-Native dotnet $retryArgs -AllowFailure
                $rt = Join-Path $results $retryTrx
                if (-not (Test-Path $rt)) { break }
                $r = Read-TrxCounts $rt
                # Tests that passed the second time count as passed, and are named as flaky.
                $x = [pscustomobject]@{ Passed = $x.Passed + $r.Passed; Failed = $r.Failed; Skipped = $x.Skipped }
                $still = @(Read-TrxFailedMethods $rt)
                $flaky = @($methods | Where-Object { $_ -notin $still })
                if ($flaky.Count) { Write-Host "xunit: FLAKY (failed, then passed when run again on their own): $($flaky -join ', ')" }
                $trx = $rt
                Write-Host "xunit after run $($attempt + 1): $($x.Passed) passed, $($x.Failed) failed, $($x.Skipped) skipped"
            }
            $total.Passed += $x.Passed; $total.Failed += $x.Failed; $total.Skipped += $x.Skipped
            if ($code -ne 0 -and $x.Failed -eq 0) { $problems.Add("dotnet test exited $code") }
        } else { $problems.Add("dotnet test exited $code and wrote no results") }
    }

    if (-not $SkipPester) {
        $pester = Join-Path (Get-NuGetPackagesFolder) 'pester/6.2.0/tools/Pester.psd1'
        if (-not (Test-Path $pester)) { $null = Invoke-Native dotnet @('restore', (Join-Path $Root 'tests/RhaiiGke.Tests/RhaiiGke.Tests.csproj')) }
        $summary = Join-Path $results 'pester-summary.json'
        $pargs = @('-File', (Join-Path $Root 'tests/pester/Invoke-PesterSuite.ps1'), '-PesterPath', $pester,
            '-ModuleManifest', (Join-Path $ModuleOut 'RhaiiGke.psd1'), '-SummaryPath', $summary, '-ResultPath', (Join-Path $results 'pester.xml'))
        if ($PesterTag) { $pargs += @('-Tag', ($PesterTag -join ',')) }
        $code = Invoke-ChildPwsh $pargs -AllowFailure
        if (Test-Path $summary) {
            $p = Get-Content $summary -Raw | ConvertFrom-Json
            Write-Host "pester: $($p.Passed) passed, $($p.Failed) failed, $($p.Skipped) skipped"
            $total.Passed += $p.Passed; $total.Failed += $p.Failed; $total.Skipped += $p.Skipped
            if ($code -ne 0 -and $p.Failed -eq 0) { $problems.Add("pester exited $code") }
        } else { $problems.Add("pester exited $code and wrote no summary") }
    }
    if ($total.Failed -gt 0) {
        $trx = Get-ChildItem $results -Filter 'xunit*.trx' | Sort-Object LastWriteTime | Select-Object -Last 1 -ExpandProperty FullName
        if ($trx) { try { Read-TrxFailures $trx | ForEach-Object { Write-Host $_ } } catch { Write-Host "test: could not read $trx ($_)" } }
        $px = Join-Path $results 'pester.xml'
        if (Test-Path $px) { try { Read-PesterFailures $px | ForEach-Object { Write-Host $_ } } catch { Write-Host "test: could not read $px ($_)" } }
    }
    foreach ($p in $problems) { Write-Host "test: $p" }
    $failed = $total.Failed + $problems.Count
    Write-Host "$($total.Passed) passed, $failed failed, $($total.Skipped) skipped"
    if ($failed -gt 0) { exit 1 }
}

function Invoke-Bench {
    Invoke-Build
    $benches = Get-ChildItem (Join-Path $Root 'benchmarks') -Filter '*.bench.ps1' | Sort-Object Name
    foreach ($b in $benches) {
        Write-Host "bench: $($b.BaseName)"
        $null = Invoke-ChildPwsh @('-File', $b.FullName, '-ModuleManifest', (Join-Path $ModuleOut 'RhaiiGke.psd1'), '-OutputPath', (Join-Path $OutputPath 'bench'))
    }
}

function Invoke-Demo {
    Invoke-Build
    # The card's pipeline on a simulated Google Cloud project; a failed step exits non-zero. The offline
    # manifest tour is examples/ManifestTour.ps1.
    $null = Invoke-ChildPwsh @('-File', (Join-Path $Root 'examples/Demo.ps1'), '-ModuleManifest', (Join-Path $ModuleOut 'RhaiiGke.psd1'), '-OutputPath', (Join-Path $OutputPath 'demo'))
}

function Invoke-Package {
    Invoke-Build
    # out/package/RhaiiGke/<version>/, RhaiiGke-<version>.zip and RhaiiGke.<version>.nupkg (Install-PSResource from a folder or feed)
    $out = Join-Path $OutputPath 'package'
    $r = & (Join-Path $Root 'tools/New-ModulePackage.ps1') -ModulePath $ModuleOut -OutputPath $out
    Write-Host "package: $($r.ModulePath), $($r.Zip) and $($r.Nupkg)"
    Write-Host "package: install it with Register-PSResourceRepository -Name rhaii -Uri $out -Trusted; Install-PSResource RhaiiGke -Repository rhaii"
}

switch ($Task) {
    'Build' { Invoke-Build }
    'Docs' { if (-not (Test-Path (Join-Path $ModuleOut 'RhaiiGke.dll'))) { Invoke-Build } else { Invoke-Docs } }
    'Test' { Invoke-Test }
    'Bench' { Invoke-Bench }
    'Demo' { Invoke-Demo }
    'Package' { Invoke-Package }
    'Clean' { Remove-Item $OutputPath -Recurse -Force -ErrorAction SilentlyContinue; $null = Invoke-Native dotnet @('clean', (Join-Path $Root 'RhaiiGke.slnx'), '-v', 'q') }
}
