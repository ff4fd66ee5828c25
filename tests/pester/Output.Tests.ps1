#Requires -Version 7.4
# Output for scripts (issue 12 item 2): every result type the cmdlets declare with [OutputType] round-trips through
# ConvertTo-Json/ConvertFrom-Json (default depth and -Depth 10), Export-Clixml/Import-Clixml and Export-Csv (flat,
# numeric where numeric); every default view renders at 80 and 120 columns without splitting an identifier; progress
# is completed on success, error and Ctrl+C. The objects are real: produced by the commands on the GKE sandbox and
# the inference simulator.
BeforeDiscovery {
    $module = Import-Module $env:RHAII_MODULE_MANIFEST -PassThru -Force
    # Every result type a cmdlet declares: a new command or a new [OutputType] cannot escape these tests.
    # Primitive and framework types (bool, FileInfo) and job handles (GkeJob: Receive-Job gives the result type) are
    # PowerShell's own; the module's result types are the RhaiiGke.* classes.
    $script:resultTypes = @(Get-Command -Module $module.Name -CommandType Cmdlet | ForEach-Object OutputType | ForEach-Object Type |
        Where-Object { $_ -and $_.Namespace -eq 'RhaiiGke' -and -not [System.Management.Automation.Job].IsAssignableFrom($_) } |
        Sort-Object FullName -Unique | ForEach-Object { @{ Type = $_.FullName } })
    # Every default view (the first view of each type in the module's format files)
    $script:views = [ordered]@{}
    foreach ($f in Get-ChildItem (Join-Path $module.ModuleBase 'Formats') -Filter *.format.ps1xml) {
        foreach ($v in ([xml](Get-Content $f -Raw)).Configuration.ViewDefinitions.View) {
            $t = $v.ViewSelectedBy.TypeName
            if (-not $views.Contains($t)) {
                $labels = @(if ($v.TableControl) {
                        $headers = @($v.TableControl.TableHeaders.TableColumnHeader)
                        $items = @($v.TableControl.TableRowEntries.TableRowEntry.TableColumnItems.TableColumnItem)
                        for ($i = 0; $i -lt $headers.Count; $i++) { if ($headers[$i].Label) { $headers[$i].Label } else { $items[$i].PropertyName } }
                    })
                $views[$t] = @{ Type = $t; View = $v.Name; Labels = $labels }
            }
        }
    }
    $script:viewCases = foreach ($w in 80, 120) { foreach ($v in $views.Values) { $v + @{ Width = $w } } }
}

