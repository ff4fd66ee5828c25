@{
    RootModule           = 'RhaiiGke.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '3d5b7f0e-2a41-4c8e-9b6d-7e2f1a9c4d11'
    Author               = 'RhaiiGke contributors'
    CompanyName          = 'RhaiiGke'
    Copyright            = '(c) RhaiiGke contributors. Apache-2.0.'
    Description          = 'From an empty Google Cloud project to a benchmarked LLM inference service on GKE with TPU: KServe LLMInferenceService, llm-d EPP and vLLM behind an Istio or GKE Gateway, as typed, pipeable, idempotent cmdlets.'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    RequiredAssemblies   = @('RhaiiGke.Models.dll')
    FormatsToProcess     = @(
        'Formats/Catalog.format.ps1xml'
        'Formats/Manifests.format.ps1xml'
        'Formats/Serving.format.ps1xml'
        'Formats/Lint.format.ps1xml'
        'Formats/Inference.format.ps1xml'
        'Formats/Gke.format.ps1xml'
        'Formats/Platform.format.ps1xml'
    )
    CmdletsToExport      = @(
        'Get-TpuTopology'
        'New-LlmInferenceServiceSpec'
        'Export-RhaiiManifest'
        'Get-RhaiiDiagnosis'
        'Export-RhaiiSupportBundle'
        'Test-RhaiiDeployment'
        'New-InferenceGateway'
        'New-InferenceModelRoute'
        'Remove-InferenceModelRoute'
        'Deploy-LlmInferenceService'
        'Get-LlmInferenceService'
        'Get-LlmInferenceServiceLog'
        'Wait-LlmInferenceService'
        'Set-LlmInferenceService'
        'Remove-LlmInferenceService'
        'Enable-LlmInferenceServiceMonitoring'
        'Test-LlmInferenceServiceManifest'
        'Start-InferenceSimulator'
        'Stop-InferenceSimulator'
        'Test-InferenceEndpoint'
        'Get-InferenceMetrics'
        'Invoke-InferenceBenchmark'
        'Test-InferenceCacheRouting'
        'Export-InferenceBenchmarkReport'
        'Compare-InferenceBenchmark'
        'New-TpuCluster'
        'New-GpuCluster'
        'Get-TpuCluster'
        'Set-TpuNodePool'
        'Remove-TpuCluster'
        'Get-TpuClusterCredential'
        'Test-RhaiiPrerequisites'
        'Get-RhaiiCostEstimate'
        'Connect-RhaiiCluster'
        'Start-RhaiiSandbox'
        'Stop-RhaiiSandbox'
        'Install-RhaiiOperators'
        'Get-RhaiiOperatorStatus'
        'Uninstall-RhaiiOperators'
        'Enable-LlmInferenceServiceAutoscaling'
        'Disable-LlmInferenceServiceAutoscaling'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('GKE', 'TPU', 'KServe', 'vLLM', 'llm-d', 'Kubernetes', 'LLM', 'Inference', 'PSEdition_Core', 'Linux', 'Windows', 'MacOS')
            LicenseUri   = 'https://www.apache.org/licenses/LICENSE-2.0'
            ReleaseNotes = 'See CHANGELOG.md in the module folder (the package carries the section of its version here).'
        }
    }
}
