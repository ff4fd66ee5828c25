using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RhaiiGke.Engine.Catalog;

namespace RhaiiGke.Engine.Gke;

/// <summary>A validated <see cref="TpuClusterSpec"/> with its TPU slice resolved from the catalog.</summary>
public sealed class TpuClusterPlan
{
    private static readonly Regex NamePattern = new("^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$", RegexOptions.Compiled);

    private TpuClusterPlan(TpuClusterSpec spec, TpuTopology slice, int initial, int min, int max)
    {
        Spec = spec;
        Slice = slice;
        InitialNodes = initial;
        MinNodes = min;
        MaxNodes = max;
    }

    public TpuClusterSpec Spec { get; }
    public TpuTopology Slice { get; }
    public int InitialNodes { get; }
    public int MinNodes { get; }
    public int MaxNodes { get; }
    /// <summary>The Compute accelerator type (and GKE node label), e.g. tpu-v6e-slice.</summary>
    public string AcceleratorType => Slice.NodeLabel;
    /// <summary>An NVIDIA GPU pool (Slice is a GPU machine type from <see cref="GpuCatalog"/>).</summary>
    public bool IsGpu => Slice.ResourceName == GpuCatalog.ResourceName;
    /// <summary>"TPU" or "GPU", for messages.</summary>
    public string Kind => IsGpu ? "GPU" : "TPU";
    /// <summary>Chips at the pool's largest size.</summary>
    public int ChipsAtMax => MaxNodes * Slice.ChipsPerHost;
    /// <summary>Chips for one usable slice, or the initial size when larger: less quota than this makes the pool useless.</summary>
    public int ChipsAtLeast => Math.Max(InitialNodes, Slice.Hosts) * Slice.ChipsPerHost;

    /// <summary>Validates names, zone, the machine type/topology pair and the node counts.</summary>
    public static TpuClusterPlan Create(TpuClusterSpec spec)
    {
        RequireName(spec.Name, "cluster");
        RequireName(spec.NodePoolName, "node pool");
        if (!GkeNames.IsZone(spec.Zone))
            throw new RhaiiException("InvalidZone", RhaiiErrorCategory.InvalidArgument,
                $"'{spec.Zone}' is not a zone; TPU node pools live in one zone such as europe-west4-a.",
                "Pass -Zone with a zone name (Test-RhaiiPrerequisites names zones that offer the accelerator).", spec.Zone);
        var slice = GpuCatalog.IsGpu(spec.Accelerator)
            ? GpuClusterRequests.Resolve(spec)
            : TpuCatalog.Resolve(spec.Accelerator, spec.Topology, string.IsNullOrWhiteSpace(spec.MachineType) ? null : spec.MachineType);
        var hosts = slice.Hosts;
        var max = spec.MaxNodes > 0 ? spec.MaxNodes : Math.Max(hosts, spec.InitialNodeCount);
        var min = spec.Autoscaling ? spec.MinNodes : spec.InitialNodeCount;
        var initial = spec.InitialNodeCount;
        if (initial < 0 || min < 0 || (spec.Autoscaling && (max < 1 || min > max || initial > max)))
            throw new RhaiiException("InvalidNodeCount", RhaiiErrorCategory.InvalidArgument,
                $"Node counts must satisfy 0 <= MinNodes ({min}) <= InitialNodeCount ({initial}) ... <= MaxNodes ({max}), with MaxNodes >= 1.",
                "Use e.g. -MinNodes 0 -MaxNodes 2 (autoscaling from zero).", spec);
        if (slice.MultiHost)
        {
            // A multi-host slice is atomic: a pool holds exactly one slice or none.
            bool Whole(int n) => n == 0 || n == hosts;
            if (!Whole(initial) || !Whole(min) || max != hosts)
                throw new RhaiiException("MultiHostPoolIsAtomic", RhaiiErrorCategory.InvalidArgument,
                    $"Topology {slice.Topology} on {slice.MachineType} spans {hosts} hosts and is provisioned atomically: a pool has {hosts} nodes or none.",
                    $"Use -InitialNodeCount 0 or {hosts}, -MinNodes 0 or {hosts}, -MaxNodes {hosts}; create another pool for another slice.", spec);
        }
        return new TpuClusterPlan(spec, slice, initial, min, max);
    }

    private static void RequireName(string name, string what)
    {
        if (string.IsNullOrEmpty(name) || !NamePattern.IsMatch(name))
            throw new RhaiiException("InvalidGkeName", RhaiiErrorCategory.InvalidArgument,
                $"'{name}' is not a valid {what} name: lowercase letters, digits and hyphens, starting with a letter, at most 40 characters.",
                "Use a name such as rhaii-demo.", name);
    }
}