BeforeAll {
    Import-Module $env:RHAII_MODULE_MANIFEST -Force
    $script:samples = @{}
    function script:Add-Sample {
        param([Parameter(ValueFromPipeline)] $InputObject)
        process {
            foreach ($o in @($InputObject)) {
                if ($null -eq $o) { continue }
                $base = if ($o -is [psobject]) { $o.psobject.BaseObject } else { $o }
                $name = $base.GetType().FullName
                if (-not $samples.ContainsKey($name)) { $samples[$name] = [System.Collections.Generic.List[object]]::new() }
                $samples[$name].Add($base)
            }
        }
    }
    # nested objects (a view for DeploymentCheck renders Test-RhaiiDeployment's Checks) from the samples' properties
    function script:Find-Nested {
        param([string]$TypeName)
        foreach ($list in @($samples.Values)) {
            foreach ($o in $list) {
                foreach ($p in $o.psobject.Properties) {
                    $v = try { $p.Value } catch { $null }
                    foreach ($x in @($v)) { if ($null -ne $x -and $x.GetType().FullName -eq $TypeName) { $x } }
                }
            }
        }
    }

    $script:work = Join-Path ([IO.Path]::GetTempPath()) "rhaii-output-$PID"
    $null = New-Item -ItemType Directory -Force $work
    $cred = [pscredential]::new('svc', (ConvertTo-SecureString 'registry-password' -AsPlainText -Force))

    # the card on a simulated Google Cloud project
    $script:gke = Start-RhaiiSandbox -Gke -Name output-gke -Project output-project -OperationDuration 00:00:00.05 -ControllerDelay 00:00:00.01
    Add-Sample $gke
    Test-RhaiiPrerequisites -Zone europe-west4-a -Accelerator v6e -Topology 2x2 | Add-Sample
    $cluster = New-TpuCluster -Name out -Zone europe-west4-a -Accelerator v6e -Topology 2x2 -InitialNodeCount 1 -SystemNodeCount 2
    Add-Sample $cluster
    Get-TpuCluster -Zone europe-west4-a | Add-Sample
    $cluster | Set-TpuNodePool -Size 1 | Add-Sample
    $cluster | Get-RhaiiCostEstimate | Add-Sample
    $credential = $cluster | Get-TpuClusterCredential -AuthMode Token
    Add-Sample $credential
    $script:connection = $credential | Connect-RhaiiCluster
    Add-Sample $connection
    $platform = $connection | Install-RhaiiOperators
    Add-Sample $platform
    Get-RhaiiOperatorStatus -BillOfMaterials | Add-Sample
    New-InferenceGateway -Name output-gateway -Namespace output-gw | Add-Sample
    $script:service = $platform | Deploy-LlmInferenceService -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -RegistryCredential $cred -Wait -Timeout 00:05:00 -WarningAction SilentlyContinue
    Add-Sample $service
    Get-LlmInferenceService -Namespace $service.Namespace | Add-Sample
    Get-LlmInferenceService -Namespace $service.Namespace | Get-RhaiiCostEstimate -SharedGateway | Add-Sample
    Test-RhaiiDeployment -Namespace $service.Namespace -Name $service.Name | Add-Sample
    # day-2: metrics through the pods proxy, typed log lines, a support bundle
    $service | Get-InferenceMetrics -WarningAction SilentlyContinue | Add-Sample
    # Line is free text and wraps; lines quoting a request path (/<namespace>/<name>/...) would wrap the namespace
    # inside them, which the split-identifier check below cannot tell from a split Namespace column.
    Get-LlmInferenceServiceLog -Namespace $service.Namespace -Name $service.Name -Tail 20 |
        Where-Object Line -NotMatch ([regex]::Escape($service.Namespace)) | Add-Sample
    Export-RhaiiSupportBundle -Path (Join-Path $work 'support.zip') -Confirm:$false | Add-Sample
    $endpoint = $service | Test-InferenceEndpoint -WarningAction SilentlyContinue
    Add-Sample $endpoint
    $slo = @{ ttft = 5000; tpot = 500; e2el = 20000 }
    $script:bench = $endpoint | Invoke-InferenceBenchmark -Concurrency 1, 2 -NumPrompts 8 -InputTokens 32 -OutputTokens 4 -Slo $slo -Label gke -WarningAction SilentlyContinue
    Add-Sample $bench

    # the inference simulator: metrics, cache routing, reports and comparisons
    $script:sim = Start-InferenceSimulator -Replicas 2 -Name output
    Add-Sample $sim
    $sim | Get-InferenceMetrics -Name 'vllm:num_requests_running' | Add-Sample
    $sim | Test-InferenceCacheRouting -Groups 2 -RequestsPerGroup 3 -PrefixTokens 128 -Seed 4 -WarningAction SilentlyContinue | Add-Sample
    $other = $sim | Invoke-InferenceBenchmark -Concurrency 1, 2 -NumPrompts 8 -InputTokens 16 -OutputTokens 4 -Label sim -WarningAction SilentlyContinue
    Add-Sample $other
    $other | Compare-InferenceBenchmark -ReferenceResult $bench | Add-Sample

    # the catalog, specs, manifests, lint and diagnosis (offline)
    Get-TpuTopology -Accelerator v6e | Add-Sample
    Get-TpuTopology -Model Qwen/Qwen2.5-7B-Instruct -Accelerator v6e | Add-Sample
    $spec = New-LlmInferenceServiceSpec -Name qwen -Model Qwen/Qwen2.5-1.5B-Instruct -WarningAction SilentlyContinue
    Add-Sample $spec
    $spec | Export-RhaiiManifest -WarningAction SilentlyContinue | Add-Sample
    $spec | Export-RhaiiManifest -Path (Join-Path $work 'manifests') -WarningAction SilentlyContinue | Add-Sample
    $seed004 = Join-Path $PSScriptRoot '../RhaiiGke.Tests/Lint/Fixtures/seed004-pattern1.yaml'
    Test-LlmInferenceServiceManifest -Path $seed004 | Add-Sample
    Test-LlmInferenceServiceManifest -Path $seed004 -Summary | Add-Sample
    $bundle = New-Item -ItemType Directory -Force (Join-Path $work 'bundle')
    @'
{"apiVersion":"v1","kind":"List","items":[
 {"apiVersion":"v1","kind":"Node","metadata":{"name":"n1","labels":{"cloud.google.com/gke-tpu-accelerator":"tpu-v6e-slice","cloud.google.com/gke-tpu-topology":"2x2"}}},
 {"apiVersion":"v1","kind":"Pod","metadata":{"name":"qwen-kserve-1","namespace":"demo"},
  "spec":{"nodeSelector":{"cloud.google.com/gke-tpu-accelerator":"tpu-v6e","cloud.google.com/gke-tpu-topology":"2x2"},
          "tolerations":[{"key":"google.com/tpu","operator":"Exists"}],
          "containers":[{"name":"main","resources":{"requests":{"google.com/tpu":"4"},"limits":{"google.com/tpu":"4"}}}]},
  "status":{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"False"}]}}]}
