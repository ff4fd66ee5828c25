using System.Diagnostics;
using System.Security;
using System.Text;
using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Engine.Kube.Json;
using RhaiiGke.Engine.Manifests;
using RhaiiGke.Engine.Manifests.Lint;
using RhaiiGke.Engine.Serving.Diagnosis;

namespace RhaiiGke.Engine.Serving;

/// <summary>What Deploy-LlmInferenceService deploys: a spec, or manifest files (linted first).</summary>
public sealed class LlmDeployRequest
{
    public LlmInferenceServiceSpec? Spec { get; init; }
    /// <summary>YAML documents from -Path (already read), with the file each came from for lint messages.</summary>
    public IReadOnlyList<(string File, string Yaml)> Manifests { get; init; } = [];
    /// <summary>Hugging Face token; when null, HF_TOKEN / HUGGING_FACE_HUB_TOKEN from the environment.</summary>
    public SecureString? HuggingFaceToken { get; init; }
    /// <summary>A .dockerconfigjson document for the pull secret.</summary>
    public SecureString? PullSecretConfig { get; init; }
    public EnvoyFilterMode EnvoyFilter { get; init; } = EnvoyFilterMode.Auto;
    public bool NetworkPolicies { get; init; } = true;
    /// <summary>Read the token from the environment when none is given (off in tests that must not see the caller's token).</summary>
    public bool TokenFromEnvironment { get; init; } = true;
    /// <summary>Create the spec's Gateway when it does not exist (as New-InferenceGateway would).</summary>
    public bool CreateGateway { get; init; } = true;
    /// <summary>Kinds outside the service's own set (<see cref="ServiceKinds"/>) that -Path files may hold (kind, or group/kind).</summary>
    public IReadOnlyList<string> AllowKinds { get; init; } = [];
}

/// <summary>Per-stage limits of a wait (Deploy -Wait, Wait-LlmInferenceService).</summary>
public sealed class ServingWaitOptions
{
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(60);
    /// <summary>Pending or refused by the scheduler (TPU node pool scaling up from zero takes minutes).</summary>
    public TimeSpan SchedulingTimeout { get; set; } = TimeSpan.FromMinutes(15);
    /// <summary>Image pull and container creation (the vLLM TPU image is large).</summary>
    public TimeSpan StartingTimeout { get; set; } = TimeSpan.FromMinutes(15);
    public TimeSpan DownloadTimeout { get; set; } = TimeSpan.FromMinutes(30);
    /// <summary>vLLM loading weights and XLA compilation until the startup probe passes.</summary>
    public TimeSpan CompileTimeout { get; set; } = TimeSpan.FromMinutes(30);
    /// <summary>How long a failure stage (ImagePullBackOff, CrashLoopBackOff, misconfiguration) may last before the wait gives up.</summary>
    public TimeSpan FailureGrace { get; set; } = TimeSpan.FromMinutes(2);
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>
    /// An update blocked because the previous revision's pods hold the TPU chips (<see cref="RolloutBlock"/>) while
    /// they serve nothing (none Ready): scale their ReplicaSets to 0 so the new pod gets the chips. No downtime, since
    /// nothing was served. Deploy and Set (already under ShouldProcess) turn it on; Wait-LlmInferenceService changes nothing.
    /// </summary>
    public bool ReplaceUnservingPods { get; set; }
    /// <summary>-Recreate: replace the previous revision's pods of a blocked update even when they serve (downtime until the new pod is Ready).</summary>
    public bool ReplaceServingPods { get; set; }

    public TimeSpan LimitFor(ServingStage stage) => stage switch
    {
        ServingStage.Pending or ServingStage.Unschedulable => SchedulingTimeout,
        ServingStage.Starting => StartingTimeout,
        ServingStage.DownloadingModel => DownloadTimeout,
        ServingStage.Compiling => CompileTimeout,
        ServingStage.Ready or ServingStage.Stopped or ServingStage.Stopping => Timeout,
        _ => FailureGrace,
    };
}

/// <summary>
/// Deploys, reads, waits for, changes and removes LLMInferenceServices. Applies through
/// <see cref="ApplyEngine"/> (server-side apply as rhaiigke, -WhatIf as server dry run, zero requests
/// when nothing changed); secret values come from SecureStrings or the environment and are never logged.
/// </summary>
public sealed class LlmServiceManager
{
    public const string ServiceLabel = "rhaiigke.io/service";
    public const string ApiPath = "apis/serving.kserve.io/v1alpha1";
    private readonly ClusterConnection _connection;
    private readonly IRhaiiLog _log;
    private readonly KubeClient _client;

    public LlmServiceManager(ClusterConnection connection, IRhaiiLog? log = null)
    {
        _connection = connection;
        _log = log ?? NullRhaiiLog.Instance;
        _client = KubeClients.For(connection);
    }

    private static string ServicePath(string ns, string name) => $"{ApiPath}/namespaces/{ns}/llminferenceservices/{name}";

    // ---------------------------------------------------------------- read

    public async Task<LlmInferenceService?> GetAsync(string ns, string name, CancellationToken ct)
    {
        var svc = await GetServiceObjectAsync(ns, name, ct).ConfigureAwait(false);
        return svc is null ? null : await DescribeAsync(svc, ct).ConfigureAwait(false);
    }

    private async Task<JsonObject?> GetServiceObjectAsync(string ns, string name, CancellationToken ct)
    {
        try { return await _client.GetAsync(ServicePath(ns, name), ct).ConfigureAwait(false); }
        catch (KubeApiException e) when (e.IsResourceNotServed) { throw NotInstalled(e); }
    }

    /// <summary>Every service (in one namespace, or all).</summary>
    public async Task<IReadOnlyList<LlmInferenceService>> ListAsync(string? ns, CancellationToken ct)
    {
        JsonObject list;
        try { list = await _client.ListAsync(ns is null ? $"{ApiPath}/llminferenceservices" : $"{ApiPath}/namespaces/{ns}/llminferenceservices", null, ct).ConfigureAwait(false); }
        catch (KubeApiException e) when (e.IsResourceNotServed) { throw NotInstalled(e); }
        var result = new List<LlmInferenceService>();
        foreach (var svc in (list.Arr("items") ?? []).OfType<JsonObject>().OrderBy(s => s.Namespace()).ThenBy(s => s.Name()))
        {
            svc["apiVersion"] ??= "serving.kserve.io/v1alpha1";
            svc["kind"] ??= "LLMInferenceService";
            result.Add(await DescribeAsync(svc, ct).ConfigureAwait(false));
        }
        return result;
    }

    private static RhaiiException NotInstalled(KubeApiException e) => new("KServeNotInstalled", RhaiiErrorCategory.NotInstalled,
        "The cluster does not serve LLMInferenceService (serving.kserve.io/v1alpha1): KServe is not installed.",
        "Run Install-RhaiiOperators first.", null, e);

