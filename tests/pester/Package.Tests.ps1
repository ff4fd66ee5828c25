#Requires -Version 7.4
# The package as a consumer gets it, and the CI templates as a runner runs them (issue 12 items 4 and 5).
# One package is built from the module under test (tools/New-ModulePackage.ps1, what build.ps1 -Task Package runs)
# into a folder that serves as a local PSResourceGet repository. Every child pwsh gets its own HOME, so the
# repository registration and Install-PSResource's CurrentUser scope land in a clean, throw-away module path.
BeforeAll {
    $script:moduleDir = Split-Path -Parent $env:RHAII_MODULE_MANIFEST
    $script:repoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).ProviderPath
    $script:feed = Join-Path $TestDrive 'feed'
    $script:package = & (Join-Path $repoRoot 'tools/New-ModulePackage.ps1') -ModulePath $moduleDir -OutputPath $feed
    $script:version = (Import-PowerShellDataFile $env:RHAII_MODULE_MANIFEST).ModuleVersion

    # a child pwsh like the one running this suite (under 'dotnet pwsh' the process is dotnet: pwsh.dll goes first)
    $script:pwshExe = [Environment]::ProcessPath
    $script:pwshPre = @(if ([IO.Path]::GetFileNameWithoutExtension($pwshExe) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })

    # Runs a script file in a fresh pwsh with exactly the environment given on top of this one's (PSModulePath and the
    # XDG folders removed, so the child computes its module path from HOME as a runner's pwsh does).
    function script:Invoke-ChildScript {
        param([string]$File, [string]$WorkingDirectory, [hashtable]$Environment, [int]$TimeoutSeconds = 900)
        $psi = [Diagnostics.ProcessStartInfo]::new($pwshExe)
        foreach ($a in @($pwshPre) + @('-NoProfile', '-NonInteractive', '-File', $File)) { $psi.ArgumentList.Add($a) }
        $psi.WorkingDirectory = $WorkingDirectory
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        $psi.UseShellExecute = $false
        foreach ($k in 'PSModulePath', 'XDG_DATA_HOME', 'XDG_CONFIG_HOME', 'XDG_CACHE_HOME', 'RHAII_MODULE_MANIFEST', 'KUBECONFIG') { $null = $psi.Environment.Remove($k) }
        $psi.Environment['POWERSHELL_TELEMETRY_OPTOUT'] = '1'
        $psi.Environment['POWERSHELL_UPDATECHECK'] = 'Off'
        $psi.Environment['NO_COLOR'] = '1'
        foreach ($kv in $Environment.GetEnumerator()) { $psi.Environment[$kv.Key] = [string]$kv.Value }
        # the streams go to files as they come, so a child that does not finish still shows how far it got
        $outFile = [IO.Path]::ChangeExtension($File, '.out.txt')
        $errFile = [IO.Path]::ChangeExtension($File, '.err.txt')
        $outSink = [IO.File]::Create($outFile)
        $errSink = [IO.File]::Create($errFile)
        try {
            $p = [Diagnostics.Process]::Start($psi)
            $copyOut = $p.StandardOutput.BaseStream.CopyToAsync($outSink)
            $copyErr = $p.StandardError.BaseStream.CopyToAsync($errSink)
            if (-not $p.WaitForExit($TimeoutSeconds * 1000)) {
                $stacks = Get-ChildStacks $p.Id
                $p.Kill($true)
                $null = [Threading.Tasks.Task]::WaitAll([Threading.Tasks.Task[]]@($copyOut, $copyErr), 10000)
                $outSink.Dispose(); $errSink.Dispose()
                $tail = { param($f) (Get-Content -LiteralPath $f -Tail 40 -ErrorAction SilentlyContinue) -join "`n" }
                throw "child pwsh ($File) did not finish in $TimeoutSeconds s.`n--- its output so far:`n$(& $tail $outFile)`n--- its errors so far:`n$(& $tail $errFile)`n--- its managed threads when it was stopped:`n$stacks"
            }
            $p.WaitForExit()
            $null = [Threading.Tasks.Task]::WaitAll([Threading.Tasks.Task[]]@($copyOut, $copyErr), 30000)
        } finally { $outSink.Dispose(); $errSink.Dispose() }
        [pscustomobject]@{ ExitCode = $p.ExitCode; Output = [IO.File]::ReadAllText($outFile); Error = [IO.File]::ReadAllText($errFile) }
    }

    # The managed stacks of a process that hangs (dotnet-stack from the repository's tool manifest), for the failure message
    function script:Get-ChildStacks([int]$ProcessId) {
        try {
            $psi = [Diagnostics.ProcessStartInfo]::new('dotnet')
            foreach ($a in 'dotnet-stack', 'report', '-p', "$ProcessId") { $psi.ArgumentList.Add($a) }
            $psi.WorkingDirectory = $repoRoot
            $psi.RedirectStandardOutput = $true
            $psi.RedirectStandardError = $true
            $psi.UseShellExecute = $false
            $d = [Diagnostics.Process]::Start($psi)
            $o = $d.StandardOutput.ReadToEndAsync()
            $e = $d.StandardError.ReadToEndAsync()
            if (-not $d.WaitForExit(120000)) { $d.Kill($true); return '(dotnet-stack did not answer in 120 s)' }
            # the pipeline's and the sandbox's frames tell where it waits; the rest is the runtime's own threads
            (("$($o.Result)$($e.Result)" -split "`n") | Select-Object -First 600) -join "`n"
        } catch { "(no stacks: $_)" }
    }

    # YAML through the module's own YamlDotNet, in a load context of its own (the module keeps it out of the default one)
    $alc = [System.Runtime.Loader.AssemblyLoadContext]::new('rhaii-ci-template-yaml', $true)
    $script:yamlAssembly = $alc.LoadFromAssemblyPath((Join-Path $moduleDir 'Dependencies/YamlDotNet.dll'))
    function script:ConvertFrom-TemplateYaml([string]$Text) {
        $deserializer = $yamlAssembly.GetType('YamlDotNet.Serialization.DeserializerBuilder')::new().Build()
        $graph = $deserializer.Deserialize($Text)
        $json = $yamlAssembly.GetType('YamlDotNet.Serialization.SerializerBuilder')::new().JsonCompatible().Build().Serialize($graph)
        $json | ConvertFrom-Json -AsHashtable
    }
}

