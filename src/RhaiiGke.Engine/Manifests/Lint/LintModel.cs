using RhaiiGke.Engine.Catalog;

namespace RhaiiGke.Engine.Manifests.Lint;

/// <summary>Well-known names the rules look for.</summary>
internal static class K8s
{
    public const string AcceleratorLabel = "cloud.google.com/gke-tpu-accelerator";
    public const string TopologyLabel = "cloud.google.com/gke-tpu-topology";
    public const string InstanceTypeLabel = "node.kubernetes.io/instance-type";
    public const string TpuResource = "google.com/tpu";
    public const string KServeGroup = "serving.kserve.io";
    public const string KServeVersion = "v1alpha1";
    public const string LlmIsvc = "LLMInferenceService";
    public const string LlmIsvcConfig = "LLMInferenceServiceConfig";
    public const string AdditionalArgsEnv = "VLLM_ADDITIONAL_ARGS";
    /// <summary>Where KServe's storage-initializer puts spec.model.uri and what its template serves.</summary>
    public const string ModelMountPath = "/mnt/models";
    /// <summary>XLA compilation plus weight loading on TPU takes 3-5 minutes; upstream probes wait 240 s.</summary>
    public const int XlaStartupSeconds = 240;

    /// <summary>True for <c>{{ .Spec.Model.Name }}</c>-style Go template text that KServe fills in.</summary>
    public static bool IsTemplated(string? s) => s is not null && s.Contains("{{", StringComparison.Ordinal);
}

/// <summary>One Kubernetes object from a linted file (an item of a <c>List</c> counts as its own object).</summary>
internal sealed class LintDocument
{
    public LintDocument(int sourceIndex, string? file, YamlView root)
    {
        SourceIndex = sourceIndex;
        File = file;
        Root = root;
        Kind = root.Str("kind") ?? "";
        ApiVersion = root.Str("apiVersion") ?? "";
        Name = root.Get("metadata.name")?.Scalar;
        Namespace = root.Get("metadata.namespace")?.Scalar;
        Pods = WorkloadReader.Read(this);
    }

    /// <summary>Which source of the lint run the object came from.</summary>
    public int SourceIndex { get; }
    public string? File { get; }
    public YamlView Root { get; }
    public string Kind { get; }
    public string ApiVersion { get; }
    public string? Name { get; }
    public string? Namespace { get; }
    public YamlView? Spec => Root["spec"];
    public IReadOnlyList<PodView> Pods { get; }

    public string Group => ApiVersion.Contains('/') ? ApiVersion[..ApiVersion.IndexOf('/')] : "";
    public string Version => ApiVersion.Contains('/') ? ApiVersion[(ApiVersion.IndexOf('/') + 1)..] : ApiVersion;

    /// <summary>An LLMInferenceService or LLMInferenceServiceConfig (any version of serving.kserve.io).</summary>
    public bool IsKServe => Group == K8s.KServeGroup && Kind is K8s.LlmIsvc or K8s.LlmIsvcConfig;
    public bool IsLlmIsvc => IsKServe && Kind == K8s.LlmIsvc;
    public bool IsLlmIsvcConfig => IsKServe && Kind == K8s.LlmIsvcConfig;

    /// <summary>Whether the rules have anything to check in this object.</summary>
    public bool IsChecked => IsKServe || Pods.Count > 0;

    /// <summary>
    /// A Config is a fragment, and a service with baseRefs inherits from configs: in both, a missing
    /// field may come from elsewhere, so rules about absent fields stay quiet.
    /// </summary>
    public bool MayInherit => IsLlmIsvcConfig || (IsLlmIsvc && Spec?["baseRefs"]?.Items.Any() == true);

    /// <summary>The served model name KServe uses: spec.model.name, defaulting to metadata.name.</summary>
    public string? ServedModelName => Spec?.Get("model.name")?.Scalar ?? (IsLlmIsvc ? Name : null);
}

/// <summary>A pod spec inside an object: an LLMISVC template or worker, a Deployment's template, a Pod...</summary>
internal sealed class PodView
{
    public PodView(LintDocument owner, YamlView spec, YamlView? metadata, string role, bool multiNode, int? hosts)
    {
        Owner = owner;
        Spec = spec;
        Metadata = metadata;
        Role = role;
        MultiNode = multiNode;
        Hosts = hosts;
        Containers = spec["containers"]?.Items.Select((c, i) => new ContainerView(this, c, i)).ToList() ?? [];
        ReadSelector();
    }

