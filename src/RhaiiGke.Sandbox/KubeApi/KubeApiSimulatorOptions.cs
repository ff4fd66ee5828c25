namespace RhaiiGke.Sandbox.KubeApi;

/// <summary>How a <see cref="KubeApiSimulator"/> behaves: version, auth, controllers, delays, faults and nodes.</summary>
public sealed class KubeApiSimulatorOptions
{
    /// <summary>gitVersion reported by /version.</summary>
    public string KubernetesVersion { get; set; } = "v1.32.4";

    /// <summary>
    /// The token every request must carry as <c>Authorization: Bearer &lt;token&gt;</c> (401 Unauthorized otherwise).
    /// Null (the default) generates a random one per simulator: <see cref="KubeApiSimulator.Token"/>.
    /// </summary>
    public string? BearerToken { get; set; }

    /// <summary>
    /// Also accepts the bearer tokens this function accepts, as a cluster with a token webhook does (a GKE
    /// cluster accepts the Google OAuth access tokens its GKE simulator issued).
    /// </summary>
    public Func<string, bool>? TokenValidator { get; set; }

    /// <summary>
    /// The node groups a cluster autoscaler may grow (GKE node pools with autoscaling on), read afresh on every
    /// decision; null (the default) runs no cluster autoscaler, as on a cluster without one. With it, an
    /// unschedulable pod that a group's node would fit grows that group (event TriggeredScaleUp), and one that no
    /// group below its maximum fits gets NotTriggerScaleUp with the reasons, as GKE's cluster autoscaler reports them.
    /// </summary>
    public Func<IReadOnlyList<SimulatedNodeGroup>>? NodeGroups { get; set; }

    /// <summary>
    /// Grows a node group to a size (called outside the simulator's lock): null when the nodes are coming, else why the
    /// cloud refused (GKE's words: "GCE out of resources", "GCE quota exceeded").
    /// </summary>
    public Func<string, int, string?>? ScaleNodeGroup { get; set; }

    /// <summary>
    /// A folder of upstream schemas (CRD YAML files and the Kubernetes OpenAPI <c>swagger-v1.NN.N.json</c>).
    /// When set, a CRD installed under the name of one in the folder is served with the upstream structural
    /// schema (pruning, types, enums, required, formats), built-in kinds are decoded against the Kubernetes
    /// OpenAPI (unknown fields, value types), and /openapi serves those schemas. Null: the installed
    /// CRDs' own schemas (the sandbox bundles' stand-ins preserve unknown fields) and no built-in schema.
    /// </summary>
    public string? CrdSchemaPath { get; set; }

    /// <summary>Treat every client write as fieldValidation=Strict (tests that prove a client sends only declared fields).</summary>
    public bool ForceStrictFieldValidation { get; set; }

    /// <summary>Run the simulated controllers (Deployments, Services, CRDs, cert-manager, sail, LWS, KServe...).</summary>
    public bool RunControllers { get; set; } = true;

    public KubeControllerDelays Delays { get; set; } = new();

    public KubeFaultOptions Faults { get; set; } = new();

    /// <summary>Nodes present at start. Pods stay Pending (Unschedulable) when no node fits.</summary>
    public List<SimulatedNode> Nodes { get; } = [];

    /// <summary>
    /// How often the simulated kubelet of each node renews its Lease in kube-node-lease (a real kubelet: every
    /// 10s, a quarter of the 40s leaseDurationSeconds). Zero or less: the Leases are created but not renewed.
    /// </summary>
    public TimeSpan NodeLeaseRenewInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Watch events kept for resuming watches from a resourceVersion; older ones get 410 Expired.</summary>
    public int WatchHistory { get; set; } = 20000;

    /// <summary>How many requests <see cref="KubeApiSimulator.Requests"/> keeps.</summary>
    public int RequestLogCapacity { get; set; } = 50000;

    // ------------------------------------------------------------------ kubelet realism

    /// <summary>
    /// Registries that need credentials: a container whose image comes from one of them starts only when the
    /// pod's <c>spec.imagePullSecrets</c> (copied from its ServiceAccount when the pod is created, as the
    /// ServiceAccount admission plugin does) name an existing <c>kubernetes.io/dockerconfigjson</c> Secret
    /// with an <c>auths</c> entry for the registry; otherwise ErrImagePull, then ImagePullBackOff with
    /// kubelet back-off retries. Empty turns pull checks off.
    /// </summary>
    public List<string> AuthenticatedRegistries { get; set; } = ["registry.redhat.io"];

