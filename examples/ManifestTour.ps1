<#
.SYNOPSIS
    A tour of the offline commands: size the reference model, render the three runbook patterns as
    YAML, lint them, and lint a runbook manifest with the usual mistakes. No cluster or cloud needed.
.EXAMPLE
    dotnet pwsh ./examples/ManifestTour.ps1 -ModuleManifest ./out/RhaiiGke/RhaiiGke.psd1 -OutputPath ./out/manifests
#>
param(
    [string]$ModuleManifest = (Join-Path $PSScriptRoot '../out/RhaiiGke/RhaiiGke.psd1'),
    [string]$OutputPath = (Join-Path $PSScriptRoot '../out/manifests')
)
$ErrorActionPreference = 'Stop'
Import-Module $ModuleManifest -Force

Write-Host "`n== Which v6e slices hold Qwen2.5-3B-Instruct? =="
Get-TpuTopology -Model Qwen/Qwen2.5-3B-Instruct -Accelerator v6e -FitOnly |
    Where-Object { -not $_.Topology.MultiHost } |
    Format-Table Accelerator, TopologyName, MachineType, Chips, TensorParallelSize, WastedChips, Recommended -AutoSize | Out-Host

$summary = foreach ($pattern in 'Baseline', 'CacheAware', 'GkeNativeGateway') {
    $folder = Join-Path $OutputPath $pattern
    $files = @(Export-RhaiiManifest -Pattern $pattern -Path $folder -WarningAction SilentlyContinue)
    $findings = @()
    if (Get-Command Test-LlmInferenceServiceManifest -ErrorAction SilentlyContinue) {
        $findings = @(Test-LlmInferenceServiceManifest -Path $folder)
    }
    [pscustomobject]@{
        Pattern  = $pattern
        Files    = $files.Count
        Kinds    = ($files.Kind | Sort-Object -Unique) -join ', '
        Errors   = @($findings | Where-Object Severity -eq 'Error').Count
        Warnings = @($findings | Where-Object Severity -eq 'Warning').Count
        Folder   = (Resolve-Path $folder).Path
    }
}
Write-Host "== Patterns exported to $OutputPath =="
$summary | Format-Table Pattern, Files, Errors, Warnings, Folder -AutoSize | Out-Host
$summary | ForEach-Object { Write-Host ("{0}: {1}" -f $_.Pattern, $_.Kinds) }

Write-Host "`n== A runbook manifest with the usual mistakes (seed 004) =="
$seed = @'
apiVersion: serving.kserve.io/v1alpha1
kind: LLMInferenceService
metadata:
  name: qwen2-3b-pattern1
  namespace: llm-d-inference-scheduling
spec:
  model:
    uri: hf://Qwen/Qwen2.5-3B-Instruct
    name: Qwen/Qwen2.5-3B-Instruct
  replicas: 1
  router:
    route: {}
    gateway: {}
    scheduler: {}
  template:
    containers:
    - name: main
      image: registry.redhat.io/rhaiis/vllm-tpu-rhel9:3.2.5
      args:
      - --model=Qwen/Qwen2.5-3B-Instruct
      - --dtype=half
      - --max-model-len=2048
      - --tensor-parallel-size=4
      resources:
        limits:
          google.com/tpu: "4"
        requests:
          google.com/tpu: "4"
    nodeSelector:
      cloud.google.com/gke-tpu-topology: 2x2
      cloud.google.com/gke-tpu-accelerator: tpu-v6e
'@
if (Get-Command Test-LlmInferenceServiceManifest -ErrorAction SilentlyContinue) {
    foreach ($f in Test-LlmInferenceServiceManifest -Yaml $seed) {
        Write-Host ("line {0,3} {1,-7} {2} {3}" -f $f.Line, $f.Severity, $f.RuleId, $f.Message)
        Write-Host ("         fix: {0}" -f $f.Fix)
    }
}
$bad = @($summary | Where-Object Errors -gt 0)
if ($bad) { throw "Lint errors in exported patterns: $($bad.Pattern -join ', ')" }
Write-Host "Tour done: $(($summary | Measure-Object Files -Sum).Sum) manifests in $OutputPath"
