using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube.Json;

namespace RhaiiGke.Engine.Kube.Platform;

/// <summary>
/// Installs, inspects and removes RHAII's operators — cert-manager, Istio via sail-operator, LWS and
/// KServe (odh-xks) — with the readiness-gated <see cref="ApplyEngine"/>, one component at a time, in
/// dependency order. Webhooks are never deleted to get past ordering problems: the install waits for
/// them to work (cert-manager's through a server-side dry run, as upstream's dry-run loop does).
/// </summary>
public sealed class PlatformInstaller
{
    /// <summary>Components in install order.</summary>
    public static readonly IReadOnlyList<string> Components = ["cert-manager", "istio", "lws", "kserve"];

    private sealed record ComponentDef(string Name, string Namespace, string Version, (string Ns, string Name)[] Deployments, string[] Crds, (string Kind, string Name)[] Webhooks,
        string DefaultSource, string[] PullSecretNamespaces);

    private static readonly ComponentDef[] Defs =
    [
        new("cert-manager", "cert-manager", "v1.21.1",
            [("cert-manager", "cert-manager"), ("cert-manager", "cert-manager-cainjector"), ("cert-manager", "cert-manager-webhook")],
            ["certificates.cert-manager.io", "certificaterequests.cert-manager.io", "issuers.cert-manager.io", "clusterissuers.cert-manager.io", "orders.acme.cert-manager.io", "challenges.acme.cert-manager.io"],
            [("ValidatingWebhookConfiguration", "cert-manager-webhook"), ("MutatingWebhookConfiguration", "cert-manager-webhook")],
            "https://github.com/cert-manager/cert-manager/releases/download/v1.21.1/cert-manager.yaml", []),
        new("istio", "sail-operator", SandboxBundles.IstioVersion,
            [("sail-operator", "sail-operator"), ("istio-system", "istiod")],
            ["istios.sailoperator.io", "istiorevisions.sailoperator.io", "istiocnis.sailoperator.io", "gatewayclasses.gateway.networking.k8s.io", "gateways.gateway.networking.k8s.io",
             "httproutes.gateway.networking.k8s.io", "inferencepools.inference.networking.k8s.io", "inferencepools.inference.networking.x-k8s.io"],
            [],
            "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.4.0/standard-install.yaml;" +
            "https://github.com/kubernetes-sigs/gateway-api-inference-extension/releases/download/v1.2.0/manifests.yaml;" +
            "https://github.com/kubernetes-sigs/gateway-api-inference-extension/releases/download/v0.5.1/manifests.yaml;" +
            "helm:https://istio-ecosystem.github.io/sail-operator/sail-operator@1.27.3",
            ["sail-operator", "istio-system"]),
        new("lws", "lws-system", "v0.10.0",
            [("lws-system", "lws-controller-manager")], ["leaderworkersets.leaderworkerset.x-k8s.io"],
            [("ValidatingWebhookConfiguration", "lws-validating-webhook-configuration"), ("MutatingWebhookConfiguration", "lws-mutating-webhook-configuration")],
            "https://github.com/kubernetes-sigs/lws/releases/download/v0.10.0/manifests.yaml", []),
        new("kserve", "opendatahub", "release-v0.15",
            [("opendatahub", "llmisvc-controller-manager")], ["llminferenceservices.serving.kserve.io", "llminferenceserviceconfigs.serving.kserve.io"],
            [("ValidatingWebhookConfiguration", "llminferenceservice.serving.kserve.io"), ("ValidatingWebhookConfiguration", "llminferenceserviceconfig.serving.kserve.io")],
            "kustomize:https://github.com/opendatahub-io/kserve//config/overlays/odh-xks?ref=release-v0.15", ["opendatahub"]),
    ];

    /// <summary>The pinned versions and default (upstream) sources.</summary>
    public static IReadOnlyList<RhaiiBomEntry> BillOfMaterials() =>
    [
        new() { Component = "cert-manager", Product = "cert-manager", Version = "v1.21.1", Source = Defs[0].DefaultSource },
        new() { Component = "istio", Product = "Gateway API CRDs (standard)", Version = "v1.4.0", Source = "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.4.0/standard-install.yaml", Notes = "left alone where GKE manages them" },
        new() { Component = "istio", Product = "Inference Extension CRDs (InferencePool v1)", Version = "v1.2.0", Source = "https://github.com/kubernetes-sigs/gateway-api-inference-extension/releases/download/v1.2.0/manifests.yaml" },
        new() { Component = "istio", Product = "Inference Extension CRDs (x-k8s v1alpha2, watched by KServe's EPP)", Version = "v0.5.1", Source = "https://github.com/kubernetes-sigs/gateway-api-inference-extension/releases/download/v0.5.1/manifests.yaml" },
        new() { Component = "istio", Product = "sail-operator (OSSM 3.2.1 upstream)", Version = "1.27.3", Source = "helm:https://istio-ecosystem.github.io/sail-operator/sail-operator@1.27.3", Notes = "needs helm; or pass rendered YAML with -Source" },
        new() { Component = "istio", Product = "Istio", Version = SandboxBundles.IstioVersion, Source = "Istio resource 'default' (namespace istio-system)", Notes = "Istio 1.27 speaks InferencePool x-k8s v1alpha2; 1.28+ only v1" },
        new() { Component = "lws", Product = "LeaderWorkerSet", Version = "v0.10.0", Source = Defs[2].DefaultSource },
        new() { Component = "kserve", Product = "KServe LLMInferenceService (odh-xks overlay)", Version = "release-v0.15", Source = Defs[3].DefaultSource, Notes = "plus the PKI prerequisite (opendatahub CA and ClusterIssuer)" },
    ];

