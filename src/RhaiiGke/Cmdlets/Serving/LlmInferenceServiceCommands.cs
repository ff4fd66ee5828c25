using System.Management.Automation;
using System.Security;
using RhaiiGke.Cmdlets.Manifests;
using RhaiiGke.Cmdlets.Platform;
using RhaiiGke.Engine.Manifests.Lint;
using RhaiiGke.Engine.Serving;
using RhaiiGke.Validation;

namespace RhaiiGke.Cmdlets.Serving;

/// <summary>Connection and wait plumbing shared by the LlmInferenceService commands.</summary>
internal static class ServingCommandSupport
{
    /// <summary>Wait limits from the command's parameters; stage limits not given keep ServingWaitOptions' defaults.</summary>
    public static ServingWaitOptions WaitOptions(ClusterConnection c, TimeSpan timeout, TimeSpan? scheduling = null, TimeSpan? download = null, TimeSpan? compile = null)
    {
        var o = new ServingWaitOptions { Timeout = timeout };
        if (scheduling is { } sc) o.SchedulingTimeout = o.StartingTimeout = sc;
        if (download is { } d) o.DownloadTimeout = d;
        if (compile is { } x) o.CompileTimeout = x;
        if (ClusterSession.IsLocal(c))
        {
            // Sandbox controllers act in milliseconds: poll fast, and give failure stages seconds, not minutes.
            o.PollInterval = TimeSpan.FromMilliseconds(100);
            if (o.FailureGrace > TimeSpan.FromSeconds(5)) o.FailureGrace = TimeSpan.FromSeconds(5);
        }
        if (o.FailureGrace > timeout) o.FailureGrace = timeout;
        return o;
    }

    /// <summary>
    /// What the wait of a changing command (Deploy, Set) may do about an update blocked by the previous revision's hold on
    /// the TPU chips: replace pods that serve nothing (part of the change already confirmed), and with -Recreate, after its
    /// own confirmation, pods that serve (downtime until the new pod is Ready).
    /// </summary>
    public static void AllowReplacement(RhaiiCmdlet cmdlet, ServingWaitOptions wait, bool recreate, string target)
    {
        wait.ReplaceUnservingPods = true;
        if (recreate)
            wait.ReplaceServingPods = cmdlet.ShouldProcess(target, "Replace the serving pods of an update blocked on TPU chips (the service is down until the new pod is Ready)");
    }
}

/// <summary>Deploys an LLMInferenceService with what it needs: namespace, secrets, ServiceAccount, policies, EnvoyFilter.</summary>
[Cmdlet("Deploy", "LlmInferenceService", SupportsShouldProcess = true, DefaultParameterSetName = ParametersSet)]
[OutputType(typeof(LlmInferenceService))]
public sealed class DeployLlmInferenceServiceCommand : SpecParametersCmdlet
{
    private const string SpecSet = "Spec";
    private const string PathSet = "Path";

    /// <summary>A spec from New-LlmInferenceServiceSpec.</summary>
    [Parameter(ParameterSetName = SpecSet, Mandatory = true, ValueFromPipeline = true)]
    [Alias("InputObject")]
    public LlmInferenceServiceSpec? Spec { get; set; }

    /// <summary>
    /// A spec piped in while the default (Parameters) set is chosen. PowerShell binds the default set first, so
    /// without this a piped spec filled Name, Model, Topology… by property name and was rebuilt (warning again)
    /// without its other settings (image, max model length, TP, secrets, gateway). Hidden: pipe the spec or use -Spec.
    /// </summary>
    [Parameter(ParameterSetName = ParametersSet, ValueFromPipeline = true, DontShow = true)]
    public LlmInferenceServiceSpec? PipedSpec { get; set; }

    private HashSet<string> _commandLine = [];

    protected override Task BeginProcessingAsync(CancellationToken cancellationToken)
    {
        // before any pipeline input is bound, BoundParameters holds only what the command line gave
        _commandLine = new HashSet<string>(MyInvocation.BoundParameters.Keys, StringComparer.OrdinalIgnoreCase);
        return Task.CompletedTask;
    }

