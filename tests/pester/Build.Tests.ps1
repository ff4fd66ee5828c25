#Requires -Version 7.4
# build.ps1's console summary of a test run: what failed and what was skipped (with why), read from the TRX file.
BeforeAll {
    $ast = [System.Management.Automation.Language.Parser]::ParseFile((Join-Path $PSScriptRoot '../../build.ps1'), [ref]$null, [ref]$null)
    foreach ($name in 'Read-TrxSkips', 'Read-TrxFailures') {
        $fn = $ast.Find({ param($n) $n -is [System.Management.Automation.Language.FunctionDefinitionAst] -and $n.Name -eq $name }, $true)
        . ([scriptblock]::Create($fn.Extent.Text))
    }
    $script:trx = Join-Path $TestDrive 'xunit.trx'
    # the shape dotnet test's trx logger writes for xunit (a skipped fact's reason is in ErrorInfo/Message)
    Set-Content -LiteralPath $trx -Value @'
<?xml version="1.0" encoding="utf-8"?>
<TestRun xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">
  <Results>
    <UnitTestResult testName="A.Passes" outcome="Passed" duration="00:00:00.01" />
    <UnitTestResult testName="A.SchemaOne" outcome="NotExecuted" duration="00:00:00.001">
      <Output><ErrorInfo><Message>Upstream schemas not found: set RHAII_CRD_SCHEMAS.</Message></ErrorInfo></Output>
    </UnitTestResult>
    <UnitTestResult testName="A.SchemaTwo" outcome="NotExecuted" duration="00:00:00.001">
      <Output><ErrorInfo><Message>Upstream schemas not found: set RHAII_CRD_SCHEMAS.</Message></ErrorInfo></Output>
    </UnitTestResult>
    <UnitTestResult testName="A.NeedsKubectl" outcome="NotExecuted" duration="00:00:00.001">
      <Output><ErrorInfo><Message>kubectl is not on PATH</Message></ErrorInfo></Output>
    </UnitTestResult>
    <UnitTestResult testName="A.Fails" outcome="Failed" duration="00:00:01">
      <Output><ErrorInfo><Message>Assert.Equal() Failure</Message></ErrorInfo></Output>
    </UnitTestResult>
  </Results>
</TestRun>
'@
}

Describe 'build.ps1 test summary' -Tag Unit, Build {
    It 'names each skip reason with the tests it skipped' {
        $lines = @(Read-TrxSkips $trx)
        $lines.Count | Should -Be 2
        $lines | Should -Contain 'xunit SKIPPED 2 test(s): Upstream schemas not found: set RHAII_CRD_SCHEMAS. [A.SchemaOne, A.SchemaTwo]'
        $lines | Should -Contain 'xunit SKIPPED 1 test(s): kubectl is not on PATH [A.NeedsKubectl]'
    }
    It 'still names failures apart from skips' {
        $failed = @(Read-TrxFailures $trx)
        $failed.Count | Should -Be 1
        $failed[0] | Should -Match '^xunit FAILED A\.Fails .*Assert\.Equal\(\) Failure'
    }
}

Describe 'build.ps1 Pester summary' -Tag Unit, Build {
    BeforeAll {
        $ast = [System.Management.Automation.Language.Parser]::ParseFile((Join-Path $PSScriptRoot '../../build.ps1'), [ref]$null, [ref]$null)
        $fn = $ast.Find({ param($n) $n -is [System.Management.Automation.Language.FunctionDefinitionAst] -and $n.Name -eq 'Read-PesterFailures' }, $true)
        . ([scriptblock]::Create($fn.Extent.Text))
    }
    It 'names the failed tests of the JUnit XML that Invoke-PesterSuite writes' {
        $xml = Join-Path $TestDrive 'pester.xml'
        Set-Content -LiteralPath $xml -Value @'
<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="x" tests="2" failures="1">
  <testcase name="Suite.passes" status="Passed" time="0.1" />
  <testcase name="Suite.fails" status="Failed" time="0.2"><failure message="Expected 1, but got 2.">at line 3</failure></testcase>
</testsuite></testsuites>
'@
        $lines = @(Read-PesterFailures $xml)
        $lines.Count | Should -Be 1
        $lines[0] | Should -Be 'pester FAILED Suite.fails: Expected 1, but got 2.'
    }
}
