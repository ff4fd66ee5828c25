using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using RhaiiGke.Engine.Inference;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Engine.Kube.Platform;
using RhaiiGke.Engine.Manifests;
using RhaiiGke.Engine.Serving;
using RhaiiGke.Engine.Serving.Diagnosis;
using RhaiiGke.Sandbox.KubeApi;
using RhaiiGke.Tests.Kube;
using Xunit;

namespace RhaiiGke.Tests.KubeApi;

/// <summary>
/// A simulated GKE cluster with the data plane: operators installed, the Istio inference gateway, and an
/// LLMInferenceService rendered by ManifestBuilder. Requests go through the gateway address with the module's
/// inference client (EndpointOverrides route the cluster addresses to the in-process proxy and pod servers).
/// </summary>
internal sealed class DataPlaneCluster : IAsyncDisposable
{
    public const string Ns = "rhaii-inference";
    public const string PullAuth = "{\"auths\":{\"registry.redhat.io\":{\"auth\":\"cmhhaWk6c2VjcmV0\"}}}";

    private DataPlaneCluster(KubeApiSimulator sim, ClusterConnection conn) { Sim = sim; Conn = conn; }

    public KubeApiSimulator Sim { get; }
    public ClusterConnection Conn { get; }

    public static KubeApiSimulatorOptions Options(int tpuNodes = 1)
    {
        var o = new KubeApiSimulatorOptions
        {
            Delays = KubeControllerDelays.Uniform(TimeSpan.FromMilliseconds(10)),
            GatewayConnectTimeout = TimeSpan.FromMilliseconds(300),
        };
        o.Delays.ModelDownload = TimeSpan.FromMilliseconds(80);
        o.Delays.XlaCompile = TimeSpan.FromMilliseconds(120);
        o.Delays.BackOff = TimeSpan.FromMilliseconds(40);
        o.Nodes.AddRange(SimulatedNode.CpuPool("default-pool", 2));
        o.Nodes.AddRange(SimulatedNode.TpuPool("tpu-pool", tpuNodes, "tpu-v6e-slice", "2x2", "ct6e-standard-4t", 4));
        return o;
    }

    /// <summary>Operators (sandbox bundles) and New-InferenceGateway's objects, ready.</summary>
    public static async Task<DataPlaneCluster> StartAsync(KubeApiSimulatorOptions options, Action<KubeApiSimulator>? beforeGateway = null, bool waitProgrammed = true)
    {
        var sim = new KubeApiSimulator(options);
        sim.Start();
        var conn = Fast.Connect(sim);
        var platform = await new PlatformInstaller(conn).InstallAsync(new RhaiiInstallOptions { Apply = Fast.Options() }, CancellationToken.None);
        Assert.True(platform.Ready, string.Join("; ", platform.Components.Select(c => $"{c.Name}: {c.Message}")));
        beforeGateway?.Invoke(sim);
        var gwOptions = Fast.Options("gateway");
        gwOptions.Wait = false;
        await GatewayDeployer.DeployAsync(conn, "inference-gateway", "opendatahub", InferenceGatewayClass.Istio, "redhat-pull-secret", gwOptions, null, CancellationToken.None);
        var cluster = new DataPlaneCluster(sim, conn);
        if (waitProgrammed)
            await cluster.WaitAsync(() => sim.GetObject("gateway.networking.k8s.io/v1", "Gateway", "opendatahub", "inference-gateway"),
                g => g?["status"]?["addresses"] is JsonArray { Count: > 0 } && g["status"]!["conditions"]!.AsArray().Any(x => x!["type"]!.GetValue<string>() == "Programmed" && x["status"]!.GetValue<string>() == "True"),
                "Gateway Programmed");
        return cluster;
    }

    /// <summary>BuildService's objects with real secret values; <paramref name="skip"/> drops objects (e.g. the pull secret).</summary>
    public static string ServiceYaml(LlmInferenceServiceSpec spec, string hfToken = "hf_simulated_token", Func<ManifestObject, bool>? skip = null)
    {
        var docs = new List<string>();
        foreach (var o in ManifestBuilder.BuildService(spec))
        {
            if (skip?.Invoke(o) == true) continue;
            var yaml = o.Yaml;
            if (o.Kind == "Secret" && o.Name == spec.HuggingFaceTokenSecret) yaml = yaml.Replace(ManifestBuilder.Placeholder, hfToken);
            if (o.Kind == "Secret" && o.Name == spec.PullSecretName) yaml = yaml.Replace(ManifestBuilder.Placeholder, "cmhhaWk6c2VjcmV0");
            docs.Add(yaml);
        }
        return string.Join("---\n", docs);
    }

