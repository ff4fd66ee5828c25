namespace RhaiiGke;

/// <summary>Desired state of a GKE cluster with one TPU node pool (<c>New-TpuCluster</c>).</summary>
public sealed class TpuClusterSpec
{
    public string Name { get; set; } = "";
    public string Project { get; set; } = "";
    /// <summary>Zone of the cluster and its TPU node pool, e.g. europe-west4-a.</summary>
    public string Zone { get; set; } = "";
    public string Accelerator { get; set; } = "v6e";
    public string Topology { get; set; } = "2x2";
    /// <summary>Machine type; derived from accelerator and topology when empty.</summary>
    public string? MachineType { get; set; }
    /// <summary>Name of the TPU node pool.</summary>
    public string NodePoolName { get; set; } = "tpu-pool";
    /// <summary>TPU nodes created now (0 with autoscaling: nodes appear when pods need them).</summary>
    public int InitialNodeCount { get; set; }
    public bool Autoscaling { get; set; } = true;
    public int MinNodes { get; set; }
    /// <summary>Upper bound of TPU nodes; 0 means one slice (the topology's host count).</summary>
    public int MaxNodes { get; set; }
    public bool Spot { get; set; }
    /// <summary>A specific reservation to consume (name), or empty.</summary>
    public string? Reservation { get; set; }
    /// <summary>RAPID, REGULAR, STABLE or EXTENDED.</summary>
    public string ReleaseChannel { get; set; } = "REGULAR";
    /// <summary>Initial cluster version, e.g. 1.34; empty takes the channel default.</summary>
    public string? ClusterVersion { get; set; }
    /// <summary>Machine type of the system (default) node pool.</summary>
    public string SystemMachineType { get; set; } = "e2-standard-4";
    public int SystemNodeCount { get; set; } = 2;
    /// <summary>Gateway API channel: CHANNEL_STANDARD (default) or CHANNEL_DISABLED.</summary>
    public string GatewayApiChannel { get; set; } = "CHANNEL_STANDARD";
    /// <summary>ADVANCED_DATAPATH (Dataplane V2, enforces NetworkPolicy) or LEGACY_DATAPATH.</summary>
    public string DatapathProvider { get; set; } = "ADVANCED_DATAPATH";
    public bool WorkloadIdentity { get; set; } = true;
    public bool ShieldedNodes { get; set; } = true;
    public string? Network { get; set; }
    public string? Subnetwork { get; set; }
    public int DiskSizeGb { get; set; } = 100;
    public Dictionary<string, string> Labels { get; set; } = new(StringComparer.Ordinal);
    /// <summary>Extra Kubernetes labels for the TPU nodes.</summary>
    public Dictionary<string, string> NodeLabels { get; set; } = new(StringComparer.Ordinal);
    /// <summary>
    /// GPU pools only (Accelerator nvidia-l4, nvidia-tesla-a100, nvidia-a100-80gb, nvidia-h100-80gb; Topology = GPUs per node):
    /// the GKE-managed NVIDIA driver, DEFAULT, LATEST or INSTALLATION_DISABLED (then install the driver yourself).
    /// </summary>
    public string GpuDriverVersion { get; set; } = "DEFAULT";

    public string Region => GkeNames.RegionOf(Zone);
}

/// <summary>Small naming helpers shared by the GKE types.</summary>
public static class GkeNames
{
    /// <summary>europe-west4-a → europe-west4; a region stays as it is.</summary>
    public static string RegionOf(string location)
    {
        if (string.IsNullOrEmpty(location)) return location;
        var parts = location.Split('-');
        return parts.Length >= 3 ? string.Join('-', parts.Take(parts.Length - 1)) : location;
    }

    /// <summary>True for a zone (three dash-separated parts, e.g. us-central1-b).</summary>
    public static bool IsZone(string location) => !string.IsNullOrEmpty(location) && location.Split('-').Length >= 3;

    /// <summary>The kubeconfig context name gcloud uses: gke_PROJECT_LOCATION_NAME.</summary>
    public static string ContextName(string project, string location, string cluster) => $"gke_{project}_{location}_{cluster}";
}
