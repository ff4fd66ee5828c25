#Requires -Version 7.4
<#
.SYNOPSIS
    The main job: from an empty Google Cloud project to a benchmarked LLM inference service and back.
.DESCRIPTION
    Runs the card's pipeline and prints one line per step with its figures:
    preflight (Test-RhaiiPrerequisites), cluster (New-TpuCluster), credentials (Get-TpuClusterCredential),
    connect (Connect-RhaiiCluster), operators (Install-RhaiiOperators), deploy (Deploy-LlmInferenceService,
    CacheAware pattern, -Wait), verify (Test-RhaiiDeployment), endpoint (Test-InferenceEndpoint),
    cache routing (Test-InferenceCacheRouting), benchmark (a short Invoke-InferenceBenchmark sweep),
    report (Export-InferenceBenchmarkReport), cost (Get-RhaiiCostEstimate), then teardown.

    Without -Project it runs on a simulated Google Cloud project (Start-RhaiiSandbox -Gke): no cloud,
    credentials or network are needed. With -Project the same steps run against that project with your
    Google credentials (Application Default Credentials, or -CredentialFile), and the simulator is not
    started.

    The teardown removes only what this run created: the service (if it did not exist), the operators
    (if they were not installed) and the cluster (if it did not exist; with its Gateways, so that GKE
    releases their load balancers). An existing cluster is used as it is and kept. -Keep skips the
    teardown. Any error stops the run with the step's name, the error and its fix, tears down, and
    rethrows (a non-zero exit code under pwsh -File).

    The benchmark report (HTML), the benchmark's JSON, CSV and request log, and summary.json (every
    step's line, figures and warnings) go to -OutputPath. Warnings the steps give (for example the
    small sample's p99) are kept in summary.json and printed with -Verbose.
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 -Task Demo
.EXAMPLE
    dotnet pwsh ./examples/Demo.ps1 -ModuleManifest ./out/RhaiiGke/RhaiiGke.psd1 -OutputPath ./out/demo
.EXAMPLE
    # a real project (Application Default Credentials); Red Hat registry credentials for the images
    ./examples/Demo.ps1 -Project my-project -Zone us-east5-b -RegistryCredential (Get-Credential)
.EXAMPLE
    # keep the service for exploring (on a real project, remember Remove-TpuCluster afterwards)
    ./examples/Demo.ps1 -Project my-project -PullSecretFile ./auth.json -Keep
