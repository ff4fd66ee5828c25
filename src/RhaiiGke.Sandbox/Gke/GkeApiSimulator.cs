using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace RhaiiGke.Sandbox.Gke;

/// <summary>
/// A loopback imitation of the GKE v1 REST API (clusters, node pools, operations), the Compute Engine reads
/// RhaiiGke needs (projects, acceleratorTypes, machineTypes, regions with quotas, instance group managers),
/// Service Usage (service state) and an OAuth token endpoint. Operations move PENDING → RUNNING → DONE over
/// <see cref="GkeApiSimulatorOptions.OperationDuration"/>; a cluster accepts one mutating operation at a
/// time; stockouts, quota and permission errors can be injected and come back in GKE's own shapes.
/// Listens on 127.0.0.1 with a free port; production code reaches it only through its URL.
/// </summary>
public sealed class GkeApiSimulator : IDisposable
{
    private readonly HttpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly object _gate = new();
    private readonly Dictionary<string, JsonObject> _clusters = new(StringComparer.Ordinal); // key: project/location/name
    private readonly List<SimOperation> _operations = [];
    private readonly HashSet<string> _issuedTokens = new(StringComparer.Ordinal);
    private readonly Dictionary<string, double> _quotaOverrides = new(StringComparer.Ordinal); // project/region/metric
    private readonly ConcurrentQueue<string> _requestLog = new();
    private readonly Lazy<string> _placeholderCa = new(CreatePlaceholderCa);
    private long _operationCounter;

    public GkeApiSimulator(GkeApiSimulatorOptions? options = null)
    {
        Options = options ?? new GkeApiSimulatorOptions();
        Options.Autoscale = AutoscalePool;
        (_listener, Url) = Listen();
        _loop = Task.Run(AcceptLoopAsync);
    }

    public GkeApiSimulatorOptions Options { get; }

    /// <summary>Base URL (http://127.0.0.1:PORT/). The GKE API is under v1/, Compute under compute/v1/, Service Usage under serviceusage/.</summary>
    public Uri Url { get; }

    public string ContainerEndpoint => Url.ToString();
    public string ComputeEndpoint => new Uri(Url, "compute/v1/").ToString();
    public string ServiceUsageEndpoint => new Uri(Url, "serviceusage/").ToString();
    public string TokenUri => new Uri(Url, "token").ToString();

    /// <summary>The environment variables that point RhaiiGke at this simulator.</summary>
    public IReadOnlyDictionary<string, string> EnvironmentVariables => new Dictionary<string, string>
    {
        ["RHAII_GKE_ENDPOINT"] = ContainerEndpoint,
        ["RHAII_COMPUTE_ENDPOINT"] = ComputeEndpoint,
        ["RHAII_SERVICEUSAGE_ENDPOINT"] = ServiceUsageEndpoint,
    };

    /// <summary>Injected failures; change them at any time.</summary>
    public GkeSimulatorFaults Faults { get; } = new();

    /// <summary>While true, operations stay RUNNING (to interrupt work midway in tests).</summary>
    public bool HoldOperations { get; set; }

    /// <summary>Raised when an operation starts: type, name, target link.</summary>
    public event Action<string, string, string>? OperationStarted;

    /// <summary>Every request as "METHOD /path" (no headers, no bodies).</summary>
    public IReadOnlyList<string> RequestLog => _requestLog.ToArray();

    /// <summary>Requests whose method matches and whose path contains <paramref name="pathPart"/>.</summary>
    public int CountRequests(string method, string pathPart) =>
        _requestLog.Count(r => r.StartsWith(method + " ", StringComparison.Ordinal) && r.Contains(pathPart, StringComparison.Ordinal));

    /// <summary>A token the simulator accepts, as the /token endpoint would issue it.</summary>
    public string IssueToken()
    {
        var token = "ya29.sim-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(12)).ToLowerInvariant();
        lock (_gate) _issuedTokens.Add(token);
        return token;
    }

    /// <summary>True for a token the /token endpoint issued or <see cref="GkeApiSimulatorOptions.AcceptedTokens"/> lists (what the simulated clusters accept too).</summary>
    public bool AcceptsToken(string token)
    {
        lock (_gate) return _issuedTokens.Contains(token) || Options.AcceptedTokens.Contains(token);
    }

    /// <summary>Writes a service-account key whose token_uri is this simulator (for -CredentialFile or ADC tests).</summary>
    public string WriteServiceAccountKey(string path, string project, string account = "rhaii-test")
    {
        using var rsa = RSA.Create(2048);
        var key = new JsonObject
        {
            ["type"] = "service_account",
            ["project_id"] = project,
            ["private_key_id"] = Convert.ToHexString(RandomNumberGenerator.GetBytes(20)).ToLowerInvariant(),
            ["private_key"] = rsa.ExportPkcs8PrivateKeyPem() + "\n",
            ["client_email"] = $"{account}@{project}.iam.gserviceaccount.com",
            ["client_id"] = "100000000000000000001",
            ["auth_uri"] = new Uri(Url, "auth").ToString(),
            ["token_uri"] = TokenUri,
        };
        File.WriteAllText(path, key.ToJsonString());
        return path;
    }

    /// <summary>Sets a regional quota limit for a project (metric such as TPU_V6E_SLICE).</summary>
    public void SetQuota(string project, string region, string metric, double limit)
    {
        lock (_gate) _quotaOverrides[$"{project}/{region}/{metric}"] = limit;
    }

    /// <summary>Names of the clusters that exist now, as project/location/name.</summary>
    public IReadOnlyList<string> ClusterKeys { get { lock (_gate) { Advance(); return _clusters.Keys.OrderBy(k => k).ToList(); } } }

    /// <summary>A snapshot of a cluster as the endpoint hook sees it, or null.</summary>
    public GkeSimulatedCluster? GetCluster(string project, string location, string name)
    {
        lock (_gate)
        {
            Advance();
            return _clusters.TryGetValue(Key(project, location, name), out var c) ? Snapshot(project, location, c) : null;
        }
    }

    /// <summary>Adds a cluster directly (RUNNING, no operation), for tests that start from an existing cluster.</summary>
    public void SeedCluster(string project, string location, JsonObject cluster)
    {
        lock (_gate)
        {
            var name = S(cluster["name"]) ?? throw new ArgumentException("cluster.name is required");
            var c = NewClusterResource(project, location, cluster);
            c["status"] = "RUNNING";
            foreach (var p in Pools(c)) { p["status"] = "RUNNING"; p["_size"] = p["initialNodeCount"]?.DeepClone() ?? 0; }
            AssignEndpoint(project, location, c);
            _clusters[Key(project, location, name)] = c;
        }
    }

    // =====================================================================================
    // HTTP plumbing
    // =====================================================================================

