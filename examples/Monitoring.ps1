#Requires -Version 7.4
<#
.SYNOPSIS
    Monitoring for a deployed service: Managed Prometheus (or Prometheus Operator) scrape targets for vLLM,
    the EPP and the gateway, alert rules with your thresholds, KServe's own monitoring switch, a Grafana
    dashboard and a rule file checked with promtool.
.DESCRIPTION
    Without -Context it runs on a local sandbox. A plain cluster, like the sandbox, serves no monitoring
    CRDs, so the script first shows the command's error, then (when kubectl is installed) adds the CRDs a
    GKE cluster with Managed Service for Prometheus has, and sets monitoring up. With -Context it uses that
    kubeconfig context (a GKE cluster with the service already deployed).
.EXAMPLE
    dotnet pwsh ./examples/Monitoring.ps1 -ModuleManifest ./out/RhaiiGke/RhaiiGke.psd1
.EXAMPLE
    ./examples/Monitoring.ps1 -Context gke_my-project_us-east5-b_tpu-demo -Name qwen -Namespace rhaii-inference -TtftP99Threshold 0.5
#>
param(
    [string]$ModuleManifest = (Join-Path $PSScriptRoot '../out/RhaiiGke/RhaiiGke.psd1'),
    [string]$Context,
    [string]$Name = 'qwen',
    [string]$Namespace = 'rhaii-inference',
    [double]$TtftP99Threshold = 2,
    [string]$OutputDirectory = (Join-Path ([IO.Path]::GetTempPath()) 'rhaii-monitoring'),
    [string]$KubeconfigPath = (Join-Path ([IO.Path]::GetTempPath()) 'rhaii-monitoring.kubeconfig')
)
$ErrorActionPreference = 'Stop'
Import-Module $ModuleManifest
New-Item -ItemType Directory -Force -Path $OutputDirectory | Out-Null

$sandbox = $null
if ($Context) {
    Connect-RhaiiCluster -Context $Context | Out-Null
} else {
    $sandbox = Start-RhaiiSandbox -TpuNodes 1 -KubeconfigPath $KubeconfigPath -ControllerDelay 00:00:00.05
    $sandbox | Install-RhaiiOperators | Out-Null
    New-InferenceGateway | Out-Null
    $registry = [pscredential]::new('demo', (ConvertTo-SecureString 'not-a-real-password' -AsPlainText -Force))
    Deploy-LlmInferenceService -Name $Name -Namespace $Namespace -Model Qwen/Qwen2.5-1.5B-Instruct -RegistryCredential $registry -WarningAction SilentlyContinue | Out-Null
}

try {
    if ($sandbox) {
        # A plain cluster has neither Managed Prometheus nor the Prometheus Operator: a clear error, nothing applied.
        try {
            Enable-LlmInferenceServiceMonitoring -Name $Name -Namespace $Namespace | Out-Null
        } catch {
            "{0}: {1}" -f $_.FullyQualifiedErrorId, $_.Exception.Message
            "Fix: {0}" -f $_.ErrorDetails.RecommendedAction
        }
        if (-not (Get-Command kubectl -ErrorAction SilentlyContinue)) {
            Write-Warning 'kubectl is not installed, so the sandbox cannot be given the Managed Prometheus CRDs; stopping here.'
            return
        }
        # The two Managed Prometheus kinds the command uses, as a GKE cluster serves them (schemaless here).
        $crds = foreach ($kind in @(@{ Kind = 'PodMonitoring'; Plural = 'podmonitorings' }, @{ Kind = 'Rules'; Plural = 'rules' })) {
@"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: $($kind.Plural).monitoring.googleapis.com }
spec:
  group: monitoring.googleapis.com
  scope: Namespaced
  names: { kind: $($kind.Kind), listKind: $($kind.Kind)List, plural: $($kind.Plural), singular: $($kind.Kind.ToLowerInvariant()) }
  versions:
  - name: v1
    served: true
    storage: true
    schema: { openAPIV3Schema: { type: object, x-kubernetes-preserve-unknown-fields: true } }
"@
        }
        ($crds -join "`n---`n") | kubectl --kubeconfig $KubeconfigPath apply -f - | Out-Host
        kubectl --kubeconfig $KubeconfigPath wait --for condition=Established crd/podmonitorings.monitoring.googleapis.com crd/rules.monitoring.googleapis.com | Out-Host
    }

    # What would be applied, as a server-side dry run.
    Enable-LlmInferenceServiceMonitoring -Name $Name -Namespace $Namespace -WhatIf |
        ForEach-Object Objects | Format-Table Id, Action

    # The real run, with the dashboard, the rule file and a plain prometheus.yml written next to it.
    $dashboard = Join-Path $OutputDirectory "$Name-dashboard.json"
    $rules = Join-Path $OutputDirectory "$Name-rules.yaml"
    $monitoring = Get-LlmInferenceService -Name $Name -Namespace $Namespace |
        Enable-LlmInferenceServiceMonitoring -TtftP99Threshold $TtftP99Threshold -DashboardPath $dashboard -RulesPath $rules `
            -ScrapeConfigPath (Join-Path $OutputDirectory 'prometheus.yml')
    $monitoring | Format-Table
    $monitoring | Format-List Backend, KServeMonitoring, KServeMonitoringNote, Alerts, Files

    # Nothing changed, so nothing is sent.
    $again = Enable-LlmInferenceServiceMonitoring -Name $Name -Namespace $Namespace -TtftP99Threshold $TtftP99Threshold
    "Second run: {0} mutating requests" -f $again.MutatingRequests

    if (Get-Command promtool -ErrorAction SilentlyContinue) {
        promtool check rules $rules | Out-Host
    }
    "Import $dashboard into Grafana (Dashboards > New > Import)."
} finally {
    if ($sandbox) { Stop-RhaiiSandbox -Name $sandbox.Name | Out-Null }
}
