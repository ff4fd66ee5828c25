#Requires -Version 7.4
# Enable-/Disable-LlmInferenceServiceAutoscaling against an in-process sandbox: the refusal on KServe release-v0.15,
# then, with the CRD serving v1alpha2 as KServe v0.17+ does, the HPA, its first evaluation, idempotence and removal.
# (The load-driven scale-out and scale-back is tested in xunit: tests/RhaiiGke.Tests/Serving/AutoscalingTests.cs.)
BeforeAll {
    Import-Module $env:RHAII_MODULE_MANIFEST -Force
}

Describe 'Autoscaling a service' -Tag Integration {
    BeforeAll {
        $script:kubeconfig = Join-Path ([IO.Path]::GetTempPath()) "rhaii-pester-autoscale-$PID.kubeconfig"
        $script:sandbox = Start-RhaiiSandbox -Name pester-autoscale -TpuNodes 1 -ControllerDelay 00:00:00.01 -KubeconfigPath $kubeconfig
        $sandbox | Install-RhaiiOperators | Out-Null
        $cred = [pscredential]::new('svc', (ConvertTo-SecureString 'registry-password' -AsPlainText -Force))
        Deploy-LlmInferenceService -Name qwen -Namespace llm -Model Qwen/Qwen2.5-1.5B-Instruct -RegistryCredential $cred -Wait -Timeout 00:05:00 -WarningAction SilentlyContinue | Out-Null
        $token = (Select-String -Path $kubeconfig -Pattern 'token: (\S+)').Matches[0].Groups[1].Value
        $script:api = @{ Headers = @{ Authorization = "Bearer $token" }; SkipCertificateCheck = $true }
        function script:Get-Api([string]$Path) {
            try { Invoke-RestMethod @api -Uri "$($sandbox.Server)/$Path" } catch { if ($_.Exception.Response.StatusCode -eq 404) { $null } else { throw } }
        }
        $script:enable = @{ Name = 'qwen'; Namespace = 'llm'; MinReplicas = 1; MaxReplicas = 2; Signal = 'RequestsWaiting'; WarningAction = 'SilentlyContinue' }
    }
    AfterAll {
        Stop-RhaiiSandbox -Name pester-autoscale -ErrorAction SilentlyContinue
        Remove-Item $kubeconfig -ErrorAction SilentlyContinue
    }

    It 'refuses on KServe release-v0.15, which overwrites the workload replicas, and creates nothing' {
        { Enable-LlmInferenceServiceAutoscaling @enable } | Should -Throw -ErrorId 'KServeOverwritesReplicas*'
        Get-Api 'apis/autoscaling/v2/namespaces/llm/horizontalpodautoscalers/qwen-autoscaler' | Should -BeNullOrEmpty
    }

    It 'refuses scale-to-zero unless asked, and bounds that do not hold' {
        { Enable-LlmInferenceServiceAutoscaling -Name qwen -Namespace llm -MinReplicas 0 } | Should -Throw -ErrorId 'ScaleToZeroNotRequested*'
        { Enable-LlmInferenceServiceAutoscaling -Name qwen -Namespace llm -MinReplicas 3 -MaxReplicas 2 } | Should -Throw -ErrorId 'AutoscalingBoundsInvalid*'
    }

    It 'creates an HPA on the workload with KServe v0.17 behaviour, idempotently, and the HPA evaluates the pods' {
        $crd = Get-Api 'apis/apiextensions.k8s.io/v1/customresourcedefinitions/llminferenceservices.serving.kserve.io'
        $v2 = $crd.spec.versions[0] | ConvertTo-Json -Depth 100 | ConvertFrom-Json -Depth 100
        $v2.name = 'v1alpha2'; $v2.storage = $false
        $crd.spec.versions = @($crd.spec.versions) + $v2
        $crd.psobject.Properties.Remove('status')
        Invoke-RestMethod @api -Method Put -ContentType 'application/json' -Body ($crd | ConvertTo-Json -Depth 100) `
            -Uri "$($sandbox.Server)/apis/apiextensions.k8s.io/v1/customresourcedefinitions/llminferenceservices.serving.kserve.io" | Out-Null

        $preview = Enable-LlmInferenceServiceAutoscaling @enable -WhatIf
        $preview.DryRun | Should -BeTrue
        Get-Api 'apis/autoscaling/v2/namespaces/llm/horizontalpodautoscalers/qwen-autoscaler' | Should -BeNullOrEmpty

        $on = Get-LlmInferenceService -Name qwen -Namespace llm | Enable-LlmInferenceServiceAutoscaling -MinReplicas 1 -MaxReplicas 2 -Signal RequestsWaiting -WarningAction SilentlyContinue
        $on | Should -BeOfType ([RhaiiGke.LlmInferenceServiceAutoscaling])
        $on.Backend | Should -Be 'HorizontalPodAutoscaler'
        $on.ScaleTarget | Should -Be 'Deployment/qwen-kserve'
        $on.Metrics[0].Metric | Should -Be 'prometheus.googleapis.com|vllm:num_requests_waiting|gauge'
        ($on | Format-Table | Out-String -Width 80) | Should -Match 'HPA'
        (Enable-LlmInferenceServiceAutoscaling @enable).MutatingRequests | Should -Be 0

        $hpa = Get-Api 'apis/autoscaling/v2/namespaces/llm/horizontalpodautoscalers/qwen-autoscaler'
        $hpa.spec.scaleTargetRef.name | Should -Be 'qwen-kserve'
        $hpa.spec.behavior.scaleDown.stabilizationWindowSeconds | Should -Be 600
        $deadline = [datetime]::UtcNow.AddMinutes(2)
        do {
            $active = (Get-Api 'apis/autoscaling/v2/namespaces/llm/horizontalpodautoscalers/qwen-autoscaler').status.conditions | Where-Object type -eq ScalingActive
            if ($active.status -eq 'True') { break }
            Start-Sleep -Milliseconds 100
        } while ([datetime]::UtcNow -lt $deadline)
        $active.status | Should -Be 'True' -Because ($active | ConvertTo-Json -Compress)
        $active.reason | Should -Be 'ValidMetricFound'
    }

    It 'removes the HPA and pins a count on request' {
        $off = Disable-LlmInferenceServiceAutoscaling -Name qwen -Namespace llm -Replicas 1 -Confirm:$false
        $off.Enabled | Should -BeFalse
        Get-Api 'apis/autoscaling/v2/namespaces/llm/horizontalpodautoscalers/qwen-autoscaler' | Should -BeNullOrEmpty
        (Get-Api 'apis/serving.kserve.io/v1alpha1/namespaces/llm/llminferenceservices/qwen').spec.replicas | Should -Be 1
    }
}
