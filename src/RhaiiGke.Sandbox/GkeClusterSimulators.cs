using System.Collections.Concurrent;
using RhaiiGke.Sandbox.Gke;
using RhaiiGke.Sandbox.KubeApi;

namespace RhaiiGke.Sandbox;

/// <summary>
/// Gives every cluster the GKE simulator creates a Kubernetes API simulator as its endpoint, and keeps
/// that cluster's nodes in step with its node pools: one node per pool node, with the labels, taints and
/// google.com/tpu capacity GKE gives them. Scaling a pool adds or removes nodes; deleting the cluster
/// stops its API server.
/// </summary>
public sealed class GkeClusterSimulators : IDisposable
{
    private readonly ConcurrentDictionary<string, KubeApiSimulator> _clusters = new(StringComparer.Ordinal);
    private readonly TimeSpan _controllerDelay;
    private readonly Action<KubeApiSimulatorOptions>? _configure;
    private readonly object _sync = new();
    private readonly ConcurrentDictionary<string, GkeSimulatedCluster> _latest = new(StringComparer.Ordinal);
    private GkeApiSimulatorOptions? _gke;

    /// <param name="controllerDelay">Every controller delay of the clusters' API simulators.</param>
    /// <param name="configure">Adjusts each cluster's options before it starts (data plane, policy enforcement, registries...).</param>
    public GkeClusterSimulators(TimeSpan? controllerDelay = null, Action<KubeApiSimulatorOptions>? configure = null)
    {
        _controllerDelay = controllerDelay ?? TimeSpan.FromMilliseconds(50);
        _configure = configure;
    }

    /// <summary>Wires the hooks of a GKE simulator's options (before the simulator starts).</summary>
    public void Attach(GkeApiSimulatorOptions options)
    {
        _gke = options;
        options.EndpointProvider = Endpoint;
        options.ClusterChanged = Sync;
        options.ClusterDeleted = Remove;
    }

    /// <summary>The API simulator behind a cluster, or null.</summary>
    public KubeApiSimulator? For(string project, string location, string name) =>
        _clusters.TryGetValue(Key(project, location, name), out var s) ? s : null;

    public IReadOnlyCollection<string> Clusters => _clusters.Keys.ToList();

    /// <summary>The API server URLs of the clusters' simulators.</summary>
    public IReadOnlyCollection<string> Servers => _clusters.Values.Select(s => s.Server).ToList();

    private static string Key(string project, string location, string name) => $"{project}/{location}/{name}";

    private GkeClusterEndpoint Endpoint(GkeSimulatedCluster cluster)
    {
        var sim = _clusters.GetOrAdd(Key(cluster.Project, cluster.Location, cluster.Name), _ =>
        {
            var options = new KubeApiSimulatorOptions
            {
                KubernetesVersion = "v" + (cluster.MasterVersion is { Length: > 0 } v ? v.Split('-')[0] : "1.34.0"),
                Delays = KubeControllerDelays.Uniform(_controllerDelay),
                // the data plane: vLLM behind ready workload pods and the Istio gateway addresses routed as the
                // HTTPRoutes say; New-TpuCluster creates Dataplane V2 clusters, which enforce NetworkPolicies
                DataPlane = true,
                EnforceNetworkPolicy = true,
                // GKE clusters have the Gateway API (New-TpuCluster enables it): GKE's CRDs, the gke-l7-* GatewayClasses
                // and its gateway controller; the plain sandbox (Start-RhaiiSandbox) has none of them
                GkeGatewayApi = true,
                // the cluster's API accepts the Google access tokens the GKE simulator issued (gke-gcloud-auth-plugin's)
                TokenValidator = cluster.AcceptsToken,
                // GKE's cluster autoscaler: pending pods grow the pools that have autoscaling on
                NodeGroups = () => NodeGroups(cluster.Project, cluster.Location, cluster.Name),
                ScaleNodeGroup = (pool, size) => _gke?.Autoscale?.Invoke(cluster.Project, cluster.Location, cluster.Name, pool, size) ?? "the GKE simulator is not attached",
            };
            _configure?.Invoke(options);
            var s = new KubeApiSimulator(options);
            s.Start();
            return s;
        });
        // served over HTTPS with the cluster's own CA: endpoint 127.0.0.1:PORT, masterAuth.clusterCaCertificate
        return new GkeClusterEndpoint(sim.Server, sim.CaCertificatePem);
    }

