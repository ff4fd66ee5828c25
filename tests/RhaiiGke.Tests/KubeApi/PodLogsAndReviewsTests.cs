using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using k8s;
using k8s.Models;
using RhaiiGke.Sandbox.KubeApi;
using Xunit;

namespace RhaiiGke.Tests.KubeApi;

/// <summary>Pod logs, the review resources (auth can-i / whoami), lifecycle events and probe defaults of the Kubernetes sandbox.</summary>
public class PodLogsAndReviewsTests : SimulatorTestBase
{
    public PodLogsAndReviewsTests() : base(Options()) { }

    private static KubeApiSimulatorOptions Options()
    {
        var o = KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(10));
        o.DataPlane = false;
        return o;
    }

    private HttpClient Http()
    {
        // trusts only the sandbox's CA and sends its token, as a kubeconfig client does
        var h = Sim.HttpClient();
        h.BaseAddress = new Uri(Sim.Server.TrimEnd('/') + "/");
        h.Timeout = TimeSpan.FromSeconds(60);
        return h;
    }

    internal const string WorkloadPod = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: {0}
          namespace: default
          labels: {{kserve.io/component: workload, app: llm}}
        spec:
          initContainers:
          - name: storage-initializer
            image: kserve/storage-initializer:v0.15.0
            args: ["{1}", /mnt/models]
          containers:
          - name: main
            image: vllm/vllm-tpu:v0.9.2
            args: [--model, /mnt/models, --served-model-name, qwen, --port, "8000", --max-model-len, "4096"]
            readinessProbe: {{httpGet: {{path: /health, port: 8000}}}}
          - name: proxy
            image: nginx:1.27
        """;

    private async Task<V1Pod> RunWorkloadPod(string name, string model = "hf://Qwen/Qwen2.5-0.5B")
    {
        var body = KubernetesYaml.Deserialize<V1Pod>(string.Format(System.Globalization.CultureInfo.InvariantCulture, WorkloadPod, name, model));
        await Client.CreateNamespacedPodAsync(body, "default");
        V1Pod? pod = null;
        await Eventually(async () =>
        {
            pod = await Client.ReadNamespacedPodAsync(name, "default");
            return pod.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true;
        }, $"pod {name} Ready", 30000);
        return pod!;
    }

    private static async Task<(HttpStatusCode Code, string Body, string? ContentType)> Get(HttpClient h, string url)
    {
        using var r = await h.GetAsync(url);
        return (r.StatusCode, await r.Content.ReadAsStringAsync(), r.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task LogsOfAStartedVllmPodHaveTheStartupAndModelDownloadAndHonourContainerTailTimestampsAndSince()
    {
        await RunWorkloadPod("llm-0");
        using var h = Http();
        const string logs = "api/v1/namespaces/default/pods/llm-0/log";

        var noContainer = await Get(h, logs);
        Assert.Equal(HttpStatusCode.BadRequest, noContainer.Code);
        var status = JsonNode.Parse(noContainer.Body)!;
        Assert.Equal("BadRequest", (string?)status["reason"]);
        Assert.Equal("a container name must be specified for pod llm-0, choose one of: [main proxy] or one of the init containers: [storage-initializer]", (string?)status["message"]);

        var main = await Get(h, logs + "?container=main");
        Assert.Equal(HttpStatusCode.OK, main.Code);
        Assert.Equal("text/plain", main.ContentType);
        var lines = main.Body.TrimEnd('\n').Split('\n');
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^INFO \d\d-\d\d \d\d:\d\d:\d\d \[api_server\.py:\d+\] vLLM API server version "));
        Assert.Contains(lines, l => l.Contains("Compilation finished in", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("Starting vLLM API server 0 on http://0.0.0.0:8000", StringComparison.Ordinal));
        Assert.Contains("'max_model_len': 4096", main.Body);
        Assert.Equal("INFO:     Application startup complete.", lines[^1]);

        var init = await Get(h, logs + "?container=storage-initializer");
        Assert.Equal(HttpStatusCode.OK, init.Code);
        Assert.Contains("Initializing, args: src_uri [hf://Qwen/Qwen2.5-0.5B] dest_path[ /mnt/models ]", init.Body);
        Assert.Contains("Successfully copied hf://Qwen/Qwen2.5-0.5B to /mnt/models", init.Body);

        var tail = await Get(h, logs + "?container=main&tailLines=2");
        Assert.Equal("INFO:     Waiting for application startup.\nINFO:     Application startup complete.\n", tail.Body);
        Assert.Equal("", (await Get(h, logs + "?container=main&tailLines=0")).Body);

        var stamped = await Get(h, logs + "?container=main&timestamps=true&tailLines=3");
        var stampedLines = stamped.Body.TrimEnd('\n').Split('\n');
        Assert.Equal(3, stampedLines.Length);
        Assert.All(stampedLines, l => Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ", l));
        Assert.EndsWith(" INFO:     Application startup complete.", stampedLines[^1]);

        var since = await Get(h, logs + "?container=main&sinceSeconds=3600");
        Assert.Equal(main.Body, since.Body);

        var proxy = await Get(h, logs + "?container=proxy");
        Assert.Equal(HttpStatusCode.OK, proxy.Code);
        Assert.Equal("", proxy.Body);

        foreach (var (query, message) in new[]
                 {
                     ("?container=main&previous=true", "previous terminated container \"main\" in pod \"llm-0\" not found"),
                     ("?container=nope", "container nope is not valid for pod llm-0"),
                     ("?container=main&sinceSeconds=0", "PodLogOptions.core \"\" is invalid: sinceSeconds: Invalid value: 0: must be greater than 0"),
                     ("?container=main&tailLines=-1", "PodLogOptions.core \"\" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0"),
                 })
        {
            var bad = await Get(h, logs + query);
            Assert.Equal(HttpStatusCode.BadRequest, bad.Code);
            Assert.Equal(message, (string?)JsonNode.Parse(bad.Body)!["message"]);
        }

        var missing = await Get(h, "api/v1/namespaces/default/pods/nope/log");
        Assert.Equal(HttpStatusCode.NotFound, missing.Code);
        Assert.Equal("pods \"nope\" not found", (string?)JsonNode.Parse(missing.Body)!["message"]);

        // the Kubernetes client's ReadNamespacedPodLog reads the same
        await using var stream = await Client.ReadNamespacedPodLogAsync("llm-0", "default", container: "main", tailLines: 1);
        using var reader = new StreamReader(stream);
        Assert.Equal("INFO:     Application startup complete.", (await reader.ReadToEndAsync()).TrimEnd('\n'));
    }

    [Fact]
    public async Task PreviousShowsTheCrashedInstanceOfAGatedModelDownloadAndAWaitingContainerHasNoLogs()
    {
        var body = KubernetesYaml.Deserialize<V1Pod>(string.Format(System.Globalization.CultureInfo.InvariantCulture, WorkloadPod, "gated-0", "hf://meta-llama/Llama-3.1-8B-Instruct"));
        await Client.CreateNamespacedPodAsync(body, "default");
        await Eventually(async () =>
        {
            var p = await Client.ReadNamespacedPodAsync("gated-0", "default");
            return p.Status?.InitContainerStatuses?.FirstOrDefault()?.RestartCount >= 2;
        }, "two restarts of the storage-initializer", 30000);
        using var h = Http();
        const string logs = "api/v1/namespaces/default/pods/gated-0/log";
        var previous = await Get(h, logs + "?container=storage-initializer&previous=true");
        Assert.Equal(HttpStatusCode.OK, previous.Code);
        Assert.Contains("Initializing, args: src_uri [hf://meta-llama/Llama-3.1-8B-Instruct]", previous.Body);
        Assert.Contains("huggingface_hub.errors.GatedRepoError: 401 Client Error.", previous.Body);
        Assert.DoesNotContain("Successfully copied", previous.Body);

        // the main containers never started: the kubelet's waiting message, not an empty log
        var main = await Get(h, logs + "?container=main");
        Assert.Equal(HttpStatusCode.BadRequest, main.Code);
        Assert.Equal("container \"main\" in pod \"gated-0\" is waiting to start: PodInitializing", (string?)JsonNode.Parse(main.Body)!["message"]);
    }

    [Fact]
    public async Task FollowSendsNewLinesAsTheyAreWrittenAndEndsWhenThePodGoes()
    {
        await RunWorkloadPod("llm-f");
        var uid = (await Client.ReadNamespacedPodAsync("llm-f", "default")).Metadata.Uid;
        using var h = Http();
        using var req = new HttpRequestMessage(HttpMethod.Get, "api/v1/namespaces/default/pods/llm-f/log?container=main&follow=true&tailLines=1");
        using var res = await h.SendAsync(req, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        using var reader = new StreamReader(await res.Content.ReadAsStreamAsync());
        Assert.Equal("INFO:     Application startup complete.", await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));

        // a line the container writes after the stream opened arrives on it
        Sim.WritePodLog(uid, "main", "INFO:     10.8.0.1:50000 - \"POST /v1/chat/completions HTTP/1.1\" 200 OK");
        Assert.Equal("INFO:     10.8.0.1:50000 - \"POST /v1/chat/completions HTTP/1.1\" 200 OK", await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));

        await Client.DeleteNamespacedPodAsync("llm-f", "default", new V1DeleteOptions { GracePeriodSeconds = 0 });
        Assert.Null(await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task SelfSubjectReviewsAnswerForTheSandboxAdminAndAreDiscoverable()
    {
        using var h = Http();
        var ssar = await h.PostAsync("apis/authorization.k8s.io/v1/selfsubjectaccessreviews", new StringContent(
            """{"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","spec":{"resourceAttributes":{"namespace":"default","verb":"create","resource":"pods"}}}""",
            Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, ssar.StatusCode);
        var review = JsonNode.Parse(await ssar.Content.ReadAsStringAsync())!;
        Assert.True((bool)review["status"]!["allowed"]!);
        Assert.Equal("pods", (string?)review["spec"]!["resourceAttributes"]!["resource"]);

        var empty = await h.PostAsync("apis/authorization.k8s.io/v1/selfsubjectaccessreviews", new StringContent("""{"spec":{}}""", Encoding.UTF8, "application/json"));
        Assert.Equal((HttpStatusCode)422, empty.StatusCode);
        Assert.Contains("exactly one of nonResourceAttributes or resourceAttributes must be specified", await empty.Content.ReadAsStringAsync());

        var ssr = await h.PostAsync("apis/authentication.k8s.io/v1/selfsubjectreviews", new StringContent(
            """{"kind":"SelfSubjectReview","apiVersion":"authentication.k8s.io/v1","metadata":{"creationTimestamp":null},"status":{"userInfo":{}}}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, ssr.StatusCode);
        var who = JsonNode.Parse(await ssr.Content.ReadAsStringAsync())!["status"]!["userInfo"]!;
        Assert.Equal(AuthReviews.AdminUser, (string?)who["username"]);
        Assert.Equal(["system:masters", "system:authenticated"], who["groups"]!.AsArray().Select(g => (string)g!).ToArray());

        // create only: nothing is listed or stored
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await h.GetAsync("apis/authorization.k8s.io/v1/selfsubjectaccessreviews")).StatusCode);

        var groups = JsonNode.Parse(await h.GetStringAsync("apis"))!["groups"]!.AsArray().Select(g => (string)g!["name"]!).ToList();
        Assert.Contains("authorization.k8s.io", groups);
        Assert.Contains("authentication.k8s.io", groups);
        var authz = JsonNode.Parse(await h.GetStringAsync("apis/authorization.k8s.io/v1"))!["resources"]!.AsArray();
        var r = Assert.Single(authz, x => (string?)x!["name"] == "selfsubjectaccessreviews")!;
        Assert.Equal(["create"], r["verbs"]!.AsArray().Select(v => (string)v!).ToArray());
        var core = JsonNode.Parse(await h.GetStringAsync("api/v1"))!["resources"]!.AsArray();
        Assert.Contains(core, x => (string?)x!["name"] == "pods/log");
    }

    [Fact]
    public async Task ADeploymentRolloutEmitsTheEventsOfARealCluster()
    {
        var d = Deployment("web", replicas: 2);
        await Client.CreateNamespacedDeploymentAsync(d, "default");
        List<Corev1Event> events = [];
        await Eventually(async () =>
        {
            events = (await Client.CoreV1.ListNamespacedEventAsync("default")).Items.ToList();
            return events.Count(e => e.Reason == "Started") >= 2;
        }, "Started events of both pods", 30000);
        var rs = (await Client.ListNamespacedReplicaSetAsync("default")).Items.Single();
        var pods = (await Client.ListNamespacedPodAsync("default")).Items;
        Assert.Equal(2, pods.Count);

        var scaling = Assert.Single(events, e => e.Reason == "ScalingReplicaSet");
        Assert.Equal($"Scaled up replica set {rs.Metadata.Name} to 2", scaling.Message);
        Assert.Equal("Deployment", scaling.InvolvedObject.Kind);
        Assert.Equal("deployment-controller", scaling.Source.Component);

        foreach (var p in pods)
        {
            var mine = events.Where(e => e.InvolvedObject.Uid == p.Metadata.Uid).ToList();
            var scheduled = Assert.Single(mine, e => e.Reason == "Scheduled");
            Assert.Equal($"Successfully assigned default/{p.Metadata.Name} to {p.Spec.NodeName}", scheduled.Message);
            Assert.Equal("default-scheduler", scheduled.Source.Component);
            var image = p.Spec.Containers[0].Image;
            Assert.Contains(mine, e => e.Reason == "Pulled" && (e.Message == $"Container image \"{image}\" already present on machine" ||
                                                                 e.Message.StartsWith($"Successfully pulled image \"{image}\" in ", StringComparison.Ordinal)));
            var created = Assert.Single(mine, e => e.Reason == "Created");
            Assert.Equal($"Created container: {p.Spec.Containers[0].Name}", created.Message);
            Assert.Equal("kubelet", created.Source.Component);
            Assert.Equal(p.Spec.NodeName, created.Source.Host);
            Assert.Equal("kubelet", created.ReportingComponent);
            Assert.Contains(mine, e => e.Reason == "Started" && e.Message == $"Started container {p.Spec.Containers[0].Name}");
            var create = Assert.Single(events, e => e.Reason == "SuccessfulCreate" && e.Message == $"Created pod: {p.Metadata.Name}");
            Assert.Equal("ReplicaSet", create.InvolvedObject.Kind);
            Assert.Equal("replicaset-controller", create.Source.Component);
        }

        // scaling down: the Deployment says so, the ReplicaSet deletes a pod
        await Client.PatchNamespacedDeploymentAsync(Merge(new { spec = new { replicas = 1 } }), "web", "default");
        await Eventually(async () => (await Client.CoreV1.ListNamespacedEventAsync("default")).Items.Any(e => e.Reason == "SuccessfulDelete"), "SuccessfulDelete", 30000);
        Assert.Contains((await Client.CoreV1.ListNamespacedEventAsync("default")).Items, e => e.Reason == "ScalingReplicaSet" && e.Message == $"Scaled down replica set {rs.Metadata.Name} to 1 from 2");
    }

    [Fact]
    public async Task ProbesGetTheApiServerDefaults()
    {
        var d = Deployment("probed");
        d.Spec.Template.Spec.Containers[0].ReadinessProbe = new V1Probe { HttpGet = new V1HTTPGetAction { Port = 8000 } };
        d.Spec.Template.Spec.Containers[0].LivenessProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = 8000 }, PeriodSeconds = 30 };
        var created = await Client.CreateNamespacedDeploymentAsync(d, "default");
        var c = created.Spec.Template.Spec.Containers[0];
        Assert.Equal((1, 10, 1, 3), (c.ReadinessProbe.TimeoutSeconds, c.ReadinessProbe.PeriodSeconds, c.ReadinessProbe.SuccessThreshold, c.ReadinessProbe.FailureThreshold));
        Assert.Equal("/", c.ReadinessProbe.HttpGet.Path);
        Assert.Equal("HTTP", c.ReadinessProbe.HttpGet.Scheme);
        Assert.Equal((1, 30, 1, 3), (c.LivenessProbe.TimeoutSeconds, c.LivenessProbe.PeriodSeconds, c.LivenessProbe.SuccessThreshold, c.LivenessProbe.FailureThreshold));
        await Eventually(async () => (await Client.ListNamespacedPodAsync("default")).Items.Count == 1, "the pod", 30000);
        var pod = (await Client.ListNamespacedPodAsync("default")).Items[0];
        Assert.Equal(10, pod.Spec.Containers[0].ReadinessProbe.PeriodSeconds);
    }
}

