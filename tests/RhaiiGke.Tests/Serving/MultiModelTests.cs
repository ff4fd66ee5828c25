using System.Management.Automation;
using System.Text.Json.Nodes;
using RhaiiGke.Engine.Inference;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.Serving;

/// <summary>
/// Two models behind one URL on the sandbox (issue 13 item 1): both services Ready and verified, New-InferenceModelRoute
/// puts them behind one model-routed base URL (body-based router + header-matched HTTPRoute), each model passes
/// Test-InferenceEndpoint there, and a weighted benchmark reports per model with every request served by a pod of the
/// model it asked for (checked request by request). Without the body-based router the shared URL routes nothing, and a
/// request for one model on the other's own URL gets vLLM's 404.
/// </summary>
public class MultiModelTests : IDisposable
{
    private const string ModelA = "Qwen/Qwen2.5-1.5B-Instruct";
    private const string ModelB = "Qwen/Qwen2.5-3B-Instruct";
    private readonly PowerShellHost _ps = new();
    private readonly string _sandbox = "multimodel-" + Guid.NewGuid().ToString("N")[..6];

    [Fact]
    public async Task TwoModelsBehindOneUrlRouteByTheBodysModelWithNoRequestMisrouted()
    {
        _ps.Run($"$sb = Start-RhaiiSandbox -Name {_sandbox} -TpuNodes 2 -ControllerDelay 00:00:00.005; $sb | Install-RhaiiOperators | Out-Null; New-InferenceGateway | Out-Null");
        _ps.Run("$cred = [pscredential]::new('svc-account', (ConvertTo-SecureString 'registry-password-xyz' -AsPlainText -Force)); $hf = ConvertTo-SecureString 'hf_TESTTOKEN_multi' -AsPlainText -Force");
        var services = _ps.Run(
            $"$a = New-LlmInferenceServiceSpec -Name small -Model {ModelA} -Namespace llm; $b = New-LlmInferenceServiceSpec -Name large -Model {ModelB} -Namespace llm; " +
            "$svcs = $a, $b | Deploy-LlmInferenceService -RegistryCredential $cred -HuggingFaceToken $hf -Wait -Timeout 00:05:00; $svcs")
            .Select(o => (LlmInferenceService)o.BaseObject).ToList();
        Assert.Equal(2, services.Count);
        var connection = (ClusterConnection)_ps.Run("$sb.Connection")[0].BaseObject;
        var client = KubeClient.For(connection);
        Assert.All(services, s => Assert.True(s.Ready, $"{s.Name}: {s.Stage}"));

        // each pattern member passes the deployment verification with traffic through the gateway
        foreach (var name in new[] { "small", "large" })
        {
            var verified = (TestRhaiiDeploymentResult)Assert.Single(_ps.Run($"Test-RhaiiDeployment -Namespace llm -Name {name}")).BaseObject;
            Assert.True(verified.Passed, verified.ToString());
        }

        // strict vLLM: model B on model A's own URL is a 404 from the server (what a misrouted request gets), and the
        // benchmark counts exactly those as misrouted
        var wrong = _ps.Run($"Invoke-InferenceBenchmark -BaseUrl ($svcs | Where-Object Name -eq small).BaseUrl -ModelMix @{{ '{ModelA}' = 1; '{ModelB}' = 1 }} -NumPrompts 12 -InputTokens 16 -OutputTokens 2 -Warmups 0 -Confirm:$false -WarningAction SilentlyContinue")
            .Select(o => (InferenceBenchmarkResult)o.BaseObject).ToList();
        var wrongOverall = Assert.Single(wrong, r => r.Scope == "overall");
        var wrongB = Assert.Single(wrong, r => r.Scope == "model" && r.Model == ModelB);
        Assert.True(wrongB.Misrouted > 0);
        Assert.Equal(wrongB.Misrouted, wrongB.Failed);
        Assert.Equal(wrongB.Misrouted, wrongOverall.Misrouted);
        Assert.Equal(0, Assert.Single(wrong, r => r.Scope == "model" && r.Model == ModelA).Misrouted);

        var preview = (InferenceModelRoute)Assert.Single(_ps.Run("$svcs | New-InferenceModelRoute -Name models -WhatIf")).BaseObject;
        Assert.True(preview.DryRun);
        Assert.False(preview.Ready);

        var route = (InferenceModelRoute)Assert.Single(_ps.Run("$route = $svcs | New-InferenceModelRoute -Name models; $route")).BaseObject;
        Assert.True(route.Ready, route.Message);
        Assert.Equal([ModelA, ModelB], route.Models.OrderBy(m => m, StringComparer.Ordinal));
        Assert.EndsWith("/llm/models/v1", route.BaseUrl);
        Assert.True(route.MutatingRequests > 0);
        var again = (InferenceModelRoute)Assert.Single(_ps.Run("$svcs | New-InferenceModelRoute -Name models")).BaseObject;
        Assert.Equal(0, again.MutatingRequests);

        // GET /v1/models on the shared URL has no body to route by: the route's Exact rule sends it to the model list,
        // which names every model (the UBI nginx pod serving the ConfigMap)
        var (listStatus, listBody, _) = await KubeApi.DataPlaneCluster.SendAsync(route.BaseUrl!, "GET", "/v1/models");
        Assert.Equal(200, listStatus);
        Assert.Equal([ModelA, ModelB], JsonNode.Parse(listBody)!["data"]!.AsArray().Select(d => d!["id"]!.GetValue<string>()).Order(StringComparer.Ordinal));

        // every model through the shared URL (X-Gateway-Model-Name on bodiless requests such as GET /health)
        var endpoint = _ps.Run("$route | Test-InferenceEndpoint").Select(o => (TestInferenceEndpointResult)o.BaseObject).ToList();
        Assert.Equal(2, endpoint.Count);
        Assert.All(endpoint, e => Assert.True(e.Passed, $"{e.Model}: {string.Join("; ", e.Checks.Where(c => !c.Passed).Select(c => c.Name + " " + c.Detail))}"));
        Assert.Equal([ModelA, ModelB], endpoint.Select(e => e.Model).OrderBy(m => m, StringComparer.Ordinal));

        // a weighted mix through one URL: overall plus one result per model, and per request the pod served its model
        var results = _ps.Run($"Invoke-InferenceBenchmark -BaseUrl $route.BaseUrl -ModelMix @{{ '{ModelA}' = 3; '{ModelB}' = 1 }} -Concurrency 4 -NumPrompts 48 -InputTokens 32 -OutputTokens 4 -Warmups 0 -Detailed -Confirm:$false")
            .Select(o => (InferenceBenchmarkResult)o.BaseObject).ToList();
        Assert.Equal(3, results.Count);
        var overall = Assert.Single(results, r => r.Scope == "overall");
        Assert.Equal(48, overall.Completed);
        Assert.Equal(0, overall.Failed);
        Assert.Equal(0, overall.Misrouted);
        var perModel = results.Where(r => r.Scope == "model").ToDictionary(r => r.Model);
        Assert.Equal(2, perModel.Count);
        Assert.Equal(48, perModel.Values.Sum(r => r.Completed));
        Assert.True(perModel[ModelA].Completed > perModel[ModelB].Completed, "the 3:1 weights send more requests to the first model");
        Assert.True(perModel[ModelB].Completed > 0);
        var pods = await client.ListAsync("api/v1/namespaces/llm/pods", "kserve.io/component=workload", CancellationToken.None);
        var servicesOfPods = (pods["items"] as JsonArray ?? []).OfType<JsonObject>().ToDictionary(
            p => p["metadata"]!["name"]!.GetValue<string>(), p => p["metadata"]!["labels"]!["app.kubernetes.io/name"]!.GetValue<string>());
        foreach (var record in overall.Requests!)
        {
            Assert.True(record.Success, record.Error);
            Assert.NotNull(record.Pod);
            var service = servicesOfPods[record.Pod!];
            Assert.Equal(record.Model == ModelA ? "small" : "large", service);
        }
        Assert.All(perModel.Values, r => Assert.All(r.Requests!, q => Assert.Equal(r.Model, q.Model)));

        // Test-InferenceCacheRouting per model on the shared URL: the route object gives one result per model, and the
        // /metrics scrape through the gateway carries the model header, so the counters are that model's pods'
        var caches = _ps.Run("$route | Test-InferenceCacheRouting -Groups 2 -RequestsPerGroup 3 -PrefixTokens 256 -WarningAction SilentlyContinue")
            .Select(o => (TestInferenceCacheRoutingResult)o.BaseObject).ToList();
        Assert.Equal([ModelA, ModelB], caches.Select(c => c.Model).Order(StringComparer.Ordinal));
        foreach (var cache in caches)
        {
            Assert.NotEmpty(cache.Phases);
            Assert.All(cache.Phases, ph => Assert.Equal(0, ph.Failed));
            Assert.All(cache.Phases, ph => Assert.True(ph.Requests > 0));
            Assert.DoesNotContain(cache.Warnings, w => w.Contains("does not serve /metrics", StringComparison.Ordinal));
        }
        // without the header the gateway routes no bodiless request on the shared URL: the scrape fails and says so
        var unscraped = (TestInferenceCacheRoutingResult)Assert.Single(_ps.Run($"Test-InferenceCacheRouting -BaseUrl $route.BaseUrl -Model '{ModelA}' -Groups 1 -RequestsPerGroup 2 -PrefixTokens 64 -WarningAction SilentlyContinue")).BaseObject;
        Assert.Contains(unscraped.Warnings, w => w.Contains("does not serve /metrics", StringComparison.Ordinal));

        // strict gateway: without the body-based router nothing sets X-Gateway-Model-Name, so no rule matches
        await client.SendAsync(HttpMethod.Delete, "apis/networking.istio.io/v1alpha3/namespaces/opendatahub/envoyfilters/body-based-router", null, null, CancellationToken.None);
        var unrouted = (InferenceBenchmarkResult)_ps.Run($"Invoke-InferenceBenchmark -BaseUrl $route.BaseUrl -Model '{ModelA}' -NumPrompts 3 -InputTokens 16 -OutputTokens 2 -Warmups 0 -Confirm:$false -WarningAction SilentlyContinue")[0].BaseObject;
        Assert.Equal(3, unrouted.Failed);
        Assert.Equal(3, unrouted.ErrorsByType["http_404"]);
    }