    /// <summary>The autoscaled pools of a cluster as the cluster autoscaler sees them (from the last change the GKE simulator reported).</summary>
    private IReadOnlyList<SimulatedNodeGroup> NodeGroups(string project, string location, string name)
    {
        if (!_latest.TryGetValue(Key(project, location, name), out var cluster)) return [];
        return cluster.NodePools.Where(p => p.AutoscalingEnabled).Select(p => new SimulatedNodeGroup
        {
            Name = p.Name,
            Id = $"https://www.googleapis.com/compute/v1/projects/{project}/zones/{(p.Zones.Count > 0 ? p.Zones[0] : location)}/instanceGroups/gke-{name}-{p.Name}-grp",
            Size = p.NodeCount,
            MinSize = p.MinNodeCount,
            MaxSize = p.MaxNodeCount,
            Step = Math.Max(1, p.SliceHosts),
            Template = ToNode(cluster, p, p.NodeCount),
        }).ToList();
    }

    private void Sync(GkeSimulatedCluster cluster)
    {
        _latest[Key(cluster.Project, cluster.Location, cluster.Name)] = cluster;
        var sim = For(cluster.Project, cluster.Location, cluster.Name);
        if (sim is null) { Endpoint(cluster); sim = For(cluster.Project, cluster.Location, cluster.Name)!; }
        lock (_sync)
        {
            var want = new Dictionary<string, SimulatedNode>(StringComparer.Ordinal);
            foreach (var pool in cluster.NodePools)
                for (var i = 0; i < pool.NodeCount; i++)
                {
                    var node = ToNode(cluster, pool, i);
                    want[node.Name] = node;
                }
            var have = sim.ListObjects("v1", "Node").Select(ClusterNodeName).ToHashSet(StringComparer.Ordinal);
            foreach (var name in have.Where(n => !want.ContainsKey(n))) sim.RemoveNode(name);
            sim.AddNodes(want.Values.Where(n => !have.Contains(n.Name)));
        }
    }

    private static string ClusterNodeName(System.Text.Json.Nodes.JsonObject node) => node["metadata"]?["name"]?.GetValue<string>() ?? "";

    private static SimulatedNode ToNode(GkeSimulatedCluster cluster, GkeSimulatedNodePool pool, int index)
    {
        var zone = pool.Zones.Count > 0 ? pool.Zones[index % pool.Zones.Count] : cluster.Location;
        var labels = new Dictionary<string, string>(pool.NodeLabels)
        {
            ["cloud.google.com/gke-nodepool"] = pool.Name,
            ["node.kubernetes.io/instance-type"] = pool.MachineType,
            ["topology.kubernetes.io/zone"] = zone,
            ["kubernetes.io/os"] = "linux",
            ["kubernetes.io/arch"] = "amd64",
        };
        var capacity = new Dictionary<string, string> { ["cpu"] = pool.TpuChipsPerNode > 0 ? "180" : "8", ["memory"] = pool.TpuChipsPerNode > 0 ? "720Gi" : "32Gi", ["pods"] = "110" };
        if (pool.TpuChipsPerNode > 0) capacity["google.com/tpu"] = pool.TpuChipsPerNode.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return new SimulatedNode
        {
            Name = $"gke-{cluster.Name}-{pool.Name}-{index:x4}",
            Labels = labels,
            Taints = pool.Taints.Select(ParseTaint).ToList(),
            Capacity = capacity,
        };
    }

    /// <summary>key=value:Effect or key:Effect.</summary>
    private static SimulatedTaint ParseTaint(string taint)
    {
        var colon = taint.LastIndexOf(':');
        var kv = colon < 0 ? taint : taint[..colon];
        var effect = colon < 0 ? "NoSchedule" : taint[(colon + 1)..];
        var eq = kv.IndexOf('=');
        return eq < 0 ? new SimulatedTaint(kv, null, effect) : new SimulatedTaint(kv[..eq], kv[(eq + 1)..], effect);
    }

    private void Remove(GkeSimulatedCluster cluster)
    {
        _latest.TryRemove(Key(cluster.Project, cluster.Location, cluster.Name), out _);
        if (_clusters.TryRemove(Key(cluster.Project, cluster.Location, cluster.Name), out var sim)) sim.Dispose();
    }

    public void Dispose()
    {
        foreach (var s in _clusters.Values) s.Dispose();
        _clusters.Clear();
    }
}
