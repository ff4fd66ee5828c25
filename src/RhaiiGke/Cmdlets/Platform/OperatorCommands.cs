using System.Collections;
using System.Management.Automation;
using System.Net;
using System.Security;
using System.Text;
using System.Text.Json;
using RhaiiGke.Engine.Kube.Platform;
using RhaiiGke.Validation;

namespace RhaiiGke.Cmdlets.Platform;

/// <summary>Shared parameters and connection handling of the operator commands.</summary>
public abstract class OperatorCommandBase : RhaiiCmdlet
{
    protected const string ConnectionSet = "Connection";
    protected const string TpuClusterSet = "TpuCluster";

    /// <summary>The cluster; defaults to the session's (Connect-RhaiiCluster, Start-RhaiiSandbox).</summary>
    [Parameter(ParameterSetName = ConnectionSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Connection")]
    public ClusterConnection? Cluster { get; set; }

    /// <summary>A GKE cluster (New-TpuCluster, Get-TpuCluster); its kubeconfig context is used.</summary>
    [Parameter(ParameterSetName = TpuClusterSet, Mandatory = true, ValueFromPipeline = true)]
    public TpuCluster? TpuCluster { get; set; }

    [Parameter]
    [ValidateSet("cert-manager", "istio", "lws", "kserve")]
    public string[]? Component { get; set; }

    protected ClusterConnection ResolveConnection() =>
        TpuCluster is not null ? ClusterSession.FromTpuCluster(TpuCluster, null, null) : ClusterSession.Resolve(Cluster);


    protected static IDictionary<string, string> ToSources(Hashtable? table)
    {
        var d = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (table is null) return d;
        foreach (DictionaryEntry e in table)
        {
            var key = PlatformInstaller.Normalize([e.Key.ToString() ?? ""])[0];
            d[key] = e.Value?.ToString() ?? "";
        }
        return d;
    }
}

/// <summary>Installs cert-manager, Istio (sail-operator), LeaderWorkerSet and KServe, waiting on real readiness.</summary>
[Cmdlet(VerbsLifecycle.Install, "RhaiiOperators", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ConnectionSet)]
[OutputType(typeof(RhaiiPlatform))]
public sealed class InstallRhaiiOperatorsCommand : OperatorCommandBase
{
    /// <summary>Per-component manifest sources: @{ kserve = './rendered/kserve'; istio = 'helm:...' }.</summary>
    [Parameter]
    public Hashtable? Source { get; set; }

    /// <summary>A .dockerconfigjson or podman/docker auth.json with credentials for registry.redhat.io.</summary>
    [Parameter]
    public string? PullSecretFile { get; set; }

    /// <summary>Use the system's podman (or docker) auth.json as the pull secret.</summary>
    [Parameter]
    public SwitchParameter UseSystemAuth { get; set; }

    /// <summary>A registry user and password (or token) for the pull secret.</summary>
    [Parameter]
    [Credential]
    public PSCredential? RegistryCredential { get; set; }

    [Parameter]
    public string Registry { get; set; } = "registry.redhat.io";

    [Parameter]
    public string PullSecretName { get; set; } = "rhaii-pull-secret";

    /// <summary>More namespaces that need the pull secret (the workload namespace, RHCL namespaces).</summary>
    [Parameter]
    public string[] PullSecretNamespace { get; set; } = [];

    /// <summary>Remove the pull secret (references and the Secrets this install created); a re-run without credentials keeps it.</summary>
    [Parameter]
    public SwitchParameter RemovePullSecret { get; set; }

    /// <summary>Longest wait for one phase of one component.</summary>
    [Parameter]
    [ValidateTimeout]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(10);

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        if (RemovePullSecret && (PullSecretFile is not null || UseSystemAuth || RegistryCredential is not null))
            throw new RhaiiException("PullSecretRemoveConflict", RhaiiErrorCategory.InvalidArgument,
                "-RemovePullSecret cannot be combined with -PullSecretFile, -UseSystemAuth or -RegistryCredential.",
                "Pass -RemovePullSecret alone to remove the pull secret, or the credentials alone to set it.");
        var connection = ResolveConnection();
        var options = new RhaiiInstallOptions
        {
            Components = PlatformInstaller.Normalize(Component),
            Sources = ToSources(Source),
            PullSecretName = PullSecretName,
            PullSecretNamespaces = PullSecretNamespace,
            PullSecretConfig = ReadPullSecret(),
            RemovePullSecret = RemovePullSecret,
            Apply = new KubeApplyOptions { Timeout = Timeout },
        };
        ClusterSession.TuneForSandbox(connection, options.Apply);
        var what = $"Install {string.Join(", ", options.Components)}";
        if (!ShouldProcess(connection.Server, what))
        {
            if (!MyInvocation.BoundParameters.ContainsKey("WhatIf")) return;
            options.Apply.DryRun = true; // -WhatIf: a server-side dry run says what would change
        }
        var platform = await new PlatformInstaller(connection, this).InstallAsync(options, cancellationToken);
        ReportProgress(1, "Install-RhaiiOperators", "done", 100, completed: true);
        WriteObject(platform);
    }

    private SecureString? ReadPullSecret() => PullSecretInput.Read(this, PullSecretFile, UseSystemAuth, RegistryCredential, Registry);
}

/// <summary>Reports the RHAII operators on a cluster: pods, CRDs, webhooks, Istio and InferencePool versions.</summary>
[Cmdlet(VerbsCommon.Get, "RhaiiOperatorStatus", DefaultParameterSetName = ConnectionSet)]
[OutputType(typeof(RhaiiPlatform), ParameterSetName = [ConnectionSet, TpuClusterSet])]
[OutputType(typeof(RhaiiBomEntry), ParameterSetName = [BomSet])]
public sealed class GetRhaiiOperatorStatusCommand : OperatorCommandBase
{
    private const string BomSet = "BillOfMaterials";

