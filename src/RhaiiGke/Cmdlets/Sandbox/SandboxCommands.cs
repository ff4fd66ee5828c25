using System.Collections.Concurrent;
using System.Management.Automation;
using RhaiiGke.Cmdlets.Platform;
using RhaiiGke.Completers;
using RhaiiGke.Engine.Catalog;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Sandbox.Gke;
using RhaiiGke.Sandbox.KubeApi;
using RhaiiGke.Sandbox;
using RhaiiGke.Validation;

namespace RhaiiGke.Cmdlets.Sandbox;

/// <summary>One running sandbox: what to dispose, the environment to restore, and (GKE) the token the simulator accepts.</summary>
internal sealed class SandboxEntry
{
    public required RhaiiSandbox Info { get; init; }
    public required IDisposable[] Owned { get; init; }
    public Dictionary<string, string?> PreviousEnvironment { get; } = new(StringComparer.Ordinal);
    public System.Security.SecureString? GkeToken { get; init; }
    public string? GkeEndpoint { get; init; }
    /// <summary>
    /// GKE: a file (owner-only, in an owner-only temporary folder removed by Stop-RhaiiSandbox) holding an access token the
    /// simulator issued, for gcloud's auth/access_token_file: the kubeconfig entries Get-TpuClusterCredential writes for the
    /// sandbox's clusters point gke-gcloud-auth-plugin's gcloud at it, as a user's gcloud account would answer on a real project.
    /// The token opens nothing but this process's loopback simulators and dies with them.
    /// </summary>
    public string? GcloudAccessTokenFile { get; init; }
}

/// <summary>The sandboxes running in this process, by name.</summary>
internal static class SandboxRegistry
{
    public static readonly ConcurrentDictionary<string, SandboxEntry> Running = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The token of the GKE sandbox serving <paramref name="endpoint"/> (or the RHAII_GKE_ENDPOINT one), so GKE commands need no credentials there.</summary>
    public static System.Security.SecureString? GkeTokenFor(string? endpoint) => GkeSandboxFor(endpoint)?.GkeToken;

    /// <summary>The GKE sandbox serving <paramref name="endpoint"/> (or the RHAII_GKE_ENDPOINT one), or null.</summary>
    public static SandboxEntry? GkeSandboxFor(string? endpoint)
    {
        endpoint ??= Environment.GetEnvironmentVariable("RHAII_GKE_ENDPOINT");
        if (string.IsNullOrEmpty(endpoint)) return null;
        return Running.Values.FirstOrDefault(e => e.GkeEndpoint is not null && string.Equals(e.GkeEndpoint.TrimEnd('/'), endpoint.TrimEnd('/'), StringComparison.OrdinalIgnoreCase));
    }
}

/// <summary>Starts a local Kubernetes API sandbox (simulated API server and controllers) and connects to it.</summary>
[Cmdlet(VerbsLifecycle.Start, "RhaiiSandbox", SupportsShouldProcess = true, DefaultParameterSetName = KubernetesSet)]
[OutputType(typeof(RhaiiSandbox))]
public sealed class StartRhaiiSandboxCommand : RhaiiCmdlet
{
    private const string KubernetesSet = "Kubernetes";
    private const string GkeSet = "Gke";

    /// <summary>Simulate Google Cloud instead: the GKE, Compute and Service Usage APIs on loopback, whose clusters are Kubernetes sandboxes.</summary>
    [Parameter(ParameterSetName = GkeSet, Mandatory = true)]
    public SwitchParameter Gke { get; set; }

    /// <summary>The simulated project (set as GOOGLE_CLOUD_PROJECT while the sandbox runs).</summary>
    [Parameter(ParameterSetName = GkeSet)]
    [ValidatePattern("^[a-z][-a-z0-9]{4,28}[a-z0-9]$")]
    public string Project { get; set; } = "rhaii-sandbox";

    /// <summary>How long each simulated GKE operation (cluster or node pool create, resize, delete) takes.</summary>
    [Parameter(ParameterSetName = GkeSet)]
    [ValidateTimeout(AllowZero = true)]
    public TimeSpan OperationDuration { get; set; } = TimeSpan.FromSeconds(1);

