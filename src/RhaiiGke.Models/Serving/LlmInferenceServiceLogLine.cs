namespace RhaiiGke;

/// <summary>The pods of an LLMInferenceService whose logs Get-LlmInferenceServiceLog reads.</summary>
public enum LlmLogComponent
{
    /// <summary>vLLM, the main container of the workload pods.</summary>
    Workload,
    /// <summary>KServe's storage-initializer, the init container of the workload pods that downloads the model.</summary>
    StorageInitializer,
    /// <summary>The EPP (llm-d inference scheduler).</summary>
    Scheduler,
    /// <summary>The gateway's proxy pods (Istio/Envoy) of the service's Gateway.</summary>
    Gateway,
}

/// <summary>One line of a container's log, with the time the container runtime recorded it.</summary>
public sealed class LlmInferenceServiceLogLine
{
    public string Namespace { get; init; } = "";
    public string Service { get; init; } = "";
    public LlmLogComponent Component { get; init; }
    public string Pod { get; init; } = "";
    public string Container { get; init; } = "";
    /// <summary>When the runtime received the line (from the API's timestamps=true), UTC.</summary>
    public DateTimeOffset Timestamp { get; init; }
    public string Line { get; init; } = "";
    /// <summary>True for lines of the previous (terminated) container instance (-Previous).</summary>
    public bool Previous { get; init; }

    public override string ToString() => Line;
}