    /// <summary>YAML files or folders (Export-RhaiiManifest output, or your own); linted before anything is applied.</summary>
    [Parameter(ParameterSetName = PathSet, Mandatory = true)]
    public string[] Path { get; set; } = [];

    /// <summary>Kinds outside the service's own set (RHAII601) that -Path files may deploy, e.g. ClusterRoleBinding.</summary>
    [Parameter(ParameterSetName = PathSet)]
    [ValidateNotNullOrEmpty]
    public string[] AllowKind { get; set; } = [];

    /// <summary>Hugging Face token for gated models; HF_TOKEN or HUGGING_FACE_HUB_TOKEN from the environment when omitted.</summary>
    [Parameter]
    public SecureString? HuggingFaceToken { get; set; }

    /// <summary>A .dockerconfigjson or podman/docker auth.json for the image registry.</summary>
    [Parameter]
    public string? PullSecretFile { get; set; }

    [Parameter]
    public SwitchParameter UseSystemAuth { get; set; }

    [Parameter]
    [Credential]
    public PSCredential? RegistryCredential { get; set; }

    [Parameter]
    public string Registry { get; set; } = "registry.redhat.io";

    /// <summary>Auto adds the body-forwarding EnvoyFilter for Istio gateways with the EPP, on the real route's pool rules.</summary>
    [Parameter]
    public EnvoyFilterMode EnvoyFilter { get; set; } = EnvoyFilterMode.Auto;

    [Parameter]
    public SwitchParameter NoNetworkPolicy { get; set; }

    /// <summary>Do not create the spec's Gateway when it is missing (by default it is created as New-InferenceGateway would).</summary>
    [Parameter]
    public SwitchParameter NoGateway { get; set; }

    /// <summary>Wait until Ready, showing each stage.</summary>
    [Parameter]
    public SwitchParameter Wait { get; set; }

    [Parameter]
    [ValidateTimeout]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(60);

    /// <summary>Longest time Pending, refused by the scheduler, or pulling the image.</summary>
    [Parameter]
    [ValidateTimeout]
    public TimeSpan SchedulingTimeout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Longest model download by the storage initializer.</summary>
    [Parameter]
    [ValidateTimeout]
    public TimeSpan DownloadTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Longest weight loading plus XLA compilation until the startup probe passes.</summary>
    [Parameter]
    [ValidateTimeout]
    public TimeSpan CompileTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>The cluster; defaults to the session's (Connect-RhaiiCluster, Start-RhaiiSandbox).</summary>
    [Parameter]
    [Alias("Connection")]
    public ClusterConnection? Cluster { get; set; }

    /// <summary>Install-RhaiiOperators output from the pipeline: its cluster is used.</summary>
    [Parameter(ValueFromPipeline = true)]
    public RhaiiPlatform? Platform { get; set; }

    /// <summary>
    /// With -Wait: when the update cannot progress because the previous revision's pods hold the TPU chips the new pod
    /// needs, scale the previous revision to zero (the service is down until the new pod is Ready).
    /// </summary>
    [Parameter]
    public SwitchParameter Recreate { get; set; }