'@ | Set-Content (Join-Path $bundle 'core.json')
    Get-ChildItem $bundle | Get-RhaiiDiagnosis | Add-Sample

    # The sandbox serves no Prometheus CRDs, so Enable-LlmInferenceServiceMonitoring stops before it returns anything:
    # a constructed result with the values it reports for this service.
    [RhaiiGke.LlmInferenceServiceMonitoring]@{
        Name = $service.Name; Namespace = $service.Namespace; Backend = 'ManagedPrometheus'; KServeMonitoring = $true
        Alerts = [RhaiiGke.RhaiiList[string]][string[]]('VllmTtftP99High', 'VllmQueueDepthHigh', 'VllmKvCacheNearlyFull', 'VllmPodRestarting', 'Gateway5xxHigh')
        MutatingRequests = 4; Cluster = $connection.Name
    } | Add-Sample

    # New-InferenceModelRoute needs two services, and this cluster has one TPU host: a constructed result with the
    # values it reports (tests/RhaiiGke.Tests/Serving/MultiModelTests.cs produces real ones on a two-host sandbox).
    [RhaiiGke.InferenceModelRoute]@{
        Name = 'models'; Namespace = $service.Namespace; RouteName = 'models-model-route'
        Models = [RhaiiGke.RhaiiList[string]][string[]]('Qwen/Qwen2.5-1.5B-Instruct', 'Qwen/Qwen2.5-3B-Instruct')
        Services = [RhaiiGke.RhaiiList[string]][string[]]('qwen', 'qwen-large'); Gateway = 'opendatahub/inference-gateway'
        GatewayAddress = '10.0.0.7'; Url = "http://10.0.0.7/$($service.Namespace)/models"; Ready = $true; MutatingRequests = 6; Cluster = $connection.Name
    } | Add-Sample
    # Enable-LlmInferenceServiceAutoscaling refuses on the sandbox's KServe release-v0.15 (KServeOverwritesReplicas):
    # a constructed result with the values it reports; Disable-LlmInferenceServiceAutoscaling runs for real.
    [RhaiiGke.LlmInferenceServiceAutoscaling]@{
        Name = $service.Name; Namespace = $service.Namespace; Backend = 'HorizontalPodAutoscaler'; ScaleTarget = "Deployment/$($service.Name)-kserve"
        MinReplicas = 1; MaxReplicas = 4; Enabled = $true; CurrentReplicas = 1; DesiredReplicas = 2
        Metrics = [RhaiiGke.RhaiiList[RhaiiGke.AutoscalingMetric]][RhaiiGke.AutoscalingMetric[]]@([RhaiiGke.AutoscalingMetric]@{ Signal = 'RequestsWaiting'; Metric = 'prometheus.googleapis.com|vllm:num_requests_waiting|gauge'; Target = 5 })
        ScaleUpStabilizationSeconds = 60; ScaleDownStabilizationSeconds = 600
        Notes = [RhaiiGke.RhaiiList[string]][string[]]('spec.replicas (1) was removed from the service.')
        MutatingRequests = 2; Cluster = $connection.Name
    } | Add-Sample
    Disable-LlmInferenceServiceAutoscaling -Namespace $service.Namespace -Name $service.Name -Confirm:$false | Add-Sample

    # removals last: KubeApplyResult and GkeOperation
    Remove-LlmInferenceService -Namespace $service.Namespace -Name $service.Name -Confirm:$false -PassThru | Add-Sample
    Remove-TpuCluster -Name out -Zone europe-west4-a -Force -PassThru -WarningAction SilentlyContinue | Add-Sample

    # ---- helpers ----
    $script:inv = [cultureinfo]::InvariantCulture
    function script:Test-Number([object]$v) { $v -is [byte] -or $v -is [int] -or $v -is [long] -or $v -is [double] -or $v -is [float] -or $v -is [decimal] -or $v -is [int16] -or $v -is [uint32] -or $v -is [uint64] }
    function script:ConvertTo-Double([object]$v) {
        if ($v -is [string]) { return [double]::Parse($v, $inv) }   # NaN and Infinity come back from JSON as strings
        [double]$v
    }
    # Compares an original value with what came back from JSON or Clixml; returns the differences.
    function script:Compare-RoundTrip {
        param($Original, $Back, [string]$Path, [int]$Depth)
        if ($null -eq $Original) { return }
        if ($Original -is [securestring]) { return }   # never serialized in clear; ConvertTo-Json writes only its Length
        if ($Original -is [psobject]) { $Original = $Original.psobject.BaseObject }
        if ($null -eq $Back) { return "$Path is missing" }
        if ($Back -is [psobject] -and $Back.psobject.BaseObject -isnot [System.Management.Automation.PSCustomObject]) { $Back = $Back.psobject.BaseObject }
        if ($Original -is [string] -or $Original -is [char] -or $Original -is [guid] -or $Original -is [uri]) {
            if ("$Back" -cne "$Original") { return "$Path '$Original' came back as '$Back'" }
            return
        }
        if ($Original -is [bool]) { if ([bool]$Back -ne $Original -or "$Back" -notin 'True', 'False') { return "$Path $Original came back as $Back" }; return }
        if ($Original -is [enum]) {
            if ("$Back" -ne "$Original" -and "$Back" -ne "$([int]$Original)" -and "$Back" -ne ($Original -as [long])) { return "$Path $Original came back as $Back" }
            return
        }
        if (Test-Number $Original) {
            $b = try { ConvertTo-Double $Back } catch { return "$Path $Original came back as non-numeric '$Back'" }
            $o = [double]$Original
            if ([double]::IsNaN($o)) { if (-not [double]::IsNaN($b)) { return "$Path NaN came back as $b" }; return }
            if ($o -ne $b -and [math]::Abs($o - $b) -gt 1e-9 * [math]::Max(1, [math]::Abs($o))) { return "$Path $o came back as $b" }
            return
        }
        if ($Original -is [datetime] -or $Original -is [datetimeoffset]) {
            $o = ([datetimeoffset]$Original).UtcTicks
            $b = if ($Back -is [string]) { [datetimeoffset]::Parse($Back, $inv).UtcTicks }
                 elseif ($null -ne $Back.UtcTicks) { $Back.UtcTicks }   # Import-Clixml: a property bag
                 else { ([datetimeoffset]$Back).UtcTicks }
            if ([math]::Abs($o - $b) -gt 10000) { return "$Path $Original came back as $Back" }
            return
        }
        if ($Original -is [timespan]) {
            $b = if ($Back -is [timespan]) { $Back.Ticks } elseif ($Back.Ticks) { $Back.Ticks } else { ([timespan]"$Back").Ticks }
            if ($b -ne $Original.Ticks) { return "$Path $Original came back as $Back" }
            return
        }
        if ($Depth -le 0) { return }   # below the serialization depth a value may be its ToString()
        if ($Original -is [System.Collections.IDictionary]) {
            foreach ($k in $Original.Keys) {
                $bv = if ($Back -is [System.Collections.IDictionary]) { $Back[$k] } else { $Back.$k }
                Compare-RoundTrip $Original[$k] $bv "$Path[$k]" ($Depth - 1)
            }
            return
        }
        if ($Original -is [System.Collections.IEnumerable]) {
            $o = @($Original); $b = @($Back)
            if ($o.Count -ne $b.Count) { return "$Path has $($o.Count) item(s), came back with $($b.Count)" }
            for ($i = 0; $i -lt $o.Count; $i++) { Compare-RoundTrip $o[$i] $b[$i] "$Path[$i]" ($Depth - 1) }
            return
        }
        if ($Back -is [string]) { return "$Path came back as the string '$Back'" }
        foreach ($p in $Original.psobject.Properties) {
            if ($p.MemberType -notin 'Property', 'NoteProperty') { continue }
            $v = try { $p.Value } catch { continue }
            Compare-RoundTrip $v $Back.($p.Name) "$Path.$($p.Name)" ($Depth - 1)
        }
    }
}

