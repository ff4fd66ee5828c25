using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Engine.Kube.Json;
using RhaiiGke.Engine.Manifests;

namespace RhaiiGke.Engine.Serving;

/// <summary>
/// Puts deployed LLMInferenceServices behind one model-routed URL (<see cref="MultiModelBuilder"/>): reads each
/// service's served model name, gateway and the backend KServe's own HTTPRoute uses (so the InferencePool group is
/// the one the cluster's Istio speaks, after any v1 migration), applies the body-based router and the model route,
/// and waits for the router to be available and the route to be accepted.
/// </summary>
public static class ModelRouteDeployer
{
    public static async Task<InferenceModelRoute> DeployAsync(ClusterConnection connection, string name, string ns, IReadOnlyList<string> services,
        KubeApplyOptions options, IRhaiiLog? log, CancellationToken ct, int minimum = 2)
    {
        log ??= NullRhaiiLog.Instance;
        var client = KubeClients.For(connection);
        var members = new List<ModelRouteMember>();
        (string Name, string Namespace)? gateway = null;
        foreach (var svc in services.Distinct(StringComparer.Ordinal))
        {
            JsonObject? llmisvc;
            try { llmisvc = await client.GetAsync($"apis/serving.kserve.io/v1alpha1/namespaces/{ns}/llminferenceservices/{svc}", ct).ConfigureAwait(false); }
            catch (KubeApiException e) when (e.IsResourceNotServed)
            {
                throw new RhaiiException("KServeNotInstalled", RhaiiErrorCategory.NotInstalled, "The cluster does not serve LLMInferenceServices (serving.kserve.io/v1alpha1).",
                    "Run Install-RhaiiOperators, then Deploy-LlmInferenceService for each model.", svc, e);
            }
            if (llmisvc is null)
                throw new RhaiiException("LlmInferenceServiceNotFound", RhaiiErrorCategory.ObjectNotFound, $"LLMInferenceService {ns}/{svc} does not exist.",
                    "Deploy each model first (Deploy-LlmInferenceService), then put them behind one URL with New-InferenceModelRoute.", $"{ns}/{svc}");
            var model = llmisvc.Str("spec", "model", "name") is { Length: > 0 } served ? served : svc;
            var gwRef = llmisvc.Arr("spec", "router", "gateway", "refs")?.OfType<JsonObject>().FirstOrDefault();
            var gw = (gwRef?.Str("name") ?? "inference-gateway", gwRef?.Str("namespace") ?? "opendatahub");
            if (gateway is { } first && first != gw)
                throw new RhaiiException("ModelRouteGatewayMismatch", RhaiiErrorCategory.InvalidArgument,
                    $"{ns}/{svc} is behind gateway {gw.Item2}/{gw.Item1}, the others behind {first.Namespace}/{first.Name}; one URL is one gateway.",
                    "Deploy every model of a shared URL behind the same gateway.", $"{ns}/{svc}");
            gateway = gw;
            members.Add(await MemberAsync(client, svc, ns, model, llmisvc, ct).ConfigureAwait(false));
        }
        var (gwName, gwNs) = gateway ?? ("inference-gateway", "opendatahub");
        var gwObj = await client.GetAsync($"apis/gateway.networking.k8s.io/v1/namespaces/{gwNs}/gateways/{gwName}", ct).ConfigureAwait(false);
        var className = gwObj.Str("spec", "gatewayClassName");
        var gatewayClass = className is null or "istio" ? InferenceGatewayClass.Istio
            : className == ManifestBuilder.GatewayClassName(InferenceGatewayClass.GkeRegionalInternal) ? InferenceGatewayClass.GkeRegionalInternal : InferenceGatewayClass.GkeRegionalExternal;
        var objects = MultiModelBuilder.Build(name, members, gwName, gwNs, gatewayClass, minimum);
        var yaml = string.Join("---\n", objects.Select(o => o.Yaml));
        options.Component ??= "model-route";
        var result = await new ApplyEngine(connection, log).ApplyAsync(yaml, options, ct).ConfigureAwait(false);
        var mutating = result.MutatingRequests;
        // no cache-aware member left (a model was removed): the body-forwarding override of the old rule indices goes too
        if (!objects.Any(o => o.Kind == "EnvoyFilter" && o.Name == BodyForwardingName(name, ns)))
        {
            var gone = await client.DeleteAsync($"apis/networking.istio.io/v1alpha3/namespaces/{gwNs}/envoyfilters/{BodyForwardingName(name, ns)}", "Background", options.DryRun, ct).ConfigureAwait(false);
            if (gone is not null) mutating++;
        }

        var ready = false;
        string? message = null;
        if (!options.DryRun)
        {
            (ready, message) = await WaitReadyAsync(client, name, ns, gwName, gwNs, options.Timeout, log, ct).ConfigureAwait(false);
            gwObj = await client.GetAsync($"apis/gateway.networking.k8s.io/v1/namespaces/{gwNs}/gateways/{gwName}", ct).ConfigureAwait(false);
        }
        var address = gwObj.Arr("status", "addresses")?.OfType<JsonObject>().Select(a => a.Str("value")).FirstOrDefault(v => v is not null);
        return new InferenceModelRoute
        {
            Name = name,
            Namespace = ns,
            RouteName = name + MultiModelBuilder.RouteSuffix,
            Models = members.Select(m => m.Model).ToArray(),
            Services = members.Select(m => m.Service).ToArray(),
            Gateway = $"{gwNs}/{gwName}",
            GatewayAddress = address,
            Url = address is null ? null : $"http://{address}{MultiModelBuilder.PathPrefix(ns, name)}",
            Ready = ready,
            Message = message,
            MutatingRequests = mutating,
            DryRun = options.DryRun,
            Cluster = connection.Name,
        };
    }

