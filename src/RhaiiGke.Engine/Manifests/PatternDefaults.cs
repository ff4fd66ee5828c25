namespace RhaiiGke.Engine.Manifests;

/// <summary>The runbooks' reference deployments: Qwen2.5-3B-Instruct on one TPU v6e 2x2 host per replica.</summary>
public static class PatternDefaults
{
    public const string Model = "hf://Qwen/Qwen2.5-3B-Instruct";

    public static SpecRequest For(DeploymentPattern pattern) => pattern switch
    {
        DeploymentPattern.Baseline => new SpecRequest { Name = "qwen-baseline", Model = Model, Pattern = pattern, Namespace = "llm-d-inference-scheduling" },
        DeploymentPattern.CacheAware => new SpecRequest { Name = "qwen-cache-aware", Model = Model, Pattern = pattern, Namespace = "rhaii-inference" },
        DeploymentPattern.GkeNativeGateway => new SpecRequest { Name = "qwen-gke-gateway", Model = Model, Pattern = pattern, Namespace = "rhaii-inference" },
        _ => throw new ArgumentOutOfRangeException(nameof(pattern)),
    };
}
