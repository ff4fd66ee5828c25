#Requires -Version 7.4
<#
.SYNOPSIS
    Multi-host TPU serving with LeaderWorkerSet: size a 70B-class model, see that it needs a multi-host
    slice, deploy it as one LeaderWorkerSet group per replica on a v6e 4x4 slice (4 hosts of
    ct6e-standard-4t), verify it through the gateway, then delete one worker pod and watch the whole group
    restart (RecreateGroupOnPodRestart) and the service return to Ready. Runs against the sandbox by default.
.EXAMPLE
    dotnet pwsh ./examples/MultiHost.ps1 -ModuleManifest ./out/RhaiiGke/RhaiiGke.psd1
.EXAMPLE
    # only the manifests and the cost of the slice, no cluster
    dotnet pwsh ./examples/MultiHost.ps1 -ManifestOnly
#>
param(
    [string]$ModuleManifest = (Join-Path $PSScriptRoot '../out/RhaiiGke/RhaiiGke.psd1'),
    [string]$Model = 'Qwen/Qwen2.5-72B-Instruct',
    [int]$MaxModelLength = 32768,
    [TimeSpan]$ControllerDelay = '00:00:00.05',
    [string]$SandboxName = 'multihost',
    [switch]$ManifestOnly
)
$ErrorActionPreference = 'Stop'
Import-Module $ModuleManifest

# 1. Sizing: with 32k contexts no single v6e host holds a 72B model; the recommendation is a 4x4 slice
#    (TP 4 within a host x PP 4 across the 4 hosts).
$fits = Get-TpuTopology -Model $Model -Accelerator v6e -MaxModelLength $MaxModelLength -FitOnly
$fits | Format-Table
$best = $fits | Where-Object Recommended | Select-Object -First 1
"Recommended: {0} {1} on {2} ({3} hosts, TP {4} x PP {5})" -f $best.Accelerator, $best.TopologyName, $best.MachineType,
    $best.Topology.Hosts, $best.TensorParallelSize, $best.PipelineParallelSize

# 2. The spec, its manifests (LLMInferenceService with spec.worker, the namespace-local pipeline preset,
#    the NetworkPolicies for the leader and the group) and what the slice costs.
$spec = New-LlmInferenceServiceSpec -Name big -Model $Model -Accelerator v6e -Topology $best.TopologyName `
    -MachineType $best.MachineType -MaxModelLength $MaxModelLength
$spec | Format-List Name, Topology, MachineType, Hosts, ChipsPerHost, TensorParallelSize
$spec | Export-RhaiiManifest -Path (Join-Path ([IO.Path]::GetTempPath()) 'multihost') | Format-Table
$spec | Get-RhaiiCostEstimate | Format-List
if ($ManifestOnly) { return }

# 3. One v6e 4x4 slice in the sandbox: 4 hosts labelled cloud.google.com/gke-tpu-topology=4x4.
$sandbox = Start-RhaiiSandbox -Name $SandboxName -TpuNodes $best.Topology.Hosts -Accelerator v6e -Topology $best.TopologyName `
    -TpuMachineType $best.MachineType -ControllerDelay $ControllerDelay
try {
    $sandbox | Install-RhaiiOperators | Out-Null
    New-InferenceGateway | Out-Null
    $registry = [pscredential]::new('demo', (ConvertTo-SecureString 'not-a-real-password' -AsPlainText -Force))

    # -Wait reports the group's progress ("group 0: 3/4 hosts ready") until the leader serves.
    $service = $spec | Deploy-LlmInferenceService -RegistryCredential $registry -Wait -Timeout 00:10:00 -Verbose
    $service.Pods | Format-Table Name, Role, Stage, Node | Out-Host
    $check = Test-RhaiiDeployment -Namespace $service.Namespace -Name $service.Name
    $check.Checks | Format-Table | Out-Host
    $service | Test-InferenceEndpoint | Format-Table | Out-Host
    "Test-RhaiiDeployment after deploy: Passed={0}" -f $check.Passed | Write-Host

    # 4. Lose one worker: LeaderWorkerSet recreates the whole group (a new leader pod), then the service is Ready again.
    $rest = @{ Headers = @{ Authorization = 'Bearer ' + ($sandbox.Connection.Token | ConvertFrom-SecureString -AsPlainText) }; SkipCertificateCheck = $true }
    $pods = "$($sandbox.Server.ToString().TrimEnd('/'))/api/v1/namespaces/$($service.Namespace)/pods"
    $leader = $service.Pods | Where-Object Role -eq workload | Select-Object -First 1
    $leaderUid = (Invoke-RestMethod @rest -Uri "$pods/$($leader.Name)").metadata.uid
    $worker = $service.Pods | Where-Object Role -eq worker | Select-Object -First 1
    "Deleting worker pod {0}" -f $worker.Name | Write-Host
    Invoke-RestMethod @rest -Method Delete -Uri "$pods/$($worker.Name)" | Out-Null
    # wait until the LeaderWorkerSet controller has replaced the group's leader, then for the service
    $deadline = [datetime]::UtcNow.AddMinutes(5)
    do {
        $uid = try { (Invoke-RestMethod @rest -Uri "$pods/$($leader.Name)").metadata.uid } catch { $null }
        if ($uid -and $uid -ne $leaderUid) { break }
        Start-Sleep -Milliseconds 100
    } while ([datetime]::UtcNow -lt $deadline)
    if (-not $uid -or $uid -eq $leaderUid) { throw "The group was not recreated within 5 minutes of deleting $($worker.Name)." }
    "Group recreated: leader {0} is a new pod" -f $leader.Name | Write-Host
    $back = Wait-LlmInferenceService -Namespace $service.Namespace -Name $service.Name -Timeout 00:10:00 -Verbose
    $back.Pods | Format-Table Name, Role, Stage, Node | Out-Host
    $again = Test-RhaiiDeployment -Namespace $service.Namespace -Name $service.Name
    "Test-RhaiiDeployment after the group restart: Passed={0}" -f $again.Passed | Write-Host
    $again
}
finally {
    Stop-RhaiiSandbox -Name $sandbox.Name -ErrorAction SilentlyContinue
}
