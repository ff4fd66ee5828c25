using System.Diagnostics;
using System.Text.Json.Nodes;
using RhaiiGke.Engine.Inference;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Engine.Kube.Platform;
using RhaiiGke.Engine.Manifests;
using RhaiiGke.Engine.Serving;
using RhaiiGke.Engine.Serving.Diagnosis;
using RhaiiGke.Sandbox.KubeApi;
using RhaiiGke.Sandbox;
using RhaiiGke.Tests.Gke;
using RhaiiGke.Tests.Kube;
using Xunit;

namespace RhaiiGke.Tests.KubeApi;

/// <summary>GKE's own gateway: the gke-l7-* classes on GKE clusters only, programmed Gateways, GWCER104, health checks and the data plane.</summary>
[Collection("GkeCmdlets")]
public sealed class GkeGatewayTests
{
    private const string Gw = "v1";

    [Fact]
    public void OnlyGkeClustersHaveTheGkeClassesAndGkeManagedCrds()
    {
        using (var plain = new KubeApiSimulator(KubeApiSimulatorOptions.Fast()))
        {
            plain.Start();
            Assert.False(plain.Serves("gateway.networking.k8s.io/v1", "GatewayClass"));
            Assert.False(plain.Serves("networking.gke.io/v1", "HealthCheckPolicy"));
        }
        var o = KubeApiSimulatorOptions.Fast();
        o.KubernetesVersion = "v1.34.1";
        o.GkeGatewayApi = true;
        using var gke = new KubeApiSimulator(o);
        gke.Start();
        foreach (var cls in new[] { "gke-l7-regional-external-managed", "gke-l7-rilb", "gke-l7-global-external-managed" })
        {
            var gc = gke.GetObject("gateway.networking.k8s.io/v1", "GatewayClass", null, cls)!;
            Assert.Equal("networking.gke.io/gateway", gc["spec"]!["controllerName"]!.GetValue<string>());
            Assert.Contains(gc["status"]!["conditions"]!.AsArray(), c => c!["type"]!.GetValue<string>() == "Accepted" && c["status"]!.GetValue<string>() == "True");
        }
        Assert.True(gke.Serves("networking.gke.io/v1", "HealthCheckPolicy"));
        Assert.True(gke.Serves("inference.networking.k8s.io/v1", "InferencePool"));
        Assert.False(gke.Serves("inference.networking.x-k8s.io/v1alpha2", "InferencePool")); // GKE installs GA CRDs only
        var crd = gke.GetObject("apiextensions.k8s.io/v1", "CustomResourceDefinition", null, "inferencepools.inference.networking.k8s.io")!;
        Assert.True(ApplyEngine.IsGkeManaged(crd));
    }

    private sealed class GkeCluster(GkeClusterSimulators clusters, GkeTestBed bed, GkeCmdletHost ps, KubeApiSimulator sim, ClusterConnection conn) : IDisposable
    {
        public KubeApiSimulator Sim { get; } = sim;
        public ClusterConnection Conn { get; } = conn;

        public void Dispose() { ps.Dispose(); bed.Dispose(); clusters.Dispose(); }
    }

    /// <summary>A cluster made by New-TpuCluster through the GKE simulator, operators installed.</summary>
    private static async Task<GkeCluster> StartAsync(string name)
    {
        var clusters = new GkeClusterSimulators(TimeSpan.FromMilliseconds(5));
        var bed = new GkeTestBed(configure: clusters.Attach);
        var ps = new GkeCmdletHost(bed);
        ps.Ok($"New-TpuCluster @c -Name {name} -Zone europe-west4-a -Accelerator v6e -Topology 2x2 -InitialNodeCount 1 -SystemNodeCount 2");
        var sim = clusters.For(GkeTestBed.Project, GkeTestBed.Zone, name)!;
        var conn = Fast.Connect(sim);
        var platform = await new PlatformInstaller(conn).InstallAsync(new RhaiiInstallOptions { Apply = Fast.Options() }, CancellationToken.None);
        Assert.True(platform.Ready, string.Join("; ", platform.Components.Select(c => $"{c.Name}: {c.Message}")));
        Assert.Contains("inferencepools.inference.networking.k8s.io", platform.GkeManagedCrds);
        return new GkeCluster(clusters, bed, ps, sim, conn);
    }