    /// <summary>
    /// The model list follows the route: it fails as Envoy does while its pod is not ready, Remove-InferenceModelRoute
    /// -ServiceName takes one model off (list and routing both), and without -ServiceName removes the whole route; both idempotent.
    /// </summary>
    [Fact]
    public async Task RemovingAModelFromTheSharedUrlUpdatesItsModelListAndStopsRoutingIt()
    {
        _ps.Run($"$sb = Start-RhaiiSandbox -Name {_sandbox} -TpuNodes 2 -ControllerDelay 00:00:00.005; $sb | Install-RhaiiOperators | Out-Null; New-InferenceGateway | Out-Null");
        _ps.Run("$cred = [pscredential]::new('svc-account', (ConvertTo-SecureString 'registry-password-xyz' -AsPlainText -Force)); $hf = ConvertTo-SecureString 'hf_TESTTOKEN_multi' -AsPlainText -Force");
        _ps.Run($"$a = New-LlmInferenceServiceSpec -Name small -Model {ModelA} -Namespace llm; $b = New-LlmInferenceServiceSpec -Name large -Model {ModelB} -Namespace llm; " +
            "$svcs = $a, $b | Deploy-LlmInferenceService -RegistryCredential $cred -HuggingFaceToken $hf -Wait -Timeout 00:05:00");
        var route = (InferenceModelRoute)Assert.Single(_ps.Run("$route = $svcs | New-InferenceModelRoute -Name models; $route")).BaseObject;
        Assert.True(route.Ready, route.Message);
        var client = KubeClient.For((ClusterConnection)_ps.Run("$sb.Connection")[0].BaseObject);
        const string ListDeployment = "apis/apps/v1/namespaces/llm/deployments/models-models";

        async Task<(int Status, string Body)> UntilAsync(string path, Func<int, bool> done)
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (true)
            {
                var (status, body, _) = await KubeApi.DataPlaneCluster.SendAsync(route.BaseUrl!, "GET", path);
                if (done(status) || DateTime.UtcNow > deadline) return (status, body);
                await Task.Delay(50);
            }
        }
        static List<string> Ids(string body) => JsonNode.Parse(body)!["data"]!.AsArray().Select(d => d!["id"]!.GetValue<string>()).Order(StringComparer.Ordinal).ToList();

