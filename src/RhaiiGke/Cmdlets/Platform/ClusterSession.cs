using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;
using RhaiiGke.Engine.Kube;

namespace RhaiiGke.Cmdlets.Platform;

/// <summary>
/// The session's default cluster (per runspace): set by Connect-RhaiiCluster and Start-RhaiiSandbox,
/// used by every cluster command that gets no -Cluster. Other cluster cmdlets call <see cref="Resolve"/>.
/// </summary>
public static class ClusterSession
{
    private static readonly ConditionalWeakTable<Runspace, ClusterConnection> s_defaults = new();
    private static readonly object s_noRunspace = new();
    private static ClusterConnection? s_fallback;

    public static ClusterConnection? Default
    {
        get
        {
            var rs = Runspace.DefaultRunspace;
            if (rs is null) return s_fallback;
            return s_defaults.TryGetValue(rs, out var c) ? c : null;
        }
        set
        {
            var rs = Runspace.DefaultRunspace;
            if (rs is null) { lock (s_noRunspace) s_fallback = value; return; }
            s_defaults.Remove(rs);
            if (value is not null) s_defaults.Add(rs, value);
        }
    }

    /// <summary>The explicit connection, else the session default; a clear error when there is none.</summary>
    public static ClusterConnection Resolve(ClusterConnection? explicitConnection) =>
        explicitConnection ?? Default ?? throw new RhaiiException("NotConnected", RhaiiErrorCategory.ConnectionError,
            "No cluster connection: pass -Cluster, pipe a connection in, or connect first.",
            "Run Connect-RhaiiCluster (kubeconfig, endpoint, or a TpuCluster from the pipeline), or Start-RhaiiSandbox for a local sandbox.");

    /// <summary>A sandbox, or an API server on this machine (a simulator, kind): controllers answer in milliseconds.</summary>
    public static bool IsLocal(ClusterConnection c) =>
        c.IsSandbox || (Uri.TryCreate(c.Server, UriKind.Absolute, out var u) && u.IsLoopback);

    /// <summary>Faster polling against a local sandbox, where controllers act in milliseconds.</summary>
    public static void TuneForSandbox(ClusterConnection c, KubeApplyOptions o)
    {
        if (!IsLocal(c)) return;
        if (o.PollInterval > TimeSpan.FromMilliseconds(100)) o.PollInterval = TimeSpan.FromMilliseconds(100);
        o.RetryBaseDelay = TimeSpan.FromMilliseconds(50);
        o.MaxRetryDelay = TimeSpan.FromSeconds(1);
    }

    /// <summary>A connection for a GKE cluster from the pipeline: its kubeconfig context (gke_project_location_name).</summary>
    public static ClusterConnection FromTpuCluster(TpuCluster cluster, string? kubeconfig, string? @namespace)
    {
        try { return ClusterConnector.FromKubeconfig(kubeconfig, cluster.ContextName, @namespace); }
        catch (RhaiiException e) when (e.ErrorId is "KubeContextNotFound" or "KubeconfigNotFound")
        {
            throw new RhaiiException("ClusterCredentialRequired", RhaiiErrorCategory.AuthenticationError,
                $"No kubeconfig context '{cluster.ContextName}' for cluster {cluster.Name}.",
                $"Run Get-TpuClusterCredential for {cluster.Name} (it writes the context, or pipe its output to Connect-RhaiiCluster).", cluster, e);
        }
    }
}