    private static string PatternYaml(LlmInferenceServiceSpec spec, Func<ManifestObject, bool>? skip = null)
    {
        var docs = new List<string>();
        foreach (var o in ManifestBuilder.BuildPattern(spec))
        {
            if (skip?.Invoke(o) == true) continue;
            var yaml = o.Yaml;
            if (o.Kind == "Secret" && o.Name == spec.HuggingFaceTokenSecret) yaml = yaml.Replace(ManifestBuilder.Placeholder, "hf_simulated_token");
            if (o.Kind == "Secret" && o.Name == spec.PullSecretName) yaml = yaml.Replace(ManifestBuilder.Placeholder, "cmhhaWk6c2VjcmV0");
            docs.Add(yaml);
        }
        return string.Join("---\n", docs);
    }

    private static async Task ApplyAsync(ClusterConnection conn, string yaml)
    {
        var o = Fast.Options("gke");
        o.Wait = false;
        await new ApplyEngine(conn).ApplyAsync(yaml, o, CancellationToken.None);
    }

    private static async Task<T> WaitAsync<T>(Func<T?> probe, Func<T?, bool> done, string what, KubeApiSimulator sim, double seconds = 120)
    {
        var sw = Stopwatch.StartNew();
        T? last = default;
        while (sw.Elapsed < TimeSpan.FromSeconds(seconds))
        {
            last = probe();
            if (done(last)) return last!;
            await Task.Delay(25);
        }
        Assert.Fail($"Timed out waiting for {what}; last: {(last is JsonNode n ? (n["status"] ?? n).ToJsonString() : last?.ToString())}; controller errors: {string.Join(" | ", sim.ControllerErrors.TakeLast(5))}");
        return last!;
    }

    private static bool Cond(JsonNode? o, string type, string status = "True") =>
        o?["conditions"]?.AsArray().Any(c => c!["type"]!.GetValue<string>() == type && c["status"]!.GetValue<string>() == status) == true;

    private static JsonObject? Get(KubeApiSimulator sim, string apiVersion, string kind, string? ns, string name) => sim.GetObject(apiVersion, kind, ns, name);

    [Fact]
    public async Task TheGkeNativeGatewayPatternIsProgrammedReadyAndServesCompletionsThroughTheLoadBalancer()
    {
        using var c = await StartAsync("gkegw");
        var spec = SpecFactory.Create(PatternDefaults.For(DeploymentPattern.GkeNativeGateway));
        Assert.Equal(InferenceGatewayClass.GkeRegionalExternal, spec.GatewayClass);
        await ApplyAsync(c.Conn, PatternYaml(spec));

        var gw = await WaitAsync(() => Get(c.Sim, "gateway.networking.k8s.io/v1", "Gateway", spec.GatewayNamespace, spec.GatewayName),
            g => Cond(g?["status"], "Programmed") && g!["status"]!["addresses"] is JsonArray { Count: > 0 }, "GKE Gateway Programmed", c.Sim);
        var ip = gw["status"]!["addresses"]![0]!["value"]!.GetValue<string>();
        // the sandbox's load balancer answers on this machine: a loopback address (one per Gateway, listener port 80)
        Assert.True(System.Net.IPAddress.TryParse(ip, out var lbIp) && System.Net.IPAddress.IsLoopback(lbIp) && ip != "127.0.0.1", ip);
        Assert.True(Cond(gw["status"], "Accepted"));

        var svc = await WaitAsync(() => Get(c.Sim, "serving.kserve.io/v1alpha1", "LLMInferenceService", spec.Namespace, spec.Name),
            s => Cond(s?["status"], "Ready"), "LLMInferenceService Ready", c.Sim);
        var route = Get(c.Sim, "gateway.networking.k8s.io/v1", "HTTPRoute", spec.Namespace, $"{spec.Name}-kserve-route")!;
        var parent = route["status"]!["parents"]!.AsArray().Single(p => p!["controllerName"]!.GetValue<string>() == "networking.gke.io/gateway")!;
        Assert.True(Cond(parent, "Accepted") && Cond(parent, "ResolvedRefs"), parent.ToJsonString());
        Assert.All(route["spec"]!["rules"]!.AsArray(), r => Assert.Null(r!["timeouts"])); // the namespace-local route config
        var policy = Get(c.Sim, "networking.gke.io/v1", "HealthCheckPolicy", spec.Namespace, $"{spec.Name}-pool-health")!;
        Assert.True(Cond(policy["status"], "Attached"), policy.ToJsonString());

        var url = $"http://{ip}/{spec.Namespace}/{spec.Name}";
        Assert.Equal(url, svc["status"]!["url"]!.GetValue<string>());
        var result = await EndpointTester.TestAsync(new EndpointTestOptions { BaseUrl = url, Model = spec.ModelName, Timeout = TimeSpan.FromMinutes(2) });
        Assert.True(result.Passed, string.Join("; ", result.Checks.Select(x => $"{x.Name}: {x.Status} {x.Detail}")));
        var (status, body, pod) = await DataPlaneCluster.SendAsync(url, "POST", "/v1/completions",
            new JsonObject { ["model"] = spec.ModelName, ["prompt"] = "Hello", ["max_tokens"] = 4 }.ToJsonString());
        Assert.True(status == 200, body);
        Assert.NotNull(pod);

        // an unmatched path: GKE's default answer
        var (nf, nfBody, _) = await DataPlaneCluster.SendAsync($"http://{ip}", "GET", "/nowhere");
        Assert.Equal(404, nf);
        Assert.Equal("fault filter abort", nfBody);
    }