Describe 'The package' -Tag Package {
    It 'is a nupkg, a zip and a module folder with help, formats, types, the about topic and the changelog' {
        $package.Nupkg | Should -Exist
        $package.Zip | Should -Exist
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $zip = [IO.Compression.ZipFile]::OpenRead($package.Nupkg)
        try { $entries = @($zip.Entries.FullName) } finally { $zip.Dispose() }
        $manifest = Import-PowerShellDataFile (Join-Path $package.ModulePath 'RhaiiGke.psd1')
        $expected = @('RhaiiGke.psd1', 'RhaiiGke.dll', 'RhaiiGke.Models.dll', 'Dependencies/RhaiiGke.Engine.dll', 'en-US/RhaiiGke.dll-Help.xml',
            'en-US/about_RhaiiGke.help.txt', 'CHANGELOG.md', 'RhaiiGke.nuspec') + @($manifest.FormatsToProcess) + @($manifest.TypesToProcess)
        foreach ($e in $expected) { $entries | Should -Contain $e }
        $entries | Where-Object { $_ -like '*.pdb' } | Should -BeNullOrEmpty
    }

    It 'has a clean manifest whose release notes are the changelog''s section for its version' {
        $w = $null
        $info = Test-ModuleManifest (Join-Path $package.ModulePath 'RhaiiGke.psd1') -WarningVariable w -ErrorAction Stop
        $w | Should -BeNullOrEmpty
        $info.Version.ToString() | Should -Be $version
        $info.ExportedCmdlets.Count | Should -BeGreaterThan 30
        $notes = $info.PrivateData.PSData.ReleaseNotes
        $notes | Should -Match "^$([regex]::Escape($version))"
        $notes | Should -Match 'Get-TpuClusterCredential'
        (Get-Content (Join-Path $repoRoot 'CHANGELOG.md') -Raw) | Should -Match "(?m)^## \[$([regex]::Escape($version))\]"
    }

    It 'installs with Install-PSResource from a local repository into a clean module path and imports in a fresh pwsh' {
        $home1 = New-Item -ItemType Directory -Path (Join-Path $TestDrive 'install-home')
        $script1 = Join-Path $TestDrive 'install.ps1'
        @'
$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name rhaii-test -Uri $env:RHAII_TEST_FEED -Trusted
Install-PSResource -Name RhaiiGke -Repository rhaii-test -TrustRepository -Quiet
$r = Get-InstalledPSResource -Name RhaiiGke
"installed=$($r.Version)|$($r.InstalledLocation)"
'@ | Set-Content $script1
        $r = Invoke-ChildScript -File $script1 -WorkingDirectory $TestDrive -Environment @{ HOME = $home1.FullName; RHAII_TEST_FEED = $feed }
        $r.ExitCode | Should -Be 0 -Because "$($r.Output)`n$($r.Error)"
        $modules = Join-Path $home1.FullName '.local/share/powershell/Modules'
        $r.Output | Should -Match "installed=$([regex]::Escape($version))\|$([regex]::Escape($modules))"
        Join-Path $modules "RhaiiGke/$version/RhaiiGke.psd1" | Should -Exist

        # a fresh pwsh whose module path is only that folder: import by name, run commands, read help
        $script2 = Join-Path $TestDrive 'import.ps1'
        @'
$ErrorActionPreference = 'Stop'
Import-Module RhaiiGke
"base=$((Get-Module RhaiiGke).ModuleBase)"
"slices=$(@(Get-TpuTopology -Accelerator v6e).Count)"
"fit=$(@(Get-TpuTopology -Model Qwen/Qwen2.5-3B-Instruct -Accelerator v6e -FitOnly).Count)"
"view=$((Get-TpuTopology -Accelerator v6e | Out-String -Width 120) -match 'Topology')"
"about=$((Get-Help about_RhaiiGke | Out-String) -match 'Start-RhaiiSandbox')"
"examples=$(@((Get-Help Get-TpuTopology -Full).examples.example).Count)"
'@ | Set-Content $script2
        $r2 = Invoke-ChildScript -File $script2 -WorkingDirectory $TestDrive -Environment @{ HOME = (New-Item -ItemType Directory -Path (Join-Path $TestDrive 'import-home')).FullName; PSModulePath = $modules }
        $r2.ExitCode | Should -Be 0 -Because "$($r2.Output)`n$($r2.Error)"
        $r2.Output | Should -Match "base=$([regex]::Escape((Join-Path $modules "RhaiiGke/$version")))"
        $r2.Output | Should -Match 'slices=[1-9]'
        $r2.Output | Should -Match 'fit=[1-9]'
        $r2.Output | Should -Match 'view=True'
        $r2.Output | Should -Match 'about=True'
        $r2.Output | Should -Match 'examples=[1-9]'
    }
}

