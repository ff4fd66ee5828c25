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
    public IReadOnlyList<string> NodePools { get; init; } = [];
    public string KubernetesVersion { get; init; } = "";
    /// <summary>Share of injected API faults (0 when none).</summary>
    public double FaultRate { get; init; }
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
