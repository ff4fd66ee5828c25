namespace RhaiiGke;

/// <summary>
/// Several LLMInferenceServices behind one OpenAI base URL, routed by the request body's <c>model</c>
/// (New-InferenceModelRoute): the body-based router copies it into the X-Gateway-Model-Name header and the
/// model route sends each model to its own InferencePool.
/// </summary>
public sealed class InferenceModelRoute
{
    public string Name { get; init; } = "";
    public string Namespace { get; init; } = "";
    /// <summary>The HTTPRoute: &lt;name&gt;-model-route.</summary>
    public string RouteName { get; init; } = "";
    /// <summary>The served model names, in the order of the route's rules.</summary>
    public RhaiiList<string> Models { get; init; } = RhaiiList<string>.Empty;
    /// <summary>The LLMInferenceServices behind the URL, one per model.</summary>
    public RhaiiList<string> Services { get; init; } = RhaiiList<string>.Empty;
    /// <summary>namespace/name of the inference Gateway.</summary>
    public string Gateway { get; init; } = "";
    public string? GatewayAddress { get; init; }
    /// <summary>http://&lt;gateway&gt;/&lt;namespace&gt;/&lt;name&gt;; null until the gateway has an address.</summary>
    public string? Url { get; init; }
    /// <summary>The OpenAI base URL (Url + /v1) that Test-InferenceEndpoint and Invoke-InferenceBenchmark take.</summary>
    public string? BaseUrl => Url is null ? null : Url.TrimEnd('/') + "/v1";
    /// <summary>The body-based router is available and the route is accepted by the gateway.</summary>
    public bool Ready { get; init; }
    /// <summary>Why it is not ready, when it is not.</summary>
    public string? Message { get; init; }
    public int MutatingRequests { get; init; }
    public bool DryRun { get; init; }
    public string Cluster { get; init; } = "";
    public override string ToString() => $"{Namespace}/{Name} ({string.Join(", ", Models)}) {Url ?? "no address"}";
}
