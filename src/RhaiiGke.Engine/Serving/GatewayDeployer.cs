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
}
