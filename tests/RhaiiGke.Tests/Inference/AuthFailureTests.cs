using System.Net;
using System.Net.Sockets;
using System.Text;
using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.Inference;

/// <summary>
/// An inference endpoint that answers 401 or 403 is reported as an authentication error with the fix (-ApiKey) by
/// every inference command, never as "Pass -Model" (model auto-detection through /v1/models used to say that).
/// </summary>
public sealed class AuthFailureTests : IDisposable
{
    private readonly PowerShellHost _ps = new();

    [Theory]
    [InlineData(401, "InferenceUnauthorized", System.Management.Automation.ErrorCategory.AuthenticationError)]
    [InlineData(403, "InferenceForbidden", System.Management.Automation.ErrorCategory.PermissionDenied)]
    public void ABenchmarkWithoutModelAgainstAProtectedEndpointIsAnAuthenticationError(int status, string errorId, System.Management.Automation.ErrorCategory category)
    {
        using var server = new RejectingServer(status);
        var (_, errors) = _ps.Invoke($"Invoke-InferenceBenchmark -BaseUrl '{server.Url}' -NumPrompts 2 -Confirm:$false");
        var e = Assert.Single(errors);
        Assert.StartsWith(errorId + ",", e.FullyQualifiedErrorId);
        Assert.Equal(category, e.CategoryInfo.Category);
        Assert.Contains("-ApiKey", e.ErrorDetails!.RecommendedAction);
        Assert.DoesNotContain("-Model", e.ErrorDetails.RecommendedAction);
        Assert.DoesNotContain(RejectingServer.Echo, e.ToString());
    }

    [Fact]
    public void ABenchmarkWithAModelReportsTheRejectedRequestsAsAnAuthenticationError()
    {
        using var server = new RejectingServer(401);
        var (output, errors) = _ps.Invoke($"Invoke-InferenceBenchmark -BaseUrl '{server.Url}' -Model m -NumPrompts 3 -Warmups 0 -Confirm:$false");
        Assert.Single(output); // the run is still reported...
        var e = Assert.Single(errors); // ...with its failures named for what they are
        Assert.StartsWith("InferenceUnauthorized,", e.FullyQualifiedErrorId);
        Assert.Contains("-ApiKey", e.ErrorDetails!.RecommendedAction);
    }

    [Fact]
    public void TestInferenceEndpointCacheRoutingAndMetricsReportTheAuthenticationError()
    {
        using var server = new RejectingServer(401);
        var (output, errors) = _ps.Invoke($"Test-InferenceEndpoint '{server.Url}' -TimeoutSec 10 -WarmupTimeout 10");
        Assert.False((bool)Assert.Single(output).Properties["Passed"].Value);
        Assert.StartsWith("InferenceUnauthorized,", Assert.Single(errors).FullyQualifiedErrorId);
        Assert.Contains(((TestInferenceEndpointResult)output[0].BaseObject).Checks, c => c.StatusCode == 401 && c.Detail.Contains("-ApiKey"));

        (_, errors) = _ps.Invoke($"Test-InferenceCacheRouting '{server.Url}' -Groups 1 -RequestsPerGroup 2 -TimeoutSec 10");
        Assert.StartsWith("InferenceUnauthorized,", Assert.Single(errors).FullyQualifiedErrorId);
        (_, errors) = _ps.Invoke($"Test-InferenceCacheRouting '{server.Url}' -Model m -Groups 1 -RequestsPerGroup 2 -TimeoutSec 10");
        Assert.StartsWith("InferenceUnauthorized,", Assert.Single(errors).FullyQualifiedErrorId);

        (_, errors) = _ps.Invoke($"Get-InferenceMetrics '{server.Url}/metrics'");
        Assert.StartsWith("InferenceUnauthorized,", Assert.Single(errors).FullyQualifiedErrorId);
    }

    public void Dispose() => _ps.Dispose();

    /// <summary>Answers every request with the given status and an OpenAI-style error body that echoes a secret-looking string.</summary>
    private sealed class RejectingServer : IDisposable
    {
        public const string Echo = "sk-echoed-by-server";
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _cts = new();
        private readonly int _status;

        public RejectingServer(int status)
        {
            _status = status;
            _listener.Start();
            Url = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
            _ = AcceptAsync();
        }

        public string Url { get; }

        private async Task AcceptAsync()
        {
            while (!_cts.IsCancellationRequested)
            {
                TcpClient tcp;
                try { tcp = await _listener.AcceptTcpClientAsync(_cts.Token); }
                catch (Exception) { return; }
                _ = Task.Run(async () =>
                {
                    using (tcp)
                    {
                        try
                        {
                            var s = tcp.GetStream();
                            var buf = new byte[65536];
                            var head = new StringBuilder();
                            while (!head.ToString().Contains("\r\n\r\n"))
                            {
                                var n = await s.ReadAsync(buf);
                                if (n == 0) return;
                                head.Append(Encoding.ASCII.GetString(buf, 0, n));
                            }
                            var body = Encoding.UTF8.GetBytes("{\"error\":{\"message\":\"Incorrect API key provided: " + Echo + "\",\"type\":\"AuthenticationError\",\"code\":" + _status + "}}");
                            var reason = _status == 401 ? "Unauthorized" : "Forbidden";
                            await s.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 {_status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"));
                            await s.WriteAsync(body);
                        }
                        catch (Exception) { }
                    }
                });
            }
        }

        public void Dispose()
        {
            _cts.Cancel();
            _listener.Stop();
        }
    }
}