    private async Task<LlmInferenceService> DescribeAsync(JsonObject svc, CancellationToken ct)
    {
        var ns = svc.Namespace() ?? "default";
        var name = svc.Name();
        var pods = await _client.ListAsync($"api/v1/namespaces/{ns}/pods", $"app.kubernetes.io/name={name}", ct).ConfigureAwait(false);
        var gwRef = (svc.Arr("spec", "router", "gateway", "refs") ?? []).OfType<JsonObject>().FirstOrDefault();
        JsonObject? gateway = null;
        if (svc.At("spec", "router", "route") is not null || gwRef is not null)
        {
            try
            {
                gateway = await _client.GetAsync($"apis/gateway.networking.k8s.io/v1/namespaces/{gwRef.Str("namespace") ?? "opendatahub"}/gateways/{gwRef.Str("name") ?? "inference-gateway"}", ct).ConfigureAwait(false);
            }
            catch (KubeApiException e) when (e.IsResourceNotServed) { }
        }
        JsonObject? route = null;
        try { route = await _client.GetAsync($"apis/gateway.networking.k8s.io/v1/namespaces/{ns}/httproutes/{name}-kserve-route", ct).ConfigureAwait(false); }
        catch (KubeApiException e) when (e.IsResourceNotServed) { }
        return LlmServiceState.Read(svc, (pods.Arr("items") ?? []).OfType<JsonObject>(), gateway, route, _connection.Name);
    }

    // ---------------------------------------------------------------- deploy

    /// <summary>The objects a spec deploys (secrets resolved, labels stamped), before anything is sent. Throws on missing credentials.</summary>
    public async Task<List<JsonObject>> PlanAsync(LlmDeployRequest request, CancellationToken ct)
    {
        var objects = new List<JsonObject>();
        if (request.Spec is { } spec)
        {
            foreach (var m in ManifestBuilder.BuildService(spec))
            {
                if (m.Kind == "EnvoyFilter") continue; // added once the real HTTPRoute exists
                if (m.Kind == "NetworkPolicy" && !request.NetworkPolicies) continue;
                objects.Add((JsonObject)YamlCodec.ReadOne(m.Yaml)!);
            }
            foreach (var o in objects.Where(o => o.Str("kind") != "Namespace")) Stamp(o, spec.Name, overwrite: true);
            await ResolveHfTokenAsync(objects, spec, request, ct).ConfigureAwait(false);
            await ResolvePullSecretAsync(objects, spec, request, ct).ConfigureAwait(false);
        }
        else
        {
            foreach (var (file, yaml) in request.Manifests)
                foreach (var o in ApplyEngine.ParseManifests(yaml)) objects.Add(o);
            if (!objects.Any(o => o.Str("kind") == "LLMInferenceService"))
                throw new RhaiiException("NoLlmInferenceServiceInManifest", RhaiiErrorCategory.InvalidData,
                    "The manifest files contain no LLMInferenceService.", "Pass files that define one (Export-RhaiiManifest writes them).");
            // the same gate as the lint (RHAII601), on the parsed objects: a backstop for callers that plan without linting
            RefuseKinds(objects.Where(o => !ServiceKinds.IsAllowed(o.Str("apiVersion"), o.Str("kind")) && !ServiceKinds.IsAllowedBy(o.Str("apiVersion"), o.Str("kind"), request.AllowKinds))
                .Select(o => (o.Str("kind") ?? "", (string?)o.Name(), (string?)null)).ToList());
            FillPlaceholders(objects, request);
            // One service per file set: label what comes with it so Remove-LlmInferenceService finds it too.
            var only = objects.Where(o => o.Str("kind") == "LLMInferenceService").Select(o => o.Name()).Distinct().ToList();
            if (only.Count == 1)
                foreach (var o in objects.Where(o => o.Str("kind") is not ("Namespace" or "LLMInferenceService"))) Stamp(o, only[0], overwrite: false);
            foreach (var ns in objects.Select(o => o.Namespace()).Where(n => n is not null).Distinct().ToList())
                if (!objects.Any(o => o.Str("kind") == "Namespace" && o.Name() == ns))
                    objects.Insert(0, ManifestBuilder.Namespace(ns!, null));
        }
        return objects;
    }

    /// <summary>The labels Remove-LlmInferenceService finds a service's objects by (kept when a file already sets them, unless <paramref name="overwrite"/>).</summary>
    private static void Stamp(JsonObject o, string service, bool overwrite)
    {
        var labels = o.Ensure("metadata").Ensure("labels");
        if (overwrite || labels[ServiceLabel] is null) labels[ServiceLabel] = service;
        if (overwrite || labels[ManifestBuilder.ManagedByLabel] is null) labels[ManifestBuilder.ManagedByLabel] = "rhaiigke";
    }

    /// <summary>
    /// Lints manifest files as one set; errors stop the deploy before anything is sent. Kinds outside the
    /// service's own set (RHAII601) are refused with <c>ManifestKindNotAllowed</c> unless named in <paramref name="allowKinds"/>.
    /// </summary>
    public static void Lint(IReadOnlyList<(string File, string Yaml)> manifests, IRhaiiLog log, IReadOnlyList<string>? allowKinds = null)
    {
        var results = ManifestLinter.Lint(manifests.Select(m => new ManifestSource(m.File, m.Yaml)).ToList());
        if (results.FirstOrDefault(r => r.ParseError is not null) is { } bad) throw bad.ParseError!;
        var findings = results.SelectMany(r => r.Findings).ToList();
        var outside = findings.Where(f => f.RuleId == KindOutsideServiceRuleId).ToList();
        findings.RemoveAll(f => f.RuleId == KindOutsideServiceRuleId);
        bool Allowed(ManifestFinding f) => (allowKinds ?? []).Any(a => string.Equals(a, f.Kind, StringComparison.OrdinalIgnoreCase) || a.EndsWith("/" + f.Kind, StringComparison.OrdinalIgnoreCase));
        foreach (var f in outside.Where(Allowed))
            log.Warning($"{f.File}: {f.Kind} {f.Name} is outside the service's own kinds; applied because -AllowKind names it.");
        RefuseKinds(outside.Where(f => !Allowed(f)).Select(f => (f.Kind ?? "", f.Name, f.File)).ToList());
        foreach (var w in findings.Where(f => f.Severity != FindingSeverity.Error)) log.Warning($"{w}. Fix: {w.Fix}");
        var errors = findings.Where(f => f.Severity == FindingSeverity.Error).ToList();
        if (errors.Count > 0)
            throw new RhaiiException("ManifestLintFailed", RhaiiErrorCategory.InvalidData,
                $"The manifests have {errors.Count} error(s); nothing was applied:{Environment.NewLine}" + string.Join(Environment.NewLine, errors.Select(e => $"  {e}")),
                string.Join(" ", errors.Select(e => e.Fix).Distinct().Take(3)) + " (Test-LlmInferenceServiceManifest lists every finding.)", errors[0].File);
    }

    private const string KindOutsideServiceRuleId = "RHAII601";

