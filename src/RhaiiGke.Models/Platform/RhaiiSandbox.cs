namespace RhaiiGke;

/// <summary>A local Kubernetes API sandbox started by <c>Start-RhaiiSandbox</c> (a simulator in this PowerShell process).</summary>
public sealed class RhaiiSandbox
{
    public string Name { get; init; } = "";
    /// <summary>Kubernetes (an API server with controllers) or Gke (the Google Cloud APIs, whose clusters are Kubernetes sandboxes).</summary>
    public string Kind { get; init; } = "Kubernetes";
    /// <summary>API server URL (http://127.0.0.1:PORT); for a GKE sandbox, the GKE API base URL.</summary>
    public string Server { get; init; } = "";
    /// <summary>The simulated Google Cloud project (GKE sandboxes).</summary>
    public string? Project { get; init; }
    /// <summary>kubeconfig written for kubectl, when -KubeconfigPath was given.</summary>
    public string? KubeconfigPath { get; init; }
    public string? Context { get; init; }
    /// <summary>Nodes as pool: count x machine type (TPU accelerator and topology).</summary>
    public RhaiiList<string> NodePools { get; init; } = [];
    public string KubernetesVersion { get; init; } = "";
    /// <summary>Share of injected API faults (0 when none).</summary>
    public double FaultRate { get; init; }
    /// <summary>Seed of the fault sequence (-FaultSeed), so a run can be reproduced; null when random.</summary>
    public int? FaultSeed { get; init; }
    /// <summary>Faults injected so far, by kind (live counters; null for a GKE sandbox).</summary>
    public RhaiiSandboxFaults? Faults { get; init; }
    public TimeSpan ControllerDelay { get; init; }
    /// <summary>
    /// Which schemas the sandbox validates writes with: "upstream schemas from &lt;folder&gt; ..." (CRDs served with
    /// their upstream structural schemas, built-in kinds checked against the Kubernetes OpenAPI) or
    /// "stand-in schemas" (the installed CRDs' own schemas, which preserve unknown fields).
    /// </summary>
    public string Validation { get; init; } = "";
    public DateTimeOffset StartedAt { get; init; } = DateTimeOffset.UtcNow;
    public bool Running { get; set; } = true;
    /// <summary>The connection cluster commands use (also bound by property name: -Cluster); null for a GKE sandbox.</summary>
    public ClusterConnection? Connection { get; init; }

    public override string ToString() => $"{Name} ({Server})";
}

/// <summary>Live counts of the faults a Kubernetes sandbox has injected since it started.</summary>
public sealed class RhaiiSandboxFaults
{
    private readonly Func<IReadOnlyDictionary<string, long>> _read;

    public RhaiiSandboxFaults(Func<IReadOnlyDictionary<string, long>> read) => _read = read;

    private long Get(string key) => _read().TryGetValue(key, out var v) ? v : 0;

    /// <summary>Requests answered 500, 503 or 504.</summary>
    public long ServerErrors => Get(nameof(ServerErrors));
    /// <summary>Requests answered 429 TooManyRequests with Retry-After.</summary>
    public long TooManyRequests => Get(nameof(TooManyRequests));
    /// <summary>Updates, patches and applies answered 409 Conflict.</summary>
    public long Conflicts => Get(nameof(Conflicts));
    /// <summary>Requests answered late (not counted in <see cref="Total"/>).</summary>
    public long SlowResponses => Get(nameof(SlowResponses));
    /// <summary>Watch streams cut mid-way.</summary>
    public long DroppedWatches => Get(nameof(DroppedWatches));
    /// <summary>Watch resumes answered 410 Expired.</summary>
    public long ExpiredWatches => Get(nameof(ExpiredWatches));
    /// <summary>Every injected fault but slow responses.</summary>
    public long Total => ServerErrors + TooManyRequests + Conflicts + DroppedWatches + ExpiredWatches;

    public override string ToString() =>
        $"{Total} faults: {ServerErrors} 5xx, {TooManyRequests} 429, {Conflicts} conflicts, {DroppedWatches} dropped watches, {ExpiredWatches} expired watches ({SlowResponses} slow)";
}