    public LintDocument Owner { get; }
    public YamlView Spec { get; }
    /// <summary>The pod's own metadata (a Deployment's spec.template.metadata, a Pod's metadata); null for KServe templates.</summary>
    public YamlView? Metadata { get; }
    /// <summary>main, worker, prefill, prefill-worker (LLMISVC); leader, worker (LWS); pod.</summary>
    public string Role { get; }
    /// <summary>Part of a multi-host replica (LLMISVC worker or LWS with size &gt; 1).</summary>
    public bool MultiNode { get; }
    /// <summary>Pods per replica when known (LWS size).</summary>
    public int? Hosts { get; }
    public IReadOnlyList<ContainerView> Containers { get; }
    public bool IsKServeTemplate => Owner.IsKServe;
    public bool MayInherit => Owner.MayInherit;

    public YamlView? AcceleratorLabel { get; private set; }
    public YamlView? TopologyLabel { get; private set; }
    public YamlView? InstanceTypeLabel { get; private set; }

    /// <summary>The normalized accelerator (v6e, v5e, v5p) from the node label, accepting aliases; null when unknown.</summary>
    public string? Accelerator => TpuCatalog.NormalizeAccelerator(AcceleratorLabel?.Scalar);

    /// <summary>Total google.com/tpu the pod asks for (limits, else requests), or null when none.</summary>
    public int? TpuChips
    {
        get
        {
            int? sum = null;
            foreach (var c in Containers)
                if ((c.TpuLimit ?? c.TpuRequest)?.Int is { } n) sum = (sum ?? 0) + n;
            return sum;
        }
    }

    public bool RequestsTpu => TpuContainer is not null;

    /// <summary>The first container that requests or limits google.com/tpu.</summary>
    public ContainerView? TpuContainer => Containers.FirstOrDefault(c => c.TpuLimit is not null || c.TpuRequest is not null);

    /// <summary>Pods that serve HTTP (not the workers of a multi-host replica).</summary>
    public bool IsServing => Role is not ("worker" or "prefill-worker");

    /// <summary>The LLMISVC parallelism block that applies to this pod (spec.parallelism, or spec.prefill.parallelism).</summary>
    public YamlView? Parallelism => !IsKServeTemplate ? null
        : Role.StartsWith("prefill", StringComparison.Ordinal) ? Owner.Spec?.Get("prefill.parallelism") : Owner.Spec?["parallelism"];

    /// <summary>Selects TPU nodes by label.</summary>
    public bool SelectsTpu => AcceleratorLabel is not null || TopologyLabel is not null;

    /// <summary>The pod targets TPU nodes: a TPU label, a google.com/tpu resource, or a TPU image.</summary>
    public bool IsTpu => AcceleratorLabel is not null || TopologyLabel is not null || RequestsTpu ||
                         (VllmContainer?.Image?.Contains("tpu", StringComparison.OrdinalIgnoreCase) ?? false);

    /// <summary>
    /// The vLLM container: for KServe the one named main (KServe merges by name); otherwise the first
    /// container that runs vLLM, else the one that requests TPU chips.
    /// </summary>
    public ContainerView? VllmContainer =>
        (IsKServeTemplate ? Containers.FirstOrDefault(c => c.Name == "main") : null)
        ?? Containers.FirstOrDefault(c => c.LooksLikeVllm)
        ?? Containers.FirstOrDefault(c => c.TpuLimit is not null || c.TpuRequest is not null)
        ?? (Containers.Count == 1 && IsKServeTemplate ? Containers[0] : null);

    /// <summary>Single-host catalog rows that match the accelerator and topology labels (and instance type when set).</summary>
    public IReadOnlyList<TpuTopology> CatalogMatches()
    {
        if (Accelerator is null || TopologyLabel?.Scalar is not { } topology) return [];
        return TpuCatalog.Find(Accelerator, InstanceTypeLabel?.Scalar, topology).ToList();
    }

    private void ReadSelector()
    {
        foreach (var (key, value) in Spec["nodeSelector"]?.Entries ?? [])
            Assign(key, value);
        var terms = Spec.Get("affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms");
        foreach (var term in terms?.Items ?? [])
            foreach (var expr in term["matchExpressions"]?.Items ?? [])
            {
                if (expr.Str("operator") != "In" || expr.Str("key") is not { } key) continue;
                var values = expr["values"]?.Items.ToList() ?? [];
                if (values.Count >= 1) Assign(key, values[0]);
            }
    }