    public static LlmInferenceServiceSpec Spec(string name, int replicas = 1, string model = "Qwen/Qwen2.5-3B-Instruct") => SpecFactory.Create(new SpecRequest
    {
        Name = name, Namespace = Ns, Model = model, Replicas = replicas, Pattern = DeploymentPattern.Baseline,
        HuggingFaceTokenSecret = "hf-token", PullSecretName = "redhat-pull-secret", GatewayName = "inference-gateway", GatewayNamespace = "opendatahub",
    });

    public async Task ApplyAsync(string yaml)
    {
        var o = Fast.Options("llmisvc");
        o.Wait = false;
        await new ApplyEngine(Conn).ApplyAsync(yaml, o, CancellationToken.None);
    }

    public JsonObject? Get(string apiVersion, string kind, string? ns, string name) => Sim.GetObject(apiVersion, kind, ns, name);

    public IReadOnlyList<JsonObject> Pods(string ns, string label, string value) =>
        Sim.ListObjects("v1", "Pod", ns).Where(p => p["metadata"]?["labels"]?[label]?.GetValue<string>() == value && p["metadata"]?["deletionTimestamp"] is null).ToList();

    public static bool Ready(JsonObject? o) =>
        o?["status"]?["conditions"]?.AsArray().Any(c => c!["type"]!.GetValue<string>() == "Ready" && c["status"]!.GetValue<string>() == "True") == true;

    /// <summary>Polls until <paramref name="done"/> holds; fails with <paramref name="what"/> and the controller errors otherwise.</summary>
    public async Task<T> WaitAsync<T>(Func<T?> probe, Func<T?, bool> done, string what, double seconds = 120)
    {
        var sw = Stopwatch.StartNew();
        T? last = default;
        while (sw.Elapsed < TimeSpan.FromSeconds(seconds))
        {
            last = probe();
            if (done(last)) return last!;
            await Task.Delay(25);
        }
        var pods = string.Join(" | ", Sim.ListObjects("v1", "Pod", Ns).Select(p => $"{p["metadata"]!["name"]}: {p["status"]?.ToJsonString()}"));
        var last1 = last is JsonNode n ? n["status"]?.ToJsonString() ?? n.ToJsonString() : last?.ToString();
        Assert.Fail($"Timed out waiting for {what}; last: {last1}; pods: {pods}; controller errors: {string.Join(" | ", Sim.ControllerErrors.TakeLast(5))}");
        return last!;
    }

    public Task<JsonObject> ServiceReadyAsync(string name, double seconds = 120) =>
        WaitAsync(() => Get("serving.kserve.io/v1alpha1", "LLMInferenceService", Ns, name), Ready, $"LLMInferenceService {name} Ready", seconds)!;

    public string GatewayAddress() =>
        Get("gateway.networking.k8s.io/v1", "Gateway", "opendatahub", "inference-gateway")!["status"]!["addresses"]![0]!["value"]!.GetValue<string>();

    public Task<ClusterSnapshot> SnapshotAsync() => ClusterSnapshotReader.ReadAsync(new Uri(Sim.Server), Sim.Token, Sim.CaCertificatePem, false);

    public static async Task<IReadOnlyList<DiagnosisFinding>> DiagnoseAsync(DataPlaneCluster c) => Diagnoser.Run(await c.SnapshotAsync());

    /// <summary>One request through the module's raw inference client.</summary>
    public static async Task<(int Status, string Body, string? Pod)> SendAsync(string baseUrl, string method, string path, string? json = null)
    {
        var target = new HttpTarget(baseUrl);
        using var conn = new RawHttpConnection(target);
        var sink = new Sink();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await conn.SendAsync(target.BuildRequest(method, path, json is null ? [] : Encoding.UTF8.GetBytes(json), false), sink, cts.Token);
        return (sink.Status, sink.Body.ToString(), sink.Pod);
    }

    private sealed class Sink : IResponseSink
    {
        public int Status; public string? Pod; public readonly StringBuilder Body = new();
        public void OnHead(int status, string? contentType, string? pod, long timestamp) { Status = status; Pod = pod; }
        public void OnEvent(ReadOnlySpan<byte> data, long timestamp) => Body.Append(Encoding.UTF8.GetString(data)).Append('\n');
        public void OnBody(ReadOnlySpan<byte> body, long timestamp) => Body.Append(Encoding.UTF8.GetString(body));
    }

    public ValueTask DisposeAsync()
    {
        Sim.Dispose();
        return ValueTask.CompletedTask;
    }
}

