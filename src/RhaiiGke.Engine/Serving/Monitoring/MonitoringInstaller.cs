using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Engine.Kube.Json;

namespace RhaiiGke.Engine.Serving.Monitoring;

/// <summary>Files Enable-LlmInferenceServiceMonitoring writes besides what it applies.</summary>
public sealed record MonitoringFiles(string? DashboardPath = null, string? RulesPath = null, string? ScrapeConfigPath = null, string? SecretsDirectory = null);

/// <summary>
/// Sets up monitoring for one LLMInferenceService: finds the monitoring stack the cluster serves, applies the
/// scrape targets and alert rules through the apply engine (so a re-run with nothing changed sends nothing and
/// -WhatIf is a server-side dry run), turns KServe's own LLMInferenceService monitoring on where it can work, and
/// writes the dashboard, rule file and scrape configuration.
/// </summary>
public static class MonitoringInstaller
{
    public const string MonitoringEnv = "LLMISVC_MONITORING_DISABLED";
    public const string ControllerFieldManager = "rhaiigke-monitoring";
    private static readonly string[] ControllerNames = ["kserve-controller-manager", "llmisvc-controller-manager"];

    public sealed record StackSupport(bool ManagedPodMonitoring, bool ManagedRules, bool OperatorPodMonitor, bool OperatorServiceMonitor, bool OperatorRules)
    {
        public bool Managed => ManagedPodMonitoring && ManagedRules;
        public bool Operator => OperatorPodMonitor && OperatorRules;
    }

    public static void Validate(MonitoringThresholds t)
    {
        void Bad(string what, string fix) => throw new RhaiiException("MonitoringThresholdInvalid", RhaiiErrorCategory.InvalidArgument, what + "; nothing was applied.", fix);
        if (!(t.TtftP99Seconds > 0) || double.IsInfinity(t.TtftP99Seconds)) Bad($"The TTFT p99 threshold must be a positive number of seconds, not {t.TtftP99Seconds}", "Pass -TtftP99Threshold 2 (seconds).");
        if (!(t.QueueDepth >= 0) || double.IsInfinity(t.QueueDepth)) Bad($"The queue-depth threshold must be zero or more, not {t.QueueDepth}", "Pass -QueueDepthThreshold 10.");
        if (!(t.KvCacheUsage > 0 && t.KvCacheUsage < 1)) Bad($"The KV-cache threshold is a fraction between 0 and 1 (vllm:kv_cache_usage_perc), not {t.KvCacheUsage}", "Pass -KvCacheUsageThreshold 0.9 for 90%.");
        if (t.Restarts < 1) Bad($"The restart threshold must be at least 1, not {t.Restarts}", "Pass -RestartThreshold 1.");
        if (!(t.Gateway5xxRatio > 0 && t.Gateway5xxRatio < 1)) Bad($"The gateway 5xx threshold is a fraction between 0 and 1, not {t.Gateway5xxRatio}", "Pass -Gateway5xxThreshold 0.05 for 5%.");
        if (t.For < TimeSpan.Zero) Bad($"-AlertFor cannot be negative ({t.For})", "Pass -AlertFor 00:05:00.");
    }

    /// <summary>Which monitoring kinds the cluster serves.</summary>
    public static async Task<StackSupport> DetectAsync(ClusterConnection connection, CancellationToken ct)
    {
        var mapper = KubeClients.For(connection).Mapper;
        async Task<bool> Served(string apiVersion, string kind)
        {
            try { return await mapper.FindAsync(apiVersion, kind, ct, refresh: true).ConfigureAwait(false) is not null; }
            catch (KubeApiException e) when (e.IsResourceNotServed) { return false; }
        }
        return new StackSupport(
            await Served(MonitoringBuilder.ManagedApiVersion, "PodMonitoring").ConfigureAwait(false),
            await Served(MonitoringBuilder.ManagedApiVersion, "Rules").ConfigureAwait(false),
            await Served(MonitoringBuilder.OperatorApiVersion, "PodMonitor").ConfigureAwait(false),
            await Served(MonitoringBuilder.OperatorApiVersion, "ServiceMonitor").ConfigureAwait(false),
            await Served(MonitoringBuilder.OperatorApiVersion, "PrometheusRule").ConfigureAwait(false));
    }