    private void Assign(string key, YamlView value)
    {
        switch (key)
        {
            case K8s.AcceleratorLabel: AcceleratorLabel ??= value; break;
            case K8s.TopologyLabel: TopologyLabel ??= value; break;
            case K8s.InstanceTypeLabel: InstanceTypeLabel ??= value; break;
        }
    }

    /// <summary>Where a missing pod-level field belongs, e.g. <c>spec.template.tolerations</c>.</summary>
    public string PathOf(string field) => YamlView.Append(Spec.Path, field);
}

/// <summary>One container of a pod spec.</summary>
internal sealed class ContainerView
{
    private VllmCommandLine? _commandLine;

    public ContainerView(PodView pod, YamlView node, int index)
    {
        Pod = pod;
        Node = node;
        Index = index;
    }

    public PodView Pod { get; }
    public YamlView Node { get; }
    public int Index { get; }
    public string? Name => Node.Str("name");
    public string? Image => Node.Str("image");
    public YamlView? Command => Node["command"];
    public YamlView? Args => Node["args"];
    public YamlView? TpuRequest => Node.Get("resources.requests")?[K8s.TpuResource];
    public YamlView? TpuLimit => Node.Get("resources.limits")?[K8s.TpuResource];

    public IEnumerable<YamlView> EnvItems => Node["env"]?.Items ?? [];

    public YamlView? Env(string name) => EnvItems.FirstOrDefault(e => e.Str("name") == name);

    public VllmCommandLine CommandLine => _commandLine ??= VllmCommandLine.For(this);

    public bool LooksLikeVllm =>
        (Image?.Contains("vllm", StringComparison.OrdinalIgnoreCase) ?? false) ||
        VllmCommandLine.MentionsVllm(Command) || VllmCommandLine.MentionsVllm(Args);

    public IEnumerable<(string Kind, YamlView Probe)> Probes
    {
        get
        {
            foreach (var kind in new[] { "startupProbe", "livenessProbe", "readinessProbe" })
                if (Node[kind] is { IsMapping: true } p) yield return (kind, p);
        }
    }

    public string Display => Name is { Length: > 0 } n ? $"container '{n}'" : $"container #{Index}";
}

/// <summary>Finds the pod specs inside each kind of object.</summary>
internal static class WorkloadReader
{
    public static IReadOnlyList<PodView> Read(LintDocument doc)
    {
        var list = new List<PodView>();
        var spec = doc.Spec;
        if (spec is null || !spec.IsMapping) return list;

        void Add(YamlView? podSpec, string role, bool multiNode = false, int? hosts = null, YamlView? metadata = null)
        {
            if (podSpec is { IsMapping: true }) list.Add(new PodView(doc, podSpec, metadata, role, multiNode, hosts));
        }

        if (doc.IsKServe)
        {
            var worker = spec["worker"];
            // KServe's LWS group size (ParallelismSpec.GetSize): data / dataLocal, else pipeline
            var par = spec["parallelism"];
            int? groupSize = worker is not { IsMapping: true } ? null
                : par?["data"]?.Int is int d ? Math.Max(1, d / Math.Max(1, par?["dataLocal"]?.Int ?? 1))
                : par?["pipeline"]?.Int;
            Add(spec["template"], "main", worker is { IsMapping: true }, groupSize);
            Add(worker, "worker", true, groupSize);
            var prefill = spec["prefill"];
            if (prefill is not null)
            {
                var pworker = prefill["worker"];
                Add(prefill["template"], "prefill", pworker is { IsMapping: true });
                Add(pworker, "prefill-worker", true);
            }
            return list;
        }

        switch (doc.Kind)
        {
            case "Pod":
                Add(spec, "pod", metadata: doc.Root["metadata"]);
                break;
            case "Deployment" or "StatefulSet" or "ReplicaSet" or "DaemonSet" or "Job" or "ReplicationController":
                Add(spec.Get("template.spec"), "pod", metadata: spec.Get("template.metadata"));
                break;
            case "CronJob":
                Add(spec.Get("jobTemplate.spec.template.spec"), "pod", metadata: spec.Get("jobTemplate.spec.template.metadata"));
                break;
            case "LeaderWorkerSet":
                var lwt = spec["leaderWorkerTemplate"];
                var size = lwt?["size"]?.Int ?? 1;
                Add(lwt?.Get("leaderTemplate.spec"), "leader", size > 1, size, lwt?.Get("leaderTemplate.metadata"));
                Add(lwt?.Get("workerTemplate.spec"), "worker", size > 1, size, lwt?.Get("workerTemplate.metadata"));
                break;
        }
        return list;
    }
}
