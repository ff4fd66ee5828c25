namespace RhaiiGke.Engine.Manifests;

/// <summary>
/// The kinds a service's own files may hold: every group/kind <see cref="ManifestBuilder"/> emits for any
/// pattern and gateway class (what Export-RhaiiManifest writes, the gateway Deploy creates, the
/// body-forwarding EnvoyFilter), plus the routing and backend policies people add next to a service
/// (HTTPRoute, GCPBackendPolicy). Anything else in <c>Deploy-LlmInferenceService -Path</c> (RBAC above
/// all: a ClusterRoleBinding can make any ServiceAccount cluster-admin) needs explicit consent.
/// </summary>
public static class ServiceKinds
{
    /// <summary>Kinds people add next to a service that the builder does not emit itself.</summary>
    private static readonly string[] Extra = ["gateway.networking.k8s.io/HTTPRoute", "networking.gke.io/GCPBackendPolicy"];

    private static readonly Lazy<IReadOnlySet<string>> s_allowed = new(Derive);

    /// <summary>group/kind ("" group for core), e.g. "/Secret", "serving.kserve.io/LLMInferenceService".</summary>
    public static IReadOnlySet<string> Allowed => s_allowed.Value;

    /// <summary>Kinds that grant permissions cluster-wide: never part of a service.</summary>
    public static bool IsClusterRbac(string? apiVersion, string? kind) =>
        GroupOf(apiVersion) == "rbac.authorization.k8s.io" && kind is "ClusterRole" or "ClusterRoleBinding";

    public static bool IsAllowed(string? apiVersion, string? kind) => kind is not null && Allowed.Contains(GroupOf(apiVersion) + "/" + kind);

    /// <summary>Whether <paramref name="allowKinds"/> (kind names, or group/kind) lets the kind in.</summary>
    public static bool IsAllowedBy(string? apiVersion, string? kind, IEnumerable<string> allowKinds) =>
        kind is not null && allowKinds.Any(a => string.Equals(a, kind, StringComparison.OrdinalIgnoreCase) ||
                                               string.Equals(a, GroupOf(apiVersion) + "/" + kind, StringComparison.OrdinalIgnoreCase));

    public static string GroupOf(string? apiVersion) =>
        apiVersion is not null && apiVersion.Contains('/') ? apiVersion[..apiVersion.IndexOf('/')] : "";

    private static IReadOnlySet<string> Derive()
    {
        var set = new HashSet<string>(Extra, StringComparer.Ordinal);
        foreach (var pattern in Enum.GetValues<DeploymentPattern>())
            foreach (var gateway in Enum.GetValues<InferenceGatewayClass>())
            {
                LlmInferenceServiceSpec spec;
                try { spec = SpecFactory.Create(PatternDefaults.For(pattern) with { GatewayClass = gateway, HuggingFaceTokenSecret = "hf-token", PullSecretName = "pull-secret" }); }
                catch (RhaiiException) { continue; } // a combination the module never deploys
                foreach (var m in ManifestBuilder.BuildPattern(spec)) set.Add(GroupOf(m.ApiVersion) + "/" + m.Kind);
                var filter = ManifestBuilder.BodyForwardingEnvoyFilter(spec);
                set.Add(GroupOf(filter["apiVersion"]?.ToString()) + "/" + filter["kind"]);
            }
        return set;
    }
}
