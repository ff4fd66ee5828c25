using System.Text.Json.Nodes;
using RhaiiGke.Engine.Catalog;

namespace RhaiiGke.Engine.Gke;

/// <summary>
/// A small typed client for GKE REST v1 (clusters, node pools, operations). Returns Models types; request
/// bodies are plain JSON objects in the API's own field names.
/// </summary>
public sealed class GkeClient
{
    private readonly GkeSession _session;

    public GkeClient(GkeSession session) => _session = session;

    public GkeSession Session => _session;

    private GoogleApiTransport Http => _session.Transport;

    private Uri Url(string relative) => new(_session.Endpoints.Container, relative);

    private static string E(string segment) => Uri.EscapeDataString(segment);

    private static string LocationPath(string project, string location) => $"v1/projects/{E(project)}/locations/{E(location)}";

    private static string ClusterPath(string project, string location, string cluster) => $"{LocationPath(project, location)}/clusters/{E(cluster)}";

    private static string PoolPath(string project, string location, string cluster, string pool) => $"{ClusterPath(project, location, cluster)}/nodePools/{E(pool)}";

    // ---- clusters ----

    /// <summary>The cluster, or null when it does not exist.</summary>
    public async Task<TpuCluster?> GetClusterAsync(string project, string location, string name, CancellationToken ct, bool nodeCounts = true)
    {
        var json = await Http.GetAsync(Url(ClusterPath(project, location, name)), $"cluster {name}", ct, nullOnNotFound: true).ConfigureAwait(false);
        if (json is null) return null;
        return await MapClusterAsync(json, project, nodeCounts, ct).ConfigureAwait(false);
    }

    /// <summary>Clusters in a location ("-" for all locations).</summary>
    public async Task<IReadOnlyList<TpuCluster>> ListClustersAsync(string project, string location, CancellationToken ct, bool nodeCounts = true)
    {
        var json = await Http.GetAsync(Url($"{LocationPath(project, location)}/clusters"), $"clusters in {project}/{location}", ct).ConfigureAwait(false);
        var list = new List<TpuCluster>();
        if (json?["clusters"] is JsonArray arr)
            foreach (var c in arr.OfType<JsonObject>())
                list.Add(await MapClusterAsync(c, project, nodeCounts, ct).ConfigureAwait(false));
        return list;
    }

    public async Task<GkeOperation> CreateClusterAsync(string project, string location, JsonObject cluster, CancellationToken ct)
    {
        var name = cluster["name"]?.GetValue<string>() ?? "";
        var json = await Http.PostAsync(Url($"{LocationPath(project, location)}/clusters"), new JsonObject { ["cluster"] = cluster }, $"cluster {name}", ct).ConfigureAwait(false);
        return MapOperation(json!, project, location);
    }

    public async Task<GkeOperation?> DeleteClusterAsync(string project, string location, string name, CancellationToken ct)
    {
        var json = await Http.DeleteAsync(Url(ClusterPath(project, location, name)), $"cluster {name}", ct, nullOnNotFound: true).ConfigureAwait(false);
        return json is null ? null : MapOperation(json, project, location);
    }

    // ---- node pools ----

    public async Task<TpuNodePool?> GetNodePoolAsync(string project, string location, string cluster, string pool, CancellationToken ct, bool nodeCounts = true)
    {
        var json = await Http.GetAsync(Url(PoolPath(project, location, cluster, pool)), $"node pool {cluster}/{pool}", ct, nullOnNotFound: true).ConfigureAwait(false);
        if (json is null) return null;
        return await MapPoolAsync(json, project, location, cluster, nodeCounts, ct).ConfigureAwait(false);
    }

    public async Task<GkeOperation> CreateNodePoolAsync(string project, string location, string cluster, JsonObject pool, CancellationToken ct)
    {
        var name = pool["name"]?.GetValue<string>() ?? "";
        var json = await Http.PostAsync(Url($"{ClusterPath(project, location, cluster)}/nodePools"), new JsonObject { ["nodePool"] = pool },
            $"node pool {cluster}/{name}", ct).ConfigureAwait(false);
        return MapOperation(json!, project, location);
    }

    public async Task<GkeOperation?> DeleteNodePoolAsync(string project, string location, string cluster, string pool, CancellationToken ct)
    {
        var json = await Http.DeleteAsync(Url(PoolPath(project, location, cluster, pool)), $"node pool {cluster}/{pool}", ct, nullOnNotFound: true).ConfigureAwait(false);
        return json is null ? null : MapOperation(json, project, location);
    }

    public async Task<GkeOperation> SetNodePoolSizeAsync(string project, string location, string cluster, string pool, int nodeCount, CancellationToken ct)
    {
        var json = await Http.PostAsync(Url(PoolPath(project, location, cluster, pool) + ":setSize"), new JsonObject { ["nodeCount"] = nodeCount },
            $"node pool {cluster}/{pool}", ct).ConfigureAwait(false);
        return MapOperation(json!, project, location);
    }