    /// <summary>Refuses (before anything is sent) objects whose kinds are outside the service's own set and not allowed.</summary>
    private static void RefuseKinds(IReadOnlyList<(string Kind, string? Name, string? File)> refused)
    {
        if (refused.Count == 0) return;
        var kinds = refused.Select(r => r.Kind).Distinct(StringComparer.Ordinal).ToList();
        var rbac = kinds.Where(k => k is "ClusterRole" or "ClusterRoleBinding").ToList();
        throw new RhaiiException("ManifestKindNotAllowed", RhaiiErrorCategory.SecurityError,
            $"The manifests hold {string.Join(", ", refused.Select(r => $"{r.Kind} {r.Name}".TrimEnd()))}: " +
            $"{(rbac.Count > 0 ? "cluster-scoped RBAC grants permissions across the whole cluster and is " : "")}outside what the module deploys for an LLMInferenceService ({KindOutsideServiceRuleId}); nothing was applied.",
            $"Review them and apply them separately, or pass -AllowKind {string.Join(",", kinds)} to deploy them with the service.",
            refused[0].File ?? refused[0].Name);
    }

    private static string? EnvToken() =>
        new[] { "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN" }.Select(Environment.GetEnvironmentVariable).FirstOrDefault(v => !string.IsNullOrWhiteSpace(v));

    private string? TokenFor(LlmDeployRequest r) =>
        r.HuggingFaceToken is { Length: > 0 } t ? KubeClient.SecureToString(t) : r.TokenFromEnvironment ? EnvToken() : null;

    private async Task ResolveHfTokenAsync(List<JsonObject> objects, LlmInferenceServiceSpec spec, LlmDeployRequest r, CancellationToken ct)
    {
        if (spec.HuggingFaceTokenSecret is not { } secretName) return;
        var secret = objects.First(o => o.Str("kind") == "Secret" && o.Name() == secretName);
        var token = TokenFor(r);
        if (token is not null)
        {
            secret["stringData"] = new JsonObject { ["HF_TOKEN"] = token };
            return;
        }
        objects.Remove(secret);
        var live = await _client.GetAsync($"api/v1/namespaces/{spec.Namespace}/secrets/{secretName}", ct).ConfigureAwait(false);
        if (live?["data"]?["HF_TOKEN"] is not null)
        {
            _log.Verbose($"Using the existing Secret {spec.Namespace}/{secretName} for the Hugging Face token.");
            return;
        }
        // No token anywhere: public models still download; do not list a Secret that does not exist.
        var sa = objects.First(o => o.Str("kind") == "ServiceAccount");
        sa.Remove("secrets");
        var where = $"-HuggingFaceToken, HF_TOKEN, or Secret {spec.Namespace}/{secretName}";
        switch (Catalog.ModelCatalog.IsGated(spec.ModelUri))
        {
            case true:
                _log.Warning($"No Hugging Face token ({where}): {spec.ModelUri} is gated, so the storage initializer's download fails with 401 until a token whose account accepted the model's licence is given.");
                break;
            case false:
                _log.Verbose($"No Hugging Face token ({where}): none is needed, {spec.ModelUri} is a public model.");
                break;
            default:
                _log.Warning($"No Hugging Face token ({where}): public models download without one; if {spec.ModelUri} is gated or private, the storage initializer's download fails with 401/403.");
                break;
        }
    }

    private async Task ResolvePullSecretAsync(List<JsonObject> objects, LlmInferenceServiceSpec spec, LlmDeployRequest r, CancellationToken ct)
    {
        if (spec.PullSecretName is not { } name) return;
        var secret = objects.First(o => o.Str("kind") == "Secret" && o.Name() == name);
        if (r.PullSecretConfig is { Length: > 0 } cfg)
        {
            secret["stringData"] = new JsonObject { [".dockerconfigjson"] = KubeClient.SecureToString(cfg) };
            return;
        }
        objects.Remove(secret);
        var live = await _client.GetAsync($"api/v1/namespaces/{spec.Namespace}/secrets/{name}", ct).ConfigureAwait(false);
        if (live is not null)
        {
            _log.Verbose($"Using the existing pull secret {spec.Namespace}/{name}.");
            return;
        }
        // Install-RhaiiOperators leaves the registry credentials in the gateway namespace: copy them, as the runbooks do by hand.
        foreach (var (sns, sname) in new[] { (spec.GatewayNamespace, name), (spec.GatewayNamespace, "rhaii-pull-secret"), ("opendatahub", "rhaii-pull-secret"), ("opendatahub", name) }.Distinct())
        {
            var source = await _client.GetAsync($"api/v1/namespaces/{sns}/secrets/{sname}", ct).ConfigureAwait(false);
            if (source?.Str("type") != "kubernetes.io/dockerconfigjson" || source["data"]?[".dockerconfigjson"] is null) continue;
            var copy = ManifestBuilder.Obj("v1", "Secret", name, spec.Namespace);
            Stamp(copy, spec.Name, overwrite: true);
            copy["type"] = "kubernetes.io/dockerconfigjson";
            copy["data"] = new JsonObject { [".dockerconfigjson"] = source["data"]![".dockerconfigjson"]!.GetValue<string>() };
            objects.Add(copy);
            _log.Verbose($"Copying pull secret {sns}/{sname} to {spec.Namespace}/{name}.");
            return;
        }
        throw new RhaiiException("PullSecretMissing", RhaiiErrorCategory.AuthenticationError,
            $"{spec.Image} comes from a registry that needs credentials, but there is no pull secret {spec.Namespace}/{name} and none to copy from {spec.GatewayNamespace}; nothing was applied.",
            "Pass -PullSecretFile, -RegistryCredential or -UseSystemAuth, or run Install-RhaiiOperators with a pull secret first.", name);
    }

    private void FillPlaceholders(List<JsonObject> objects, LlmDeployRequest r)
    {
        foreach (var s in objects.Where(o => o.Str("kind") == "Secret"))
        {
            if (s.Obj("stringData") is not { } sd) continue;
            foreach (var key in sd.Select(kv => kv.Key).ToList())
            {
                var value = sd[key]?.ToString() ?? "";
                if (!value.Contains(ManifestBuilder.Placeholder, StringComparison.Ordinal)) continue;
                string? replacement = key switch
                {
                    "HF_TOKEN" => TokenFor(r),
                    ".dockerconfigjson" when r.PullSecretConfig is { Length: > 0 } c => KubeClient.SecureToString(c),
                    _ => null,
                };
                if (replacement is null)
                    throw new RhaiiException("ManifestPlaceholder", RhaiiErrorCategory.InvalidData,
                        $"Secret {s.Namespace()}/{s.Name()} key {key} still holds {ManifestBuilder.Placeholder}; nothing was applied.",
                        key == "HF_TOKEN" ? "Pass -HuggingFaceToken or set HF_TOKEN." : key == ".dockerconfigjson" ? "Pass -PullSecretFile, -RegistryCredential or -UseSystemAuth." : $"Fill in {key} in the file.",
                        s.Name());
                sd[key] = replacement;
            }
        }
    }

