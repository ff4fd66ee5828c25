namespace RhaiiGke;

/// <summary>The inference Gateway LLMInferenceServices attach to, as New-InferenceGateway left it.</summary>
public sealed class InferenceGateway
{
    public string Name { get; init; } = "";
    public string Namespace { get; init; } = "";
    public InferenceGatewayClass GatewayClass { get; init; }
    /// <summary>The gatewayClassName: istio, gke-l7-regional-external-managed or gke-l7-rilb.</summary>
    public string GatewayClassName { get; init; } = "";
    public bool Programmed { get; init; }
    /// <summary>First address in status.addresses (an IP or host name); null until assigned.</summary>
    public string? Address { get; init; }
    /// <summary>Base URL clients use: http://&lt;address&gt;; services live under /&lt;namespace&gt;/&lt;name&gt;/v1/...</summary>
    public string? Url => Address is null ? null : $"http://{Address}";
    /// <summary>Mutating requests this run sent (0 when everything was already in place).</summary>
    public int MutatingRequests { get; init; }
    public bool DryRun { get; init; }
    public string Cluster { get; init; } = "";
    public override string ToString() => $"{Namespace}/{Name} ({GatewayClassName}) {Address ?? "no address"}";
}