    /// <summary>For a gs:// model: grant roles/iam.workloadIdentityUser on the Google service account to the workload's ServiceAccount when missing (under ShouldProcess).</summary>
    [Parameter]
    public SwitchParameter GrantWorkloadIdentity { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        var connection = ClusterSession.Resolve(Cluster ?? Platform?.Connection);
        if (PipedSpec is not null)
        {
            var mixed = SpecParameterNames.Where(_commandLine.Contains).ToList();
            if (mixed.Count > 0)
                Fail("SpecAndSpecParameters", RhaiiErrorCategory.InvalidArgument,
                    $"A spec was piped in together with {string.Join(", ", mixed.Select(m => "-" + m))}; the spec already holds those settings.",
                    "Set them on New-LlmInferenceServiceSpec, or drop the pipe and pass the parameters alone.", PipedSpec);
        }
        var spec = ParameterSetName switch
        {
            SpecSet => Spec!,
            ParametersSet => PipedSpec ?? BuildSpec(),
            _ => null,
        };
        if (spec is not null && !MyInvocation.BoundParameters.ContainsKey(nameof(NoNetworkPolicy)) && spec.GatewayClass != InferenceGatewayClass.Istio)
            WriteVerbose("GKE gateways reach pods from proxy addresses; the policies admit Google's ranges and 10.0.0.0/8.");
        var manifests = new List<(string, string)>();
        if (ParameterSetName == PathSet)
        {
            var files = ManifestLinter.ExpandFiles(Path.Select(p => GetUnresolvedProviderPathFromPSPath(p)));
            manifests.AddRange(files.Select(f => (f, File.ReadAllText(f))));
        }
        var request = new LlmDeployRequest
        {
            Spec = spec,
            Manifests = manifests,
            HuggingFaceToken = HuggingFaceToken,
            PullSecretConfig = PullSecretInput.Read(this, PullSecretFile, UseSystemAuth, RegistryCredential, Registry),
            EnvoyFilter = EnvoyFilter,
            NetworkPolicies = !NoNetworkPolicy,
            CreateGateway = !NoGateway,
            AllowKinds = AllowKind,
        };
        if (Recreate && !Wait)
            Fail("RecreateNeedsWait", RhaiiErrorCategory.InvalidArgument, "-Recreate acts on an update the wait finds blocked; it needs -Wait.", "Add -Wait, or leave out -Recreate.");
        var target = spec is null ? string.Join(", ", manifests.Select(m => System.IO.Path.GetFileName(m.Item1))) : $"{spec.Namespace}/{spec.Name}";
        var dryRun = !ShouldProcess($"{target} on {connection.Name}", "Deploy LLMInferenceService");
        if (dryRun && !MyInvocation.BoundParameters.ContainsKey("WhatIf")) return;
        // gs:// models: the Workload Identity binding is checked (and with -GrantWorkloadIdentity created) before anything is applied
        if (spec is not null) await WorkloadIdentityPreflight.RunAsync(this, spec, connection, GrantWorkloadIdentity, dryRun, cancellationToken);
        var options = new KubeApplyOptions { DryRun = dryRun, Timeout = Timeout < TimeSpan.FromMinutes(10) ? Timeout : TimeSpan.FromMinutes(10) };
        ClusterSession.TuneForSandbox(connection, options);
        var wait = Wait && !dryRun ? ServingCommandSupport.WaitOptions(connection, Timeout, SchedulingTimeout, DownloadTimeout, CompileTimeout) : null;
        if (wait is not null) ServingCommandSupport.AllowReplacement(this, wait, Recreate, $"{target} on {connection.Name}");
        var services = await new LlmServiceManager(connection, this).DeployAsync(request, options, wait, cancellationToken);
        ReportProgress(1, "Deploy-LlmInferenceService", "done", 100, completed: true);
        foreach (var s in services)
        {
            if (!dryRun && wait is null && !s.Ready) WriteVerbose($"{s.Namespace}/{s.Name} is {s.Stage}; Wait-LlmInferenceService follows it to Ready.");
            WriteObject(s);
        }
    }
}

/// <summary>Lists LLMInferenceServices with their stage, replicas, URL and condition tree.</summary>
[Cmdlet(VerbsCommon.Get, "LlmInferenceService")]
[OutputType(typeof(LlmInferenceService))]
public sealed class GetLlmInferenceServiceCommand : RhaiiCmdlet
{
    /// <summary>Service name; wildcards allowed.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    public string[]? Name { get; set; }

    /// <summary>Namespace; all namespaces when omitted.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? Namespace { get; set; }