#>
[CmdletBinding()]
param(
    # The module to import: the built module beside this checkout, else RhaiiGke from the module path.
    [string]$ModuleManifest,
    # Where the report, benchmark files and summary.json go.
    [string]$OutputPath = (Join-Path $PSScriptRoot '../out/demo'),
    # A real Google Cloud project. Without it a simulated project is started and stopped again.
    [string]$Project,
    [string]$Zone = 'europe-west4-a',
    # Service-account key or ADC file for the GKE commands (default: Application Default Credentials).
    [string]$CredentialFile,
    [string]$ClusterName = 'rhaii-demo',
    [ValidateSet('1x1', '2x2', '2x4')]
    [string]$Topology = '2x2',
    # vLLM replicas; the TPU pool gets one host per replica. Two show cache-aware routing at its smallest.
    [ValidateRange(1, 16)]
    [int]$Replicas = 2,
    [string]$Model = 'Qwen/Qwen2.5-1.5B-Instruct',
    [string]$ServiceName = 'qwen',
    [string]$Namespace = 'rhaii-inference',
    # registry.redhat.io credentials (a real project needs these or -PullSecretFile; the simulator accepts any).
    [pscredential]$RegistryCredential,
    [string]$PullSecretFile,
    # For gated models; Qwen2.5 is public.
    [securestring]$HuggingFaceToken,
    # Requests per benchmark stage.
    [ValidateRange(10, 100000)]
    [int]$NumPrompts = 40,
    # Leave the cluster, operators and service in place (and, on the simulator, the sandbox in this session).
    [switch]$Keep,
    # Also write the run's summary object (steps, results, report path) to the pipeline.
    [switch]$PassThru
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
$clock = [Diagnostics.Stopwatch]::StartNew()

if (-not $ModuleManifest) {
    # The module already imported in this session, else the build beside this checkout, else the installed one.
    $built = Join-Path $PSScriptRoot '../out/RhaiiGke/RhaiiGke.psd1'
    $ModuleManifest = if (Get-Module RhaiiGke) { '' } elseif (Test-Path $built) { $built } else { 'RhaiiGke' }
}
if ($ModuleManifest) {
    if (Test-Path -LiteralPath $ModuleManifest) { $ModuleManifest = (Resolve-Path -LiteralPath $ModuleManifest).Path }
    Import-Module $ModuleManifest -ErrorAction Stop
}
$null = New-Item -ItemType Directory -Force -Path $OutputPath
$OutputPath = (Resolve-Path -LiteralPath $OutputPath).Path

$simulated = -not $Project
if (-not $simulated -and -not $RegistryCredential -and -not $PullSecretFile) {
    throw "A real project needs registry.redhat.io credentials for the operator and vLLM images: pass -RegistryCredential (Get-Credential) or -PullSecretFile ./auth.json (podman login registry.redhat.io). Nothing was created."
}
if ($simulated -and -not $RegistryCredential -and -not $PullSecretFile) {
    # The simulated kubelet pulls registry.redhat.io images only with a pull secret; any user and password do.
    $RegistryCredential = [pscredential]::new('demo', (ConvertTo-SecureString 'sandbox-only' -AsPlainText -Force))
}
$registry = @{}
if ($RegistryCredential) { $registry.RegistryCredential = $RegistryCredential }
if ($PullSecretFile) { $registry.PullSecretFile = $PullSecretFile }

$steps = [Collections.Generic.List[object]]::new()
$stepNames = 'sandbox', 'preflight', 'cluster', 'credentials', 'connect', 'operators', 'deploy', 'verify', 'endpoint', 'cache', 'benchmark', 'report', 'cost', 'teardown'
$run = [ordered]@{
    Project = $Project; Zone = $Zone; Simulated = $simulated; Cluster = $ClusterName; Service = "$Namespace/$ServiceName"
    Prerequisites = $null; TpuCluster = $null; Connection = $null; Platform = $null; LlmInferenceService = $null
    Deployment = $null; Endpoint = $null; CacheRouting = $null; Benchmark = @(); Report = $null; Cost = $null
    Teardown = $null
}
$activity = "RhaiiGke demo$(if ($simulated) { ' (simulated project)' })"
# What this run created, so the teardown removes that and nothing else.
$own = @{ Sandbox = $null; Cluster = $false; Operators = $false; Service = $false }

function Write-DemoLine([string]$Step, [string]$Text, [double]$Seconds) {
    $time = if ($Seconds -ge 0) { '{0,6:N1} s' -f $Seconds } else { '        ' }
    Write-Host ('{0}  {1,-11} {2}' -f $time, $Step, $Text)
}

# Runs one step: times it, hides the cmdlets' own progress bars (this script shows one bar for the run,
# completed on every path), keeps their warnings for summary.json, and prints the line the step returns.
# A failure prints the step, the error and its fix, and stops the run.
function Invoke-DemoStep([string]$Name, [string]$Status, [scriptblock]$Action) {
    $index = [array]::IndexOf($stepNames, $Name)
    Write-Progress -Id 1 -Activity $activity -Status "$Name`: $Status" -PercentComplete ([math]::Max(0, 100 * $index / $stepNames.Count))
    $ProgressPreference = 'SilentlyContinue'
    $watch = [Diagnostics.Stopwatch]::StartNew()
    try {
        $out = @(& $Action 3>&1)
    }
    catch {
        $watch.Stop()
        $err = $_
        $id = if ($err.FullyQualifiedErrorId) { " [$(($err.FullyQualifiedErrorId -split ',')[0])]" } else { '' }
        Write-DemoLine $Name "FAILED$id`: $($err.Exception.Message)" $watch.Elapsed.TotalSeconds
        $fix = if ($err.ErrorDetails -and $err.ErrorDetails.RecommendedAction) { $err.ErrorDetails.RecommendedAction }
        if ($fix) { Write-DemoLine '' "fix: $fix" -1 }
        $steps.Add([pscustomobject]@{ PSTypeName = 'RhaiiGke.DemoStep'; Step = $Name; Passed = $false; Summary = "FAILED$id`: $($err.Exception.Message)"; Seconds = [math]::Round($watch.Elapsed.TotalSeconds, 2); Warnings = @() })
        throw
    }
    $watch.Stop()
    $warnings = @($out | Where-Object { $_ -is [Management.Automation.WarningRecord] } | ForEach-Object Message | Select-Object -Unique)
    $text = (@($out | Where-Object { $_ -isnot [Management.Automation.WarningRecord] }) -join ' ')
    foreach ($w in $warnings) { Write-Verbose "$Name warning: $w" }
    Write-DemoLine $Name $text $watch.Elapsed.TotalSeconds
    $steps.Add([pscustomobject]@{ PSTypeName = 'RhaiiGke.DemoStep'; Step = $Name; Passed = $true; Summary = $text; Seconds = [math]::Round($watch.Elapsed.TotalSeconds, 2); Warnings = $warnings })
}

function Format-Money([double]$Amount, [string]$Currency) {
    $symbol = switch ($Currency) { 'USD' { '$' } 'EUR' { [char]0x20AC } default { "$Currency " } }
    if ($Amount -ge 1000) { '{0}{1:N0}' -f $symbol, $Amount } else { '{0}{1:N2}' -f $symbol, $Amount }
}

$failure = $null
try {
    Write-Host "RhaiiGke demo: $Model on TPU v6e $Topology x $Replicas, CacheAware pattern, $(if ($simulated) { 'on a simulated Google Cloud project' } else { "in project $Project" }) ($Zone)"
    if ($simulated) {
        Invoke-DemoStep sandbox 'starting the simulated project' {
            # GKE, Compute and Service Usage APIs on loopback; this session's GKE commands are pointed at it.
            $script:own.Sandbox = Start-RhaiiSandbox -Gke -Name rhaii-demo -OperationDuration 00:00:00.3 -ControllerDelay 00:00:00.2
            $script:Project = $own.Sandbox.Project
            $script:run.Project = $Project
            "project $Project simulated at $($own.Sandbox.Server) (GKE, Compute, Service Usage APIs)"
        }
    }
    $gcp = @{ Project = $Project }
    if ($CredentialFile) { $gcp.CredentialFile = $CredentialFile }

    Invoke-DemoStep preflight 'checking credentials, APIs, zone and quota' {
        $pre = Test-RhaiiPrerequisites @gcp -Zone $Zone -Accelerator v6e -Topology $Topology -MaxNodes $Replicas
        $script:run.Prerequisites = $pre
        if (-not $pre.Passed) {
            throw "Preflight failed: $(($pre.Failures | ForEach-Object { "$($_.Name): $($_.Message) $($_.RecommendedAction)" }) -join '; ')"
        }
        $passed = @($pre.Checks | Where-Object { "$($_.Status)" -eq 'Passed' }).Count
        $warned = @($pre.Checks | Where-Object { "$($_.Status)" -eq 'Warning' })
        "$passed/$($pre.Checks.Count) checks passed$(if ($warned) { " ($($warned.Count) warning(s): $($warned.Name -join ', '))" }): credentials, project, APIs, $($pre.MachineType) in $Zone, quota for $($pre.ChipsRequired) v6e chips"
    }

    Invoke-DemoStep cluster "creating cluster $ClusterName" {
        $existing = @(Get-TpuCluster @gcp -Zone $Zone | Where-Object Name -eq $ClusterName)
        if ($existing) {
            $c = $existing[0]
            $how = 'exists, used as it is (kept at teardown)'
        }
        else {
            $script:own.Cluster = $true   # from here on the teardown removes it, even if creation fails half-way
            $c = New-TpuCluster @gcp -Name $ClusterName -Zone $Zone -Accelerator v6e -Topology $Topology `
                -InitialNodeCount $Replicas -MinNodes 0 -MaxNodes $Replicas -RemoveOnFailure -Confirm:$false
            $how = 'created'
        }
        $script:run.TpuCluster = $c
        $tpu = @($c.TpuNodePools)
        if (-not $tpu) { throw "Cluster $ClusterName has no TPU node pool; pick another -ClusterName or add one with New-TpuCluster." }
        $pools = ($c.NodePools | ForEach-Object { "$($_.Name) $($_.NodeCount) x $($_.MachineType)$(if ($_.IsTpu) { " ($($_.Accelerator) $($_.Topology), $($_.NodeCount * $_.ChipsPerNode) chips)" })" }) -join ', '
        "$($c.Name) $how, $($c.Status), GKE $($c.MasterVersion): $pools"
    }

    Invoke-DemoStep credentials 'getting cluster credentials' {
        # -AuthMode Token keeps the credential in memory, so the demo needs neither gcloud nor gke-gcloud-auth-plugin.
        # Without it, Get-TpuClusterCredential writes a kubeconfig context that runs the plugin, as gcloud does.
        $script:credential = $run.TpuCluster | Get-TpuClusterCredential @gcp -AuthMode Token
        $auth = if ("$($credential.AuthMode)" -eq 'Token') { 'token in memory' } else { "$($credential.AuthMode)" }
        $until = if ($credential.TokenExpiresAt) { " until $($credential.TokenExpiresAt.ToUniversalTime().ToString('HH:mm')) UTC" }
        "$($credential.ContextName): $($credential.Server), $auth$until"
    }

    Invoke-DemoStep connect 'connecting to the API server' {
        $conn = $credential | Connect-RhaiiCluster -Confirm:$false
        $script:run.Connection = $conn
        "$($conn.Server) answers: Kubernetes $($conn.ServerVersion), CA verified, $($conn.AuthKind) auth"
    }

    Invoke-DemoStep operators 'installing cert-manager, Istio, LWS and KServe' {
        $before = Get-RhaiiOperatorStatus -Cluster $run.Connection
        $script:own.Operators = -not @($before.Components | Where-Object { $_.State -ne 'NotInstalled' })
        $p = Install-RhaiiOperators -Cluster $run.Connection @registry -Confirm:$false
        $script:run.Platform = $p
        if (-not $p.Ready) { throw "Operators not ready: $(($p.Components | Where-Object State -ne 'Ready' | ForEach-Object { "$($_.Name): $($_.Message)" }) -join '; ')" }
        $comps = ($p.Components | ForEach-Object { $_.Name }) -join ', '
        "$comps Ready, Istio $($p.IstioVersion) ($($p.MutatingRequests) objects changed, $($p.Retries) retries)"
    }

    Invoke-DemoStep deploy "deploying $ServiceName ($Replicas replicas) and waiting until it serves" {
        if (Get-LlmInferenceService -Cluster $run.Connection -Namespace $Namespace -Name $ServiceName -ErrorAction SilentlyContinue) {
            throw "LLMInferenceService $Namespace/$ServiceName already exists and is not this run's to change: pass another -ServiceName, or remove it (Remove-LlmInferenceService -Name $ServiceName -Namespace $Namespace)."
        }
        $script:own.Service = $true
        $deploy = @{}
        if ($HuggingFaceToken) { $deploy.HuggingFaceToken = $HuggingFaceToken }
        $svc = Deploy-LlmInferenceService -Cluster $run.Connection -Name $ServiceName -Namespace $Namespace -Model $Model -Pattern CacheAware `
            -Replicas $Replicas -Accelerator v6e -Topology $Topology @registry @deploy -Wait -Timeout 00:20:00 -Confirm:$false
        $script:run.LlmInferenceService = $svc
        "$($svc.Namespace)/$($svc.Name) $($svc.Pattern): $($svc.ReadyReplicas)/$($svc.Replicas) replicas Ready behind $($svc.Gateway) at $($svc.Url)"
    }
    $svc = $run.LlmInferenceService

    Invoke-DemoStep verify 'the runbook verification' {
        $r = Test-RhaiiDeployment -Cluster $run.Connection -Namespace $svc.Namespace -Name $svc.Name
        $script:run.Deployment = $r
        if (-not $r.Passed) { throw "Deployment checks failed: $(($r.Checks | Where-Object { -not $_.Passed } | ForEach-Object { "$($_.Name): $($_.Detail) $($_.Fix)" }) -join '; ')" }
        $ok = @($r.Checks | Where-Object Passed).Count
        "$ok/$(@($r.Checks).Count) checks passed: operators, conditions, route, InferencePool, EPP, NetworkPolicies, traffic through the gateway"
    }

    Invoke-DemoStep endpoint 'health, models, completions' {
        $e = $svc | Test-InferenceEndpoint
        $script:run.Endpoint = $e
        if (-not $e.Passed) { throw "Endpoint checks failed: $($e.FailedChecks -join ', ')" }
        "$(@($e.Checks).Count)/$(@($e.Checks).Count) checks passed (health, models, completions, streaming, usage), first request $('{0:N0}' -f $e.FirstRequestMs) ms"
    }

    Invoke-DemoStep cache 'shared prefixes through the gateway' {
        $c = $svc | Test-InferenceCacheRouting
        $script:run.CacheRouting = $c
        if (-not $c.Passed) { throw "Cache-aware routing not shown: $($c.Evidence -join ' ')" }
        $cold = @($c.Phases | Where-Object Name -eq 'gateway-cold')
        $coldText = if ($cold) { ' (cold {0:P1})' -f $cold[0].CachedTokenRatio } else { '' }
        "warm requests reused {0:P1} of their prompt tokens{1}; {2} prefix groups x {3} requests" -f $c.GatewayWarmHitRate, $coldText, $c.Groups, $c.RequestsPerGroup
    }

    Invoke-DemoStep benchmark 'a short sweep' {
        $b = @($svc | Invoke-InferenceBenchmark -Profile Sweep -Concurrency 8 -SweepSteps 1 -NumPrompts $NumPrompts -OutputTokens 16 `
                -Slo @{ ttft = 500; tpot = 50 } -OutputDirectory $OutputPath -Label demo -Confirm:$false)
        $script:run.Benchmark = $b
        $failed = ($b | Measure-Object Failed -Sum).Sum
        if ($failed) { throw "$failed benchmark request(s) failed: $(($b | ForEach-Object { $_.ErrorsByType.Keys }) | Select-Object -Unique)" }
        $best = @($b | Where-Object SweepBest)[0]
        if (-not $best) { $best = $b | Sort-Object RequestThroughput -Descending | Select-Object -First 1 }
        $script:bestStage = $best
        "{0} stages ({1}), best {2:N0} req/s ({3}), {4:N0} output tok/s, TTFT p99 {5:N0} ms, 0 failed" -f `
            $b.Count, (($b | ForEach-Object Stage) -join ', '), $best.RequestThroughput, $best.Stage, $best.OutputThroughput, $best.Ttft.P99
    }

    Invoke-DemoStep report 'writing the HTML report' {
        $title = "$Model on v6e $Topology x $Replicas ($(if ($simulated) { 'simulated project' } else { $Project }))"
        $f = $run.Benchmark | Export-InferenceBenchmarkReport -Path (Join-Path $OutputPath 'benchmark-report.html') -Title $title -PassThru -Confirm:$false
        $script:run.Report = $f
        "{0} ({1:N0} KB)" -f $f.FullName, ($f.Length / 1KB)
    }

    Invoke-DemoStep cost 'pricing the TPU pool' {
        $cost = @($run.TpuCluster | Get-RhaiiCostEstimate -OutputTokensPerSecond $bestStage.OutputThroughput)[0]
        $script:run.Cost = $cost
        $per = if ($cost.CostPerMillionOutputTokens) { "; {0} per 1M output tokens{1}" -f (Format-Money $cost.CostPerMillionOutputTokens $cost.Currency), $(if ($simulated) { ' (simulated)' }) }
        "{0}/hour, {1}/month {2} ({3} x {4}, {5} chips, {6:yyyy-MM-dd} prices); {7}/hour at zero{8}" -f `
            (Format-Money $cost.Hourly $cost.Currency), (Format-Money $cost.Monthly $cost.Currency), ("$($cost.PricingModel)" -creplace '(?<=[a-z])([A-Z])', ' $1').ToLowerInvariant(), $cost.TpuNodes, $cost.MachineType, $cost.Chips,
            $cost.PriceTableDate, (Format-Money $cost.ScaledToZeroHourly $cost.Currency), $per
    }
}
catch {
    $failure = $_
}
finally {
    # Teardown: only what this run created, in the order GKE wants (services, then gateways with the cluster).
    if ($Keep) {
        $kept = @(if ($own.Service) { "service $Namespace/$ServiceName" }; if ($own.Operators) { 'operators' }; if ($own.Cluster) { "cluster $ClusterName" }; if ($own.Sandbox) { "sandbox $($own.Sandbox.Name) (this session)" })
        Write-DemoLine teardown "skipped (-Keep): $(if ($kept) { $kept -join ', ' } else { 'nothing was created' }) left in place" -1
        $run.Teardown = [pscustomobject]@{ Kept = $true; Removed = @(); ClustersLeft = $null; Problems = @() }
    }
    else {
        $removed = [Collections.Generic.List[string]]::new()
        $problems = [Collections.Generic.List[string]]::new()
        $clustersLeft = $null
        $watch = [Diagnostics.Stopwatch]::StartNew()
        Write-Progress -Id 1 -Activity $activity -Status 'teardown: removing what this run created' -PercentComplete 95
        $progress = $ProgressPreference
        $ProgressPreference = 'SilentlyContinue'
        if ($own.Service -and $run.Connection) {
            try {
                Remove-LlmInferenceService -Cluster $run.Connection -Name $ServiceName -Namespace $Namespace -IncludeSecrets -Confirm:$false -ErrorAction Stop 3>$null
                $removed.Add("service $Namespace/$ServiceName")
            }
            catch { $problems.Add("service $Namespace/$ServiceName`: $($_.Exception.Message)") }
        }
        if ($own.Operators -and -not $own.Cluster -and $run.Connection) {
            try {
                $null = Uninstall-RhaiiOperators -Cluster $run.Connection -Confirm:$false -ErrorAction Stop 3>$null
                $removed.Add('operators')
            }
            catch { $problems.Add("operators: $($_.Exception.Message)") }
        }
        if ($own.Cluster) {
            try {
                # -Force: the cluster is this run's, so its Gateways go first and GKE releases their load balancers.
                Remove-TpuCluster @gcp -Name $ClusterName -Zone $Zone -Force -Confirm:$false -ErrorAction Stop 3>$null
                $removed.Add("cluster $ClusterName")
                $clustersLeft = @(Get-TpuCluster @gcp -Zone $Zone | ForEach-Object Name)
                if ($clustersLeft -contains $ClusterName) { $problems.Add("cluster $ClusterName is still listed") }
            }
            catch { $problems.Add("cluster $ClusterName`: $($_.Exception.Message)") }
        }
        if ($own.Sandbox) {
            try { Stop-RhaiiSandbox -Name $own.Sandbox.Name -Confirm:$false; $removed.Add('simulated project stopped') }
            catch { $problems.Add("sandbox: $($_.Exception.Message)") }
        }
        $watch.Stop()
        $ProgressPreference = $progress
        $left = if ($null -ne $clustersLeft) { "; $($clustersLeft.Count) cluster(s) left in $Zone$(if ($clustersLeft) { ": $($clustersLeft -join ', ')" })" } else { '' }
        $text = if ($removed.Count) { "removed $($removed -join ', ')$left" } else { 'nothing to remove' }
        if ($problems.Count) { $text += "; NOT removed: $($problems -join '; ')" }
        Write-DemoLine teardown $text $watch.Elapsed.TotalSeconds
        $steps.Add([pscustomobject]@{ PSTypeName = 'RhaiiGke.DemoStep'; Step = 'teardown'; Passed = ($problems.Count -eq 0); Summary = $text; Seconds = [math]::Round($watch.Elapsed.TotalSeconds, 2); Warnings = @() })
        $run.Teardown = [pscustomobject]@{ Kept = $false; Removed = @($removed); ClustersLeft = $clustersLeft; Problems = @($problems) }
    }
    Write-Progress -Id 1 -Activity $activity -Completed
}

$clock.Stop()
$props = [ordered]@{ PSTypeName = 'RhaiiGke.DemoSummary'; Passed = ($null -eq $failure -and -not @($run.Teardown.Problems)) }
foreach ($key in $run.Keys) { $props[$key] = $run[$key] }
$props.Steps = @($steps)
$props.ReportPath = if ($run.Report) { $run.Report.FullName }
$props.SummaryPath = Join-Path $OutputPath 'summary.json'
$props.Duration = $clock.Elapsed
$props.Error = if ($failure) { "$($failure.Exception.Message)" }
$summary = [pscustomobject]$props
# summary.json: the steps, their figures and warnings, for CI logs and artifacts (no secrets: none are in these objects).
[ordered]@{
    passed = $summary.Passed; project = $summary.Project; simulated = $simulated; zone = $Zone; cluster = $ClusterName; service = $summary.Service
    durationSeconds = [math]::Round($clock.Elapsed.TotalSeconds, 1); report = $summary.ReportPath; error = $summary.Error
    steps = @($steps | ForEach-Object { [ordered]@{ step = $_.Step; passed = $_.Passed; seconds = $_.Seconds; summary = $_.Summary; warnings = @($_.Warnings) } })
} | ConvertTo-Json -Depth 5 | Set-Content -LiteralPath $summary.SummaryPath -Encoding utf8

if ($failure) {
    Write-Host ("Demo FAILED after {0:N1} s at step '{1}'. Steps so far: {2}" -f $clock.Elapsed.TotalSeconds, @($steps | Where-Object { -not $_.Passed })[0].Step, $summary.SummaryPath)
    if ($PassThru) { $summary }
    throw $failure
}
Write-Host ("Demo done in {0:N1} s: {1} steps. Report: {2}" -f $clock.Elapsed.TotalSeconds, $steps.Count, $summary.ReportPath)
if ($PassThru) { $summary }
