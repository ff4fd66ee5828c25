#Requires -Version 7.4
# gs:// models through Workload Identity on the GKE sandbox: refused without the binding (nothing applied),
# granted under ShouldProcess, Ready with traffic through the gateway; the storage initializer's real 403 when
# the Google service account cannot read the bucket, explained by Get-RhaiiDiagnosis.
BeforeAll {
    Import-Module $env:RHAII_MODULE_MANIFEST -Force
}

Describe 'gs:// models with Workload Identity on the GKE sandbox' -Tag Integration, Gcs {
    BeforeAll {
        $script:gke = Start-RhaiiSandbox -Gke -Name pester-gcs -Project pester-gcs -OperationDuration 00:00:00.05 -ControllerDelay 00:00:00.01
        $script:registry = [pscredential]::new('svc', (ConvertTo-SecureString 'registry-password' -AsPlainText -Force))
        $script:cred = New-TpuCluster -Name gcs -Zone europe-west4-a -Accelerator v6e -Topology 2x2 -InitialNodeCount 2 -MaxNodes 2 -SystemNodeCount 2 |
            Get-TpuClusterCredential -AuthMode Token
        $script:platform = $cred | Connect-RhaiiCluster | Install-RhaiiOperators
        $script:rest = @{ Authentication = 'Bearer'; Token = $cred.Token; AllowUnencryptedAuthentication = $true; ContentType = 'application/json' }
        $script:gsa = (Invoke-RestMethod @rest -Method Post -Uri "$($env:RHAII_IAM_ENDPOINT)v1/projects/pester-gcs/serviceAccounts" -Body '{"accountId":"model-reader"}').email
        $upload = $env:RHAII_STORAGE_ENDPOINT -replace '/storage/$', '/upload/storage/'
        foreach ($b in 'readable-models', 'private-models') {
            $null = Invoke-RestMethod @rest -Method Post -Uri "$($env:RHAII_STORAGE_ENDPOINT)v1/b?project=pester-gcs" -Body (@{ name = $b } | ConvertTo-Json)
            $null = Invoke-RestMethod @rest -Method Post -Uri "$($upload)v1/b/$b/o?uploadType=media&name=qwen%2Fconfig.json" -Body '{}'
        }
        $policy = Invoke-RestMethod @rest -Method Get -Uri "$($env:RHAII_STORAGE_ENDPOINT)v1/b/readable-models/iam"
        $null = Invoke-RestMethod @rest -Method Put -Uri "$($env:RHAII_STORAGE_ENDPOINT)v1/b/readable-models/iam" `
            -Body (@{ etag = $policy.etag; bindings = @(@{ role = 'roles/storage.objectViewer'; members = @("serviceAccount:$gsa") }) } | ConvertTo-Json -Depth 5)
    }
    AfterAll {
        Stop-RhaiiSandbox -All -ErrorAction SilentlyContinue
    }

    It 'refuses the deploy before anything is applied when the Workload Identity binding is missing' {
        $err = $null
        try {
            Deploy-LlmInferenceService -Cluster $platform.Connection -Name qwen -Namespace gcs -Model gs://readable-models/qwen -GcpServiceAccount $gsa -RegistryCredential $registry -ErrorAction Stop
        } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'WorkloadIdentityBindingMissing,*'
        "$err" | Should -Match ([regex]::Escape('serviceAccount:pester-gcs.svc.id.goog[gcs/qwen-sa]'))
        $err.ErrorDetails.RecommendedAction | Should -Match 'add-iam-policy-binding .*roles/iam.workloadIdentityUser|-GrantWorkloadIdentity'
        @(Get-LlmInferenceService -Cluster $platform.Connection -Namespace gcs -ErrorAction SilentlyContinue) | Should -BeNullOrEmpty
        # -WhatIf reports the grant without making it
        Deploy-LlmInferenceService -Cluster $platform.Connection -Name qwen -Namespace gcs -Model gs://readable-models/qwen -GcpServiceAccount $gsa -RegistryCredential $registry -GrantWorkloadIdentity -WhatIf | Out-Null
        $sa = Invoke-RestMethod @rest -Method Post -Uri "$($env:RHAII_IAM_ENDPOINT)v1/projects/-/serviceAccounts/$($gsa):getIamPolicy" -Body '{}'
        @($sa.bindings) | Where-Object role -eq 'roles/iam.workloadIdentityUser' | Should -BeNullOrEmpty
    }

    It 'grants the binding under ShouldProcess, downloads the gs:// model and serves it through the gateway' {
        $svc = Deploy-LlmInferenceService -Cluster $platform.Connection -Name qwen -Namespace gcs -Model gs://readable-models/qwen -GcpServiceAccount $gsa -ModelName qwen `
            -RegistryCredential $registry -GrantWorkloadIdentity -Wait -Timeout 00:05:00 -WarningAction SilentlyContinue
        $svc.Ready | Should -BeTrue
        $sa = Invoke-RestMethod @rest -Method Post -Uri "$($env:RHAII_IAM_ENDPOINT)v1/projects/-/serviceAccounts/$($gsa):getIamPolicy" -Body '{}'
        (@($sa.bindings) | Where-Object role -eq 'roles/iam.workloadIdentityUser').members | Should -Contain 'serviceAccount:pester-gcs.svc.id.goog[gcs/qwen-sa]'
        $check = Test-RhaiiDeployment -Cluster $platform.Connection -Namespace gcs -Name qwen
        $check.Failed | Should -BeNullOrEmpty
        $check.Checks.Name | Should -Contain 'GatewayCompletion'
        $test = $svc | Test-InferenceEndpoint
        $test.Passed | Should -BeTrue
    }

    It 'fails in the storage initializer with the real 403 when the account cannot read the bucket, and the diagnosis gives the fix' {
        $err = $null
        try {
            Deploy-LlmInferenceService -Cluster $platform.Connection -Name private -Namespace gcs -Model gs://private-models/qwen -GcpServiceAccount $gsa `
                -RegistryCredential $registry -GrantWorkloadIdentity -Wait -Timeout 00:05:00 -SchedulingTimeout 00:01:00 -WarningVariable w -WarningAction SilentlyContinue -ErrorAction Stop
        } catch { $err = $_ }
        "$w" | Should -Match 'grants .* no role that reads objects'
        $err.FullyQualifiedErrorId | Should -BeLike 'LlmInferenceServiceModelDownloadFailed*'
        $finding = Get-RhaiiDiagnosis -Cluster $platform.Connection | Where-Object CheckId -eq 'GcsAccessDenied'
        $finding | Should -Not -BeNullOrEmpty
        $finding[0].Message | Should -Match "$([regex]::Escape($gsa)) lacks storage.objects.list on bucket private-models"
        $finding[0].Fix | Should -Be "gcloud storage buckets add-iam-policy-binding gs://private-models --member serviceAccount:$gsa --role roles/storage.objectViewer"
        ($finding[0].Evidence -join "`n") | Should -Match "403 GET https://storage.googleapis.com/storage/v1/b/private-models/o"
        Get-RhaiiDiagnosis -Cluster $platform.Connection | Where-Object CheckId -eq 'HuggingFaceTokenRejected' | Should -BeNullOrEmpty
    }
}

Describe 'examples/GcsModel.ps1' -Tag Integration, Example, Gcs {
    It 'refuses the deploy without the binding, grants it, and passes Test-RhaiiDeployment on the GKE sandbox' {
        $example = Join-Path $PSScriptRoot '../../examples/GcsModel.ps1'
        $all = & $example -ModuleManifest $env:RHAII_MODULE_MANIFEST 6>&1
        $text = ($all | Where-Object { $_ -is [System.Management.Automation.InformationRecord] } | ForEach-Object { "$($_.MessageData)" }) -join "`n"
        $check = $all | Where-Object { $_ -isnot [System.Management.Automation.InformationRecord] } | Select-Object -Last 1
        $check.Passed | Should -BeTrue
        $text | Should -Match 'Refused as expected: WorkloadIdentityBindingMissing'
    }
}
