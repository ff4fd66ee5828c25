using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RhaiiGke.Engine.Inference;
using RhaiiGke.Engine.Net;
using RhaiiGke.Sandbox.KubeApi.DataPlane;
using Xunit;

namespace RhaiiGke.Tests.KubeApi;

/// <summary>Finds the real clients these tests drive from other processes: curl, python3, kubectl of a given minor version.</summary>
internal static class Clients
{
    private static IEnumerable<string> PathDirs() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);

    public static string? OnPath(string name) =>
        PathDirs().Select(d => Path.Combine(d, OperatingSystem.IsWindows() ? name + ".exe" : name)).FirstOrDefault(File.Exists);

    /// <summary>
    /// kubectl of a minor version: the Google Cloud SDK ships them beside gcloud as kubectl.1.27 ... kubectl.1.33;
    /// a plain kubectl on PATH counts when its client version is that one.
    /// </summary>
    public static string? Kubectl(string minor)
    {
        var dirs = new List<string>();
        if (OnPath("gcloud") is { } gcloud)
        {
            var real = new FileInfo(gcloud).ResolveLinkTarget(true)?.FullName ?? gcloud;
            dirs.Add(Path.GetDirectoryName(real)!);
        }
        dirs.AddRange(PathDirs());
        dirs.Add("/usr/lib/google-cloud-sdk/bin");
        return dirs.Select(d => Path.Combine(d, "kubectl." + minor)).FirstOrDefault(File.Exists);
    }

    public static (int Code, string Out, string Err) Run(string file, IEnumerable<string> args, int timeoutMs = 120_000, IDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutMs)) { p.Kill(true); throw new TimeoutException($"{file} {string.Join(' ', psi.ArgumentList)}"); }
        return (p.ExitCode, o.Result, e.Result);
    }
}

public sealed class CurlFactAttribute : FactAttribute
{
    public CurlFactAttribute()
    {
        if (Clients.OnPath("curl") is null) Skip = "curl is not on PATH (apt-get install curl) to reach the sandbox data plane from another process";
    }
}

public sealed class KubectlVersionFactAttribute : FactAttribute
{
    public KubectlVersionFactAttribute(string minor)
    {
        if (Clients.Kubectl(minor) is null)
            Skip = $"kubectl.{minor} not found beside gcloud (the Google Cloud SDK ships kubectl.1.27 ... kubectl.1.33) or on PATH";
    }
}

public sealed class DotnetFactAttribute : FactAttribute
{
    public DotnetFactAttribute()
    {
        if (Clients.OnPath("dotnet") is null) Skip = "the dotnet CLI is not on PATH, to build the OpenAI SDK client process";
    }
}

/// <summary>
/// Issue 11 item 6: a sandbox deployment is reachable from other processes on this machine. The Gateway's address
/// is a loopback address the simulated Envoy listens on with the listener's own port, the LLMInferenceService URL
/// KServe derives from it is what curl, python3, an OpenAI SDK in another process and kubectl port-forward use.
/// </summary>
public sealed class ReachableDataPlaneTests
{
    private const string Model = "Qwen/Qwen2.5-3B-Instruct";

    private static async Task<(DataPlaneCluster Cluster, string Url, string Address)> DeployAsync(string name = "qwen")
    {
        var c = await DataPlaneCluster.StartAsync(DataPlaneCluster.Options());
        try
        {
            await c.ApplyAsync(DataPlaneCluster.ServiceYaml(DataPlaneCluster.Spec(name)));
            var svc = await c.ServiceReadyAsync(name);
            return (c, svc["status"]!["url"]!.GetValue<string>(), c.GatewayAddress());
        }
        catch
        {
            await c.DisposeAsync();
            throw;
        }
    }

    [Fact]
    public async Task TheGatewayAddressIsALoopbackAddressItsProxyListensOnWithTheListenerPortAndTheServiceUrlUsesIt()
    {
        var (c, url, address) = await DeployAsync();
        await using var _ = c;
        var gw = c.Get("gateway.networking.k8s.io/v1", "Gateway", "opendatahub", "inference-gateway")!;
        var addr = gw["status"]!["addresses"]![0]!;
        Assert.Equal("IPAddress", addr["type"]!.GetValue<string>()); // a schema-valid Gateway status: an IP, no port
        Assert.True(IPAddress.TryParse(address, out var ip) && IPAddress.IsLoopback(ip), address);
        Assert.NotEqual("127.0.0.1", address); // one address per load balancer, so every gateway keeps its listener ports
        Assert.Equal(80L, gw["spec"]!["listeners"]![0]!["port"]!.GetValue<long>());
        // the gateway's LoadBalancer Service carries the same address, as a cloud's LB controller writes it
        var lb = c.Get("v1", "Service", "opendatahub", "inference-gateway-istio")!;
        Assert.Equal(address, lb["status"]!["loadBalancer"]!["ingress"]![0]!["ip"]!.GetValue<string>());
        // KServe's URL: the address and the route prefix, no port (the listener's is the scheme's default)
        Assert.Equal($"http://{address}/{DataPlaneCluster.Ns}/qwen", url);
        // served by a real socket on that address, not by the in-process connect table
        Assert.False(EndpointOverrides.IsOverridden(address, 80));
        using (var tcp = new System.Net.Sockets.TcpClient())
            await tcp.ConnectAsync(ip!, 80);

        // the module's own endpoint test goes to the same address
        var result = await EndpointTester.TestAsync(new EndpointTestOptions { BaseUrl = url, Model = Model, Timeout = TimeSpan.FromMinutes(2) });
        Assert.True(result.Passed, string.Join("; ", result.Checks.Select(x => $"{x.Name}: {x.Status} {x.Detail}")));
    }

