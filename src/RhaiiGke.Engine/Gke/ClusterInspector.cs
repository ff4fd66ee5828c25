using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Engine.Kube.Json;

namespace RhaiiGke.Engine.Gke;

/// <summary>A Kubernetes object that holds a cloud load balancer: a Gateway or a Service of type LoadBalancer.</summary>
public sealed record LoadBalancerHolder(string Kind, string Namespace, string Name, string? Address)
{
    public override string ToString() => $"{Kind} {Namespace}/{Name}{(Address is { Length: > 0 } a ? " (" + a + ")" : "")}";
}

/// <summary>
/// The Kubernetes side of the GKE commands: what Remove-TpuCluster must check before deleting a cluster
/// (Gateways and LoadBalancer Services hold forwarding rules, NEGs and health checks that outlive the
/// cluster) and the CRD checks of Test-RhaiiPrerequisites -Cluster. The default implementation,
/// <see cref="GkeClusterInspector"/>, reaches the cluster's API server as Get-TpuClusterCredential
/// -AuthMode Token does; tests may pass their own.
/// </summary>
public interface IClusterInspector
{
    /// <summary>Gateways and Services of type LoadBalancer on the cluster.</summary>
    Task<IReadOnlyList<LoadBalancerHolder>> ListLoadBalancersAsync(TpuCluster cluster, CancellationToken ct);

    /// <summary>Deletes them and waits (up to <paramref name="timeout"/>) until they are gone; returns those still present.</summary>
    Task<IReadOnlyList<LoadBalancerHolder>> DeleteLoadBalancersAsync(TpuCluster cluster, IReadOnlyList<LoadBalancerHolder> holders, TimeSpan timeout, CancellationToken ct);

    /// <summary>Kubernetes-side preflight checks (Gateway API CRDs, the platform's CRDs).</summary>
    Task<IReadOnlyList<PrerequisiteCheck>> ChecksAsync(TpuCluster cluster, CancellationToken ct);
}

/// <summary>Talks to a GKE cluster's API server with the session's access token and the cluster's CA.</summary>
public sealed class GkeClusterInspector : IClusterInspector
{
    private static readonly string[] GatewayApiCrds =
        ["gatewayclasses.gateway.networking.k8s.io", "gateways.gateway.networking.k8s.io", "httproutes.gateway.networking.k8s.io"];

    private static readonly string[] PlatformCrds =
        ["llminferenceservices.serving.kserve.io", "inferencepools.inference.networking.k8s.io", "inferencepools.inference.networking.x-k8s.io", "leaderworkersets.leaderworkerset.x-k8s.io"];

    private readonly GkeSession _session;

    public GkeClusterInspector(GkeSession session) => _session = session;

    /// <summary>How often deletes are polled.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(2);