    public static MonitoringBackend Resolve(MonitoringBackend wanted, StackSupport s)
    {
        const string managedFix = "On GKE, turn Managed Service for Prometheus on (gcloud container clusters update <cluster> --enable-managed-prometheus; on by default since GKE 1.27), or install the Prometheus Operator (kube-prometheus-stack) and pass -Backend PrometheusOperator.";
        const string operatorFix = "Install the Prometheus Operator CRDs (helm install kube-prometheus-stack prometheus-community/kube-prometheus-stack -n monitoring --create-namespace), or use -Backend ManagedPrometheus on GKE.";
        switch (wanted)
        {
            case MonitoringBackend.ManagedPrometheus when !s.Managed:
                throw new RhaiiException("ManagedPrometheusNotInstalled", RhaiiErrorCategory.NotInstalled,
                    "The cluster does not serve monitoring.googleapis.com/v1 PodMonitoring and Rules (Google Cloud Managed Service for Prometheus); nothing was applied.", managedFix);
            case MonitoringBackend.PrometheusOperator when !s.Operator:
                throw new RhaiiException("PrometheusOperatorNotInstalled", RhaiiErrorCategory.NotInstalled,
                    "The cluster does not serve monitoring.coreos.com/v1 PodMonitor and PrometheusRule (the Prometheus Operator); nothing was applied.", operatorFix);
            case MonitoringBackend.Auto:
                if (s.Managed) return MonitoringBackend.ManagedPrometheus;
                if (s.Operator) return MonitoringBackend.PrometheusOperator;
                throw new RhaiiException("MonitoringCrdsNotInstalled", RhaiiErrorCategory.NotInstalled,
                    "The cluster serves neither Managed Service for Prometheus (monitoring.googleapis.com/v1 PodMonitoring, Rules) nor the Prometheus Operator (monitoring.coreos.com/v1 PodMonitor, PrometheusRule), so nothing would scrape the service; nothing was applied.",
                    managedFix + " Or: " + operatorFix);
            default:
                return wanted;
        }
    }

