using System.Management.Automation;
using RhaiiGke.Completers;
using RhaiiGke.Engine.Manifests;

namespace RhaiiGke.Cmdlets.Manifests;

/// <summary>Builds a validated, TPU-correct LLMInferenceService spec (in memory; nothing is created).</summary>
[Cmdlet(VerbsCommon.New, "LlmInferenceServiceSpec")]
[OutputType(typeof(LlmInferenceServiceSpec))]
public sealed class NewLlmInferenceServiceSpecCommand : RhaiiCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    public string Name { get; set; } = "";

    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [Alias("ModelUri", "Uri")]
    [ArgumentCompleter(typeof(ModelCompleter))]
    public string Model { get; set; } = "";

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? Namespace { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("ServedModelName")]
    public string? ModelName { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(0, 1000)]
    public int Replicas { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public DeploymentPattern Pattern { get; set; } = DeploymentPattern.Baseline;

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(AcceleratorCompleter))]
    public string Accelerator { get; set; } = "v6e";

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(TopologyCompleter))]
    public string Topology { get; set; } = "2x2";

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(MachineTypeCompleter))]
    public string? MachineType { get; set; }

    [Parameter]
    [ValidateRange(1, 256)]
    public int TensorParallelSize { get; set; }

    [Parameter]
    [ValidateRange(128, 1048576)]
    public int MaxModelLength { get; set; } = 4096;

    [Parameter]
    public SwitchParameter PrefixCaching { get; set; }

    [Parameter]
    [Alias("VllmArgs")]
    public string[] VllmArgument { get; set; } = [];

    [Parameter]
    public string? Image { get; set; }

    [Parameter]
    public string? HuggingFaceTokenSecret { get; set; }

    [Parameter]
    public string? PullSecretName { get; set; }

    [Parameter]
    public string? ServiceAccountName { get; set; }

    [Parameter]
    public string? GatewayName { get; set; }

    [Parameter]
    public string? GatewayNamespace { get; set; }

    [Parameter]
    public InferenceGatewayClass GatewayClass { get; set; }

    [Parameter]
    public SwitchParameter NoScheduler { get; set; }

    [Parameter]
    public TimeSpan StartupTimeout { get; set; } = TimeSpan.FromMinutes(30);

    protected override Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        var bound = MyInvocation.BoundParameters;
        var spec = SpecFactory.Create(new SpecRequest
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
        }, this);
        WriteObject(spec);
        return Task.CompletedTask;
    }
}
