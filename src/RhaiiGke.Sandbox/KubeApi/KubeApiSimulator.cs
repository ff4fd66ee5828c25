using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.KubeApi;

/// <summary>
/// A loopback HTTPS server that speaks the Kubernetes REST API closely enough for KubernetesClient and
/// kubectl: discovery, CRUD, server-side apply, patches, watches, CRDs, admission webhooks, simulated
/// controllers and fault injection. Production code reaches it only through <see cref="Endpoint"/>.
/// Like a real cluster it has its own CA (<see cref="CaCertificatePem"/>) and serving certificate, and it
/// authenticates every request by bearer token (<see cref="Token"/>; a missing or wrong one is 401).
/// </summary>
/// <example>
/// <code>
/// using var sim = new KubeApiSimulator(KubeApiSimulatorOptions.Fast());
/// sim.AddNodes(SimulatedNode.TpuPool("tpu-pool", 1, "tpu-v6e-slice", "2x2", "ct6e-standard-4t", 4));
/// var endpoint = sim.Start();            // https://127.0.0.1:PORT/
/// File.WriteAllText("kubeconfig", sim.Kubeconfig());   // certificate-authority-data and the token
/// </code>
/// </example>
public sealed partial class KubeApiSimulator : IDisposable, IAsyncDisposable
{
    private readonly SimCore _core;
    private readonly FaultInjector _faults;
    private readonly HttpFrontEnd _http;
    private readonly Controllers.ControllerManager? _controllers;
    private readonly Task<SandboxPki> _pkiTask;
    private readonly byte[] _token;
    private bool _started;

    public KubeApiSimulator(KubeApiSimulatorOptions? options = null)
    {
        Options = options ?? new KubeApiSimulatorOptions();
        _core = new SimCore(Options);
        // the CA and serving certificate are made while the rest is set up (the first in a process takes a while)
        _pkiTask = Task.Run(() => SandboxPki.Create("rhaii-sandbox"));
        _faults = new FaultInjector(Options.Faults);
        Token = Options.BearerToken ?? "sandbox-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
        _token = Encoding.UTF8.GetBytes(Token);
        _http = new HttpFrontEnd(_core, _faults) { Authenticate = Authenticate };
        lock (_core.Gate) Bootstrap();
        if (Options.RunControllers) _controllers = new Controllers.ControllerManager(_core);
    }

    public KubeApiSimulatorOptions Options { get; }

    /// <summary>https://127.0.0.1:PORT/ once started.</summary>
    public Uri Endpoint => _http.Endpoint ?? throw new InvalidOperationException("The simulator is not started.");

    /// <summary>The endpoint without the trailing slash, as kubeconfig and kubectl --server want it.</summary>
    public string Server => Endpoint.ToString().TrimEnd('/');

    public bool IsRunning => _started;

    /// <summary>The bearer token this API server accepts (<see cref="KubeApiSimulatorOptions.BearerToken"/>, or one generated for it). A secret: keep it out of logs.</summary>
    public string Token { get; }

    /// <summary>The sandbox CA that signed the serving certificate, as PEM.</summary>
    public string CaCertificatePem => Pki.CaPem;

    /// <summary>The sandbox CA (public certificate only).</summary>
    public X509Certificate2 CaCertificate => Pki.Ca;

    /// <summary>Base64 of <see cref="CaCertificatePem"/>: kubeconfig's certificate-authority-data, GKE's masterAuth.clusterCaCertificate.</summary>
    public string CaCertificateData => Convert.ToBase64String(Encoding.ASCII.GetBytes(Pki.CaPem));