    /// <summary>
    /// Image repositories (prefix match, tag ignored) the nodes already hold, so pods run them without
    /// credentials (imagePullPolicy IfNotPresent). The default holds the operator images the sandbox
    /// bundles install without a pull secret (sail operator, istiod, istio-cni, the KServe controller).
    /// </summary>
    public List<string> PreloadedImages { get; set; } =
    [
        "registry.redhat.io/openshift-service-mesh/istio-sail-operator-rhel9", "registry.redhat.io/openshift-service-mesh/istio-pilot-rhel9",
        "registry.redhat.io/openshift-service-mesh/istio-cni-rhel9", "registry.redhat.io/rhoai/odh-kserve-llmisvc-controller-rhel9",
    ];

    /// <summary>Hugging Face repositories (prefix of the repo id) that are gated: the storage initializer needs a real HF_TOKEN.</summary>
    public List<string> GatedModelPrefixes { get; set; } = ["meta-llama/", "google/gemma", "mistralai/"];

    /// <summary>
    /// Cloud Storage as a pod of this cluster reaches it (a cluster of the GKE simulator): KServe's storage-initializer
    /// reading a gs:// URI. Null (the plain sandbox) means no Google metadata server: the read is anonymous.
    /// Returns null when the model downloads, else the container's output.
    /// </summary>
    public Func<CloudStorageRead, string?>? CloudStorage { get; set; }

    // ------------------------------------------------------------------ data plane

    /// <summary>
    /// Back every ready workload pod (label kserve.io/component=workload) with a vLLM simulator reachable at
    /// podIP:8000, and serve every Programmed Istio Gateway address with an Envoy-like proxy that routes as
    /// the attached HTTPRoutes say; both through <see cref="RhaiiGke.EndpointOverrides"/>.
    /// </summary>
    public bool DataPlane { get; set; } = true;

    /// <summary>
    /// The cluster enforces NetworkPolicies (GKE Dataplane V2): the anetd DaemonSet runs in kube-system and
    /// the gateway proxy cannot connect to pods a policy isolates. Off: no anetd, policies are ignored.
    /// </summary>
    public bool EnforceNetworkPolicy { get; set; } = true;

    /// <summary>How long the gateway proxy tries to connect to a pod a NetworkPolicy blocks before answering 503 (Envoy's connect_timeout).</summary>
    public TimeSpan GatewayConnectTimeout { get; set; } = TimeSpan.FromMilliseconds(500);

    // ------------------------------------------------------------------ GKE Gateway API

    /// <summary>
    /// The cluster is a GKE cluster with the Gateway API enabled (networkConfig.gatewayApiConfig): from start it
    /// serves GKE's own CRDs (Gateway API standard channel, networking.gke.io policies, and on 1.34+ the GA
    /// InferencePool v1 CRD), all carrying addon-manager labels, plus the GatewayClasses
    /// gke-l7-regional-external-managed, gke-l7-rilb and gke-l7-global-external-managed (controller
    /// networking.gke.io/gateway); a simulated GKE gateway controller programs Gateways of those classes and
    /// the data plane serves them. Off (the plain sandbox): no GKE classes at all.
    /// </summary>
    public bool GkeGatewayApi { get; set; }

    /// <summary>The region's proxy-only subnet (purpose REGIONAL_MANAGED_PROXY): the source of the regional load balancers' proxies.</summary>
    public string GkeProxyOnlySubnet { get; set; } = "10.129.0.0/23";

    /// <summary>False models a region without a proxy-only subnet: regional Gateways are never programmed.</summary>
    public bool GkeProxyOnlySubnetExists { get; set; } = true;

    /// <summary>Time to first token of the pod-backed vLLM simulators.</summary>
    public double VllmTimeToFirstTokenMs { get; set; } = 5;

    /// <summary>Inter-token latency of the pod-backed vLLM simulators.</summary>
    public double VllmInterTokenLatencyMs { get; set; } = 1;