    [Fact]
    public async Task WithoutHealthCheckPoliciesTheBackendsStayUnhealthyAndAnswer503()
    {
        using var c = await StartAsync("gkehc");
        var spec = SpecFactory.Create(PatternDefaults.For(DeploymentPattern.GkeNativeGateway));
        await ApplyAsync(c.Conn, PatternYaml(spec, o => o.Kind == "HealthCheckPolicy"));
        var svc = await WaitAsync(() => Get(c.Sim, "serving.kserve.io/v1alpha1", "LLMInferenceService", spec.Namespace, spec.Name),
            s => Cond(s?["status"], "Ready"), "LLMInferenceService Ready", c.Sim);
        var url = svc["status"]!["url"]!.GetValue<string>();
        // GKE's default check probes "/" over the appProtocol: vLLM answers 404 there
        var (status, body, _) = await DataPlaneCluster.SendAsync(url, "POST", "/v1/completions",
            new JsonObject { ["model"] = spec.ModelName, ["prompt"] = "Hello", ["max_tokens"] = 4 }.ToJsonString());
        Assert.Equal(503, status);
        Assert.Contains("no healthy upstream", body);
        await WaitAsync(() => c.Sim.ListObjects("v1", "Event", spec.Namespace),
            evs => evs!.Any(e => e["reason"]!.GetValue<string>() == "BackendUnhealthy" && e["message"]!.GetValue<string>().Contains("path /", StringComparison.Ordinal)),
            "BackendUnhealthy event", c.Sim);

        // the policies repair it without touching the route
        await ApplyAsync(c.Conn, PatternYaml(spec, o => o.Kind != "HealthCheckPolicy"));
        await WaitAsync(() => DataPlaneCluster.SendAsync(url, "POST", "/v1/completions",
                new JsonObject { ["model"] = spec.ModelName, ["prompt"] = "Hello", ["max_tokens"] = 4 }.ToJsonString()).GetAwaiter().GetResult().Status,
            s => s == 200, "200 after the HealthCheckPolicies", c.Sim);
    }

