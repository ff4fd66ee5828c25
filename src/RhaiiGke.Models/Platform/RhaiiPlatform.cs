using System.Security;

namespace RhaiiGke;

/// <summary>One line of the bill of materials: what a component is installed from, pinned.</summary>
public sealed class RhaiiBomEntry
{
    /// <summary>cert-manager, istio, lws or kserve.</summary>
    public string Component { get; init; } = "";
    /// <summary>What runs: e.g. cert-manager, sail-operator, Gateway API CRDs.</summary>
    public string Product { get; init; } = "";
    public string Version { get; init; } = "";
    /// <summary>Default source: a release manifest URL, a Helm chart or a kustomize overlay.</summary>
    public string Source { get; init; } = "";
    public string? Notes { get; init; }

    public override string ToString() => $"{Component}: {Product} {Version}";
}

/// <summary>The state of one operator component on a cluster.</summary>
public sealed class RhaiiComponentStatus
{
    public string Name { get; init; } = "";
    public string? Version { get; init; }
    /// <summary>Ready, NotReady, NotInstalled or Skipped.</summary>
    public string State { get; init; } = "";
    public bool Ready => State == "Ready";
    /// <summary>What is missing or not ready, in words.</summary>
    public string? Message { get; init; }
    public string? Namespace { get; init; }
    /// <summary>Operator Deployments as name ready/desired.</summary>
    public RhaiiList<string> Deployments { get; init; } = [];
    /// <summary>CRDs present, with their served versions (name@v1,v1alpha2).</summary>
    public RhaiiList<string> Crds { get; init; } = [];
    /// <summary>CRDs of this component that are missing.</summary>
    public RhaiiList<string> MissingCrds { get; init; } = [];
    /// <summary>True when every admission webhook of the component has ready endpoints and its CA; null when it has none.</summary>
    public bool? WebhooksReady { get; init; }
    /// <summary>Where the manifests came from during Install-RhaiiOperators (sandbox, URL, folder, kustomize, helm).</summary>
    public string? Source { get; init; }
    /// <summary>What Install-RhaiiOperators/Uninstall-RhaiiOperators did for this component, if it ran.</summary>
    public KubeApplyResult? Apply { get; init; }

    public override string ToString() => $"{Name}: {State}";
}

/// <summary>RHAII's operators on a cluster (<c>Install-RhaiiOperators</c>, <c>Get-RhaiiOperatorStatus</c>).</summary>
public sealed class RhaiiPlatform
{
    public string Cluster { get; init; } = "";
    /// <summary>The connection the operators were installed through; lets Deploy-LlmInferenceService and New-InferenceGateway follow in a pipeline.</summary>
    public ClusterConnection? Connection { get; init; }
    public string? Context { get; init; }
    public RhaiiList<RhaiiComponentStatus> Components { get; init; } = [];
    public bool Ready => Components.Count > 0 && Components.All(c => c.Ready || c.State == "Skipped");
    /// <summary>Istio version from the Istio resource (e.g. v1.27.3).</summary>
    public string? IstioVersion { get; init; }
    /// <summary>InferencePool API groups the cluster serves (inference.networking.k8s.io/v1, inference.networking.x-k8s.io/v1alpha2).</summary>
    public RhaiiList<string> InferencePoolApis { get; init; } = [];
    /// <summary>The InferencePool group the installed gateway implementation speaks (Istio 1.27: x-k8s v1alpha2; 1.28+: v1).</summary>
    public string? GatewayInferencePoolApi { get; init; }
    /// <summary>GatewayClasses and whether they are Accepted.</summary>
    public RhaiiList<string> GatewayClasses { get; init; } = [];
    /// <summary>CRDs left alone because GKE manages them.</summary>
    public RhaiiList<string> GkeManagedCrds { get; init; } = [];
    /// <summary>Name of the image pull secret placed by the install, and where (never its content).</summary>
    public string? PullSecret { get; init; }
    public RhaiiList<string> PullSecretNamespaces { get; init; } = [];
    public int MutatingRequests { get; init; }
    public int Retries { get; init; }
    public TimeSpan Duration { get; init; }
    public bool DryRun { get; init; }

    public override string ToString() => $"{Cluster}: {(Ready ? "Ready" : "NotReady")} ({string.Join(", ", Components.Select(c => $"{c.Name}={c.State}"))})";
}

/// <summary>How Install-RhaiiOperators and Uninstall-RhaiiOperators run.</summary>
public sealed class RhaiiInstallOptions
{
    /// <summary>Components in install order; default all: cert-manager, istio, lws, kserve.</summary>
    public IList<string> Components { get; set; } = ["cert-manager", "istio", "lws", "kserve"];
    /// <summary>Per-component source overrides: a folder or file of rendered YAML, a URL, a kustomize directory (kustomize:&lt;dir|url&gt;), a Helm chart (helm:&lt;chart&gt;), or "sandbox".</summary>
    public IDictionary<string, string> Sources { get; set; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
    /// <summary>A .dockerconfigjson document for registry.redhat.io and friends. Never printed.</summary>
    public SecureString? PullSecretConfig { get; set; }
    public string PullSecretName { get; set; } = "rhaii-pull-secret";
    /// <summary>Extra namespaces that get the pull secret (the workload namespace, RHCL namespaces).</summary>
    public IList<string> PullSecretNamespaces { get; set; } = [];
    /// <summary>
    /// Remove the pull secret: drop references named <see cref="PullSecretName"/> from the operators' ServiceAccounts,
    /// workloads and Istio values, and delete the Secrets the install created. Without it a re-run keeps existing references.
    /// </summary>
    public bool RemovePullSecret { get; set; }
    /// <summary>Uninstall: keep CRDs (and so every custom resource).</summary>
    public bool KeepCrds { get; set; }
    /// <summary>Uninstall: remove the LLMInferenceServices still deployed (and what Deploy created for them, Secrets included) first, instead of refusing.</summary>
    public bool RemoveServices { get; set; }
    public KubeApplyOptions Apply { get; set; } = new();
}