    /// <summary>Bearer authentication: this server's token, or one <see cref="KubeApiSimulatorOptions.TokenValidator"/> accepts.</summary>
    private bool Authenticate(string? authorization)
    {
        if (authorization is null || !authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return false;
        var presented = authorization[7..].Trim();
        if (presented.Length == 0) return false;
        if (CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), _token)) return true;
        return Options.TokenValidator?.Invoke(presented) == true;
    }

    /// <summary>Starts listening on a free loopback port and the controllers; returns the endpoint.</summary>
    public Uri Start()
    {
        if (_started) return Endpoint;
        _http.Tls = Pki;
        var uri = _http.Start();
        _controllers?.Start();
        StartNodeLeaseRenewal();
        _started = true;
        return uri;
    }

    public Task<Uri> StartAsync() => Task.FromResult(Start());

    public void Stop()
    {
        if (!_started) return;
        _started = false;
        StopNodeLeaseRenewal();
        _controllers?.Stop();
        _http.Stop();
    }

    public Task StopAsync() { Stop(); return Task.CompletedTask; }

    public void Dispose() => Stop();

    public ValueTask DisposeAsync() { Stop(); return ValueTask.CompletedTask; }

    private void Bootstrap()
    {
        var ns = _core.Registry.BuiltIn("", "namespaces");
        foreach (var name in new[] { "default", "kube-system", "kube-public", "kube-node-lease" })
            _core.Create(ns, null, new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Namespace", ["metadata"] = new JsonObject { ["name"] = name } }, WriteOptions.Controller("kube-apiserver"));
        var svc = _core.Registry.BuiltIn("", "services");
        _core.Create(svc, "default", new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Service",
            ["metadata"] = new JsonObject { ["name"] = "kubernetes", ["namespace"] = "default", ["labels"] = new JsonObject { ["component"] = "apiserver", ["provider"] = "kubernetes" } },
            ["spec"] = new JsonObject { ["clusterIP"] = "10.96.0.1", ["ports"] = new JsonArray(new JsonObject { ["name"] = "https", ["port"] = 443, ["targetPort"] = 6443 }) },
        }, WriteOptions.Controller("kube-apiserver"));
        foreach (var n in Options.Nodes) AddNodeLocked(n);
        if (Options.GkeGatewayApi) Controllers.GkeGateway.Bootstrap(_core);
        // GKE's node networking in kube-system: with Dataplane V2 the anetd (Cilium) agent, which enforces
        // NetworkPolicies and replaces kube-proxy; without it kube-proxy, and policies are not enforced
        var (dsName, app, container, image) = Options.EnforceNetworkPolicy
            ? ("anetd", "cilium", "cilium-agent", "gke.gcr.io/cilium/cilium:v1.15.7-gke.4")
            : ("kube-proxy", "kube-proxy", "kube-proxy", "gke.gcr.io/kube-proxy-amd64:v1.32.4-gke.1");
        var dsLabels = new JsonObject { ["k8s-app"] = app };
        _core.Create(_core.Registry.BuiltIn("apps", "daemonsets"), "kube-system", new JsonObject
        {
            ["apiVersion"] = "apps/v1", ["kind"] = "DaemonSet",
            ["metadata"] = new JsonObject { ["name"] = dsName, ["namespace"] = "kube-system", ["labels"] = dsLabels.DeepClone() },
            ["spec"] = new JsonObject
            {
                ["selector"] = new JsonObject { ["matchLabels"] = dsLabels.DeepClone() },
                ["template"] = new JsonObject
                {
                    ["metadata"] = new JsonObject { ["labels"] = dsLabels.DeepClone() },
                    ["spec"] = new JsonObject
                    {
                        ["hostNetwork"] = true, ["priorityClassName"] = "system-node-critical",
                        ["containers"] = new JsonArray(new JsonObject { ["name"] = container, ["image"] = image }),
                    },
                },
            },
        }, WriteOptions.Controller("addon-manager"));
    }

    // ------------------------------------------------------------------ nodes

    /// <summary>Adds (or replaces) a node with its labels, taints and capacity; pending pods are rescheduled.</summary>
    public void AddNode(SimulatedNode node)
    {
        lock (_core.Gate) AddNodeLocked(node);
    }

    public void AddNodes(IEnumerable<SimulatedNode> nodes)
    {
        lock (_core.Gate) foreach (var n in nodes) AddNodeLocked(n);
    }

    private void AddNodeLocked(SimulatedNode node)
    {
        var t = _core.Registry.BuiltIn("", "nodes");
        var labels = new JsonObject();
        foreach (var (k, v) in node.Labels) labels[k] = v;
        labels["kubernetes.io/hostname"] = node.Name;
        var capacity = new JsonObject();
        foreach (var (k, v) in node.Capacity) capacity[k] = v;
        var taints = new JsonArray();
        foreach (var tn in node.Taints)
        {
            var to = new JsonObject { ["key"] = tn.Key, ["effect"] = tn.Effect };
            if (tn.Value is not null) to["value"] = tn.Value;
            taints.Add(to);
        }
        var obj = new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Node",
            ["metadata"] = new JsonObject { ["name"] = node.Name, ["labels"] = labels },
            ["spec"] = taints.Count > 0 ? new JsonObject { ["taints"] = taints } : new JsonObject(),
            ["status"] = new JsonObject
            {
                ["capacity"] = capacity, ["allocatable"] = capacity.DeepClone(),
                ["conditions"] = new JsonArray(new JsonObject
                {
                    ["type"] = "Ready", ["status"] = node.Ready ? "True" : "False", ["reason"] = node.Ready ? "KubeletReady" : "KubeletNotReady",
                    ["message"] = node.Ready ? "kubelet is posting ready status" : "container runtime network not ready",
                    ["lastHeartbeatTime"] = SimCore.Now(), ["lastTransitionTime"] = SimCore.Now(),
                }),
                ["nodeInfo"] = NodeInfo(node.Name, Options.KubernetesVersion),
                ["addresses"] = new JsonArray(
                    new JsonObject { ["type"] = "InternalIP", ["address"] = NodeInternalIp(node.Name) },
                    new JsonObject { ["type"] = "Hostname", ["address"] = node.Name }),
                ["daemonEndpoints"] = new JsonObject { ["kubeletEndpoint"] = new JsonObject { ["Port"] = 10250 } },
            },
        };
        _core.Upsert(t, obj, "node-controller");
        RenewNodeLeaseLocked(node.Name);
    }

    /// <summary>
    /// status.nodeInfo as a GKE kubelet reports it: every field the API marks required (the Python client's
    /// V1NodeSystemInfo refuses a node without bootID, machineID, systemUUID, ...). The IDs are stable per
    /// node name; the versions are those of a GKE COS node of the simulated Kubernetes version.
    /// </summary>
    private static JsonObject NodeInfo(string name, string kubernetesVersion)
    {
        var h = System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(name));
        static string Hex(ReadOnlySpan<byte> b) => Convert.ToHexString(b).ToLowerInvariant();
        return new JsonObject
        {
            ["machineID"] = Hex(h.AsSpan(0, 16)),
            ["systemUUID"] = new Guid(h.AsSpan(16, 16)).ToString(),
            ["bootID"] = new Guid(h.AsSpan(8, 16)).ToString(),
            ["kernelVersion"] = "6.6.72+",
            ["osImage"] = "Container-Optimized OS from Google",
            ["containerRuntimeVersion"] = "containerd://1.7.24",
            ["kubeletVersion"] = kubernetesVersion,
            ["kubeProxyVersion"] = kubernetesVersion,
            ["operatingSystem"] = "linux",
            ["architecture"] = "amd64",
        };
    }

    /// <summary>A stable node address in GKE's default node range (10.128.0.0/20 style), from the node name.</summary>
    private static string NodeInternalIp(string name)
    {
        var h = System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(name));
        return $"10.128.{h[0] % 16}.{2 + h[1] % 250}";
    }

    public void RemoveNode(string name)
    {
        lock (_core.Gate)
        {
            var t = _core.Registry.BuiltIn("", "nodes");
            if (_core.Peek(t, null, name) is { } n) _core.ForceRemove(t, n);
            RemoveNodeLeaseLocked(name);
        }
    }

    // ------------------------------------------------------------------ faults and stats

    /// <summary>Replaces the fault configuration while running (e.g. faults only for one phase of a test).</summary>
    public void SetFaults(KubeFaultOptions faults) => _faults.Set(faults);

    public KubeApiSimulatorStats Stats => new()
    {
        Requests = _http.Requests, MutatingRequests = _http.Mutating, DryRunRequests = _http.DryRun,
        ServerErrorsInjected = _faults.ServerErrors, TooManyRequestsInjected = _faults.Throttles, ConflictsInjected = _faults.Conflicts,
        SlowResponsesInjected = _faults.Slow, WatchesDropped = _faults.Drops, WatchesExpired = _faults.Expired, WebhookFailures = Interlocked.Read(ref _core.WebhookFailures),
    };

    public void ResetStats()
    {
        _http.ResetCounters();
        _faults.Reset();
        Interlocked.Exchange(ref _core.WebhookFailures, 0);
    }

    /// <summary>The requests received (most recent last, bounded by <see cref="KubeApiSimulatorOptions.RequestLogCapacity"/>).</summary>
    public IReadOnlyList<KubeApiRequest> Requests => _http.Log;

    // ------------------------------------------------------------------ direct object access (tests, seeding)

    /// <summary>The stored object, rendered at <paramref name="apiVersion"/>, or null.</summary>
    public JsonObject? GetObject(string apiVersion, string kind, string? @namespace, string name)
    {
        lock (_core.Gate)
        {
            var t = _core.Registry.FindKind(apiVersion, kind) ?? throw new ArgumentException($"{apiVersion} {kind} is not served");
            var o = _core.Peek(t, @namespace, name);
            return o is null ? null : SimCore.Render(t, o);
        }
    }

    public IReadOnlyList<JsonObject> ListObjects(string apiVersion, string kind, string? @namespace = null)
    {
        lock (_core.Gate)
        {
            var t = _core.Registry.FindKind(apiVersion, kind);
            if (t is null) return [];
            return _core.PeekAll(t, @namespace).Select(o => SimCore.Render(t, o)).ToList();
        }
    }

    /// <summary>True when <paramref name="apiVersion"/> <paramref name="kind"/> is served (built-in or Established CRD).</summary>
    public bool Serves(string apiVersion, string kind)
    {
        lock (_core.Gate) return _core.Registry.FindKind(apiVersion, kind) is not null;
    }

    /// <summary>Creates or replaces objects as a controller would (no admission, status kept). YAML or JSON, several documents.</summary>
    public void Seed(string yaml)
    {
        foreach (var o in ServerYaml.ReadObjects(yaml)) Seed(o);
    }

    public void Seed(JsonObject obj)
    {
        lock (_core.Gate)
        {
            var t = _core.Registry.FindKind(obj.Str("apiVersion") ?? "", obj.Str("kind") ?? "")
                    ?? throw new ArgumentException($"{obj.Str("apiVersion")} {obj.Str("kind")} is not served");
            _core.Upsert(t, obj.Clone(), "simulator-seed");
        }
    }

    /// <summary>Registers simulated logic for a validating webhook (by webhook name): return a denial message or null.</summary>
    public void SetWebhookValidator(string webhookName, Func<string, JsonObject, JsonObject?, string?> validator)
    {
        lock (_core.Gate) _core.Validators[webhookName] = validator;
    }

    /// <summary>A kubeconfig (YAML) with one cluster (its https server and certificate-authority-data), user (the bearer token) and context. It holds a secret: write it with mode 600.</summary>
    public string Kubeconfig(string contextName = "rhaii-sandbox", string? @namespace = null)
    {
        var sb = new StringBuilder();
        sb.Append("apiVersion: v1\nkind: Config\n");
        sb.Append("clusters:\n- name: ").Append(contextName).Append("\n  cluster:\n    server: ").Append(Server).Append('\n');
        sb.Append("    certificate-authority-data: ").Append(CaCertificateData).Append('\n');
        sb.Append("users:\n- name: ").Append(contextName).Append("\n  user:\n");
        sb.Append("    token: ").Append(Token).Append('\n');
        sb.Append("contexts:\n- name: ").Append(contextName).Append("\n  context:\n    cluster: ").Append(contextName).Append("\n    user: ").Append(contextName).Append('\n');
        if (@namespace is not null) sb.Append("    namespace: ").Append(@namespace).Append('\n');
        sb.Append("current-context: ").Append(contextName).Append('\n');
        return sb.ToString();
    }

    /// <summary>
    /// Which validation the sandbox runs: "upstream schemas from &lt;folder&gt; ..." (structural CRD schemas and
    /// the Kubernetes OpenAPI) or "stand-in schemas" (the installed CRDs' own, open schemas).
    /// </summary>
    public string Validation => _core.Schemas?.Describe() ?? "stand-in schemas (installed CRDs' own schemas; built-in kinds not schema-checked)";

    /// <summary>Unknown fields the server dropped, warned about or rejected on client writes, and typed-apply rejections (most recent last).</summary>
    public IReadOnlyList<string> ValidationFindings
    {
        get { lock (_core.Gate) return _core.ValidationFindings.ToList(); }
    }

    /// <summary>Errors the simulated controllers hit (they retry); empty in a healthy run. For diagnosing the simulator.</summary>
    /// <summary>The CA and serving certificate (waits for them the first time).</summary>
    private SandboxPki Pki => _pkiTask.GetAwaiter().GetResult();

    /// <summary>The controller loop (null without controllers), for tests of the loop itself.</summary>
    internal Controllers.ControllerManager? ControllerLoop => _controllers;

    public IReadOnlyList<string> ControllerErrors => _controllers?.Errors ?? [];

    /// <summary>Waits until the controllers have processed everything queued so far and no delayed work is pending.</summary>
    public Task<bool> WaitIdleAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        _controllers?.WaitIdleAsync(timeout, cancellationToken) ?? Task.FromResult(true);
}
