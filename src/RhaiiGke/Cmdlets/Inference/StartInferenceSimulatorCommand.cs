using System.Management.Automation;
using RhaiiGke.Sandbox.Vllm;

namespace RhaiiGke.Cmdlets.Inference;

/// <summary>Starts a vLLM-compatible OpenAI simulator on loopback.</summary>
[Cmdlet(VerbsLifecycle.Start, "InferenceSimulator", SupportsShouldProcess = true)]
[OutputType(typeof(InferenceSimulator))]
public sealed class StartInferenceSimulatorCommand : RhaiiCmdlet
{
    [Parameter(Position = 0)]
    public string Model { get; set; } = "Qwen/Qwen2.5-3B-Instruct";

    [Parameter]
    [ValidateRange(1, 64)]
    public int Replicas { get; set; } = 1;

    [Parameter]
    [Alias("Ttft")]
    [ValidateRange(0, 600000)]
    public double TimeToFirstToken { get; set; }

    [Parameter]
    [Alias("Itl")]
    [ValidateRange(0, 60000)]
    public double InterTokenLatency { get; set; }

    [Parameter]
    [ValidateRange(0, 1000)]
    public double PrefillTimePerToken { get; set; }

    [Parameter]
    [ValidateRange(1, 100)]
    public double LoadFactor { get; set; } = 1;

    [Parameter]
    [ValidateRange(1, 100000)]
    public int MaxNumSeqs { get; set; } = 256;

    [Parameter]
    [ValidateRange(2, 10000000)]
    public int MaxModelLength { get; set; } = 32768;

    [Parameter]
    [ValidateRange(1, 1000000)]
    public int DefaultMaxTokens { get; set; } = 32;

    [Parameter]
    public SwitchParameter RandomOutputLength { get; set; }

    [Parameter]
    public SwitchParameter DisablePrefixCache { get; set; }

    [Parameter]
    [ValidateRange(1, 1024)]
    public int BlockSize { get; set; } = 16;

    [Parameter]
    [ValidateRange(1, 10000000)]
    public int KvCacheBlocks { get; set; } = 4096;

    [Parameter]
    public InferencePickerMode Picker { get; set; } = InferencePickerMode.PrefixAware;

    [Parameter]
    [ValidateRange(0, 100)]
    public double FailureRate { get; set; }

    [Parameter]
    [ValidateSet("rate_limit", "invalid_api_key", "context_length", "server_error", "invalid_request", "model_not_found")]
    public string[] FailureType { get; set; } = [];

    [Parameter]
    [ValidateRange(0, 3600000)]
    public double FirstRequestDelay { get; set; }

    [Parameter]
    public int Seed { get; set; }

    [Parameter]
    public string Name { get; set; } = "vllm-sim";

    protected override Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        var options = new InferenceSimulatorOptions
        {
            Model = Model,
            Replicas = Replicas,
            TimeToFirstTokenMs = TimeToFirstToken,
            InterTokenLatencyMs = InterTokenLatency,
            PrefillTimePerTokenMs = PrefillTimePerToken,
            LoadFactor = LoadFactor,
            MaxNumSeqs = MaxNumSeqs,
            MaxModelLength = MaxModelLength,
            DefaultMaxTokens = DefaultMaxTokens,
            RandomOutputLength = RandomOutputLength,
            EnablePrefixCache = !DisablePrefixCache,
            BlockSize = BlockSize,
            KvCacheBlocks = KvCacheBlocks,
            Picker = Picker,
            FailureRate = FailureRate,
            FailureTypes = FailureType,
            FirstRequestDelayMs = FirstRequestDelay,
            Seed = Seed,
            PodNamePrefix = Name,
        };
        if (!ShouldProcess($"{Replicas} replica(s) serving {Model} on 127.0.0.1", "Start vLLM simulator")) return Task.CompletedTask;
        var sim = VllmSimulator.Start(options, Name);
        WriteVerbose($"Simulator {sim.Info.Name} listening at {sim.Info.BaseUrl} ({string.Join(", ", sim.Info.ReplicaUrls)}).");
        WriteObject(sim.Info);
        return Task.CompletedTask;
    }
}