/// <summary>Builds GKE REST request bodies from a plan and compares live objects with it.</summary>
public static class ClusterRequests
{
    public const string ManagedByLabel = "managed-by";
    public const string ManagedByValue = "rhaiigke";
    public const string TpuTaintKey = "google.com/tpu";

    /// <summary>clusters.create body (the <c>cluster</c> object): VPC-native, Dataplane V2, Gateway API, workload identity, shielded nodes, a system pool.</summary>
    public static JsonObject Cluster(TpuClusterPlan plan)
    {
        var s = plan.Spec;
        var labels = new JsonObject { [ManagedByLabel] = ManagedByValue };
        foreach (var (k, v) in s.Labels) labels[k] = v;
        var cluster = new JsonObject
        {
            ["name"] = s.Name,
            ["description"] = "Created by RhaiiGke (New-TpuCluster)",
            ["locations"] = new JsonArray(s.Zone),
            ["releaseChannel"] = new JsonObject { ["channel"] = s.ReleaseChannel },
            ["ipAllocationPolicy"] = new JsonObject { ["useIpAliases"] = true },
            ["addonsConfig"] = new JsonObject
            {
                ["httpLoadBalancing"] = new JsonObject { ["disabled"] = false },
                ["horizontalPodAutoscaling"] = new JsonObject { ["disabled"] = false },
                ["gcePersistentDiskCsiDriverConfig"] = new JsonObject { ["enabled"] = true },
            },
            ["networkConfig"] = new JsonObject
            {
                ["datapathProvider"] = s.DatapathProvider,
                ["gatewayApiConfig"] = new JsonObject { ["channel"] = s.GatewayApiChannel },
            },
            ["shieldedNodes"] = new JsonObject { ["enabled"] = s.ShieldedNodes },
            ["resourceLabels"] = labels,
            ["nodePools"] = new JsonArray(new JsonObject
            {
                ["name"] = "default-pool",
                ["initialNodeCount"] = s.SystemNodeCount,
                ["config"] = new JsonObject
                {
                    ["machineType"] = s.SystemMachineType,
                    ["diskSizeGb"] = s.DiskSizeGb,
                    ["oauthScopes"] = new JsonArray(GkeAuth.CloudPlatformScope),
                    ["shieldedInstanceConfig"] = new JsonObject { ["enableSecureBoot"] = s.ShieldedNodes, ["enableIntegrityMonitoring"] = true },
                },
                ["autoscaling"] = new JsonObject { ["enabled"] = true, ["minNodeCount"] = 1, ["maxNodeCount"] = Math.Max(s.SystemNodeCount, 5) },
                ["management"] = new JsonObject { ["autoRepair"] = true, ["autoUpgrade"] = true },
            }),
        };
        if (!string.IsNullOrWhiteSpace(s.ClusterVersion)) cluster["initialClusterVersion"] = s.ClusterVersion;
        if (s.WorkloadIdentity)
        {
            cluster["workloadIdentityConfig"] = new JsonObject { ["workloadPool"] = $"{s.Project}.svc.id.goog" };
            cluster["nodePools"]![0]!["config"]!["workloadMetadataConfig"] = new JsonObject { ["mode"] = "GKE_METADATA" };
        }
        if (!string.IsNullOrWhiteSpace(s.Network)) cluster["network"] = s.Network;
        if (!string.IsNullOrWhiteSpace(s.Subnetwork)) cluster["subnetwork"] = s.Subnetwork;
        return cluster;
    }

