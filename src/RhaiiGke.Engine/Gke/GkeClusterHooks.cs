namespace RhaiiGke.Engine.Gke;

/// <summary>
/// Where the Kubernetes side plugs into the GKE cmdlets. Until it is wired, the hooks are null and the
/// cmdlets say the checks could not run. Hooks receive the live cluster (endpoint and CA) and must not
/// print credentials.
/// </summary>
public static class GkeClusterHooks
{
    /// <summary>Lists Gateways (as namespace/name) on a cluster; Remove-TpuCluster refuses while any exist unless -Force.</summary>
    public static Func<TpuCluster, CancellationToken, Task<IReadOnlyList<string>>>? ListGateways { get; set; }

    /// <summary>Kubernetes-side preflight checks for Test-RhaiiPrerequisites -Cluster (e.g. required CRDs).</summary>
    public static Func<TpuCluster, CancellationToken, Task<IReadOnlyList<PrerequisiteCheck>>>? ClusterChecks { get; set; }
}