        // strict: no ready list pod, no endpoint: Envoy answers 503 no healthy upstream itself
        await client.SendAsync(HttpMethod.Patch, ListDeployment, new JsonObject { ["spec"] = new JsonObject { ["replicas"] = 0 } }, "application/merge-patch+json", CancellationToken.None);
        var (down, downBody) = await UntilAsync("/v1/models", s => s != 200);
        Assert.Equal(503, down);
        Assert.Contains("no healthy upstream", downBody);
        await client.SendAsync(HttpMethod.Patch, ListDeployment, new JsonObject { ["spec"] = new JsonObject { ["replicas"] = 1 } }, "application/merge-patch+json", CancellationToken.None);
        var (up, upBody) = await UntilAsync("/v1/models", s => s == 200);
        Assert.Equal(200, up);
        Assert.Equal([ModelA, ModelB], Ids(upBody));

        // -WhatIf changes nothing
        Assert.DoesNotContain(_ps.Run("Remove-InferenceModelRoute -Name models -Namespace llm -ServiceName large -WhatIf"), o => o.BaseObject is InferenceModelRoute { DryRun: false });
        Assert.Equal([ModelA, ModelB], Ids((await KubeApi.DataPlaneCluster.SendAsync(route.BaseUrl!, "GET", "/v1/models")).Body));

