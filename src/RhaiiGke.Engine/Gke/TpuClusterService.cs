namespace RhaiiGke.Engine.Gke;

/// <summary>Decides whether a state change may happen (the cmdlet's ShouldProcess): target, action.</summary>
public delegate bool GkeShouldProcess(string target, string action);

/// <summary>A change to a node pool's size and/or autoscaling (Set-TpuNodePool).</summary>
public sealed record NodePoolChange(int? Size = null, bool? Autoscaling = null, int? MinNodes = null, int? MaxNodes = null);

/// <summary>
/// The TPU cluster lifecycle over <see cref="GkeClient"/>: idempotent and resumable create with drift
/// reporting, stockout classification with alternative zones and cleanup of failed pools, resize and
/// autoscaling, guarded delete, and kubeconfig entries.
/// </summary>
public sealed class TpuClusterService
{
    private readonly GkeSession _session;
    private readonly GkeClient _gke;
    private readonly PrerequisiteService _preflight;
    private readonly ComputeClient _compute;
    private readonly IClusterInspector _inspector;

    /// <param name="inspector">The Kubernetes side (Gateway check before delete); default: the cluster's API server with the session's token.</param>
    public TpuClusterService(GkeSession session, IClusterInspector? inspector = null)
    {
        _session = session;
        _gke = new GkeClient(session);
        _inspector = inspector ?? new GkeClusterInspector(session);
        _preflight = new PrerequisiteService(session, _inspector);
        _compute = new ComputeClient(session);
    }

    /// <summary>With -Force: longest wait for deleted Gateways and LoadBalancer Services to release their load balancers.</summary>
    public TimeSpan LoadBalancerReleaseTimeout { get; init; } = TimeSpan.FromMinutes(5);

    private IRhaiiLog Log => _session.Log;

    public GkeClient Client => _gke;

    public Task<TpuCluster?> GetAsync(string project, string location, string name, CancellationToken ct) =>
        _gke.GetClusterAsync(project, location, name, ct);

    public Task<IReadOnlyList<TpuCluster>> ListAsync(string project, string? location, CancellationToken ct) =>
        _gke.ListClustersAsync(project, string.IsNullOrWhiteSpace(location) ? "-" : location, ct);