public sealed class DataPlaneServingTests
{
    [Fact]
    public async Task AServiceBecomesReadyAndServesCompletionsAndStreamingChatFromItsPodsThroughTheGateway()
    {
        await using var c = await DataPlaneCluster.StartAsync(DataPlaneCluster.Options(tpuNodes: 3));
        var spec = DataPlaneCluster.Spec("qwen", replicas: 3);
        await c.ApplyAsync(DataPlaneCluster.ServiceYaml(spec));
        var svc = await c.ServiceReadyAsync("qwen");
        var url = svc["status"]!["url"]!.GetValue<string>();
        Assert.Equal($"http://{c.GatewayAddress()}/{DataPlaneCluster.Ns}/qwen", url);

        // the pods went through the storage initializer (HF_TOKEN from the ServiceAccount's secret) and XLA compilation
        var pods = c.Pods(DataPlaneCluster.Ns, "kserve.io/component", "workload");
        Assert.Equal(3, pods.Count);
        var pod = pods[0];
        var init = pod["spec"]!["initContainers"]![0]!;
        Assert.Equal("storage-initializer", init["name"]!.GetValue<string>());
        Assert.Equal(new[] { "hf://Qwen/Qwen2.5-3B-Instruct", "/mnt/models" }, init["args"]!.AsArray().Select(a => a!.GetValue<string>()).ToArray());
        Assert.Equal("hf-token", init["env"]![0]!["valueFrom"]!["secretKeyRef"]!["name"]!.GetValue<string>());
        Assert.Contains(pod["spec"]!["containers"]![0]!["volumeMounts"]!.AsArray(), m => m!["mountPath"]!.GetValue<string>() == "/mnt/models");
        Assert.Equal("Completed", pod["status"]!["initContainerStatuses"]![0]!["state"]!["terminated"]!["reason"]!.GetValue<string>());
        Assert.Equal("redhat-pull-secret", pod["spec"]!["imagePullSecrets"]![0]!["name"]!.GetValue<string>()); // copied from the ServiceAccount
        var events = c.Sim.ListObjects("v1", "Event", DataPlaneCluster.Ns);
        Assert.Contains(events, e => e["reason"]!.GetValue<string>() == "Unhealthy" && e["message"]!.GetValue<string>().StartsWith("Startup probe failed", StringComparison.Ordinal));

        var result = await EndpointTester.TestAsync(new EndpointTestOptions { BaseUrl = url, Model = "Qwen/Qwen2.5-3B-Instruct", Timeout = TimeSpan.FromMinutes(2) });
        Assert.True(result.Passed, string.Join("; ", result.Checks.Select(x => $"{x.Name}: {x.Status} {x.Detail}")));
        Assert.Contains(result.Checks, x => x.Name == "StreamingFraming" && x.Passed);
        // /metrics beside /v1 under the route's prefix reaches a pod's vLLM gauges through the gateway
        var metrics = result.Checks.Single(x => x.Name == "Metrics");
        Assert.True(metrics.Status == InferenceCheckStatus.Passed, metrics.Detail);
        var podNames = pods.Select(p => p["metadata"]!["name"]!.GetValue<string>()).ToHashSet();
        Assert.NotEmpty(result.Pods);
        Assert.All(result.Pods, p => Assert.Contains(p, podNames));

        // the EPP is Available: requests sharing a long prefix stay on one pod
        var seen = new Dictionary<string, HashSet<string>>();
        for (var group = 0; group < 3; group++)
        {
            var prefix = $"Group {group}: " + string.Concat(Enumerable.Repeat($"the quick brown fox {group} jumps over the lazy dog. ", 12));
            seen[prefix] = [];
            for (var i = 0; i < 5; i++)
            {
                var (status, body, p) = await DataPlaneCluster.SendAsync(url, "POST", "/v1/completions",
                    new JsonObject { ["model"] = "Qwen/Qwen2.5-3B-Instruct", ["prompt"] = prefix + $" question {i}?", ["max_tokens"] = 4 }.ToJsonString());
                Assert.True(status == 200, body);
                seen[prefix].Add(p!);
            }
        }
        Assert.All(seen.Values, s => Assert.Single(s));
        Assert.All(seen.Values, s => Assert.Contains(s.Single(), podNames));

        // unknown path: Envoy's 404 without a route
        var (nf, _, _) = await DataPlaneCluster.SendAsync($"http://{c.GatewayAddress()}", "GET", "/nowhere/v1/models");
        Assert.Equal(404, nf);
    }

