#Requires -Version 7.4
<#
.SYNOPSIS
    Inference client and simulator performance, every figure a ratio measured in this run.
.DESCRIPTION
    1. Client capacity, non-streaming, concurrency 64, one identical request body: requests/s of
       Invoke-InferenceBenchmark, wrk, ab -k and ab (no keep-alive, how the runbooks measure) against
       (a) nginx serving a canned completion and (b) the simulator at zero latency, each server in its
       own process. Goals: >= 0.5x wrk on nginx, >= 0.8x wrk on the simulator, never below ab.
       Client CPU time per request beside wrk's.
    2. The simulator's own maximum rate under wrk, non-streaming and streaming (16 tokens).
    3. Timing fidelity: simulator at TTFT 50 ms / ITL 10 ms, median TTFT and ITL measured at
       concurrency 1 and 64 (goal: within 1 ms); Poisson at 500 req/s, p99 scheduling lag (goal < 2 ms).
    4. Memory: peak working set of a client process running -MemoryRequests requests (goal < 300 MB for 1,000,000).
    Tools that are not installed (wrk, ab from apache2-utils, nginx) are reported as missing.
#>
param(
    [Parameter(Mandatory)][string]$ModuleManifest,
    [string]$OutputPath = (Join-Path $PSScriptRoot '../out/bench'),
    # Requests per client measurement (wrk runs for the same number of seconds the module needed, at least 3).
    # Large enough that the per-run fixed cost (cmdlet, warm-up, statistics) does not dominate the CPU per request.
    [int]$Requests = 200000,
    [int]$MemoryRequests = 1000000,
    [switch]$Quick
)
$ErrorActionPreference = 'Stop'
if ($Quick) { $Requests = 20000; $MemoryRequests = 100000 }
Import-Module $ModuleManifest
$exe = [Environment]::ProcessPath
$pre = @(if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
$work = Join-Path ([IO.Path]::GetTempPath()) ("rhaii-inference-bench-" + [guid]::NewGuid().ToString('N').Substring(0, 8))
$null = New-Item -ItemType Directory -Force -Path $work, $OutputPath
$model = 'Qwen/Qwen2.5-3B-Instruct'
$body = (@{ model = $model; prompt = 'Benchmark the client, not the server: one two three four five six seven eight'; max_tokens = 8; ignore_eos = $true; stream = $false } | ConvertTo-Json -Compress)
$bodyFile = Join-Path $work 'body.json'
[IO.File]::WriteAllText($bodyFile, $body)
$datasetFile = Join-Path $work 'one.jsonl'
[IO.File]::WriteAllText($datasetFile, (@{ prompt = 'Benchmark the client, not the server: one two three four five six seven eight'; output_tokens = 8 } | ConvertTo-Json -Compress) + "`n")
$tools = [ordered]@{ wrk = (Get-Command wrk -ErrorAction SilentlyContinue)?.Source; ab = (Get-Command ab -ErrorAction SilentlyContinue)?.Source
    nginx = @('/usr/sbin/nginx', (Get-Command nginx -ErrorAction SilentlyContinue)?.Source) | Where-Object { $_ -and (Test-Path $_) } | Select-Object -First 1 }
$notes = [System.Collections.Generic.List[string]]::new()
foreach ($t in $tools.Keys) { if (-not $tools[$t]) { $notes.Add("$t is not installed (Debian: apt-get install -y $(if ($t -eq 'ab') { 'apache2-utils' } elseif ($t -eq 'nginx') { 'nginx-light' } else { $t }))") } }

function Start-SimProcess([string]$Arguments) {
    # The simulator runs in its own pwsh so that client and server CPU are measured apart.
    $psi = [Diagnostics.ProcessStartInfo]::new($exe)
    foreach ($a in $pre + @('-NoProfile', '-NonInteractive', '-Command', "Import-Module '$ModuleManifest'; `$s = Start-InferenceSimulator $Arguments; `$s.BaseUrl; [Console]::Out.Flush(); `$null = [Console]::In.ReadLine()")) { $psi.ArgumentList.Add($a) }
    $psi.RedirectStandardInput = $true; $psi.RedirectStandardOutput = $true; $psi.UseShellExecute = $false
    $p = [Diagnostics.Process]::Start($psi)
    $url = $p.StandardOutput.ReadLine()
    if ($url -notmatch '^http://127\.0\.0\.1:\d+') { throw "simulator did not start: $url" }
    [pscustomobject]@{ Process = $p; Url = $url.Trim() }
}
function Stop-SimProcess($s) { try { $s.Process.StandardInput.Close(); if (-not $s.Process.WaitForExit(10000)) { $s.Process.Kill() } } catch { } }

function Get-FreePort {
    $l = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0); $l.Start(); $port = $l.LocalEndpoint.Port; $l.Stop(); $port
}