Describe 'The CI templates' -Tag Package, Integration {
    BeforeAll {
        # Runs a template's PowerShell steps in order in a clean folder, as the runner would: the job's and step's env,
        # expressions/macros substituted, $ErrorActionPreference = 'Stop' first and the LASTEXITCODE check last (what
        # GitHub's shell: pwsh and Azure's pwsh/PowerShell@2 wrap scripts in). Returns the steps' results and the artifact paths.
        function script:Invoke-Template {
            param([string]$Name, [hashtable]$Template, [string]$Kind, [string]$Work, [string]$HomeDir, [hashtable]$Values, [hashtable]$BaseEnv)
            $results = [Collections.Generic.List[object]]::new()
            $artifacts = [Collections.Generic.List[string]]::new()
            $steps = if ($Kind -eq 'github') { @($Template.jobs.Values)[0].steps } else { $Template.steps }
            $jobEnv = if ($Kind -eq 'github') { @($Template.jobs.Values)[0].env } else { $Template.variables }
            $expand = if ($Kind -eq 'github') {
                { param($s) [regex]::Replace([string]$s, '\$\{\{\s*([A-Za-z0-9_.]+)\s*\}\}', { param($m) $k = $m.Groups[1].Value; if (-not $Values.ContainsKey($k)) { throw "$Name uses an expression the test does not know: $k" }; $Values[$k] }) }
            } else {
                { param($s) $t = [string]$s; for ($i = 0; $i -lt 4; $i++) { $t = [regex]::Replace($t, '\$\(([A-Za-z_][A-Za-z0-9_.]*)\)', { param($m) $k = $m.Groups[1].Value; if ($Values.ContainsKey($k)) { $Values[$k] } else { $m.Value } }) }; $t }
            }
            $env0 = @{} + $BaseEnv
            foreach ($kv in @($jobEnv.GetEnumerator())) {
                $v = & $expand $kv.Value
                # an Azure pipeline variable set at queue time wins over the YAML's default, as RHAII_FEED is here
                if ($Kind -eq 'azure' -and $Values.ContainsKey($kv.Key)) { $v = $Values[$kv.Key] }
                $env0[$kv.Key] = $v
                if ($Kind -eq 'azure') { $Values[$kv.Key] = $v }
            }
            $n = 0
            foreach ($step in $steps) {
                $n++
                $script = $null
                if ($Kind -eq 'github' -and $step.shell -eq 'pwsh') { $script = $step.run }
                elseif ($Kind -eq 'azure' -and $step.ContainsKey('pwsh')) { $script = $step.pwsh }
                elseif ($Kind -eq 'azure' -and $step.task -like 'PowerShell@2' -and $step.inputs.pwsh -and $step.inputs.targetType -eq 'inline') { $script = $step.inputs.script }
                if ($Kind -eq 'github' -and $step.uses -like 'actions/upload-artifact@*') { $artifacts.Add((& $expand $step.with.path)) }
                if ($Kind -eq 'azure' -and $step.ContainsKey('publish')) { $artifacts.Add((& $expand $step.publish)) }
                if ($null -eq $script) { continue }
                $stepEnv = @{} + $env0
                if ($step.env) { foreach ($kv in $step.env.GetEnumerator()) { $stepEnv[$kv.Key] = & $expand $kv.Value } }
                $file = Join-Path $HomeDir ".step-$n.ps1"
                "`$ErrorActionPreference = 'Stop'`n" + (& $expand $script) + "`nif ((Test-Path -LiteralPath variable:\LASTEXITCODE)) { exit `$LASTEXITCODE }`n" | Set-Content $file
                try { $r = Invoke-ChildScript -File $file -WorkingDirectory $Work -Environment $stepEnv -TimeoutSeconds 600 }
                catch {
                    # A step that hangs is a bug to find, not to hide: its output and managed stacks go to the log (build.ps1
                    # prints FLAKY lines in CI) and to a file beside the results; then the step runs once more, as build.ps1
                    # runs a failed xunit test once more on its own, and the test fails only if that hangs or fails too.
                    $report = Join-Path $TestDrive "hung-$Name-step-$n.txt"
                    "$_" | Set-Content -LiteralPath $report
                    Write-Host "FLAKY: $Name step $n did not finish; running it once more. What it showed:`n$_"
                    $r = Invoke-ChildScript -File $file -WorkingDirectory $Work -Environment $stepEnv -TimeoutSeconds 600
                }
                $title = if ($step.name) { $step.name } elseif ($step.displayName) { $step.displayName } else { "step $n" }
                $results.Add([pscustomobject]@{ Step = $title; ExitCode = $r.ExitCode; Output = $r.Output; Error = $r.Error })
                if ($r.ExitCode -ne 0) { break }
            }
            [pscustomobject]@{ Steps = $results; Artifacts = $artifacts }
        }

        # A clean folder per template, seeded as the consumer's checkout: deploy/ with the manifests it keeps
        function script:New-Checkout([string]$Name) {
            $work = New-Item -ItemType Directory -Path (Join-Path $TestDrive "$Name/work")
            $homeDir = New-Item -ItemType Directory -Path (Join-Path $TestDrive "$Name/home")
            $temp = New-Item -ItemType Directory -Path (Join-Path $TestDrive "$Name/temp")
            Import-Module $env:RHAII_MODULE_MANIFEST
            $null = Export-RhaiiManifest -Pattern CacheAware -Path (Join-Path $work 'deploy') -WarningAction SilentlyContinue
            [pscustomobject]@{ Work = $work.FullName; Home = $homeDir.FullName; Temp = $temp.FullName }
        }

        function script:Assert-Smoke($Run, $Checkout, [string]$ResultsDir) {
            foreach ($s in $Run.Steps) { $s.ExitCode | Should -Be 0 -Because "step '$($s.Step)' failed:`n$($s.Output)`n$($s.Error)" }
            $Run.Steps.Count | Should -BeGreaterOrEqual 3
            # the module came from the package the install step put under the runner's HOME, not from this checkout
            ($Run.Steps.Output -join "`n") | Should -Match "RhaiiGke $([regex]::Escape($version)) from $([regex]::Escape($Checkout.Home))"
            Join-Path $ResultsDir 'benchmark.html' | Should -Exist
            @(Get-ChildItem $ResultsDir -Filter *.json).Count | Should -BeGreaterThan 0
            $json = Get-Content (Get-ChildItem $ResultsDir -Filter *.json | Select-Object -First 1).FullName -Raw | ConvertFrom-Json
            $json | Should -Not -BeNullOrEmpty
            (Get-Content (Join-Path $ResultsDir 'benchmark.html') -Raw) | Should -Match '<html'
            foreach ($a in $Run.Artifacts) {
                $p = if ([IO.Path]::IsPathRooted($a)) { $a } else { Join-Path $Checkout.Work $a }
                $p | Should -Exist -Because "the template uploads $a"
            }
            $Run.Artifacts | Should -Not -BeNullOrEmpty
        }
    }

    It 'runs the GitHub Actions template: install from the feed, sandbox smoke, lint, report artifacts' {
        $template = ConvertFrom-TemplateYaml (Get-Content (Join-Path $repoRoot 'examples/ci/github-actions.yml') -Raw)
        $c = New-Checkout 'github'
        $values = @{ 'github.workspace' = $c.Work; 'runner.temp' = $c.Temp; 'vars.RHAII_FEED' = $feed; 'vars.RHAII_FEED_USER' = ''; 'secrets.RHAII_FEED_TOKEN' = '' }
        $base = @{ HOME = $c.Home; CI = 'true'; GITHUB_ACTIONS = 'true'; GITHUB_WORKSPACE = $c.Work; RUNNER_TEMP = $c.Temp; GITHUB_SHA = '0123456789abcdef' }
        $run = Invoke-Template -Name github-actions.yml -Template $template -Kind github -Work $c.Work -HomeDir $c.Home -Values $values -BaseEnv $base
        Assert-Smoke $run $c (Join-Path $c.Work 'rhaii-results')
        $run.Artifacts | Should -Contain 'rhaii-results'

        # the lint step fails the job when a manifest has an error (a topology GKE never labels nodes with)
        $bad = Get-ChildItem (Join-Path $c.Work 'deploy') -Filter '*LLMInferenceService*' | Select-Object -First 1
        (Get-Content $bad.FullName -Raw) -replace 'gke-tpu-topology: 2x2', 'gke-tpu-topology: 3x5' | Set-Content $bad.FullName
        @(Test-LlmInferenceServiceManifest -Path (Join-Path $c.Work 'deploy') | Where-Object Severity -eq 'Error').Count | Should -BeGreaterThan 0
        $job = @($template.jobs.Values)[0]
        $lintOnly = @{ jobs = @{ rhaii = @{ env = $job.env; steps = @($job.steps | Where-Object { $_['name'] -like 'Lint*' }) } } }
        $failed = Invoke-Template -Name github-actions.yml -Template $lintOnly -Kind github -Work $c.Work -HomeDir $c.Home -Values $values -BaseEnv $base
        $failed.Steps.Count | Should -Be 1
        $failed.Steps[0].ExitCode | Should -Not -Be 0
        $failed.Steps[0].Output | Should -Match '::error file='
    }

    It 'runs the Azure Pipelines template: install from the feed, sandbox smoke, lint, report artifact' {
        $template = ConvertFrom-TemplateYaml (Get-Content (Join-Path $repoRoot 'examples/ci/azure-pipelines.yml') -Raw)
        $c = New-Checkout 'azure'
        $staging = New-Item -ItemType Directory -Path (Join-Path $c.Temp 'staging')
        $values = @{ 'Build.SourcesDirectory' = $c.Work; 'System.DefaultWorkingDirectory' = $c.Work; 'Agent.TempDirectory' = $c.Temp
            'Build.ArtifactStagingDirectory' = $staging.FullName; 'Build.SourceVersion' = '0123456789abcdef'; 'System.AccessToken' = ''; 'RHAII_FEED' = $feed }
        $base = @{ HOME = $c.Home; TF_BUILD = 'True'; BUILD_SOURCESDIRECTORY = $c.Work; SYSTEM_DEFAULTWORKINGDIRECTORY = $c.Work; AGENT_TEMPDIRECTORY = $c.Temp
            BUILD_ARTIFACTSTAGINGDIRECTORY = $staging.FullName; BUILD_SOURCEVERSION = '0123456789abcdef' }
        $run = Invoke-Template -Name azure-pipelines.yml -Template $template -Kind azure -Work $c.Work -HomeDir $c.Home -Values $values -BaseEnv $base
        Assert-Smoke $run $c (Join-Path $staging.FullName 'rhaii')
        $run.Artifacts | Should -Contain (Join-Path $staging.FullName 'rhaii')
    }
}
