#Requires -Version 7.4
# NVIDIA GPU serving on the sandbox: the GPU pattern to Ready through the gateway, its manifests and cost, and the
# two GPU faults people hit (drivers not installed, a TPU image on a GPU node) found by Get-RhaiiDiagnosis.
BeforeAll {
    Import-Module $env:RHAII_MODULE_MANIFEST -Force
    $script:cred = [pscredential]::new('svc', (ConvertTo-SecureString 'registry-password' -AsPlainText -Force))
    # waits on a condition (never a fixed sleep): the first diagnosis that reports the check id
    function script:Wait-Finding([string]$CheckId, [TimeSpan]$Timeout = '00:02:00') {
        $deadline = [DateTime]::UtcNow + $Timeout
        do {
            $f = @(Get-RhaiiDiagnosis -CheckId $CheckId)
            if ($f.Count -gt 0) { return $f }
            Start-Sleep -Milliseconds 200
        } while ([DateTime]::UtcNow -lt $deadline)
        throw "no $CheckId finding within $Timeout"
    }
}

Describe 'GPU pattern' -Tag Integration {
    AfterEach { Stop-RhaiiSandbox -All -ErrorAction SilentlyContinue }

    It 'deploys on an L4 node to Ready and passes Test-RhaiiDeployment with traffic through the gateway' {
        $sb = Start-RhaiiSandbox -Name gpu-ok -CpuNodes 3 -GpuNodes 1 -GpuAccelerator nvidia-l4 -ControllerDelay 00:00:00.01
        $sb.NodePools | Should -Contain 'gpu-pool: 1 x g2-standard-8 (1 x nvidia-l4, driver DEFAULT)'
        $null = Install-RhaiiOperators
        $svc = Deploy-LlmInferenceService -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -Accelerator nvidia-l4 -RegistryCredential $cred -Wait -Timeout 00:05:00 -WarningAction SilentlyContinue
        $svc.Ready | Should -BeTrue
        $check = Test-RhaiiDeployment -Namespace $svc.Namespace -Name $svc.Name
        $check.Failed | Should -BeNullOrEmpty
        $check.Checks.Name | Should -Contain 'GatewayCompletion'
        ($svc | Test-InferenceEndpoint -WarningAction SilentlyContinue).Passed | Should -BeTrue
        Get-RhaiiDiagnosis -MinimumSeverity Warning | Should -BeNullOrEmpty
    }

    It 'leaves GPU pods Pending without drivers and names the fix' {
        $null = Start-RhaiiSandbox -Name gpu-nodriver -CpuNodes 3 -GpuNodes 1 -GpuDriverVersion INSTALLATION_DISABLED -ControllerDelay 00:00:00.01
        $null = Install-RhaiiOperators
        $null = Deploy-LlmInferenceService -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -Accelerator nvidia-l4 -RegistryCredential $cred -WarningAction SilentlyContinue
        $f = Wait-Finding GpuDriversNotInstalled
        $f[0].Message | Should -Match 'nvidia.com/gpu'
        $f[0].Fix | Should -Match 'GpuDriverVersion DEFAULT'
        $f[0].Evidence -join "`n" | Should -Match 'Insufficient nvidia.com/gpu'
    }

    It 'crash-loops a TPU image on a GPU node and diagnoses the wrong image' {
        $null = Start-RhaiiSandbox -Name gpu-tpuimage -CpuNodes 3 -GpuNodes 1 -ControllerDelay 00:00:00.01
        $null = Install-RhaiiOperators
        $null = Deploy-LlmInferenceService -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -Accelerator nvidia-l4 -Image registry.redhat.io/rhaiis/vllm-tpu-rhel9:3.2.5 `
            -RegistryCredential $cred -WarningAction SilentlyContinue
        $f = Wait-Finding WorkloadCrashLoop
        $f[0].Message | Should -Match "does not match the node's accelerator"
        $m = Wait-Finding AcceleratorImageMismatch
        $m[0].Fix | Should -Match 'vllm-cuda-rhel9'
        $m[0].Evidence -join "`n" | Should -Match 'No ba16c7433 device found'
    }

    It 'exports the GPU manifests and prices the GPU pool' {
        $dir = Join-Path $TestDrive 'gpu'
        $files = New-LlmInferenceServiceSpec -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -Accelerator nvidia-l4 | Export-RhaiiManifest -Path $dir
        $yaml = Get-Content ($files | Where-Object Kind -eq 'LLMInferenceService').Path -Raw
        $yaml | Should -Match 'nvidia.com/gpu'
        $yaml | Should -Match 'cloud.google.com/gke-accelerator: nvidia-l4'
        $yaml | Should -Match 'vllm-cuda-rhel9'
        (Test-LlmInferenceServiceManifest -Path $dir).Findings | Where-Object Severity -eq 'Error' | Should -BeNullOrEmpty
        $cost = Get-RhaiiCostEstimate -Accelerator nvidia-l4 -MachineType g2-standard-24
        $cost.MachineType | Should -Be 'g2-standard-24'
        $cost.Chips | Should -Be 2
        $cost.PriceTableDate | Should -Be ([DateOnly]::new(2026, 7, 30))
        $spot = Get-RhaiiCostEstimate -Accelerator nvidia-l4 -MachineType g2-standard-24 -PricingModel Spot -WarningVariable spotWarnings -WarningAction SilentlyContinue
        $spot.TpuHourly | Should -BeLessThan $cost.TpuHourly
        $spotWarnings | Should -BeNullOrEmpty
    }
}