    [Fact]
    public async Task ARouteToAReadyPodWithNoServerBehindItIsEnvoysConnectFailureAndNeverLeavesTheMachine()
    {
        // the sandbox's pod IPs (10.8.0.0/13) are made up: a gateway must never dial them on the real network (an egress
        // proxy there answers, once a 403 in CI); a Ready pod that serves nothing on the port is Envoy's 503 UF
        await using var c = await DataPlaneCluster.StartAsync(DataPlaneCluster.Options());
        await c.ApplyAsync("""
            apiVersion: v1
            kind: Namespace
            metadata: {name: rhaii-inference}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: web, namespace: rhaii-inference, labels: {app: web}}
            spec:
              containers: [{name: web, image: "nginx:1.27", ports: [{containerPort: 80}]}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: rhaii-inference}
            spec:
              selector: {app: web}
              ports: [{port: 80, targetPort: 80}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: web, namespace: rhaii-inference}
            spec:
              parentRefs: [{name: inference-gateway, namespace: opendatahub}]
              rules: [{matches: [{path: {type: PathPrefix, value: /web}}], backendRefs: [{name: web, port: 80}]}]
            """);
        var pod = await c.WaitAsync(() => c.Get("v1", "Pod", DataPlaneCluster.Ns, "web"), DataPlaneCluster.Ready, "pod web Ready");
        var podIp = pod["status"]!["podIP"]!.GetValue<string>();
        Assert.StartsWith("10.", podIp);
        Assert.False(EndpointOverrides.IsOverridden(podIp, 80));
        await c.WaitAsync(() => c.Get("gateway.networking.k8s.io/v1", "HTTPRoute", DataPlaneCluster.Ns, "web"),
            r => r?["status"]?["parents"]?[0]?["conditions"]?.AsArray().Any(x => x!["type"]!.GetValue<string>() == "Accepted" && x["status"]!.GetValue<string>() == "True") == true, "HTTPRoute web Accepted");

        var (status, body, _) = await DataPlaneCluster.SendAsync($"http://{c.GatewayAddress()}", "GET", "/web/");
        Assert.True(status == 503, $"{status}: {body}");
        Assert.Equal("upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: delayed connect error: 113", body);
    }