    public static async Task<LlmInferenceServiceMonitoring> EnableAsync(ClusterConnection connection, MonitoringPlan plan, MonitoringBackend wanted,
        bool enableKServeMonitoring, string kserveNamespace, MonitoringFiles files, KubeApplyOptions options, IRhaiiLog? log, CancellationToken ct)
    {
        log ??= NullRhaiiLog.Instance;
        Validate(plan.Thresholds);
        foreach (var path in new[] { files.DashboardPath, files.RulesPath, files.ScrapeConfigPath }.OfType<string>())
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(path));
            if (Directory.Exists(path) || dir is { Length: > 0 } && !Directory.Exists(dir))
                throw new RhaiiException("MonitoringPathInvalid", RhaiiErrorCategory.InvalidArgument,
                    Directory.Exists(path) ? $"{path} is a folder; give a file name; nothing was applied." : $"The folder of {path} does not exist; nothing was applied.",
                    "Pass a file path in an existing folder, e.g. ./vllm-dashboard.json.", path);
        }
        var client = KubeClients.For(connection);
        const string activity = "Enable-LlmInferenceServiceMonitoring";
        log.Progress(activity, $"Checking {plan.Namespace}/{plan.Name} and the monitoring stack", 5);

        try
        {
            // the service must exist: monitoring objects for a typo would scrape nothing and alert on nothing
            JsonObject? svc;
            try { svc = await client.GetAsync($"apis/serving.kserve.io/v1alpha1/namespaces/{Uri.EscapeDataString(plan.Namespace)}/llminferenceservices/{Uri.EscapeDataString(plan.Name)}", ct).ConfigureAwait(false); }
            catch (KubeApiException e) when (e.IsResourceNotServed)
            {
                throw new RhaiiException("KServeNotInstalled", RhaiiErrorCategory.NotInstalled,
                    "The cluster does not serve serving.kserve.io/v1alpha1 LLMInferenceService; nothing was applied.", "Run Install-RhaiiOperators first.", plan.Name, e);
            }
            if (svc is null)
                throw new RhaiiException("LlmInferenceServiceNotFound", RhaiiErrorCategory.ObjectNotFound,
                    $"LLMInferenceService {plan.Namespace}/{plan.Name} does not exist; nothing was applied.",
                    "Check -Name and -Namespace (Get-LlmInferenceService lists them), or deploy it first with Deploy-LlmInferenceService.", plan.Name);

            var support = await DetectAsync(connection, ct).ConfigureAwait(false);
            var backend = Resolve(wanted, support);

            // the gateway: only an Istio gateway has proxies whose istio_requests_total can be scraped
            var notes = new List<string>();
            if (plan.GatewayName is not null)
            {
                JsonObject? gw = null;
                try { gw = await client.GetAsync($"apis/gateway.networking.k8s.io/v1/namespaces/{Uri.EscapeDataString(plan.GatewayNamespace)}/gateways/{Uri.EscapeDataString(plan.GatewayName)}", ct).ConfigureAwait(false); }
                catch (KubeApiException e) when (e.IsResourceNotServed) { }
                if (gw is null)
                {
                    log.Warning($"Gateway {plan.GatewayNamespace}/{plan.GatewayName} does not exist, so there is no gateway to scrape and no 5xx alert; create it with New-InferenceGateway and run this again.");
                    plan = plan with { GatewayName = null };
                }
                else if (gw.Str("spec", "gatewayClassName") is { } cls && cls != "istio")
                {
                    log.Warning($"Gateway {plan.GatewayNamespace}/{plan.GatewayName} is of class {cls}: a GKE-managed load balancer reports its 5xx to Cloud Monitoring (loadbalancing.googleapis.com/https/request_count), not to Prometheus, so no gateway scrape or 5xx rule is generated; alert on that metric in Cloud Monitoring.");
                    plan = plan with { GatewayName = null };
                }
            }

            var objects = MonitoringBuilder.Build(plan, backend);
            log.Progress(activity, $"Applying {objects.Count} monitoring object(s) for {backend}", 30);
            options.Component ??= "monitoring";
            var result = await new ApplyEngine(connection, log).ApplyAsync(objects, options, ct).ConfigureAwait(false);
            var applied = result.Objects.ToList();
            var mutating = result.MutatingRequests;

            // KServe's own monitoring (LLMISVC_MONITORING_DISABLED on its controller)
            log.Progress(activity, "Checking the KServe controller's monitoring setting", 70);
            var (controller, container, current) = await FindControllerAsync(client, kserveNamespace, ct).ConfigureAwait(false);
            bool kserveOn;
            string? note = null;
            var currentlyOn = current is null || !bool.TryParse(current, out var disabled) || !disabled; // env.GetBool(..., false): unset means on
            if (controller is null)
            {
                kserveOn = false;
                note = $"No KServe LLMInferenceService controller Deployment found in {kserveNamespace} ({string.Join(", ", ControllerNames)}); pass -KServeNamespace if it runs elsewhere.";
                log.Warning(note);
            }
            else if (!enableKServeMonitoring)
            {
                kserveOn = currentlyOn;
                note = "Left as it was (-SkipKServeMonitoring).";
            }
            else if (!(support.OperatorPodMonitor && support.OperatorServiceMonitor))
            {
                kserveOn = currentlyOn;
                if (currentlyOn)
                {
                    note = $"KServe's monitoring is on ({MonitoringEnv}={current ?? "(unset)"}) but this cluster does not serve PodMonitor and ServiceMonitor (monitoring.coreos.com/v1), which the controller then creates, so its reconciles fail. Set {MonitoringEnv}=true on {controller.Namespace()}/{controller.Name()} or install the Prometheus Operator CRDs; the {backend} objects above scrape the same vLLM and EPP endpoints.";
                    log.Warning(note);
                }
                else
                    note = $"Left {MonitoringEnv}={current}: with it false the KServe controller creates PodMonitor and ServiceMonitor objects (monitoring.coreos.com/v1), which this cluster does not serve, so its reconciles would fail. The {backend} objects above scrape the same vLLM and EPP endpoints.";
            }
            else
            {
                var patch = new JsonObject
                {
                    ["apiVersion"] = "apps/v1", ["kind"] = "Deployment",
                    ["metadata"] = new JsonObject { ["name"] = controller.Name(), ["namespace"] = controller.Namespace() },
                    ["spec"] = new JsonObject
                    {
                        ["template"] = new JsonObject
                        {
                            ["spec"] = new JsonObject
                            {
                                ["containers"] = new JsonArray(new JsonObject
                                {
                                    ["name"] = container,
                                    ["env"] = new JsonArray(new JsonObject { ["name"] = MonitoringEnv, ["value"] = "false" }),
                                }),
                            },
                        },
                    },
                };
                var o2 = new KubeApplyOptions
                {
                    DryRun = options.DryRun, Wait = options.Wait, Timeout = options.Timeout, PollInterval = options.PollInterval, MaxRetries = options.MaxRetries,
                    RetryBaseDelay = options.RetryBaseDelay, MaxRetryDelay = options.MaxRetryDelay,
                    FieldManager = ControllerFieldManager, Force = true, Component = "kserve-monitoring",
                };
                log.Progress(activity, $"Setting {MonitoringEnv}=false on {controller.Namespace()}/{controller.Name()}", 80);
                var r2 = await new ApplyEngine(connection, log).ApplyAsync([patch], o2, ct).ConfigureAwait(false);
                applied.AddRange(r2.Objects);
                mutating += r2.MutatingRequests;
                kserveOn = true;
                note = currentlyOn ? null : $"{MonitoringEnv} set to false; KServe now creates its own PodMonitor/ServiceMonitor (series prefixed kserve_ in some releases) next to the ones above.";
                log.Verbose($"KServe monitoring: {controller.Namespace()}/{controller.Name()} {MonitoringEnv}=false ({r2.Objects.FirstOrDefault()?.Action})");
            }

            var written = new List<string>();
            if (!options.DryRun)
            {
                log.Progress(activity, "Writing files", 90);
                WriteFiles(plan, backend, objects, files, written);
            }
            log.Progress(activity, "Done", 100);
            return new LlmInferenceServiceMonitoring
            {
                Name = plan.Name, Namespace = plan.Namespace, Backend = backend, KServeMonitoring = kserveOn, KServeMonitoringNote = note,
                KServeController = controller is null ? null : $"{controller.Namespace()}/{controller.Name()}",
                Alerts = MonitoringBuilder.Alerts(plan).Select(a => a.Alert).ToList(),
                Objects = applied, Files = written, MutatingRequests = mutating, DryRun = options.DryRun, Cluster = connection.Name,
            };
        }
        catch (KubeApiException e) { throw e.ToRhaii("setting up monitoring", plan.Name); }
        catch (KubeTransportException e) { throw e.ToRhaii("setting up monitoring", plan.Name); }
    }

    private static void WriteFiles(MonitoringPlan plan, MonitoringBackend backend, IReadOnlyList<JsonObject> objects, MonitoringFiles files, List<string> written)
    {
        void Write(string path, string text)
        {
            var full = Path.GetFullPath(path);
            try
            {
                if (Path.GetDirectoryName(full) is { Length: > 0 } dir) Directory.CreateDirectory(dir);
                File.WriteAllText(full, text);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new RhaiiException("MonitoringFileWriteFailed", RhaiiErrorCategory.WriteError, $"Could not write {full}: {e.Message}. The cluster objects were applied; re-running writes the files and sends nothing.", "Choose a writable path.", full, e);
            }
            written.Add(full);
        }
        if (files.DashboardPath is { } d) Write(d, MonitoringBuilder.Dashboard(plan));
        if (files.RulesPath is { } r) Write(r, MonitoringBuilder.RuleFile(plan));
        if (files.ScrapeConfigPath is { } s)
        {
            var secrets = files.SecretsDirectory ?? "/etc/prometheus/secrets";
            var jobs = objects.Where(o => o.Str("kind") is "PodMonitoring" or "PodMonitor").Select(o => PrometheusConfig.ScrapeJob(o, secrets));
            Write(s, PrometheusConfig.Render(jobs, files.RulesPath is { } rp ? [Path.GetFullPath(rp)] : [], plan.ScrapeInterval));
        }
        _ = backend;
    }

    /// <summary>The KServe controller Deployment, its container that carries the LLMISVC settings, and the current value of the monitoring switch.</summary>
    internal static async Task<(JsonObject? Deployment, string Container, string? Current)> FindControllerAsync(KubeClient client, string ns, CancellationToken ct)
    {
        JsonObject list;
        try { list = await client.ListAsync($"apis/apps/v1/namespaces/{Uri.EscapeDataString(ns)}/deployments", null, ct).ConfigureAwait(false); }
        catch (KubeApiException e) when (e.Code == 404) { return (null, "", null); }
        var items = list.Arr("items")?.OfType<JsonObject>().ToList() ?? [];
        static IEnumerable<JsonObject> Containers(JsonObject d) => d.Arr("spec", "template", "spec", "containers")?.OfType<JsonObject>() ?? [];
        static JsonObject? Env(JsonObject c, string name) => c.Arr("env")?.OfType<JsonObject>().FirstOrDefault(e => e.Str("name") == name);
        foreach (var d in items.OrderBy(d => Array.IndexOf(ControllerNames, d.Name()) is var i && i < 0 ? int.MaxValue : i))
        {
            var c = Containers(d).FirstOrDefault(c => Env(c, MonitoringEnv) is not null || Env(c, "ENABLE_LLMISVC_CONTROLLER") is not null)
                    ?? (ControllerNames.Contains(d.Name()) ? Containers(d).FirstOrDefault(c => c.Str("name") == "manager") ?? Containers(d).FirstOrDefault() : null);
            if (c is null) continue;
            return (d, c.Str("name") ?? "manager", Env(c, MonitoringEnv)?.Str("value"));
        }
        return (null, "", null);
    }
}