    [Fact]
    public async Task ARouteWithTimeoutsIsNotAcceptedAndDiagnosedAndTheGlobalClassNeverServesThePool()
    {
        using var c = await StartAsync("gkefault");
        var spec = SpecFactory.Create(PatternDefaults.For(DeploymentPattern.GkeNativeGateway));
        // KServe's global route config (with timeouts) instead of the namespace-local one without them
        await ApplyAsync(c.Conn, PatternYaml(spec, o => o.Kind == "LLMInferenceServiceConfig" && o.Name == "kserve-config-llm-router-route"));
        var route = await WaitAsync(() => Get(c.Sim, "gateway.networking.k8s.io/v1", "HTTPRoute", spec.Namespace, $"{spec.Name}-kserve-route"),
            r => r?["status"]?["parents"]?.AsArray().Any(p => p!["controllerName"]!.GetValue<string>() == "networking.gke.io/gateway" && Cond(p, "Accepted", "False")) == true,
            "HTTPRoute Accepted=False", c.Sim);
        var accepted = route["status"]!["parents"]!.AsArray().Select(p => p!["conditions"]!.AsArray().First(x => x!["type"]!.GetValue<string>() == "Accepted")).First()!;
        Assert.Equal("UnsupportedValue", accepted["reason"]!.GetValue<string>());
        Assert.Equal($"Error GWCER104: HTTPRoute \"{spec.Namespace}/{spec.Name}-kserve-route\" is misconfigured, err: Timeouts are not supported.", accepted["message"]!.GetValue<string>());

        var findings = Diagnoser.Run(await ClusterSnapshotReader.ReadAsync(new Uri(c.Sim.Server), c.Sim.Token, c.Sim.CaCertificatePem, false));
        var f = Assert.Single(findings, x => x.CheckId == "HttpRouteNotAccepted");
        Assert.Contains("reject HTTPRoute timeouts", f.Fix);
        Assert.Contains(f.Evidence, e => e.Contains("GWCER104", StringComparison.Ordinal));

        var gw = Get(c.Sim, "gateway.networking.k8s.io/v1", "Gateway", spec.GatewayNamespace, spec.GatewayName)!;
        await WaitAsync(() => Get(c.Sim, "gateway.networking.k8s.io/v1", "Gateway", spec.GatewayNamespace, spec.GatewayName), g => Cond(g?["status"], "Programmed"), "Programmed", c.Sim);
        gw = Get(c.Sim, "gateway.networking.k8s.io/v1", "Gateway", spec.GatewayNamespace, spec.GatewayName)!;
        var ip = gw["status"]!["addresses"]![0]!["value"]!.GetValue<string>();
        var (status, body, _) = await DataPlaneCluster.SendAsync($"http://{ip}/{spec.Namespace}/{spec.Name}", "POST", "/v1/completions",
            new JsonObject { ["model"] = spec.ModelName, ["prompt"] = "Hello", ["max_tokens"] = 4 }.ToJsonString());
        Assert.Equal(404, status); // the rejected route is not on the URL map
        Assert.Equal("fault filter abort", body);

        // a global gateway with a route without timeouts to the v1 pool: accepted, programmed, never healthy
        await ApplyAsync(c.Conn, $$"""
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: { name: global-gateway, namespace: {{spec.GatewayNamespace}} }
            spec:
              gatewayClassName: gke-l7-global-external-managed
              listeners: [{ name: http, port: 80, protocol: HTTP, allowedRoutes: { namespaces: { from: All } } }]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: { name: global-route, namespace: {{spec.Namespace}} }
            spec:
              parentRefs: [{ name: global-gateway, namespace: {{spec.GatewayNamespace}} }]
              rules:
              - matches: [{ path: { type: PathPrefix, value: /v1/completions } }]
                backendRefs: [{ group: inference.networking.k8s.io, kind: InferencePool, name: {{spec.Name}}-inference-pool, port: 8000 }]
              - matches: [{ path: { type: PathPrefix, value: /alpha } }]
                backendRefs: [{ group: inference.networking.x-k8s.io, kind: InferencePool, name: {{spec.Name}}-inference-pool, port: 8000 }]
            """);
        var global = await WaitAsync(() => Get(c.Sim, "gateway.networking.k8s.io/v1", "Gateway", spec.GatewayNamespace, "global-gateway"),
            g => Cond(g?["status"], "Programmed") && g!["status"]!["addresses"] is JsonArray { Count: > 0 }, "global Gateway Programmed", c.Sim);
        var groute = await WaitAsync(() => Get(c.Sim, "gateway.networking.k8s.io/v1", "HTTPRoute", spec.Namespace, "global-route"),
            r => r?["status"]?["parents"] is JsonArray { Count: > 0 }, "global route status", c.Sim);
        var gp = groute["status"]!["parents"]![0]!;
        Assert.True(Cond(gp, "Accepted"));
        Assert.True(Cond(gp, "ResolvedRefs", "False")); // the x-k8s group is not a GKE backend
        Assert.Contains("inference.networking.x-k8s.io", gp["conditions"]!.AsArray().First(x => x!["type"]!.GetValue<string>() == "ResolvedRefs")!["message"]!.GetValue<string>());
        var pool = await WaitAsync(() => Get(c.Sim, "inference.networking.k8s.io/v1", "InferencePool", spec.Namespace, $"{spec.Name}-inference-pool"),
            p => p?["status"]?["parents"]?.AsArray().Any(x => x!["parentRef"]!["name"]!.GetValue<string>() == "global-gateway") == true, "pool parent status", c.Sim);
        var poolParent = pool["status"]!["parents"]!.AsArray().First(x => x!["parentRef"]!["name"]!.GetValue<string>() == "global-gateway")!;
        Assert.True(Cond(poolParent, "Accepted", "False"), poolParent.ToJsonString());
        var gip = global["status"]!["addresses"]![0]!["value"]!.GetValue<string>();
        var (gs, gbody, _) = await DataPlaneCluster.SendAsync($"http://{gip}", "POST", "/v1/completions",
            new JsonObject { ["model"] = spec.ModelName, ["prompt"] = "Hello", ["max_tokens"] = 4 }.ToJsonString());
        Assert.Equal(503, gs);
        Assert.Contains("no healthy upstream", gbody);
    }
}
