#Requires -Version 7.4
<#
.SYNOPSIS
    Runbook Pattern 2, multi-model: two models on their own TPU hosts behind one OpenAI base URL that routes
    each request by the model in its body (the Gateway API Inference Extension's body-based router and one
    HTTPRoute with an X-Gateway-Model-Name match per model), each model checked through that URL, a weighted
    benchmark reported per model with every request checked against the pod that served it, GET /v1/models on the
    shared URL listing every model, prefix-cache routing checked per model, one model taken off the URL, the
    manifests and the cost of the pattern, and teardown. Runs on a local sandbox; pass -Cluster to use a connected cluster.
.EXAMPLE
    dotnet pwsh ./examples/MultiModel.ps1 -ModuleManifest ./out/RhaiiGke/RhaiiGke.psd1
#>
param(
    [string]$ModuleManifest = (Join-Path $PSScriptRoot '../out/RhaiiGke/RhaiiGke.psd1'),
    [string]$Namespace = 'llm',
    [string]$SmallModel = 'Qwen/Qwen2.5-1.5B-Instruct',
    [string]$LargeModel = 'Qwen/Qwen2.5-3B-Instruct',
    [int]$NumPrompts = 60,
    [string]$OutputPath = (Join-Path ([IO.Path]::GetTempPath()) 'rhaii-multi-model'),
    [TimeSpan]$ControllerDelay = '00:00:00.05'
)
$ErrorActionPreference = 'Stop'
Import-Module $ModuleManifest

# Two v6e 2x2 hosts: one per model (each vLLM server takes a whole host's four chips).
$sandbox = Start-RhaiiSandbox -Name multi-model -TpuNodes 2 -Accelerator v6e -Topology 2x2 -ControllerDelay $ControllerDelay
try {
    $sandbox | Install-RhaiiOperators | Out-Null
    New-InferenceGateway | Out-Null
    $registry = [pscredential]::new('demo', (ConvertTo-SecureString 'not-a-real-password' -AsPlainText -Force))

    # The pattern as files first: both services, the platform, and the model route.
    $small = New-LlmInferenceServiceSpec -Name small -Model $SmallModel -Namespace $Namespace -WarningAction SilentlyContinue
    $large = New-LlmInferenceServiceSpec -Name large -Model $LargeModel -Namespace $Namespace -WarningAction SilentlyContinue
    $small, $large | Export-RhaiiManifest -IncludePlatform -ModelRoute models -Path (Join-Path $OutputPath 'manifests') |
        Format-Table Order, Kind, Namespace, Name

    # What it costs: one v6e 2x2 host per model.
    Get-RhaiiCostEstimate -Accelerator v6e -Topology 2x2 -NodeCount 2 | Format-List

    # Deploy both, verify each with traffic through the gateway, then one URL for both.
    $services = $small, $large | Deploy-LlmInferenceService -RegistryCredential $registry -Wait -Timeout 00:05:00
    $services | Format-Table
    foreach ($s in $services) { Test-RhaiiDeployment -Namespace $s.Namespace -Name $s.Name | Format-Table Namespace, Name, Passed, FailedCount }
    $route = $services | New-InferenceModelRoute -Name models
    $route | Format-List

    # GET /v1/models on the shared URL: the route's model list names every model.
    $listed = (Invoke-RestMethod "$($route.BaseUrl)/models").data.id
    "Models on $($route.BaseUrl): $($listed -join ', ')"
    if (@($listed).Count -ne 2) { throw 'The shared URL does not list both models.' }

    # Each model through the shared URL (one result per model).
    $route | Test-InferenceEndpoint | Format-Table

    # A 3:1 mix through one URL: overall plus one row per model; Misrouted must be 0.
    $results = Invoke-InferenceBenchmark -BaseUrl $route.BaseUrl -ModelMix @{ $SmallModel = 3; $LargeModel = 1 } `
        -Concurrency 4 -NumPrompts $NumPrompts -InputTokens 64 -OutputTokens 8 -Detailed -Confirm:$false
    $results | Format-Table Scope, Model, Completed, Failed, Misrouted -AutoSize
    $results | Format-Table Scope, RequestThroughput, TtftP50Ms, E2elP99Ms -AutoSize

    # Per request: the pod that answered belongs to the service of the model the request asked for.
    $serviceOf = @{}
    foreach ($s in $services) { foreach ($p in $s.Pods) { $serviceOf[$p.Name] = $s.Model } }
    $overall = $results | Where-Object Scope -eq overall
    $wrong = @($overall.Requests | Where-Object { $serviceOf[$_.Pod] -ne $_.Model })
    "{0} requests, {1} reached a pod of another model" -f $overall.Requests.Count, $wrong.Count
    if ($wrong.Count -gt 0 -or $overall.Misrouted -gt 0) { throw 'Requests were misrouted.' }

    # The cache-routing check per model on the shared URL (one result per model; the model header reaches its pods' /metrics).
    $route | Test-InferenceCacheRouting -Groups 2 -RequestsPerGroup 4 -WarningAction SilentlyContinue |
        Format-Table Model, GatewayWarmHitRate, Passed

    # Take the large model off the shared URL: the list and the routing follow; then remove the route.
    $route = $route | Remove-InferenceModelRoute -ServiceName large -Confirm:$false
    "After removal: $((Invoke-RestMethod "$($route.BaseUrl)/models").data.id -join ', ')"
    $route | Remove-InferenceModelRoute -Confirm:$false

    $services | ForEach-Object { Remove-LlmInferenceService -Namespace $_.Namespace -Name $_.Name -Confirm:$false }
}
finally {
    Stop-RhaiiSandbox -Name multi-model
}