    /// <summary>
    /// Makes the cluster and its TPU pool exist. Existing resources are adopted and differences reported in
    /// Drift; a create interrupted earlier is resumed by waiting for its operation. With noWait the next
    /// needed operation is started and the cluster returned with PendingOperation; call again to continue.
    /// </summary>
    /// <param name="removeOnFailure">When the TPU pool cannot be created (stockout, quota...) and this call created the cluster, delete the cluster too.</param>
    public async Task<TpuCluster?> EnsureAsync(TpuClusterSpec spec, GkeShouldProcess shouldProcess, bool noWait, bool skipPreflight, CancellationToken ct, bool removeOnFailure = false)
    {
        spec.Project = _session.RequireProject(spec.Project);
        var plan = TpuClusterPlan.Create(spec);
        var p = spec.Project;
        var zone = spec.Zone;
        var clusterTarget = $"{p}/{zone}/{spec.Name}";
        var poolTarget = $"{clusterTarget}/{spec.NodePoolName}";
        var activity = $"New-TpuCluster {spec.Name}";

        Log.Progress(activity, "reading the cluster", 2);
        var cluster = await _gke.GetClusterAsync(p, zone, spec.Name, ct).ConfigureAwait(false);
        var existingPool = cluster?.NodePools.FirstOrDefault(n => n.Name == spec.NodePoolName);

        if (existingPool is null && !skipPreflight)
            await PreflightAsync(plan, ct).ConfigureAwait(false);

        // ---- cluster ----
        var createdHere = cluster is null;
        if (cluster is null)
        {
            var tpuDesc = plan.IsGpu ? $"{plan.Slice.MachineType}, {plan.Slice.ChipsPerHost} x {plan.Slice.Accelerator}" : $"{plan.Slice.MachineType} {plan.Slice.Topology}";
            if (!shouldProcess(clusterTarget, $"Create GKE cluster (release channel {spec.ReleaseChannel}, Dataplane V2, Gateway API, workload identity) and {plan.Kind} node pool {spec.NodePoolName} ({tpuDesc}, {plan.MinNodes}-{plan.MaxNodes} nodes{(spec.Spot ? ", spot" : "")})"))
                return null;
            GkeOperation op;
            try
            {
                op = await _gke.CreateClusterAsync(p, zone, ClusterRequests.Cluster(plan), ct).ConfigureAwait(false);
                Log.Verbose($"Creating cluster {clusterTarget} ({op.Name}); this usually takes 5-15 minutes.");
            }
            catch (GkeApiException ex) when (ex.ErrorId == "GkeAlreadyExists")
            {
                Log.Verbose($"Cluster {clusterTarget} appeared meanwhile; adopting it.");
                op = (await _gke.RunningOperationsAsync(p, zone, spec.Name, ct).ConfigureAwait(false)).FirstOrDefault() ?? new GkeOperation { Status = "DONE" };
            }
            if (noWait) return await PendingAsync(p, zone, spec.Name, op, ct).ConfigureAwait(false);
            if (!op.Done) await _gke.WaitAsync(op, $"Creating cluster {spec.Name}", ct).ConfigureAwait(false);
        }
        else
        {
            var drift = ClusterRequests.ClusterDrift(plan, cluster);
            foreach (var d in drift) Log.Warning($"Drift: {d} (New-TpuCluster does not change existing clusters).");
            switch (cluster.Status)
            {
                case "PROVISIONING" or "RECONCILING":
                    var running = await _gke.RunningOperationsAsync(p, zone, spec.Name, ct).ConfigureAwait(false);
                    if (noWait && running.Count > 0) return await PendingAsync(p, zone, spec.Name, running[0], ct).ConfigureAwait(false);
                    foreach (var r in running)
                    {
                        Log.Verbose($"Resuming: waiting for {r.OperationType} {r.Name} that is already running on {spec.Name}.");
                        await _gke.WaitAsync(r, $"Waiting for {r.OperationType} on {spec.Name}", ct).ConfigureAwait(false);
                    }
                    break;
                case "STOPPING":
                    throw new RhaiiException("GkeClusterStopping", RhaiiErrorCategory.InvalidOperation,
                        $"Cluster {clusterTarget} is being deleted.", "Wait until it is gone, then run New-TpuCluster again.", clusterTarget);
                case "ERROR":
                    throw new RhaiiException("GkeClusterInError", RhaiiErrorCategory.InvalidResult,
                        $"Cluster {clusterTarget} is in ERROR: {cluster.StatusMessage}", "Remove it (Remove-TpuCluster) and create it again.", clusterTarget);
            }
        }

        // ---- TPU node pool ----
        cluster = await _gke.GetClusterAsync(p, zone, spec.Name, ct, nodeCounts: false).ConfigureAwait(false)
            ?? throw new RhaiiException("GkeClusterVanished", RhaiiErrorCategory.ObjectNotFound, $"Cluster {clusterTarget} disappeared while it was being created.", "Run New-TpuCluster again.", clusterTarget);
        var pool = cluster.NodePools.FirstOrDefault(n => n.Name == spec.NodePoolName);
        if (pool is { Status: "ERROR" })
        {
            Log.Warning($"Node pool {poolTarget} is in ERROR ({pool.StatusMessage}); removing it before creating it again.");
            if (!shouldProcess(poolTarget, "Delete failed TPU node pool")) return null;
            await DeletePoolAsync(p, zone, spec.Name, spec.NodePoolName, ct).ConfigureAwait(false);
            pool = null;
        }
        if (pool is null)
        {
            if (!shouldProcess(poolTarget, $"Create {plan.Kind} node pool ({plan.Slice.MachineType}, {(plan.IsGpu ? $"{plan.Slice.ChipsPerHost} x {plan.Slice.Accelerator}, driver {spec.GpuDriverVersion}" : $"topology {plan.Slice.Topology}")}, {plan.MinNodes}-{plan.MaxNodes} nodes{(spec.Spot ? ", spot" : "")})"))
                return null;
            try
            {
                var op = await _gke.CreateNodePoolAsync(p, zone, spec.Name, plan.IsGpu ? GpuClusterRequests.NodePool(plan) : ClusterRequests.TpuNodePool(plan), ct).ConfigureAwait(false);
                Log.Verbose($"Creating node pool {poolTarget} ({op.Name}).");
                if (noWait) return await PendingAsync(p, zone, spec.Name, op, ct).ConfigureAwait(false);
                await _gke.WaitAsync(op, $"Creating {plan.Kind} node pool {spec.NodePoolName}", ct).ConfigureAwait(false);
            }
            catch (GkeApiException ex) when (ex.ErrorId != "GkeAlreadyExists" && ex.ErrorId != "GkeClusterBusy" && ex.ErrorId != "GkeOperationTimeout")
            {
                throw await PoolCreateFailedAsync(plan, ex, createdHere, removeOnFailure, ct).ConfigureAwait(false);
            }
            catch (GkeApiException ex) when (ex.ErrorId == "GkeAlreadyExists")
            {
                Log.Verbose($"Node pool {poolTarget} appeared meanwhile; adopting it.");
            }
        }
        else if (pool.Status is "PROVISIONING" or "RECONCILING" or "STOPPING")
        {
            var running = await _gke.RunningOperationsAsync(p, zone, spec.Name, ct).ConfigureAwait(false);
            if (noWait && running.Count > 0) return await PendingAsync(p, zone, spec.Name, running[0], ct).ConfigureAwait(false);
            foreach (var r in running)
            {
                Log.Verbose($"Resuming: waiting for {r.OperationType} {r.Name}.");
                try { await _gke.WaitAsync(r, $"Waiting for {r.OperationType} on {spec.Name}", ct).ConfigureAwait(false); }
                catch (GkeApiException ex) when (r.OperationType == "CREATE_NODE_POOL" && ex.ErrorId != "GkeOperationTimeout")
                {
                    throw await PoolCreateFailedAsync(plan, ex, createdHere, removeOnFailure, ct).ConfigureAwait(false);
                }
            }
        }

        var final = await _gke.GetClusterAsync(p, zone, spec.Name, ct).ConfigureAwait(false)
            ?? throw new RhaiiException("GkeClusterVanished", RhaiiErrorCategory.ObjectNotFound, $"Cluster {clusterTarget} disappeared.", "Run New-TpuCluster again.", clusterTarget);
        var allDrift = ClusterRequests.ClusterDrift(plan, final);
        if (final.NodePools.FirstOrDefault(n => n.Name == spec.NodePoolName) is { } livePool)
        {
            var poolDrift = ClusterRequests.PoolDrift(plan, livePool);
            foreach (var d in poolDrift) Log.Warning($"Drift: {d} (Set-TpuNodePool changes size and autoscaling; other settings need a new pool).");
            livePool.Drift = poolDrift;
            allDrift.AddRange(poolDrift);
        }
        final.Drift = allDrift;
        Log.Progress(activity, "done", 100);
        return final;
    }