    /// <summary>nodePools.create body (the <c>nodePool</c> object) for the TPU pool.</summary>
    public static JsonObject TpuNodePool(TpuClusterPlan plan)
    {
        var s = plan.Spec;
        var t = plan.Slice;
        var labels = new JsonObject();
        foreach (var (k, v) in s.NodeLabels) labels[k] = v;
        var config = new JsonObject
        {
            ["machineType"] = t.MachineType,
            ["diskSizeGb"] = s.DiskSizeGb,
            ["oauthScopes"] = new JsonArray(GkeAuth.CloudPlatformScope),
            ["labels"] = labels,
            ["taints"] = new JsonArray(new JsonObject { ["key"] = TpuTaintKey, ["value"] = "present", ["effect"] = "NO_SCHEDULE" }),
            ["shieldedInstanceConfig"] = new JsonObject { ["enableSecureBoot"] = s.ShieldedNodes, ["enableIntegrityMonitoring"] = true },
        };
        if (s.WorkloadIdentity) config["workloadMetadataConfig"] = new JsonObject { ["mode"] = "GKE_METADATA" };
        if (s.Spot) config["spot"] = true;
        if (!string.IsNullOrWhiteSpace(s.Reservation))
            config["reservationAffinity"] = new JsonObject
            {
                ["consumeReservationType"] = "SPECIFIC_RESERVATION",
                ["key"] = "compute.googleapis.com/reservation-name",
                ["values"] = new JsonArray(s.Reservation),
            };
        var placement = new JsonObject { ["tpuTopology"] = t.Topology };
        if (t.MultiHost) placement["type"] = "COMPACT";
        var pool = new JsonObject
        {
            ["name"] = s.NodePoolName,
            ["initialNodeCount"] = plan.InitialNodes,
            ["locations"] = new JsonArray(s.Zone),
            ["config"] = config,
            ["placementPolicy"] = placement,
            ["management"] = new JsonObject { ["autoRepair"] = true, ["autoUpgrade"] = true },
        };
        if (s.Autoscaling)
            pool["autoscaling"] = new JsonObject
            {
                ["enabled"] = true,
                ["minNodeCount"] = plan.MinNodes,
                ["maxNodeCount"] = plan.MaxNodes,
                ["locationPolicy"] = "ANY",
            };
        return pool;
    }

    /// <summary>Human-readable differences between the plan and a live cluster (settings New-TpuCluster does not change in place).</summary>
    public static List<string> ClusterDrift(TpuClusterPlan plan, TpuCluster live)
    {
        var s = plan.Spec;
        var d = new List<string>();
        void Check(string what, string? want, string? have)
        {
            if (!string.Equals(want ?? "", have ?? "", StringComparison.OrdinalIgnoreCase))
                d.Add($"cluster {what}: wanted '{want}', is '{have}'");
        }
        Check("release channel", s.ReleaseChannel, live.ReleaseChannel);
        Check("Gateway API channel", s.GatewayApiChannel, live.GatewayApiChannel ?? "CHANNEL_DISABLED");
        Check("datapath provider", s.DatapathProvider, live.DatapathProvider ?? "LEGACY_DATAPATH");
        if (s.WorkloadIdentity && string.IsNullOrEmpty(live.WorkloadPool)) d.Add("cluster workload identity: wanted on, is off");
        if (s.ShieldedNodes != live.ShieldedNodes) d.Add($"cluster shielded nodes: wanted {(s.ShieldedNodes ? "on" : "off")}, is {(live.ShieldedNodes ? "on" : "off")}");
        if (!live.VpcNative) d.Add("cluster VPC-native (IP aliases): wanted on, is off");
        if (!live.Location.Equals(s.Zone, StringComparison.OrdinalIgnoreCase)) d.Add($"cluster location: wanted '{s.Zone}', is '{live.Location}'");
        foreach (var (k, v) in s.Labels)
            if (!live.Labels.TryGetValue(k, out var have) || have != v) d.Add($"cluster label {k}: wanted '{v}', is '{(live.Labels.TryGetValue(k, out var h) ? h : "(unset)")}'");
        return d;
    }

    /// <summary>Differences between the plan and a live TPU pool.</summary>
    public static List<string> PoolDrift(TpuClusterPlan plan, TpuNodePool live)
    {
        var s = plan.Spec;
        var t = plan.Slice;
        var d = new List<string>();
        if (!string.Equals(live.MachineType, t.MachineType, StringComparison.OrdinalIgnoreCase))
            d.Add($"pool {live.Name} machine type: wanted '{t.MachineType}', is '{live.MachineType}'");
        if (!string.Equals(live.Topology, t.Topology, StringComparison.OrdinalIgnoreCase))
            d.Add($"pool {live.Name} topology: wanted '{t.Topology}', is '{live.Topology}'");
        if (s.Spot != live.Spot) d.Add($"pool {live.Name} spot: wanted {s.Spot}, is {live.Spot}");
        if (!string.Equals(s.Reservation ?? "", live.Reservation ?? "", StringComparison.Ordinal))
            d.Add($"pool {live.Name} reservation: wanted '{s.Reservation}', is '{live.Reservation}'");
        if (s.Autoscaling != live.AutoscalingEnabled) d.Add($"pool {live.Name} autoscaling: wanted {(s.Autoscaling ? "on" : "off")}, is {(live.AutoscalingEnabled ? "on" : "off")}");
        else if (s.Autoscaling && (plan.MinNodes != live.MinNodes || plan.MaxNodes != live.MaxNodes))
            d.Add($"pool {live.Name} autoscaling bounds: wanted {plan.MinNodes}-{plan.MaxNodes}, is {live.MinNodes}-{live.MaxNodes}");
        return d;
    }
}
