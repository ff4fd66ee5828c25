using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RhaiiGke.Engine.Kube.Platform;
using RhaiiGke.Engine.Net;
using RhaiiGke.Sandbox.KubeApi;
using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.KubeApi;

/// <summary>
/// Issue 11, real clients: one place where kubectl 1.27 and 1.32 (the Google Cloud SDK's, beside gcloud) run every
/// verb a user runs against a sandbox and the output is checked as a user reads it: version, api-resources, get
/// (-o wide, yaml, json; nodes, pods, events, crd, llminferenceservices; --watch), describe, explain, apply
/// (client-side, --server-side, a Strict rejection), diff, wait, rollout status, logs (-c, -f), port-forward then
/// curl, auth can-i / whoami and delete. Each version is skipped, with the reason, when that kubectl is absent.
/// </summary>
public sealed class KubectlSuiteTests
{
    // ------------------------------------------------------------------ 1.27

    [KubectlVersionFact("1.27")]
    public Task Kubectl127DiscoversReadsDescribesExplainsAndAnswersAuth() => ReadVerbsAsync("1.27");

    [KubectlVersionFact("1.27")]
    public Task Kubectl127AppliesDiffsWaitsRollsOutLogsWatchesAndDeletes() => WorkloadVerbsAsync("1.27");

    [KubectlVersionFact("1.27")]
    public Task Kubectl127PortForwardsAPodThatCurlReaches() => PortForwardAsync("1.27");

    // ------------------------------------------------------------------ 1.32

    [KubectlVersionFact("1.32")]
    public Task Kubectl132DiscoversReadsDescribesExplainsAndAnswersAuth() => ReadVerbsAsync("1.32");

    [KubectlVersionFact("1.32")]
    public Task Kubectl132AppliesDiffsWaitsRollsOutLogsWatchesAndDeletes() => WorkloadVerbsAsync("1.32");

    [KubectlVersionFact("1.32")]
    public Task Kubectl132PortForwardsAPodThatCurlReaches() => PortForwardAsync("1.32");

    // ------------------------------------------------------------------ the suite

