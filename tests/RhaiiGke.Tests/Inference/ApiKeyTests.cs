using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using RhaiiGke.Sandbox.Vllm;
using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.Inference;

/// <summary>
/// -ApiKey is a SecureString (a plain string is converted), reaches the server as a bearer header, and
/// appears nowhere else: not in output objects, streams, errors, or the JSON/CSV/JSONL/HTML files, even
/// when the server echoes the rejected key back in its error message.
/// </summary>
public sealed class ApiKeyTests : IDisposable
{
    private const string Key = "sk-rhaii-SECRET-7c1d2e9f40b3";
    private readonly PowerShellHost _ps = new();
    private readonly EchoingServer _server = new(Key);
    private readonly string _dir = Directory.CreateTempSubdirectory("rhaii-apikey-").FullName;

    [Fact]
    public void ApiKeyIsASecureStringOnEveryInferenceCommand()
    {
        foreach (var command in new[] { "Test-InferenceEndpoint", "Invoke-InferenceBenchmark", "Test-InferenceCacheRouting", "Get-InferenceMetrics" })
            Assert.Equal("SecureString", _ps.Run($"(Get-Command {command}).Parameters['ApiKey'].ParameterType.Name")[0].BaseObject);
    }

    [Fact]
    public void TheKeyIsSentButNeverShownWrittenOrEchoed()
    {
        var dir = _dir.Replace("'", "''");
        var script = $$"""
            $url = '{{_server.Url}}'
            $secure = ConvertTo-SecureString '{{Key}}' -AsPlainText -Force
            $VerbosePreference = 'Continue'; $DebugPreference = 'Continue'; $WarningPreference = 'Continue'; $InformationPreference = 'Continue'
            $ProgressPreference = 'SilentlyContinue'
            $streams = & {
                $b = Invoke-InferenceBenchmark -BaseUrl $url -Model m -ApiKey $secure -Concurrency 2 -NumPrompts 6 -NoStream -Warmups 1 -Detailed -OutputDirectory '{{dir}}' -Confirm:$false
                $b
                $b | Export-InferenceBenchmarkReport -Path (Join-Path '{{dir}}' 'report.html')
                $b | ConvertTo-Json -Depth 10
                $b | ConvertTo-Csv
                $b.Requests | ConvertTo-Json -Depth 5
                $e = Test-InferenceEndpoint $url -Model m -ApiKey '{{Key}}' -TimeoutSec 10 -WarmupTimeout 10
                $e; $e.Checks | Format-List | Out-String
                $e | ConvertTo-Json -Depth 10
                Get-InferenceMetrics "$url/metrics" -ApiKey $secure | ConvertTo-Json -Depth 5
                $c = Test-InferenceCacheRouting $url -Model m -ApiKey '{{Key}}' -Groups 1 -RequestsPerGroup 2 -PrefixTokens 64 -TimeoutSec 10
                $c | ConvertTo-Json -Depth 10
                Invoke-InferenceBenchmark -BaseUrl 'http://127.0.0.1:1' -Model m -ApiKey $secure -NumPrompts 1 -Confirm:$false
            } *>&1 | Out-String -Width 4000
            $files = Get-ChildItem '{{dir}}' -Recurse -File | ForEach-Object { "== $($_.Name)"; Get-Content -Raw $_.FullName }
            $streams
            $files -join "`n"
            $Error | ForEach-Object { $_.ToString(); $_.Exception.ToString(); $_.ErrorDetails; $_.TargetObject } | Out-String -Width 4000
            """;
        var (output, errors) = _ps.Invoke(script);
        var text = string.Join("\n", output.Select(o => o?.ToString())) + string.Join("\n", errors.Select(e => e + " " + e.Exception));

        // The key went where it belongs: the Authorization header of every kind of request.
        Assert.Contains("/v1/completions", _server.Authorized);
        Assert.Contains("/v1/chat/completions", _server.Authorized);
        Assert.Contains("/v1/models", _server.Authorized);
        Assert.Contains("/metrics", _server.Authorized);
        Assert.Empty(_server.Unauthorized);

        // ...and nowhere else, although the server echoed it in every 401 it sent.
        Assert.Contains("== report.html", text);
        Assert.Contains(".requests.jsonl", text);
        Assert.Contains("http_401", text);
        Assert.Contains("[redacted]", text);
        Assert.DoesNotContain(Key, text);
        Assert.DoesNotContain("SECRET", text);
    }