    /// <summary>List the pinned versions and default sources instead of reading a cluster.</summary>
    [Parameter(ParameterSetName = BomSet, Mandatory = true)]
    public SwitchParameter BillOfMaterials { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        if (BillOfMaterials)
        {
            var wanted = PlatformInstaller.Normalize(Component).ToHashSet();
            foreach (var e in PlatformInstaller.BillOfMaterials().Where(e => wanted.Contains(e.Component))) WriteObject(e);
            return;
        }
        var connection = ResolveConnection();
        WriteObject(await new PlatformInstaller(connection, this).GetStatusAsync(Component, cancellationToken));
    }
}

/// <summary>Removes the RHAII operators in reverse order, sparing the CRDs GKE manages.</summary>
[Cmdlet(VerbsLifecycle.Uninstall, "RhaiiOperators", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = ConnectionSet)]
[OutputType(typeof(RhaiiPlatform))]
public sealed class UninstallRhaiiOperatorsCommand : OperatorCommandBase
{
    /// <summary>Keep the CRDs (and so every custom resource of them).</summary>
    [Parameter]
    public SwitchParameter KeepCrds { get; set; }

    /// <summary>Per-component manifest sources, as given to Install-RhaiiOperators.</summary>
    [Parameter]
    public Hashtable? Source { get; set; }

    /// <summary>Remove the LLMInferenceServices still deployed (and what Deploy created for them) first, instead of refusing.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    [Parameter]
    [ValidateTimeout]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(10);

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        var connection = ResolveConnection();
        var options = new RhaiiInstallOptions
        {
            Components = PlatformInstaller.Normalize(Component), Sources = ToSources(Source), KeepCrds = KeepCrds, RemoveServices = Force,
            Apply = new KubeApplyOptions { Timeout = Timeout },
        };
        ClusterSession.TuneForSandbox(connection, options.Apply);
        if (!ShouldProcess(connection.Server, $"{(Force ? "Remove every LLMInferenceService, then uninstall " : "Uninstall ")}{string.Join(", ", options.Components)}{(KeepCrds ? " (keeping CRDs)" : " and their CRDs")}"))
        {
            if (!MyInvocation.BoundParameters.ContainsKey("WhatIf")) return;
            options.Apply.DryRun = true;
        }
        WriteObject(await new PlatformInstaller(connection, this).UninstallAsync(options, cancellationToken));
    }
}