Describe 'GPU cluster on the GKE sandbox' -Tag Integration {
    BeforeAll {
        $script:before = @{}
        foreach ($v in 'RHAII_GKE_ENDPOINT', 'RHAII_COMPUTE_ENDPOINT', 'RHAII_SERVICEUSAGE_ENDPOINT', 'GOOGLE_CLOUD_PROJECT') {
            $script:before[$v] = [Environment]::GetEnvironmentVariable($v)
        }
        $null = Start-RhaiiSandbox -Gke -Name gpu-gke -Project gpu-project -OperationDuration 00:00:00.05 -ControllerDelay 00:00:00.01
    }
    AfterAll {
        Stop-RhaiiSandbox -All -ErrorAction SilentlyContinue
        foreach ($v in $script:before.Keys) { [Environment]::SetEnvironmentVariable($v, $script:before[$v]) }
    }

    It 'reports GPU quota in preflight' {
        $pre = Test-RhaiiPrerequisites -Zone europe-west4-a -Accelerator nvidia-l4
        $quota = $pre.Checks | Where-Object Name -eq 'GpuQuota'
        $quota.Status | Should -Be 'Passed'
        $quota.Message | Should -Match 'NVIDIA_L4_GPUS'
    }

    It 'creates a GPU cluster and serves the GPU pattern through the gateway' {
        $cluster = New-GpuCluster -Name gpu -Zone europe-west4-a -Accelerator nvidia-l4 -InitialNodeCount 1 -SystemNodeCount 2
        $pool = $cluster.GpuNodePools | Select-Object -First 1
        $pool.MachineType | Should -Be 'g2-standard-8'
        $pool.GpuDriverVersion | Should -Be 'DEFAULT'
        $svc = $cluster | Get-TpuClusterCredential -AuthMode Token | Connect-RhaiiCluster | Install-RhaiiOperators |
            Deploy-LlmInferenceService -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -Accelerator nvidia-l4 -RegistryCredential $cred -Wait -Timeout 00:05:00 -WarningAction SilentlyContinue
        $svc.Ready | Should -BeTrue
        $check = Test-RhaiiDeployment -Namespace $svc.Namespace -Name $svc.Name
        $check.Failed | Should -BeNullOrEmpty
        $check.Checks.Name | Should -Contain 'GatewayCompletion'
        $cost = $cluster | Get-RhaiiCostEstimate
        $cost.Accelerator | Should -Be 'nvidia-l4'
        $cost.MachineType | Should -Be 'g2-standard-8'
    }
}
