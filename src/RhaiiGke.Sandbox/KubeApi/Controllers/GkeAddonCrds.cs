using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.KubeApi.Controllers;

/// <summary>
/// The CustomResourceDefinitions GKE's addon manager keeps on a cluster with the Gateway API enabled:
/// the standard-channel Gateway API kinds, GKE's policy kinds and (GKE 1.34+) the GA InferencePool.
/// Names, groups, versions, scopes, short names and printer columns as GKE serves them; the schemas
/// are open (any spec and status), the sandbox checks the fields itself where it matters.
/// </summary>
internal static class GkeAddonCrds
{
    private sealed record Kind(string Group, string Name, string Plural, bool ClusterScoped, string[] Versions, string[] ShortNames,
        (string Column, string JsonPath)[] Columns, bool Status = true, string? BundleVersion = null);

    private static readonly Kind[] GatewayApi =
    [
        new("gateway.networking.k8s.io", "GatewayClass", "gatewayclasses", true, ["v1", "v1beta1"], ["gc"],
            [("Controller", ".spec.controllerName"), ("Accepted", ".status.conditions[?(@.type==\"Accepted\")].status")]),
        new("gateway.networking.k8s.io", "Gateway", "gateways", false, ["v1", "v1beta1"], ["gtw"],
            [("Class", ".spec.gatewayClassName"), ("Address", ".status.addresses[*].value"), ("Programmed", ".status.conditions[?(@.type==\"Programmed\")].status")]),
        new("gateway.networking.k8s.io", "HTTPRoute", "httproutes", false, ["v1", "v1beta1"], [], [("Hostnames", ".spec.hostnames")]),
        new("gateway.networking.k8s.io", "GRPCRoute", "grpcroutes", false, ["v1"], [], []),
        new("gateway.networking.k8s.io", "ReferenceGrant", "referencegrants", false, ["v1beta1"], ["refgrant"], [], Status: false),
        new("gateway.networking.k8s.io", "BackendTLSPolicy", "backendtlspolicies", false, ["v1"], ["btlspolicy"], []),
    ];

    private static readonly Kind[] GkePolicies =
    [
        new("networking.gke.io", "HealthCheckPolicy", "healthcheckpolicies", false, ["v1"], [], []),
        new("networking.gke.io", "GCPBackendPolicy", "gcpbackendpolicies", false, ["v1"], [], []),
        new("networking.gke.io", "GCPGatewayPolicy", "gcpgatewaypolicies", false, ["v1"], [], []),
    ];

    private static readonly Kind InferencePool =
        new("inference.networking.k8s.io", "InferencePool", "inferencepools", false, ["v1"], ["infpool"], [], BundleVersion: "v1.2.0");

    /// <summary>The CRDs of a cluster at Kubernetes minor version <paramref name="minor"/>.</summary>
    public static IEnumerable<JsonObject> For(int minor)
    {
        foreach (var k in GatewayApi) yield return Build(k, gatewayApiBundle: true);
        foreach (var k in GkePolicies) yield return Build(k, gatewayApiBundle: false);
        if (minor >= 34) yield return Build(InferencePool, gatewayApiBundle: false);
    }

    private static JsonObject Build(Kind k, bool gatewayApiBundle)
    {
        var labels = new JsonObject();
        if (gatewayApiBundle)
        {
            labels["gateway.networking.k8s.io/bundle-version"] = "v1.4.0";
            labels["gateway.networking.k8s.io/channel"] = "standard";
        }
        if (k.BundleVersion is not null) labels["inference.networking.k8s.io/bundle-version"] = k.BundleVersion;

        var names = new JsonObject { ["plural"] = k.Plural, ["singular"] = k.Name.ToLowerInvariant(), ["kind"] = k.Name, ["listKind"] = k.Name + "List" };
        if (k.ShortNames.Length > 0) names["shortNames"] = new JsonArray(k.ShortNames.Select(s => JsonValue.Create(s)).ToArray<JsonNode?>());
        if (gatewayApiBundle) names["categories"] = new JsonArray("gateway-api");

        var versions = new JsonArray();
        foreach (var (version, i) in k.Versions.Select((v, i) => (v, i)))
        {
            JsonObject Open() => new() { ["type"] = "object", ["x-kubernetes-preserve-unknown-fields"] = true };
            var properties = new JsonObject { ["spec"] = Open() };
            if (k.Status) properties["status"] = Open();
            var entry = new JsonObject
            {
                ["name"] = version,
                ["served"] = true,
                ["storage"] = i == 0,
                ["schema"] = new JsonObject { ["openAPIV3Schema"] = new JsonObject { ["type"] = "object", ["x-kubernetes-preserve-unknown-fields"] = true, ["properties"] = properties } },
            };
            if (k.Status) entry["subresources"] = new JsonObject { ["status"] = new JsonObject() };
            if (k.Columns.Length > 0)
            {
                var columns = new JsonArray();
                foreach (var (column, path) in k.Columns) columns.Add(new JsonObject { ["name"] = column, ["type"] = "string", ["jsonPath"] = path });
                columns.Add(new JsonObject { ["name"] = "Age", ["type"] = "date", ["jsonPath"] = ".metadata.creationTimestamp" });
                entry["additionalPrinterColumns"] = columns;
            }
            versions.Add(entry);
        }
        return new JsonObject
        {
            ["apiVersion"] = "apiextensions.k8s.io/v1",
            ["kind"] = "CustomResourceDefinition",
            ["metadata"] = new JsonObject { ["name"] = $"{k.Plural}.{k.Group}", ["labels"] = labels },
            ["spec"] = new JsonObject { ["group"] = k.Group, ["names"] = names, ["scope"] = k.ClusterScoped ? "Cluster" : "Namespaced", ["versions"] = versions },
        };
    }
}