    [Parameter(ValueFromPipeline = true)]
    [Alias("Connection")]
    public ClusterConnection? Cluster { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        var connection = ClusterSession.Resolve(Cluster);
        var manager = new LlmServiceManager(connection, this);
        var exact = Name is { Length: > 0 } && Namespace is not null && Name.All(n => !WildcardPattern.ContainsWildcardCharacters(n));
        if (exact)
        {
            foreach (var n in Name!)
            {
                var s = await manager.GetAsync(Namespace!, n, cancellationToken);
                if (s is null)
                    WriteError(new RhaiiException("LlmInferenceServiceNotFound", RhaiiErrorCategory.ObjectNotFound,
                        $"LLMInferenceService {Namespace}/{n} was not found.", "Get-LlmInferenceService without -Name lists them.", n));
                else WriteObject(s);
            }
            return;
        }
        var patterns = (Name ?? []).Select(n => new WildcardPattern(n, WildcardOptions.IgnoreCase)).ToList();
        var all = await manager.ListAsync(Namespace, cancellationToken);
        var found = all.Where(s => patterns.Count == 0 || patterns.Any(p => p.IsMatch(s.Name))).ToList();
        foreach (var s in found) WriteObject(s);
        foreach (var n in (Name ?? []).Where(n => !WildcardPattern.ContainsWildcardCharacters(n) && !found.Any(s => string.Equals(s.Name, n, StringComparison.OrdinalIgnoreCase))))
            WriteError(new RhaiiException("LlmInferenceServiceNotFound", RhaiiErrorCategory.ObjectNotFound,
                $"LLMInferenceService {n} was not found{(Namespace is null ? "" : " in " + Namespace)}.", "Get-LlmInferenceService without -Name lists them.", n));
    }
}

/// <summary>Base for commands that act on one named service (by name, or piped from Get-/Deploy-LlmInferenceService).</summary>
public abstract class NamedServiceCmdlet : RhaiiCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    public string Name { get; set; } = "";

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string Namespace { get; set; } = Engine.Manifests.SpecFactory.DefaultNamespace;

    [Parameter]
    [Alias("Connection")]
    public ClusterConnection? Cluster { get; set; }

    protected ClusterConnection Connection => ClusterSession.Resolve(Cluster);
}

/// <summary>Waits until a service is Ready (or stopped), reporting each stage with per-stage timeouts.</summary>
[Cmdlet(VerbsLifecycle.Wait, "LlmInferenceService")]
[OutputType(typeof(LlmInferenceService))]
public sealed class WaitLlmInferenceServiceCommand : NamedServiceCmdlet
{
    /// <summary>Wait for the service to be scaled to zero instead of Ready.</summary>
    [Parameter]
    public SwitchParameter Stopped { get; set; }

    [Parameter]
    [ValidateTimeout]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(60);

    /// <summary>Longest time Pending, refused by the scheduler, or pulling the image.</summary>
    [Parameter]
    [ValidateTimeout]
    public TimeSpan SchedulingTimeout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Longest model download by the storage initializer.</summary>
    [Parameter]
    [ValidateTimeout]
    public TimeSpan DownloadTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Longest weight loading plus XLA compilation until the startup probe passes.</summary>
    [Parameter]
    [ValidateTimeout]
    public TimeSpan CompileTimeout { get; set; } = TimeSpan.FromMinutes(30);

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        var connection = Connection;
        var options = ServingCommandSupport.WaitOptions(connection, Timeout, SchedulingTimeout, DownloadTimeout, CompileTimeout);
        var s = await new LlmServiceManager(connection, this).WaitAsync(Namespace, Name, options, cancellationToken, untilStopped: Stopped);
        ReportProgress(1, $"{Namespace}/{Name}", "done", 100, completed: true);
        WriteObject(s);
    }
}

/// <summary>Scales, changes the image of, stops or resumes a service.</summary>
[Cmdlet(VerbsCommon.Set, "LlmInferenceService", SupportsShouldProcess = true, DefaultParameterSetName = "Change")]
[OutputType(typeof(LlmInferenceService))]
public sealed class SetLlmInferenceServiceCommand : NamedServiceCmdlet
{
    [Parameter]
    [ValidateRange(0, 1000)]
    public int? Replicas { get; set; }

    /// <summary>New vLLM image for the main container.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Image { get; set; }

    /// <summary>Scale to zero with serving.kserve.io/stop=true (TPU nodes can then scale down).</summary>
    [Parameter(ParameterSetName = "Stop", Mandatory = true)]
    public SwitchParameter Stop { get; set; }