    [Fact]
    public void AnObjectWithAUrlPipesIntoTestInferenceEndpoint()
    {
        using var sim = VllmSimulator.Start(new InferenceSimulatorOptions { Replicas = 1 });
        var r = (TestInferenceEndpointResult)_ps.Run($"[pscustomobject]@{{ Url = '{sim.Info.BaseUrl}'; ServedModelName = 'Qwen/Qwen2.5-3B-Instruct' }} | Test-InferenceEndpoint")[0].BaseObject;
        Assert.True(r.Passed, string.Join("; ", r.Checks.Select(c => c.ToString())));
        Assert.Equal(sim.Info.BaseUrl, r.BaseUrl);
        Assert.Equal("Qwen/Qwen2.5-3B-Instruct", r.Model);
    }

    public void Dispose()
    {
        _ps.Dispose();
        _server.Dispose();
        try { Directory.Delete(_dir, true); } catch { }
    }

    /// <summary>
    /// A loopback OpenAI-style server that records which paths came with the expected bearer token,
    /// answers models, health and metrics, and rejects every completion with a 401 that echoes the key.
    /// </summary>
    private sealed class EchoingServer : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly string _key;
        private readonly CancellationTokenSource _cts = new();
        public readonly ConcurrentBag<string> Authorized = [];
        public readonly ConcurrentBag<string> Unauthorized = [];

        public EchoingServer(string key)
        {
            _key = key;
            _listener.Start();
            Url = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
            _ = AcceptAsync();
        }

        public string Url { get; }

        private async Task AcceptAsync()
        {
            while (!_cts.IsCancellationRequested)
            {
                TcpClient c;
                try { c = await _listener.AcceptTcpClientAsync(_cts.Token); }
                catch { return; }
                _ = Task.Run(() => ServeAsync(c));
            }
        }

        private async Task ServeAsync(TcpClient client)
        {
            using var _ = client;
            var s = client.GetStream();
            var buf = new List<byte>();
            var chunk = new byte[8192];
            try
            {
                while (true)
                {
                    int headEnd;
                    while ((headEnd = IndexOf(buf, "\r\n\r\n"u8)) < 0)
                    {
                        var n = await s.ReadAsync(chunk, _cts.Token);
                        if (n == 0) return;
                        buf.AddRange(chunk.AsSpan(0, n).ToArray());
                    }
                    var head = Encoding.ASCII.GetString(buf.GetRange(0, headEnd).ToArray());
                    var lines = head.Split("\r\n");
                    var path = lines[0].Split(' ')[1];
                    var length = 0;
                    string? auth = null;
                    foreach (var l in lines.Skip(1))
                    {
                        var colon = l.IndexOf(':');
                        if (colon <= 0) continue;
                        var name = l[..colon].Trim();
                        var value = l[(colon + 1)..].Trim();
                        if (name.Equals("content-length", StringComparison.OrdinalIgnoreCase)) length = int.Parse(value);
                        if (name.Equals("authorization", StringComparison.OrdinalIgnoreCase)) auth = value;
                    }
                    while (buf.Count < headEnd + 4 + length)
                    {
                        var n = await s.ReadAsync(chunk, _cts.Token);
                        if (n == 0) return;
                        buf.AddRange(chunk.AsSpan(0, n).ToArray());
                    }
                    buf.RemoveRange(0, headEnd + 4 + length);
                    (auth == "Bearer " + _key ? Authorized : Unauthorized).Add(path);
                    var (status, type, body) = path switch
                    {
                        "/v1/models" => (200, "application/json", """{"object":"list","data":[{"id":"m","object":"model"}]}"""),
                        "/health" => (200, "application/json", ""),
                        "/metrics" => (200, "text/plain", "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running 0\n"),
                        _ => (401, "application/json", $$$"""{"error":{"message":"Incorrect API key provided: {{{_key}}}.","type":"AuthenticationError","code":401}}"""),
                    };
                    var bytes = Encoding.UTF8.GetBytes(body);
                    var response = Encoding.ASCII.GetBytes($"HTTP/1.1 {status} {(status == 200 ? "OK" : "Unauthorized")}\r\nContent-Type: {type}\r\nContent-Length: {bytes.Length}\r\n\r\n");
                    await s.WriteAsync(response.Concat(bytes).ToArray(), _cts.Token);
                }
            }
            catch (Exception) when (_cts.IsCancellationRequested) { }
            catch (IOException) { }
        }

        private static int IndexOf(List<byte> b, ReadOnlySpan<byte> what)
        {
            for (var i = 0; i + what.Length <= b.Count; i++)
            {
                var ok = true;
                for (var j = 0; j < what.Length && ok; j++) ok = b[i + j] == what[j];
                if (ok) return i;
            }
            return -1;
        }

        public void Dispose()
        {
            _cts.Cancel();
            _listener.Stop();
        }
    }
}