function Start-Nginx {
    if (-not $tools.nginx) { return $null }
    $port = Get-FreePort
    $canned = '{"id":"cmpl-bench","object":"text_completion","created":1,"model":"' + $model + '","choices":[{"index":0,"text":" one two three four five six seven eight","logprobs":null,"finish_reason":"length","stop_reason":null}],"usage":{"prompt_tokens":14,"total_tokens":22,"completion_tokens":8,"prompt_tokens_details":{"cached_tokens":0}}}'
    $conf = @"
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 120s;
    client_body_temp_path $work/nginx-body;
    server {
        listen 127.0.0.1:$port backlog=4096;
        location / { default_type application/json; return 200 '$canned'; }
    }
}
"@
    Set-Content -Path "$work/nginx.conf" -Value $conf
    $p = Start-Process -FilePath $tools.nginx -ArgumentList @('-c', "$work/nginx.conf", '-p', $work) -PassThru -RedirectStandardError "$work/nginx.stderr"
    foreach ($i in 1..50) { try { $c = [Net.Sockets.TcpClient]::new('127.0.0.1', $port); $c.Dispose(); break } catch { Start-Sleep -Milliseconds 100 } }
    [pscustomobject]@{ Process = $p; Url = "http://127.0.0.1:$port" }
}

# Runs a native tool under bash and returns its output and the CPU seconds it used (bash 'times' for children).
function Invoke-Timed([string]$Command) {
    $out = & bash -c "$Command 2>&1; times" 2>&1 | Out-String
    $lines = $out.TrimEnd() -split "`n"
    $cpu = 0.0
    if ($lines[-1] -match '(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s') { $cpu = [double]$Matches[1] * 60 + [double]$Matches[2] + [double]$Matches[3] * 60 + [double]$Matches[4] }
    [pscustomobject]@{ Output = $out; CpuSeconds = $cpu }
}