        // one model off: the route waits for the new list pod, which lists only the rest; the removed model is routed nowhere
        var smaller = (InferenceModelRoute)Assert.Single(_ps.Run("$route | Remove-InferenceModelRoute -ServiceName large -Confirm:$false")).BaseObject;
        Assert.True(smaller.Ready, smaller.Message);
        Assert.Equal([ModelA], smaller.Models);
        Assert.Equal([ModelA], Ids((await KubeApi.DataPlaneCluster.SendAsync(route.BaseUrl!, "GET", "/v1/models")).Body));
        var (gone, _, _) = await KubeApi.DataPlaneCluster.SendAsync(route.BaseUrl!, "POST", "/v1/completions", $"{{\"model\":\"{ModelB}\",\"prompt\":\"hi\",\"max_tokens\":2}}");
        Assert.Equal(404, gone);
        var (kept, _, _) = await KubeApi.DataPlaneCluster.SendAsync(route.BaseUrl!, "POST", "/v1/completions", $"{{\"model\":\"{ModelA}\",\"prompt\":\"hi\",\"max_tokens\":2}}");
        Assert.Equal(200, kept);
        var again = (InferenceModelRoute)Assert.Single(_ps.Run("Remove-InferenceModelRoute -Name models -Namespace llm -ServiceName large -Confirm:$false")).BaseObject;
        Assert.Equal(0, again.MutatingRequests);

        // the whole route: HTTPRoute and list gone, the gateway's body-based router stays; removing again is no error
        Assert.Empty(_ps.Run("Remove-InferenceModelRoute -Name models -Namespace llm -Confirm:$false"));
        Assert.Null(await client.GetAsync("apis/gateway.networking.k8s.io/v1/namespaces/llm/httproutes/models-model-route", CancellationToken.None));
        Assert.Null(await client.GetAsync(ListDeployment, CancellationToken.None));
        Assert.Null(await client.GetAsync("api/v1/namespaces/llm/configmaps/models-models", CancellationToken.None));
        Assert.NotNull(await client.GetAsync("apis/apps/v1/namespaces/opendatahub/deployments/body-based-router", CancellationToken.None));
        var (after, _) = await UntilAsync("/v1/models", s => s == 404);
        Assert.Equal(404, after);
        Assert.Empty(_ps.Run("Remove-InferenceModelRoute -Name models -Namespace llm -Confirm:$false"));
    }

    public void Dispose()
    {
        try { _ps.Invoke($"Stop-RhaiiSandbox -Name {_sandbox}"); } catch { /* best effort */ }
        _ps.Dispose();
        GC.SuppressFinalize(this);
    }
}