    /// <summary>Quota and accelerator availability before anything is created; throws when they rule the plan out.</summary>
    private async Task PreflightAsync(TpuClusterPlan plan, CancellationToken ct)
    {
        Log.Progress($"New-TpuCluster {plan.Spec.Name}", "preflight: accelerator in zone and TPU quota", 4);
        var result = await _preflight.RunAsync(new PrerequisiteRequest
        {
            Project = plan.Spec.Project,
            Zone = plan.Spec.Zone,
            Accelerator = plan.Slice.Accelerator,
            Topology = plan.Slice.Topology,
            MachineType = plan.Slice.MachineType,
            InitialNodes = plan.InitialNodes,
            MaxNodes = plan.MaxNodes,
            Spot = plan.Spec.Spot,
            Reservation = plan.Spec.Reservation,
            RequiredApis = [],
        }, ct).ConfigureAwait(false);
        foreach (var w in result.Warnings) Log.Warning($"Preflight {w.Name}: {w.Message}");
        if (result.Checks.FirstOrDefault(c => c.Name == "Credentials" && c.Status == PrerequisiteStatus.Failed) is { } cred)
            throw new GkeApiException("GkeAuthenticationFailed", RhaiiErrorCategory.AuthenticationError, cred.Message, cred.RecommendedAction, plan.Spec.Name);
        if (result.Checks.FirstOrDefault(c => c.Name is "TpuQuota" or "GpuQuota" && c.Status == PrerequisiteStatus.Failed) is { } quota)
            throw new GkeApiException("GkeQuotaExceeded", RhaiiErrorCategory.QuotaExceeded,
                $"Preflight: not enough {plan.Kind} quota, nothing was created. {quota.Message}", quota.RecommendedAction, plan.Spec.Name)
            { Reason = quota.Data.TryGetValue("Metric", out var m) ? m?.ToString() : null };
        if (result.Checks.FirstOrDefault(c => c.Name is "AcceleratorInZone" or "MachineTypeInZone" && c.Status == PrerequisiteStatus.Failed) is { } zone)
            throw new GkeApiException("AcceleratorNotOfferedInZone", RhaiiErrorCategory.ResourceUnavailable,
                $"Preflight: {zone.Message} Nothing was created.", zone.RecommendedAction, plan.Spec.Zone)
            {
                AlternativeZones = zone.Data.TryGetValue("AlternativeZones", out var z) && z is IReadOnlyList<string> list ? list : [],
            };
    }

