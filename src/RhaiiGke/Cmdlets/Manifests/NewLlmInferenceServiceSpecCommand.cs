using System.Management.Automation;
using RhaiiGke.Completers;
using RhaiiGke.Engine.Manifests;
using RhaiiGke.Validation;

namespace RhaiiGke.Cmdlets.Manifests;

/// <summary>Builds a validated, TPU-correct LLMInferenceService spec (in memory; nothing is created).</summary>
[Cmdlet(VerbsCommon.New, "LlmInferenceServiceSpec")]
[OutputType(typeof(LlmInferenceServiceSpec))]
public sealed class NewLlmInferenceServiceSpecCommand : SpecParametersCmdlet
{
    protected override Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        WriteObject(BuildSpec());
        return Task.CompletedTask;
    }
}

/// <summary>
/// The parameters that describe a service (New-LlmInferenceServiceSpec, and Deploy-LlmInferenceService's
/// Parameters set), in the parameter set <see cref="ParametersSet"/>.
/// </summary>
public abstract class SpecParametersCmdlet : RhaiiCmdlet
{
    protected const string ParametersSet = "Parameters";

    /// <summary>The names of the spec parameters (the Parameters set's own).</summary>
    protected IEnumerable<string> SpecParameterNames => typeof(SpecParametersCmdlet).GetProperties()
        .Where(p => p.DeclaringType == typeof(SpecParametersCmdlet) && p.GetCustomAttributes(typeof(ParameterAttribute), false).Length > 0)
        .Select(p => p.Name);

    [Parameter(ParameterSetName = ParametersSet, Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    public string Name { get; set; } = "";

    [Parameter(ParameterSetName = ParametersSet, Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [Alias("ModelUri", "Uri")]
    [ArgumentCompleter(typeof(ModelCompleter))]
    public string Model { get; set; } = "";

    [Parameter(ParameterSetName = ParametersSet, ValueFromPipelineByPropertyName = true)]
    public string? Namespace { get; set; }

    [Parameter(ParameterSetName = ParametersSet, ValueFromPipelineByPropertyName = true)]
    [Alias("ServedModelName")]
    public string? ModelName { get; set; }

    [Parameter(ParameterSetName = ParametersSet, ValueFromPipelineByPropertyName = true)]
    [ValidateRange(0, 1000)]
    public int Replicas { get; set; }

    [Parameter(ParameterSetName = ParametersSet, ValueFromPipelineByPropertyName = true)]
    public DeploymentPattern Pattern { get; set; } = DeploymentPattern.Baseline;

    [Parameter(ParameterSetName = ParametersSet, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(AcceleratorCompleter))]
    public string Accelerator { get; set; } = "v6e";

    [Parameter(ParameterSetName = ParametersSet, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(TopologyCompleter))]
    public string Topology { get; set; } = "2x2";

    [Parameter(ParameterSetName = ParametersSet, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(MachineTypeCompleter))]
    public string? MachineType { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    [ValidateRange(1, 256)]
    public int TensorParallelSize { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    [ValidateRange(128, 1048576)]
    public int MaxModelLength { get; set; } = 4096;

    [Parameter(ParameterSetName = ParametersSet)]
    public SwitchParameter PrefixCaching { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    [Alias("VllmArgs")]
    public string[] VllmArgument { get; set; } = [];

    [Parameter(ParameterSetName = ParametersSet)]
    public string? Image { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    public string? HuggingFaceTokenSecret { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    public string? PullSecretName { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    public string? ServiceAccountName { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    public string? GatewayName { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    public string? GatewayNamespace { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    public InferenceGatewayClass GatewayClass { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    public SwitchParameter NoScheduler { get; set; }

    [Parameter(ParameterSetName = ParametersSet)]
    [ValidateTimeout]
    public TimeSpan StartupTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Google service account (NAME@PROJECT.iam.gserviceaccount.com) the workload's Kubernetes ServiceAccount acts as through Workload Identity; required for gs:// models.</summary>
    [Parameter(ParameterSetName = ParametersSet)]
    [Alias("GoogleServiceAccount")]
    public string? GcpServiceAccount { get; set; }

    /// <summary>The spec the bound parameters describe (validated by SpecFactory).</summary>
    protected LlmInferenceServiceSpec BuildSpec()
    {
        var bound = MyInvocation.BoundParameters;
        return SpecFactory.Create(new SpecRequest
        {
            Name = Name,
            Namespace = Namespace,
            Model = Model,
            ModelName = ModelName,
            Replicas = bound.ContainsKey(nameof(Replicas)) ? Replicas : null,
            Pattern = Pattern,
            Accelerator = Accelerator,
            Topology = Topology,
            MachineType = MachineType,
            TensorParallelSize = bound.ContainsKey(nameof(TensorParallelSize)) ? TensorParallelSize : null,
            MaxModelLength = MaxModelLength,
            PrefixCaching = bound.ContainsKey(nameof(PrefixCaching)) ? PrefixCaching.IsPresent : null,
            VllmArguments = VllmArgument ?? [],
            Image = Image,
            HuggingFaceTokenSecret = HuggingFaceTokenSecret,
            PullSecretName = PullSecretName,
            ServiceAccountName = ServiceAccountName,
            GatewayName = GatewayName,
            GatewayNamespace = GatewayNamespace,
            GatewayClass = bound.ContainsKey(nameof(GatewayClass)) ? GatewayClass : null,
            Scheduler = !NoScheduler,
            StartupTimeoutSeconds = (int)StartupTimeout.TotalSeconds,
            GcpServiceAccount = GcpServiceAccount,
        }, this);
    }
}
