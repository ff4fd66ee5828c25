using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Engine.Manifests;
using RhaiiGke.Engine.Serving.Diagnosis;

namespace RhaiiGke.Engine.Serving;

/// <summary>
/// Applies the inference Gateway and what it needs (for Istio: the CA bundle Certificate and the
/// parametersRef ConfigMap that mounts it and gives the generated ServiceAccount the pull secret), waits
/// for Programmed, and reads back the address.
/// </summary>
public static class GatewayDeployer
{
    public static async Task<InferenceGateway> DeployAsync(ClusterConnection connection, string name, string ns, InferenceGatewayClass gatewayClass,
        string? pullSecretName, KubeApplyOptions options, IRhaiiLog? log, CancellationToken ct)
    {
        log ??= NullRhaiiLog.Instance;
        await RequireGatewayClassAsync(connection, gatewayClass, ct).ConfigureAwait(false);
        // The pull secret itself is placed by Install-RhaiiOperators (or by the user); only its name is referenced here.
        var objects = new[] { ManifestBuilder.Make(ManifestBuilder.Namespace(ns, null), "namespace", ManifestBuilder.OrderNamespace) }
            .Concat(ManifestBuilder.BuildGateway(name, ns, gatewayClass, pullSecretName).Where(o => o.Kind != "Secret"));
        var yaml = string.Join("---\n", ManifestBuilder.Sort(objects).Select(o => o.Yaml));
        options.Component ??= "gateway";
        var result = await new ApplyEngine(connection, log).ApplyAsync(yaml, options, ct).ConfigureAwait(false);

        JsonObject? gw = null;
        if (!options.DryRun)
            gw = await KubeClients.For(connection).GetAsync($"apis/gateway.networking.k8s.io/v1/namespaces/{ns}/gateways/{name}", ct).ConfigureAwait(false);
        var address = (gw?["status"]?["addresses"] as JsonArray)?.OfType<JsonObject>().Select(a => ClusterSnapshot.Str(a, "value")).FirstOrDefault(v => v is not null);
        return new InferenceGateway
        {
            Name = name,
            Namespace = ns,
            GatewayClass = gatewayClass,
            GatewayClassName = ManifestBuilder.GatewayClassName(gatewayClass),
            Programmed = ClusterSnapshot.IsTrue(ClusterSnapshot.Condition(gw?["status"], "Programmed")),
            Address = address,
            MutatingRequests = result.MutatingRequests,
            DryRun = options.DryRun,
            Cluster = connection.Name,
        };
    }

    /// <summary>
    /// Fails before anything is applied when the cluster has no such GatewayClass: a Gateway of an unknown
    /// class is accepted by the API server and then never programmed, which only shows as a timeout later.
    /// </summary>
    public static async Task RequireGatewayClassAsync(ClusterConnection connection, InferenceGatewayClass gatewayClass, CancellationToken ct)
    {
        var className = ManifestBuilder.GatewayClassName(gatewayClass);
        var client = KubeClients.For(connection);
        JsonObject? cls;
        try { cls = await client.GetAsync($"apis/gateway.networking.k8s.io/v1/gatewayclasses/{className}", ct).ConfigureAwait(false); }
        catch (KubeApiException e) when (e.IsResourceNotServed)
        {
            throw new RhaiiException("GatewayApiNotInstalled", RhaiiErrorCategory.NotInstalled,
                "The cluster does not serve the Gateway API (gateway.networking.k8s.io/v1); nothing was applied.",
                gatewayClass == InferenceGatewayClass.Istio
                    ? "Run Install-RhaiiOperators (it installs the Gateway API CRDs with Istio)."
                    : "Enable the Gateway API on the GKE cluster: gcloud container clusters update <cluster> --gateway-api=standard (New-TpuCluster enables it).", className, e);
        }
        if (cls is null)
            throw new RhaiiException("GatewayClassNotFound", RhaiiErrorCategory.ObjectNotFound,
                $"GatewayClass {className} does not exist on the cluster, so a Gateway of that class would never be programmed; nothing was applied.",
                gatewayClass == InferenceGatewayClass.Istio
                    ? "Install Istio with Install-RhaiiOperators (istiod creates the istio GatewayClass), or check Get-RhaiiOperatorStatus."
                    : "GKE creates its gateway classes when the Gateway API is enabled on the cluster (gcloud container clusters update <cluster> --gateway-api=standard); regional classes also need a proxy-only subnet in the region.",
                className);
    }
}