    [Fact]
    public async Task AnNginxPodIsReadyOnlyWhenItsReadinessProbeGetsAnAnswerFromWhatItServes()
    {
        // the kubelet probes what the container really serves: a config without the probed path answers 404, an image
        // left on its default command (the s2i usage script) serves nothing; only a matching one becomes Ready
        await using var c = await DataPlaneCluster.StartAsync(DataPlaneCluster.Options());
        static string Pod(string name, string conf, bool nginxCommand) => $$"""
            apiVersion: v1
            kind: Pod
            metadata:
                name: {{name}}
                namespace: rhaii-inference
            spec:
              containers:
              - name: nginx
                image: registry.access.redhat.com/ubi9/nginx-124:9.5-1744135631
            {{(nginxCommand ? "    command: [nginx, -g, \"daemon off;\"]" : "")}}
                ports: [{containerPort: 8080, name: http}]
                readinessProbe: {httpGet: {path: /v1/models, port: http}, periodSeconds: 5}
                volumeMounts:
                - {name: conf, mountPath: /opt/app-root/etc/nginx.default.d}
                - {name: models, mountPath: /srv/models}
              volumes:
              - name: conf
                configMap:
                  name: {{conf}}
              - name: models
                configMap: {name: models}
            """;
        await c.ApplyAsync(string.Join("---\n",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: rhaii-inference}\n",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: models, namespace: rhaii-inference}\ndata: {models.json: '{\"object\":\"list\",\"data\":[]}'}\n",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: good, namespace: rhaii-inference}\ndata: {models.conf: 'location = /v1/models { alias /srv/models/models.json; }'}\n",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: wrong-path, namespace: rhaii-inference}\ndata: {models.conf: 'location = /models { alias /srv/models/models.json; }'}\n",
            Pod("good", "good", true) + "\n", Pod("wrong-path", "wrong-path", true) + "\n", Pod("no-command", "good", false) + "\n"));

        await c.WaitAsync(() => c.Get("v1", "Pod", DataPlaneCluster.Ns, "good"), DataPlaneCluster.Ready, "pod good Ready");
        JsonObject? Unhealthy(string pod) => c.Sim.ListObjects("v1", "Event", DataPlaneCluster.Ns)
            .FirstOrDefault(e => e["involvedObject"]!["name"]!.GetValue<string>() == pod && e["reason"]!.GetValue<string>() == "Unhealthy");
        var wrong = await c.WaitAsync(() => Unhealthy("wrong-path"), e => e is not null, "Unhealthy event of wrong-path");
        Assert.Equal("Readiness probe failed: HTTP probe failed with statuscode: 404", wrong["message"]!.GetValue<string>());
        var noCommand = await c.WaitAsync(() => Unhealthy("no-command"), e => e is not null, "Unhealthy event of no-command");
        Assert.Matches(@"^Readiness probe failed: Get ""http://10\.[0-9.]+:8080/v1/models"": dial tcp 10\.[0-9.]+:8080: connect: connection refused$", noCommand["message"]!.GetValue<string>());
        foreach (var name in new[] { "wrong-path", "no-command" })
        {
            var pod = c.Get("v1", "Pod", DataPlaneCluster.Ns, name)!;
            Assert.False(DataPlaneCluster.Ready(pod), name);
            Assert.Equal("Running", pod["status"]!["phase"]!.GetValue<string>());
            Assert.True(pod["status"]!["containerStatuses"]![0]!["started"]!.GetValue<bool>(), name);
        }
    }

    [Fact]
    public async Task APodDeletedMidStreamEndsTheClientsResponseInsteadOfLeavingItWaiting()
    {
        // Envoy cannot finish an HTTP/1.1 response whose upstream went away after the head: it resets the downstream
        // connection. A proxy that kept it open would leave the client waiting for the rest until its own timeout.
        var options = DataPlaneCluster.Options();
        options.VllmInterTokenLatencyMs = 25;
        await using var c = await DataPlaneCluster.StartAsync(options);
        var spec = DataPlaneCluster.Spec("qwen");
        await c.ApplyAsync(DataPlaneCluster.ServiceYaml(spec));
        await c.ServiceReadyAsync("qwen");
        var address = c.GatewayAddress();

        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(System.Net.IPAddress.Parse(address), 80);
        var stream = tcp.GetStream();
        var body = "{\"model\":\"Qwen/Qwen2.5-3B-Instruct\",\"stream\":true,\"max_tokens\":4000,\"ignore_eos\":true,\"messages\":[{\"role\":\"user\",\"content\":\"count\"}]}";
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST /{DataPlaneCluster.Ns}/qwen/v1/chat/completions HTTP/1.1\r\nHost: {address}\r\ncontent-type: application/json\r\ncontent-length: {body.Length}\r\n\r\n{body}"));
        var received = new StringBuilder();
        var buf = new byte[8192];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        while (!received.ToString().Contains("data: {", StringComparison.Ordinal))
        {
            var n = await stream.ReadAsync(buf, cts.Token);
            Assert.True(n > 0, "the stream ended before its first event: " + received);
            received.Append(Encoding.ASCII.GetString(buf, 0, n));
        }
        var head = received.ToString();
        Assert.StartsWith("HTTP/1.1 200", head);
        Assert.Contains("transfer-encoding: chunked", head, StringComparison.OrdinalIgnoreCase);
        var pod = head.Split("\r\n").Single(l => l.StartsWith("x-inference-pod: ", StringComparison.OrdinalIgnoreCase))["x-inference-pod: ".Length..];

        await KubeClients.For(c.Conn).DeleteAsync($"api/v1/namespaces/{DataPlaneCluster.Ns}/pods/{pod}", "Background", false, CancellationToken.None);
        // 4000 tokens at 25 ms would take 100 s: the connection must end long before, without the terminating chunk
        int read;
        while ((read = await stream.ReadAsync(buf, cts.Token)) > 0) received.Append(Encoding.ASCII.GetString(buf, 0, read));
        Assert.False(cts.IsCancellationRequested);
        Assert.DoesNotContain("data: [DONE]", received.ToString());
        Assert.DoesNotContain("\r\n0\r\n\r\n", received.ToString());
    }

    [Fact]
    public async Task AMissingPullSecretKeepsTheVllmPodInImagePullBackOffUntilTheSecretIsCreated()
    {
        var options = DataPlaneCluster.Options();
        await using var c = await DataPlaneCluster.StartAsync(options);
        var spec = DataPlaneCluster.Spec("qwen");
        await c.ApplyAsync(DataPlaneCluster.ServiceYaml(spec, skip: o => o.Kind == "Secret" && o.Name == spec.PullSecretName));

        var pod = await c.WaitAsync(() => c.Pods(DataPlaneCluster.Ns, "kserve.io/component", "workload").FirstOrDefault(),
            p => p?["status"]?["containerStatuses"]?[0]?["state"]?["waiting"]?["reason"]?.GetValue<string>() == "ImagePullBackOff", "ImagePullBackOff");
        Assert.Equal("Pending", pod["status"]!["phase"]!.GetValue<string>());
        var waiting = pod["status"]!["containerStatuses"]![0]!["state"]!["waiting"]!["message"]!.GetValue<string>();
        Assert.StartsWith($"Back-off pulling image \"{spec.Image}\": ErrImagePull: failed to pull and unpack image", waiting);
        Assert.Contains("401 Unauthorized", waiting);
        var events = c.Sim.ListObjects("v1", "Event", DataPlaneCluster.Ns).Where(e => e["involvedObject"]!["name"]!.GetValue<string>() == pod["metadata"]!["name"]!.GetValue<string>()).ToList();
        Assert.Contains(events, e => e["reason"]!.GetValue<string>() == "Failed" && e["message"]!.GetValue<string>().StartsWith($"Failed to pull image \"{spec.Image}\"", StringComparison.Ordinal));
        Assert.Contains(events, e => e["reason"]!.GetValue<string>() == "BackOff" && e["message"]!.GetValue<string>() == $"Back-off pulling image \"{spec.Image}\"");

        // no ready pod behind the pool: Envoy has no healthy upstream
        var url = $"http://{c.GatewayAddress()}/{DataPlaneCluster.Ns}/qwen";
        var (status, body, _) = await DataPlaneCluster.SendAsync(url, "POST", "/v1/completions", "{\"model\":\"Qwen/Qwen2.5-3B-Instruct\",\"prompt\":\"hi\",\"max_tokens\":2}");
        Assert.Equal(503, status);
        Assert.Equal("no healthy upstream", body);

        var findings = await DataPlaneCluster.DiagnoseAsync(c);
        var f = Assert.Single(findings, x => x.CheckId == "ImagePullFailed" && x.Kind == "Pod" && x.Namespace == DataPlaneCluster.Ns && x.Name.StartsWith("qwen-kserve-", StringComparison.Ordinal) && !x.Name.Contains("scheduler"));
        Assert.Contains("redhat-pull-secret", f.Fix);
        Assert.Contains(findings, x => x.CheckId == "WorkloadWithoutReadyEndpoints");

        // the kubelet retries with back-off: creating the secret heals the pod without a restart
        await c.ApplyAsync(DataPlaneCluster.ServiceYaml(spec, skip: o => !(o.Kind == "Secret" && o.Name == spec.PullSecretName)));
        await c.ServiceReadyAsync("qwen");
        (status, body, var servedBy) = await DataPlaneCluster.SendAsync(url, "POST", "/v1/completions", "{\"model\":\"Qwen/Qwen2.5-3B-Instruct\",\"prompt\":\"hi\",\"max_tokens\":2}");
        Assert.True(status == 200, body);
        Assert.StartsWith("qwen-kserve-", servedBy);
    }

    [Fact]
    public async Task AGatedModelWithoutATokenCrashLoopsTheStorageInitializerAndIsDiagnosed()
    {
        await using var c = await DataPlaneCluster.StartAsync(DataPlaneCluster.Options());
        var spec = DataPlaneCluster.Spec("llama", model: "meta-llama/Llama-3.2-1B-Instruct");
        await c.ApplyAsync(DataPlaneCluster.ServiceYaml(spec, hfToken: ManifestBuilder.Placeholder)); // the placeholder left in

        var pod = await c.WaitAsync(() => c.Pods(DataPlaneCluster.Ns, "kserve.io/component", "workload").FirstOrDefault(),
            p => p?["status"]?["initContainerStatuses"]?[0]?["restartCount"]?.GetValue<int>() >= 2, "Init:CrashLoopBackOff");
        var init = pod["status"]!["initContainerStatuses"]![0]!;
        Assert.Equal("storage-initializer", init["name"]!.GetValue<string>());
        Assert.Equal("Pending", pod["status"]!["phase"]!.GetValue<string>());
        var term = init["lastState"]!["terminated"]!;
        Assert.Equal(1, term["exitCode"]!.GetValue<int>());
        Assert.Contains("Access to model meta-llama/Llama-3.2-1B-Instruct is restricted. You must have access to it and be authenticated to access it.", term["message"]!.GetValue<string>());
        Assert.Contains(pod["status"]!["conditions"]!.AsArray(), x => x!["type"]!.GetValue<string>() == "Initialized" && x["reason"]!.GetValue<string>() == "ContainersNotInitialized");
        Assert.Equal("PodInitializing", pod["status"]!["containerStatuses"]![0]!["state"]!["waiting"]!["reason"]!.GetValue<string>());

        var findings = await DataPlaneCluster.DiagnoseAsync(c);
        Assert.Contains(findings, x => x.CheckId == "HuggingFaceTokenRejected" && x.Name == pod["metadata"]!["name"]!.GetValue<string>());

        // a real token in the secret: the next restart of the initializer succeeds
        await c.ApplyAsync(DataPlaneCluster.ServiceYaml(spec, skip: o => !(o.Kind == "Secret" && o.Name == spec.HuggingFaceTokenSecret)));
        await c.ServiceReadyAsync("llama");
    }

    [Fact]
    public async Task TooManyTensorParallelRanksForTheChipsCrashLoopVllm()
    {
        await using var c = await DataPlaneCluster.StartAsync(DataPlaneCluster.Options());
        var spec = DataPlaneCluster.Spec("qwen");
        await c.ApplyAsync(DataPlaneCluster.ServiceYaml(spec).Replace("--tensor-parallel-size=4", "--tensor-parallel-size=8"));
        var pod = await c.WaitAsync(() => c.Pods(DataPlaneCluster.Ns, "kserve.io/component", "workload").FirstOrDefault(),
            p => p?["status"]?["containerStatuses"]?[0]?["state"]?["waiting"]?["reason"]?.GetValue<string>() == "CrashLoopBackOff", "CrashLoopBackOff");
        Assert.Equal("Running", pod["status"]!["phase"]!.GetValue<string>());
        Assert.Contains("Tensor parallel size (8)", pod["status"]!["containerStatuses"]![0]!["lastState"]!["terminated"]!["message"]!.GetValue<string>());
        var f = Assert.Single(await DataPlaneCluster.DiagnoseAsync(c), x => x.CheckId == "WorkloadCrashLoop");
        Assert.Contains("tensor-parallel", f.Fix);
    }
}