AfterAll {
    if ($sim) { $sim | Stop-InferenceSimulator -ErrorAction SilentlyContinue }
    Stop-RhaiiSandbox -All -ErrorAction SilentlyContinue
    if ($work) { Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'Round trips of <Type>' -Tag Output, Integration -ForEach $resultTypes {
    BeforeAll {
        $script:objects = @($samples[$Type])
        $script:props = @($objects[0].psobject.Properties | Where-Object MemberType -eq 'Property')
    }

    It 'has a real object to test (the commands produced one)' {
        $objects.Count | Should -BeGreaterThan 0 -Because "some command declares [OutputType([$Type])]: produce one in BeforeAll"
    }

    It 'goes through ConvertTo-Json at the default depth and back' {
        foreach ($o in $objects) {
            $json = $o | ConvertTo-Json -WarningAction SilentlyContinue -ErrorAction Stop
            $back = $json | ConvertFrom-Json -ErrorAction Stop
            @(Compare-RoundTrip $o $back $Type 1) | Should -BeNullOrEmpty
        }
    }

    It 'goes through ConvertTo-Json -Depth 10 and back with every nested value' {
        foreach ($o in $objects) {
            $json = $o | ConvertTo-Json -Depth 10 -WarningAction SilentlyContinue -ErrorAction Stop
            $back = $json | ConvertFrom-Json -ErrorAction Stop
            @(Compare-RoundTrip $o $back $Type 9) | Should -BeNullOrEmpty
        }
    }

    It 'writes enums as their names with ConvertTo-Json -EnumsAsStrings' {
        $enumProps = @($props | Where-Object { $_.Value -is [enum] })
        foreach ($p in $enumProps) {
            $back = $objects[0] | ConvertTo-Json -EnumsAsStrings -WarningAction SilentlyContinue | ConvertFrom-Json
            $back.($p.Name) | Should -Be "$($p.Value)"
        }
    }

    It 'goes through Export-Clixml and Import-Clixml' {
        $file = Join-Path $TestDrive 'o.clixml'
        foreach ($o in $objects) {
            $o | Export-Clixml -LiteralPath $file -Depth 10
            $back = Import-Clixml -LiteralPath $file
            $back.psobject.TypeNames | Should -Contain "Deserialized.$Type"
            @(Compare-RoundTrip $o $back $Type 9) | Should -BeNullOrEmpty
        }
    }

    It 'exports to CSV as flat columns, numeric where numeric' {
        $rows = @($objects | ConvertTo-Csv | ConvertFrom-Csv)
        $rows.Count | Should -Be $objects.Count
        for ($i = 0; $i -lt $objects.Count; $i++) {
            foreach ($p in $objects[$i].psobject.Properties) {
                $cell = $rows[$i].($p.Name)
                $v = try { $p.Value } catch { $null }
                # a SecureString is never converted (Get-Credential | Export-Csv writes its type name too): no secret in the file
                if ($v -is [securestring]) { $cell | Should -Be 'System.Security.SecureString'; continue }
                $cell | Should -Not -Match '^(System|RhaiiGke)\.[\w.`]+(\[.*\])?$' -Because "$($p.Name) is exported as its type name"
                if ($null -ne $v -and (Test-Number $v)) {
                    $parsed = 0.0
                    [double]::TryParse($cell, [System.Globalization.NumberStyles]::Float, $inv, [ref]$parsed) | Should -BeTrue -Because "$($p.Name) is numeric but exported as '$cell'"
                }
            }
        }
    }
}

Describe 'Flat benchmark columns' -Tag Output, Integration {
    It 'exports the latency percentiles as numbers in milliseconds' {
        $rows = @($bench | ConvertTo-Csv | ConvertFrom-Csv)
        for ($i = 0; $i -lt $bench.Count; $i++) {
            foreach ($m in 'Ttft', 'Tpot', 'Itl', 'E2el') {
                foreach ($p in 50, 90, 99) {
                    [double]::Parse($rows[$i]."$m`P$($p)Ms", $inv) | Should -Be ($bench[$i].$m.Percentile($p))
                }
            }
            $rows[$i].Slo | Should -Be 'e2el=20000; tpot=500; ttft=5000'
            $rows[$i].Pods | Should -Match '^[\w.-]+=\d+(; [\w.-]+=\d+)*$'
        }
    }
    It 'keeps every requested percentile as {Percentile, Value} through JSON' {
        $back = $bench[0] | ConvertTo-Json -Depth 5 | ConvertFrom-Json
        $back.Ttft.Percentiles.Percentile | Should -Be @(50, 90, 95, 99)
        $back.Ttft.Percentiles[3].Value | Should -Be $bench[0].Ttft.P99
        $back.TtftP99Ms | Should -Be $bench[0].Ttft.P99
    }
}

Describe 'Default view of <Type> at <Width> columns' -Tag Output, Integration -ForEach $viewCases {
    BeforeAll {
        $found = if ($samples.ContainsKey($Type)) { $samples[$Type] } else { Find-Nested $Type }
        $script:objects = @($found | Select-Object -First 6)
    }

    It 'has an object to render' {
        $objects.Count | Should -BeGreaterThan 0 -Because "the view $View must be rendered by a test"
    }

    It 'fits the width, keeps headers whole, and never splits or cuts an identifier' {
        $text = $objects | Out-String -Width $Width
        $lines = $text -split '\r?\n'
        foreach ($l in $lines) { $l.TrimEnd().Length | Should -BeLessOrEqual $Width -Because "line: $l" }
        $text | Should -Not -Match '…' -Because 'a value or header cut short (only free text wraps, whole)'
        foreach ($label in $Labels) {
            @($lines | Where-Object { $_ -match "(^|\s)$([regex]::Escape($label))(\s|$)" }).Count | Should -BeGreaterThan 0 -Because "the header '$label' must be whole:`n$text"
        }
        # identifiers and URLs: shown whole on one line, or not shown at all
        foreach ($o in $objects) {
            foreach ($p in $o.psobject.Properties) {
                $v = try { $p.Value } catch { continue }
                if ($v -isnot [string] -or $v.Length -lt 6 -or $v.Length + 24 -gt $Width) { continue }
                $isId = $v -match '^https?://\S+$' -or ($p.Name -match '^(Name|Namespace|CheckId|RuleId|Target|Model|Stage|Server|Context|ContextName|Cluster|Id|BaseUrl|Url|MachineType|Accelerator|Topology|Project|Zone)$' -and $v -notmatch '\s')
                if (-not $isId) { continue }
                # shown (at least its end) but not whole on one line: split. Cut values show as '…', tested above.
                $tail = $v.Substring($v.Length - 6)
                if (-not $text.Contains($tail)) { continue }   # the view does not show it
                @($lines | Where-Object { $_.Contains($v) }).Count | Should -BeGreaterThan 0 -Because "$($p.Name) '$v' must not be split or cut at $Width columns:`n$text"
            }
        }
    }
}

Describe 'Progress is completed on every path' -Tag Output, Integration {
    BeforeAll {
        # One hosted runspace; each step runs in its own PowerShell instance so its progress records are its own.
        $script:rs = [runspacefactory]::CreateRunspace()
        $rs.Open()
        function script:Invoke-Step {
            param([string]$Script, [scriptblock]$StopWhen)
            $ps = [powershell]::Create()
            $ps.Runspace = $rs
            $null = $ps.AddScript($Script)
            $output = $null
            if ($StopWhen) {
                $async = $ps.BeginInvoke()
                $deadline = [datetime]::UtcNow.AddMinutes(3)
                while (-not $async.IsCompleted -and -not (@($ps.Streams.Progress) | Where-Object $StopWhen) -and [datetime]::UtcNow -lt $deadline) {
                    $null = $async.AsyncWaitHandle.WaitOne(50)
                }
                $async.IsCompleted | Should -BeFalse -Because 'the command should still be running when it is stopped'
                $ps.Stop()   # what Ctrl+C does
                $ps.InvocationStateInfo.State | Should -Be 'Stopped'
            } else {
                $output = $ps.Invoke()
            }
            [pscustomobject]@{ Progress = @($ps.Streams.Progress); Errors = @($ps.Streams.Error); Output = $output; Dispose = $ps }
        }
        function script:Get-OpenActivity {
            param([System.Management.Automation.ProgressRecord[]]$Records)
            $last = @{}
            foreach ($r in $Records) { $last[$r.ActivityId] = $r }
            $last.Values | Where-Object RecordType -ne 'Completed' | ForEach-Object { "$($_.Activity): $($_.StatusDescription)" }
        }
        $null = Invoke-Step "Import-Module '$($env:RHAII_MODULE_MANIFEST)'"
        $script:kubeconfig = Join-Path $work 'progress.kubeconfig'
    }
    AfterAll {
        $null = Invoke-Step 'Stop-RhaiiSandbox -Name output-progress -ErrorAction SilentlyContinue'
        $rs.Dispose()
    }

    It 'completes the benchmark''s progress when it succeeds' {
        $r = Invoke-Step "Invoke-InferenceBenchmark -BaseUrl '$($sim.BaseUrl)' -Concurrency 2 -NumPrompts 40 -InputTokens 16 -OutputTokens 4 -Warmups 0"
        $r.Errors | Should -BeNullOrEmpty
        @($r.Output).Count | Should -Be 1
        $r.Progress.Count | Should -BeGreaterThan 0
        @(Get-OpenActivity $r.Progress) | Should -BeNullOrEmpty
    }

    It 'completes the benchmark''s progress when it is stopped (Ctrl+C)' {
        $r = Invoke-Step "Invoke-InferenceBenchmark -BaseUrl '$($sim.BaseUrl)' -Concurrency 1 -NumPrompts 500000 -InputTokens 16 -OutputTokens 4 -Warmups 0" -StopWhen { $_.StatusDescription -match 'requests' }
        @($r.Progress | Where-Object StatusDescription -match 'requests').Count | Should -BeGreaterThan 0
        @(Get-OpenActivity $r.Progress) | Should -BeNullOrEmpty
    }

    It 'completes the gateway''s progress when it succeeds and a deploy''s when it fails' {
        $cred = "[pscredential]::new('svc', (ConvertTo-SecureString 'registry-password' -AsPlainText -Force))"
        $install = Invoke-Step "`$null = Start-RhaiiSandbox -Name output-progress -ControllerDelay 00:00:00.02 -KubeconfigPath '$kubeconfig' | Install-RhaiiOperators"
        $install.Errors | Should -BeNullOrEmpty
        @(Get-OpenActivity $install.Progress) | Should -BeNullOrEmpty

        $gateway = Invoke-Step 'New-InferenceGateway -Name progress-gateway -Namespace progress'
        $gateway.Errors | Should -BeNullOrEmpty
        # On a quiet machine the simulated gateway can be Programmed before the first readiness check, and then there
        # is no 'waiting for' record at all; whatever the gateway did show must be completed. (The benchmark tests
        # above always write progress, so the success path is covered either way.)
        @(Get-OpenActivity $gateway.Progress) | Should -BeNullOrEmpty

        # no TPU node in this sandbox: the pods never schedule and -Wait gives up with a terminating error
        $deploy = Invoke-Step "Deploy-LlmInferenceService -Name q -Model Qwen/Qwen2.5-1.5B-Instruct -RegistryCredential ($cred) -Wait -SchedulingTimeout 00:00:03 -Timeout 00:02:00 -WarningAction SilentlyContinue"
        $deploy.Errors.Count | Should -BeGreaterThan 0
        $deploy.Progress.Count | Should -BeGreaterThan 0
        @(Get-OpenActivity $deploy.Progress) | Should -BeNullOrEmpty -Because "error: $($deploy.Errors[0])"
    }
}