    /// <summary>Resume a stopped service (removes serving.kserve.io/stop).</summary>
    [Parameter(ParameterSetName = "Start", Mandatory = true)]
    [Alias("Resume")]
    public SwitchParameter Start { get; set; }

    /// <summary>Wait for the change to settle (Ready, or stopped).</summary>
    [Parameter]
    public SwitchParameter Wait { get; set; }

    /// <summary>With -Wait: when the update is blocked because the previous revision's pods hold the TPU chips, scale the previous revision to zero (downtime).</summary>
    [Parameter(ParameterSetName = "Change")]
    [Parameter(ParameterSetName = "Start")]
    public SwitchParameter Recreate { get; set; }

    [Parameter]
    [ValidateTimeout]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(60);

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        if (Replicas is null && Image is null && !Stop && !Start)
            Fail("NothingToChange", RhaiiErrorCategory.InvalidArgument, "Set-LlmInferenceService needs -Replicas, -Image, -Stop or -Start.", "Say what to change.");
        if (Recreate && !Wait)
            Fail("RecreateNeedsWait", RhaiiErrorCategory.InvalidArgument, "-Recreate acts on an update the wait finds blocked; it needs -Wait.", "Add -Wait, or leave out -Recreate.");
        var connection = Connection;
        var what = string.Join(", ", new[]
        {
            Replicas is { } r ? $"replicas {r}" : null, Image is { } i ? $"image {i}" : null, Stop ? "stop" : null, Start ? "resume" : null,
        }.Where(x => x is not null));
        var dryRun = !ShouldProcess($"{Namespace}/{Name} on {connection.Name}", $"Set {what}");
        if (dryRun && !MyInvocation.BoundParameters.ContainsKey("WhatIf")) return;
        var manager = new LlmServiceManager(connection, this);
        var (s, mutating) = await manager.SetAsync(Namespace, Name, Replicas, Image, Stop ? true : Start ? false : null, dryRun, cancellationToken);
        WriteVerbose(mutating == 0 ? $"{Namespace}/{Name} already had {what}; nothing sent." : $"{Namespace}/{Name}: {what} ({mutating} request(s)).");
        if (Wait && !dryRun)
        {
            var wait = ServingCommandSupport.WaitOptions(connection, Timeout);
            if (!Stop) ServingCommandSupport.AllowReplacement(this, wait, Recreate, $"{Namespace}/{Name} on {connection.Name}");
            s = await manager.WaitAsync(Namespace, Name, wait, cancellationToken, untilStopped: Stop);
        }
        WriteObject(s);
    }
}

/// <summary>Deletes a service and what Deploy-LlmInferenceService created for it.</summary>
[Cmdlet(VerbsCommon.Remove, "LlmInferenceService", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(KubeApplyResult))]
public sealed class RemoveLlmInferenceServiceCommand : NamedServiceCmdlet
{
    /// <summary>Also delete the Secrets Deploy created (HF token, pull secret copy).</summary>
    [Parameter]
    public SwitchParameter IncludeSecrets { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    [Parameter]
    [ValidateTimeout]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(5);

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        var connection = Connection;
        var dryRun = !ShouldProcess($"{Namespace}/{Name} on {connection.Name}", "Remove LLMInferenceService and its policies, route config, ServiceAccount and EnvoyFilter");
        if (dryRun && !MyInvocation.BoundParameters.ContainsKey("WhatIf")) return;
        var options = new KubeApplyOptions { DryRun = dryRun, Timeout = Timeout };
        ClusterSession.TuneForSandbox(connection, options);
        KubeApplyResult result;
        try { result = await new LlmServiceManager(connection, this).RemoveAsync(Namespace, Name, IncludeSecrets, options, cancellationToken); }
        catch (RhaiiException e) when (e.ErrorId == "LlmInferenceServiceNotFound")
        {
            WriteError(e); // not terminating: -ErrorAction SilentlyContinue makes teardown scripts re-runnable
            return;
        }
        foreach (var o in result.Objects) WriteVerbose(o.ToString());
        if (PassThru || dryRun) WriteObject(result);
    }
}