    /// <summary>Removes a pool that failed to create and returns the error to throw, with alternative zones for a stockout.</summary>
    private async Task<Exception> PoolCreateFailedAsync(TpuClusterPlan plan, GkeApiException ex, bool createdHere, bool removeOnFailure, CancellationToken ct) =>
        await LeftBehindAsync(plan, await PoolErrorAsync(plan, ex, ct).ConfigureAwait(false), createdHere, removeOnFailure, ct).ConfigureAwait(false);

    /// <summary>
    /// The pool failed after the cluster exists: say what is left running (and billed) and the command that removes it,
    /// or, with removeOnFailure and a cluster this call created, remove it and say so.
    /// </summary>
    private async Task<GkeApiException> LeftBehindAsync(TpuClusterPlan plan, GkeApiException ex, bool createdHere, bool removeOnFailure, CancellationToken ct)
    {
        var s = plan.Spec;
        var target = $"{s.Project}/{s.Zone}/{s.Name}";
        var remove = $"Remove-TpuCluster -Name {s.Name} -Zone {s.Zone} -Project {s.Project}";
        string what, fix;
        if (removeOnFailure && createdHere)
        {
            try
            {
                Log.Warning($"Removing cluster {target}, which this New-TpuCluster created, because its TPU node pool could not be created (-RemoveOnFailure).");
                var op = await _gke.DeleteClusterAsync(s.Project, s.Zone, s.Name, ct).ConfigureAwait(false);
                if (op is not null) await _gke.WaitAsync(op, $"Deleting cluster {s.Name}", ct).ConfigureAwait(false);
                what = $" Cluster {target}, created by this run, was removed (-RemoveOnFailure); nothing is left.";
                fix = ex.RecommendedAction ?? "";
            }
            catch (GkeApiException cleanup)
            {
                what = $" Cluster {target} could not be removed ({cleanup.ErrorId}: {cleanup.Message}); it is still there and billed.";
                fix = $"{ex.RecommendedAction} Remove the cluster with: {remove}".Trim();
            }
        }
        else
        {
            var live = await _gke.GetClusterAsync(s.Project, s.Zone, s.Name, ct, nodeCounts: false).ConfigureAwait(false);
            if (live is null) return ex;
            var pools = live.NodePools.Count == 0 ? "no node pools" : "node pool(s) " + string.Join(", ", live.NodePools.Select(p => $"{p.Name} ({p.MachineType})"));
            what = $" Left in place: cluster {target} ({live.Status}{(createdHere ? ", created by this run" : "")}) with {pools} in zone {s.Zone}; it is billed until removed.";
            fix = $"{ex.RecommendedAction} Run New-TpuCluster again to add the TPU pool to this cluster, or remove it with: {remove}"
                + (createdHere ? " (or pass -RemoveOnFailure to remove it automatically when the pool fails)." : ".");
            fix = fix.Trim();
        }
        return new GkeApiException(ex.ErrorId, ex.Category, ex.Message + what, fix, ex.Target, ex.InnerException ?? ex)
        {
            HttpStatus = ex.HttpStatus, GoogleStatus = ex.GoogleStatus, Reason = ex.Reason, Retryable = ex.Retryable, OperationName = ex.OperationName, AlternativeZones = ex.AlternativeZones,
        };
    }

