#Requires -Version 7.4
<#
.SYNOPSIS
    A model from Cloud Storage (gs://) read through Workload Identity: a GKE cluster with Workload Identity, a
    Google service account with roles/storage.objectViewer on the bucket, the workload's Kubernetes
    ServiceAccount bound to it (iam.gke.io/gcp-service-account plus roles/iam.workloadIdentityUser, checked
    and - with -GrantWorkloadIdentity - created by Deploy-LlmInferenceService), then a deploy to Ready and the
    deployment check. Runs against the GKE sandbox unless -Project is given.
.DESCRIPTION
    On the sandbox the script also creates what a real project already has: the Google service account
    (iam.googleapis.com/v1 projects.serviceAccounts.create), the bucket (storage/v1 buckets.insert), the model
    files (media upload) and the bucket role (storage/v1 b/BUCKET/iam, read-modify-write with the etag), with the
    same REST calls gcloud makes. It first deploys without the binding to show the refusal, then grants it.
    On a real project pass -Project, -Bucket, -ModelPath and -GcpServiceAccount of an existing account that
    already reads the bucket; the script then only deploys (asking before it grants the binding).
.EXAMPLE
    dotnet pwsh ./examples/GcsModel.ps1 -ModuleManifest ./out/RhaiiGke/RhaiiGke.psd1
.EXAMPLE
    ./examples/GcsModel.ps1 -Project my-project -Zone europe-west4-a -Bucket my-models -ModelPath qwen2.5-3b -GcpServiceAccount model-reader@my-project.iam.gserviceaccount.com
#>
param(
    [string]$ModuleManifest = (Join-Path $PSScriptRoot '../out/RhaiiGke/RhaiiGke.psd1'),
    [string]$Project,
    [string]$Zone = 'europe-west4-a',
    [string]$ClusterName = 'gcs-demo',
    [string]$Bucket = 'rhaii-models',
    [string]$ModelPath = 'qwen2.5-3b-instruct',
    [string]$GcpServiceAccount,
    [pscredential]$RegistryCredential = [pscredential]::new('sandbox', (ConvertTo-SecureString 'sandbox-password' -AsPlainText -Force)),
    # Keep the service (the cluster is always kept on a real project; Remove-TpuCluster removes it)
    [switch]$Keep
)
$ErrorActionPreference = 'Stop'
Import-Module $ModuleManifest
$sandbox = $null
if (-not $Project) {
    $sandbox = Start-RhaiiSandbox -Gke -Name gcs-sandbox -OperationDuration 00:00:00.2 -ControllerDelay 00:00:00.02
    $Project = $sandbox.Project
    Write-Host "GKE API sandbox at $($sandbox.Server) (project $Project); IAM at $env:RHAII_IAM_ENDPOINT, Storage at $env:RHAII_STORAGE_ENDPOINT"
}
try {
    # New-TpuCluster turns Workload Identity on: workloadIdentityConfig.workloadPool = PROJECT.svc.id.goog and
    # GKE_METADATA on the node pools
    $credential = New-TpuCluster -Project $Project -Name $ClusterName -Zone $Zone -Accelerator v6e -Topology 2x2 -InitialNodeCount 1 -SystemNodeCount 2 |
        Get-TpuClusterCredential -AuthMode Token
    $platform = $credential | Connect-RhaiiCluster | Install-RhaiiOperators

    if ($sandbox) {
        # What a real project already has, made with the REST calls gcloud makes.
        $rest = @{ Authentication = 'Bearer'; Token = $credential.Token; AllowUnencryptedAuthentication = $true; ContentType = 'application/json' }
        $account = Invoke-RestMethod @rest -Method Post -Uri "$($env:RHAII_IAM_ENDPOINT)v1/projects/$Project/serviceAccounts" -Body (@{ accountId = 'model-reader' } | ConvertTo-Json)
        $GcpServiceAccount = $account.email
        $null = Invoke-RestMethod @rest -Method Post -Uri "$($env:RHAII_STORAGE_ENDPOINT)v1/b?project=$Project" -Body (@{ name = $Bucket } | ConvertTo-Json)
        $upload = $env:RHAII_STORAGE_ENDPOINT -replace '/storage/$', '/upload/storage/'
        foreach ($file in 'config.json', 'tokenizer.json', 'model.safetensors') {
            $null = Invoke-RestMethod @rest -Method Post -Uri "$($upload)v1/b/$Bucket/o?uploadType=media&name=$([uri]::EscapeDataString("$ModelPath/$file"))" -Body '{}'
        }
        $policy = Invoke-RestMethod @rest -Method Get -Uri "$($env:RHAII_STORAGE_ENDPOINT)v1/b/$Bucket/iam"
        $bindings = @($policy.bindings | Where-Object { $_ }) + @{ role = 'roles/storage.objectViewer'; members = @("serviceAccount:$GcpServiceAccount") }
        $null = Invoke-RestMethod @rest -Method Put -Uri "$($env:RHAII_STORAGE_ENDPOINT)v1/b/$Bucket/iam" -Body (@{ bindings = $bindings; etag = $policy.etag } | ConvertTo-Json -Depth 5)
        Write-Host "Google service account $GcpServiceAccount reads gs://$Bucket (roles/storage.objectViewer)"
    }
    if (-not $GcpServiceAccount) { throw 'Pass -GcpServiceAccount NAME@PROJECT.iam.gserviceaccount.com (an account with roles/storage.objectViewer on the bucket).' }

    $spec = New-LlmInferenceServiceSpec -Name qwen -Model "gs://$Bucket/$ModelPath" -GcpServiceAccount $GcpServiceAccount -ModelName qwen2.5-3b
    if ($sandbox) {
        # Without the Workload Identity binding the deploy is refused before anything is applied.
        try { $spec | Deploy-LlmInferenceService -Cluster $platform.Connection -RegistryCredential $RegistryCredential -ErrorAction Stop | Out-Null }
        catch { Write-Host "Refused as expected: $($_.FullyQualifiedErrorId.Split(',')[0]) - fix: $($_.ErrorDetails.RecommendedAction)" }
    }
    # -GrantWorkloadIdentity adds roles/iam.workloadIdentityUser for serviceAccount:PROJECT.svc.id.goog[rhaii-inference/qwen-sa]
    # on the Google service account (read-modify-write of its IAM policy with the etag) under ShouldProcess:
    # on a real project it asks first (-Confirm).
    $svc = $spec | Deploy-LlmInferenceService -Cluster $platform.Connection -RegistryCredential $RegistryCredential -GrantWorkloadIdentity `
        -Confirm:(-not $sandbox) -Wait -Timeout 00:30:00
    $svc | Format-List Name, Namespace, Stage, Ready, Url | Out-Host
    $check = Test-RhaiiDeployment -Cluster $platform.Connection -Namespace $svc.Namespace -Name $svc.Name
    $check | Format-Table | Out-Host
    $svc | Test-InferenceEndpoint | Format-Table | Out-Host
    $check
    if (-not $Keep) { $svc | Remove-LlmInferenceService -Confirm:$false }
}
finally {
    if ($sandbox) { Stop-RhaiiSandbox -Name $sandbox.Name }
}
