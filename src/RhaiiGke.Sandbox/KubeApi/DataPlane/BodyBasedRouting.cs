using System.Text.Json;
using System.Text.Json.Nodes;

namespace RhaiiGke.Sandbox.KubeApi.DataPlane;

/// <summary>
/// The Gateway API Inference Extension's body-based router (BBR, registry.k8s.io/gateway-api-inference-extension/bbr)
/// as an Istio gateway runs it: an EnvoyFilter (networking.istio.io/v1alpha3) in the gateway's namespace, or in the root
/// namespace istio-system, selecting the gateway's pods (or every workload of its namespace without a workloadSelector)
/// inserts an <c>envoy.filters.http.ext_proc</c> HTTP filter whose gRPC cluster is
/// <c>outbound|&lt;port&gt;||&lt;service&gt;.&lt;namespace&gt;.svc.cluster.local</c>. When that Service has a ready
/// endpoint whose container runs the bbr image, the server parses the request body (pkg/bbr/handlers/request.go at v1.2.0):
/// a JSON body with a non-empty <c>model</c> sets the <c>X-Gateway-Model-Name</c> header and clears the route cache, so
/// the route is chosen with it; a body without <c>model</c> (or an empty one) passes unchanged; a body that is not JSON
/// fails the ext_proc call. With <c>failure_mode_allow: false</c> (the chart's setting) a failed or unreachable ext_proc
/// server makes Envoy answer 500 itself. No such filter: nothing sets the header, and HTTPRoute header matches on
/// it never hold.
/// </summary>
internal static class BodyBasedRouting
{
    public const string ModelHeader = "X-Gateway-Model-Name";
    public const string ExtProcFilter = "envoy.filters.http.ext_proc";
    public const string ImageRepository = "registry.k8s.io/gateway-api-inference-extension/bbr";

    public readonly record struct Outcome(string? Model, LocalReply? Reply);

    public static Outcome Process(SimCore core, string gatewayNs, IReadOnlyDictionary<string, string> gatewayLabels, string body,
        Func<JsonObject, long?, List<(JsonObject Pod, int Port)>> endpoints)
    {
        foreach (var ns in new[] { gatewayNs, "istio-system" }.Distinct(StringComparer.Ordinal))
        {
            foreach (var filter in core.PeekAll("networking.istio.io", "envoyfilters", ns))
            {
                var selector = filter.Obj("spec", "workloadSelector")?.Obj("labels").StringMap() ?? [];
                if (selector.Any(kv => gatewayLabels.GetValueOrDefault(kv.Key) != kv.Value)) continue;
                foreach (var patch in (filter.Arr("spec", "configPatches") ?? []).OfType<JsonObject>())
                {
                    if (patch.Str("applyTo") != "HTTP_FILTER") continue;
                    var context = patch.Str("match", "context");
                    if (context is not null and not "GATEWAY" and not "ANY") continue;
                    if (patch.Str("patch", "operation") is not ("INSERT_FIRST" or "INSERT_BEFORE" or "INSERT_AFTER" or "ADD")) continue;
                    var value = patch.Obj("patch", "value");
                    if (value?.Str("name") != ExtProcFilter) continue;
                    var cluster = value.Str("typed_config", "grpc_service", "envoy_grpc", "cluster_name");
                    if (cluster is null || !TryParseCluster(cluster, out var svcName, out var svcNs, out var port)) continue;
                    var failOpen = value.Obj("typed_config")?["failure_mode_allow"] is JsonValue fv && fv.TryGetValue<bool>(out var allow) && allow;
                    var svc = core.Peek("", "services", svcNs, svcName);
                    var ready = svc is not null && (svc.Arr("spec", "ports") ?? []).Any(p => p.Long("port") == port)
                        ? endpoints(svc, port).Where(e => RunsBbr(e.Pod)).ToList() : [];
                    if (ready.Count == 0)
                    {
                        if (failOpen) continue;
                        return new Outcome(null, new LocalReply(500, "", "UAEX"));
                    }
                    if (body.Length == 0) return new Outcome(null, null);
                    try
                    {
                        var node = JsonNode.Parse(body);
                        var model = node is JsonObject o && o["model"] is JsonValue mv && mv.TryGetValue<string>(out var m) ? m : null;
                        return new Outcome(string.IsNullOrEmpty(model) ? null : model, null);
                    }
                    catch (JsonException)
                    {
                        if (failOpen) continue;
                        return new Outcome(null, new LocalReply(500, "", "UAEX"));
                    }
                }
            }
        }
        return new Outcome(null, null);
    }

    /// <summary>Istio's cluster name for a Service port: outbound|9004||body-based-router.opendatahub.svc.cluster.local.</summary>
    internal static bool TryParseCluster(string cluster, out string name, out string ns, out long port)
    {
        name = ns = "";
        port = 0;
        var parts = cluster.Split('|');
        if (parts.Length != 4 || parts[0] != "outbound" || !long.TryParse(parts[1], out port)) return false;
        var host = parts[3].Split('.');
        if (host.Length < 3 || host[2] != "svc") return false;
        (name, ns) = (host[0], host[1]);
        return true;
    }

    private static bool RunsBbr(JsonObject pod) =>
        (pod.Arr("spec", "containers") ?? []).Any(c => (c.Str("image") ?? "").StartsWith(ImageRepository + ":", StringComparison.Ordinal)
            || (c.Str("image") ?? "").StartsWith(ImageRepository + "@", StringComparison.Ordinal));
}