    private async Task<GkeApiException> PoolErrorAsync(TpuClusterPlan plan, GkeApiException ex, CancellationToken ct)
    {
        var s = plan.Spec;
        try
        {
            var pool = await _gke.GetNodePoolAsync(s.Project, s.Zone, s.Name, s.NodePoolName, ct, nodeCounts: false).ConfigureAwait(false);
            if (pool is not null)
            {
                Log.Warning($"Removing node pool {s.NodePoolName}, which failed to create ({ex.ErrorId}), so it holds no resources and a re-run starts clean.");
                await DeletePoolAsync(s.Project, s.Zone, s.Name, s.NodePoolName, ct).ConfigureAwait(false);
            }
        }
        catch (GkeApiException cleanup) when (cleanup.ErrorId != "GkeOperationTimeout")
        {
            Log.Warning($"Could not remove the failed node pool {s.NodePoolName}: {cleanup.Message}");
        }
        if (ex.ErrorId != "GkeStockout") return ex;
        var zones = await _preflight.AlternativeZonesAsync(s.Project, plan.AcceleratorType, s.Zone, ct).ConfigureAwait(false);
        var fix = zones.Count > 0
            ? $"Zones that offer {plan.AcceleratorType}: {string.Join(", ", zones)}. Run {(plan.IsGpu ? "New-GpuCluster" : "New-TpuCluster")} again with -Zone <zone> (a new cluster), or use -Spot, -Reservation, or retry later."
            : "No other zone offers the accelerator to this project; use -Spot or -Reservation, or retry later.";
        return new GkeApiException("GkeStockout", RhaiiErrorCategory.ResourceUnavailable,
            $"No {plan.Slice.MachineType} capacity in {s.Zone} ({ex.Reason ?? "stockout"}); the failed node pool was removed. {ex.Message}", fix, s.Zone, ex)
        {
            HttpStatus = ex.HttpStatus, GoogleStatus = ex.GoogleStatus, Reason = ex.Reason, Retryable = true, OperationName = ex.OperationName, AlternativeZones = zones,
        };
    }

    private async Task DeletePoolAsync(string project, string zone, string cluster, string pool, CancellationToken ct)
    {
        var op = await _gke.DeleteNodePoolAsync(project, zone, cluster, pool, ct).ConfigureAwait(false);
        if (op is not null) await _gke.WaitAsync(op, $"Deleting node pool {pool}", ct).ConfigureAwait(false);
    }

    private async Task<TpuCluster> PendingAsync(string project, string zone, string name, GkeOperation op, CancellationToken ct)
    {
        var c = await _gke.GetClusterAsync(project, zone, name, ct, nodeCounts: false).ConfigureAwait(false)
            ?? new TpuCluster { Name = name, Project = project, Location = zone, Status = "PROVISIONING" };
        c.PendingOperation = op;
        Log.Verbose($"-NoWait: {op.OperationType} {op.Name} is {op.Status}; run the same New-TpuCluster again to continue.");
        return c;
    }

