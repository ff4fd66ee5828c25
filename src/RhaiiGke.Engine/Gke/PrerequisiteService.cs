using RhaiiGke.Engine.Catalog;

namespace RhaiiGke.Engine.Gke;

/// <summary>What Test-RhaiiPrerequisites checks: a planned TPU pool and/or an existing cluster.</summary>
public sealed class PrerequisiteRequest
{
    public string? Project { get; init; }
    public string? Zone { get; init; }
    public string? Accelerator { get; init; }
    public string? Topology { get; init; }
    public string? MachineType { get; init; }
    /// <summary>Largest node count the pool may reach (0: one slice).</summary>
    public int MaxNodes { get; init; }
    public int InitialNodes { get; init; }
    public bool Spot { get; init; }
    public string? Reservation { get; init; }
    /// <summary>An existing cluster to check (RUNNING, Gateway API, NetworkPolicy enforcement, Kubernetes-side checks).</summary>
    public string? Cluster { get; init; }
    /// <summary>APIs that must be enabled.</summary>
    public IReadOnlyList<string> RequiredApis { get; init; } = ["container.googleapis.com", "compute.googleapis.com"];
}

/// <summary>
/// Typed preflight checks. Each check catches its own failure so one missing permission does not hide
/// the other findings; a check that cannot run is a Warning (or Skipped when its input is missing).
/// </summary>
public sealed class PrerequisiteService
{
    private readonly GkeSession _session;
    private readonly ComputeClient _compute;
    private readonly GkeClient _gke;
    private readonly IClusterInspector _inspector;

    /// <param name="inspector">Kubernetes-side checks of -Cluster; default: the cluster's API server with the session's token.</param>
    public PrerequisiteService(GkeSession session, IClusterInspector? inspector = null)
    {
        _session = session;
        _compute = new ComputeClient(session);
        _gke = new GkeClient(session);
        _inspector = inspector ?? new GkeClusterInspector(session);
    }