    private static (HttpListener, Uri) Listen()
    {
        for (var attempt = 0; ; attempt++)
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            var listener = new HttpListener();
            var prefix = $"http://127.0.0.1:{port}/";
            listener.Prefixes.Add(prefix);
            try
            {
                listener.Start();
                return (listener, new Uri(prefix));
            }
            catch (HttpListenerException) when (attempt < 20)
            {
                listener.Close();
            }
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext ctx;
            try { ctx = await _listener.GetContextAsync().ConfigureAwait(false); }
            catch (Exception) when (_stop.IsCancellationRequested || !_listener.IsListening) { return; }
            catch (HttpListenerException) { continue; }
            _ = Task.Run(() => HandleAsync(ctx));
        }
    }

    private async Task HandleAsync(HttpListenerContext ctx)
    {
        var req = ctx.Request;
        var path = req.Url!.AbsolutePath;
        _requestLog.Enqueue($"{req.HttpMethod} {path}");
        Reply reply;
        try
        {
            string body;
            using (var reader = new StreamReader(req.InputStream, Encoding.UTF8)) body = await reader.ReadToEndAsync().ConfigureAwait(false);
            reply = Route(req.HttpMethod, path, req.Url.Query, req.Headers["Authorization"], body);
        }
        catch (Exception ex)
        {
            reply = Error(500, "INTERNAL", "Simulator error: " + ex.Message);
        }
        try
        {
            var bytes = Encoding.UTF8.GetBytes(reply.Body.ToJsonString());
            ctx.Response.StatusCode = reply.Status;
            ctx.Response.ContentType = "application/json; charset=UTF-8";
            ctx.Response.ContentLength64 = bytes.Length;
            await ctx.Response.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
            ctx.Response.Close();
        }
        catch (Exception) { /* client went away */ }
    }

    private readonly record struct Reply(int Status, JsonNode Body);

    private static Reply Ok(JsonNode body) => new(200, body);

    private static Reply Error(int code, string status, string message, JsonArray? details = null)
    {
        var err = new JsonObject { ["code"] = code, ["message"] = message, ["status"] = status };
        if (details is not null) err["details"] = details;
        return new Reply(code, new JsonObject { ["error"] = err });
    }

    private Reply Route(string method, string path, string query, string? authorization, string body)
    {
        if (path == "/token" && method == "POST") return IssueTokenReply(body);

        if (Options.RequireAuthentication)
        {
            var token = authorization is not null && authorization.StartsWith("Bearer ", StringComparison.Ordinal) ? authorization[7..].Trim() : null;
            bool known;
            lock (_gate) known = token is not null && (_issuedTokens.Contains(token) || Options.AcceptedTokens.Contains(token));
            if (!known)
                return Error(401, "UNAUTHENTICATED",
                    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.");
        }

        var seg = path.Trim('/').Split('/').Select(Uri.UnescapeDataString).ToArray();
        lock (_gate)
        {
            Advance();
            if (seg.Length >= 3 && seg[0] == "compute" && seg[1] == "v1") return Compute(method, seg[2..], query);
            if (seg.Length >= 2 && seg[0] == "serviceusage" && seg[1] == "v1") return ServiceUsage(method, seg[2..]);
            if (seg.Length >= 1 && seg[0] == "v1") return Container(method, seg[1..], body);
        }
        return Error(404, "NOT_FOUND", $"The simulator does not serve {method} {path}.");
    }

    private Reply IssueTokenReply(string form)
    {
        var fields = form.Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(kv => kv.Split('=', 2))
            .ToDictionary(kv => Uri.UnescapeDataString(kv[0]), kv => kv.Length > 1 ? Uri.UnescapeDataString(kv[1].Replace('+', ' ')) : "");
        var grant = fields.GetValueOrDefault("grant_type");
        if (grant is not ("urn:ietf:params:oauth:grant-type:jwt-bearer" or "refresh_token"))
            return new Reply(400, new JsonObject { ["error"] = "unsupported_grant_type", ["error_description"] = $"Unsupported grant type: {grant}" });
        if (grant.EndsWith("jwt-bearer", StringComparison.Ordinal) && Faults.RejectTokenRequests)
            return new Reply(400, new JsonObject { ["error"] = "invalid_grant", ["error_description"] = "Invalid JWT Signature." });
        return Ok(new JsonObject { ["access_token"] = IssueToken(), ["expires_in"] = 3599, ["token_type"] = "Bearer" });
    }

    // =====================================================================================
    // Container (GKE v1)
    // =====================================================================================

    private Reply Container(string method, string[] s, string body)
    {
        // projects/{p}/(locations|zones)/{l}/...
        if (s.Length < 4 || s[0] != "projects" || s[2] is not ("locations" or "zones"))
            return Error(404, "NOT_FOUND", "Unknown GKE path.");
        var project = s[1];
        var location = s[3];
        var rest = s[4..];
        if (ApiDisabled("container.googleapis.com", project) is { } disabled) return disabled;
        if (Options.Projects is not null && !Options.Projects.Contains(project))
            return Error(403, "PERMISSION_DENIED", $"Permission denied on resource project {project}.");

        // clusters
        if (rest.Length == 1 && rest[0] == "clusters")
        {
            if (method == "GET") return Permission("container.clusters.list", project) ?? ListClusters(project, location);
            if (method == "POST") return Permission("container.clusters.create", project) ?? CreateCluster(project, location, body);
        }
        if (rest.Length == 1 && rest[0] == "operations" && method == "GET")
            return Permission("container.operations.list", project) ?? Ok(new JsonObject
            {
                ["operations"] = new JsonArray(_operations.Where(o => o.Project == project && (location == "-" || o.Location == location)).Select(o => (JsonNode)o.ToJson(Url)).ToArray()),
            });
        if (rest.Length == 2 && rest[0] == "operations" && method == "GET")
        {
            var op = _operations.FirstOrDefault(o => o.Project == project && o.Name == rest[1]);
            return Permission("container.operations.get", project)
                ?? (op is null ? Error(404, "NOT_FOUND", $"Operation \"projects/{project}/locations/{location}/operations/{rest[1]}\" not found.") : Ok(op.ToJson(Url)));
        }
        // gcloud container get-server-config: v1 projects.locations.getServerConfig (and the zones/{z}/serverconfig alias)
        if (rest.Length == 1 && rest[0] is "serverConfig" or "serverconfig" && method == "GET")
            return Permission("container.clusters.list", project) ?? ServerConfig(location);
        if (rest.Length < 2 || rest[0] != "clusters") return Error(404, "NOT_FOUND", "Unknown GKE path.");

        var clusterName = rest[1];
        var key = Key(project, location, clusterName);
        _clusters.TryGetValue(key, out var cluster);
        var clusterMissing = Error(404, "NOT_FOUND", $"Not found: projects/{project}/locations/{location}/clusters/{clusterName}.");

        if (rest.Length == 2)
        {
            if (method == "GET") return Permission("container.clusters.get", project) ?? (cluster is null ? clusterMissing : Ok(Public(cluster)));
            if (method == "DELETE") return Permission("container.clusters.delete", project) ?? (cluster is null ? clusterMissing : DeleteCluster(project, location, clusterName, cluster));
            if (method == "PUT") return Permission("container.clusters.update", project) ?? (cluster is null ? clusterMissing : UpdateCluster(project, location, clusterName, cluster, body));
        }
        if (cluster is null) return clusterMissing;
        if (rest.Length == 3 && rest[2] == "nodePools")
        {
            if (method == "GET") return Permission("container.clusters.get", project) ?? Ok(new JsonObject { ["nodePools"] = new JsonArray(Pools(cluster).Select(p => (JsonNode)PublicPool(p)).ToArray()) });
            if (method == "POST") return Permission("container.clusters.update", project) ?? CreateNodePool(project, location, clusterName, cluster, body);
        }
        if (rest.Length == 4 && rest[2] == "nodePools")
        {
            var (poolName, verb) = rest[3].Split(':') is { Length: 2 } parts ? (parts[0], parts[1]) : (rest[3], "");
            var pool = Pools(cluster).FirstOrDefault(p => S(p["name"]) == poolName);
            if (pool is null)
                return Error(404, "NOT_FOUND", $"Not found: projects/{project}/locations/{location}/clusters/{clusterName}/nodePools/{poolName}.");
            if (method == "GET" && verb == "") return Permission("container.clusters.get", project) ?? Ok(PublicPool(pool));
            if (method == "DELETE" && verb == "") return Permission("container.clusters.update", project) ?? DeleteNodePool(project, location, clusterName, cluster, pool);
            if (method == "POST" && verb == "setSize") return Permission("container.clusters.update", project) ?? SetSize(project, location, clusterName, cluster, pool, body);
            if (method == "POST" && verb == "setAutoscaling") return Permission("container.clusters.update", project) ?? SetAutoscaling(project, location, clusterName, cluster, pool, body);
            if (method == "PUT" && verb == "") return Permission("container.clusters.update", project) ?? UpdateNodePool(project, location, clusterName, cluster, pool, body);
        }
        return Error(404, "NOT_FOUND", "Unknown GKE path.");
    }

    private Reply ListClusters(string project, string location)
    {
        var list = _clusters.Where(kv => kv.Key.StartsWith(project + "/", StringComparison.Ordinal) && (location == "-" || kv.Key.Split('/')[1] == location))
            .OrderBy(kv => kv.Key).Select(kv => (JsonNode)Public(kv.Value)).ToArray();
        return Ok(new JsonObject { ["clusters"] = new JsonArray(list) });
    }

    private Reply CreateCluster(string project, string location, string body)
    {
        var request = JsonNode.Parse(body)?["cluster"] as JsonObject;
        var name = S(request?["name"]);
        if (request is null || string.IsNullOrEmpty(name) || !Regex.IsMatch(name, "^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$"))
            return Error(400, "INVALID_ARGUMENT", $"Invalid value for field \"cluster.name\": \"{name}\". Must be a match of regex '(?:[a-z](?:[-a-z0-9]{{0,38}}[a-z0-9])?)'.");
        if (!Options.ZoneAccelerators.ContainsKey(location) && location.Split('-').Length >= 3)
            return Error(400, "INVALID_ARGUMENT", $"Location \"{location}\" does not exist or is not supported.");
        var key = Key(project, location, name);
        if (_clusters.ContainsKey(key))
            return Error(409, "ALREADY_EXISTS", $"Already exists: projects/{project}/locations/{location}/clusters/{name}.");
        foreach (var pool in (request["nodePools"] as JsonArray)?.OfType<JsonObject>() ?? [])
            if (ValidatePool(project, location, pool) is { } invalid) return invalid;
        var cpuNeed = (request["nodePools"] as JsonArray)?.OfType<JsonObject>().Sum(p => (I(p["initialNodeCount"]) ?? 0) * Cpus(S(p["config"]?["machineType"]))) ?? 0;
        if (QuotaShortfall(project, GkeNames.RegionOf(location), "CPUS", cpuNeed) is { } cpuQuota) return cpuQuota;

        var cluster = NewClusterResource(project, location, request);
        _clusters[key] = cluster;
        var op = StartOperation(project, location, "CREATE_CLUSTER", ClusterLink(project, location, name), name, () =>
        {
            cluster["status"] = "RUNNING";
            foreach (var p in Pools(cluster)) { p["status"] = "RUNNING"; p["_size"] = I(p["initialNodeCount"]) ?? 0; }
            AssignEndpoint(project, location, cluster);
            Notify(project, location, cluster);
            return null;
        });
        return Ok(op.ToJson(Url));
    }

    private JsonObject NewClusterResource(string project, string location, JsonObject request)
    {
        var c = (JsonObject)request.DeepClone();
        var name = S(c["name"])!;
        c["location"] = location;
        c["zone"] = location;
        c["status"] = "PROVISIONING";
        c["selfLink"] = ClusterLink(project, location, name);
        c["createTime"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffK");
        c["currentMasterVersion"] = Options.MasterVersion;
        c["currentNodeVersion"] = Options.MasterVersion;
        c["initialClusterVersion"] ??= Options.MasterVersion;
        c["releaseChannel"] ??= new JsonObject { ["channel"] = "REGULAR" };
        c["locations"] ??= new JsonArray(location);
        c["nodePools"] ??= new JsonArray();
        c["clusterIpv4Cidr"] = "10.16.0.0/14";
        c["servicesIpv4Cidr"] = "10.20.0.0/20";
        c["network"] ??= "default";
        c["subnetwork"] ??= "default";
        foreach (var p in Pools(c)) PreparePool(project, location, name, p, "PROVISIONING");
        return c;
    }

    private void PreparePool(string project, string location, string cluster, JsonObject p, string status)
    {
        var name = S(p["name"])!;
        p["status"] = status;
        p["version"] = Options.MasterVersion;
        p["selfLink"] = ClusterLink(project, location, cluster) + "/nodePools/" + name;
        p["locations"] ??= new JsonArray(location);
        p["config"] ??= new JsonObject { ["machineType"] = "e2-medium" };
        p["config"]!["machineType"] ??= "e2-medium";
        p["config"]!["diskSizeGb"] ??= 100;
        p["config"]!["imageType"] ??= "COS_CONTAINERD";
        var zones = (p["locations"] as JsonArray)!.Select(z => S(z)!).ToList();
        p["instanceGroupUrls"] = new JsonArray(zones.Select(z =>
            (JsonNode)JsonValue.Create($"https://www.googleapis.com/compute/v1/projects/{project}/zones/{z}/instanceGroupManagers/gke-{cluster}-{name}-grp")!).ToArray());
        p["_size"] = 0;
    }

    private Reply DeleteCluster(string project, string location, string name, JsonObject cluster)
    {
        if (Busy(project, location, name) is { } busy) return busy;
        cluster["status"] = "STOPPING";
        var op = StartOperation(project, location, "DELETE_CLUSTER", ClusterLink(project, location, name), name, () =>
        {
            var snapshot = Snapshot(project, location, cluster);
            _clusters.Remove(Key(project, location, name));
            Options.ClusterDeleted?.Invoke(snapshot);
            return null;
        });
        return Ok(op.ToJson(Url));
    }

    private Reply CreateNodePool(string project, string location, string clusterName, JsonObject cluster, string body)
    {
        var request = JsonNode.Parse(body)?["nodePool"] as JsonObject;
        var name = S(request?["name"]);
        if (request is null || string.IsNullOrEmpty(name))
            return Error(400, "INVALID_ARGUMENT", "Invalid value for field \"node_pool.name\": \"\".");
        if (Busy(project, location, clusterName) is { } busy) return busy;
        if (Pools(cluster).Any(p => S(p["name"]) == name))
            return Error(409, "ALREADY_EXISTS", $"Already exists: projects/{project}/locations/{location}/clusters/{clusterName}/nodePools/{name}.");
        if (ValidatePool(project, location, request) is { } invalid) return invalid;
        var initial = I(request["initialNodeCount"]) ?? 0;
        if (PoolQuotaShortfall(project, location, request, initial) is { } quota) return quota;

        var pool = (JsonObject)request.DeepClone();
        PreparePool(project, location, clusterName, pool, "PROVISIONING");
        ((JsonArray)cluster["nodePools"]!).Add(pool);
        cluster["status"] = "RECONCILING";
        var machine = S(pool["config"]?["machineType"]) ?? "";
        var stockout = IsTpu(machine) && initial > 0 && Faults.StockoutZones.Contains(location);
        var op = StartOperation(project, location, "CREATE_NODE_POOL", ClusterLink(project, location, clusterName) + "/nodePools/" + name, clusterName, () =>
        {
            cluster["status"] = "RUNNING";
            if (stockout)
            {
                var message = StockoutMessage(project, location, clusterName, name);
                pool["status"] = "ERROR";
                pool["statusMessage"] = message;
                return (8, message);
            }
            pool["status"] = "RUNNING";
            pool["_size"] = initial;
            Notify(project, location, cluster);
            return null;
        });
        return Ok(op.ToJson(Url));
    }

    private Reply DeleteNodePool(string project, string location, string clusterName, JsonObject cluster, JsonObject pool)
    {
        if (Busy(project, location, clusterName) is { } busy) return busy;
        var name = S(pool["name"])!;
        pool["status"] = "STOPPING";
        cluster["status"] = "RECONCILING";
        var op = StartOperation(project, location, "DELETE_NODE_POOL", ClusterLink(project, location, clusterName) + "/nodePools/" + name, clusterName, () =>
        {
            ((JsonArray)cluster["nodePools"]!).Remove(pool);
            cluster["status"] = "RUNNING";
            Notify(project, location, cluster);
            return null;
        });
        return Ok(op.ToJson(Url));
    }

    /// <summary>
    /// The cluster autoscaler grows a pool: no user-visible operation (the managed instance group resizes), within the
    /// pool's autoscaling maximum and in whole slices for multi-host TPU pools; a stockout or the quota refuses it.
    /// </summary>
    private string? AutoscalePool(string project, string location, string clusterName, string poolName, int size)
    {
        lock (_gate)
        {
            Advance();
            if (!_clusters.TryGetValue(Key(project, location, clusterName), out var cluster)) return "cluster not found";
            var pool = Pools(cluster).FirstOrDefault(p => S(p["name"]) == poolName);
            if (pool is null) return "node pool not found";
            if (!B(pool["autoscaling"]?["enabled"])) return "autoscaling is not enabled on the node pool";
            if (size > (I(pool["autoscaling"]?["maxNodeCount"]) ?? 0)) return "max node group size reached";
            if (MultiHostSizeInvalid(pool, "Node count", size) is not null) return "the size is not a whole number of TPU slices";
            var current = I(pool["_size"]) ?? 0;
            if (size <= current) return null;
            if (IsTpu(S(pool["config"]?["machineType"]) ?? "") && Faults.StockoutZones.Contains(location)) return "GCE out of resources";
            if (PoolQuotaShortfall(project, location, pool, size - current) is not null) return "GCE quota exceeded";
            pool["_size"] = size;
            Notify(project, location, cluster);
            return null;
        }
    }

    private Reply SetSize(string project, string location, string clusterName, JsonObject cluster, JsonObject pool, string body)
    {
        var size = I(JsonNode.Parse(body)?["nodeCount"]);
        if (size is null or < 0) return Error(400, "INVALID_ARGUMENT", "Invalid value for field \"node_count\".");
        if (Busy(project, location, clusterName) is { } busy) return busy;
        if (MultiHostSizeInvalid(pool, "Node count", size.Value) is { } atomic) return atomic;
        var current = I(pool["_size"]) ?? 0;
        if (size > current && PoolQuotaShortfall(project, location, pool, size.Value - current) is { } quota) return quota;
        var name = S(pool["name"])!;
        var machine = S(pool["config"]?["machineType"]) ?? "";
        var stockout = IsTpu(machine) && size > current && Faults.StockoutZones.Contains(location);
        pool["status"] = "RECONCILING";
        cluster["status"] = "RECONCILING";
        var op = StartOperation(project, location, "SET_NODE_POOL_SIZE", ClusterLink(project, location, clusterName) + "/nodePools/" + name, clusterName, () =>
        {
            cluster["status"] = "RUNNING";
            pool["status"] = "RUNNING";
            if (stockout) return (8, StockoutMessage(project, location, clusterName, name));
            pool["_size"] = size.Value;
            Notify(project, location, cluster);
            return null;
        });
        return Ok(op.ToJson(Url));
    }

    private Reply SetAutoscaling(string project, string location, string clusterName, JsonObject cluster, JsonObject pool, string body)
    {
        var autoscaling = JsonNode.Parse(body)?["autoscaling"] as JsonObject;
        if (autoscaling is null) return Error(400, "INVALID_ARGUMENT", "Missing autoscaling.");
        var enabled = B(autoscaling["enabled"]);
        var min = I(autoscaling["minNodeCount"]) ?? 0;
        var max = I(autoscaling["maxNodeCount"]) ?? 0;
        if (enabled && (min < 0 || max < 1 || min > max))
            return Error(400, "INVALID_ARGUMENT", $"Invalid autoscaling bounds: min {min}, max {max}.");
        if (enabled && (MultiHostSizeInvalid(pool, "Maximum node count", max) ?? MultiHostSizeInvalid(pool, "Minimum node count", min)) is { } atomic) return atomic;
        if (Busy(project, location, clusterName) is { } busy) return busy;
        var name = S(pool["name"])!;
        pool["status"] = "RECONCILING";
        var op = StartOperation(project, location, "UPDATE_CLUSTER", ClusterLink(project, location, clusterName) + "/nodePools/" + name, clusterName, () =>
        {
            pool["status"] = "RUNNING";
            pool["autoscaling"] = enabled
                ? new JsonObject { ["enabled"] = true, ["minNodeCount"] = min, ["maxNodeCount"] = max, ["locationPolicy"] = S(autoscaling["locationPolicy"]) ?? "BALANCED" }
                : new JsonObject();
            return null;
        });
        return Ok(op.ToJson(Url));
    }

    // ------------------------------------------------------------------ server config, cluster and node pool updates

    /// <summary>The versions this simulated GKE offers: the configured master version and two older minors.</summary>
    private IReadOnlyList<string> ValidVersions()
    {
        var v = Options.MasterVersion;
        var parts = v.Split('.', 3);
        var list = new List<string> { v };
        if (parts.Length == 3 && int.TryParse(parts[1], out var minor))
            for (var back = 1; back <= 2 && minor - back > 0; back++) list.Add($"{parts[0]}.{minor - back}.{5 + back}-gke.{1100000 + back * 1000}");
        return list;
    }

    /// <summary>GET projects/{p}/locations/{l}/serverConfig (gcloud container get-server-config).</summary>
    private Reply ServerConfig(string location)
    {
        var versions = ValidVersions();
        JsonArray Versions() => new(versions.Select(v => (JsonNode)JsonValue.Create(v)!).ToArray());
        JsonObject Channel(string name, string dflt) => new()
        {
            ["channel"] = name, ["defaultVersion"] = dflt, ["validVersions"] = Versions(), ["upgradeTargetVersion"] = versions[0],
        };
        return Ok(new JsonObject
        {
            ["defaultClusterVersion"] = versions[0],
            ["validNodeVersions"] = Versions(),
            ["defaultImageType"] = "COS_CONTAINERD",
            ["validImageTypes"] = new JsonArray("COS_CONTAINERD", "UBUNTU_CONTAINERD", "WINDOWS_LTSC_CONTAINERD"),
            ["validMasterVersions"] = Versions(),
            ["channels"] = new JsonArray(Channel("RAPID", versions[0]), Channel("REGULAR", versions[0]), Channel("STABLE", versions[^1]), Channel("EXTENDED", versions[^1])),
        });
    }

    private Reply? InvalidVersion(string field, string? version)
    {
        if (version is null or "latest" or "-") return null;
        var valid = ValidVersions();
        // "1.34" or "1.34.1" pick the newest matching patch, as GKE does
        if (valid.Any(v => v == version || v.StartsWith(version + ".", StringComparison.Ordinal) || v.StartsWith(version + "-", StringComparison.Ordinal))) return null;
        return Error(400, "INVALID_ARGUMENT", $"Invalid value for field \"{field}\": \"{version}\". Valid versions: {string.Join(", ", valid)}.");
    }

    private string ResolveVersion(string? version) =>
        version is null or "latest" or "-" ? ValidVersions()[0]
        : ValidVersions().First(v => v == version || v.StartsWith(version + ".", StringComparison.Ordinal) || v.StartsWith(version + "-", StringComparison.Ordinal));

    /// <summary>
    /// PUT projects/{p}/locations/{l}/clusters/{c} (UpdateClusterRequest): gcloud container clusters update sends one
    /// ClusterUpdate per call (--gateway-api as desiredGatewayApiConfig, --cluster-version as desiredMasterVersion, ...),
    /// and node-pools update --enable-autoscaling sends desiredNodePoolId with desiredNodePoolAutoscaling (gcloud 528
    /// api_adapter.UpdateNodePool). Returns an UPDATE_CLUSTER (or UPGRADE_MASTER / UPGRADE_NODES) operation.
    /// </summary>
    private Reply UpdateCluster(string project, string location, string clusterName, JsonObject cluster, string body)
    {
        var update = JsonNode.Parse(string.IsNullOrWhiteSpace(body) ? "{}" : body)?["update"] as JsonObject;
        if (update is null || update.Count == 0)
            return Error(400, "INVALID_ARGUMENT", "Invalid value for field \"update\": an update must set at least one field.");
        foreach (var (k, _) in update)
            if (!k.StartsWith("desired", StringComparison.Ordinal) && k is not ("additionalPodRangesConfig" or "removedAdditionalPodRangesConfig" or "etag"))
                return Error(400, "INVALID_ARGUMENT", $"Invalid JSON payload received. Unknown name \"{k}\" at 'update': Cannot find field.");
        if (Busy(project, location, clusterName) is { } busy) return busy;

        var poolId = S(update["desiredNodePoolId"]);
        JsonObject? pool = null;
        if (poolId is not null)
        {
            pool = Pools(cluster).FirstOrDefault(p => S(p["name"]) == poolId);
            if (pool is null) return Error(404, "NOT_FOUND", $"Not found: projects/{project}/locations/{location}/clusters/{clusterName}/nodePools/{poolId}.");
        }
        if (update["desiredNodePoolAutoscaling"] is JsonObject autoscaling)
        {
            if (pool is null) return Error(400, "INVALID_ARGUMENT", "Invalid value for field \"update.desired_node_pool_id\": \"\". A node pool must be named to update its autoscaling.");
            return SetAutoscaling(project, location, clusterName, cluster, pool, new JsonObject { ["autoscaling"] = autoscaling.DeepClone() }.ToJsonString());
        }
        if (S(update["desiredNodeVersion"]) is { } nodeVersion)
        {
            if (InvalidVersion("update.desired_node_version", nodeVersion) is { } bad) return bad;
            var resolved = ResolveVersion(nodeVersion);
            var targets = pool is null ? Pools(cluster).ToList() : [pool];
            foreach (var t in targets) t["status"] = "RECONCILING";
            cluster["status"] = "RECONCILING";
            return Ok(StartOperation(project, location, "UPGRADE_NODES", ClusterLink(project, location, clusterName) + (pool is null ? "" : "/nodePools/" + poolId), clusterName, () =>
            {
                foreach (var t in targets) { t["version"] = resolved; t["status"] = "RUNNING"; }
                cluster["currentNodeVersion"] = resolved;
                cluster["status"] = "RUNNING";
                return null;
            }).ToJson(Url));
        }
        if (S(update["desiredMasterVersion"]) is { } masterVersion)
        {
            if (InvalidVersion("update.desired_master_version", masterVersion) is { } bad) return bad;
            var resolved = ResolveVersion(masterVersion);
            cluster["status"] = "RECONCILING";
            return Ok(StartOperation(project, location, "UPGRADE_MASTER", ClusterLink(project, location, clusterName), clusterName, () =>
            {
                cluster["currentMasterVersion"] = resolved;
                cluster["status"] = "RUNNING";
                return null;
            }).ToJson(Url));
        }
        if (update["desiredGatewayApiConfig"] is JsonObject gateway
            && S(gateway["channel"]) is not ("CHANNEL_DISABLED" or "CHANNEL_EXPERIMENTAL" or "CHANNEL_STANDARD"))
            return Error(400, "INVALID_ARGUMENT", $"Invalid value for field \"update.desired_gateway_api_config.channel\": \"{S(gateway["channel"])}\".");
        if (update["desiredReleaseChannel"] is JsonObject channel
            && S(channel["channel"]) is not ("UNSPECIFIED" or "RAPID" or "REGULAR" or "STABLE" or "EXTENDED"))
            return Error(400, "INVALID_ARGUMENT", $"Invalid value for field \"update.desired_release_channel.channel\": \"{S(channel["channel"])}\".");

        cluster["status"] = "RECONCILING";
        var changes = (JsonObject)update.DeepClone();
        return Ok(StartOperation(project, location, "UPDATE_CLUSTER", ClusterLink(project, location, clusterName), clusterName, () =>
        {
            foreach (var (k, v) in changes)
            {
                if (v is null || !k.StartsWith("desired", StringComparison.Ordinal) || k == "desiredNodePoolId") continue;
                switch (k)
                {
                    case "desiredGatewayApiConfig":
                        cluster["networkConfig"] ??= new JsonObject();
                        cluster["networkConfig"]!["gatewayApiConfig"] = v.DeepClone();
                        break;
                    case "desiredDatapathProvider":
                        cluster["networkConfig"] ??= new JsonObject();
                        cluster["networkConfig"]!["datapathProvider"] = v.DeepClone();
                        break;
                    case "desiredAddonsConfig" when cluster["addonsConfig"] is JsonObject existing && v is JsonObject addons:
                        foreach (var (ak, av) in addons) existing[ak] = av?.DeepClone();
                        break;
                    default:
                        // desiredLoggingService -> loggingService, desiredReleaseChannel -> releaseChannel, ...
                        cluster[char.ToLowerInvariant(k[7]) + k[8..]] = v.DeepClone();
                        break;
                }
            }
            cluster["status"] = "RUNNING";
            Notify(project, location, cluster);
            return null;
        }).ToJson(Url));
    }

    /// <summary>
    /// PUT projects/{p}/locations/{l}/clusters/{c}/nodePools/{np} (UpdateNodePoolRequest): node-pools update with
    /// --node-labels, --node-taints, --node-version, --image-type, --node-locations, --resource-manager-tags, ...
    /// </summary>
    private Reply UpdateNodePool(string project, string location, string clusterName, JsonObject cluster, JsonObject pool, string body)
    {
        var request = JsonNode.Parse(string.IsNullOrWhiteSpace(body) ? "{}" : body) as JsonObject ?? new JsonObject();
        var known = new[] { "nodeVersion", "imageType", "locations", "labels", "taints", "tags", "resourceLabels", "workloadMetadataConfig", "upgradeSettings",
            "kubeletConfig", "linuxNodeConfig", "machineType", "diskSizeGb", "diskType", "name", "projectId", "zone", "clusterId", "nodePoolId", "etag",
            "loggingConfig", "gvnic", "gcfsConfig", "fastSocket", "resourceManagerTags", "confidentialNodes", "windowsNodeConfig", "accelerators", "nodeNetworkConfig" };
        foreach (var (k, _) in request)
            if (!known.Contains(k)) return Error(400, "INVALID_ARGUMENT", $"Invalid JSON payload received. Unknown name \"{k}\": Cannot find field.");
        if (S(request["nodeVersion"]) is { } version && InvalidVersion("node_version", version) is { } bad) return bad;
        if (Busy(project, location, clusterName) is { } busy) return busy;
        var name = S(pool["name"])!;
        pool["status"] = "RECONCILING";
        cluster["status"] = "RECONCILING";
        var type = request["nodeVersion"] is not null ? "UPGRADE_NODES" : "UPDATE_CLUSTER";
        return Ok(StartOperation(project, location, type, ClusterLink(project, location, clusterName) + "/nodePools/" + name, clusterName, () =>
        {
            var config = pool["config"] as JsonObject ?? new JsonObject();
            pool["config"] = config;
            if (S(request["nodeVersion"]) is { } v) pool["version"] = ResolveVersion(v);
            if (request["locations"] is JsonArray locations) pool["locations"] = locations.DeepClone();
            if (request["labels"] is JsonObject labels) config["labels"] = labels["labels"]?.DeepClone() ?? new JsonObject();
            if (request["taints"] is JsonObject taints) config["taints"] = taints["taints"]?.DeepClone() ?? new JsonArray();
            if (request["tags"] is JsonObject tags) config["tags"] = tags["tags"]?.DeepClone() ?? new JsonArray();
            if (request["resourceLabels"] is JsonObject resourceLabels) config["resourceLabels"] = resourceLabels["labels"]?.DeepClone() ?? new JsonObject();
            foreach (var f in new[] { "imageType", "machineType", "diskSizeGb", "diskType", "workloadMetadataConfig", "kubeletConfig", "linuxNodeConfig", "gvnic", "gcfsConfig" })
                if (request[f] is { } value) config[f] = value.DeepClone();
            if (request["upgradeSettings"] is { } upgrade) pool["upgradeSettings"] = upgrade.DeepClone();
            pool["status"] = "RUNNING";
            cluster["status"] = "RUNNING";
            Notify(project, location, cluster);
            return null;
        }).ToJson(Url));
    }

    /// <summary>
    /// A multi-host TPU slice pool is atomic: its node count is the slice's host count (a 2x4 v6e slice on
    /// ct6e-standard-4t is 2 hosts) or, except for the maximum, 0. GKE's wording for a wrong maximum, as users
    /// report it: 'Maximum node count 0 is not a valid size of TPU pod slice with topology "2x2x4"'. The same
    /// sentence with "Initial node count", "Minimum node count" and "Node count" (a resize) for the other counts is by
    /// analogy, not confirmed wording. Resizing to 0 or to the host count stays allowed (a whole slice or none).
    /// </summary>
    private static Reply? MultiHostSizeInvalid(JsonObject pool, string which, int count)
    {
        var machine = S(pool["config"]?["machineType"]);
        var topology = S(pool["placementPolicy"]?["tpuTopology"]);
        if (machine is null || topology is null) return null;
        var slice = TpuMachineTypes.Find(machine, topology).FirstOrDefault();
        if (slice is null || !slice.MultiHost) return null;
        if (count == slice.Hosts || (count == 0 && !which.StartsWith("Maximum", StringComparison.Ordinal))) return null;
        return Error(400, "INVALID_ARGUMENT", $"{which} {count} is not a valid size of TPU pod slice with topology \"{topology}\"");
    }

    private Reply? ValidatePool(string project, string location, JsonObject pool)
    {
        var machine = S(pool["config"]?["machineType"]);
        if (string.IsNullOrEmpty(machine)) return null;
        var tpu = TpuMachineTypes.Find(machine).ToList();
        if (tpu.Count == 0)
        {
            if (machine.StartsWith("ct", StringComparison.Ordinal))
                return Error(400, "INVALID_ARGUMENT", $"Machine type \"{machine}\" does not exist in zone \"{location}\".");
            return null;
        }
        var label = tpu[0].NodeLabel;
        if (!Options.ZoneAccelerators.TryGetValue(location, out var offered) || !offered.Contains(label))
            return Error(400, "INVALID_ARGUMENT", $"Machine type \"{machine}\" is not available in zone \"{location}\": accelerator {label} is not offered there.");
        var topology = S(pool["placementPolicy"]?["tpuTopology"]);
        if (topology is not null && !tpu.Any(t => t.Topology == topology))
            return Error(400, "INVALID_ARGUMENT",
                $"Invalid TPU topology \"{topology}\" for machine type \"{machine}\"; valid: {string.Join(", ", tpu.Select(t => t.Topology))}.");
        if (topology is not null)
        {
            if (MultiHostSizeInvalid(pool, "Initial node count", I(pool["initialNodeCount"]) ?? 0) is { } initial) return initial;
            if (B(pool["autoscaling"]?["enabled"])
                && (MultiHostSizeInvalid(pool, "Maximum node count", I(pool["autoscaling"]?["maxNodeCount"]) ?? 0) ?? MultiHostSizeInvalid(pool, "Minimum node count", I(pool["autoscaling"]?["minNodeCount"]) ?? 0)) is { } bounds)
                return bounds;
        }
        return null;
    }

    private Reply? PoolQuotaShortfall(string project, string location, JsonObject pool, int addedNodes)
    {
        var machine = S(pool["config"]?["machineType"]) ?? "";
        var region = GkeNames.RegionOf(location);
        if (TpuMachineTypes.Find(machine).FirstOrDefault() is { } tpu)
            return QuotaShortfall(project, region, TpuMetric(tpu.Accelerator, B(pool["config"]?["spot"]) || B(pool["config"]?["preemptible"])), addedNodes * tpu.ChipsPerHost);
        return QuotaShortfall(project, region, "CPUS", addedNodes * Cpus(machine));
    }

    private Reply? QuotaShortfall(string project, string region, string metric, double need)
    {
        if (need <= 0) return null;
        var limit = QuotaLimit(project, region, metric);
        var usage = QuotaUsage(project, region, metric);
        if (usage + need <= limit) return null;
        var available = Math.Max(0, limit - usage);
        return Error(403, "PERMISSION_DENIED",
            $"Insufficient regional quota to satisfy request: resource \"{metric}\": request requires '{need:0.0}' and is short '{need - available:0.0}'. " +
            $"project has a quota of '{limit:0.0}' with '{available:0.0}' available. View and manage quotas at https://console.cloud.google.com/iam-admin/quotas?usage=USED&project={project}.");
    }

    private Reply? Busy(string project, string location, string cluster)
    {
        var running = _operations.FirstOrDefault(o => o.Project == project && o.Location == location && o.Cluster == cluster && !o.IsDone);
        return running is null ? null
            : Error(400, "FAILED_PRECONDITION", $"Cluster is running incompatible operation {running.Name}.");
    }

    private Reply? Permission(string permission, string project) =>
        Faults.DeniedPermissions.Contains(permission)
            ? Error(403, "PERMISSION_DENIED", $"Required \"{permission}\" permission(s) for \"projects/{project}\".",
                new JsonArray(new JsonObject { ["@type"] = "type.googleapis.com/google.rpc.ErrorInfo", ["reason"] = "IAM_PERMISSION_DENIED", ["domain"] = "container.googleapis.com" }))
            : null;

    private Reply? ApiDisabled(string api, string project) =>
        Options.DisabledApis.Contains(api)
            ? Error(403, "PERMISSION_DENIED",
                $"{ApiTitle(api)} has not been used in project {project} before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/{api}/overview?project={project} then retry.",
                new JsonArray(new JsonObject { ["@type"] = "type.googleapis.com/google.rpc.ErrorInfo", ["reason"] = "SERVICE_DISABLED", ["domain"] = "googleapis.com" }))
            : null;

    private static string ApiTitle(string api) => api switch
    {
        "container.googleapis.com" => "Kubernetes Engine API",
        "compute.googleapis.com" => "Compute Engine API",
        _ => api,
    };

    private static string StockoutMessage(string project, string zone, string cluster, string pool) =>
        $"Google Compute Engine: Not all instances running in IGM after 35m6.078s. Expected 1, running 0, transitioning 1. Current errors: " +
        $"[ZONE_RESOURCE_POOL_EXHAUSTED]: Instance 'gke-{cluster}-{pool}-0001' creation failed: The zone 'projects/{project}/zones/{zone}' " +
        "does not have enough resources available to fulfill the request. Try a different zone, or try again later.";

    // =====================================================================================
    // Compute and Service Usage
    // =====================================================================================

    private Reply Compute(string method, string[] s, string query)
    {
        if (method != "GET" || s.Length < 2 || s[0] != "projects") return Error(404, "NOT_FOUND", "Unknown Compute path.");
        var project = s[1];
        if (ApiDisabled("compute.googleapis.com", project) is { } disabled) return disabled;
        if (Options.Projects is not null && !Options.Projects.Contains(project))
            return Error(404, "NOT_FOUND", $"The resource 'projects/{project}' was not found");
        if (s.Length == 2)
            return Permission("compute.projects.get", project) ?? Ok(new JsonObject { ["kind"] = "compute#project", ["name"] = project, ["id"] = "1000000000001" });

        if (s.Length == 4 && s[2] == "regions")
        {
            var region = s[3];
            if (!Options.ZoneAccelerators.Keys.Any(z => GkeNames.RegionOf(z) == region))
                return Error(404, "NOT_FOUND", $"The resource 'projects/{project}/regions/{region}' was not found");
            return Permission("compute.regions.get", project) ?? Ok(new JsonObject
            {
                ["kind"] = "compute#region",
                ["name"] = region,
                ["status"] = "UP",
                ["quotas"] = new JsonArray(QuotaMetrics(project, region).Select(m => (JsonNode)new JsonObject
                {
                    ["metric"] = m, ["limit"] = QuotaLimit(project, region, m), ["usage"] = QuotaUsage(project, region, m),
                }).ToArray()),
            });
        }
        if (s.Length == 4 && s[2] == "aggregated" && s[3] == "acceleratorTypes")
        {
            if (Permission("compute.acceleratorTypes.list", project) is { } denied) return denied;
            var filter = Regex.Match(Uri.UnescapeDataString(query), "name\\s*=\\s*\"?([a-z0-9-]+)\"?");
            var items = new JsonObject();
            foreach (var (zone, types) in Options.ZoneAccelerators.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                var matching = types.Where(t => !filter.Success || t == filter.Groups[1].Value).ToList();
                items["zones/" + zone] = matching.Count > 0
                    ? new JsonObject { ["acceleratorTypes"] = new JsonArray(matching.Select(t => (JsonNode)AcceleratorType(project, zone, t)).ToArray()) }
                    : new JsonObject { ["warning"] = new JsonObject { ["code"] = "NO_RESULTS_ON_PAGE", ["message"] = "There are no results for scope 'zones/" + zone + "' on this page." } };
            }
            return Ok(new JsonObject { ["kind"] = "compute#acceleratorTypeAggregatedList", ["items"] = items });
        }
        if (s.Length >= 5 && s[2] == "zones")
        {
            var zone = s[3];
            if (!Options.ZoneAccelerators.TryGetValue(zone, out var offered))
                return Error(404, "NOT_FOUND", $"The resource 'projects/{project}/zones/{zone}' was not found");
            if (s.Length == 5 && s[4] == "acceleratorTypes")
                return Permission("compute.acceleratorTypes.list", project) ?? Ok(new JsonObject
                {
                    ["kind"] = "compute#acceleratorTypeList",
                    ["items"] = new JsonArray(offered.Select(t => (JsonNode)AcceleratorType(project, zone, t)).ToArray()),
                });
            if (s.Length == 6 && s[4] == "machineTypes")
            {
                var machine = s[5];
                var tpu = TpuMachineTypes.Find(machine).FirstOrDefault();
                var exists = tpu is null ? Cpus(machine) > 0 : offered.Contains(tpu.NodeLabel);
                return Permission("compute.machineTypes.get", project) ?? (exists
                    ? Ok(new JsonObject { ["kind"] = "compute#machineType", ["name"] = machine, ["zone"] = zone, ["guestCpus"] = tpu is null ? Cpus(machine) : tpu.ChipsPerHost * 45 })
                    : Error(404, "NOT_FOUND", $"The resource 'projects/{project}/zones/{zone}/machineTypes/{machine}' was not found"));
            }
            if (s.Length == 6 && s[4] is "instanceGroupManagers" or "instanceGroups")
            {
                var igm = s[5];
                foreach (var (key, c) in _clusters)
                    foreach (var p in Pools(c))
                        if (p["instanceGroupUrls"] is JsonArray urls && urls.Any(u => S(u)?.EndsWith($"/zones/{zone}/instanceGroupManagers/{igm}", StringComparison.Ordinal) == true))
                        {
                            var zones = urls.Count;
                            var size = I(p["_size"]) ?? 0;
                            return Ok(new JsonObject { ["kind"] = "compute#instanceGroupManager", ["name"] = igm, ["zone"] = zone, ["targetSize"] = size / Math.Max(1, zones) });
                        }
                return Error(404, "NOT_FOUND", $"The resource 'projects/{project}/zones/{zone}/instanceGroupManagers/{igm}' was not found");
            }
        }
        return Error(404, "NOT_FOUND", "Unknown Compute path.");
    }

    private Reply ServiceUsage(string method, string[] s)
    {
        if (method != "GET" || s.Length != 4 || s[0] != "projects" || s[2] != "services") return Error(404, "NOT_FOUND", "Unknown Service Usage path.");
        var project = s[1];
        if (Permission("serviceusage.services.get", project) is { } denied) return denied;
        return Ok(new JsonObject
        {
            ["name"] = $"projects/1000000000001/services/{s[3]}",
            ["parent"] = "projects/1000000000001",
            ["state"] = Options.DisabledApis.Contains(s[3]) ? "DISABLED" : "ENABLED",
        });
    }

    private JsonObject AcceleratorType(string project, string zone, string type) => new()
    {
        ["kind"] = "compute#acceleratorType",
        ["name"] = type,
        ["zone"] = $"https://www.googleapis.com/compute/v1/projects/{project}/zones/{zone}",
        ["description"] = type,
        ["maximumCardsPerInstance"] = type.StartsWith("tpu", StringComparison.Ordinal) ? 8 : 4,
    };

    private IEnumerable<string> QuotaMetrics(string project, string region) =>
        Options.DefaultQuotas.Keys.Concat(_quotaOverrides.Keys.Where(k => k.StartsWith($"{project}/{region}/", StringComparison.Ordinal)).Select(k => k.Split('/')[2]))
            .Distinct().OrderBy(m => m, StringComparer.Ordinal);

    private double QuotaLimit(string project, string region, string metric) =>
        _quotaOverrides.TryGetValue($"{project}/{region}/{metric}", out var l) ? l : Options.DefaultQuotas.GetValueOrDefault(metric);

    private double QuotaUsage(string project, string region, string metric)
    {
        double used = 0;
        foreach (var (key, c) in _clusters)
        {
            var parts = key.Split('/');
            if (parts[0] != project || GkeNames.RegionOf(parts[1]) != region) continue;
            foreach (var p in Pools(c))
            {
                var machine = S(p["config"]?["machineType"]) ?? "";
                var size = I(p["_size"]) ?? 0;
                var tpu = TpuMachineTypes.Find(machine).FirstOrDefault();
                if (tpu is not null && TpuMetric(tpu.Accelerator, B(p["config"]?["spot"]) || B(p["config"]?["preemptible"])) == metric) used += size * tpu.ChipsPerHost;
                if (tpu is null && metric == "CPUS") used += size * Cpus(machine);
            }
        }
        return used;
    }

    private static string TpuMetric(string accelerator, bool spot)
    {
        return TpuMachineTypes.QuotaMetric(accelerator, spot);
    }

    private static int Cpus(string? machine)
    {
        if (string.IsNullOrEmpty(machine)) return 0;
        var last = machine.Split('-').Last();
        return int.TryParse(last, out var n) ? n : machine.EndsWith("medium", StringComparison.Ordinal) ? 2 : machine.EndsWith("small", StringComparison.Ordinal) ? 2 : 0;
    }

    private static bool IsTpu(string machine) => TpuMachineTypes.Find(machine).Any();

    // =====================================================================================
    // Operations
    // =====================================================================================

    private SimOperation StartOperation(string project, string location, string type, string target, string cluster, Func<(int Code, string Message)?> complete)
    {
        var n = Interlocked.Increment(ref _operationCounter);
        var op = new SimOperation
        {
            Name = $"operation-{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}-{n:x4}{Convert.ToHexString(RandomNumberGenerator.GetBytes(2)).ToLowerInvariant()}",
            Project = project,
            Location = location,
            Type = type,
            TargetLink = target,
            Cluster = cluster,
            Started = DateTime.UtcNow,
            Duration = Options.OperationDurations.TryGetValue(type, out var d) ? d : Options.OperationDuration,
            Complete = complete,
        };
        _operations.Add(op);
        OperationStarted?.Invoke(type, op.Name, target);
        return op;
    }

    /// <summary>Completes due operations. Called under the lock on every request.</summary>
    private void Advance()
    {
        var now = DateTime.UtcNow;
        foreach (var op in _operations.Where(o => !o.IsDone).OrderBy(o => o.Started).ToList())
        {
            var elapsed = now - op.Started;
            if (elapsed >= op.Duration && !HoldOperations)
            {
                op.Status = "DONE";
                op.Ended = now;
                try { op.Error = op.Complete(); }
                catch (Exception ex) { op.Error = (13, "Simulated backend failure: " + ex.Message); }
            }
            else op.Status = elapsed < op.Duration * 0.2 ? "PENDING" : "RUNNING";
            op.Progress = op.Duration <= TimeSpan.Zero ? 1 : Math.Clamp(elapsed / op.Duration, 0, 1);
        }
    }

    private sealed class SimOperation
    {
        public string Name = "", Project = "", Location = "", Type = "", TargetLink = "", Cluster = "";
        public string Status = "PENDING";
        public DateTime Started;
        public DateTime? Ended;
        public TimeSpan Duration;
        public double Progress;
        public Func<(int Code, string Message)?> Complete = () => null;
        public (int Code, string Message)? Error;
        public bool IsDone => Status == "DONE";

        public JsonObject ToJson(Uri baseUrl)
        {
            var stages = new[] { "PREPARING", "PROVISIONING", "CONFIGURING", "FINALIZING" };
            var done = IsDone ? stages.Length : (int)Math.Floor(Progress * stages.Length);
            var o = new JsonObject
            {
                ["name"] = Name,
                ["zone"] = Location,
                ["location"] = Location,
                ["operationType"] = Type,
                ["status"] = Status,
                ["selfLink"] = $"https://container.googleapis.com/v1/projects/{Project}/locations/{Location}/operations/{Name}",
                ["targetLink"] = TargetLink,
                ["startTime"] = Started.ToString("yyyy-MM-ddTHH:mm:ss.fffZ"),
                ["detail"] = IsDone ? "" : $"{Type.Replace('_', ' ').ToLowerInvariant()} in progress",
                ["progress"] = new JsonObject
                {
                    ["stages"] = new JsonArray(stages.Select((s, i) => (JsonNode)new JsonObject
                    {
                        ["name"] = s,
                        ["status"] = i < done ? "DONE" : i == done ? "RUNNING" : "PENDING",
                    }).ToArray()),
                },
            };
            if (Ended is { } e) o["endTime"] = e.ToString("yyyy-MM-ddTHH:mm:ss.fffZ");
            if (Error is { } err)
            {
                o["error"] = new JsonObject { ["code"] = err.Code, ["message"] = err.Message };
                o["statusMessage"] = err.Message;
            }
            return o;
        }
    }

    // =====================================================================================
    // Views
    // =====================================================================================

    private JsonObject Public(JsonObject cluster)
    {
        var c = (JsonObject)cluster.DeepClone();
        var pools = Pools(c).ToList();
        c["nodePools"] = new JsonArray(pools.Select(p => (JsonNode)PublicPool(p)).ToArray());
        c["currentNodeCount"] = pools.Sum(p => I(p["_size"]) ?? 0);
        return c;
    }

    private static JsonObject PublicPool(JsonObject pool)
    {
        var p = (JsonObject)pool.DeepClone();
        p.Remove("_size");
        return p;
    }

    private static IEnumerable<JsonObject> Pools(JsonObject cluster) => (cluster["nodePools"] as JsonArray)?.OfType<JsonObject>() ?? [];

    private void AssignEndpoint(string project, string location, JsonObject cluster)
    {
        var snapshot = Snapshot(project, location, cluster);
        var endpoint = Options.EndpointProvider?.Invoke(snapshot) ?? new GkeClusterEndpoint("https://127.0.0.1:6443", _placeholderCa.Value);
        // GKE returns a bare host (https implied): an IP, here 127.0.0.1:PORT; gcloud writes server: https://<endpoint>.
        // A non-https simulator keeps its full URL.
        cluster["endpoint"] = endpoint.Url.StartsWith("https://", StringComparison.OrdinalIgnoreCase) ? endpoint.Url["https://".Length..].TrimEnd('/') : endpoint.Url;
        cluster["masterAuth"] = new JsonObject
        {
            ["clusterCaCertificate"] = endpoint.CaCertificatePem is null ? null : Convert.ToBase64String(Encoding.ASCII.GetBytes(endpoint.CaCertificatePem)),
        };
    }

    private void Notify(string project, string location, JsonObject cluster)
    {
        if (Options.ClusterChanged is { } changed && S(cluster["status"]) is "RUNNING" or "RECONCILING")
            changed(Snapshot(project, location, cluster));
    }

    private GkeSimulatedCluster Snapshot(string project, string location, JsonObject c) => new()
    {
        Project = project,
        Location = location,
        Name = S(c["name"]) ?? "",
        Status = S(c["status"]) ?? "",
        MasterVersion = S(c["currentMasterVersion"]) ?? "",
        NodePools = Pools(c).Select(p => PoolSnapshot(S(c["name"]) ?? "", p)).ToList(),
        AcceptsToken = AcceptsToken,
    };

    private static GkeSimulatedNodePool PoolSnapshot(string cluster, JsonObject p)
    {
        var machine = S(p["config"]?["machineType"]) ?? "";
        var name = S(p["name"]) ?? "";
        var spot = B(p["config"]?["spot"]) || B(p["config"]?["preemptible"]);
        var labels = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["cloud.google.com/gke-nodepool"] = name,
            ["cloud.google.com/machine-family"] = machine.Split('-')[0],
            ["node.kubernetes.io/instance-type"] = machine,
        };
        if (p["config"]?["labels"] is JsonObject own)
            foreach (var (k, v) in own) if (S(v) is { } sv) labels[k] = sv;
        if (spot) labels["cloud.google.com/gke-spot"] = "true";
        var taints = new List<string>();
        if (p["config"]?["taints"] is JsonArray ta)
            foreach (var t in ta.OfType<JsonObject>())
                taints.Add($"{S(t["key"])}={S(t["value"])}:{(S(t["effect"]) switch { "NO_SCHEDULE" => "NoSchedule", "NO_EXECUTE" => "NoExecute", "PREFER_NO_SCHEDULE" => "PreferNoSchedule", var e => e })}");
        var tpu = TpuMachineTypes.Find(machine).ToList();
        string? topology = null;
        var sliceHosts = 1;
        if (tpu.Count > 0)
        {
            topology = S(p["placementPolicy"]?["tpuTopology"]) ?? tpu.OrderBy(t => t.Hosts).First().Topology;
            sliceHosts = tpu.FirstOrDefault(t => t.Topology == topology)?.Hosts ?? 1;
            labels["cloud.google.com/gke-tpu-accelerator"] = tpu[0].NodeLabel;
            labels["cloud.google.com/gke-tpu-topology"] = topology;
            if (!taints.Any(t => t.StartsWith("google.com/tpu=", StringComparison.Ordinal))) taints.Add("google.com/tpu=present:NoSchedule");
        }
        return new GkeSimulatedNodePool
        {
            Name = name,
            MachineType = machine,
            NodeCount = I(p["_size"]) ?? 0,
            Zones = (p["locations"] as JsonArray)?.Select(z => S(z) ?? "").ToList() ?? [],
            Spot = spot,
            TpuAccelerator = tpu.Count > 0 ? tpu[0].NodeLabel : null,
            TpuTopology = topology,
            TpuChipsPerNode = tpu.Count > 0 ? tpu[0].ChipsPerHost : 0,
            NodeLabels = labels,
            Taints = taints,
            AutoscalingEnabled = B(p["autoscaling"]?["enabled"]),
            MinNodeCount = I(p["autoscaling"]?["minNodeCount"]) ?? 0,
            MaxNodeCount = I(p["autoscaling"]?["maxNodeCount"]) ?? 0,
            SliceHosts = sliceHosts,
        };
    }

    private static string CreatePlaceholderCa()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest("CN=rhaii-gke-simulator-ca", key, HashAlgorithmName.SHA256);
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var cert = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        return cert.ExportCertificatePem() + "\n";
    }

    private static string Key(string project, string location, string name) => $"{project}/{location}/{name}";

    private static string ClusterLink(string project, string location, string name) =>
        $"https://container.googleapis.com/v1/projects/{project}/locations/{location}/clusters/{name}";

    private static string? S(JsonNode? n) => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static int? I(JsonNode? n) => n is JsonValue v ? (v.TryGetValue<int>(out var i) ? i : v.TryGetValue<long>(out var l) ? (int)l : v.TryGetValue<double>(out var d) ? (int)d : null) : null;

    private static bool B(JsonNode? n) => n is JsonValue v && v.TryGetValue<bool>(out var b) && b;

    public void Dispose()
    {
        _stop.Cancel();
        try { _listener.Stop(); _listener.Close(); } catch (ObjectDisposedException) { }
        try { _loop.Wait(TimeSpan.FromSeconds(2)); } catch (AggregateException) { }
        _stop.Dispose();
    }
}

/// <summary>Failures the simulator injects.</summary>
public sealed class GkeSimulatorFaults
{
    /// <summary>Zones where TPU capacity is out: TPU pool creates and scale-ups end with ZONE_RESOURCE_POOL_EXHAUSTED.</summary>
    public ConcurrentSet StockoutZones { get; } = new();

    /// <summary>IAM permissions the caller lacks, e.g. container.clusters.create, compute.regions.get.</summary>
    public ConcurrentSet DeniedPermissions { get; } = new();

    /// <summary>The token endpoint answers invalid_grant (a revoked or bad key).</summary>
    public bool RejectTokenRequests { get; set; }

    /// <summary>A small thread-safe string set.</summary>
    public sealed class ConcurrentSet
    {
        private readonly ConcurrentDictionary<string, byte> _items = new(StringComparer.Ordinal);
        public void Add(string item) => _items[item] = 0;
        public void Remove(string item) => _items.TryRemove(item, out _);
        public void Clear() => _items.Clear();
        public bool Contains(string item) => _items.ContainsKey(item);
        public IReadOnlyList<string> Items => _items.Keys.ToList();
    }
}