    /// <summary>Applies a deploy request and returns the service(s) it created, optionally waiting until Ready.</summary>
    public async Task<IReadOnlyList<LlmInferenceService>> DeployAsync(LlmDeployRequest request, KubeApplyOptions options, ServingWaitOptions? wait, CancellationToken ct)
    {
        if (request.Spec is null) Lint(request.Manifests, _log, request.AllowKinds);
        var objects = await PlanAsync(request, ct).ConfigureAwait(false);
        ObjectLimits.Check(objects); // before the gateway or anything else is created
        var services = objects.Where(o => o.Str("kind") == "LLMInferenceService").Select(o => (Ns: o.Namespace() ?? _connection.Namespace, Name: o.Name(), Obj: o)).ToList();
        var createGateway = request.CreateGateway && request.Spec is not null;
        var missingGateways = await PreflightAsync(services.Select(s => s.Obj), createGateway, ct).ConfigureAwait(false);
        var gatewayMutating = 0;
        options.Component ??= services.Count == 1 ? $"{services[0].Ns}/{services[0].Name}" : "llminferenceservices";
        // Concurrent deploys of one service must not interleave into a mix of both requests: a deploy that changes
        // anything holds the service's deploy lease while it applies (a re-run with nothing to change takes none).
        var unchanged = options.DryRun || createGateway && missingGateways.Count > 0 ? null
            : await new ApplyEngine(_connection, _log).UnchangedAsync(objects, options, ct).ConfigureAwait(false);
        var leases = new List<DeployLease>();
        List<KubeObjectResult> applied;
        int mutating;
        try
        {
            if (!options.DryRun && unchanged is null)
                foreach (var (ns, name) in services.Select(s => (s.Ns, s.Name)).Distinct().OrderBy(s => s.Ns, StringComparer.Ordinal).ThenBy(s => s.Name, StringComparer.Ordinal))
                    leases.Add(await DeployLease.AcquireAsync(_client, ns, name, _log, t => EnsureNamespaceAsync(objects, ns, options, t), ct).ConfigureAwait(false));
            if (createGateway && missingGateways.Count > 0)
                gatewayMutating = (await CreateGatewayAsync(request.Spec!, options, ct).ConfigureAwait(false)).MutatingRequests;

            var applyWait = options.Wait;
            options.Wait = false; // the staged wait below replaces the engine's single readiness wait
            KubeApplyResult result;
            try { result = unchanged ?? await new ApplyEngine(_connection, _log).ApplyAsync(objects, options, ct).ConfigureAwait(false); }
            finally { options.Wait = applyWait; }
            applied = result.Objects.ToList();
            mutating = result.MutatingRequests + gatewayMutating;

            if (request.Spec is { } spec && NeedsEnvoyFilter(spec, request.EnvoyFilter))
            {
                var filter = await EnvoyFilterAsync(spec, options, ct).ConfigureAwait(false);
                if (filter is not null)
                {
                    var fr = await new ApplyEngine(_connection, _log).ApplyAsync([filter], options, ct).ConfigureAwait(false);
                    applied.AddRange(fr.Objects);
                    mutating += fr.MutatingRequests;
                }
            }
        }
        finally
        {
            for (var i = leases.Count - 1; i >= 0; i--) await leases[i].DisposeAsync().ConfigureAwait(false);
        }

        var outputs = new List<LlmInferenceService>();
        foreach (var (ns, name, obj) in services)
        {
            LlmInferenceService state;
            if (options.DryRun)
                state = LlmServiceState.Read(obj, [], null, null, _connection.Name);
            else if (wait is not null)
                state = await WaitAsync(ns, name, wait, ct).ConfigureAwait(false);
            else
                state = await GetAsync(ns, name, ct).ConfigureAwait(false) ?? LlmServiceState.Read(obj, [], null, null, _connection.Name);
            state.MutatingRequests = mutating;
            state.Objects = applied.ToArray();
            state.DryRun = options.DryRun;
            outputs.Add(state);
        }
        return outputs;
    }

    /// <summary>Creates the service namespace (as the deploy's Namespaces phase would) so its deploy lease can be taken.</summary>
    private async Task EnsureNamespaceAsync(List<JsonObject> objects, string ns, KubeApplyOptions options, CancellationToken ct)
    {
        var nsObject = objects.FirstOrDefault(o => o.Str("kind") == "Namespace" && o.Name() == ns) ?? ManifestBuilder.Namespace(ns, null);
        var nsOptions = new KubeApplyOptions
        {
            FieldManager = options.FieldManager, Force = options.Force, Timeout = options.Timeout, PollInterval = options.PollInterval, RetryBaseDelay = options.RetryBaseDelay,
            MaxRetryDelay = options.MaxRetryDelay, MaxRetries = options.MaxRetries, Component = options.Component, Wait = false,
        };
        await new ApplyEngine(_connection, _log).ApplyAsync([nsObject], nsOptions, ct).ConfigureAwait(false);
    }

    /// <summary>Read-only checks before anything is sent: KServe present, the gateway exists.</summary>
    private async Task<List<(string Ns, string Name)>> PreflightAsync(IEnumerable<JsonObject> services, bool willCreate, CancellationToken ct)
    {
        if (await _client.Mapper.FindAsync("serving.kserve.io/v1alpha1", "LLMInferenceService", ct).ConfigureAwait(false) is null)
            throw new RhaiiException("KServeNotInstalled", RhaiiErrorCategory.NotInstalled,
                "The cluster does not serve LLMInferenceService (serving.kserve.io/v1alpha1); nothing was applied.", "Run Install-RhaiiOperators first.");
        var missing = new List<(string, string)>();
        foreach (var svc in services)
        {
            var gwRef = (svc.Arr("spec", "router", "gateway", "refs") ?? []).OfType<JsonObject>().FirstOrDefault();
            if (gwRef is null) continue;
            var gwNs = gwRef.Str("namespace") ?? svc.Namespace() ?? _connection.Namespace;
            var gwName = gwRef.Str("name") ?? "inference-gateway";
            JsonObject? gw = null;
            try { gw = await _client.GetAsync($"apis/gateway.networking.k8s.io/v1/namespaces/{gwNs}/gateways/{gwName}", ct).ConfigureAwait(false); }
            catch (KubeApiException e) when (e.IsResourceNotServed) { }
            if (gw is not null || missing.Contains((gwNs, gwName))) continue;
            missing.Add((gwNs, gwName));
            if (!willCreate)
                _log.Warning($"Gateway {gwNs}/{gwName} does not exist: {svc.Name()} will not become Ready until New-InferenceGateway creates it.");
        }
        return missing;
    }