    public async Task<GkeOperation> SetNodePoolAutoscalingAsync(string project, string location, string cluster, string pool, bool enabled, int min, int max, CancellationToken ct)
    {
        var autoscaling = new JsonObject { ["enabled"] = enabled };
        if (enabled)
        {
            autoscaling["minNodeCount"] = min;
            autoscaling["maxNodeCount"] = max;
            autoscaling["locationPolicy"] = "ANY";
        }
        var json = await Http.PostAsync(Url(PoolPath(project, location, cluster, pool) + ":setAutoscaling"), new JsonObject { ["autoscaling"] = autoscaling },
            $"node pool {cluster}/{pool}", ct).ConfigureAwait(false);
        return MapOperation(json!, project, location);
    }

    // ---- operations ----

    public async Task<GkeOperation> GetOperationAsync(string project, string location, string operation, CancellationToken ct)
    {
        var json = await Http.GetAsync(Url($"{LocationPath(project, location)}/operations/{E(operation)}"), $"operation {operation}", ct).ConfigureAwait(false);
        return MapOperation(json!, project, location);
    }

    public async Task<IReadOnlyList<GkeOperation>> ListOperationsAsync(string project, string location, CancellationToken ct)
    {
        var json = await Http.GetAsync(Url($"{LocationPath(project, location)}/operations"), $"operations in {project}/{location}", ct).ConfigureAwait(false);
        return json?["operations"] is JsonArray arr ? arr.OfType<JsonObject>().Select(o => MapOperation(o, project, location)).ToList() : [];
    }

    /// <summary>Operations not yet DONE whose target is the cluster (or one of its node pools).</summary>
    public async Task<IReadOnlyList<GkeOperation>> RunningOperationsAsync(string project, string location, string cluster, CancellationToken ct)
    {
        var suffix = "/clusters/" + cluster;
        return (await ListOperationsAsync(project, location, ct).ConfigureAwait(false))
            .Where(o => !o.Done && o.TargetLink is { } t && (t.EndsWith(suffix, StringComparison.Ordinal) || t.Contains(suffix + "/", StringComparison.Ordinal)))
            .ToList();
    }

    /// <summary>
    /// Polls until DONE, reporting progress; throws the classified error when the operation failed and
    /// GkeOperationTimeout after the session's timeout. Cancellation stops waiting, not the operation.
    /// </summary>
    public async Task<GkeOperation> WaitAsync(GkeOperation operation, string activity, CancellationToken ct, TimeSpan? timeout = null)
    {
        var limit = timeout ?? _session.OperationTimeout;
        var started = DateTime.UtcNow;
        var op = operation;
        var log = _session.Log;
        var lastStatus = "";
        while (!op.Done)
        {
            var elapsed = DateTime.UtcNow - started;
            if (elapsed > limit)
                throw new GkeApiException("GkeOperationTimeout", RhaiiErrorCategory.OperationTimeout,
                    $"{op.OperationType} {op.Name} did not finish within {limit.TotalMinutes:0.#} min; it goes on in GKE.",
                    "Run the same command again later: it resumes and does not duplicate work.", op.TargetLink)
                { OperationName = op.Name, Retryable = true };
            var status = $"{op.Status} {op.Detail} ({elapsed:mm\\:ss} elapsed)".Replace("  ", " ");
            log.Progress(activity, status, op.PercentComplete);
            if (op.Status != lastStatus) log.Verbose($"{activity}: {op.OperationType} {op.Name} is {op.Status}.");
            lastStatus = op.Status;
            await Task.Delay(_session.PollInterval, ct).ConfigureAwait(false);
            op = await GetOperationAsync(op.Project, op.Location, op.Name, ct).ConfigureAwait(false);
        }
        log.Progress(activity, "done", 100);
        if (op.Failed) throw GkeErrors.FromOperation(op, TargetName(op.TargetLink) ?? activity);
        log.Verbose($"{activity}: {op.OperationType} {op.Name} finished.");
        return op;
    }

    internal static string? TargetName(string? targetLink)
    {
        if (string.IsNullOrEmpty(targetLink)) return null;
        var i = targetLink.IndexOf("/clusters/", StringComparison.Ordinal);
        if (i < 0) return targetLink;
        var rest = targetLink[(i + "/clusters/".Length)..];
        var parts = rest.Split('/');
        return parts.Length >= 3 && parts[1] == "nodePools" ? $"node pool {parts[0]}/{parts[2]}" : $"cluster {parts[0]}";
    }

    // ---- mapping ----