    /// <summary>Changes size and/or autoscaling; scaling to zero lowers the autoscaling minimum to 0 when needed.</summary>
    public async Task<TpuNodePool?> SetNodePoolAsync(string project, string zone, string cluster, string pool, NodePoolChange change, GkeShouldProcess shouldProcess, bool noWait, CancellationToken ct)
    {
        var target = $"{project}/{zone}/{cluster}/{pool}";
        var live = await _gke.GetNodePoolAsync(project, zone, cluster, pool, ct).ConfigureAwait(false)
            ?? throw new GkeApiException("GkeNotFound", RhaiiErrorCategory.ObjectNotFound, $"Node pool {target} does not exist.", "Get-TpuCluster lists the pools.", target);

        var enabled = change.Autoscaling ?? live.AutoscalingEnabled;
        var min = change.MinNodes ?? live.MinNodes;
        var max = change.MaxNodes ?? (live.MaxNodes > 0 ? live.MaxNodes : Math.Max(1, change.Size ?? live.NodeCount));
        if (enabled && change.Size is 0 && change.MinNodes is null && min > 0)
        {
            Log.Verbose($"Scaling to zero: lowering the autoscaling minimum of {pool} from {min} to 0.");
            min = 0;
        }
        if (enabled && (min < 0 || max < 1 || min > max))
            throw new RhaiiException("InvalidNodeCount", RhaiiErrorCategory.InvalidArgument, $"Autoscaling bounds {min}-{max} are invalid.", "Use 0 <= -MinNodes <= -MaxNodes, -MaxNodes >= 1.", target);
        if (enabled && change.Size is int size && (size < min || size > max))
            throw new RhaiiException("NodePoolSizeOutOfRange", RhaiiErrorCategory.InvalidArgument,
                $"Size {size} is outside the autoscaling bounds {min}-{max} of {pool}; the autoscaler would undo it.",
                size > max ? $"Add -MaxNodes {size}." : $"Add -MinNodes {size}.", target);
        if (live.IsTpu && live.Topology is { } topo && Catalog.TpuCatalog.Find(live.Accelerator, live.MachineType, topo).FirstOrDefault() is { MultiHost: true } slice
            && change.Size is int s2 && s2 != 0 && s2 != slice.Hosts)
            throw new RhaiiException("MultiHostPoolIsAtomic", RhaiiErrorCategory.InvalidArgument,
                $"{pool} holds a {topo} multi-host slice: its size is 0 or {slice.Hosts}.", $"Use -Size 0 or -Size {slice.Hosts}.", target);

        var autoscalingChanges = enabled != live.AutoscalingEnabled || enabled && (min != live.MinNodes || max != live.MaxNodes);
        GkeOperation? last = null;
        if (autoscalingChanges)
        {
            var what = enabled ? $"Set autoscaling to {min}-{max} nodes" : "Disable autoscaling";
            if (shouldProcess(target, what))
            {
                last = await _gke.SetNodePoolAutoscalingAsync(project, zone, cluster, pool, enabled, min, max, ct).ConfigureAwait(false);
                if (!noWait || change.Size is not null) await _gke.WaitAsync(last, $"{what} on {pool}", ct).ConfigureAwait(false);
            }
        }
        if (change.Size is int n && n != live.NodeCount)
        {
            if (shouldProcess(target, $"Resize from {live.NodeCount} to {n} nodes{(n == 0 ? " (scale to zero)" : "")}"))
            {
                last = await _gke.SetNodePoolSizeAsync(project, zone, cluster, pool, n, ct).ConfigureAwait(false);
                if (!noWait) await _gke.WaitAsync(last, $"Resizing {pool} to {n}", ct).ConfigureAwait(false);
            }
        }
        else if (change.Size is int same) Log.Verbose($"{pool} already has {same} node(s).");
        return await _gke.GetNodePoolAsync(project, zone, cluster, pool, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Deletes the cluster. Refuses (ClusterHasGateways) while Gateways or Services of type LoadBalancer exist: their
    /// forwarding rules, NEGs and health checks outlive the cluster. With <paramref name="force"/> they are deleted first
    /// (Gateways, then Services) and waited for; whatever cannot be checked or removed is named in a warning.
    /// </summary>
    public async Task<GkeOperation?> RemoveAsync(string project, string zone, string name, bool force, GkeShouldProcess shouldProcess, bool noWait, CancellationToken ct)
    {
        var target = $"{project}/{zone}/{name}";
        var cluster = await _gke.GetClusterAsync(project, zone, name, ct, nodeCounts: false).ConfigureAwait(false);
        if (cluster is null)
        {
            Log.Verbose($"Cluster {target} does not exist; nothing to remove.");
            return null;
        }
        IReadOnlyList<LoadBalancerHolder> holders = [];
        if (cluster.Status is "RUNNING" or "RECONCILING" && !string.IsNullOrEmpty(cluster.Endpoint))
        {
            try { holders = await _inspector.ListLoadBalancersAsync(cluster, ct).ConfigureAwait(false); }
            catch (RhaiiException ex) when (force)
            {
                Log.Warning($"Could not list the Gateways and LoadBalancer Services of {name} ({ex.Message}); deleting anyway (-Force). Check the project for orphaned forwarding rules, NEGs and health checks.");
            }
            catch (RhaiiException ex)
            {
                throw new RhaiiException("ClusterGatewayCheckFailed", ex.Category,
                    $"Could not check {target} for Gateways and LoadBalancer Services before deleting it: {ex.Message}",
                    "Fix access to the cluster's API server and run Remove-TpuCluster again, or pass -Force to delete it anyway (their load balancers may be left behind).", target, ex);
            }
            if (holders.Count > 0 && !force)
                throw new RhaiiException("ClusterHasGateways", RhaiiErrorCategory.InvalidOperation,
                    $"Cluster {target} still has {string.Join(", ", holders)}; deleting it now would leak their load balancers (forwarding rules, NEGs, health checks).",
                    "Delete them first (Remove-LlmInferenceService, kubectl delete gateway/service), or pass -Force to have Remove-TpuCluster delete them and wait for their load balancers to go before it deletes the cluster.", target);
        }
        else if (!force)
            Log.Warning($"Cluster {target} is {cluster.Status}: its Gateways and LoadBalancer Services cannot be checked. Check the project for orphaned forwarding rules, NEGs and health checks afterwards.");
        if (holders.Count > 0)
        {
            if (!shouldProcess(target, $"Delete {string.Join(", ", holders)} (releasing their load balancers), then the cluster")) return null;
            var left = await _inspector.DeleteLoadBalancersAsync(cluster, holders, LoadBalancerReleaseTimeout, ct).ConfigureAwait(false);
            if (left.Count > 0)
                Log.Warning($"{string.Join(", ", left)} still exist(s) after {LoadBalancerReleaseTimeout}; deleting {target} anyway (-Force). Their load balancers may be left behind: check the project's forwarding rules, NEGs and health checks.");
        }
        if (!shouldProcess(target, $"Delete GKE cluster and all its node pools ({string.Join(", ", cluster.NodePools.Select(p => p.Name))})")) return null;
        var op = await _gke.DeleteClusterAsync(project, zone, name, ct).ConfigureAwait(false);
        if (op is null) return null;
        Log.Verbose($"Deleting cluster {target} ({op.Name}).");
        if (noWait) return op;
        return await _gke.WaitAsync(op, $"Deleting cluster {name}", ct).ConfigureAwait(false);
    }

    /// <summary>A kubeconfig entry for the cluster; writes or merges it into <paramref name="path"/> when given (plugin mode only).</summary>
    /// <param name="exec">Plugin mode: extra arguments and environment for gke-gcloud-auth-plugin (e.g. --use_application_default_credentials).</param>
    public async Task<TpuClusterCredential> GetCredentialAsync(TpuCluster cluster, ClusterAuthMode mode, string? path, bool setCurrentContext, CancellationToken ct, KubeconfigExec? exec = null)
    {
        if (cluster.Status != "RUNNING" && cluster.Status != "RECONCILING" || string.IsNullOrEmpty(cluster.Endpoint))
            throw new RhaiiException("ClusterEndpointNotReady", RhaiiErrorCategory.ResourceUnavailable,
                $"Cluster {cluster.Name} is {cluster.Status} and has no API endpoint yet.", "Wait until it is RUNNING (New-TpuCluster waits by default).", cluster.Name);
        if (mode == ClusterAuthMode.Token && path is not null)
            throw new RhaiiException("TokenKubeconfigRefused", RhaiiErrorCategory.SecurityError,
                "Refusing to write an access token into a kubeconfig file: secrets never go to files.",
                "Use -AuthMode GcloudAuthPlugin with -Path, or keep the token in memory (the object's Token property).", path);
        System.Security.SecureString? token = null;
        DateTimeOffset? expires = null;
        if (mode == ClusterAuthMode.Token)
        {
            token = await _session.GetAccessTokenAsync(ct).ConfigureAwait(false);
            expires = DateTimeOffset.UtcNow.AddMinutes(55);
        }
        var entry = Kubeconfig.Entry(cluster, mode, exec);
        string? written = null;
        if (path is not null)
        {
            written = Kubeconfig.Merge(path, cluster, mode, setCurrentContext, exec: exec);
            Log.Verbose($"Wrote context {cluster.ContextName} to {written}.");
        }
        return new TpuClusterCredential
        {
            ClusterName = cluster.Name,
            Project = cluster.Project,
            Location = cluster.Location,
            ContextName = cluster.ContextName,
            Server = cluster.Endpoint!,
            CertificateAuthorityData = cluster.CaCertificate,
            AuthMode = mode,
            Token = token,
            TokenExpiresAt = expires,
            KubeconfigPath = written,
            Kubeconfig = entry,
        };
    }

    /// <summary>Compute client for preflight-style reads.</summary>
    public ComputeClient Compute => _compute;
}