    /// <summary>The backend of KServe's route rule for /v1/completions (an InferencePool with a scheduler, else the workload Service).</summary>
    private static async Task<ModelRouteMember> MemberAsync(KubeClient client, string svc, string ns, string model, JsonObject llmisvc, CancellationToken ct)
    {
        var cacheAware = llmisvc.Obj("spec", "router", "scheduler") is not null;
        JsonObject? route = null;
        try { route = await client.GetAsync($"apis/gateway.networking.k8s.io/v1/namespaces/{ns}/httproutes/{svc}-kserve-route", ct).ConfigureAwait(false); }
        catch (KubeApiException e) when (e.IsResourceNotServed) { }
        var refs = (route?.Arr("spec", "rules") ?? []).OfType<JsonObject>().SelectMany(r => (r.Arr("backendRefs") ?? []).OfType<JsonObject>()).ToList();
        var pool = refs.FirstOrDefault(b => b.Str("kind") == "InferencePool");
        if (pool is not null)
            return new(svc, ns, model, pool.Str("group") ?? "", "InferencePool", pool.Str("name") ?? $"{svc}-inference-pool", (int?)pool.Long("port"), cacheAware);
        var service = refs.FirstOrDefault(b => (b.Str("kind") ?? "Service") == "Service");
        if (service is not null)
            return new(svc, ns, model, "", "Service", service.Str("name") ?? $"{svc}-kserve-workload-svc", (int?)service.Long("port") ?? 8000, false);
        throw new RhaiiException("ServiceRouteNotReady", RhaiiErrorCategory.ResourceUnavailable,
            $"KServe has not created the route of {ns}/{svc} yet ({svc}-kserve-route), so the backend its model goes to is unknown.",
            "Wait for the service (Deploy-LlmInferenceService -Wait, or Get-LlmInferenceService until RouterReady), then run New-InferenceModelRoute again.", $"{ns}/{svc}");
    }

    /// <summary>The Deployment's current template is everything that runs, and available (old pods with the previous list are gone).</summary>
    private static bool RolledOut(JsonObject? d)
    {
        if (d is null) return false;
        var want = d.Long("spec", "replicas") ?? 1;
        return (d.Long("status", "observedGeneration") ?? 0) >= (d.Long("metadata", "generation") ?? 1)
            && d.Long("status", "updatedReplicas") == want && (d.Long("status", "replicas") ?? 0) == want && (d.Long("status", "availableReplicas") ?? 0) >= want;
    }

    /// <summary>The body-forwarding EnvoyFilter of a model route (in the gateway's namespace).</summary>
    public static string BodyForwardingName(string name, string ns) => $"{name}-{ns}-model-route-epp-body";

