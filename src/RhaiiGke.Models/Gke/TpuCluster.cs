namespace RhaiiGke;

/// <summary>A GKE cluster as it is now, with its node pools (<c>Get-TpuCluster</c>, <c>New-TpuCluster</c>).</summary>
public sealed class TpuCluster
{
    public string Name { get; init; } = "";
    public string Project { get; init; } = "";
    /// <summary>Zone or region of the cluster.</summary>
    public string Location { get; init; } = "";
    /// <summary>PROVISIONING, RUNNING, RECONCILING, STOPPING, ERROR or DEGRADED.</summary>
    public string Status { get; init; } = "";
    public string? StatusMessage { get; init; }
    /// <summary>Kubernetes API URL (https://...), empty while provisioning.</summary>
    public string? Endpoint { get; init; }
    /// <summary>Base64 PEM of the cluster CA (masterAuth.clusterCaCertificate).</summary>
    public string? CaCertificate { get; init; }
    public string? MasterVersion { get; init; }
    public string? ReleaseChannel { get; init; }
    public string? GatewayApiChannel { get; init; }
    public string? DatapathProvider { get; init; }
    /// <summary>True when NetworkPolicy is enforced (Dataplane V2 or the Calico network policy add-on).</summary>
    public bool NetworkPolicyEnforced { get; init; }
    public string? WorkloadPool { get; init; }
    public bool ShieldedNodes { get; init; }
    public bool VpcNative { get; init; }
    public RhaiiMap<string> Labels { get; init; } = RhaiiMap<string>.Empty;
    public RhaiiList<TpuNodePool> NodePools { get; init; } = [];
    public DateTimeOffset? CreateTime { get; init; }
    public string? SelfLink { get; init; }
    /// <summary>Differences between the requested spec and this cluster (idempotent New-TpuCluster), empty when none.</summary>
    public RhaiiList<string> Drift { get; set; } = [];
    /// <summary>The operation still running on the cluster (-NoWait), if any.</summary>
    public GkeOperation? PendingOperation { get; set; }

    /// <summary>The NVIDIA GPU node pools only.</summary>
    public RhaiiList<TpuNodePool> GpuNodePools => NodePools.Where(p => p.IsGpu).ToList();

    /// <summary>The TPU node pools only.</summary>
    public RhaiiList<TpuNodePool> TpuNodePools => NodePools.Where(p => p.IsTpu).ToList();

    public string ContextName => GkeNames.ContextName(Project, Location, Name);

    public override string ToString() => $"{Project}/{Location}/{Name} ({Status})";
}

/// <summary>One node pool of a GKE cluster.</summary>
public sealed class TpuNodePool
{
    public string Name { get; init; } = "";
    public string ClusterName { get; init; } = "";
    public string Project { get; init; } = "";
    public string Location { get; init; } = "";
    /// <summary>PROVISIONING, RUNNING, RUNNING_WITH_ERROR, RECONCILING, STOPPING or ERROR.</summary>
    public string Status { get; init; } = "";
    public string? StatusMessage { get; init; }
    public string MachineType { get; init; } = "";
    /// <summary>v6e, v5e, v5p, or empty for a CPU pool.</summary>
    public string? Accelerator { get; init; }
    /// <summary>TPU topology, e.g. 2x2.</summary>
    public string? Topology { get; init; }
    public int ChipsPerNode { get; init; }
    /// <summary>Current node count (all zones of the pool).</summary>
    public int NodeCount { get; init; }
    public bool AutoscalingEnabled { get; init; }
    public int MinNodes { get; init; }
    public int MaxNodes { get; init; }
    public bool Spot { get; init; }
    public string? Reservation { get; init; }
    public RhaiiList<string> Zones { get; init; } = [];
    public RhaiiMap<string> NodeLabels { get; init; } = RhaiiMap<string>.Empty;
    /// <summary>Taints as key=value:Effect.</summary>
    public RhaiiList<string> Taints { get; init; } = [];
    public string? Version { get; init; }
    /// <summary>Differences between the requested spec and this pool, empty when none.</summary>
    public RhaiiList<string> Drift { get; set; } = [];

    public bool IsTpu => !string.IsNullOrEmpty(Accelerator) && !IsGpu;
    /// <summary>An NVIDIA GPU pool: Accelerator is the GPU type (nvidia-l4, ...), Topology and ChipsPerNode the GPUs per node.</summary>
    public bool IsGpu => Accelerator?.StartsWith("nvidia-", StringComparison.Ordinal) == true;
    /// <summary>gpuDriverInstallationConfig.gpuDriverVersion of a GPU pool (DEFAULT, LATEST, INSTALLATION_DISABLED), null when unset or not a GPU pool.</summary>
    public string? GpuDriverVersion { get; init; }
    public int Chips => ChipsPerNode * NodeCount;

    public override string ToString() => $"{ClusterName}/{Name} {MachineType} x{NodeCount} ({Status})";
}

/// <summary>A GKE long-running operation.</summary>
public sealed class GkeOperation
{
    public string Name { get; init; } = "";
    public string Project { get; init; } = "";
    public string Location { get; init; } = "";
    /// <summary>CREATE_CLUSTER, DELETE_CLUSTER, CREATE_NODE_POOL, SET_NODE_POOL_SIZE, ...</summary>
    public string OperationType { get; init; } = "";
    /// <summary>PENDING, RUNNING, DONE or ABORTING.</summary>
    public string Status { get; init; } = "";
    public string? Detail { get; init; }
    public string? TargetLink { get; init; }
    public string? SelfLink { get; init; }
    /// <summary>Percent done from the operation's progress stages, -1 when unknown.</summary>
    public int PercentComplete { get; init; } = -1;
    public int? ErrorCode { get; init; }
    public string? ErrorMessage { get; init; }
    public DateTimeOffset? StartTime { get; init; }
    public DateTimeOffset? EndTime { get; init; }

    public bool Done => Status == "DONE";
    public bool Failed => Done && (ErrorCode is > 0 || !string.IsNullOrEmpty(ErrorMessage));

    public override string ToString() => $"{OperationType} {Name} ({Status})";
}

/// <summary>How Kubernetes clients authenticate to a cluster (<c>Get-TpuClusterCredential</c>).</summary>
public enum ClusterAuthMode
{
    /// <summary>kubeconfig exec entry running gke-gcloud-auth-plugin (no secret stored).</summary>
    GcloudAuthPlugin,
    /// <summary>A short-lived OAuth access token held in memory as a SecureString.</summary>
    Token,
}

/// <summary>What a Kubernetes client needs to reach a cluster.</summary>
public sealed class TpuClusterCredential
{
    public string ClusterName { get; init; } = "";
    public string Project { get; init; } = "";
    public string Location { get; init; } = "";
    public string ContextName { get; init; } = "";
    /// <summary>https URL of the Kubernetes API.</summary>
    public string Server { get; init; } = "";
    /// <summary>Base64 PEM of the cluster CA.</summary>
    public string? CertificateAuthorityData { get; init; }
    public ClusterAuthMode AuthMode { get; init; }
    /// <summary>Token mode only; never printed.</summary>
    public System.Security.SecureString? Token { get; init; }
    public DateTimeOffset? TokenExpiresAt { get; init; }
    /// <summary>The kubeconfig file written or updated, when -Path was given.</summary>
    public string? KubeconfigPath { get; init; }
    /// <summary>The kubeconfig entry as YAML (no secret: token mode leaves the user entry out).</summary>
    public string Kubeconfig { get; init; } = "";

    public override string ToString() => $"{ContextName} -> {Server} ({AuthMode})";
}
