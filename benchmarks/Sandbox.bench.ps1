<#
.SYNOPSIS
    How fast a user gets a rehearsal ground: a Kubernetes sandbox's start (HTTPS, CA, token, controllers,
    upstream schemas when present) and a Baseline Deploy-LlmInferenceService -Wait on it, each the median of
    several runs in this process, with the first (cold) start reported beside them.
    Goals (issue 11): a sandbox starts in under 1 s; a Baseline deploy with -Wait finishes in under 5 s.
    Both are absolute goals; the ratio column is the measurement over the goal (under 1.0 is met), and
    `kubectl version` against the same sandbox (when installed) is measured as a same-run reference.
#>
param(
    [Parameter(Mandatory)][string]$ModuleManifest,
    [string]$OutputPath = (Join-Path $PSScriptRoot '../out/bench'),
    [int]$Runs = 5
)
$ErrorActionPreference = 'Stop'
Import-Module $ModuleManifest
$registry = [pscredential]::new('bench', (ConvertTo-SecureString 'not-a-real-password' -AsPlainText -Force))
$kubeconfig = Join-Path ([IO.Path]::GetTempPath()) "rhaii-bench-$PID.kubeconfig"
function Median([double[]]$x) { $s = @($x | Sort-Object); $s[[int][math]::Floor($s.Count / 2)] }

# Cold: the first start in this process loads the sandbox assembly and JITs its code.
$sw = [Diagnostics.Stopwatch]::StartNew()
$null = Start-RhaiiSandbox -TpuNodes 1 -KubeconfigPath $kubeconfig
$cold = $sw.Elapsed.TotalMilliseconds
Stop-RhaiiSandbox

$starts = @(); $deploys = @(); $kubectl = @()
$kubectlExe = (Get-Command kubectl -ErrorAction SilentlyContinue)?.Source
foreach ($i in 1..$Runs) {
    $sw.Restart()
    $null = Start-RhaiiSandbox -TpuNodes 1 -KubeconfigPath $kubeconfig
    $starts += $sw.Elapsed.TotalMilliseconds
    try {
        if ($kubectlExe) {
            $sw.Restart(); & $kubectlExe --kubeconfig $kubeconfig version -o json *> $null; $kubectl += $sw.Elapsed.TotalMilliseconds
        }
        $null = Install-RhaiiOperators -Component cert-manager, istio, lws, kserve
        $sw.Restart()
        $null = Deploy-LlmInferenceService -Name bench -Model Qwen/Qwen2.5-1.5B-Instruct -Pattern Baseline -RegistryCredential $registry `
            -Wait -Timeout 00:02:00 -WarningAction SilentlyContinue
        $deploys += $sw.Elapsed.TotalMilliseconds
    }
    finally { Stop-RhaiiSandbox }
}
Remove-Item $kubeconfig -ErrorAction SilentlyContinue
$start = Median $starts; $deploy = Median $deploys
$result = [pscustomobject]@{
    Benchmark            = 'Sandbox'
    Runs                 = $Runs
    LoadAverage          = if (Test-Path /proc/loadavg) { (Get-Content /proc/loadavg).Split(' ')[0] } else { $null }
    ColdStartMs          = [math]::Round($cold, 1)
    StartMs              = [math]::Round($start, 1)
    StartGoalMs          = 1000
    StartRatioToGoal     = [math]::Round($start / 1000, 3)
    StartMet             = $start -lt 1000
    BaselineDeployWaitMs = [math]::Round($deploy, 1)
    DeployGoalMs         = 5000
    DeployRatioToGoal    = [math]::Round($deploy / 5000, 3)
    DeployMet            = $deploy -lt 5000
    KubectlVersionMs     = if ($kubectl) { [math]::Round((Median $kubectl), 1) } else { $null }
}
$null = New-Item -ItemType Directory -Force -Path $OutputPath
$result | ConvertTo-Json | Set-Content (Join-Path $OutputPath 'sandbox.json')
$result | Format-List | Out-Host