    /// <summary>
    /// The member services of an existing model route (its annotation), with the route's gateway; null when the route does not exist.
    /// </summary>
    public static async Task<(IReadOnlyList<string> Services, string GatewayName, string GatewayNamespace)?> ReadAsync(ClusterConnection connection, string name, string ns, CancellationToken ct)
    {
        var client = KubeClients.For(connection);
        JsonObject? route;
        try { route = await client.GetAsync($"apis/gateway.networking.k8s.io/v1/namespaces/{ns}/httproutes/{name}{MultiModelBuilder.RouteSuffix}", ct).ConfigureAwait(false); }
        catch (KubeApiException e) when (e.IsResourceNotServed) { return null; }
        if (route is null) return null;
        var services = (route.Str("metadata", "annotations", MultiModelBuilder.ServicesAnnotation) ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        var parent = route.Arr("spec", "parentRefs")?.OfType<JsonObject>().FirstOrDefault();
        return (services, parent?.Str("name") ?? "inference-gateway", parent?.Str("namespace") ?? ns);
    }

    /// <summary>
    /// Takes services out of a model route: the route, model list and body forwarding are regenerated for the rest (one model
    /// may stay); with none left (or <paramref name="services"/> null) the whole route goes: HTTPRoute, model list Deployment,
    /// Service and ConfigMap, and the body-forwarding EnvoyFilter. The body-based router stays (the gateway's, shared by every
    /// route). Returns the updated route, or null when the route is gone (or never existed: idempotent).
    /// </summary>
    public static async Task<(InferenceModelRoute? Route, int Deleted)> RemoveAsync(ClusterConnection connection, string name, string ns, IReadOnlyList<string>? services,
        KubeApplyOptions options, IRhaiiLog? log, CancellationToken ct)
    {
        log ??= NullRhaiiLog.Instance;
        var current = await ReadAsync(connection, name, ns, ct).ConfigureAwait(false);
        if (current is null)
        {
            log.Verbose($"Model route {ns}/{name} does not exist; nothing to remove.");
            return (null, 0);
        }
        var (members, gwName, gwNs) = current.Value;
        if (services is not null)
        {
            var unknown = services.Where(s => !members.Contains(s, StringComparer.Ordinal)).ToList();
            foreach (var u in unknown) log.Verbose($"{ns}/{u} is not behind model route {ns}/{name}; nothing to remove for it.");
            var rest = members.Where(m => !services.Contains(m, StringComparer.Ordinal)).ToList();
            if (rest.Count > 0) return (await DeployAsync(connection, name, ns, rest, options, log, ct, minimum: 1).ConfigureAwait(false), 0);
        }
        var client = KubeClients.For(connection);
        var paths = new[]
        {
            $"apis/gateway.networking.k8s.io/v1/namespaces/{ns}/httproutes/{name}{MultiModelBuilder.RouteSuffix}",
            $"apis/networking.istio.io/v1alpha3/namespaces/{gwNs}/envoyfilters/{BodyForwardingName(name, ns)}",
            $"apis/apps/v1/namespaces/{ns}/deployments/{name}{MultiModelBuilder.ModelsSuffix}",
            $"api/v1/namespaces/{ns}/services/{name}{MultiModelBuilder.ModelsSuffix}",
            $"api/v1/namespaces/{ns}/configmaps/{name}{MultiModelBuilder.ModelsSuffix}",
        };
        var deleted = 0;
        foreach (var path in paths)
        {
            JsonObject? gone;
            try { gone = await client.DeleteAsync(path, "Background", options.DryRun, ct).ConfigureAwait(false); }
            catch (KubeApiException e) when (e.IsResourceNotServed) { gone = null; }
            if (gone is not null) { deleted++; log.Verbose($"{(options.DryRun ? "Would delete" : "Deleted")} {path}."); }
        }
        return (null, deleted);
    }

    private static async Task<(bool Ready, string? Message)> WaitReadyAsync(KubeClient client, string name, string ns, string gwName, string gwNs, TimeSpan timeout,
        IRhaiiLog log, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        var delay = TimeSpan.FromMilliseconds(50);
        string message;
        while (true)
        {
            var deployment = await client.GetAsync($"apis/apps/v1/namespaces/{gwNs}/deployments/{MultiModelBuilder.BbrName}", ct).ConfigureAwait(false);
            var available = deployment.Arr("status", "conditions")?.OfType<JsonObject>().Any(c => c.Str("type") == "Available" && c.Str("status") == "True") == true;
            var list = await client.GetAsync($"apis/apps/v1/namespaces/{ns}/deployments/{name}{MultiModelBuilder.ModelsSuffix}", ct).ConfigureAwait(false);
            var listReady = RolledOut(list);
            var route = await client.GetAsync($"apis/gateway.networking.k8s.io/v1/namespaces/{ns}/httproutes/{name}{MultiModelBuilder.RouteSuffix}", ct).ConfigureAwait(false);
            var parent = route.Arr("status", "parents")?.OfType<JsonObject>().FirstOrDefault(p => p.Str("parentRef", "name") == gwName);
            var accepted = parent?.Arr("conditions")?.OfType<JsonObject>().FirstOrDefault(c => c.Str("type") == "Accepted");
            var resolved = parent?.Arr("conditions")?.OfType<JsonObject>().FirstOrDefault(c => c.Str("type") == "ResolvedRefs");
            if (available && listReady && accepted.Str("status") == "True" && resolved.Str("status") != "False") return (true, null);
            message = !available ? $"Deployment {gwNs}/{MultiModelBuilder.BbrName} (the body-based router) is not available yet."
                : !listReady ? $"Deployment {ns}/{name}{MultiModelBuilder.ModelsSuffix} (the model list behind /v1/models) has not rolled out the current list yet."
                : accepted is null ? $"Gateway {gwNs}/{gwName} has not reported on HTTPRoute {ns}/{name}{MultiModelBuilder.RouteSuffix} yet."
                : accepted.Str("status") != "True" ? $"Gateway {gwNs}/{gwName} does not accept HTTPRoute {ns}/{name}{MultiModelBuilder.RouteSuffix}: {accepted.Str("reason")} {accepted.Str("message")}".TrimEnd()
                : $"HTTPRoute {ns}/{name}{MultiModelBuilder.RouteSuffix} has unresolved backends: {resolved.Str("reason")} {resolved.Str("message")}".TrimEnd();
            if (DateTime.UtcNow >= deadline) break;
            log.Progress("New-InferenceModelRoute", message, 50);
            await Task.Delay(delay, ct).ConfigureAwait(false);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 2000));
        }
        log.Warning(message);
        return (false, message);
    }
}