    [CurlFact]
    public async Task CurlInAnotherProcessListsModelsAndGetsAChatCompletionFromTheBaseUrl()
    {
        var (c, url, _) = await DeployAsync();
        await using var _c = c;
        var curl = Clients.OnPath("curl")!;
        var baseUrl = url + "/v1";

        var models = await Task.Run(() => Clients.Run(curl, ["-sS", "--max-time", "60", "-D", "-", baseUrl + "/models"]));
        Assert.True(models.Code == 0, models.Err);
        var (head, body) = SplitHead(models.Out);
        Assert.StartsWith("HTTP/1.1 200", head);
        Assert.Contains("server: istio-envoy", head, StringComparison.OrdinalIgnoreCase); // through the gateway
        Assert.Equal(Model, JsonNode.Parse(body)!["data"]![0]!["id"]!.GetValue<string>());

        var request = new JsonObject
        {
            ["model"] = Model, ["max_tokens"] = 8,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Say hello" }),
        }.ToJsonString();
        var chat = await Task.Run(() => Clients.Run(curl, ["-sS", "--max-time", "60", "-D", "-", "-H", "Content-Type: application/json", "-d", request, baseUrl + "/chat/completions"]));
        Assert.True(chat.Code == 0, chat.Err);
        (head, body) = SplitHead(chat.Out);
        Assert.StartsWith("HTTP/1.1 200", head);
        Assert.Matches(new Regex("x-inference-pod: qwen-kserve-", RegexOptions.IgnoreCase), head);
        var answer = JsonNode.Parse(body)!;
        Assert.Equal("chat.completion", answer["object"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(answer["choices"]![0]!["message"]!["content"]!.GetValue<string>()));

        // a path no HTTPRoute matches: Envoy's own 404, as from a real gateway
        var miss = await Task.Run(() => Clients.Run(curl, ["-sS", "--max-time", "60", "-o", "/dev/null", "-w", "%{http_code}", url.Replace("/qwen", "/nope", StringComparison.Ordinal) + "/v1/models"]));
        Assert.Equal("404", miss.Out);
    }

    [DotnetFact]
    public async Task TheOpenAiDotnetSdkInAnotherProcessStreamsAChatCompletionFromTheBaseUrl()
    {
        var project = Path.Combine(RepoRoot(), "tests", "clients", "OpenAiStream", "OpenAiStream.csproj");
        // build first (restores the OpenAI package); a machine without the package source cannot run this client
        var build = await Task.Run(() => Clients.Run("dotnet", ["build", project, "-v", "q", "--nologo"], timeoutMs: 600_000));
        Assert.True(build.Code == 0, "building the OpenAI SDK client failed: " + build.Out + build.Err);

        var (c, url, _) = await DeployAsync();
        await using var _c = c;
        var run = await Task.Run(() => Clients.Run("dotnet", ["run", "--no-build", "--project", project, "--", url + "/v1", Model, "Tell me a story"], timeoutMs: 300_000));
        Assert.True(run.Code == 0, run.Out + run.Err);
        var lines = run.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Count(l => l.StartsWith("delta: ", StringComparison.Ordinal)) >= 2, run.Out); // streamed, not one body
        Assert.Contains(lines, l => l.Equals("finish: Length", StringComparison.OrdinalIgnoreCase) || l.Equals("finish: Stop", StringComparison.OrdinalIgnoreCase));
    }

    [KubectlVersionFact("1.32")]
    public Task Kubectl132PortForwardsAPodAndAServiceOverTheWebSocketTunnel() => PortForwardAsync("1.32", websockets: true);

    [KubectlVersionFact("1.32")]
    public Task Kubectl132PortForwardsOverSpdyWhenWebSocketsAreOff() => PortForwardAsync("1.32", websockets: false);

    [KubectlVersionFact("1.27")]
    public Task Kubectl127PortForwardsOverSpdy() => PortForwardAsync("1.27", websockets: false);