    /// <summary>
    /// Options with every controller delay set to <paramref name="delay"/> (tests use a few milliseconds) and no
    /// registry authentication (set <see cref="AuthenticatedRegistries"/> to test pull secrets).
    /// </summary>
    public static KubeApiSimulatorOptions Fast(TimeSpan? delay = null)
    {
        var o = new KubeApiSimulatorOptions { Delays = KubeControllerDelays.Uniform(delay ?? TimeSpan.FromMilliseconds(20)), AuthenticatedRegistries = [] };
        o.Nodes.AddRange(SimulatedNode.CpuPool("sandbox-default-pool", 3));
        return o;
    }
}

/// <summary>How long the simulated controllers take; each is the time from the cause to the effect.</summary>
public sealed class KubeControllerDelays
{
    /// <summary>CRD created → NamesAccepted and Established (and served).</summary>
    public TimeSpan CrdEstablished { get; set; } = TimeSpan.FromMilliseconds(300);
    /// <summary>Pod scheduled → containers started and Ready.</summary>
    public TimeSpan PodReady { get; set; } = TimeSpan.FromMilliseconds(800);
    /// <summary>Namespace deleted → contents removed and namespace gone (after dependents' finalizers).</summary>
    public TimeSpan NamespaceFinalize { get; set; } = TimeSpan.FromMilliseconds(200);
    /// <summary>Issuer or ClusterIssuer → Ready.</summary>
    public TimeSpan IssuerReady { get; set; } = TimeSpan.FromMilliseconds(200);
    /// <summary>Certificate with a Ready issuer → Secret written and Certificate Ready.</summary>
    public TimeSpan CertificateIssued { get; set; } = TimeSpan.FromMilliseconds(300);
    /// <summary>cainjector running and CA available → caBundle injected into annotated webhook configurations.
    /// Until then a webhook with endpoints fails with x509 (the stale-CA window).</summary>
    public TimeSpan CaInjection { get; set; } = TimeSpan.FromMilliseconds(600);
    /// <summary>Istio CR → istiod Deployment created; istiod Available → Istio Ready and GatewayClass istio.</summary>
    public TimeSpan IstioReconcile { get; set; } = TimeSpan.FromMilliseconds(300);
    /// <summary>Gateway → Accepted/Programmed with an address.</summary>
    public TimeSpan GatewayProgrammed { get; set; } = TimeSpan.FromMilliseconds(300);
    /// <summary>GKE Gateway accepted → load balancer (forwarding rule, URL map, NEGs) created, Programmed with an address.</summary>
    public TimeSpan GkeLoadBalancer { get; set; } = TimeSpan.FromMilliseconds(1500);
    /// <summary>LeaderWorkerSet → pods → Available.</summary>
    public TimeSpan LwsReconcile { get; set; } = TimeSpan.FromMilliseconds(200);
    /// <summary>KServe controller reconcile step.</summary>
    public TimeSpan KServeReconcile { get; set; } = TimeSpan.FromMilliseconds(200);
    /// <summary>Service of type LoadBalancer → status.loadBalancer.ingress.</summary>
    public TimeSpan LoadBalancer { get; set; } = TimeSpan.FromMilliseconds(300);
    /// <summary>KServe's storage-initializer init container: model download (hf://) until it exits.</summary>
    public TimeSpan ModelDownload { get; set; } = TimeSpan.FromMilliseconds(1000);
    /// <summary>vLLM container started → startup probe passes (weights load and XLA compilation); started=false, ready=false until then.</summary>
    public TimeSpan XlaCompile { get; set; } = TimeSpan.FromMilliseconds(2000);
    /// <summary>First kubelet back-off (image pulls, restarts of crashed containers); doubles per retry up to 16 times this.</summary>
    public TimeSpan BackOff { get; set; } = TimeSpan.FromMilliseconds(500);
    /// <summary>The HPA controller's sync period (kube-controller-manager --horizontal-pod-autoscaler-sync-period, 15 s upstream); not part of <see cref="Uniform"/>.</summary>
    public TimeSpan HpaSync { get; set; } = TimeSpan.FromSeconds(15);
    /// <summary>Cluster autoscaler: an unschedulable pod → its decision (GKE scans every 10 s; nodes then take a minute or more to join).</summary>
    public TimeSpan ScaleUp { get; set; } = TimeSpan.FromMilliseconds(1000);