    public async Task<TestRhaiiPrerequisitesResult> RunAsync(PrerequisiteRequest r, CancellationToken ct)
    {
        var checks = new List<PrerequisiteCheck>();
        var log = _session.Log;
        string? project = string.IsNullOrWhiteSpace(r.Project) ? _session.DefaultProject : r.Project;
        if (project is not null) GkeSession.ValidateProjectId(project.Trim()); // a malformed id is bad input, not a failed check
        TpuTopology? slice = null;
        int chipsNeeded = 0;

        // 1. Credentials
        log.Progress("Test-RhaiiPrerequisites", "credentials", 5);
        var credentialsOk = false;
        try
        {
            await _session.VerifyCredentialsAsync(ct).ConfigureAwait(false);
            credentialsOk = true;
            checks.Add(Pass("Credentials", $"Obtained an access token from the {_session.CredentialDescription}."));
        }
        catch (RhaiiException ex) { checks.Add(Fail("Credentials", ex.Message, ex.RecommendedAction)); }

        // 2. Project
        if (project is null)
            checks.Add(Fail("Project", "No project: nothing names one (parameter, environment, gcloud configuration, credential).", "Pass -Project <project-id>."));
        else if (credentialsOk)
            checks.Add(await Guard("Project", async () => await _compute.ProjectExistsAsync(project, ct).ConfigureAwait(false)
                ? Pass("Project", $"Project {project} exists and is readable.")
                : Fail("Project", $"Project {project} was not found or is not visible to the {_session.CredentialDescription}.", "Check the project id and the caller's roles (roles/viewer).")).ConfigureAwait(false));
        else checks.Add(Skip("Project", "Skipped: no credentials."));

        // 3. APIs
        foreach (var api in r.RequiredApis)
        {
            var name = "ApiEnabled:" + api;
            if (project is null || !credentialsOk) { checks.Add(Skip(name, "Skipped: no project or credentials.")); continue; }
            checks.Add(await Guard(name, async () =>
            {
                var state = await _compute.GetServiceStateAsync(project, api, ct).ConfigureAwait(false);
                return state == "ENABLED"
                    ? Pass(name, $"{api} is enabled.")
                    : Fail(name, $"{api} is {state}.", $"gcloud services enable {api} --project {project}");
            }).ConfigureAwait(false));
        }

        // 4. Machine type and topology (offline, from the catalog)
        if (!string.IsNullOrWhiteSpace(r.Accelerator))
        {
            try
            {
                slice = GpuCatalog.IsGpu(r.Accelerator)
                    ? GpuCatalog.Resolve(r.Accelerator!, GpuCatalog.CountOf(r.Topology), string.IsNullOrWhiteSpace(r.MachineType) ? null : r.MachineType)
                    : string.IsNullOrWhiteSpace(r.Topology)
                    ? TpuCatalog.Find(r.Accelerator, r.MachineType).OrderBy(t => t.Chips).ThenBy(t => t.Hosts).FirstOrDefault()
                        ?? throw new RhaiiException("TpuTopologyNotFound", RhaiiErrorCategory.InvalidArgument, $"No {r.Accelerator} slice uses machine type {r.MachineType}.", "Run Get-TpuTopology.")
                    : TpuCatalog.Resolve(r.Accelerator, r.Topology, string.IsNullOrWhiteSpace(r.MachineType) ? null : r.MachineType);
                var maxNodes = r.MaxNodes > 0 ? r.MaxNodes : Math.Max(slice.Hosts, r.InitialNodes);
                chipsNeeded = maxNodes * slice.ChipsPerHost;
                checks.Add(Pass("MachineTypeTopology", slice.ResourceName == GpuCatalog.ResourceName
                    ? $"{slice.MachineType}: {slice.ChipsPerHost} x {slice.Accelerator} ({slice.HbmPerChipGiB} GiB each) per node; nvidia.com/gpu request {slice.ResourceRequest} per pod."
                    : $"{slice.MachineType} with topology {slice.Topology}: {slice.Chips} chips on {slice.Hosts} host(s); google.com/tpu request {slice.ResourceRequest} per pod."));
            }
            catch (RhaiiException ex) { checks.Add(Fail("MachineTypeTopology", ex.Message, ex.RecommendedAction)); }
        }

        // 5. Zone offers the accelerator (live) and the machine type
        if (slice is not null && !string.IsNullOrWhiteSpace(r.Zone))
        {
            if (project is null || !credentialsOk) checks.Add(Skip("AcceleratorInZone", "Skipped: no project or credentials."));
            else
            {
                checks.Add(await Guard("AcceleratorInZone", async () =>
                {
                    var types = await _compute.ListAcceleratorTypesAsync(project, r.Zone, ct).ConfigureAwait(false);
                    if (types.Contains(slice.NodeLabel, StringComparer.Ordinal))
                        return Pass("AcceleratorInZone", $"{r.Zone} offers {slice.NodeLabel}.");
                    var alternatives = await AlternativeZonesAsync(project, slice.NodeLabel, r.Zone, ct).ConfigureAwait(false);
                    return Fail("AcceleratorInZone", $"{r.Zone} does not offer {slice.NodeLabel}.",
                        alternatives.Count > 0 ? $"Zones that offer it: {string.Join(", ", alternatives)}." : "No zone offers it to this project; ask Google Cloud sales for capacity.",
                        new() { ["AlternativeZones"] = alternatives });
                }).ConfigureAwait(false));
                checks.Add(await Guard("MachineTypeInZone", async () =>
                    await _compute.MachineTypeExistsAsync(project, r.Zone, slice.MachineType, ct).ConfigureAwait(false)
                        ? Pass("MachineTypeInZone", $"{r.Zone} offers machine type {slice.MachineType}.")
                        : Fail("MachineTypeInZone", $"{r.Zone} does not offer machine type {slice.MachineType}.", "Pick a zone from the AcceleratorInZone check.")).ConfigureAwait(false));
            }
        }

        // 6. TPU chip (or GPU) quota in the region
        if (slice is not null && slice.ResourceName == GpuCatalog.ResourceName && !string.IsNullOrWhiteSpace(r.Zone))
        {
            if (!string.IsNullOrWhiteSpace(r.Reservation))
                checks.Add(Skip("GpuQuota", $"A reservation ({r.Reservation}) is consumed: its capacity is already granted."));
            else if (project is null || !credentialsOk) checks.Add(Skip("GpuQuota", "Skipped: no project or credentials."));
            else
                checks.Add(await Guard("GpuQuota", async () =>
                    GpuQuota.Check(await _compute.GetRegionQuotasAsync(project, GkeNames.RegionOf(r.Zone), ct).ConfigureAwait(false),
                        slice, r.Spot, Math.Max(r.InitialNodes, 1) * slice.ChipsPerHost, chipsNeeded, GkeNames.RegionOf(r.Zone), project)).ConfigureAwait(false));
        }
        else if (slice is not null && !string.IsNullOrWhiteSpace(r.Zone))
        {
            if (!string.IsNullOrWhiteSpace(r.Reservation))
                checks.Add(Skip("TpuQuota", $"A reservation ({r.Reservation}) is consumed: its capacity is already granted."));
            else if (project is null || !credentialsOk) checks.Add(Skip("TpuQuota", "Skipped: no project or credentials."));
            else
                checks.Add(await Guard("TpuQuota", async () =>
                    QuotaCheck(await _compute.GetRegionQuotasAsync(project, GkeNames.RegionOf(r.Zone), ct).ConfigureAwait(false),
                        slice, r.Spot, Math.Max(r.InitialNodes, slice.Hosts) * slice.ChipsPerHost, chipsNeeded, GkeNames.RegionOf(r.Zone), project)).ConfigureAwait(false));
        }

        // 7. An existing cluster
        if (!string.IsNullOrWhiteSpace(r.Cluster))
            await ClusterChecksAsync(project, r, credentialsOk, checks, ct).ConfigureAwait(false);

        log.Progress("Test-RhaiiPrerequisites", "done", 100);
        return new TestRhaiiPrerequisitesResult
        {
            Project = project,
            Zone = r.Zone,
            Accelerator = slice?.Accelerator ?? r.Accelerator,
            Topology = slice?.Topology ?? r.Topology,
            MachineType = slice?.MachineType ?? r.MachineType,
            ChipsRequired = chipsNeeded,
            Cluster = r.Cluster,
            Checks = checks,
        };
    }

