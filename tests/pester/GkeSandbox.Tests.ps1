#Requires -Version 7.4
# The whole card on a GKE sandbox, at module level: Start-RhaiiSandbox -Gke points the GKE commands at a
# simulated Google Cloud, and a created cluster goes through operators, a deploy and a benchmark.
BeforeAll {
    Import-Module $env:RHAII_MODULE_MANIFEST -Force
}

Describe 'GKE sandbox' -Tag Integration {
    BeforeAll {
        $script:before = @{}
        foreach ($v in 'RHAII_GKE_ENDPOINT', 'RHAII_COMPUTE_ENDPOINT', 'RHAII_SERVICEUSAGE_ENDPOINT', 'GOOGLE_CLOUD_PROJECT') {
            $script:before[$v] = [Environment]::GetEnvironmentVariable($v)
        }
        $script:gke = Start-RhaiiSandbox -Gke -Name pester-gke -Project pester-project -OperationDuration 00:00:00.05 -ControllerDelay 00:00:00.01
    }
    AfterAll {
        Stop-RhaiiSandbox -All -ErrorAction SilentlyContinue
    }

    It 'points the session''s GKE commands at the simulated project' {
        $gke.Kind | Should -Be 'Gke'
        $gke.Project | Should -Be 'pester-project'
        $env:RHAII_GKE_ENDPOINT | Should -Be $gke.Server
        $env:GOOGLE_CLOUD_PROJECT | Should -Be 'pester-project'
        $gke.Connection | Should -BeNullOrEmpty
    }

    It 'runs the card from an empty project to a benchmark without credentials or a cloud' {
        $cred = [pscredential]::new('svc', (ConvertTo-SecureString 'registry-password' -AsPlainText -Force))
        $result = New-TpuCluster -Name card -Zone europe-west4-a -Accelerator v6e -Topology 2x2 -InitialNodeCount 1 -SystemNodeCount 2 |
            Get-TpuClusterCredential -AuthMode Token |
            Connect-RhaiiCluster |
            Install-RhaiiOperators |
            Deploy-LlmInferenceService -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -RegistryCredential $cred -Wait -Timeout 00:05:00 -WarningAction SilentlyContinue |
            Test-InferenceEndpoint |
            Invoke-InferenceBenchmark -Concurrency 2 -NumPrompts 10 -InputTokens 32 -OutputTokens 4
        $result.Completed | Should -Be 10
        $result.Failed | Should -Be 0
        (Get-TpuCluster -Zone europe-west4-a).Name | Should -Contain 'card'
        (Get-LlmInferenceService -Namespace rhaii-inference -Name qwen).Ready | Should -BeTrue
    }

    It 'serves the GkeNativeGateway pattern through a GKE regional load balancer' {
        $cred = [pscredential]::new('svc', (ConvertTo-SecureString 'registry-password' -AsPlainText -Force))
        $svc = New-TpuCluster -Name native -Zone europe-west4-a -Accelerator v6e -Topology 2x2 -InitialNodeCount 1 -SystemNodeCount 2 |
            Get-TpuClusterCredential -AuthMode Token |
            Connect-RhaiiCluster |
            Install-RhaiiOperators |
            Deploy-LlmInferenceService -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -Pattern GkeNativeGateway -RegistryCredential $cred -Wait -Timeout 00:05:00 -WarningAction SilentlyContinue
        $svc.Ready | Should -BeTrue
        $svc.InferencePoolGroup | Should -Be 'inference.networking.k8s.io'
        $svc.Objects.Kind | Should -Contain 'HealthCheckPolicy'
        $svc.Objects.Kind | Should -Contain 'LLMInferenceServiceConfig'
        $svc.Objects.Kind | Should -Not -Contain 'EnvoyFilter'
        $check = Test-RhaiiDeployment -Namespace $svc.Namespace -Name $svc.Name
        $check.Failed | Should -BeNullOrEmpty
        $check.Checks.Name | Should -Contain 'GatewayCompletion'
    }

    It 'refuses a second GKE sandbox' {
        { Start-RhaiiSandbox -Gke -Name other -ErrorAction Stop } | Should -Throw -ErrorId 'GkeSandboxAlreadyRunning*'
    }

    It 'restores the environment when stopped' {
        Stop-RhaiiSandbox -Name pester-gke
        foreach ($v in $before.Keys) { [Environment]::GetEnvironmentVariable($v) | Should -Be $before[$v] }
        { Get-TpuCluster -Zone europe-west4-a -Endpoint $gke.Server -ErrorAction Stop } | Should -Throw
    }
}
