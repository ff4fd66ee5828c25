using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using RhaiiGke.Sandbox.KubeApi;
using Xunit;

namespace RhaiiGke.Tests.KubeApi;

/// <summary>
/// The pods and services proxy subresources of the Kubernetes sandbox: they reach the simulated vLLM of a ready
/// workload pod (and write its access log), answer as kube-apiserver does when nothing listens, the pod has no
/// address, the Service has no endpoints or the id is malformed, require authentication, and work with kubectl.
/// </summary>
public class PodProxyTests : SimulatorTestBase
{
    public PodProxyTests() : base(Options()) { }

    private static KubeApiSimulatorOptions Options()
    {
        var o = KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(10));
        o.DataPlane = true;
        return o;
    }

    private HttpClient Http()
    {
        var h = Sim.HttpClient();
        h.BaseAddress = new Uri(Sim.Server.TrimEnd('/') + "/");
        h.Timeout = TimeSpan.FromSeconds(60);
        return h;
    }

    private static async Task<(HttpStatusCode Code, string Body)> Get(HttpClient h, string url)
    {
        using var r = await h.GetAsync(url);
        return (r.StatusCode, await r.Content.ReadAsStringAsync());
    }

    private async Task<V1Pod> RunWorkloadPod(string name)
    {
        var body = KubernetesYaml.Deserialize<V1Pod>(string.Format(System.Globalization.CultureInfo.InvariantCulture, PodLogsAndReviewsTests.WorkloadPod, name, "hf://Qwen/Qwen2.5-0.5B"));
        await Client.CreateNamespacedPodAsync(body, "default");
        V1Pod? pod = null;
        await Eventually(async () =>
        {
            pod = await Client.ReadNamespacedPodAsync(name, "default");
            return pod.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true;
        }, $"pod {name} Ready", 60000);
        return pod!;
    }

    private static void AssertStatus((HttpStatusCode Code, string Body) r, HttpStatusCode code, string reason, string message)
    {
        Assert.True(r.Code == code, $"{r.Code}: {r.Body}");
        var s = JsonNode.Parse(r.Body)!.AsObject();
        Assert.Equal("Status", s["kind"]?.ToString());
        Assert.Equal(reason, s["reason"]?.ToString());
        Assert.Equal((int)code, (int)s["code"]!);
        Assert.Equal(message, s["message"]?.ToString());
    }

    [Fact]
    public async Task PodProxyReachesVllmLogsTheRequestAndFailsAsTheApiServerDoes()
    {
        var pod = await RunWorkloadPod("llm-0");
        var ip = pod.Status.PodIP;
        using var h = Http();

        // vLLM's metrics through the API server (the port from the id, or the pod's first declared port)
        var metrics = await Get(h, "api/v1/namespaces/default/pods/llm-0:8000/proxy/metrics");
        Assert.True(metrics.Code == HttpStatusCode.OK, metrics.Body);
        Assert.Contains("vllm:num_requests_running{", metrics.Body);
        Assert.Contains("vllm:time_to_first_token_seconds_bucket{", metrics.Body);
        var http = await Get(h, "api/v1/namespaces/default/pods/http:llm-0:8000/proxy/health");
        Assert.Equal(HttpStatusCode.OK, http.Code);

        // a completion through the proxy is answered by the pod's vLLM, which writes uvicorn's access line
        using (var post = await h.PostAsync("api/v1/namespaces/default/pods/llm-0:8000/proxy/v1/completions",
                   new StringContent("{\"model\":\"qwen\",\"prompt\":\"hello there\",\"max_tokens\":3}", Encoding.UTF8, "application/json")))
        {
            var text = await post.Content.ReadAsStringAsync();
            Assert.True(post.StatusCode == HttpStatusCode.OK, text);
            Assert.Equal("text_completion", JsonNode.Parse(text)!["object"]?.ToString());
        }
        string log = "";
        await Eventually(async () =>
        {
            log = (await Get(h, "api/v1/namespaces/default/pods/llm-0/log?container=main")).Body;
            return log.Contains("\"POST /v1/completions HTTP/1.1\" 200 OK", StringComparison.Ordinal);
        }, "the access line in the vLLM log", 30000);
        Assert.Matches(@"INFO:     [0-9.]+:\d+ - ""GET /metrics HTTP/1.1"" 200 OK", log);

        // nothing listens on the port: the dialer's error as a 503 Status
        AssertStatus(await Get(h, "api/v1/namespaces/default/pods/llm-0:9999/proxy/metrics"), HttpStatusCode.ServiceUnavailable, "ServiceUnavailable",
            $"error trying to reach service: dial tcp {ip}:9999: connect: connection refused");
        // https to a plain-HTTP vLLM fails the handshake
        var tls = await Get(h, "api/v1/namespaces/default/pods/https:llm-0:8000/proxy/metrics");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, tls.Code);
        Assert.Contains("error trying to reach service: tls:", tls.Body);
        // malformed id, unknown pod, unknown scheme
        AssertStatus(await Get(h, "api/v1/namespaces/default/pods/a:b:c:d/proxy/"), HttpStatusCode.BadRequest, "BadRequest", "invalid pod request \"a:b:c:d\"");
        AssertStatus(await Get(h, "api/v1/namespaces/default/pods/ftp:llm-0:8000/proxy/"), HttpStatusCode.BadRequest, "BadRequest", "invalid pod request \"ftp:llm-0:8000\"");
        AssertStatus(await Get(h, "api/v1/namespaces/default/pods/nosuch:8000/proxy/metrics"), HttpStatusCode.NotFound, "NotFound", "pods \"nosuch\" not found");

        // no credentials: the authenticator answers before anything is proxied
        using var anonymous = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        using var denied = await anonymous.GetAsync(Sim.Server.TrimEnd('/') + "/api/v1/namespaces/default/pods/llm-0:8000/proxy/metrics");
        Assert.Equal(HttpStatusCode.Unauthorized, denied.StatusCode);
    }

    [Fact]
    public async Task PendingPodsHaveNoAddressAndServicesProxyToAReadyEndpoint()
    {
        await RunWorkloadPod("llm-1");
        // a pod that cannot be scheduled has no IP
        await Client.CreateNamespacedPodAsync(KubernetesYaml.Deserialize<V1Pod>("""
            apiVersion: v1
            kind: Pod
            metadata: {name: stuck, namespace: default}
            spec:
              nodeSelector: {no-such-node: "true"}
              containers: [{name: main, image: nginx:1.27, ports: [{containerPort: 80}]}]
            """), "default");
        foreach (var yaml in new[]
        {
            "apiVersion: v1\nkind: Service\nmetadata: {name: llm, namespace: default}\nspec:\n  selector: {app: llm}\n  ports: [{name: http, port: 80, targetPort: 8000}]",
            "apiVersion: v1\nkind: Service\nmetadata: {name: empty, namespace: default}\nspec:\n  selector: {app: nobody}\n  ports: [{port: 80}]",
        })
            await Client.CreateNamespacedServiceAsync(KubernetesYaml.Deserialize<V1Service>(yaml), "default");
        using var h = Http();

        AssertStatus(await Get(h, "api/v1/namespaces/default/pods/stuck/proxy/"), HttpStatusCode.BadRequest, "BadRequest", "address not allowed");

        var viaService = await Get(h, "api/v1/namespaces/default/services/llm:http/proxy/metrics");
        Assert.True(viaService.Code == HttpStatusCode.OK, viaService.Body);
        Assert.Contains("vllm:kv_cache_usage_perc{", viaService.Body);
        Assert.Equal(HttpStatusCode.OK, (await Get(h, "api/v1/namespaces/default/services/llm:80/proxy/v1/models")).Code);
        AssertStatus(await Get(h, "api/v1/namespaces/default/services/empty/proxy/"), HttpStatusCode.ServiceUnavailable, "ServiceUnavailable",
            "no endpoints available for service \"empty\"");
        AssertStatus(await Get(h, "api/v1/namespaces/default/services/nosuch:80/proxy/"), HttpStatusCode.NotFound, "NotFound", "services \"nosuch\" not found");
    }

    [KubectlFact]
    public async Task KubectlGetRawReadsMetricsThroughThePodsProxy()
    {
        await RunWorkloadPod("llm-2");
        var dir = Directory.CreateTempSubdirectory("rhaii-kubectl-proxy-");
        try
        {
            var kc = Path.Combine(dir.FullName, "kubeconfig");
            File.WriteAllText(kc, Sim.Kubeconfig());
            var cache = Path.Combine(dir.FullName, "cache");
            var raw = Kubectl.Run(kc, cache, "get --raw /api/v1/namespaces/default/pods/llm-2:8000/proxy/metrics");
            Assert.True(raw.Code == 0, raw.Err);
            Assert.Contains("vllm:num_requests_waiting{", raw.Out);
            var refused = Kubectl.Run(kc, cache, "get --raw /api/v1/namespaces/default/pods/llm-2:9999/proxy/metrics");
            Assert.NotEqual(0, refused.Code);
            Assert.Contains("ServiceUnavailable", refused.Err + refused.Out);
        }
        finally { dir.Delete(true); }
    }
}