    public static KubeControllerDelays Uniform(TimeSpan d) => new()
    {
        CrdEstablished = d, PodReady = d, NamespaceFinalize = d, IssuerReady = d, CertificateIssued = d, CaInjection = d,
        IstioReconcile = d, GatewayProgrammed = d, GkeLoadBalancer = d, LwsReconcile = d, KServeReconcile = d, LoadBalancer = d,
        ModelDownload = d, XlaCompile = d, BackOff = d, ScaleUp = d,
    };
}

/// <summary>Faults injected into resource requests (discovery, /version and /openapi are never faulted).</summary>
public sealed class KubeFaultOptions
{
    /// <summary>Share of requests answered 500/503/504 before any work is done.</summary>
    public double ServerErrorRate { get; set; }
    /// <summary>Share of requests answered 429 TooManyRequests with Retry-After.</summary>
    public double TooManyRequestsRate { get; set; }
    public int RetryAfterSeconds { get; set; } = 1;
    /// <summary>Share of updates, patches and applies answered 409 Conflict (the object has been modified).</summary>
    public double ConflictRate { get; set; }
    /// <summary>Share of requests delayed by <see cref="SlowResponseDelay"/>.</summary>
    public double SlowResponseRate { get; set; }
    public TimeSpan SlowResponseDelay { get; set; } = TimeSpan.FromMilliseconds(250);
    /// <summary>Share of watch streams cut (connection aborted) mid-way: at a random point up to <see cref="WatchDropAfter"/> after they open.</summary>
    public double WatchDropRate { get; set; }
    public TimeSpan WatchDropAfter { get; set; } = TimeSpan.FromMilliseconds(300);
    /// <summary>
    /// Share of watches that resume from a resourceVersion answered with a 410 Expired ERROR event (what a real API server
    /// sends once etcd compacted past that version): the client must list again and watch from the new version.
    /// </summary>
    public double WatchExpireRate { get; set; }
    /// <summary>Seed for reproducible fault sequences; null for a random seed.</summary>
    public int? Seed { get; set; }

    /// <summary>A uniform mix: <paramref name="rate"/> split over 5xx, 429 and conflicts, plus slow responses and dropped watches.</summary>
    public static KubeFaultOptions Mixed(double rate, int? seed = null) => new()
    {
        ServerErrorRate = rate * 0.4, TooManyRequestsRate = rate * 0.3, ConflictRate = rate * 0.3,
        SlowResponseRate = rate, SlowResponseDelay = TimeSpan.FromMilliseconds(20),
        WatchDropRate = Math.Min(1, rate * 3), WatchDropAfter = TimeSpan.FromMilliseconds(30), WatchExpireRate = rate / 2, RetryAfterSeconds = 1, Seed = seed,
    };

    public bool Any => ServerErrorRate > 0 || TooManyRequestsRate > 0 || ConflictRate > 0 || SlowResponseRate > 0 || WatchDropRate > 0 || WatchExpireRate > 0;
}

/// <summary>A node to pre-load: labels, taints and capacity (e.g. <c>google.com/tpu: 4</c>).</summary>
/// <summary>A node group the simulated cluster autoscaler may grow: a GKE node pool's autoscaling bounds and a node of it.</summary>
public sealed class SimulatedNodeGroup
{
    public string Name { get; init; } = "";
    /// <summary>How the autoscaler names the group in its events (GKE: the pool's managed instance group URL).</summary>
    public string Id { get; init; } = "";
    public int Size { get; init; }
    public int MinSize { get; init; }
    public int MaxSize { get; init; }
    /// <summary>Nodes added at once: 1, or the hosts of a multi-host TPU slice (GKE grows such pools by whole slices).</summary>
    public int Step { get; init; } = 1;
    /// <summary>What a new node of the group looks like (labels, taints, capacity).</summary>
    public SimulatedNode Template { get; init; } = new();
}

public sealed class SimulatedNode
{
    public string Name { get; set; } = "";
    public Dictionary<string, string> Labels { get; set; } = [];
    public List<SimulatedTaint> Taints { get; set; } = [];
    /// <summary>Resource capacity as Kubernetes quantities: cpu, memory, pods, google.com/tpu, ...</summary>
    public Dictionary<string, string> Capacity { get; set; } = new() { ["cpu"] = "8", ["memory"] = "32Gi", ["pods"] = "110" };
    public bool Ready { get; set; } = true;