public sealed class DataPlaneRoutingFaultTests
{
    [Fact]
    public async Task ADefaultDenyPolicyWithoutTheGatewayAllowTimesOutAt503WhenTheClusterEnforcesPolicies()
    {
        await using var c = await DataPlaneCluster.StartAsync(DataPlaneCluster.Options());
        var spec = DataPlaneCluster.Spec("qwen");
        await c.ApplyAsync(DataPlaneCluster.ServiceYaml(spec, skip: o => o.Kind == "NetworkPolicy" && o.Name == "qwen-allow-gateway-to-vllm"));
        var svc = await c.ServiceReadyAsync("qwen");
        var url = svc["status"]!["url"]!.GetValue<string>();
        Assert.Contains(c.Sim.ListObjects("v1", "Pod", "kube-system"), p => p["metadata"]!["name"]!.GetValue<string>().StartsWith("anetd-", StringComparison.Ordinal));

        var sw = Stopwatch.StartNew();
        var (status, body, _) = await DataPlaneCluster.SendAsync(url, "POST", "/v1/completions", "{\"model\":\"Qwen/Qwen2.5-3B-Instruct\",\"prompt\":\"hi\",\"max_tokens\":2}");
        Assert.Equal(503, status);
        Assert.Equal("upstream connect error or disconnect/reset before headers. reset reason: connection timeout", body);
        Assert.True(sw.Elapsed >= TimeSpan.FromMilliseconds(250));

        var findings = await DataPlaneCluster.DiagnoseAsync(c);
        var f = Assert.Single(findings, x => x.CheckId == "NetworkPolicyBlocksGateway");
        Assert.Equal("qwen", f.Name);
        Assert.DoesNotContain(findings, x => x.CheckId == "NetworkPolicyNotEnforced");

        // the allow policy back: requests reach vLLM again
        await c.ApplyAsync(DataPlaneCluster.ServiceYaml(spec, skip: o => !(o.Kind == "NetworkPolicy" && o.Name == "qwen-allow-gateway-to-vllm")));
        (status, body, _) = await DataPlaneCluster.SendAsync(url, "POST", "/v1/completions", "{\"model\":\"Qwen/Qwen2.5-3B-Instruct\",\"prompt\":\"hi\",\"max_tokens\":2}");
        Assert.True(status == 200, body);
    }