    [Parameter(Position = 0)]
    [ValidatePattern("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    public string Name { get; set; } = "rhaii-sandbox";

    /// <summary>CPU nodes (e2-standard-8) in the default pool.</summary>
    [Parameter(ParameterSetName = KubernetesSet)]
    [ValidateRange(0, 100)]
    public int CpuNodes { get; set; } = 3;

    /// <summary>TPU nodes (hosts) to add, labelled and tainted as GKE does.</summary>
    [Parameter(ParameterSetName = KubernetesSet)]
    [ValidateRange(0, 256)]
    public int TpuNodes { get; set; }

    [Parameter(ParameterSetName = KubernetesSet)]
    [ArgumentCompleter(typeof(AcceleratorCompleter))]
    public string Accelerator { get; set; } = "v6e";

    [Parameter(ParameterSetName = KubernetesSet)]
    [ArgumentCompleter(typeof(TopologyCompleter))]
    public string Topology { get; set; } = "2x2";

    /// <summary>Machine type of the -TpuNodes, where a topology is offered on several (v6e 2x4: ct6e-standard-8t is one host, ct6e-standard-4t two); the one with the fewest hosts when not given.</summary>
    [Parameter(ParameterSetName = KubernetesSet)]
    public string? TpuMachineType { get; set; }

    /// <summary>NVIDIA GPU nodes to add (pool gpu-pool), labelled cloud.google.com/gke-accelerator and tainted nvidia.com/gpu as GKE does.</summary>
    [Parameter(ParameterSetName = KubernetesSet)]
    [ValidateRange(0, 256)]
    public int GpuNodes { get; set; }

    /// <summary>The GPU of the -GpuNodes: nvidia-l4, nvidia-tesla-a100, nvidia-a100-80gb or nvidia-h100-80gb.</summary>
    [Parameter(ParameterSetName = KubernetesSet)]
    [ArgumentCompleter(typeof(GpuAcceleratorCompleter))]
    public string GpuAccelerator { get; set; } = "nvidia-l4";

    /// <summary>Machine type of the -GpuNodes (its GPU count is what each node offers); the one-GPU machine type when not given.</summary>
    [Parameter(ParameterSetName = KubernetesSet)]
    [ArgumentCompleter(typeof(GpuMachineTypeCompleter))]
    public string? GpuMachineType { get; set; }

    /// <summary>GKE-managed driver of the -GpuNodes: DEFAULT, LATEST, or INSTALLATION_DISABLED (no driver: the nodes advertise no nvidia.com/gpu).</summary>
    [Parameter(ParameterSetName = KubernetesSet)]
    [ValidateSet("DEFAULT", "LATEST", "INSTALLATION_DISABLED")]
    public string GpuDriverVersion { get; set; } = "DEFAULT";

    /// <summary>How long each simulated controller takes to act (pods starting, CRDs establishing, certificates issuing...).</summary>
    [Parameter]
    [ValidateTimeout(AllowZero = true)]
    public TimeSpan ControllerDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Share (0-0.5) of API requests answered with injected faults: 5xx, 429 with Retry-After, conflicts, slow responses and dropped watches.</summary>
    [Parameter(ParameterSetName = KubernetesSet)]
    [ValidateRange(0.0, 0.5)]
    public double FaultRate { get; set; }

    /// <summary>Seed of the injected fault sequence, so a failing run can be replayed; random when not given.</summary>
    [Parameter(ParameterSetName = KubernetesSet)]
    public int? FaultSeed { get; set; }

    /// <summary>Write a kubeconfig here so kubectl can use the sandbox.</summary>
    [Parameter(ParameterSetName = KubernetesSet)]
    public string? KubeconfigPath { get; set; }

    [Parameter(ParameterSetName = KubernetesSet)]
    public string KubernetesVersion { get; set; } = "v1.32.4";

    /// <summary>
    /// A folder of upstream CRD YAML and the Kubernetes OpenAPI (swagger-v1.NN.N.json): installed CRDs of the same
    /// names are served with the upstream structural schemas and built-in kinds are validated as a real API
    /// server does. Defaults to $env:RHAII_CRD_SCHEMAS; without either the sandbox validates with stand-in schemas.
    /// </summary>
    [Parameter]
    public string? CrdSchemaPath { get; set; }

    /// <summary>Do not make the sandbox the session's default cluster.</summary>
    [Parameter(ParameterSetName = KubernetesSet)]
    public SwitchParameter NoConnect { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        if (SandboxRegistry.Running.ContainsKey(Name))
        {
            Fail("SandboxAlreadyRunning", RhaiiErrorCategory.ResourceExists, $"A sandbox named '{Name}' is already running in this session.",
                $"Use it (Get it from Start-RhaiiSandbox's output or Connect-RhaiiCluster), stop it with Stop-RhaiiSandbox {Name}, or pick another -Name.", Name);
        }
        var schemaPath = ResolveSchemaPath();
        if (Gke)
        {
            StartGke(schemaPath);
            return;
        }
        // the data plane is on: ready vLLM pods answer at their pod IPs (through EndpointOverrides) and gateways on
        // loopback load-balancer addresses other processes reach, routing as the HTTPRoutes say; NetworkPolicies
        // are enforced as on Dataplane V2
        var options = new KubeApiSimulatorOptions
        {
            KubernetesVersion = KubernetesVersion, Delays = KubeControllerDelays.Uniform(ControllerDelay), DataPlane = true, EnforceNetworkPolicy = true,
            CrdSchemaPath = schemaPath,
        };
        var pools = new List<string>();
        if (CpuNodes > 0)
        {
            options.Nodes.AddRange(SimulatedNode.CpuPool("default-pool", CpuNodes));
            pools.Add($"default-pool: {CpuNodes} x e2-standard-8");
        }
        if (TpuNodes > 0)
        {
            var t = TpuCatalog.Resolve(Accelerator, Topology, TpuMachineType);
            options.Nodes.AddRange(SimulatedNode.TpuPool("tpu-pool", TpuNodes, t.NodeLabel, t.Topology, t.MachineType, t.ChipsPerHost));
            pools.Add($"tpu-pool: {TpuNodes} x {t.MachineType} ({t.Accelerator} {t.Topology}, {t.ChipsPerHost} chips each)");
        }
        if (GpuNodes > 0)
        {
            var g = GpuCatalog.Resolve(GpuAccelerator, null, GpuMachineType);
            var installed = GpuDriverVersion != "INSTALLATION_DISABLED";
            options.Nodes.AddRange(RhaiiGke.Sandbox.KubeApi.SimulatedGpuNodes.Pool("gpu-pool", GpuNodes, g.NodeLabel, g.MachineType, g.ChipsPerHost, installed,
                driverVersion: GpuDriverVersion.ToLowerInvariant()));
            pools.Add($"gpu-pool: {GpuNodes} x {g.MachineType} ({g.ChipsPerHost} x {g.Accelerator}, driver {(installed ? GpuDriverVersion : "not installed")})");
        }
        if (FaultRate > 0) options.Faults = KubeFaultOptions.Mixed(FaultRate, FaultSeed);
        if (!ShouldProcess(Name, "Start a local Kubernetes API sandbox")) return;

        var sim = new KubeApiSimulator(options);
        sim.Start();
        string? kubeconfig = null;
        if (KubeconfigPath is not null)
        {
            kubeconfig = GetUnresolvedProviderPathFromPSPath(KubeconfigPath);
            Directory.CreateDirectory(Path.GetDirectoryName(kubeconfig)!);
            // the kubeconfig holds the sandbox's token: readable by the user only, as gcloud and kind write theirs
            var tmp = kubeconfig + ".rhaii-tmp";
            await File.WriteAllTextAsync(tmp, "", cancellationToken);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(tmp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            await File.WriteAllTextAsync(tmp, sim.Kubeconfig(Name), cancellationToken);
            File.Move(tmp, kubeconfig, overwrite: true);
        }
        // connect as to any cluster: https, the sandbox's CA verified, its bearer token
        var token = new System.Security.SecureString();
        foreach (var ch in sim.Token) token.AppendChar(ch);
        token.MakeReadOnly();
        var connection = await ClusterConnector.VerifyAsync(new ClusterConnection
        {
            Name = Name, Server = sim.Server, Namespace = "default", AuthKind = ClusterAuthKind.Token, Token = token,
            CertificateAuthorityData = sim.CaCertificateData, IsSandbox = true,
        }, cancellationToken);
        var info = new RhaiiSandbox
        {
            Name = Name, Server = sim.Server, KubeconfigPath = kubeconfig, Context = kubeconfig is null ? null : Name, NodePools = pools,
            KubernetesVersion = KubernetesVersion, FaultRate = FaultRate, ControllerDelay = ControllerDelay, Connection = connection,
            Validation = sim.Validation,
            FaultSeed = FaultRate > 0 ? FaultSeed : null, Faults = new RhaiiSandboxFaults(() => FaultCounts(sim.Stats)),
        };
        SandboxRegistry.Running[Name] = new SandboxEntry { Info = info, Owned = [sim] };
        if (!NoConnect) ClusterSession.Default = connection;
        WriteVerbose($"Sandbox {Name} listens on {sim.Server}{(kubeconfig is null ? "" : $"; kubectl --kubeconfig {kubeconfig}")}");
        if (RhaiiGke.Sandbox.KubeApi.DataPlane.LoopbackAddresses.Unavailable() is { } why) WriteWarning("Sandbox gateways: " + why);
        WriteObject(info);
    }

    /// <summary>-CrdSchemaPath, else $env:RHAII_CRD_SCHEMAS; null for the stand-ins. A given folder must exist.</summary>
    private string? ResolveSchemaPath()
    {
        if (!string.IsNullOrEmpty(CrdSchemaPath))
        {
            var path = GetUnresolvedProviderPathFromPSPath(CrdSchemaPath);
            if (!Directory.Exists(path))
                Fail("CrdSchemaPathNotFound", RhaiiErrorCategory.ObjectNotFound, $"The schema folder '{CrdSchemaPath}' does not exist.",
                    "Pass a folder of upstream CRD YAML files (and optionally the Kubernetes OpenAPI swagger-v1.NN.N.json), or omit -CrdSchemaPath to use the stand-in schemas.", CrdSchemaPath);
            return path;
        }
        var env = Environment.GetEnvironmentVariable("RHAII_CRD_SCHEMAS");
        return !string.IsNullOrEmpty(env) && Directory.Exists(env) ? env : null;
    }

    private static IReadOnlyDictionary<string, long> FaultCounts(KubeApiSimulatorStats s) => new Dictionary<string, long>
    {
        ["ServerErrors"] = s.ServerErrorsInjected, ["TooManyRequests"] = s.TooManyRequestsInjected, ["Conflicts"] = s.ConflictsInjected,
        ["SlowResponses"] = s.SlowResponsesInjected, ["DroppedWatches"] = s.WatchesDropped, ["ExpiredWatches"] = s.WatchesExpired,
    };

    private void StartGke(string? schemaPath)
    {
        Engine.Gke.GkeSession.ValidateProjectId(Project);
        if (SandboxRegistry.Running.Values.Any(e => e.GkeEndpoint is not null))
            Fail("GkeSandboxAlreadyRunning", RhaiiErrorCategory.ResourceExists, "A GKE sandbox already runs in this session; the Google API endpoints can point at one only.",
                $"Stop it first: Stop-RhaiiSandbox {SandboxRegistry.Running.Values.First(e => e.GkeEndpoint is not null).Info.Name}.");
        if (!ShouldProcess(Name, "Start a local Google Cloud (GKE) API sandbox and point this session's GKE commands at it")) return;
        // Every cluster New-TpuCluster creates gets a Kubernetes sandbox (with its data plane) as its endpoint.
        var clusters = new GkeClusterSimulators(ControllerDelay, schemaPath is null ? null : o => o.CrdSchemaPath = schemaPath);
        var options = new GkeApiSimulatorOptions { OperationDuration = OperationDuration };
        clusters.Attach(options);
        var sim = new GkeApiSimulator(options);
        var token = new System.Security.SecureString();
        foreach (var ch in sim.IssueToken()) token.AppendChar(ch);
        token.MakeReadOnly();
        var tokenDir = new SandboxTokenFolder(sim.IssueToken());
        var info = new RhaiiSandbox
        {
            Name = Name, Kind = "Gke", Server = sim.ContainerEndpoint, Project = Project, ControllerDelay = ControllerDelay, Connection = null,
            Validation = schemaPath is null ? "stand-in schemas" : $"upstream schemas from {schemaPath} (each cluster)",
        };
        var entry = new SandboxEntry { Info = info, Owned = [sim, clusters, tokenDir], GkeToken = token, GkeEndpoint = sim.ContainerEndpoint, GcloudAccessTokenFile = tokenDir.TokenFile };
        var env = sim.EnvironmentVariables.ToDictionary(kv => kv.Key, kv => kv.Value);
        env["GOOGLE_CLOUD_PROJECT"] = Project;
        foreach (var (k, v) in env)
        {
            entry.PreviousEnvironment[k] = Environment.GetEnvironmentVariable(k);
            Environment.SetEnvironmentVariable(k, v);
        }
        SandboxRegistry.Running[Name] = entry;
        WriteVerbose($"GKE sandbox {Name} listens on {sim.Url}; {string.Join(", ", env.Keys)} point this session's GKE commands at it until Stop-RhaiiSandbox {Name}.");
        WriteObject(info);
    }
}

/// <summary>An owner-only temporary folder with the GKE sandbox's gcloud access-token file; deleted on dispose.</summary>
internal sealed class SandboxTokenFolder : IDisposable
{
    private readonly string _dir;

    public SandboxTokenFolder(string token)
    {
        _dir = Directory.CreateTempSubdirectory("rhaii-gke-sandbox-").FullName;
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(_dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        TokenFile = Path.Combine(_dir, "gcloud-access-token");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var fs = new FileStream(TokenFile, options);
        fs.Write(System.Text.Encoding.ASCII.GetBytes(token));
    }

    public string TokenFile { get; }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>Stops a sandbox started by Start-RhaiiSandbox.</summary>
[Cmdlet(VerbsLifecycle.Stop, "RhaiiSandbox", SupportsShouldProcess = true, DefaultParameterSetName = "Name")]
[OutputType(typeof(RhaiiSandbox))]
public sealed class StopRhaiiSandboxCommand : RhaiiCmdlet
{
    [Parameter(ParameterSetName = "Name", Position = 0, ValueFromPipelineByPropertyName = true)]
    public string[] Name { get; set; } = [];

    [Parameter(ParameterSetName = "All", Mandatory = true)]
    public SwitchParameter All { get; set; }

    /// <summary>Output the stopped sandbox.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        var names = All ? SandboxRegistry.Running.Keys.ToArray() : Name.Length > 0 ? Name : ["rhaii-sandbox"];
        foreach (var n in names)
        {
            if (!SandboxRegistry.Running.TryGetValue(n, out var entry))
            {
                WriteError(new RhaiiException("SandboxNotFound", RhaiiErrorCategory.ObjectNotFound, $"No sandbox named '{n}' runs in this session.",
                    $"Running: {(SandboxRegistry.Running.IsEmpty ? "none" : string.Join(", ", SandboxRegistry.Running.Keys))}.", n));
                continue;
            }
            if (!ShouldProcess(n, "Stop the sandbox (everything in it is lost)")) continue;
            SandboxRegistry.Running.TryRemove(n, out _);
            // a GKE sandbox's clusters go with it: forget the session default if it was one of them
            var servers = entry.Owned.OfType<GkeClusterSimulators>().SelectMany(c => c.Servers).Append(entry.Info.Server).Select(x => x.TrimEnd('/')).ToHashSet(StringComparer.OrdinalIgnoreCase);
            foreach (var d in entry.Owned) d.Dispose();
            foreach (var (k, v) in entry.PreviousEnvironment) Environment.SetEnvironmentVariable(k, v);
            entry.Info.Running = false;
            if (ClusterSession.Default is { } current && servers.Contains(current.Server.TrimEnd('/'))) ClusterSession.Default = null;
            if (PassThru) WriteObject(entry.Info);
        }
        return Task.CompletedTask;
    }
}
