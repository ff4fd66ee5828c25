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

    It 'connects through New-TpuCluster | Get-TpuClusterCredential | Connect-RhaiiCluster as the README writes it' {
        # the default: a kubeconfig context whose user runs the real gke-gcloud-auth-plugin; on the sandbox its gcloud
        # answers with a token the simulator issued (no gcloud account needed), as a logged-in gcloud does on a project
        if (@(Get-Command gke-gcloud-auth-plugin, gcloud -CommandType Application -ErrorAction SilentlyContinue).Count -lt 2) {
            Set-ItResult -Skipped -Because 'gke-gcloud-auth-plugin and gcloud are not on PATH (google-cloud-cli packages)'
            return
        }
        $conn = New-TpuCluster -Name creds -Zone europe-west4-a -Accelerator v6e -Topology 2x2 -InitialNodeCount 1 -SystemNodeCount 1 |
            Get-TpuClusterCredential |
            Connect-RhaiiCluster
        $kubeconfig = [IO.Path]::GetFullPath(($env:KUBECONFIG -split [IO.Path]::PathSeparator)[0])
        $conn.AuthKind | Should -Be 'Kubeconfig'
        $conn.Context | Should -Be 'gke_pester-project_europe-west4-a_creds'
        $conn.KubeconfigPath | Should -Be $kubeconfig
        $conn.ServerVersion | Should -Not -BeNullOrEmpty
        # the session's cluster now: a cluster command reads it with the plugin's token (nothing installed yet)
        $status = Get-RhaiiOperatorStatus -ErrorAction Stop
        $status.Components | Should -Not -BeNullOrEmpty

        $text = Get-Content $kubeconfig -Raw
        $text | Should -Match 'command: gke-gcloud-auth-plugin'
        $text | Should -Not -Match 'ya29\.'
        $text | Should -Match 'current-context: gke_pester-project_europe-west4-a_creds'

        # a credential that went through serialization (a job, Export-Clixml) binds by property name
        $xml = Join-Path $TestDrive 'cred.xml'
        Get-TpuClusterCredential -Name creds -Zone europe-west4-a | Export-Clixml $xml
        $again = Import-Clixml $xml | Connect-RhaiiCluster -NoDefault
        $again.Context | Should -Be $conn.Context
        $again.Server | Should -Be $conn.Server

        # -WhatIf writes nothing
        $other = Join-Path $TestDrive 'whatif.kubeconfig'
        $null = Get-TpuClusterCredential -Name creds -Zone europe-west4-a -Path $other -WhatIf
        Test-Path $other | Should -BeFalse

        # kubectl uses the context as written, through the same plugin
        if (Get-Command kubectl -CommandType Application -ErrorAction SilentlyContinue) {
            $nodes = & kubectl --kubeconfig $kubeconfig --context $conn.Context get nodes -o name 2>&1
            $LASTEXITCODE | Should -Be 0 -Because ($nodes -join "`n")
            $nodes | Should -Contain 'node/gke-creds-tpu-pool-0000'
        }
    }

    It 'names the missing plugin with its fixes instead of failing inside the client' {
        $path = $env:PATH
        try {
            $env:PATH = $PSHOME   # no gke-gcloud-auth-plugin here
            $cred = New-TpuCluster -Name noplugin -Zone europe-west4-a -Accelerator v6e -Topology 2x2 -InitialNodeCount 1 -SystemNodeCount 1 |
                Get-TpuClusterCredential -Path (Join-Path $TestDrive 'noplugin') -WarningVariable w -WarningAction SilentlyContinue
            "$w" | Should -Match 'gke-gcloud-auth-plugin is not on PATH'
            $err = $null
            try { $cred | Connect-RhaiiCluster -NoDefault -ErrorAction Stop } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'KubeconfigExecPluginNotFound,*'
            $err.ErrorDetails.RecommendedAction | Should -Match '-AuthMode Token'
            "$err" | Should -Not -Match '   at '
        } finally { $env:PATH = $path }
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