    private static async Task ReadVerbsAsync(string minor)
    {
        await using var s = await Session.StartAsync(minor, withKServe: true);
        s.Sim.Seed("""
            apiVersion: serving.kserve.io/v1alpha1
            kind: LLMInferenceService
            metadata: {name: qwen, namespace: default}
            spec: {model: {uri: "hf://Qwen/Qwen2.5-3B-Instruct", name: Qwen/Qwen2.5-3B-Instruct}}
            status:
              url: http://10.0.0.9/default/qwen
              conditions: [{type: Ready, status: "True", reason: Ready}]
            """);

        var version = s.Ok("version -o json");
        Assert.Equal(s.Sim.Options.KubernetesVersion, (string?)JsonNode.Parse(version)!["serverVersion"]!["gitVersion"]);
        Assert.StartsWith("v" + minor + ".", (string?)JsonNode.Parse(version)!["clientVersion"]!["gitVersion"]);

        var resources = s.Ok("api-resources");
        Assert.Matches(new Regex(@"^NAME\s+SHORTNAMES\s+APIVERSION\s+NAMESPACED\s+KIND\s*$", RegexOptions.Multiline), resources);
        Assert.Matches(new Regex(@"^pods\s+po\s+v1\s+true\s+Pod\s*$", RegexOptions.Multiline), resources);
        Assert.Matches(new Regex(@"^leases\s+coordination\.k8s\.io/v1\s+true\s+Lease\s*$", RegexOptions.Multiline), resources);
        Assert.Matches(new Regex(@"^llminferenceservices\s+.*serving\.kserve\.io/v1alpha1\s+true\s+LLMInferenceService\s*$", RegexOptions.Multiline), resources);

        // nodes: the printers' columns, -o wide adds the node details
        var nodes = Table(s.Ok("get nodes"));
        Assert.Equal(["NAME", "STATUS", "ROLES", "AGE", "VERSION"], nodes.Header);
        Assert.Equal(3, nodes.Rows.Count);
        Assert.All(nodes.Rows, r => Assert.Equal(["Ready", "<none>", s.Sim.Options.KubernetesVersion], [r["STATUS"], r["ROLES"], r["VERSION"]]));
        var wide = Table(s.Ok("get nodes -o wide"));
        Assert.Equal(["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"], wide.Header);
        Assert.All(wide.Rows, r =>
        {
            Assert.Matches(@"^10\.128\.\d+\.\d+$", r["INTERNAL-IP"]);
            Assert.Equal("<none>", r["EXTERNAL-IP"]);
            Assert.Equal("Container-Optimized OS from Google", r["OS-IMAGE"]);
            Assert.StartsWith("containerd://", r["CONTAINER-RUNTIME"]);
        });
        var node = nodes.Rows[0]["NAME"];
        var nodeYaml = s.Ok($"get node {node} -o yaml");
        Assert.Contains("kind: Node", nodeYaml);
        Assert.Contains("bootID:", nodeYaml);
        Assert.Contains("type: InternalIP", nodeYaml);
        var nodeJson = JsonNode.Parse(s.Ok("get nodes -o json"))!;
        Assert.Equal("List", (string?)nodeJson["kind"]);
        Assert.All(nodeJson["items"]!.AsArray(), n => Assert.False(string.IsNullOrEmpty((string?)n!["status"]!["nodeInfo"]!["systemUUID"])));

        // describe node reads the node's Lease (no "Failed to get lease")
        var describe = s.Ok($"describe node {node}");
        Assert.DoesNotContain("Failed to get lease", describe + s.LastErr);
        Assert.Matches(new Regex(@"^Lease:\s*\n\s+HolderIdentity:\s+" + Regex.Escape(node) + @"\s*$", RegexOptions.Multiline), describe);
        Assert.Matches(new Regex(@"^\s+RenewTime:\s+\w{3}, \d\d \w{3} \d{4}", RegexOptions.Multiline), describe);
        Assert.Matches(new Regex(@"^\s+InternalIP:\s+10\.128\.", RegexOptions.Multiline), describe);
        Assert.Matches(new Regex(@"^\s+Kubelet Version:\s+" + Regex.Escape(s.Sim.Options.KubernetesVersion), RegexOptions.Multiline), describe);
        Assert.Matches(new Regex(@"^\s+Boot ID:\s+[0-9a-f-]{36}\s*$", RegexOptions.Multiline), describe);
        var leases = Table(s.Ok("get leases -n kube-node-lease"));
        Assert.Equal(["NAME", "HOLDER", "AGE"], leases.Header);
        Assert.Contains(leases.Rows, r => r["NAME"] == node && r["HOLDER"] == node);

        // CRDs: NAME and CREATED AT (a timestamp, not an age)
        var crds = Table(s.Ok("get crd"));
        Assert.Equal(["NAME", "CREATED AT"], crds.Header);
        var llmCrd = crds.Rows.Single(r => r["NAME"] == "llminferenceservices.serving.kserve.io");
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", llmCrd["CREATED AT"]);

        // custom resources: the CRD's printer columns
        var llm = Table(s.Ok("get llminferenceservices"));
        Assert.Equal("NAME", llm.Header[0]);
        Assert.Contains("AGE", llm.Header);
        Assert.Equal("qwen", llm.Rows.Single()["NAME"]);
        Assert.Matches(@"^\d+s$", llm.Rows.Single()["AGE"]);
        var llmWide = Table(s.Ok("get llmisvc -o wide"));
        Assert.True(llmWide.Header.Count >= llm.Header.Count);
        Assert.Contains("uri: hf://Qwen/Qwen2.5-3B-Instruct", s.Ok("get llminferenceservice qwen -o yaml"));
        Assert.Equal("http://10.0.0.9/default/qwen", (string?)JsonNode.Parse(s.Ok("get llminferenceservices -o json"))!["items"]![0]!["status"]!["url"]);

        // explain, from the served OpenAPI
        // kubectl 1.27 explains from /openapi/v2 in protobuf, 1.28+ from /openapi/v3
        var explain = s.Ok("explain deployment.spec.replicas");
        Assert.Contains("replicas", explain);
        Assert.Contains("<integer>", explain);
        var explainLlm = s.Ok("explain llminferenceservices");
        Assert.Matches(@"KIND:\s+LLMInferenceService", explainLlm);

        // auth
        Assert.Equal("yes", s.Ok("auth can-i create deployments -n default").Trim());
        Assert.Equal("yes", s.Ok("auth can-i '*' '*' --all-namespaces").Trim());
        if (minor == "1.27")
        {
            // kubectl 1.27 asks authentication.k8s.io/v1beta1 (or v1alpha1), which a v1.32 server does not serve by default
            var old = s.Run("auth whoami");
            Assert.NotEqual(0, old.Code);
            Assert.Contains("the selfsubjectreviews API is not enabled in the cluster", old.Err);
            return;
        }
        var whoami = Table(s.Ok("auth whoami"));
        Assert.Equal("ATTRIBUTE", whoami.Header[0]);
        Assert.Contains(whoami.Rows, r => r["ATTRIBUTE"] == "Username" && r["VALUE"] == AuthReviews.AdminUser);
        Assert.Contains(whoami.Rows, r => r["ATTRIBUTE"] == "Groups" && r["VALUE"].Contains("system:masters", StringComparison.Ordinal));
    }