    private readonly ClusterConnection _connection;
    private readonly IRhaiiLog _log;

    public PlatformInstaller(ClusterConnection connection, IRhaiiLog? log = null)
    {
        _connection = connection;
        _log = log ?? NullRhaiiLog.Instance;
    }

    /// <summary>Canonical, ordered component names; throws on unknown names.</summary>
    public static List<string> Normalize(IEnumerable<string>? components)
    {
        var wanted = (components ?? Components).Select(c => c.Trim().ToLowerInvariant() switch
        {
            "certmanager" or "cert-manager" => "cert-manager",
            "istio" or "sail" or "sail-operator" or "ossm" => "istio",
            "lws" or "leaderworkerset" => "lws",
            "kserve" or "llmisvc" => "kserve",
            var other => throw new RhaiiException("UnknownComponent", RhaiiErrorCategory.InvalidArgument, $"'{other}' is not a RHAII component.",
                "Use cert-manager, istio, lws or kserve.", other),
        }).ToHashSet();
        return Components.Where(wanted.Contains).ToList();
    }

    private async Task<bool> IsSandboxAsync(CancellationToken ct)
    {
        if (_connection.IsSandbox) return true;
        try
        {
            var v = await KubeClients.For(_connection).SendAsync(HttpMethod.Get, "/version", null, null, ct).ConfigureAwait(false);
            return v.Bool("rhaiiSandbox") == true;
        }
        catch (Exception e) when (e is KubeApiException or HttpRequestException) { return false; }
    }