    internal static GkeOperation MapOperation(JsonObject o, string project, string fallbackLocation)
    {
        int percent = -1;
        if (o["progress"]?["stages"] is JsonArray stages && stages.Count > 0)
        {
            var done = stages.OfType<JsonObject>().Count(s => S(s["status"]) == "DONE");
            percent = (int)Math.Round(100.0 * done / stages.Count);
        }
        int? code = null;
        string? message = null;
        if (o["error"] is JsonObject err)
        {
            code = I(err["code"]);
            message = S(err["message"]);
        }
        if (message is null && S(o["statusMessage"]) is { Length: > 0 } sm && S(o["status"]) == "DONE") { message = sm; code ??= 2; }
        return new GkeOperation
        {
            Name = S(o["name"]) ?? "",
            Project = project,
            Location = S(o["location"]) ?? S(o["zone"]) ?? fallbackLocation,
            OperationType = S(o["operationType"]) ?? "",
            Status = S(o["status"]) ?? "",
            Detail = S(o["detail"]),
            TargetLink = S(o["targetLink"]),
            SelfLink = S(o["selfLink"]),
            PercentComplete = percent,
            ErrorCode = code,
            ErrorMessage = message,
            StartTime = T(o["startTime"]),
            EndTime = T(o["endTime"]),
        };
    }

    private async Task<TpuCluster> MapClusterAsync(JsonObject c, string project, bool nodeCounts, CancellationToken ct)
    {
        var name = S(c["name"]) ?? "";
        var location = S(c["location"]) ?? S(c["zone"]) ?? "";
        var pools = new List<TpuNodePool>();
        if (c["nodePools"] is JsonArray arr)
            foreach (var p in arr.OfType<JsonObject>())
                pools.Add(await MapPoolAsync(p, project, location, name, nodeCounts, ct).ConfigureAwait(false));
        var datapath = S(c["networkConfig"]?["datapathProvider"]);
        var calico = B(c["networkPolicy"]?["enabled"]);
        return new TpuCluster
        {
            Name = name,
            Project = project,
            Location = location,
            Status = S(c["status"]) ?? "",
            StatusMessage = S(c["statusMessage"]),
            Endpoint = ToUrl(S(c["endpoint"])),
            CaCertificate = S(c["masterAuth"]?["clusterCaCertificate"]),
            MasterVersion = S(c["currentMasterVersion"]),
            ReleaseChannel = S(c["releaseChannel"]?["channel"]),
            GatewayApiChannel = S(c["networkConfig"]?["gatewayApiConfig"]?["channel"]),
            DatapathProvider = datapath,
            NetworkPolicyEnforced = datapath == "ADVANCED_DATAPATH" || calico,
            WorkloadPool = S(c["workloadIdentityConfig"]?["workloadPool"]),
            ShieldedNodes = B(c["shieldedNodes"]?["enabled"]),
            VpcNative = B(c["ipAllocationPolicy"]?["useIpAliases"]),
            Labels = Dict(c["resourceLabels"]),
            NodePools = pools,
            CreateTime = T(c["createTime"]),
            SelfLink = S(c["selfLink"]),
        };
    }