function Measure-Wrk([string]$Url, [string]$Path, [string]$Body, [int]$Seconds, [int]$Connections = 64) {
    if (-not $tools.wrk) { return $null }
    $lua = Join-Path $work ("wrk-" + [guid]::NewGuid().ToString('N').Substring(0, 6) + '.lua')
    $escaped = $Body.Replace('\', '\\').Replace("'", "\'")
    Set-Content $lua "wrk.method = 'POST'`nwrk.body = '$escaped'`nwrk.headers['Content-Type'] = 'application/json'`n"
    $r = Invoke-Timed "$($tools.wrk) -t2 -c$Connections -d${Seconds}s -s $lua $Url$Path"
    if ($r.Output -notmatch 'Requests/sec:\s+([\d.]+)') { throw "wrk failed: $($r.Output)" }
    $rps = [double]$Matches[1]
    $n = if ($r.Output -match '(\d+) requests in') { [double]$Matches[1] } else { $rps * $Seconds }
    [pscustomobject]@{ Rps = $rps; CpuUsPerRequest = [math]::Round($r.CpuSeconds / [math]::Max(1, $n) * 1e6, 2); Non2xx = if ($r.Output -match 'Non-2xx or 3xx responses: (\d+)') { [int]$Matches[1] } else { 0 } }
}

function Measure-Ab([string]$Url, [int]$N, [switch]$KeepAlive) {
    if (-not $tools.ab) { return $null }
    $k = if ($KeepAlive) { '-k' } else { '' }
    $r = Invoke-Timed "$($tools.ab) -q $k -c 64 -n $N -p $bodyFile -T application/json $Url/v1/completions"
    if ($r.Output -notmatch 'Requests per second:\s+([\d.]+)') { throw "ab failed: $($r.Output)" }
    [pscustomobject]@{ Rps = [double]$Matches[1]; CpuUsPerRequest = [math]::Round($r.CpuSeconds / $N * 1e6, 2) }
}

function Measure-Module([string]$Url, [int]$N) {
    $me = [Diagnostics.Process]::GetCurrentProcess()
    $cpu0 = $me.TotalProcessorTime
    $r = Invoke-InferenceBenchmark -BaseUrl $Url -Model $model -Api Completions -NoStream -Concurrency 64 -NumPrompts $N -Dataset File -DatasetPath $datasetFile -Warmups 64 -Confirm:$false
    $me.Refresh()
    $cpu = ($me.TotalProcessorTime - $cpu0).TotalSeconds
    if ($r.Failed -gt 0) { $notes.Add("module run against $Url had $($r.Failed) failures: $(($r.ErrorsByType.GetEnumerator() | ForEach-Object { "$($_.Key)=$($_.Value)" }) -join ', ')") }
    [pscustomobject]@{ Rps = [math]::Round($r.RequestThroughput, 1); CpuUsPerRequest = [math]::Round($cpu / $N * 1e6, 2); Seconds = $r.Duration }
}

function Ratio($a, $b) { if ($a -and $b -and $b.Rps -gt 0) { [math]::Round($a.Rps / $b.Rps, 3) } else { $null } }

# wrk and ab are native code; let .NET's tiered JIT reach optimized code before the client is timed:
# the same command twice, then wait until the process is idle. After start-up the runtime recompiles
# hot PowerShell and .NET methods in the background for a few seconds; that JIT work is not the
# client's per-request cost, but it would land in the measured CPU time and steal the server's core.
function Initialize-Client([string]$Url) {
    foreach ($i in 1..2) {
        $null = Invoke-InferenceBenchmark -BaseUrl $Url -Model $model -Api Completions -NoStream -Concurrency 64 -NumPrompts ([math]::Min($Requests, 20000)) -Dataset File -DatasetPath $datasetFile -Warmups 64 -Confirm:$false -WarningAction SilentlyContinue
    }
    $me = [Diagnostics.Process]::GetCurrentProcess()
    $until = [DateTime]::UtcNow.AddSeconds(15)
    do {
        $me.Refresh(); $c0 = $me.TotalProcessorTime
        Start-Sleep -Milliseconds 500
        $me.Refresh(); $busyMs = ($me.TotalProcessorTime - $c0).TotalMilliseconds
    } while ($busyMs -gt 10 -and [DateTime]::UtcNow -lt $until)
}

$results = [ordered]@{ Benchmark = 'Inference'; Requests = $Requests; Cores = [Environment]::ProcessorCount; LoadAverage = (Get-Content /proc/loadavg -ErrorAction SilentlyContinue) }

# 1. Client capacity
$capacity = [ordered]@{}
$nginx = Start-Nginx
$sim = Start-SimProcess '-Replicas 1'
try {
    foreach ($target in @(@{ Name = 'nginx'; Server = $nginx }, @{ Name = 'simulator'; Server = $sim })) {
        if (-not $target.Server) { continue }
        $url = $target.Server.Url
        Initialize-Client $url
        $mod = Measure-Module $url $Requests
        $secs = [math]::Max(3, [int][math]::Ceiling($mod.Seconds))
        $wrk = Measure-Wrk $url '/v1/completions' $body $secs
        $abk = Measure-Ab $url $Requests -KeepAlive
        $ab = Measure-Ab $url ([math]::Min($Requests, 20000))
        $capacity[$target.Name] = [ordered]@{
            ModuleRps = $mod.Rps; WrkRps = ${wrk}?.Rps; AbKeepAliveRps = ${abk}?.Rps; AbRps = ${ab}?.Rps
            ModuleCpuUsPerRequest = $mod.CpuUsPerRequest; WrkCpuUsPerRequest = ${wrk}?.CpuUsPerRequest; AbKeepAliveCpuUsPerRequest = ${abk}?.CpuUsPerRequest
            RatioToWrk = Ratio $mod $wrk; RatioToAbKeepAlive = Ratio $mod $abk; RatioToAb = Ratio $mod $ab
        }
    }
    # 2. The simulator's own ceiling under wrk, non-streaming (above) and streaming 16 tokens.
    $streamBody = (@{ model = $model; prompt = 'one two three'; max_tokens = 16; ignore_eos = $true; stream = $true; stream_options = @{ include_usage = $true } } | ConvertTo-Json -Compress)
    $ws = Measure-Wrk $sim.Url '/v1/completions' $streamBody 5
    $results.SimulatorMax = [ordered]@{ NonStreamingRps = $(if ($capacity.simulator) { $capacity.simulator.WrkRps }); StreamingRps = ${ws}?.Rps; StreamingTokensPerS = if ($ws) { [math]::Round($ws.Rps * 16) } }
}
finally {
    Stop-SimProcess $sim
    if ($nginx) {
        # SIGQUIT: the master stops its worker too (Stop-Process would SIGKILL the master and orphan the worker).
        & kill -QUIT $nginx.Process.Id 2>$null
        if (-not $nginx.Process.WaitForExit(10000)) { & kill -KILL $nginx.Process.Id 2>$null }
    }
}
$results.Capacity = $capacity
if ($capacity.nginx) { $results.GoalModuleVsWrkOnNginx = '>= 0.5'; $results.MetModuleVsWrkOnNginx = $capacity.nginx.RatioToWrk -ge 0.5 }
if ($capacity.simulator) { $results.GoalModuleVsWrkOnSimulator = '>= 0.8'; $results.MetModuleVsWrkOnSimulator = $capacity.simulator.RatioToWrk -ge 0.8 }
# "Never below ab": ab as the runbooks run it (no keep-alive), and ab -k reported beside it.
$results.MetNeverBelowAb = -not @($capacity.Values | Where-Object { $_.RatioToAb -and $_.RatioToAb -lt 1 })
$results.MetNeverBelowAbKeepAlive = -not @($capacity.Values | Where-Object { $_.RatioToAbKeepAlive -and $_.RatioToAbKeepAlive -lt 1 })

# 3. Timing fidelity
$slow = Start-SimProcess '-TimeToFirstToken 50 -InterTokenLatency 10 -Replicas 1'
try {
    $fid = [ordered]@{}
    foreach ($c in 1, 64) {
        $n = if ($c -eq 1) { 40 } else { 64 * 8 }
        $r = Invoke-InferenceBenchmark -BaseUrl $slow.Url -Model $model -Concurrency $c -NumPrompts $n -InputTokens 32 -OutputTokens 20 -Warmups 2 -Confirm:$false
        $fid["Concurrency$c"] = [ordered]@{ MedianTtftMs = [math]::Round($r.Ttft.Median, 3); MedianItlMs = [math]::Round($r.Itl.Median, 3)
            TtftErrorMs = [math]::Round($r.Ttft.Median - 50, 3); ItlErrorMs = [math]::Round($r.Itl.Median - 10, 3); Met = [math]::Abs($r.Ttft.Median - 50) -le 1 -and [math]::Abs($r.Itl.Median - 10) -le 1 }
    }
    $rate = 500; $n = if ($Quick) { 1000 } else { 2500 }
    $p = Invoke-InferenceBenchmark -BaseUrl $slow.Url -Model $model -Profile Poisson -Rate $rate -NumPrompts $n -InputTokens 16 -OutputTokens 4 -Warmups 2 -Confirm:$false
    $fid.Poisson500 = [ordered]@{ Requests = $n; AchievedRps = [math]::Round($p.RequestThroughput, 1); P99SchedulingLagMs = [math]::Round($p.SchedulingLag.P99, 3); MaxSchedulingLagMs = [math]::Round($p.SchedulingLag.Max, 3); Met = $p.SchedulingLag.P99 -lt 2 }
    $results.TimingFidelity = $fid
}
finally { Stop-SimProcess $slow }

# 4. Memory of a long run, in a fresh client process
$memSim = Start-SimProcess '-Replicas 1'
try {
    $script = "Import-Module '$ModuleManifest'; `$r = Invoke-InferenceBenchmark -BaseUrl '$($memSim.Url)' -Model '$model' -Api Completions -NoStream -Concurrency 64 -NumPrompts $MemoryRequests -InputTokens 16 -OutputTokens 4 -Warmups 1 -Confirm:`$false; `$me = [Diagnostics.Process]::GetCurrentProcess(); '{0} {1} {2}' -f `$r.Completed, `$me.PeakWorkingSet64, `$r.RequestThroughput"
    $line = (& $exe @pre -NoProfile -NonInteractive -Command $script | Select-Object -Last 1)
    $parts = "$line".Trim() -split ' '
    $peakMb = [math]::Round([double]$parts[1] / 1MB, 1)
    $results.Memory = [ordered]@{ Requests = $MemoryRequests; Completed = [int]$parts[0]; PeakWorkingSetMB = $peakMb; Rps = [math]::Round([double]$parts[2], 1); Goal = '< 300 MB'; Met = $peakMb -lt 300 }
}
finally { Stop-SimProcess $memSim }

$results.Notes = @($notes)
Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue
$json = $results | ConvertTo-Json -Depth 6
Set-Content (Join-Path $OutputPath 'inference.json') $json
$json | Out-Host