    private async Task<KubeClient> ClientAsync(TpuCluster cluster, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(cluster.Endpoint))
            throw new RhaiiException("ClusterEndpointNotReady", RhaiiErrorCategory.ResourceUnavailable,
                $"Cluster {cluster.Name} is {cluster.Status} and has no API endpoint.", "Wait until it is RUNNING.", cluster.Name);
        var endpoint = new Uri(cluster.Endpoint.StartsWith("http", StringComparison.OrdinalIgnoreCase) ? cluster.Endpoint : "https://" + cluster.Endpoint);
        var token = await _session.GetAccessTokenAsync(ct).ConfigureAwait(false);
        var ca = endpoint.Scheme == "https" ? cluster.CaCertificate : null;
        // a fresh connection per call: the token is short-lived and KubeClients caches per connection object
        var connection = ClusterConnector.FromEndpoint(endpoint, token, ca, skipTlsVerify: false, "default", cluster.ContextName);
        return new KubeClient(ClusterConnector.ToConfig(connection));
    }

    private static RhaiiException Unreachable(TpuCluster cluster, Exception e) => e switch
    {
        RhaiiException r => r,
        KubeApiException k => k.ToRhaii($"Reading cluster {cluster.Name}", cluster.Name),
        // refused, DNS, TLS, timeout: the shared transport classification (a wrong CA stays KubeApiTlsFailed)
        KubeTransportException t => t.ToRhaii($"Reading cluster {cluster.Name}", cluster.Name),
        _ => new RhaiiException("ClusterUnreachable", RhaiiErrorCategory.ConnectionError,
            $"Cannot reach the Kubernetes API of {cluster.Name} at {cluster.Endpoint}: {e.Message}",
            "Check that the cluster is RUNNING and that this machine may reach its endpoint (authorized networks).", cluster.Name, e),
    };

    public async Task<IReadOnlyList<LoadBalancerHolder>> ListLoadBalancersAsync(TpuCluster cluster, CancellationToken ct)
    {
        using var client = await ClientAsync(cluster, ct).ConfigureAwait(false);
        try { return await ListAsync(client, ct).ConfigureAwait(false); }
        catch (Exception e) when (e is KubeApiException or HttpRequestException or IOException || e is TaskCanceledException && !ct.IsCancellationRequested)
        {
            throw Unreachable(cluster, e);
        }
    }

    private static async Task<List<LoadBalancerHolder>> ListAsync(KubeClient client, CancellationToken ct)
    {
        var found = new List<LoadBalancerHolder>();
        if (await client.Mapper.FindAsync("gateway.networking.k8s.io/v1", "Gateway", ct, refresh: true).ConfigureAwait(false) is not null)
            foreach (var g in (await client.ListAsync("/apis/gateway.networking.k8s.io/v1/gateways", null, ct).ConfigureAwait(false)).Arr("items")?.OfType<JsonObject>() ?? [])
                found.Add(new LoadBalancerHolder("Gateway", g.Namespace() ?? "", g.Name(), g.Arr("status", "addresses")?.OfType<JsonObject>().Select(a => a.Str("value")).FirstOrDefault(v => v is not null)));
        foreach (var s in (await client.ListAsync("/api/v1/services", null, ct).ConfigureAwait(false)).Arr("items")?.OfType<JsonObject>() ?? [])
            if (s.Str("spec", "type") == "LoadBalancer")
                found.Add(new LoadBalancerHolder("Service", s.Namespace() ?? "", s.Name(),
                    s.Arr("status", "loadBalancer", "ingress")?.OfType<JsonObject>().Select(a => a.Str("ip") ?? a.Str("hostname")).FirstOrDefault(v => v is not null)));
        // Services a Gateway controller made for its Gateway go with the Gateway; list them once, under the Gateway
        var gateways = found.Where(f => f.Kind == "Gateway").Select(f => (f.Namespace, f.Name)).ToHashSet();
        return found.Where(f => f.Kind == "Gateway" || !gateways.Any(g => g.Namespace == f.Namespace && f.Name.StartsWith(g.Name + "-", StringComparison.Ordinal))).ToList();
    }

    public async Task<IReadOnlyList<LoadBalancerHolder>> DeleteLoadBalancersAsync(TpuCluster cluster, IReadOnlyList<LoadBalancerHolder> holders, TimeSpan timeout, CancellationToken ct)
    {
        using var client = await ClientAsync(cluster, ct).ConfigureAwait(false);
        try
        {
            // Gateways first: their controller deletes the load balancer and the Services it made
            foreach (var h in holders.OrderBy(h => h.Kind == "Gateway" ? 0 : 1))
            {
                var path = Path(h);
                _session.Log.Verbose($"Deleting {h} so its load balancer is released before the cluster goes.");
                await client.DeleteAsync(path, "Foreground", false, ct).ConfigureAwait(false);
            }
            var deadline = DateTime.UtcNow + timeout;
            while (true)
            {
                var left = new List<LoadBalancerHolder>();
                foreach (var h in holders)
                    if (await client.GetAsync(Path(h), ct).ConfigureAwait(false) is not null) left.Add(h);
                if (left.Count == 0 || DateTime.UtcNow >= deadline) return left;
                _session.Log.Progress("Remove-TpuCluster", $"waiting for {left.Count} load balancer holder(s) to go: {left[0]}", -1);
                await Task.Delay(PollInterval, ct).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is KubeApiException or HttpRequestException or IOException || e is TaskCanceledException && !ct.IsCancellationRequested)
        {
            throw Unreachable(cluster, e);
        }
    }

    private static string Path(LoadBalancerHolder h) => h.Kind == "Gateway"
        ? $"/apis/gateway.networking.k8s.io/v1/namespaces/{Uri.EscapeDataString(h.Namespace)}/gateways/{Uri.EscapeDataString(h.Name)}"
        : $"/api/v1/namespaces/{Uri.EscapeDataString(h.Namespace)}/services/{Uri.EscapeDataString(h.Name)}";

    public async Task<IReadOnlyList<PrerequisiteCheck>> ChecksAsync(TpuCluster cluster, CancellationToken ct)
    {
        using var client = await ClientAsync(cluster, ct).ConfigureAwait(false);
        try
        {
            var present = new Dictionary<string, bool>(StringComparer.Ordinal);
            foreach (var crd in GatewayApiCrds.Concat(PlatformCrds))
            {
                var live = await client.GetAsync($"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd}", ct).ConfigureAwait(false);
                present[crd] = live is not null && Readiness.Condition(live, "Established")?.Str("status") == "True";
            }
            var missingGateway = GatewayApiCrds.Where(c => !present[c]).ToList();
            var missingPlatform = PlatformCrds.Where(c => !present[c]).ToList();
            var checks = new List<PrerequisiteCheck>
            {
                missingGateway.Count == 0
                    ? new PrerequisiteCheck { Name = "RequiredCrds", Status = PrerequisiteStatus.Passed, Message = $"Gateway API CRDs are established: {string.Join(", ", GatewayApiCrds)}." }
                    : new PrerequisiteCheck
                    {
                        Name = "RequiredCrds", Status = PrerequisiteStatus.Failed,
                        Message = $"Gateway API CRDs missing or not established: {string.Join(", ", missingGateway)}.",
                        RecommendedAction = $"gcloud container clusters update {cluster.Name} --location {cluster.Location} --gateway-api=standard",
                        Data = new Dictionary<string, object?> { ["Missing"] = missingGateway },
                    },
                missingPlatform.Count == 0
                    ? new PrerequisiteCheck { Name = "PlatformCrds", Status = PrerequisiteStatus.Passed, Message = $"KServe, InferencePool and LeaderWorkerSet CRDs are established." }
                    : new PrerequisiteCheck
                    {
                        Name = "PlatformCrds", Status = PrerequisiteStatus.Warning,
                        Message = $"Not installed yet: {string.Join(", ", missingPlatform)}.",
                        RecommendedAction = "Install-RhaiiOperators installs them (it leaves GKE-managed CRDs alone).",
                        Data = new Dictionary<string, object?> { ["Missing"] = missingPlatform },
                    },
            };
            return checks;
        }
        catch (Exception e) when (e is KubeApiException or HttpRequestException or IOException || e is TaskCanceledException && !ct.IsCancellationRequested)
        {
            throw Unreachable(cluster, e);
        }
    }
}