    private async Task<TpuNodePool> MapPoolAsync(JsonObject p, string project, string location, string cluster, bool nodeCounts, CancellationToken ct)
    {
        var config = p["config"] as JsonObject;
        var machine = S(config?["machineType"]) ?? "";
        var labels = Dict(config?["labels"]);
        var tpu = TpuCatalog.Find(machineType: machine).FirstOrDefault();
        var topology = S(p["placementPolicy"]?["tpuTopology"])
            ?? (labels.TryGetValue("cloud.google.com/gke-tpu-topology", out var lt) ? lt : null)
            ?? (tpu is not null ? TpuCatalog.Find(tpu.Accelerator, machine).OrderBy(t => t.Hosts).First().Topology : null);
        var gpu = tpu is null ? GpuOfPool(config, machine) : null;
        var taints = new List<string>();
        if (config?["taints"] is JsonArray ta)
            foreach (var t in ta.OfType<JsonObject>())
                taints.Add($"{S(t["key"])}={S(t["value"])}:{EffectName(S(t["effect"]))}");
        var autoscaling = p["autoscaling"] as JsonObject;
        var zones = p["locations"] is JsonArray la ? la.Select(z => z?.GetValue<string>() ?? "").Where(z => z.Length > 0).ToList() : [location];
        var count = I(p["initialNodeCount"]) ?? 0;
        if (nodeCounts && p["instanceGroupUrls"] is JsonArray igs && igs.Count > 0)
            count = await NodeCountAsync(igs, I(p["initialNodeCount"]) ?? 0, ct).ConfigureAwait(false);
        var reservation = config?["reservationAffinity"] is JsonObject ra && ra["values"] is JsonArray rv && rv.Count > 0 ? S(rv[0]) : null;
        return new TpuNodePool
        {
            Name = S(p["name"]) ?? "",
            ClusterName = cluster,
            Project = project,
            Location = location,
            Status = S(p["status"]) ?? "",
            StatusMessage = S(p["statusMessage"]),
            MachineType = machine,
            Accelerator = tpu?.Accelerator ?? gpu?.Type,
            Topology = tpu is null ? gpu?.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) : topology,
            ChipsPerNode = tpu?.ChipsPerHost ?? gpu?.Count ?? 0,
            GpuDriverVersion = gpu?.Driver,
            NodeCount = count,
            AutoscalingEnabled = B(autoscaling?["enabled"]),
            MinNodes = I(autoscaling?["minNodeCount"]) ?? I(autoscaling?["totalMinNodeCount"]) ?? 0,
            MaxNodes = I(autoscaling?["maxNodeCount"]) ?? I(autoscaling?["totalMaxNodeCount"]) ?? 0,
            Spot = B(config?["spot"]) || B(config?["preemptible"]),
            Reservation = reservation,
            Zones = zones,
            NodeLabels = labels,
            Taints = taints,
            Version = S(p["version"]),
        };
    }

    /// <summary>The GPUs of a pool: config.accelerators[0], else those a GPU machine type carries; null for CPU and TPU pools.</summary>
    private static (string Type, int Count, string? Driver)? GpuOfPool(JsonObject? config, string machine)
    {
        if ((config?["accelerators"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault() is { } acc && S(acc["acceleratorType"]) is { } type)
        {
            var countNode = acc["acceleratorCount"];
            var count = I(countNode) ?? (int.TryParse(S(countNode), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var c) ? c : 0);
            return (type, count, S(acc["gpuDriverInstallationConfig"]?["gpuDriverVersion"]));
        }
        return GpuCatalog.Find(machineType: machine).FirstOrDefault() is { } row ? (row.Accelerator, row.ChipsPerHost, null) : null;
    }

    /// <summary>The pool's size is the target size of its managed instance groups (the NodePool resource has no current count).</summary>
    private async Task<int> NodeCountAsync(JsonArray instanceGroupUrls, int fallback, CancellationToken ct)
    {
        var total = 0;
        foreach (var node in instanceGroupUrls)
        {
            var url = S(node);
            if (url is null) continue;
            var idx = url.IndexOf("/projects/", StringComparison.Ordinal);
            if (idx < 0) return fallback;
            // Rebase onto the configured Compute endpoint (the API returns public URLs).
            var relative = url[(idx + 1)..].Replace("/instanceGroups/", "/instanceGroupManagers/", StringComparison.Ordinal);
            try
            {
                var igm = await Http.GetAsync(new Uri(_session.Endpoints.Compute, relative), "instance group", ct, nullOnNotFound: true).ConfigureAwait(false);
                total += I(igm?["targetSize"]) ?? 0;
            }
            catch (GkeApiException ex)
            {
                _session.Log.Debug($"Could not read the instance group size ({ex.ErrorId}); using the pool's initial node count.");
                return fallback;
            }
        }
        return total;
    }

    /// <summary>GKE returns the endpoint as an IP or host; a simulator may return a full URL.</summary>
    internal static string? ToUrl(string? endpoint) =>
        string.IsNullOrWhiteSpace(endpoint) ? null : endpoint.Contains("://", StringComparison.Ordinal) ? endpoint : "https://" + endpoint;

    private static string EffectName(string? e) => e switch
    {
        "NO_SCHEDULE" => "NoSchedule", "PREFER_NO_SCHEDULE" => "PreferNoSchedule", "NO_EXECUTE" => "NoExecute", _ => e ?? "",
    };

    internal static string? S(JsonNode? n) => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    internal static int? I(JsonNode? n)
    {
        if (n is not JsonValue v) return null;
        if (v.TryGetValue<int>(out var i)) return i;
        // saturate out-of-range values instead of wrapping them (99999999999 must not read as 1,215,752,191)
        if (v.TryGetValue<long>(out var l)) return (int)Math.Clamp(l, int.MinValue, int.MaxValue);
        if (v.TryGetValue<double>(out var d)) return double.IsNaN(d) ? null : (int)Math.Clamp(d, int.MinValue, int.MaxValue);
        return v.TryGetValue<string>(out var s) && long.TryParse(s, out var p) ? (int)Math.Clamp(p, int.MinValue, int.MaxValue) : null;
    }

    internal static bool B(JsonNode? n) => n is JsonValue v && v.TryGetValue<bool>(out var b) && b;

    private static DateTimeOffset? T(JsonNode? n) => S(n) is { } s && DateTimeOffset.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var t) ? t : null;

    internal static Dictionary<string, string> Dict(JsonNode? n)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        if (n is JsonObject o)
            foreach (var (k, v) in o)
                if (S(v) is { } s) d[k] = s;
        return d;
    }
}