    [Fact]
    public async Task WithoutPolicyEnforcementTheSamePoliciesDoNotBlockAndTheDiagnosisSaysSo()
    {
        var options = DataPlaneCluster.Options();
        options.EnforceNetworkPolicy = false;
        await using var c = await DataPlaneCluster.StartAsync(options);
        var spec = DataPlaneCluster.Spec("qwen");
        await c.ApplyAsync(DataPlaneCluster.ServiceYaml(spec, skip: o => o.Kind == "NetworkPolicy" && o.Name == "qwen-allow-gateway-to-vllm"));
        var url = (await c.ServiceReadyAsync("qwen"))["status"]!["url"]!.GetValue<string>();
        Assert.DoesNotContain(c.Sim.ListObjects("apps/v1", "DaemonSet", "kube-system"), d => d["metadata"]!["name"]!.GetValue<string>() == "anetd");
        var (status, body, _) = await DataPlaneCluster.SendAsync(url, "POST", "/v1/completions", "{\"model\":\"Qwen/Qwen2.5-3B-Instruct\",\"prompt\":\"hi\",\"max_tokens\":2}");
        Assert.True(status == 200, body);
        Assert.Contains(await DataPlaneCluster.DiagnoseAsync(c), x => x.CheckId == "NetworkPolicyNotEnforced");
    }