    /// <summary>
    /// Creates the Gateway a spec names when it does not exist (what New-InferenceGateway does), so that
    /// Install-RhaiiOperators | Deploy-LlmInferenceService works on a fresh cluster. The generated
    /// gateway ServiceAccount gets the registry pull secret Install-RhaiiOperators left in the gateway namespace.
    /// </summary>
    private async Task<InferenceGateway> CreateGatewayAsync(LlmInferenceServiceSpec spec, KubeApplyOptions options, CancellationToken ct)
    {
        string? pull = null;
        foreach (var candidate in new[] { spec.PullSecretName, "rhaii-pull-secret" }.OfType<string>().Distinct())
        {
            var s = await _client.GetAsync($"api/v1/namespaces/{spec.GatewayNamespace}/secrets/{candidate}", ct).ConfigureAwait(false);
            if (s?.Str("type") == "kubernetes.io/dockerconfigjson") { pull = candidate; break; }
        }
        _log.Verbose($"Gateway {spec.GatewayNamespace}/{spec.GatewayName} does not exist; creating it ({spec.GatewayClass}{(pull is null ? "" : ", pull secret " + pull)}).");
        var gwOptions = new KubeApplyOptions
        {
            DryRun = options.DryRun, Timeout = options.Timeout, PollInterval = options.PollInterval, RetryBaseDelay = options.RetryBaseDelay,
            MaxRetryDelay = options.MaxRetryDelay, MaxRetries = options.MaxRetries, FieldManager = options.FieldManager, Force = options.Force, Component = "gateway",
        };
        return await GatewayDeployer.DeployAsync(_connection, spec.GatewayName, spec.GatewayNamespace, spec.GatewayClass, pull, gwOptions, _log, ct).ConfigureAwait(false);
    }

    private static bool NeedsEnvoyFilter(LlmInferenceServiceSpec spec, EnvoyFilterMode mode) => mode switch
    {
        EnvoyFilterMode.Always => true,
        EnvoyFilterMode.Never => false,
        // Only prefix-aware scoring needs the request body at the EPP; the Baseline EPP balances on load alone.
        _ => spec.Pattern == DeploymentPattern.CacheAware && spec.Scheduler && spec.GatewayClass == InferenceGatewayClass.Istio,
    };

    /// <summary>
    /// The body-forwarding EnvoyFilter for the InferencePool rules of the HTTPRoute KServe actually
    /// created (Istio names routes &lt;ns&gt;.&lt;route&gt;.&lt;rule index&gt;); null when there is no route or no pool rule.
    /// </summary>
    private async Task<JsonObject?> EnvoyFilterAsync(LlmInferenceServiceSpec spec, KubeApplyOptions options, CancellationToken ct)
    {
        if (await _client.Mapper.FindAsync("networking.istio.io/v1alpha3", "EnvoyFilter", ct).ConfigureAwait(false) is null)
        {
            _log.Warning("The cluster does not serve networking.istio.io EnvoyFilter; the body-forwarding filter was not added.");
            return null;
        }
        var path = $"apis/gateway.networking.k8s.io/v1/namespaces/{spec.Namespace}/httproutes/{spec.Name}-kserve-route";
        JsonObject? route = null;
        if (!options.DryRun)
        {
            var deadline = Stopwatch.StartNew();
            var limit = options.Timeout < TimeSpan.FromMinutes(2) ? options.Timeout : TimeSpan.FromMinutes(2);
            while (true)
            {
                route = await _client.GetAsync(path, ct).ConfigureAwait(false);
                if (route is not null || deadline.Elapsed > limit) break;
                _log.Progress(options.Component ?? spec.Name, "waiting for KServe to create the HTTPRoute", -1);
                await Task.Delay(options.PollInterval, ct).ConfigureAwait(false);
            }
        }
        if (route is null && !options.DryRun)
        {
            _log.Warning($"KServe has not created HTTPRoute {spec.Namespace}/{spec.Name}-kserve-route yet; the EnvoyFilter was not added (run Deploy-LlmInferenceService again once it exists).");
            return null;
        }
        // -WhatIf before the route exists: KServe's default route sends rules 0 and 1 to the pool
        var rules = route is null ? [0, 1] : PoolRuleIndexes(route);
        if (rules.Count == 0)
        {
            _log.Verbose("The HTTPRoute has no InferencePool rule; no EnvoyFilter needed.");
            return null;
        }
        var filter = ManifestBuilder.BodyForwardingEnvoyFilter(spec, rules);
        Stamp(filter, spec.Name, overwrite: true);
        filter["metadata"]!["labels"]!["rhaiigke.io/service-namespace"] = spec.Namespace;
        return filter;
    }

    /// <summary>Indexes of the rules whose backends are InferencePools (the only ones that reach the EPP).</summary>
    public static IReadOnlyList<int> PoolRuleIndexes(JsonObject route)
    {
        var list = new List<int>();
        var rules = (route.Arr("spec", "rules") ?? []).ToList();
        for (var i = 0; i < rules.Count; i++)
            if ((rules[i].Arr("backendRefs") ?? []).OfType<JsonObject>().Any(b => b.Str("kind") == "InferencePool")) list.Add(i);
        return list;
    }

    // ---------------------------------------------------------------- wait

