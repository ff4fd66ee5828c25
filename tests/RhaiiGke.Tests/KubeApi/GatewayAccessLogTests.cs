using System.Text;
using System.Threading.Channels;
using RhaiiGke.Engine.Serving;
using Xunit;

namespace RhaiiGke.Tests.KubeApi;

/// <summary>
/// The Istio gateway pod's istio-proxy container writes an Envoy access log line (Istio's default TEXT format)
/// for each request it handles when the mesh enables access logging (the sandbox Istio bundle sets
/// meshConfig.accessLogFile), readable through pods/log (kubectl logs) and Get-LlmInferenceServiceLog -Component Gateway.
/// </summary>
public sealed class GatewayAccessLogTests
{
    [Fact]
    public async Task TheGatewayPodLogsEachRoutedRequestAndLocalReplyInEnvoysFormat()
    {
        await using var c = await DataPlaneCluster.StartAsync(DataPlaneCluster.Options());
        var spec = DataPlaneCluster.Spec("qwen");
        await c.ApplyAsync(DataPlaneCluster.ServiceYaml(spec));
        var svc = await c.ServiceReadyAsync("qwen");
        var url = svc["status"]!["url"]!.GetValue<string>();
        var (status, body, _) = await DataPlaneCluster.SendAsync(url, "POST", "/v1/completions", "{\"model\":\"" + spec.ModelName + "\",\"prompt\":\"hello\",\"max_tokens\":4}");
        Assert.True(status == 200, body);
        var (missing, _, _) = await DataPlaneCluster.SendAsync("http://" + c.GatewayAddress(), "GET", "/no/such/route");
        Assert.Equal(404, missing);

        var gwPod = c.Sim.ListObjects("v1", "Pod", "opendatahub").First(p => p["metadata"]!["labels"]?["gateway.networking.k8s.io/gateway-name"]?.GetValue<string>() == "inference-gateway");
        var gwPodName = gwPod["metadata"]!["name"]!.GetValue<string>();
        using var k = new k8s.Kubernetes(k8s.KubernetesClientConfiguration.BuildConfigFromConfigFile(new MemoryStream(Encoding.UTF8.GetBytes(c.Sim.Kubeconfig()))));
        var text = await c.WaitAsync(() => ReadLog(k, gwPodName), t => t?.Contains("/no/such/route") == true, "the access log lines");
        var lines = text!.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var ok = Assert.Single(lines, l => l.Contains($"\"POST /{DataPlaneCluster.Ns}/qwen/v1/completions HTTP/1.1\" 200 - via_upstream", StringComparison.Ordinal));
        Assert.Matches(@"^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] ", ok);
        Assert.Contains($"outbound|8000||qwen-", ok);
        Assert.Contains($".{DataPlaneCluster.Ns}.svc.cluster.local", ok);
        Assert.EndsWith($"{DataPlaneCluster.Ns}.qwen-kserve-route.0", ok);
        var nr = Assert.Single(lines, l => l.Contains("\"GET /no/such/route HTTP/1.1\" 404 NR route_not_found", StringComparison.Ordinal));
        Assert.EndsWith(" -", nr);

        // Get-LlmInferenceServiceLog -Component Gateway reads the same lines
        var reader = new ServiceLogReader(c.Conn);
        var options = new ServiceLogOptions { Components = [LlmLogComponent.Gateway] };
        var sources = await reader.SourcesAsync(DataPlaneCluster.Ns, "qwen", options, CancellationToken.None);
        var source = Assert.Single(sources);
        Assert.Equal("istio-proxy", source.Container);
        var channel = Channel.CreateUnbounded<LlmInferenceServiceLogLine>();
        await reader.ReadAsync("qwen", sources, options, channel.Writer, CancellationToken.None);
        var read = new List<LlmInferenceServiceLogLine>();
        await foreach (var l in channel.Reader.ReadAllAsync()) read.Add(l);
        Assert.Contains(read, l => l.Component == LlmLogComponent.Gateway && l.Line.Contains("via_upstream", StringComparison.Ordinal) && l.Line.Contains("/qwen/v1/completions", StringComparison.Ordinal));
    }

    private static string? ReadLog(k8s.Kubernetes k, string pod)
    {
        using var s = k8s.CoreV1OperationsExtensions.ReadNamespacedPodLogAsync(k, pod, "opendatahub", container: "istio-proxy").GetAwaiter().GetResult();
        return new StreamReader(s).ReadToEnd();
    }
}