    [Fact]
    public async Task ARouteMovedToTheV1PoolGroupIsUnresolvedOnIstio127AndAnswers500()
    {
        await using var c = await DataPlaneCluster.StartAsync(DataPlaneCluster.Options());
        var spec = DataPlaneCluster.Spec("qwen");
        await c.ApplyAsync(DataPlaneCluster.ServiceYaml(spec));
        var url = (await c.ServiceReadyAsync("qwen"))["status"]!["url"]!.GetValue<string>();

        // KServe moves the route to inference.networking.k8s.io when the service says it migrated; Istio 1.27 speaks only x-k8s
        var svc = c.Get("serving.kserve.io/v1alpha1", "LLMInferenceService", DataPlaneCluster.Ns, "qwen")!;
        svc["metadata"]!["annotations"]!["serving.kserve.io/inferencepool-migrated"] = "v1";
        svc.Remove("status");
        var o = Fast.Options("llmisvc");
        o.Wait = false;
        await new ApplyEngine(c.Conn).ApplyAsync(svc.ToJsonString(), o, CancellationToken.None);

        var route = await c.WaitAsync(() => c.Get("gateway.networking.k8s.io/v1", "HTTPRoute", DataPlaneCluster.Ns, "qwen-kserve-route"),
            r => r?["status"]?["parents"]?[0]?["conditions"]?.AsArray().Any(x => x!["type"]!.GetValue<string>() == "ResolvedRefs" && x["status"]!.GetValue<string>() == "False") == true,
            "ResolvedRefs=False");
        var resolved = route["status"]!["parents"]![0]!["conditions"]!.AsArray().First(x => x!["type"]!.GetValue<string>() == "ResolvedRefs")!;
        Assert.Equal("InvalidKind", resolved["reason"]!.GetValue<string>());
        Assert.Contains("referencing unsupported backendRef: group \"inference.networking.k8s.io\" kind \"InferencePool\"", resolved["message"]!.GetValue<string>());
        await c.WaitAsync(() => c.Get("serving.kserve.io/v1alpha1", "LLMInferenceService", DataPlaneCluster.Ns, "qwen"), s => !DataPlaneCluster.Ready(s), "Ready=False");

        var (status, _, _) = await DataPlaneCluster.SendAsync(url, "POST", "/v1/completions", "{\"model\":\"Qwen/Qwen2.5-3B-Instruct\",\"prompt\":\"hi\",\"max_tokens\":2}");
        Assert.Equal(500, status);
        var (health, _, _) = await DataPlaneCluster.SendAsync(url, "GET", "/health"); // the Service rule still works
        Assert.Equal(200, health);

        var f = Assert.Single(await DataPlaneCluster.DiagnoseAsync(c), x => x.CheckId == "InferencePoolGroupMismatch");
        Assert.Equal("qwen-kserve-route", f.Name);
    }

    [Fact]
    public async Task AGatewayPodWithoutItsPullSecretIsNotProgrammedUntilTheSecretExists()
    {
        // the mesh pulls its proxy from registry.redhat.io (values.global.hub), and the generated ServiceAccount
        // gets the pull secret from the parametersRef ConfigMap, but the secret is not in opendatahub
        await using var c = await DataPlaneCluster.StartAsync(DataPlaneCluster.Options(), sim =>
        {
            var istio = sim.GetObject("sailoperator.io/v1", "Istio", null, "default")!;
            istio["spec"]!["values"]!["global"] = new JsonObject { ["hub"] = "registry.redhat.io/openshift-service-mesh", ["proxy"] = new JsonObject { ["image"] = "istio-proxyv2-rhel9" } };
            sim.Seed(istio);
        }, waitProgrammed: false);
        var pod = await c.WaitAsync(() => c.Pods("opendatahub", "gateway.networking.k8s.io/gateway-name", "inference-gateway").FirstOrDefault(),
            p => p?["status"]?["containerStatuses"]?[0]?["state"]?["waiting"]?["reason"]?.GetValue<string>() == "ImagePullBackOff", "gateway ImagePullBackOff");
        Assert.StartsWith("registry.redhat.io/openshift-service-mesh/istio-proxyv2-rhel9:", pod["spec"]!["containers"]![0]!["image"]!.GetValue<string>());
        var gw = c.Get("gateway.networking.k8s.io/v1", "Gateway", "opendatahub", "inference-gateway")!;
        Assert.False(DataPlaneCluster.Ready(gw)); // no Ready condition on gateways; Programmed must be False too
        Assert.Contains(gw["status"]!["conditions"]!.AsArray(), x => x!["type"]!.GetValue<string>() == "Programmed" && x["status"]!.GetValue<string>() == "False");
        var f = Assert.Single(await DataPlaneCluster.DiagnoseAsync(c), x => x.CheckId == "GatewayImagePullFailed");
        Assert.Contains("inference-gateway-istio", f.Message);

        // copy the secret into opendatahub: the kubelet's next retry pulls the image
        await c.ApplyAsync($$"""
            apiVersion: v1
            kind: Secret
            metadata: {name: redhat-pull-secret, namespace: opendatahub}
            type: kubernetes.io/dockerconfigjson
            stringData: {.dockerconfigjson: '{{DataPlaneCluster.PullAuth}}'}
            """);
        await c.WaitAsync(() => c.Get("gateway.networking.k8s.io/v1", "Gateway", "opendatahub", "inference-gateway"),
            g => g?["status"]?["conditions"]?.AsArray().Any(x => x!["type"]!.GetValue<string>() == "Programmed" && x["status"]!.GetValue<string>() == "True") == true, "Programmed");
        var (status, _, _) = await DataPlaneCluster.SendAsync($"http://{c.GatewayAddress()}", "GET", "/nowhere");
        Assert.Equal(404, status);
    }
}