    private async Task<(List<JsonObject> Objects, string Source)> LoadAsync(ComponentDef def, RhaiiInstallOptions options, bool sandbox, CancellationToken ct)
    {
        var source = options.Sources.TryGetValue(def.Name, out var s) && !string.IsNullOrWhiteSpace(s) ? s : sandbox ? "sandbox" : def.DefaultSource;
        var objects = await ManifestSources.LoadAsync(def.Name, source, def.Namespace, _log, ct).ConfigureAwait(false);
        if (def.Name == "kserve" && !objects.Any(o => o.Str("kind") == "ClusterIssuer" && o.Name() == "opendatahub-ca-issuer"))
            objects.InsertRange(0, SandboxBundles.KServePki());
        if (def.Name == "kserve" && !objects.Any(o => o.Str("kind") == "Namespace" && o.Name() == "opendatahub"))
            objects.Insert(0, new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Namespace", ["metadata"] = new JsonObject { ["name"] = "opendatahub" } });
        return (objects, source);
    }

    /// <summary>Installs the components in order and returns the platform state with what each install did.</summary>
    public async Task<RhaiiPlatform> InstallAsync(RhaiiInstallOptions options, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var components = Normalize(options.Components);
        var sandbox = await IsSandboxAsync(ct).ConfigureAwait(false);
        var engine = new ApplyEngine(_connection, _log);
        var applied = new Dictionary<string, (KubeApplyResult Result, string Source)>();
        var pullSecretNamespaces = new List<string>();
        for (var i = 0; i < components.Count; i++)
        {
            var def = Defs.First(d => d.Name == components[i]);
            _log.Progress("Install-RhaiiOperators", $"{def.Name}: reading manifests", i * 100 / components.Count);
            var (objects, source) = await LoadAsync(def, options, sandbox, ct).ConfigureAwait(false);
            if (options.PullSecretConfig is not null)
            {
                var extra = i == 0 ? options.PullSecretNamespaces : [];
                pullSecretNamespaces.AddRange(AddPullSecret(objects, def, options, extra));
            }
            // a re-run with fewer inputs keeps the pull secret references that exist (apply would drop the ones we own)
            await CarryPullSecretsAsync(objects, options.RemovePullSecret ? options.PullSecretName : null, ct).ConfigureAwait(false);
            // and keeps KServe's monitoring switch as the user left it (Enable-LlmInferenceServiceMonitoring turns it on)
            if (def.Name == "kserve") await CarryMonitoringSettingAsync(objects, ct).ConfigureAwait(false);
            var apply = Clone(options.Apply, def.Name);
            _log.Progress("Install-RhaiiOperators", $"{def.Name}: applying {objects.Count} objects", i * 100 / components.Count);
            var result = await engine.ApplyAsync(objects, apply, ct).ConfigureAwait(false);
            if (options.RemovePullSecret)
                result = Merge(result, await RemovePullSecretsAsync(engine, def, options, i == 0 ? options.PullSecretNamespaces : [], apply, ct).ConfigureAwait(false));
            KubeClients.For(_connection).ReadRetryMaxDelay = options.Apply.MaxRetryDelay;
            if (apply.Wait && !apply.DryRun && result.Created + result.Configured > 0)
            {
                _log.Progress("Install-RhaiiOperators", $"{def.Name}: checking that it works", i * 100 / components.Count);
                await PostGateAsync(def, apply, ct).ConfigureAwait(false);
            }
            applied[def.Name] = (result, source);
            _log.Verbose($"{def.Name}: {result} in {result.Duration.TotalSeconds:0.0}s ({result.MutatingRequests} mutating requests, {result.Retries} retries)");
        }
        _log.Progress("Install-RhaiiOperators", "done", 100);
        var status = await GetStatusAsync(components, ct).ConfigureAwait(false);
        return With(status, applied, pullSecretNamespaces.Distinct().ToList(), options, sw.Elapsed);
    }

    private static KubeApplyOptions Clone(KubeApplyOptions o, string component) => new()
    {
        FieldManager = o.FieldManager, Force = o.Force, DryRun = o.DryRun, Wait = o.Wait, Timeout = o.Timeout, PollInterval = o.PollInterval,
        MaxRetries = o.MaxRetries, RetryBaseDelay = o.RetryBaseDelay, MaxRetryDelay = o.MaxRetryDelay, Component = component,
        SkipCrds = new HashSet<string>(o.SkipCrds, StringComparer.OrdinalIgnoreCase),
    };

    private static RhaiiPlatform With(RhaiiPlatform status, Dictionary<string, (KubeApplyResult Result, string Source)> applied, List<string> pullNs, RhaiiInstallOptions options, TimeSpan duration) => new()
    {
        Cluster = status.Cluster, Connection = status.Connection, Context = status.Context, IstioVersion = status.IstioVersion, InferencePoolApis = status.InferencePoolApis,
        GatewayInferencePoolApi = status.GatewayInferencePoolApi, GatewayClasses = status.GatewayClasses, GkeManagedCrds = status.GkeManagedCrds,
        Components = status.Components.Select(c => applied.TryGetValue(c.Name, out var a)
            ? new RhaiiComponentStatus
            {
                Name = c.Name, Version = c.Version, State = options.Apply.DryRun ? "WhatIf" : c.State, Message = c.Message, Namespace = c.Namespace, Deployments = c.Deployments,
                Crds = c.Crds, MissingCrds = c.MissingCrds, WebhooksReady = c.WebhooksReady, Source = a.Source, Apply = a.Result,
            }
            : c).ToList(),
        PullSecret = options.PullSecretConfig is null ? null : options.PullSecretName,
        PullSecretNamespaces = pullNs,
        MutatingRequests = applied.Values.Sum(a => a.Result.MutatingRequests),
        Retries = applied.Values.Sum(a => a.Result.Retries),
        Duration = duration,
        DryRun = options.Apply.DryRun,
    };

    /// <summary>Object kinds whose pull secret references the install manages, and where the list lives.</summary>
    private static JsonObject? PullSecretHolder(JsonObject o) => o.Str("kind") switch
    {
        "ServiceAccount" => o,
        "Deployment" or "StatefulSet" or "DaemonSet" => o.Obj("spec", "template", "spec"),
        "Istio" => o.Obj("spec", "values", "global"),
        _ => null,
    };

    /// <summary>
    /// Keeps the imagePullSecrets the live objects have (ServiceAccounts, workloads, Istio's global values) in the
    /// desired objects: server-side apply removes list entries our field manager owns once the manifest omits them,
    /// so a re-run without credentials would otherwise strip the pull secret and roll the operators. Entries named
    /// <paramref name="drop"/> are not kept (-RemovePullSecret).
    /// </summary>
    private async Task CarryPullSecretsAsync(List<JsonObject> objects, string? drop, CancellationToken ct)
    {
        var client = KubeClients.For(_connection);
        foreach (var o in objects)
        {
            if (o.Str("kind") is not ("ServiceAccount" or "Deployment" or "StatefulSet" or "DaemonSet" or "Istio")) continue;
            RestMapper.Mapping? map;
            try { map = await client.Mapper.FindAsync(o.Str("apiVersion") ?? "", o.Str("kind") ?? "", ct).ConfigureAwait(false); }
            catch (KubeApiException) { continue; }
            if (map is null) continue; // its CRD is not installed yet: nothing live to keep
            JsonObject? live;
            try { live = await client.GetAsync(map.Item(map.Namespaced ? o.Namespace() ?? _connection.Namespace : null, o.Name()), ct).ConfigureAwait(false); }
            catch (KubeApiException e) when (e.IsResourceNotServed) { continue; }
            catch (KubeApiException e) { throw e.ToRhaii($"reading {o.Str("kind")} {o.Name()}", o.Name()); }
            if (live is null || PullSecretHolder(live)?["imagePullSecrets"] is not JsonArray have || have.Count == 0) continue;
            var plain = o.Str("kind") == "Istio";
            string? NameOf(JsonNode? n) => plain ? n?.ToString() : n.Str("name");
            var wanted = PullSecretHolder(o)?["imagePullSecrets"] as JsonArray;
            var merged = new JsonArray();
            foreach (var h in have)
                if (NameOf(h) is { } n && n != drop && !merged.Any(m => NameOf(m) == n)) merged.Add(h!.DeepClone());
            foreach (var w in wanted ?? [])
                if (NameOf(w) is { } n && !merged.Any(m => NameOf(m) == n)) merged.Add(w!.DeepClone());
            if (merged.Count > 0)
            {
                var holder = o.Str("kind") switch
                {
                    "Istio" => o.Ensure("spec").Ensure("values").Ensure("global"),
                    _ => PullSecretHolder(o),
                };
                if (holder is not null) holder["imagePullSecrets"] = merged;
            }
            else PullSecretHolder(o)?.Remove("imagePullSecrets");
        }
    }

    /// <summary>
    /// Keeps the live value of the KServe controller's <c>LLMISVC_MONITORING_DISABLED</c> in the desired Deployment:
    /// the odh-xks overlay (and the sandbox bundle) set it to true, Enable-LlmInferenceServiceMonitoring sets it to
    /// false, and a re-run of Install-RhaiiOperators must converge without turning monitoring off again.
    /// </summary>
    private async Task CarryMonitoringSettingAsync(List<JsonObject> objects, CancellationToken ct)
    {
        const string env = "LLMISVC_MONITORING_DISABLED";
        var client = KubeClients.For(_connection);
        foreach (var o in objects.Where(o => o.Str("kind") == "Deployment"))
        {
            var containers = o.Arr("spec", "template", "spec", "containers")?.OfType<JsonObject>().ToList() ?? [];
            if (!containers.Any(c => c.Arr("env")?.Any(e => e.Str("name") == env) == true)) continue;
            JsonObject? live;
            try { live = await client.GetAsync($"/apis/apps/v1/namespaces/{Uri.EscapeDataString(o.Namespace() ?? _connection.Namespace)}/deployments/{Uri.EscapeDataString(o.Name())}", ct).ConfigureAwait(false); }
            catch (KubeApiException e) { throw e.ToRhaii($"reading Deployment {o.Name()}", o.Name()); }
            if (live is null) continue;
            foreach (var c in containers)
            {
                var wanted = c.Arr("env")?.OfType<JsonObject>().FirstOrDefault(e => e.Str("name") == env);
                var have = live.Arr("spec", "template", "spec", "containers")?.FirstOrDefault(x => x.Str("name") == c.Str("name"))
                    ?.Arr("env")?.FirstOrDefault(e => e.Str("name") == env)?.Str("value");
                if (wanted is null || have is null || have == wanted.Str("value")) continue;
                _log.Verbose($"Keeping {env}={have} on Deployment {o.Namespace()}/{o.Name()} (the manifest says {wanted.Str("value")}; Enable-LlmInferenceServiceMonitoring changes it).");
                wanted["value"] = have;
            }
        }
    }

    /// <summary>-RemovePullSecret: deletes the pull Secrets this install created (by name and managed-by label) from the component's namespaces.</summary>
    private async Task<KubeApplyResult> RemovePullSecretsAsync(ApplyEngine engine, ComponentDef def, RhaiiInstallOptions options, IList<string> extraNamespaces, KubeApplyOptions apply, CancellationToken ct)
    {
        var client = KubeClients.For(_connection);
        var ours = new List<JsonObject>();
        foreach (var ns in def.PullSecretNamespaces.Concat(extraNamespaces).Distinct())
        {
            var live = await client.GetAsync($"/api/v1/namespaces/{Uri.EscapeDataString(ns)}/secrets/{Uri.EscapeDataString(options.PullSecretName)}", ct).ConfigureAwait(false);
            if (live is null) continue;
            if (!live.Labels().TryGetValue("app.kubernetes.io/managed-by", out var by) || by != "rhaiigke")
            {
                _log.Warning($"Secret {ns}/{options.PullSecretName} was not created by Install-RhaiiOperators (no app.kubernetes.io/managed-by=rhaiigke label); left alone.");
                continue;
            }
            ours.Add(new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Secret", ["metadata"] = new JsonObject { ["name"] = options.PullSecretName, ["namespace"] = ns } });
        }
        return await engine.DeleteAsync(ours, apply, ct).ConfigureAwait(false);
    }

    private static KubeApplyResult Merge(KubeApplyResult a, KubeApplyResult b) => new()
    {
        Component = a.Component, Objects = a.Objects.Concat(b.Objects).ToList(), DryRun = a.DryRun, MutatingRequests = a.MutatingRequests + b.MutatingRequests,
        Retries = a.Retries + b.Retries, TransientErrors = a.TransientErrors.Concat(b.TransientErrors).GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => g.Sum(kv => kv.Value)),
        Duration = a.Duration + b.Duration,
    };

    /// <summary>Adds the pull secret to the component's namespaces and wires it into its ServiceAccounts, pods and Istio values.</summary>
    private static IEnumerable<string> AddPullSecret(List<JsonObject> objects, ComponentDef def, RhaiiInstallOptions options, IList<string> extraNamespaces)
    {
        var config = KubeClient.SecureToString(options.PullSecretConfig!);
        var name = options.PullSecretName;
        var namespaces = def.PullSecretNamespaces.Concat(extraNamespaces).Distinct().ToList();
        // namespaces named only by -PullSecretNamespace may not exist yet: create them (applied first, in the Namespaces phase)
        foreach (var ns in extraNamespaces.Distinct().Where(n => !objects.Any(o => o.Str("kind") == "Namespace" && o.Name() == n)))
            objects.Add(new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Namespace", ["metadata"] = new JsonObject { ["name"] = ns } });
        foreach (var ns in namespaces)
            objects.Add(new JsonObject
            {
                ["apiVersion"] = "v1", ["kind"] = "Secret", ["type"] = "kubernetes.io/dockerconfigjson",
                ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns, ["labels"] = new JsonObject { ["app.kubernetes.io/managed-by"] = "rhaiigke" } },
                ["data"] = new JsonObject { [".dockerconfigjson"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(config)) },
            });
        var set = namespaces.ToHashSet();
        foreach (var o in objects)
        {
            var kind = o.Str("kind");
            if (kind == "ServiceAccount" && set.Contains(o.Namespace() ?? ""))
                AddRef(o, "imagePullSecrets", name);
            else if (kind is "Deployment" or "StatefulSet" or "DaemonSet" && set.Contains(o.Namespace() ?? "") && o.Obj("spec", "template", "spec") is { } ps)
                AddRef(ps, "imagePullSecrets", name);
            else if (kind == "Istio")
            {
                var global = o.Ensure("spec").Ensure("values").Ensure("global");
                AddRef(global, "imagePullSecrets", name, plain: true);
            }
        }
        return namespaces;
    }

    private static void AddRef(JsonObject target, string field, string name, bool plain = false)
    {
        if (target[field] is not JsonArray arr) { arr = new JsonArray(); target[field] = arr; }
        if (arr.Any(x => (plain ? x?.ToString() : x.Str("name")) == name)) return;
        arr.Add(plain ? JsonValue.Create(name) : new JsonObject { ["name"] = name });
    }

    /// <summary>Checks that a component works, beyond its objects being ready.</summary>
    private async Task PostGateAsync(ComponentDef def, KubeApplyOptions options, CancellationToken ct)
    {
        var client = KubeClients.For(_connection);
        (string Path, JsonObject Body)? probe = def.Name switch
        {
            // upstream's "dry-run loop": the webhook must admit a real request, which needs endpoints and the injected CA
            "cert-manager" => ("/apis/cert-manager.io/v1/namespaces/cert-manager/issuers?dryRun=All", new JsonObject
            {
                ["apiVersion"] = "cert-manager.io/v1", ["kind"] = "Issuer", ["metadata"] = new JsonObject { ["name"] = "rhaiigke-webhook-probe", ["namespace"] = "cert-manager" },
                ["spec"] = new JsonObject { ["selfSigned"] = new JsonObject() },
            }),
            "kserve" => ("/apis/serving.kserve.io/v1alpha1/namespaces/opendatahub/llminferenceserviceconfigs?dryRun=All", new JsonObject
            {
                ["apiVersion"] = "serving.kserve.io/v1alpha1", ["kind"] = "LLMInferenceServiceConfig", ["metadata"] = new JsonObject { ["name"] = "rhaiigke-webhook-probe", ["namespace"] = "opendatahub" },
                ["spec"] = new JsonObject(),
            }),
            _ => null,
        };
        var deadline = DateTime.UtcNow + options.Timeout;
        if (probe is { } p)
        {
            while (true)
            {
                try
                {
                    await client.SendAsync(HttpMethod.Post, p.Path, p.Body, "application/json", ct).ConfigureAwait(false);
                    return;
                }
                catch (KubeApiException e) when (e.IsTransient && DateTime.UtcNow < deadline)
                {
                    _log.Progress("Install-RhaiiOperators", $"{def.Name}: webhook not admitting requests yet: {e.Message}", -1);
                    await Task.Delay(options.PollInterval, ct).ConfigureAwait(false);
                }
                catch (KubeApiException e) when (e.IsTransient)
                {
                    throw new RhaiiException("ComponentNotReady", RhaiiErrorCategory.OperationTimeout,
                        $"{def.Name}: timed out after {options.Timeout} waiting for its admission webhook to admit a dry-run request: {e.Message}",
                        "The webhook's Deployment must be Available and its CA injected by cert-manager's cainjector; check those pods, or raise -Timeout.", def.Name, e);
                }
                catch (KubeApiException e) { throw e.ToRhaii($"{def.Name}: webhook dry-run probe", def.Name); }
            }
        }
        if (def.Name == "istio")
        {
            while (true)
            {
                var gc = await client.GetAsync("/apis/gateway.networking.k8s.io/v1/gatewayclasses/istio", ct).ConfigureAwait(false);
                if (gc is not null && Readiness.Condition(gc, "Accepted")?.Str("status") == "True") return;
                if (DateTime.UtcNow >= deadline)
                    throw new RhaiiException("ComponentNotReady", RhaiiErrorCategory.OperationTimeout,
                        $"istio: timed out after {options.Timeout} waiting for GatewayClass istio to be Accepted ({(gc is null ? "it does not exist: istiod creates it once it runs" : "condition Accepted is not True")})",
                        "Check the istiod Deployment in istio-system and the Istio resource 'default'.", "istio");
                await Task.Delay(options.PollInterval, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>What is installed and whether it works, per component.</summary>
    public async Task<RhaiiPlatform> GetStatusAsync(IEnumerable<string>? components, CancellationToken ct)
    {
        var client = KubeClients.For(_connection);
        var list = new List<RhaiiComponentStatus>();
        var gkeManaged = new List<string>();
        string? istioVersion = null;
        try
        {
            foreach (var name in Normalize(components))
            {
                var def = Defs.First(d => d.Name == name);
                var problems = new List<string>();
                var deployments = new List<string>();
                var anyPresent = false;
                foreach (var (ns, dn) in def.Deployments)
                {
                    var d = await client.GetAsync($"/apis/apps/v1/namespaces/{ns}/deployments/{dn}", ct).ConfigureAwait(false);
                    if (d is null) { problems.Add($"Deployment {ns}/{dn} is missing"); deployments.Add($"{ns}/{dn} missing"); continue; }
                    anyPresent = true;
                    var state = await Readiness.CheckAsync(client, d, ct).ConfigureAwait(false);
                    deployments.Add($"{ns}/{dn} {d.Long("status", "readyReplicas") ?? 0}/{d.Long("spec", "replicas") ?? 1}");
                    if (!state.Ready) problems.Add($"Deployment {ns}/{dn}: {state.Why}");
                }
                var crds = new List<string>();
                var missing = new List<string>();
                foreach (var crdName in def.Crds)
                {
                    var crd = await client.GetAsync($"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crdName}", ct).ConfigureAwait(false);
                    if (crd is null) { missing.Add(crdName); continue; }
                    if (ApplyEngine.IsGkeManaged(crd)) gkeManaged.Add(crdName);
                    else anyPresent = true;
                    var versions = (crd.Arr("spec", "versions") ?? []).Where(v => v.Bool("served") != false).Select(v => v.Str("name"));
                    crds.Add($"{crdName}@{string.Join(",", versions)}");
                    if (Readiness.Condition(crd, "Established")?.Str("status") != "True") problems.Add($"CRD {crdName} is not Established");
                }
                if (missing.Count > 0) problems.Add("missing CRDs: " + string.Join(", ", missing));
                bool? webhooksReady = def.Webhooks.Length == 0 ? null : true;
                foreach (var (kind, wn) in def.Webhooks)
                {
                    var cfg = await client.GetAsync($"/apis/admissionregistration.k8s.io/v1/{kind.ToLowerInvariant()}s/{wn}", ct).ConfigureAwait(false);
                    if (cfg is null) { webhooksReady = false; problems.Add($"{kind} {wn} is missing"); continue; }
                    var state = await Readiness.CheckAsync(client, cfg, ct).ConfigureAwait(false);
                    if (!state.Ready) { webhooksReady = false; problems.Add($"{kind} {wn}: {state.Why}"); }
                }
                var version = def.Version;
                if (name == "istio")
                {
                    var istio = await SafeGetAsync(client, "/apis/sailoperator.io/v1/istios/default", ct).ConfigureAwait(false);
                    if (istio is null) { if (anyPresent) problems.Add("Istio resource 'default' is missing"); }
                    else
                    {
                        istioVersion = istio.Str("spec", "version");
                        version = istioVersion ?? version;
                        var st = await Readiness.CheckAsync(client, istio, ct).ConfigureAwait(false);
                        if (!st.Ready) problems.Add($"Istio default: {st.Why}");
                    }
                }
                if (name == "kserve" && anyPresent)
                {
                    var presets = await SafeListAsync(client, "/apis/serving.kserve.io/v1alpha1/namespaces/opendatahub/llminferenceserviceconfigs", ct).ConfigureAwait(false);
                    var have = presets.Select(p => p.Name()).ToHashSet();
                    if (!have.Contains("kserve-config-llm-template")) problems.Add("LLMInferenceServiceConfig opendatahub/kserve-config-llm-template is missing (every LLMInferenceService would fail PresetsCombined)");
                }
                var stateName = !anyPresent ? "NotInstalled" : problems.Count == 0 ? "Ready" : "NotReady";
                list.Add(new RhaiiComponentStatus
                {
                    Name = name, Version = version, State = stateName, Namespace = def.Namespace, Deployments = deployments, Crds = crds, MissingCrds = missing,
                    WebhooksReady = anyPresent ? webhooksReady : null, Message = stateName == "NotInstalled" ? "not installed" : problems.Count == 0 ? null : string.Join("; ", problems),
                });
            }
            var pools = new List<string>();
            foreach (var gv in new[] { "inference.networking.k8s.io/v1", "inference.networking.x-k8s.io/v1alpha2" })
            {
                var m = await client.Mapper.FindAsync(gv, "InferencePool", ct, refresh: true).ConfigureAwait(false);
                if (m is not null) pools.Add(gv);
            }
            var classes = new List<string>();
            foreach (var gc in await SafeListAsync(client, "/apis/gateway.networking.k8s.io/v1/gatewayclasses", ct).ConfigureAwait(false))
                classes.Add($"{gc.Name()} ({(Readiness.Condition(gc, "Accepted")?.Str("status") == "True" ? "Accepted" : "not accepted")})");
            return new RhaiiPlatform
            {
                Cluster = _connection.Server, Connection = _connection, Context = _connection.Context, Components = list, IstioVersion = istioVersion,
                InferencePoolApis = pools, GatewayInferencePoolApi = GatewayPoolApi(istioVersion), GatewayClasses = classes, GkeManagedCrds = gkeManaged.Distinct().ToList(),
            };
        }
        catch (KubeApiException e) { throw e.ToRhaii("reading the operator status", _connection.Server); }
        catch (KubeTransportException e) { throw e.ToRhaii("reading the operator status", _connection.Server); }
        catch (HttpRequestException e)
        {
            throw new RhaiiException("ClusterUnreachable", RhaiiErrorCategory.ConnectionError, $"Cannot reach the Kubernetes API at {_connection.Server}: {e.Message}",
                "Check the connection (Connect-RhaiiCluster) and the network.", _connection.Server, e);
        }
    }

    /// <summary>Istio 1.27 implements InferencePool x-k8s v1alpha2; 1.28 and later only v1 (istio/istio#57219).</summary>
    public static string? GatewayPoolApi(string? istioVersion)
    {
        if (istioVersion is null) return null;
        var m = System.Text.RegularExpressions.Regex.Match(istioVersion, @"v?(\d+)\.(\d+)");
        if (!m.Success) return null;
        var (major, minor) = (int.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value));
        return major > 1 || minor >= 28 ? "inference.networking.k8s.io/v1" : "inference.networking.x-k8s.io/v1alpha2";
    }

    private static async Task<JsonObject?> SafeGetAsync(KubeClient client, string path, CancellationToken ct)
    {
        try { return await client.GetAsync(path, ct).ConfigureAwait(false); }
        catch (KubeApiException e) when (e.IsResourceNotServed) { return null; }
    }

    private static async Task<List<JsonObject>> SafeListAsync(KubeClient client, string path, CancellationToken ct)
    {
        try { return (await client.ListAsync(path, null, ct).ConfigureAwait(false)).Arr("items")?.OfType<JsonObject>().ToList() ?? []; }
        catch (KubeApiException e) when (e.Code == 404) { return []; }
    }

    /// <summary>
    /// The LLMInferenceServices still deployed. Without <see cref="RhaiiInstallOptions.RemoveServices"/> (or KeepCrds, which
    /// leaves them and their CRD in place) any of them stops the uninstall before anything changes: removing the operators under them would leave their ServiceAccounts, policies and
    /// Secrets behind with no controller (and no CRD) left to remove them.
    /// </summary>
    private async Task<List<(string Ns, string Name)>> ServicesLeftAsync(RhaiiInstallOptions options, CancellationToken ct)
    {
        var client = KubeClients.For(_connection);
        JsonObject list;
        try
        {
            if (await client.Mapper.FindAsync("serving.kserve.io/v1alpha1", "LLMInferenceService", ct, refresh: true).ConfigureAwait(false) is null) return [];
            list = await client.ListAsync($"{Serving.LlmServiceManager.ApiPath}/llminferenceservices", null, ct).ConfigureAwait(false);
        }
        catch (KubeApiException e) when (e.IsResourceNotServed) { return []; }
        catch (KubeApiException e) { throw e.ToRhaii("listing LLMInferenceServices before uninstalling", _connection.Server); }
        var services = (list.Arr("items") ?? []).OfType<JsonObject>().Select(s => (Ns: s.Namespace() ?? "default", Name: s.Name())).OrderBy(s => s.Ns).ThenBy(s => s.Name).ToList();
        if (services.Count > 0 && !options.RemoveServices && options.KeepCrds)
        {
            // -KeepCrds (e.g. reinstalling KServe): the services and their CRD stay, so Remove-LlmInferenceService can still find them
            _log.Warning($"LLMInferenceServices stay deployed with their CRD (-KeepCrds) but without operators: {string.Join(", ", services.Select(s => s.Ns + "/" + s.Name))}.");
            return [];
        }
        if (services.Count > 0 && !options.RemoveServices)
            throw new RhaiiException("LlmInferenceServicesExist", RhaiiErrorCategory.InvalidOperation,
                $"{services.Count} LLMInferenceService(s) still deployed: {string.Join(", ", services.Select(s => s.Ns + "/" + s.Name))}. Uninstalling the operators under them would leave their ServiceAccounts, NetworkPolicies and Secrets behind; nothing was changed.",
                "Remove them first (Get-LlmInferenceService | Remove-LlmInferenceService -IncludeSecrets), or pass -Force to have Uninstall-RhaiiOperators remove them, and what Deploy-LlmInferenceService created for them, before the operators.",
                services.Select(s => s.Ns + "/" + s.Name).ToArray());
        return services;
    }

    /// <summary>Removes the components in reverse order (custom resources first, CRDs last), sparing GKE-managed CRDs.</summary>
    public async Task<RhaiiPlatform> UninstallAsync(RhaiiInstallOptions options, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var components = Normalize(options.Components);
        var services = await ServicesLeftAsync(options, ct).ConfigureAwait(false);
        var sandbox = await IsSandboxAsync(ct).ConfigureAwait(false);
        var engine = new ApplyEngine(_connection, _log);
        var done = new Dictionary<string, (KubeApplyResult, string)>();
        var reversed = Enumerable.Reverse(components).ToList();
        if (services.Count > 0)
        {
            // -Force: the services go first, while KServe still runs to finalize them, with what Deploy made for them
            var removed = new List<KubeApplyResult>();
            var manager = new Serving.LlmServiceManager(_connection, _log);
            foreach (var (ns, name) in services)
            {
                _log.Progress("Uninstall-RhaiiOperators", $"removing LLMInferenceService {ns}/{name}", 0);
                var svcOptions = Clone(options.Apply, $"{ns}/{name}");
                removed.Add(await manager.RemoveAsync(ns, name, includeSecrets: true, svcOptions, ct).ConfigureAwait(false));
            }
            var all = removed.Aggregate(Merge);
            done["llminferenceservices"] = (new KubeApplyResult
            {
                Component = "llminferenceservices", Objects = all.Objects, DryRun = all.DryRun, MutatingRequests = all.MutatingRequests, Retries = all.Retries,
                TransientErrors = all.TransientErrors, Duration = all.Duration,
            }, "");
        }
        for (var i = 0; i < reversed.Count; i++)
        {
            var def = Defs.First(d => d.Name == reversed[i]);
            _log.Progress("Uninstall-RhaiiOperators", $"{def.Name}: removing", i * 100 / reversed.Count);
            var (objects, source) = await LoadAsync(def, options, sandbox, ct).ConfigureAwait(false);
            var apply = Clone(options.Apply, def.Name);
            if (options.KeepCrds)
                foreach (var crd in objects.Where(o => o.Str("kind") == "CustomResourceDefinition")) apply.SkipCrds.Add(crd.Name());
            var result = await engine.DeleteAsync(objects, apply, ct).ConfigureAwait(false);
            done[def.Name] = (result, source);
        }
        var status = await GetStatusAsync(components, ct).ConfigureAwait(false);
        var platform = With(status, done, [], options, sw.Elapsed);
        return platform;
    }
}