    /// <summary><paramref name="count"/> e2-standard-8 nodes of a CPU pool.</summary>
    public static IEnumerable<SimulatedNode> CpuPool(string pool, int count, string zone = "us-central1-a") =>
        Enumerable.Range(0, count).Select(i => new SimulatedNode
        {
            Name = $"gke-{pool}-{i:x4}",
            Labels = new()
            {
                ["cloud.google.com/gke-nodepool"] = pool, ["node.kubernetes.io/instance-type"] = "e2-standard-8",
                ["topology.kubernetes.io/zone"] = zone, ["kubernetes.io/os"] = "linux", ["kubernetes.io/arch"] = "amd64",
            },
        });

    /// <summary>TPU nodes as GKE labels and taints them (<c>google.com/tpu=present:NoSchedule</c>).</summary>
    public static IEnumerable<SimulatedNode> TpuPool(string pool, int count, string accelerator, string topology, string machineType, int chipsPerNode,
        string zone = "us-central1-b") =>
        Enumerable.Range(0, count).Select(i => new SimulatedNode
        {
            Name = $"gke-{pool}-{i:x4}",
            Labels = new()
            {
                ["cloud.google.com/gke-nodepool"] = pool, ["node.kubernetes.io/instance-type"] = machineType,
                ["cloud.google.com/gke-tpu-accelerator"] = accelerator, ["cloud.google.com/gke-tpu-topology"] = topology,
                ["topology.kubernetes.io/zone"] = zone, ["kubernetes.io/os"] = "linux", ["kubernetes.io/arch"] = "amd64",
            },
            Taints = [new SimulatedTaint("google.com/tpu", "present", "NoSchedule")],
            Capacity = new() { ["cpu"] = "180", ["memory"] = "720Gi", ["pods"] = "110", ["google.com/tpu"] = chipsPerNode.ToString(System.Globalization.CultureInfo.InvariantCulture) },
        });
}

public sealed record SimulatedTaint(string Key, string? Value, string Effect);

/// <summary>Counters since start (or the last <see cref="KubeApiSimulator.ResetStats"/>).</summary>
public sealed class KubeApiSimulatorStats
{
    public long Requests { get; init; }
    /// <summary>POST, PUT, PATCH and DELETE requests on resources (dry-run included).</summary>
    public long MutatingRequests { get; init; }
    public long DryRunRequests { get; init; }
    public long ServerErrorsInjected { get; init; }
    public long TooManyRequestsInjected { get; init; }
    public long ConflictsInjected { get; init; }
    public long SlowResponsesInjected { get; init; }
    public long WatchesDropped { get; init; }
    /// <summary>Watch resumes answered 410 Expired by injection.</summary>
    public long WatchesExpired { get; init; }
    /// <summary>Requests rejected because a webhook could not be called (no endpoints, x509).</summary>
    public long WebhookFailures { get; init; }
    /// <summary>Injected faults of every kind (slow responses not counted).</summary>
    public long FaultsInjected => ServerErrorsInjected + TooManyRequestsInjected + ConflictsInjected + WatchesDropped + WatchesExpired;
}

/// <summary>One request as the simulator saw it.</summary>
public sealed record KubeApiRequest(
    DateTimeOffset Time, string Method, string Path, string Query, string Verb, string? FieldManager, bool DryRun,
    int StatusCode, string? Fault, string? UserAgent)
{
    public bool Mutating => Method is "POST" or "PUT" or "PATCH" or "DELETE";
}

/// <summary>A gs:// read by KServe's storage-initializer in a pod.</summary>
/// <param name="Namespace">The pod's namespace.</param>
/// <param name="ServiceAccount">The pod's Kubernetes ServiceAccount.</param>
/// <param name="GcpServiceAccount">Its iam.gke.io/gcp-service-account annotation, if any.</param>
/// <param name="GkeMetadataServer">Whether the pod's node runs the GKE metadata server (label iam.gke.io/gke-metadata-server-enabled=true).</param>
/// <param name="Uri">gs://bucket/path.</param>
public sealed record CloudStorageRead(string Namespace, string ServiceAccount, string? GcpServiceAccount, bool GkeMetadataServer, string Uri);