    private static async Task WorkloadVerbsAsync(string minor)
    {
        await using var s = await Session.StartAsync(minor, withKServe: false);
        const string deploy = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web, namespace: default}
            spec:
              replicas: REPLICAS
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec:
                  containers:
                  - name: main
                    image: registry.example/web:1.0
                    readinessProbe: {httpGet: {path: /healthz, port: 8080}}
                  - name: sidecar
                    image: registry.example/sidecar:1.0
            """;
        string Deploy(int replicas) => deploy.Replace("REPLICAS", replicas.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

        // apply, client-side: created, then unchanged
        Assert.Equal("deployment.apps/web created", s.Ok("apply -f -", Deploy(1)).Trim());
        Assert.Equal("deployment.apps/web unchanged", s.Ok("apply -f -", Deploy(1)).Trim());
        // the probe got the API server's defaults
        var probe = JsonNode.Parse(s.Ok("get deploy web -o json"))!["spec"]!["template"]!["spec"]!["containers"]![0]!["readinessProbe"]!;
        Assert.Equal((1L, 10L, 1L, 3L), ((long)probe["timeoutSeconds"]!, (long)probe["periodSeconds"]!, (long)probe["successThreshold"]!, (long)probe["failureThreshold"]!));

        // wait and rollout status
        Assert.Contains("deployment.apps/web condition met", s.Ok("wait --for=condition=Available deploy/web --timeout=120s"));
        Assert.Contains("deployment \"web\" successfully rolled out", s.Ok("rollout status deploy/web --timeout=120s"));

        // diff: what the server would change (exit 1 when it differs)
        var diff = s.Run("diff -f -", Deploy(2));
        Assert.True(diff.Code == 1, diff.Err);
        Assert.Matches(new Regex(@"^-\s+replicas: 1$", RegexOptions.Multiline), diff.Out);
        Assert.Matches(new Regex(@"^\+\s+replicas: 2$", RegexOptions.Multiline), diff.Out);
        Assert.Equal(0, s.Run("diff -f -", Deploy(1)).Code);

        // server-side apply and a Strict rejection of an unknown field
        const string cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: default}\ndata: {mode: fast}\n";
        Assert.Equal("configmap/settings serverside-applied", s.Ok("apply --server-side -f -", cm).Trim());
        Assert.Contains("kubectl", s.Ok("get cm settings -o jsonpath={.metadata.managedFields[*].manager}").Split(' '));
        if (UpstreamSchemas.Root is not null)
        {
            var strict = s.Run("apply --validate=strict -f -", cm.Replace("name: settings", "name: strict", StringComparison.Ordinal).Replace("\ndata:", "\nbogusField: 1\ndata:", StringComparison.Ordinal));
            Assert.NotEqual(0, strict.Code);
            Assert.True(strict.Err.Contains("unknown field \"bogusField\"", StringComparison.Ordinal), strict.Err);
            Assert.NotEqual(0, s.Run("get cm strict").Code);
        }

        // pods, -o wide, events, describe
        var pods = Table(s.Ok("get pods -o wide"));
        Assert.Equal(["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"], pods.Header);
        var pod = pods.Rows.Single();
        Assert.StartsWith("web-", pod["NAME"]);
        Assert.Equal(("2/2", "Running", "0"), (pod["READY"], pod["STATUS"], pod["RESTARTS"]));
        Assert.Matches(@"^\d+\.\d+\.\d+\.\d+$", pod["IP"]);
        Assert.StartsWith("gke-sandbox-default-pool-", pod["NODE"]);
        Assert.Equal(("<none>", "<none>"), (pod["NOMINATED NODE"], pod["READINESS GATES"]));
        var narrow = Table(s.Ok("get pods"));
        Assert.Equal(["NAME", "READY", "STATUS", "RESTARTS", "AGE"], narrow.Header);

        var events = Table(s.Ok("get events"));
        Assert.Equal(["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"], events.Header);
        foreach (var (reason, obj) in new[] { ("ScalingReplicaSet", "deployment/web"), ("SuccessfulCreate", "replicaset/web-"), ("Scheduled", "pod/web-"), ("Pulling", "pod/web-"), ("Pulled", "pod/web-"), ("Created", "pod/web-"), ("Started", "pod/web-") })
            Assert.Contains(events.Rows, r => r["REASON"] == reason && r["OBJECT"].StartsWith(obj, StringComparison.Ordinal) && r["TYPE"] == "Normal");

        var describe = s.Ok($"describe pod {pod["NAME"]}");
        Assert.Matches(new Regex(@"^Status:\s+Running\s*$", RegexOptions.Multiline), describe);
        Assert.Matches(new Regex(@"^Node:\s+gke-sandbox-default-pool-\S+/10\.128\.", RegexOptions.Multiline), describe);
        Assert.Matches(new Regex(@"Readiness:\s+http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3"), describe);
        Assert.Matches(new Regex(@"^\s+Normal\s+Scheduled\s+.*default-scheduler\s+Successfully assigned default/web-", RegexOptions.Multiline), describe);
        Assert.Matches(new Regex(@"^\s+Normal\s+Started\s+.*kubelet\s+Started container main", RegexOptions.Multiline), describe);

        // logs -c, and -f until the test stops it
        var uid = (string)JsonNode.Parse(s.Ok($"get pod {pod["NAME"]} -o json"))!["metadata"]!["uid"]!;
        s.Sim.WritePodLog(uid, "sidecar", "sidecar says hello");
        Assert.EndsWith("sidecar says hello\n", s.Ok($"logs {pod["NAME"]} -c sidecar"));
        var noContainer = s.Run($"logs {pod["NAME"]} -c nope");
        Assert.NotEqual(0, noContainer.Code);
        Assert.Contains("container nope is not valid for pod " + pod["NAME"], noContainer.Err);
        using (var follow = s.Background($"logs -f {pod["NAME"]} -c sidecar --tail=1"))
        {
            await follow.WaitForLineAsync(l => l == "sidecar says hello");
            s.Sim.WritePodLog(uid, "sidecar", "a line written while following");
            await follow.WaitForLineAsync(l => l == "a line written while following");
        }

        // get --watch: the Table rows of the object, again when it changes
        using (var watch = s.Background("get configmap settings --watch"))
        {
            await watch.WaitForLineAsync(l => Regex.IsMatch(l, @"^settings\s+1\s+\S+$"));
            s.Ok("patch configmap settings --type=merge -p {\"data\":{\"extra\":\"1\"}}");
            await watch.WaitForLineAsync(l => Regex.IsMatch(l, @"^settings\s+2\s+\S+$"));
            Assert.Matches(new Regex(@"^NAME\s+DATA\s+AGE\s*$", RegexOptions.Multiline), watch.Output);
        }

        // delete
        Assert.Equal("deployment.apps \"web\" deleted", s.Ok("delete deployment web").Trim());
        var gone = s.Run("get deployment web");
        Assert.NotEqual(0, gone.Code);
        Assert.Contains("Error from server (NotFound): deployments.apps \"web\" not found", gone.Err);
        Assert.Equal("configmap \"settings\" deleted", s.Ok("delete cm settings").Trim());
    }

    private static async Task PortForwardAsync(string minor)
    {
        if (Clients.OnPath("curl") is null) return; // the port-forward itself is covered by ReachableDataPlaneTests for both versions
        await using var s = await Session.StartAsync(minor, withKServe: false);
        s.Ok("run echo --image=registry.example/echo:1.0 --port=8080");
        s.Ok("wait --for=condition=Ready pod/echo --timeout=120s");
        var ip = (string)JsonNode.Parse(s.Ok("get pod echo -o json"))!["status"]!["podIP"]!;

        // what listens on the pod's port 8080: a small HTTP server standing in for the container
        var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var serve = Task.Run(async () =>
        {
            while (listener.IsListening)
            {
                HttpListenerContext ctx;
                try { ctx = await listener.GetContextAsync(); }
                catch (Exception) { return; }
                var body = Encoding.UTF8.GetBytes($"hello from echo, you asked for {ctx.Request.Url!.AbsolutePath}\n");
                ctx.Response.ContentType = "text/plain";
                ctx.Response.ContentLength64 = body.Length;
                await ctx.Response.OutputStream.WriteAsync(body);
                ctx.Response.Close();
            }
        });
        EndpointOverrides.Register(ip, 8080, "127.0.0.1", port);
        try
        {
            using var pf = s.Background("port-forward --address 127.0.0.1 pod/echo 0:8080");
            var line = await pf.WaitForLineAsync(l => l.StartsWith("Forwarding from 127.0.0.1:", StringComparison.Ordinal));
            var local = Regex.Match(line, @"127\.0\.0\.1:(\d+) -> 8080").Groups[1].Value;
            var curl = Clients.Run("curl", ["-sS", "--max-time", "60", $"http://127.0.0.1:{local}/ping"]);
            Assert.True(curl.Code == 0, curl.Err);
            Assert.Equal("hello from echo, you asked for /ping\n", curl.Out);
        }
        finally
        {
            EndpointOverrides.Unregister(ip, 8080, port);
            listener.Stop();
            await serve;
        }
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>kubectl's human-readable table: the header's column names and each row's cells by column (split at the header's column starts).</summary>
    private static (List<string> Header, List<Dictionary<string, string>> Rows) Table(string output)
    {
        var lines = output.Split('\n').Where(l => l.Trim().Length > 0).ToList();
        Assert.NotEmpty(lines);
        var head = lines[0];
        var starts = Regex.Matches(head, @"\S+(?: \S+)*").Select(m => (m.Index, m.Value)).ToList();
        var rows = new List<Dictionary<string, string>>();
        foreach (var l in lines.Skip(1))
        {
            var row = new Dictionary<string, string>(StringComparer.Ordinal);
            for (var i = 0; i < starts.Count; i++)
            {
                var from = Math.Min(starts[i].Index, l.Length);
                var to = i + 1 < starts.Count ? Math.Min(starts[i + 1].Index, l.Length) : l.Length;
                row[starts[i].Value] = l[from..to].Trim();
            }
            rows.Add(row);
        }
        return (starts.Select(s => s.Value).ToList(), rows);
    }

    /// <summary>A sandbox, a kubeconfig for it and one kubectl version.</summary>
    private sealed class Session : IAsyncDisposable
    {
        private readonly string _kubectl;
        private readonly DirectoryInfo _dir;
        private readonly string _kubeconfig, _cache;

        private Session(string kubectl, KubeApiSimulator sim)
        {
            _kubectl = kubectl;
            Sim = sim;
            _dir = Directory.CreateTempSubdirectory("rhaii-kubectl-suite-");
            _kubeconfig = Path.Combine(_dir.FullName, "kubeconfig");
            _cache = Path.Combine(_dir.FullName, "cache");
            File.WriteAllText(_kubeconfig, sim.Kubeconfig(@namespace: "default"));
        }

        public KubeApiSimulator Sim { get; }
        public string LastErr { get; private set; } = "";

        /// <summary>Environment variables every later kubectl of this session gets.</summary>
        public Dictionary<string, string> Env { get; } = [];

        public static async Task<Session> StartAsync(string minor, bool withKServe)
        {
            var o = KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(10));
            o.DataPlane = false;
            if (UpstreamSchemas.Root is { } schemas) o.CrdSchemaPath = schemas;
            var sim = new KubeApiSimulator(o);
            sim.Start();
            var s = new Session(Clients.Kubectl(minor)!, sim);
            if (withKServe)
            {
                foreach (var crd in SandboxBundles.For("kserve").Where(x => (string?)x["kind"] == "CustomResourceDefinition"))
                    sim.Seed(crd);
                var until = DateTime.UtcNow.AddMinutes(1);
                while (!sim.Serves("serving.kserve.io/v1alpha1", "LLMInferenceService") && DateTime.UtcNow < until) await Task.Delay(10);
                Assert.True(sim.Serves("serving.kserve.io/v1alpha1", "LLMInferenceService"), "LLMInferenceService served");
            }
            return s;
        }

        private IEnumerable<string> Args(string args) =>
            new[] { "--kubeconfig", _kubeconfig, "--cache-dir", _cache }.Concat(Split(args));

        /// <summary>Splits a command line on spaces, keeping '...' together (no shell).</summary>
        private static IEnumerable<string> Split(string args) =>
            Regex.Matches(args, @"'([^']*)'|(\S+)").Select(m => m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value);

        public (int Code, string Out, string Err) Run(string args, string? stdin = null)
        {
            var psi = new ProcessStartInfo(_kubectl) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin is not null, UseShellExecute = false };
            foreach (var a in Args(args)) psi.ArgumentList.Add(a);
            psi.Environment.Remove("KUBECONFIG");
            foreach (var (k, v) in Env) psi.Environment[k] = v;
            using var p = Process.Start(psi)!;
            if (stdin is not null) { p.StandardInput.Write(stdin); p.StandardInput.Close(); }
            var o = p.StandardOutput.ReadToEndAsync();
            var e = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(180_000)) { p.Kill(true); throw new TimeoutException("kubectl " + args); }
            LastErr = e.Result;
            return (p.ExitCode, o.Result, e.Result);
        }

        /// <summary>Runs kubectl and requires success; returns stdout.</summary>
        public string Ok(string args, string? stdin = null)
        {
            var r = Run(args, stdin);
            Assert.True(r.Code == 0, $"kubectl {args} exited {r.Code}: {r.Err}");
            return r.Out;
        }

        public Background Background(string args)
        {
            var psi = new ProcessStartInfo(_kubectl) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in Args(args)) psi.ArgumentList.Add(a);
            psi.Environment.Remove("KUBECONFIG");
            foreach (var (k, v) in Env) psi.Environment[k] = v;
            return new Background(Process.Start(psi)!);
        }

        public async ValueTask DisposeAsync()
        {
            await Sim.DisposeAsync();
            try { _dir.Delete(true); } catch (IOException) { }
        }
    }

    /// <summary>A kubectl that keeps running (logs -f, get --watch, port-forward): its lines as they come; killed on dispose.</summary>
    private sealed class Background : IDisposable
    {
        private readonly Process _p;
        private readonly List<string> _lines = [];
        private readonly StringBuilder _err = new();
        private readonly SemaphoreSlim _signal = new(0);
        private int _exitSeen;

        public Background(Process p)
        {
            _p = p;
            p.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (_lines) _lines.Add(e.Data); } _signal.Release(); };
            p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_err) _err.AppendLine(e.Data); };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
        }

        public string Output { get { lock (_lines) return string.Join("\n", _lines); } }

        public async Task<string> WaitForLineAsync(Func<string, bool> match)
        {
            var until = DateTime.UtcNow.AddMinutes(2);
            while (DateTime.UtcNow < until)
            {
                lock (_lines)
                {
                    var hit = _lines.FirstOrDefault(match);
                    if (hit is not null) { _lines.Remove(hit); return hit; }
                }
                if (_p.HasExited && _exitSeen++ > 5) break;
                await _signal.WaitAsync(TimeSpan.FromMilliseconds(200));
            }
            lock (_err) Assert.Fail($"kubectl never printed the expected line; stdout: {Output}; stderr: {_err}");
            return "";
        }

        public void Dispose()
        {
            try { if (!_p.HasExited) _p.Kill(true); } catch (InvalidOperationException) { }
            _p.WaitForExit(10_000);
            _p.Dispose();
        }
    }
}