/// <summary>kubectl logs, auth can-i and auth whoami against the sandbox (skipped without kubectl).</summary>
public class KubectlLogsAndAuthTests : SimulatorTestBase
{
    public KubectlLogsAndAuthTests() : base(Opts()) { }

    private static KubeApiSimulatorOptions Opts()
    {
        var o = KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(10));
        o.DataPlane = false;
        return o;
    }

    [KubectlFact]
    public async Task KubectlReadsLogsFollowsAndAnswersAuthQuestions()
    {
        var dir = Directory.CreateTempSubdirectory("rhaii-kubectl-logs-");
        try
        {
            var kc = Path.Combine(dir.FullName, "kubeconfig");
            File.WriteAllText(kc, Sim.Kubeconfig());
            var cache = Path.Combine(dir.FullName, "cache");
            (int Code, string Out, string Err) K(string args, string? stdin = null) => Kubectl.Run(kc, cache, args, stdin);

            var pod = string.Format(System.Globalization.CultureInfo.InvariantCulture, PodLogsAndReviewsTests.WorkloadPod, "llm-0", "hf://Qwen/Qwen2.5-0.5B");
            var epp = """
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: svc-kserve-router-scheduler, namespace: default}
                spec:
                  selector: {matchLabels: {app.kubernetes.io/component: llminferenceservice-router-scheduler}}
                  template:
                    metadata: {labels: {app.kubernetes.io/component: llminferenceservice-router-scheduler, app.kubernetes.io/name: svc}}
                    spec:
                      containers: [{name: main, image: "ghcr.io/llm-d/llm-d-inference-scheduler:v0.2.1"}]
                """;
            var apply = K("apply -f -", pod + "\n---\n" + epp);
            Assert.True(apply.Code == 0, apply.Err);
            var wait = K("wait --for=condition=Ready pod/llm-0 --timeout=60s");
            Assert.True(wait.Code == 0, wait.Err);
            var rollout = K("rollout status deploy/svc-kserve-router-scheduler --timeout=60s");
            Assert.True(rollout.Code == 0, rollout.Err);

            // kubectl picks the first container (and says so) when the pod has several
            var first = K("logs llm-0");
            Assert.True(first.Code == 0, first.Err);
            Assert.Contains("Defaulted container \"main\" out of: main, proxy, storage-initializer (init)", first.Err);
            Assert.Contains("Application startup complete.", first.Out);

            var init = K("logs llm-0 -c storage-initializer");
            Assert.True(init.Code == 0, init.Err);
            Assert.Contains("Successfully copied hf://Qwen/Qwen2.5-0.5B to /mnt/models", init.Out);

            var tail = K("logs llm-0 -c main --tail=1");
            Assert.Equal("INFO:     Application startup complete.\n", tail.Out);

            var deploy = K("logs deploy/svc-kserve-router-scheduler");
            Assert.True(deploy.Code == 0, deploy.Err);
            Assert.Contains("\"msg\":\"Starting Gateway API Inference Extension\"", deploy.Out);

            var previous = K("logs llm-0 -c main --previous");
            Assert.NotEqual(0, previous.Code);
            Assert.Contains("previous terminated container \"main\" in pod \"llm-0\" not found", previous.Err);

            // -f stays open until the pod goes
            var psi = new System.Diagnostics.ProcessStartInfo(Kubectl.Path!, $"--kubeconfig {kc} --cache-dir {cache} logs -f llm-0 -c main --tail=1")
            { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.Environment.Remove("KUBECONFIG");
            using var follow = System.Diagnostics.Process.Start(psi)!;
            try
            {
                var errTask = follow.StandardError.ReadToEndAsync();
                Assert.Equal("INFO:     Application startup complete.", await follow.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)));
                Assert.False(follow.HasExited);
                var uid = (await Client.ReadNamespacedPodAsync("llm-0", "default")).Metadata.Uid;
                Sim.WritePodLog(uid, "main", "INFO:     10.8.0.1:50000 - \"GET /v1/models HTTP/1.1\" 200 OK");
                Assert.Equal("INFO:     10.8.0.1:50000 - \"GET /v1/models HTTP/1.1\" 200 OK", await follow.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)));
                var del = K("delete pod llm-0 --wait=false");
                Assert.True(del.Code == 0, del.Err);
                Assert.Null(await follow.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)));
                Assert.True(follow.WaitForExit(60000));
                Assert.True(follow.ExitCode == 0, await errTask);
            }
            finally
            {
                if (!follow.HasExited) follow.Kill(true);
            }

            var canI = K("auth can-i create pods -n default");
            Assert.True(canI.Code == 0, canI.Err);
            Assert.Equal("yes", canI.Out.Trim());
            var whoami = K("auth whoami -o json");
            Assert.True(whoami.Code == 0, whoami.Err);
            var who = JsonNode.Parse(whoami.Out)!["status"]!["userInfo"]!;
            Assert.Equal(AuthReviews.AdminUser, (string?)who["username"]);
            Assert.Contains("system:masters", who["groups"]!.AsArray().Select(g => (string)g!));
        }
        finally
        {
            dir.Delete(true);
        }
    }
}