    private static async Task PortForwardAsync(string minor, bool websockets)
    {
        var kubectl = Clients.Kubectl(minor)!;
        var (c, _, _) = await DeployAsync();
        await using var _c = c;
        var dir = Directory.CreateTempSubdirectory("rhaii-pf-");
        try
        {
            var kc = Path.Combine(dir.FullName, "kubeconfig");
            await File.WriteAllTextAsync(kc, c.Sim.Kubeconfig());
            var pod = c.Pods(DataPlaneCluster.Ns, "kserve.io/component", "workload").Single()["metadata"]!["name"]!.GetValue<string>();
            var env = new Dictionary<string, string> { ["KUBECTL_PORT_FORWARD_WEBSOCKETS"] = websockets ? "true" : "false" };
            var tunnels = PortForwardServer.TunnelSessions;
            var spdy = PortForwardServer.SpdySessions;

            using (var pf = PortForward.Start(kubectl, kc, env, $"pod/{pod}", "0:8000"))
            {
                var port = await pf.LocalPortAsync();
                await AssertServesModelsAsync(port);
                await AssertServesModelsAsync(port); // a second connection on the same session
            }
            using (var pf = PortForward.Start(kubectl, kc, env, "svc/qwen-kserve-workload-svc", "0:8000"))
            {
                var port = await pf.LocalPortAsync();
                await AssertServesModelsAsync(port);
                using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(1) };
                var chat = await http.PostAsync($"http://127.0.0.1:{port}/v1/chat/completions", new StringContent(new JsonObject
                {
                    ["model"] = Model, ["max_tokens"] = 4, ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "hi" }),
                }.ToJsonString(), Encoding.UTF8, "application/json"));
                Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
            }
            // nothing listens on 9999 in the pod: the kubelet's error comes back on the error stream
            using (var pf = PortForward.Start(kubectl, kc, env, $"pod/{pod}", "0:9999"))
            {
                var port = await pf.LocalPortAsync();
                using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(1) };
                await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync($"http://127.0.0.1:{port}/"));
                await pf.WaitForErrorAsync("connect: connection refused");
            }
            if (websockets) Assert.True(PortForwardServer.TunnelSessions > tunnels, "kubectl did not use the SPDY-over-WebSocket tunnel");
            else Assert.True(PortForwardServer.SpdySessions > spdy, "kubectl did not use the SPDY/3.1 upgrade");
        }
        finally { dir.Delete(true); }
    }

    private static async Task AssertServesModelsAsync(int port)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(1) };
        var r = await http.GetAsync($"http://127.0.0.1:{port}/v1/models");
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal(Model, JsonNode.Parse(body)!["data"]![0]!["id"]!.GetValue<string>());
        Assert.False(r.Headers.Contains("x-envoy-upstream-service-time")); // straight to the pod, not through the gateway
    }

    private static (string Head, string Body) SplitHead(string output)
    {
        var i = output.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        return i < 0 ? (output, "") : (output[..i], output[(i + 4)..]);
    }

    private static string RepoRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "RhaiiGke.slnx"))) d = d.Parent;
        return d?.FullName ?? throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
    }

    /// <summary>A running <c>kubectl port-forward</c>: its local port from "Forwarding from 127.0.0.1:N -> P", and its stderr.</summary>
    private sealed class PortForward : IDisposable
    {
        private readonly Process _p;
        private readonly TaskCompletionSource<int> _port = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly StringBuilder _out = new(), _err = new();

        private PortForward(Process p)
        {
            _p = p;
            p.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null) { _port.TrySetException(new InvalidOperationException("kubectl port-forward ended: " + Text())); return; }
                lock (_out) _out.AppendLine(e.Data);
                var m = Regex.Match(e.Data, @"Forwarding from 127\.0\.0\.1:(\d+) ->");
                if (m.Success) _port.TrySetResult(int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
            };
            p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_err) _err.AppendLine(e.Data); };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
        }

        public static PortForward Start(string kubectl, string kubeconfig, IDictionary<string, string> env, string target, string ports)
        {
            var psi = new ProcessStartInfo(kubectl) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { "--kubeconfig", kubeconfig, "-n", DataPlaneCluster.Ns, "port-forward", "--address", "127.0.0.1", target, ports }) psi.ArgumentList.Add(a);
            psi.Environment.Remove("KUBECONFIG");
            foreach (var (k, v) in env) psi.Environment[k] = v;
            return new PortForward(Process.Start(psi)!);
        }

        private string Text()
        {
            lock (_out) lock (_err) return $"stdout: {_out} stderr: {_err}";
        }

        public async Task<int> LocalPortAsync()
        {
            var done = await Task.WhenAny(_port.Task, Task.Delay(TimeSpan.FromMinutes(1)));
            if (done != _port.Task) throw new TimeoutException("kubectl port-forward did not start forwarding: " + Text());
            return await _port.Task;
        }

        public async Task WaitForErrorAsync(string text)
        {
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed < TimeSpan.FromMinutes(1))
            {
                lock (_err) if (_err.ToString().Contains(text, StringComparison.Ordinal)) return;
                await Task.Delay(50);
            }
            Assert.Fail($"kubectl port-forward never reported \"{text}\": {Text()}");
        }

        public void Dispose()
        {
            try { if (!_p.HasExited) _p.Kill(true); } catch (InvalidOperationException) { }
            _p.WaitForExit(10_000);
            _p.Dispose();
        }
    }
}