    /// <summary>Compares regional quota with one slice (minimum) and the pool's maximum.</summary>
    public static PrerequisiteCheck QuotaCheck(IReadOnlyList<RegionQuota> quotas, TpuTopology slice, bool spot, int chipsAtLeast, int chipsAtMax, string region, string project)
    {
        var q = TpuQuota.Find(quotas, slice.Accelerator, spot);
        var kind = spot ? "spot" : "on-demand";
        if (q is null)
            return new PrerequisiteCheck
            {
                Name = "TpuQuota",
                Status = PrerequisiteStatus.Warning,
                Message = $"Compute regions.get reports no {kind} {slice.Accelerator} chip quota for {region}; it could not be verified.",
                RecommendedAction = $"Check the quota in the console for project {project}: {TpuQuota.For(slice.Accelerator).CloudQuotasHint}.",
                Data = new Dictionary<string, object?> { ["Region"] = region, ["ChipsRequired"] = chipsAtMax },
            };
        var data = new Dictionary<string, object?>
        {
            ["Metric"] = q.Metric, ["Limit"] = q.Limit, ["Usage"] = q.Usage, ["Available"] = q.Available,
            ["ChipsAtLeast"] = chipsAtLeast, ["ChipsAtMax"] = chipsAtMax, ["Region"] = region,
        };
        if (q.Available < chipsAtLeast)
            return new PrerequisiteCheck
            {
                Name = "TpuQuota", Status = PrerequisiteStatus.Failed, Data = data,
                Message = $"{q.Metric} in {region}: {q.Available:0} of {q.Limit:0} chips free, the plan needs at least {chipsAtLeast} ({slice.Topology} on {slice.MachineType}).",
                RecommendedAction = $"Request at least {chipsAtMax} chips of {q.Metric} in {region} (IAM & Admin > Quotas), or choose a smaller topology or another region.",
            };
        if (q.Available < chipsAtMax)
            return new PrerequisiteCheck
            {
                Name = "TpuQuota", Status = PrerequisiteStatus.Warning, Data = data,
                Message = $"{q.Metric} in {region}: {q.Available:0} chips free; enough for {chipsAtLeast} but not for the autoscaling maximum of {chipsAtMax}.",
                RecommendedAction = $"Request {chipsAtMax} chips of {q.Metric} or lower -MaxNodes.",
            };
        return new PrerequisiteCheck
        {
            Name = "TpuQuota", Status = PrerequisiteStatus.Passed, Data = data,
            Message = $"{q.Metric} in {region}: {q.Available:0} of {q.Limit:0} chips free; the plan needs up to {chipsAtMax}.",
        };
    }

    /// <summary>Zones other than <paramref name="except"/> that offer the accelerator type; empty when that cannot be read.</summary>
    public async Task<IReadOnlyList<string>> AlternativeZonesAsync(string project, string acceleratorType, string? except, CancellationToken ct)
    {
        try
        {
            return (await _compute.ZonesOfferingAsync(project, acceleratorType, ct).ConfigureAwait(false))
                .Where(z => !string.Equals(z, except, StringComparison.OrdinalIgnoreCase)).ToList();
        }
        catch (GkeApiException ex)
        {
            _session.Log.Verbose($"Could not list zones offering {acceleratorType}: {ex.ErrorId}.");
            return [];
        }
    }

