namespace RhaiiGke.Sandbox.Gke;

/// <summary>A simulated cluster as the endpoint hook sees it.</summary>
public sealed class GkeSimulatedCluster
{
    public string Project { get; init; } = "";
    public string Location { get; init; } = "";
    public string Name { get; init; } = "";
    public string Status { get; init; } = "";
    public string MasterVersion { get; init; } = "";
    public IReadOnlyList<GkeSimulatedNodePool> NodePools { get; init; } = [];
    /// <summary>
    /// Whether a bearer token is a Google access token the GKE simulator issued (or accepts): what the
    /// cluster's Kubernetes API must accept, as a GKE cluster accepts the OAuth tokens gke-gcloud-auth-plugin obtains.
    /// </summary>
    public Func<string, bool> AcceptsToken { get; init; } = _ => false;
}

/// <summary>A simulated node pool with the node labels, taints and TPU capacity GKE gives its nodes.</summary>
public sealed class GkeSimulatedNodePool
{
    public string Name { get; init; } = "";
    public string MachineType { get; init; } = "";
    public int NodeCount { get; init; }
    public IReadOnlyList<string> Zones { get; init; } = [];
    public bool Spot { get; init; }
    /// <summary>cloud.google.com/gke-tpu-accelerator value (tpu-v6e-slice), or null for CPU pools.</summary>
    public string? TpuAccelerator { get; init; }
    public string? TpuTopology { get; init; }
    /// <summary>google.com/tpu capacity of each node (0 for CPU pools).</summary>
    public int TpuChipsPerNode { get; init; }
    /// <summary>Labels every node of the pool carries (GKE's own plus the pool's config.labels).</summary>
    public IReadOnlyDictionary<string, string> NodeLabels { get; init; } = new Dictionary<string, string>();
    /// <summary>Taints as key=value:Effect (google.com/tpu=present:NoSchedule on TPU nodes).</summary>
    public IReadOnlyList<string> Taints { get; init; } = [];
    /// <summary>autoscaling.enabled, minNodeCount and maxNodeCount of the pool.</summary>
    public bool AutoscalingEnabled { get; init; }
    public int MinNodeCount { get; init; }
    public int MaxNodeCount { get; init; }
    /// <summary>Hosts of one TPU slice of the pool (1 for single-host and CPU pools): the pool grows by this many nodes.</summary>
    public int SliceHosts { get; init; } = 1;
}

/// <summary>The Kubernetes API of a simulated cluster: its https URL (the cluster's endpoint becomes its host:port) and CA (PEM, not base64).</summary>
public sealed record GkeClusterEndpoint(string Url, string? CaCertificatePem);

/// <summary>Settings of <see cref="GkeApiSimulator"/>.</summary>
public sealed class GkeApiSimulatorOptions
{
    /// <summary>How long a long-running operation takes from PENDING to DONE (tests use tens of milliseconds).</summary>
    public TimeSpan OperationDuration { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Per operation type overrides (CREATE_CLUSTER, CREATE_NODE_POOL, ...).</summary>
    public Dictionary<string, TimeSpan> OperationDurations { get; } = new(StringComparer.Ordinal);

    /// <summary>Zones and the accelerator types (Compute names, e.g. tpu-v6e-slice) each offers.</summary>
    public Dictionary<string, string[]> ZoneAccelerators { get; } = new(StringComparer.Ordinal)
    {
        ["us-central1-b"] = ["tpu-v6e-slice", "tpu-v5-lite-podslice", "nvidia-l4"],
        ["us-east1-d"] = ["tpu-v6e-slice", "tpu-v5-lite-podslice"],
        ["us-east5-a"] = ["tpu-v6e-slice", "tpu-v5p-slice", "tpu-v5-lite-podslice"],
        ["us-east5-b"] = ["tpu-v6e-slice", "tpu-v5-lite-podslice"],
        ["europe-west4-a"] = ["tpu-v6e-slice", "tpu-v5-lite-podslice", "nvidia-l4"],
        ["europe-west4-b"] = ["tpu-v5-lite-podslice", "nvidia-l4"],
        ["asia-northeast1-b"] = ["tpu-v6e-slice"],
        ["us-central1-a"] = ["nvidia-l4", "nvidia-tesla-t4"],
    };

    /// <summary>Default regional quota limits (metric → limit) for every project and region.</summary>
    public Dictionary<string, double> DefaultQuotas { get; } = new(StringComparer.Ordinal)
    {
        ["CPUS"] = 2400,
        ["TPU_V6E_SLICE"] = 64,
        ["PREEMPTIBLE_TPU_V6E_SLICE"] = 64,
        ["TPU_LITE_PODSLICE_V5"] = 64,
        ["PREEMPTIBLE_TPU_LITE_PODSLICE_V5"] = 64,
        ["TPU_V5P_PODSLICE"] = 32,
        ["PREEMPTIBLE_TPU_V5P_PODSLICE"] = 32,
        ["IN_USE_ADDRESSES"] = 64,
    };

    /// <summary>Refuse requests without a token this simulator issued or <see cref="AcceptedTokens"/> lists.</summary>
    public bool RequireAuthentication { get; set; } = true;

    /// <summary>Bearer tokens accepted besides the ones the /token endpoint issues.</summary>
    public HashSet<string> AcceptedTokens { get; } = new(StringComparer.Ordinal);

    /// <summary>When set, only these projects exist; others give 404 (Compute) or 403 (GKE).</summary>
    public HashSet<string>? Projects { get; set; }

    /// <summary>Google APIs switched off (container.googleapis.com, compute.googleapis.com): their calls fail with SERVICE_DISABLED.</summary>
    public HashSet<string> DisabledApis { get; } = new(StringComparer.Ordinal);

    public string MasterVersion { get; set; } = "1.34.1-gke.1829001";

    /// <summary>
    /// The Kubernetes API a cluster gets when it becomes RUNNING. Default: a placeholder https endpoint
    /// (127.0.0.1:6443) with a generated CA. The Kubernetes API simulator plugs in here.
    /// </summary>
    public Func<GkeSimulatedCluster, GkeClusterEndpoint>? EndpointProvider { get; set; }

    /// <summary>Called after a cluster becomes RUNNING and after node pools are created, resized or deleted.</summary>
    public Action<GkeSimulatedCluster>? ClusterChanged { get; set; }

    /// <summary>
    /// Set by the simulator: the cluster autoscaler's resize of a pool (project, location, cluster, pool, size):
    /// null when the nodes are coming, else the cloud's refusal ("GCE out of resources", "GCE quota exceeded", ...).
    /// </summary>
    public Func<string, string, string, string, int, string?>? Autoscale { get; internal set; }

    /// <summary>Called after a cluster is deleted.</summary>
    public Action<GkeSimulatedCluster>? ClusterDeleted { get; set; }
}