    /// <summary>Waits until the service is Ready (or, with <paramref name="untilStopped"/>, scaled to zero), reporting each stage.</summary>
    public async Task<LlmInferenceService> WaitAsync(string ns, string name, ServingWaitOptions o, CancellationToken ct, bool untilStopped = false)
    {
        var total = Stopwatch.StartNew();
        var inStage = Stopwatch.StartNew();
        ServingStage? last = null;
        string? lastMessage = null, lastAutoscaler = null;
        var noScaleUp = new Stopwatch();
        var blocked = new Stopwatch();
        var unanswered = new Stopwatch(); // unschedulable with no word from any cluster autoscaler
        var hinted = false;
        var activity = $"{ns}/{name}";
        while (true)
        {
            var obj = await GetServiceObjectAsync(ns, name, ct).ConfigureAwait(false);
            var s = (obj is null ? null : await DescribeAsync(obj, ct).ConfigureAwait(false))
                ?? throw new RhaiiException("LlmInferenceServiceNotFound", RhaiiErrorCategory.ObjectNotFound, $"LLMInferenceService {ns}/{name} was not found.",
                    "Check -Namespace and -Name (Get-LlmInferenceService lists them).", name);
            var current = s.ObservedGeneration >= s.Generation;
            var workloadPods = s.Pods.Count(p => p.Role == "workload");
            if (current && (untilStopped ? s.Stopped && workloadPods == 0 : s.Ready && s.ReadyReplicas == s.Replicas && workloadPods == s.Replicas))
            {
                _log.Progress(activity, untilStopped ? "Stopped" : $"Ready: {s.ReadyReplicas}/{s.Replicas} replicas", 100);
                return s;
            }
            if (s.Stage != last)
            {
                if (last is not null) _log.Verbose($"{activity}: {last} -> {s.Stage} after {inStage.Elapsed.TotalSeconds:0.#} s");
                last = s.Stage;
                inStage.Restart();
            }
            if (s.Message != lastMessage && s.Message is not null) { _log.Verbose($"{activity}: {s.Stage}: {s.Message}"); lastMessage = s.Message; }
            _log.Progress(activity, $"{Describe(s.Stage)} ({s.ReadyReplicas}/{s.Replicas} ready){(s.Message is null ? "" : ": " + s.Message)}", Percent(s.Stage));
            if (!untilStopped && s.Stopped)
                throw new RhaiiException("LlmInferenceServiceStopped", RhaiiErrorCategory.InvalidOperation,
                    $"LLMInferenceService {ns}/{name} is stopped (serving.kserve.io/stop=true) and will not become Ready.", "Resume it with Set-LlmInferenceService -Start.", name);
            // the cluster autoscaler's word on the refused pods: read at most once a round, by whichever check needs it first
            Task<(bool Refused, string? Message)>? verdict = null;
            Task<(bool Refused, string? Message)> Verdict() => verdict ??= AutoscalerVerdictAsync(s, ct);
            if (!untilStopped && await RolloutBlockedAsync(s, o, blocked, activity, Verdict, ct).ConfigureAwait(false) is { } rolloutError) throw rolloutError;
            var limit = o.LimitFor(s.Stage);
            // Unschedulable: the cluster autoscaler's word on the pods decides how long waiting is worth it. A scale-up
            // under way keeps the scheduling limit (TPU nodes take minutes); "won't scale up" (pool at its maximum,
            // nothing fits) or a failed scale-up (stockout, quota) is a failure that gets only the failure grace.
            var (refused, autoscaler) = s.Stage is ServingStage.Unschedulable ? await Verdict().ConfigureAwait(false) : (false, null);
            if (autoscaler is not null && autoscaler != lastAutoscaler)
            {
                _log.Verbose($"{activity}: cluster autoscaler: {autoscaler}");
                _log.Progress(activity, $"{Describe(s.Stage)} ({s.ReadyReplicas}/{s.Replicas} ready): cluster autoscaler: {autoscaler}", Percent(s.Stage));
                lastAutoscaler = autoscaler;
            }
            if (s.Stage is not ServingStage.Unschedulable || autoscaler is not null) unanswered.Reset();
            else if (!unanswered.IsRunning) unanswered.Start();
            if (!hinted && unanswered.Elapsed > (o.FailureGrace < limit / 2 ? o.FailureGrace : limit / 2))
            {
                // A cluster autoscaler answers an unschedulable pod within seconds (TriggeredScaleUp or NotTriggerScaleUp);
                // silence means none watches this cluster's pools, and nothing will add the node the pod waits for.
                hinted = true;
                _log.Warning($"{activity}: no cluster autoscaler has answered for the unschedulable pod(s) in {unanswered.Elapsed.TotalSeconds:0} s. " +
                    $"Without node autoscaling or node auto-provisioning they stay Pending until a node that fits is added, and this wait goes on until -SchedulingTimeout ({limit.TotalSeconds:0} s). " +
                    "Add or resize a node pool that fits (New-TpuCluster, Set-TpuNodePool), enable autoscaling on it, or stop waiting (Ctrl+C) and check Get-RhaiiDiagnosis.");
            }
            if (!refused) noScaleUp.Reset();
            else if (!noScaleUp.IsRunning) noScaleUp.Start();
            if (refused && noScaleUp.Elapsed > o.FailureGrace)
                throw await FailureAsync(s, $"{LowerFirst(Describe(s.Stage))} for {inStage.Elapsed.TotalSeconds:0} s, and the cluster autoscaler will not add a node ({autoscaler})", ct).ConfigureAwait(false);
            if (inStage.Elapsed > limit || total.Elapsed > o.Timeout)
                throw await FailureAsync(s, inStage.Elapsed > limit ? StageTimedOut(s.Stage, inStage.Elapsed, limit) : $"not Ready after {total.Elapsed.TotalSeconds:0} s", ct).ConfigureAwait(false);
            // event-driven: wake up when the service changes (KServe reports every stage in its status), at the latest after a poll interval
            var path = ServicePath(ns, name);
            var outcome = await KubeWatch.WaitForChangeAsync(_client, path[..path.LastIndexOf('/')], name, obj!.Str("metadata", "resourceVersion"), o.PollInterval, null, ct).ConfigureAwait(false);
            if (outcome == KubeWatch.Outcome.Unavailable) await Task.Delay(o.PollInterval, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// An update that cannot progress because the previous revision's pods hold the TPU chips the new pod needs
    /// (<see cref="RolloutBlock"/>): replaced when allowed (<see cref="ServingWaitOptions.ReplaceUnservingPods"/>,
    /// <see cref="ServingWaitOptions.ReplaceServingPods"/>); otherwise, unless the cluster autoscaler is adding a node, an
    /// error once the block has lasted the failure grace (capped by the scheduling limit) instead of the whole timeout.
    /// </summary>
    private async Task<RhaiiException?> RolloutBlockedAsync(LlmInferenceService s, ServingWaitOptions o, Stopwatch blocked, string activity,
        Func<Task<(bool Refused, string? Message)>> autoscalerVerdict, CancellationToken ct)
    {
        if (!s.Pods.Any(p => p.Role == "workload" && p.Stage == ServingStage.Unschedulable)) { blocked.Reset(); return null; }
        var pods = await _client.ListAsync($"api/v1/namespaces/{s.Namespace}/pods", $"app.kubernetes.io/name={s.Name}", ct).ConfigureAwait(false);
        var block = RolloutBlocks.Find((pods.Arr("items") ?? []).OfType<JsonObject>()).FirstOrDefault();
        if (block is null) { blocked.Reset(); return null; }
        if (block.OldPodsServing ? o.ReplaceServingPods : o.ReplaceUnservingPods || o.ReplaceServingPods)
        {
            _log.Warning(block.OldPodsServing
                ? $"{activity}: -Recreate: scaling ReplicaSet(s) {string.Join(", ", block.OldReplicaSets)} of the previous revision to 0 so the new pod gets the TPU chips; the service serves nothing until the new pod is Ready."
                : $"{activity}: the previous revision's pods ({block.HoldersText}) serve nothing and hold the TPU chips the update needs; scaling ReplicaSet(s) {string.Join(", ", block.OldReplicaSets)} to 0 so the new pod can be scheduled.");
            foreach (var rs in block.OldReplicaSets)
            {
                try
                {
                    await _client.SendAsync(HttpMethod.Patch, $"apis/apps/v1/namespaces/{block.Namespace}/replicasets/{rs}?fieldManager=rhaiigke",
                        new JsonObject { ["spec"] = new JsonObject { ["replicas"] = 0 } }, "application/merge-patch+json", ct).ConfigureAwait(false);
                }
                catch (KubeApiException e) when (e.Code == 404) { }
                catch (KubeApiException e) { throw e.ToRhaii($"scaling ReplicaSet {block.Namespace}/{rs} of the previous revision to 0", rs); }
            }
            blocked.Reset();
            return null;
        }
        var (_, autoscaler) = await autoscalerVerdict().ConfigureAwait(false);
        if (autoscaler?.StartsWith("TriggeredScaleUp", StringComparison.Ordinal) == true) { blocked.Reset(); return null; } // a node is coming: the rollout continues
        if (!blocked.IsRunning)
        {
            blocked.Start();
            _log.Verbose($"{activity}: {block.Describe()}.");
            _log.Progress(activity, $"Update blocked: {block.PendingPod} waits for the TPU chips {string.Join(", ", block.Holders.Select(h => h.Pod))} hold{(block.Holders.Count == 1 ? "s" : "")}", -1);
        }
        var grace = o.FailureGrace < o.SchedulingTimeout ? o.FailureGrace : o.SchedulingTimeout;
        if (blocked.Elapsed < grace) return null;
        var message = $"LLMInferenceService {s.Namespace}/{s.Name}: {block.Describe()}. " +
                      (block.OldPodsServing ? "The previous revision keeps serving meanwhile." : "The previous revision's pods serve nothing.") +
                      (autoscaler is null ? "" : $" Cluster autoscaler: {autoscaler}.");
        var fix = block.OldPodsServing ? RolloutBlock.Fix(s.Namespace, s.Name)
            : $"The old pods serve nothing, so replacing them costs no downtime: re-run Deploy-LlmInferenceService or Set-LlmInferenceService with -Wait (they replace them), or {RolloutBlock.Fix(s.Namespace, s.Name)}";
        return new RhaiiException(RolloutBlocks.ErrorId, RhaiiErrorCategory.ResourceUnavailable, message, fix, $"{s.Namespace}/{s.Name}");
    }

    /// <summary>
    /// Why a stage's wait ended: a progress stage ran past its limit (and which parameter raises it), or a failure
    /// (image pull, model download, crash loop, misconfiguration) did not clear within the grace a failure is given.
    /// </summary>
    private static string LowerFirst(string s) => s.Length == 0 ? s : char.ToLowerInvariant(s[0]) + s[1..];

    internal static string StageTimedOut(ServingStage stage, TimeSpan elapsed, TimeSpan limit)
    {
        var secs = $"{elapsed.TotalSeconds:0} s";
        var what = LowerFirst(Describe(stage));
        var parameter = stage switch
        {
            ServingStage.Pending or ServingStage.Unschedulable or ServingStage.Starting => "-SchedulingTimeout",
            ServingStage.DownloadingModel => "-DownloadTimeout",
            ServingStage.Compiling => "-CompileTimeout",
            _ => null,
        };
        return parameter is not null
            ? $"{what} for {secs}, past the {limit.TotalSeconds:0} s limit ({parameter} raises it)"
            : $"{what} for {secs} without clearing (a failure is given {limit.TotalSeconds:0} s to clear before the wait stops)";
    }

    /// <summary>
    /// The cluster autoscaler's latest word on the service's unschedulable workload pods (GKE records it as events from
    /// source cluster-autoscaler): Refused for NotTriggerScaleUp or FailedScaleUp, with the event's message; nothing on a
    /// cluster without an autoscaler.
    /// </summary>
    private async Task<(bool Refused, string? Message)> AutoscalerVerdictAsync(LlmInferenceService s, CancellationToken ct)
    {
        var pods = s.Pods.Where(p => p.Role == "workload" && p.Stage == ServingStage.Unschedulable).Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        if (pods.Count == 0) return (false, null);
        JsonObject list;
        try
        {
            list = await _client.SendAsync(HttpMethod.Get, $"api/v1/namespaces/{s.Namespace}/events?fieldSelector={Uri.EscapeDataString("source=cluster-autoscaler")}", null, null, ct).ConfigureAwait(false);
        }
        catch (KubeApiException e) when (e.Code is 403 or 404) { return (false, null); }
        var latest = (list.Arr("items") ?? []).OfType<JsonObject>()
            .Where(e => e.Str("involvedObject", "kind") == "Pod" && pods.Contains(e.Str("involvedObject", "name") ?? ""))
            .Where(e => e.Str("reason") is "TriggeredScaleUp" or "NotTriggerScaleUp" or "FailedScaleUp")
            .OrderBy(e => e.Str("lastTimestamp") ?? e.Str("eventTime") ?? e.Str("metadata", "creationTimestamp") ?? "", StringComparer.Ordinal)
            .ThenBy(e => long.TryParse(e.Str("metadata", "resourceVersion"), out var rv) ? rv : 0)
            .LastOrDefault();
        if (latest is null) return (false, null);
        return (latest.Str("reason") is "NotTriggerScaleUp" or "FailedScaleUp", $"{latest.Str("reason")}: {latest.Str("message")}");
    }

    private static int Percent(ServingStage s) => s switch
    {
        ServingStage.Pending => 5, ServingStage.Unschedulable => 10, ServingStage.Starting => 25, ServingStage.DownloadingModel => 45,
        ServingStage.Compiling => 75, ServingStage.Ready => 100, _ => -1,
    };

    public static string Describe(ServingStage s) => s switch
    {
        ServingStage.Pending => "Pending",
        ServingStage.Unschedulable => "Refused by TPU scheduling rules",
        ServingStage.Starting => "Pulling image and starting",
        ServingStage.DownloadingModel => "Downloading the model",
        ServingStage.Compiling => "Loading and XLA compilation",
        ServingStage.Ready => "Ready",
        ServingStage.Stopped => "Stopped",
        ServingStage.Stopping => "Stopping",
        ServingStage.ImagePullFailed => "Image pull failing",
        ServingStage.ModelDownloadFailed => "Model download failing",
        ServingStage.CrashLoop => "vLLM crashing",
        ServingStage.Misconfigured => "Misconfigured",
        _ => s.ToString(),
    };

    /// <summary>A failed wait as an error whose fix comes from the diagnosis of the live cluster.</summary>
    private async Task<RhaiiException> FailureAsync(LlmInferenceService s, string what, CancellationToken ct)
    {
        var (id, category) = s.Stage switch
        {
            ServingStage.Unschedulable or ServingStage.Pending => ("LlmInferenceServiceUnschedulable", RhaiiErrorCategory.ResourceUnavailable),
            ServingStage.ImagePullFailed => ("LlmInferenceServiceImagePullFailed", RhaiiErrorCategory.AuthenticationError),
            ServingStage.ModelDownloadFailed => ("LlmInferenceServiceModelDownloadFailed", RhaiiErrorCategory.AuthenticationError),
            ServingStage.CrashLoop => ("LlmInferenceServiceCrashLoop", RhaiiErrorCategory.InvalidResult),
            ServingStage.Misconfigured => ("LlmInferenceServiceMisconfigured", RhaiiErrorCategory.InvalidOperation),
            _ => ("LlmInferenceServiceTimeout", RhaiiErrorCategory.OperationTimeout),
        };
        DiagnosisFinding? finding = null;
        try
        {
            var snapshot = await ClusterSnapshotReader.ReadAsync(_connection, null, ct).ConfigureAwait(false);
            finding = Diagnoser.Run(snapshot)
                .Where(f => f.Severity == FindingSeverity.Error && (f.Namespace == s.Namespace || f.Name == s.Name))
                .OrderBy(f => f.Kind == "Pod" ? 0 : 1).FirstOrDefault();
        }
        catch (Exception e) when (e is not OperationCanceledException) { _log.Debug($"diagnosis after the failed wait could not run: {e.Message}"); }
        var message = $"LLMInferenceService {s.Namespace}/{s.Name}: {what}. {s.Message}".TrimEnd();
        if (finding is not null) message += $" Diagnosis {finding.CheckId}: {finding.Message}";
        var fix = finding?.Fix ?? s.Stage switch
        {
            ServingStage.Unschedulable => "Check the TPU node pool's accelerator, topology and size against the spec (Get-TpuCluster, Get-RhaiiDiagnosis).",
            ServingStage.Compiling => "XLA compilation of a large model can take longer: raise -CompileTimeout; Get-RhaiiDiagnosis checks the startup probe budget.",
            _ => "Get-RhaiiDiagnosis names the cause and the fix.",
        };
        return new RhaiiException(id, category, message, fix, $"{s.Namespace}/{s.Name}");
    }

    // ---------------------------------------------------------------- set

    /// <summary>Changes replicas, the main image, or stops/resumes; sends nothing when already as asked.</summary>
    public async Task<(LlmInferenceService Service, int Mutating)> SetAsync(string ns, string name, int? replicas, string? image, bool? stop, bool dryRun, CancellationToken ct)
    {
        var svc = await GetServiceObjectAsync(ns, name, ct).ConfigureAwait(false)
            ?? throw new RhaiiException("LlmInferenceServiceNotFound", RhaiiErrorCategory.ObjectNotFound, $"LLMInferenceService {ns}/{name} was not found.", "Check -Namespace and -Name.", name);
        var before = _client.MutatingRequests;
        var merge = new JsonObject();
        if (replicas is int r && (svc.Long("spec", "replicas") ?? 1) != r) merge.Ensure("spec")["replicas"] = r;
        if (stop is bool st)
        {
            var isStopped = svc.Annotations().TryGetValue(LlmServiceState.StopAnnotation, out var v) && v == "true";
            if (st != isStopped) merge.Ensure("metadata").Ensure("annotations")[LlmServiceState.StopAnnotation] = st ? "true" : null;
        }
        var ops = new JsonArray();
        if (image is not null)
        {
            var containers = svc.Arr("spec", "template", "containers") ?? [];
            var idx = containers.Select((c, i) => (c, i)).FirstOrDefault(x => x.c.Str("name") == "main").i;
            if (containers.Count == 0)
                throw new RhaiiException("LlmInferenceServiceNoContainer", RhaiiErrorCategory.InvalidOperation,
                    $"{ns}/{name} has no spec.template.containers; its image comes from a preset.", "Set the image in the service's template first (Deploy-LlmInferenceService -Image).", name);
            if (containers[idx].Str("image") != image)
            {
                ops.Add(new JsonObject { ["op"] = "test", ["path"] = $"/spec/template/containers/{idx}/name", ["value"] = containers[idx].Str("name") });
                ops.Add(new JsonObject { ["op"] = "replace", ["path"] = $"/spec/template/containers/{idx}/image", ["value"] = image });
            }
        }
        var path = ServicePath(ns, name) + (dryRun ? "?dryRun=All&fieldManager=rhaiigke-set" : "?fieldManager=rhaiigke-set");
        try
        {
            if (merge.Count > 0) await _client.SendAsync(HttpMethod.Patch, path, merge, "application/merge-patch+json", ct).ConfigureAwait(false);
            if (ops.Count > 0) await _client.SendAsync(HttpMethod.Patch, path, ops, "application/json-patch+json", ct).ConfigureAwait(false);
        }
        catch (KubeApiException e) { throw e.ToRhaii($"changing LLMInferenceService {ns}/{name}", name); }
        var mutating = _client.MutatingRequests - before;
        var state = await GetAsync(ns, name, ct).ConfigureAwait(false);
        return (state!, mutating);
    }

    // ---------------------------------------------------------------- remove

    /// <summary>
    /// Deletes the service (KServe's children follow by owner reference), then what Deploy created for it
    /// (labelled rhaiigke.io/service): policies, route config, ServiceAccount, EnvoyFilter; Secrets only when
    /// asked. The namespace is never deleted (it may hold other services).
    /// </summary>
    public async Task<KubeApplyResult> RemoveAsync(string ns, string name, bool includeSecrets, KubeApplyOptions options, CancellationToken ct)
    {
        JsonObject? svc;
        try { svc = await GetServiceObjectAsync(ns, name, ct).ConfigureAwait(false); }
        catch (RhaiiException e) when (e.ErrorId == "KServeNotInstalled")
        {
            // KServe (and its CRD) is gone, so the service is too; what Deploy created for it is still labelled
            _log.Verbose($"KServe is not installed; removing what remains labelled {ServiceLabel}={name} in {ns}.");
            svc = null;
        }
        var targets = new List<JsonObject>();
        if (svc is not null) targets.Add(Ref("serving.kserve.io/v1alpha1", "LLMInferenceService", ns, name));
        var selector = $"{ServiceLabel}={name}";
        var kinds = new List<(string Path, string ApiVersion, string Kind)>
        {
            ($"apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies", "networking.k8s.io/v1", "NetworkPolicy"),
            ($"apis/serving.kserve.io/v1alpha1/namespaces/{ns}/llminferenceserviceconfigs", "serving.kserve.io/v1alpha1", "LLMInferenceServiceConfig"),
            ($"apis/networking.gke.io/v1/namespaces/{ns}/healthcheckpolicies", "networking.gke.io/v1", "HealthCheckPolicy"),
            ($"api/v1/namespaces/{ns}/serviceaccounts", "v1", "ServiceAccount"),
            ("apis/networking.istio.io/v1alpha3/envoyfilters", "networking.istio.io/v1alpha3", "EnvoyFilter"),
        };
        if (includeSecrets) kinds.Add(($"api/v1/namespaces/{ns}/secrets", "v1", "Secret"));
        foreach (var (path, apiVersion, kind) in kinds)
        {
            JsonObject list;
            try { list = await _client.ListAsync(path, selector, ct).ConfigureAwait(false); }
            catch (KubeApiException e) when (e.IsResourceNotServed || e.Code == 404) { continue; }
            foreach (var item in (list.Arr("items") ?? []).OfType<JsonObject>())
            {
                if (kind == "EnvoyFilter" && item.Labels().TryGetValue("rhaiigke.io/service-namespace", out var sns) && sns != ns) continue;
                targets.Add(Ref(apiVersion, kind, item.Namespace(), item.Name()));
            }
        }
        if (targets.Count == 0)
            throw new RhaiiException("LlmInferenceServiceNotFound", RhaiiErrorCategory.ObjectNotFound, $"LLMInferenceService {ns}/{name} was not found and nothing labelled {selector} remains.",
                "Check -Namespace and -Name (Get-LlmInferenceService lists them).", name);
        options.Component ??= $"{ns}/{name}";
        return await new ApplyEngine(_connection, _log).DeleteAsync(targets, options, ct).ConfigureAwait(false);
    }

    private static JsonObject Ref(string apiVersion, string kind, string? ns, string name)
    {
        var o = ManifestBuilder.Obj(apiVersion, kind, name, ns);
        return o;
    }
}