    private async Task ClusterChecksAsync(string? project, PrerequisiteRequest r, bool credentialsOk, List<PrerequisiteCheck> checks, CancellationToken ct)
    {
        if (project is null || !credentialsOk || string.IsNullOrWhiteSpace(r.Zone))
        {
            checks.Add(Skip("ClusterRunning", "Skipped: needs a project, credentials and -Zone (the cluster location)."));
            return;
        }
        TpuCluster? cluster = null;
        checks.Add(await Guard("ClusterRunning", async () =>
        {
            cluster = await _gke.GetClusterAsync(project, r.Zone, r.Cluster!, ct, nodeCounts: false).ConfigureAwait(false);
            if (cluster is null) return Fail("ClusterRunning", $"Cluster {r.Cluster} does not exist in {project}/{r.Zone}.", "Create it with New-TpuCluster.");
            return cluster.Status == "RUNNING"
                ? Pass("ClusterRunning", $"Cluster {r.Cluster} is RUNNING (version {cluster.MasterVersion}).")
                : Fail("ClusterRunning", $"Cluster {r.Cluster} is {cluster.Status}. {cluster.StatusMessage}".Trim(), "Wait for RUNNING (Get-TpuCluster) or fix the error it reports.");
        }).ConfigureAwait(false));
        if (cluster is null) return;
        checks.Add(cluster.GatewayApiChannel is "CHANNEL_STANDARD" or "CHANNEL_EXPERIMENTAL"
            ? Pass("GatewayApi", $"Gateway API is enabled ({cluster.GatewayApiChannel}).")
            : Fail("GatewayApi", $"Gateway API is not enabled ({cluster.GatewayApiChannel ?? "CHANNEL_DISABLED"}).",
                $"gcloud container clusters update {cluster.Name} --location {cluster.Location} --gateway-api=standard"));
        checks.Add(cluster.NetworkPolicyEnforced
            ? Pass("NetworkPolicyEnforced", $"NetworkPolicy is enforced ({cluster.DatapathProvider ?? "network policy add-on"}).")
            : Fail("NetworkPolicyEnforced", "NetworkPolicies are not enforced: the cluster has neither Dataplane V2 nor the network policy add-on.",
                "Create clusters with Dataplane V2 (New-TpuCluster does by default); an existing cluster needs the network policy add-on enabled."));
        if (cluster.Status != "RUNNING" || string.IsNullOrEmpty(cluster.Endpoint))
        {
            checks.Add(Skip("RequiredCrds", $"Skipped: cluster {cluster.Name} is {cluster.Status} and its API server cannot be read."));
            return;
        }
        try { checks.AddRange(await _inspector.ChecksAsync(cluster, ct).ConfigureAwait(false)); }
        catch (RhaiiException ex) { checks.Add(Warn("RequiredCrds", $"Could not check the cluster's CRDs: {ex.Message}", ex.RecommendedAction)); }
    }

    private async Task<PrerequisiteCheck> Guard(string name, Func<Task<PrerequisiteCheck>> check)
    {
        try { return await check().ConfigureAwait(false); }
        catch (GkeApiException ex) when (ex.ErrorId is "GkePermissionDenied" or "GkeApiDisabled" or "GkeNotFound" or "GkeAuthenticationFailed")
        {
            return new PrerequisiteCheck
            {
                Name = name,
                Status = ex.ErrorId == "GkeApiDisabled" || ex.ErrorId == "GkeAuthenticationFailed" ? PrerequisiteStatus.Failed : PrerequisiteStatus.Warning,
                Message = $"Could not check: {ex.Message}",
                RecommendedAction = ex.RecommendedAction,
                Data = new Dictionary<string, object?> { ["ErrorId"] = ex.ErrorId },
            };
        }
        catch (RhaiiException ex)
        {
            return Warn(name, $"Could not check: {ex.Message}", ex.RecommendedAction);
        }
    }

    private static PrerequisiteCheck Pass(string name, string message) => new() { Name = name, Status = PrerequisiteStatus.Passed, Message = message };
    private static PrerequisiteCheck Skip(string name, string message) => new() { Name = name, Status = PrerequisiteStatus.Skipped, Message = message };
    private static PrerequisiteCheck Warn(string name, string message, string? fix) => new() { Name = name, Status = PrerequisiteStatus.Warning, Message = message, RecommendedAction = fix };
    private static PrerequisiteCheck Fail(string name, string message, string? fix, Dictionary<string, object?>? data = null) =>
        new() { Name = name, Status = PrerequisiteStatus.Failed, Message = message, RecommendedAction = fix, Data = data ?? new Dictionary<string, object?>() };
}
