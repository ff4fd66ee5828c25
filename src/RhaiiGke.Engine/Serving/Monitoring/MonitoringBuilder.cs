using System.Globalization;
using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube.Json;

namespace RhaiiGke.Engine.Serving.Monitoring;

/// <summary>What to monitor: one LLMInferenceService, the gateway in front of it, and the alert thresholds.</summary>
public sealed record MonitoringPlan
{
    public required string Name { get; init; }
    public required string Namespace { get; init; }
    /// <summary>The Istio gateway whose proxies report istio_requests_total; null when there is none to scrape (GKE-managed gateways report to Cloud Monitoring).</summary>
    public string? GatewayName { get; init; } = "inference-gateway";
    public string GatewayNamespace { get; init; } = "opendatahub";
    public MonitoringThresholds Thresholds { get; init; } = new();
    public TimeSpan ScrapeInterval { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Scrape vLLM's HTTPS endpoint without checking its certificate (KServe's own PodMonitor does; off by default).</summary>
    public bool SkipVllmCertificateCheck { get; init; }
}

/// <summary>One alert of the generated rules, with the seeded series promtool uses to prove it fires and stays quiet.</summary>
public sealed record AlertDefinition(string Alert, string Expr, string Severity, string Summary, string Description, string RuleNamespace);

/// <summary>A dashboard panel's query.</summary>
public sealed record DashboardQuery(string Panel, string Section, string Expr, string Unit);

/// <summary>
/// Builds the monitoring objects for one LLMInferenceService: scrape targets for vLLM (:8000/metrics, HTTPS), the EPP
/// (:9090 "metrics", HTTP with a ServiceAccount bearer token, as the GAIE chart sets it up) and the Istio gateway's
/// proxies (:15090 "http-envoy-prom" /stats/prometheus); alert rules for TTFT p99, queue depth, KV-cache saturation,
/// restarts and gateway 5xx; a Grafana dashboard; and the same scrape targets as a plain Prometheus configuration.
/// Pure: nothing here talks to a cluster.
/// </summary>
public static class MonitoringBuilder
{
    public const string ManagedApiVersion = "monitoring.googleapis.com/v1";
    public const string OperatorApiVersion = "monitoring.coreos.com/v1";
    /// <summary>The label every series of the service's pods gets (KServe's own monitors use the same name).</summary>
    public const string ServiceLabel = "llm_isvc_name";
    public const string EppMetricsPort = "metrics";
    public const int VllmPort = 8000;
    public const string GatewayMetricsPort = "http-envoy-prom";

    /// <summary>Pod components of the vLLM workload (KServe's monitor selects the same set).</summary>
    public static readonly string[] WorkloadComponents =
    [
        "llminferenceservice-workload", "llminferenceservice-workload-prefill", "llminferenceservice-workload-worker",
        "llminferenceservice-workload-leader", "llminferenceservice-workload-leader-prefill", "llminferenceservice-workload-worker-prefill",
    ];

    public const string EppComponent = "llminferenceservice-router-scheduler";

    public static string VllmMonitorName(MonitoringPlan p) => p.Name + "-vllm-metrics";
    public static string EppMonitorName(MonitoringPlan p) => p.Name + "-epp-metrics";
    public static string GatewayMonitorName(MonitoringPlan p) => p.GatewayName + "-gateway-metrics";
    public static string RulesName(MonitoringPlan p) => p.Name + "-alerts";
    public static string GatewayRulesName(MonitoringPlan p) => p.Name + "-gateway-alerts";
    public static string ReaderServiceAccount(MonitoringPlan p) => p.Name + "-metrics-reader";
    public static string ReaderSecret(MonitoringPlan p) => p.Name + "-metrics-reader-token";
    public const string ReaderClusterRole = "rhaii-epp-metrics-reader";
    public static string CertSecret(MonitoringPlan p) => p.Name + "-kserve-self-signed-certs";

    private static JsonArray A(params JsonNode?[] items) => new(items);

    private static JsonObject Meta(string name, string? ns, MonitoringPlan p)
    {
        var m = new JsonObject { ["name"] = name };
        if (ns is not null) m["namespace"] = ns;
        m["labels"] = new JsonObject
        {
            ["app.kubernetes.io/component"] = "llm-monitoring", ["app.kubernetes.io/managed-by"] = "rhaiigke", ["rhaiigke.io/llm-isvc"] = p.Name,
        };
        return m;
    }

    private static JsonObject VllmSelector(MonitoringPlan p) => new()
    {
        ["matchLabels"] = new JsonObject { ["app.kubernetes.io/part-of"] = "llminferenceservice", ["app.kubernetes.io/name"] = p.Name },
        ["matchExpressions"] = A(new JsonObject { ["key"] = "app.kubernetes.io/component", ["operator"] = "In", ["values"] = new JsonArray(WorkloadComponents.Select(c => (JsonNode?)c).ToArray()) }),
    };

    private static JsonObject EppSelector(MonitoringPlan p) => new()
    {
        ["matchLabels"] = new JsonObject { ["app.kubernetes.io/part-of"] = "llminferenceservice", ["app.kubernetes.io/name"] = p.Name, ["app.kubernetes.io/component"] = EppComponent },
    };

    private static JsonObject GatewaySelector(MonitoringPlan p) => new()
    {
        ["matchLabels"] = new JsonObject { ["gateway.networking.k8s.io/gateway-name"] = p.GatewayName },
    };

    public static string Duration(TimeSpan t)
    {
        if (t.TotalSeconds < 1) return "1s";
        if (t.TotalHours >= 1 && t.TotalHours == Math.Floor(t.TotalHours)) return ((int)t.TotalHours).ToString(CultureInfo.InvariantCulture) + "h";
        if (t.TotalMinutes >= 1 && t.TotalMinutes == Math.Floor(t.TotalMinutes)) return ((int)t.TotalMinutes).ToString(CultureInfo.InvariantCulture) + "m";
        return ((int)Math.Ceiling(t.TotalSeconds)).ToString(CultureInfo.InvariantCulture) + "s";
    }

    private static string Num(double v) => v.ToString("0.############", CultureInfo.InvariantCulture);

    // ---------------- objects ----------------

    /// <summary>The Kubernetes objects for <paramref name="backend"/> (ManagedPrometheus or PrometheusOperator), in apply order.</summary>
    public static IReadOnlyList<JsonObject> Build(MonitoringPlan p, MonitoringBackend backend)
    {
        if (backend == MonitoringBackend.Auto) throw new ArgumentException("Resolve Auto to a backend first.", nameof(backend));
        var list = new List<JsonObject>();
        list.AddRange(ReaderObjects(p, backend));
        if (backend == MonitoringBackend.ManagedPrometheus)
        {
            list.Add(PodMonitoring(VllmMonitorName(p), p.Namespace, p, VllmSelector(p), VllmEndpointGmp(p), fromPod: true));
            list.Add(PodMonitoring(EppMonitorName(p), p.Namespace, p, EppSelector(p), EppEndpointGmp(p), fromPod: true));
            if (p.GatewayName is not null)
                list.Add(PodMonitoring(GatewayMonitorName(p), p.GatewayNamespace, p, GatewaySelector(p), GatewayEndpointGmp(p), fromPod: false));
        }
        else
        {
            list.Add(PodMonitor(VllmMonitorName(p), p.Namespace, p, VllmSelector(p), VllmEndpointOperator(p)));
            list.Add(PodMonitor(EppMonitorName(p), p.Namespace, p, EppSelector(p), EppEndpointOperator(p)));
            if (p.GatewayName is not null)
                list.Add(PodMonitor(GatewayMonitorName(p), p.GatewayNamespace, p, GatewaySelector(p), GatewayEndpointOperator(p)));
        }
        foreach (var (ns, name, groups) in RuleObjects(p))
        {
            list.Add(new JsonObject
            {
                ["apiVersion"] = backend == MonitoringBackend.ManagedPrometheus ? ManagedApiVersion : OperatorApiVersion,
                ["kind"] = backend == MonitoringBackend.ManagedPrometheus ? "Rules" : "PrometheusRule",
                ["metadata"] = Meta(name, ns, p),
                ["spec"] = new JsonObject { ["groups"] = groups },
            });
        }
        return list;
    }

    /// <summary>
    /// The EPP's /metrics needs a bearer token allowed to GET the /metrics non-resource URL (GAIE's filter does a
    /// TokenReview and SubjectAccessReview): a ServiceAccount, its token Secret, a ClusterRole and its binding; for
    /// Managed Prometheus also read access to that Secret (and to the vLLM certificate) for the GMP collector.
    /// </summary>
    private static IEnumerable<JsonObject> ReaderObjects(MonitoringPlan p, MonitoringBackend backend)
    {
        yield return new JsonObject { ["apiVersion"] = "v1", ["kind"] = "ServiceAccount", ["metadata"] = Meta(ReaderServiceAccount(p), p.Namespace, p), ["automountServiceAccountToken"] = false };
        var secretMeta = Meta(ReaderSecret(p), p.Namespace, p);
        secretMeta["annotations"] = new JsonObject { ["kubernetes.io/service-account.name"] = ReaderServiceAccount(p) };
        yield return new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Secret", ["metadata"] = secretMeta, ["type"] = "kubernetes.io/service-account-token" };
        var roleMeta = Meta(ReaderClusterRole, null, p);
        ((JsonObject)roleMeta["labels"]!).Remove("rhaiigke.io/llm-isvc");
        yield return new JsonObject
        {
            ["apiVersion"] = "rbac.authorization.k8s.io/v1", ["kind"] = "ClusterRole", ["metadata"] = roleMeta,
            ["rules"] = A(new JsonObject { ["nonResourceURLs"] = A("/metrics"), ["verbs"] = A("get") }),
        };
        yield return new JsonObject
        {
            ["apiVersion"] = "rbac.authorization.k8s.io/v1", ["kind"] = "ClusterRoleBinding", ["metadata"] = Meta($"{p.Namespace}-{p.Name}-metrics-reader", null, p),
            ["roleRef"] = new JsonObject { ["apiGroup"] = "rbac.authorization.k8s.io", ["kind"] = "ClusterRole", ["name"] = ReaderClusterRole },
            ["subjects"] = A(new JsonObject { ["kind"] = "ServiceAccount", ["name"] = ReaderServiceAccount(p), ["namespace"] = p.Namespace }),
        };
        if (backend != MonitoringBackend.ManagedPrometheus) yield break;
        var secrets = new JsonArray(ReaderSecret(p));
        if (!p.SkipVllmCertificateCheck) secrets.Add(CertSecret(p));
        var readName = p.Name + "-metrics-secret-read";
        yield return new JsonObject
        {
            ["apiVersion"] = "rbac.authorization.k8s.io/v1", ["kind"] = "Role", ["metadata"] = Meta(readName, p.Namespace, p),
            ["rules"] = A(new JsonObject { ["apiGroups"] = A(""), ["resources"] = A("secrets"), ["verbs"] = A("get", "list", "watch"), ["resourceNames"] = secrets }),
        };
        // the GMP collector runs as gmp-system/collector on Standard clusters and gke-gmp-system/collector on Autopilot
        yield return new JsonObject
        {
            ["apiVersion"] = "rbac.authorization.k8s.io/v1", ["kind"] = "RoleBinding", ["metadata"] = Meta("gmp-collector-" + readName, p.Namespace, p),
            ["roleRef"] = new JsonObject { ["apiGroup"] = "rbac.authorization.k8s.io", ["kind"] = "Role", ["name"] = readName },
            ["subjects"] = A(new JsonObject { ["kind"] = "ServiceAccount", ["name"] = "collector", ["namespace"] = "gmp-system" },
                new JsonObject { ["kind"] = "ServiceAccount", ["name"] = "collector", ["namespace"] = "gke-gmp-system" }),
        };
    }

    private static JsonObject PodMonitoring(string name, string ns, MonitoringPlan p, JsonObject selector, JsonObject endpoint, bool fromPod)
    {
        var spec = new JsonObject { ["selector"] = selector, ["endpoints"] = A(endpoint) };
        var target = new JsonObject { ["metadata"] = A("pod", "container") };
        if (fromPod) target["fromPod"] = A(new JsonObject { ["from"] = "app.kubernetes.io/name", ["to"] = ServiceLabel });
        spec["targetLabels"] = target;
        return new JsonObject { ["apiVersion"] = ManagedApiVersion, ["kind"] = "PodMonitoring", ["metadata"] = Meta(name, ns, p), ["spec"] = spec };
    }

    private static JsonObject VllmEndpointGmp(MonitoringPlan p)
    {
        var e = new JsonObject { ["port"] = VllmPort, ["scheme"] = "https", ["path"] = "/metrics", ["interval"] = Duration(p.ScrapeInterval) };
        e["tls"] = p.SkipVllmCertificateCheck
            ? new JsonObject { ["insecureSkipVerify"] = true }
            : new JsonObject { ["serverName"] = $"{p.Name}-kserve-workload-svc.{p.Namespace}.svc", ["ca"] = new JsonObject { ["secret"] = new JsonObject { ["name"] = CertSecret(p), ["key"] = "tls.crt" } } };
        return e;
    }

    private static JsonObject EppEndpointGmp(MonitoringPlan p) => new()
    {
        ["port"] = EppMetricsPort, ["scheme"] = "http", ["path"] = "/metrics", ["interval"] = Duration(p.ScrapeInterval),
        ["authorization"] = new JsonObject { ["type"] = "Bearer", ["credentials"] = new JsonObject { ["secret"] = new JsonObject { ["name"] = ReaderSecret(p), ["key"] = "token" } } },
    };

    private static JsonObject GatewayEndpointGmp(MonitoringPlan p) => new()
    {
        ["port"] = GatewayMetricsPort, ["scheme"] = "http", ["path"] = "/stats/prometheus", ["interval"] = Duration(p.ScrapeInterval),
    };

    private static JsonObject PodMonitor(string name, string ns, MonitoringPlan p, JsonObject selector, JsonObject endpoint) => new()
    {
        ["apiVersion"] = OperatorApiVersion, ["kind"] = "PodMonitor", ["metadata"] = Meta(name, ns, p),
        ["spec"] = new JsonObject { ["selector"] = selector, ["podMetricsEndpoints"] = A(endpoint) },
    };

    private static JsonArray OperatorRelabelings(bool service) => service
        ? A(new JsonObject { ["sourceLabels"] = A("__meta_kubernetes_pod_label_app_kubernetes_io_name"), ["action"] = "replace", ["targetLabel"] = ServiceLabel })
        : new JsonArray();

    private static JsonObject VllmEndpointOperator(MonitoringPlan p)
    {
        var e = new JsonObject { ["targetPort"] = VllmPort, ["scheme"] = "https", ["path"] = "/metrics", ["interval"] = Duration(p.ScrapeInterval) };
        e["tlsConfig"] = p.SkipVllmCertificateCheck
            ? new JsonObject { ["insecureSkipVerify"] = true }
            : new JsonObject { ["serverName"] = $"{p.Name}-kserve-workload-svc.{p.Namespace}.svc", ["ca"] = new JsonObject { ["secret"] = new JsonObject { ["name"] = CertSecret(p), ["key"] = "tls.crt" } } };
        e["relabelings"] = OperatorRelabelings(true);
        return e;
    }

    private static JsonObject EppEndpointOperator(MonitoringPlan p) => new()
    {
        ["port"] = EppMetricsPort, ["scheme"] = "http", ["path"] = "/metrics", ["interval"] = Duration(p.ScrapeInterval),
        ["authorization"] = new JsonObject { ["type"] = "Bearer", ["credentials"] = new JsonObject { ["name"] = ReaderSecret(p), ["key"] = "token" } },
        ["relabelings"] = OperatorRelabelings(true),
    };

    private static JsonObject GatewayEndpointOperator(MonitoringPlan p) => new()
    {
        ["port"] = GatewayMetricsPort, ["scheme"] = "http", ["path"] = "/stats/prometheus", ["interval"] = Duration(p.ScrapeInterval),
    };

    // ---------------- alerts ----------------

    private static string Sel(MonitoringPlan p) => $"namespace=\"{p.Namespace}\",{ServiceLabel}=\"{p.Name}\"";
    /// <summary>A Kubernetes name as an RE2 pattern inside a PromQL string: dots escaped, and the backslash escaped for the string.</summary>
    private static string NameRegex(string name) => name.Replace(".", "\\\\.", StringComparison.Ordinal);
    private static string PodRegex(MonitoringPlan p) => $"{NameRegex(p.Name)}-kserve-.*";
    private static string GatewaySel(MonitoringPlan p) =>
        $"destination_service_namespace=\"{p.Namespace}\",destination_service_name=~\"{NameRegex(p.Name)}-(inference-pool|kserve-workload-svc).*\"";

    /// <summary>The alerts of the rules, in order.</summary>
    public static IReadOnlyList<AlertDefinition> Alerts(MonitoringPlan p)
    {
        var t = p.Thresholds;
        var svc = $"{p.Namespace}/{p.Name}";
        var list = new List<AlertDefinition>
        {
            new("LlmServiceTtftP99High",
                $"histogram_quantile(0.99, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket{{{Sel(p)}}}[5m]))) > {Num(t.TtftP99Seconds)}",
                "warning", $"p99 time to first token of {svc} is above {Num(t.TtftP99Seconds)}s",
                $"vLLM's TTFT histogram for {svc} puts the 99th percentile over the last 5 minutes above {Num(t.TtftP99Seconds)} seconds. Look at queue depth and KV-cache usage; add replicas or TPU capacity.", p.Namespace),
            new("LlmServiceQueueDepthHigh",
                $"max by (pod) (vllm:num_requests_waiting{{{Sel(p)}}}) > {Num(t.QueueDepth)}",
                "warning", $"a vLLM pod of {svc} has more than {Num(t.QueueDepth)} requests waiting",
                $"vllm:num_requests_waiting is above {Num(t.QueueDepth)} on one pod of {svc}: requests queue before prefill. Scale out, or check that the EPP spreads load.", p.Namespace),
            new("LlmServiceKvCacheSaturated",
                $"max by (pod) (vllm:kv_cache_usage_perc{{{Sel(p)}}}) > {Num(t.KvCacheUsage)}",
                "warning", $"a vLLM pod of {svc} has its KV cache above {Num(t.KvCacheUsage * 100)}%",
                $"vllm:kv_cache_usage_perc is above {Num(t.KvCacheUsage)} on one pod of {svc}: new requests wait or preempt others. Scale out, lower max-num-seqs or shorten contexts.", p.Namespace),
            new("LlmServicePodRestarts",
                $"sum by (pod) (increase(kube_pod_container_status_restarts_total{{namespace=\"{p.Namespace}\",pod=~\"{PodRegex(p)}\"}}[15m])) >= {t.Restarts.ToString(CultureInfo.InvariantCulture)}",
                "warning", $"a pod of {svc} restarted",
                $"A vLLM or EPP container of {svc} restarted at least {t.Restarts} time(s) in 15 minutes (kube-state-metrics). Read its previous logs; on TPU look for out-of-memory during XLA compilation.", p.Namespace),
        };
        if (p.GatewayName is not null)
            list.Add(new("LlmServiceGateway5xxHigh",
                $"sum(rate(istio_requests_total{{{GatewaySel(p)},response_code=~\"5..\"}}[5m])) / sum(rate(istio_requests_total{{{GatewaySel(p)}}}[5m])) > {Num(t.Gateway5xxRatio)}",
                "critical", $"more than {Num(t.Gateway5xxRatio * 100)}% of gateway responses for {svc} are 5xx",
                $"The Istio gateway {p.GatewayNamespace}/{p.GatewayName} answered more than {Num(t.Gateway5xxRatio * 100)}% of the requests routed to {svc} with a 5xx over 5 minutes. Check the EPP (ext_proc) and the vLLM pods.", p.GatewayNamespace));
        return list;
    }

    private static JsonObject Rule(AlertDefinition a, MonitoringPlan p) => new()
    {
        ["alert"] = a.Alert, ["expr"] = a.Expr, ["for"] = Duration(p.Thresholds.For),
        ["labels"] = new JsonObject { ["severity"] = a.Severity, ["llm_isvc_namespace"] = p.Namespace, [ServiceLabel] = p.Name },
        ["annotations"] = new JsonObject { ["summary"] = a.Summary, ["description"] = a.Description },
    };

    /// <summary>(namespace, object name, groups) of the rule objects: the service's alerts in its namespace, the gateway's in the gateway's (Managed Prometheus scopes namespaced Rules to their namespace).</summary>
    public static IEnumerable<(string Namespace, string Name, JsonArray Groups)> RuleObjects(MonitoringPlan p)
    {
        var alerts = Alerts(p);
        foreach (var ns in alerts.Select(a => a.RuleNamespace).Distinct())
        {
            var rules = new JsonArray(alerts.Where(a => a.RuleNamespace == ns).Select(a => (JsonNode?)Rule(a, p)).ToArray());
            var name = ns == p.Namespace ? RulesName(p) : GatewayRulesName(p);
            yield return (ns, name, A(new JsonObject { ["name"] = $"rhaii.{p.Namespace}.{p.Name}{(ns == p.Namespace ? "" : ".gateway")}", ["interval"] = Duration(p.ScrapeInterval), ["rules"] = rules }));
        }
    }

    /// <summary>A plain Prometheus rule file (what <c>promtool check rules</c> reads) with every alert.</summary>
    public static string RuleFile(MonitoringPlan p) =>
        KubeYaml.Write(new JsonObject { ["groups"] = new JsonArray(RuleObjects(p).SelectMany(r => r.Groups).Select(g => g!.DeepClone()).ToArray()) });

    /// <summary>
    /// A promtool unit-test file for <paramref name="ruleFile"/>: for each alert, a seeded series that crosses its
    /// threshold (the alert must fire after <c>for</c>) and one that stays below it (no alert), with the labels the
    /// scrape configuration gives the series.
    /// </summary>
    public static string RuleTestFile(MonitoringPlan p, string ruleFile)
    {
        var t = p.Thresholds;
        var forMin = Math.Max(1, (int)Math.Ceiling(p.Thresholds.For.TotalMinutes));
        var evalMin = forMin + 20; // past 5m/15m windows plus for
        var steps = evalMin + 5;
        string Series(string start, string inc) => $"{start}+{inc}x{steps}";
        string Flat(double v) => $"{Num(v)}x{steps}";
        var svcLabels = $"namespace=\"{p.Namespace}\",{ServiceLabel}=\"{p.Name}\"";
        var hot = $"{p.Name}-kserve-7f9c-hot";
        var cool = $"{p.Name}-kserve-7f9c-cool";
        var tests = new JsonArray();
        var alerts = Alerts(p).ToDictionary(a => a.Alert);

        JsonObject Expected(AlertDefinition a, IDictionary<string, string> extra)
        {
            var labels = new JsonObject { ["alertname"] = a.Alert, ["severity"] = a.Severity, ["llm_isvc_namespace"] = p.Namespace, [ServiceLabel] = p.Name };
            foreach (var (k, v) in extra) labels[k] = v;
            return new JsonObject { ["exp_labels"] = labels, ["exp_annotations"] = new JsonObject { ["summary"] = a.Summary, ["description"] = a.Description } };
        }
        JsonObject Case(string alert, JsonArray series, IDictionary<string, string>? firingLabels)
        {
            var a = alerts[alert];
            return new JsonObject
            {
                ["interval"] = "1m",
                ["input_series"] = series,
                ["alert_rule_test"] = A(new JsonObject
                {
                    ["eval_time"] = $"{evalMin}m", ["alertname"] = alert,
                    ["exp_alerts"] = firingLabels is null ? new JsonArray() : A(Expected(a, firingLabels)),
                }),
            };
        }
        JsonObject In(string series, string values) => new() { ["series"] = series, ["values"] = values };

        // TTFT: every request lands in the bucket above the threshold (fires) or well below it (quiet).
        JsonArray Ttft(bool slow)
        {
            var arr = new JsonArray();
            foreach (var le in new[] { t.TtftP99Seconds / 8, t.TtftP99Seconds / 4, t.TtftP99Seconds * 4, double.PositiveInfinity })
            {
                var leText = double.IsPositiveInfinity(le) ? "+Inf" : Num(le);
                var counting = slow ? le >= t.TtftP99Seconds * 4 : le >= t.TtftP99Seconds / 4;
                arr.Add(In($"vllm:time_to_first_token_seconds_bucket{{{svcLabels},pod=\"{hot}\",le=\"{leText}\"}}", counting ? Series("0", "60") : Flat(0)));
            }
            return arr;
        }
        tests.Add(Case("LlmServiceTtftP99High", Ttft(slow: true), new Dictionary<string, string>()));
        tests.Add(Case("LlmServiceTtftP99High", Ttft(slow: false), null));

        tests.Add(Case("LlmServiceQueueDepthHigh", A(
            In($"vllm:num_requests_waiting{{{svcLabels},pod=\"{hot}\"}}", Flat(t.QueueDepth + 5)),
            In($"vllm:num_requests_waiting{{{svcLabels},pod=\"{cool}\"}}", Flat(0))), new Dictionary<string, string> { ["pod"] = hot }));
        tests.Add(Case("LlmServiceQueueDepthHigh", A(In($"vllm:num_requests_waiting{{{svcLabels},pod=\"{hot}\"}}", Flat(t.QueueDepth))), null));

        var kvHigh = Math.Min(1, t.KvCacheUsage + (1 - t.KvCacheUsage) / 2);
        tests.Add(Case("LlmServiceKvCacheSaturated", A(
            In($"vllm:kv_cache_usage_perc{{{svcLabels},pod=\"{hot}\"}}", Flat(kvHigh)),
            In($"vllm:kv_cache_usage_perc{{{svcLabels},pod=\"{cool}\"}}", Flat(t.KvCacheUsage / 2))), new Dictionary<string, string> { ["pod"] = hot }));
        tests.Add(Case("LlmServiceKvCacheSaturated", A(In($"vllm:kv_cache_usage_perc{{{svcLabels},pod=\"{hot}\"}}", Flat(t.KvCacheUsage / 2))), null));

        // restarts: the counter steps up by the threshold a few minutes before the evaluation (fires), or never moves (quiet)
        var restartAt = evalMin - forMin - 2;
        var restarting = $"0x{restartAt} {t.Restarts}x{steps - restartAt}";
        tests.Add(Case("LlmServicePodRestarts", A(
            In($"kube_pod_container_status_restarts_total{{namespace=\"{p.Namespace}\",pod=\"{hot}\",container=\"main\"}}", restarting),
            In($"kube_pod_container_status_restarts_total{{namespace=\"{p.Namespace}\",pod=\"{cool}\",container=\"main\"}}", Flat(3)),
            In($"kube_pod_container_status_restarts_total{{namespace=\"other\",pod=\"{hot}\",container=\"main\"}}", restarting)),
            new Dictionary<string, string> { ["pod"] = hot }));
        tests.Add(Case("LlmServicePodRestarts", A(In($"kube_pod_container_status_restarts_total{{namespace=\"{p.Namespace}\",pod=\"{hot}\",container=\"main\"}}", Flat(2))), null));

        if (p.GatewayName is not null)
        {
            var dest = $"destination_service_namespace=\"{p.Namespace}\",destination_service_name=\"{p.Name}-inference-pool-ip-1a2b3c\"";
            // per minute: 100 requests; 5xx at twice the threshold (fires) or half of it (quiet)
            string Errors(double ratio) => Series("0", Num(Math.Round(100 * ratio, 6)));
            JsonArray Gw(double ratio) => A(
                In($"istio_requests_total{{{dest},response_code=\"200\"}}", Series("0", Num(Math.Round(100 * (1 - ratio), 6)))),
                In($"istio_requests_total{{{dest},response_code=\"503\"}}", Errors(ratio)),
                In($"istio_requests_total{{destination_service_namespace=\"other\",destination_service_name=\"x\",response_code=\"503\"}}", Series("0", "1000")));
            tests.Add(Case("LlmServiceGateway5xxHigh", Gw(Math.Min(1, t.Gateway5xxRatio * 2)), new Dictionary<string, string>()));
            tests.Add(Case("LlmServiceGateway5xxHigh", Gw(t.Gateway5xxRatio / 2), null));
        }
        return KubeYaml.Write(new JsonObject { ["rule_files"] = A(ruleFile), ["evaluation_interval"] = "1m", ["tests"] = tests });
    }

    // ---------------- dashboard ----------------

    /// <summary>The dashboard's queries ($namespace and $service are Grafana variables).</summary>
    public static IReadOnlyList<DashboardQuery> DashboardQueries { get; } =
    [
        new("Requests running", "vLLM", "sum by (pod) (vllm:num_requests_running{namespace=\"$namespace\",llm_isvc_name=\"$service\"})", "short"),
        new("Requests waiting", "vLLM", "sum by (pod) (vllm:num_requests_waiting{namespace=\"$namespace\",llm_isvc_name=\"$service\"})", "short"),
        new("KV-cache usage", "vLLM", "max by (pod) (vllm:kv_cache_usage_perc{namespace=\"$namespace\",llm_isvc_name=\"$service\"})", "percentunit"),
        new("TTFT p50", "vLLM", "histogram_quantile(0.5, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket{namespace=\"$namespace\",llm_isvc_name=\"$service\"}[5m])))", "s"),
        new("TTFT p99", "vLLM", "histogram_quantile(0.99, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket{namespace=\"$namespace\",llm_isvc_name=\"$service\"}[5m])))", "s"),
        new("Inter-token latency p99", "vLLM", "histogram_quantile(0.99, sum by (le) (rate(vllm:inter_token_latency_seconds_bucket{namespace=\"$namespace\",llm_isvc_name=\"$service\"}[5m])))", "s"),
        new("End-to-end latency p99", "vLLM", "histogram_quantile(0.99, sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket{namespace=\"$namespace\",llm_isvc_name=\"$service\"}[5m])))", "s"),
        new("Generated tokens/s", "vLLM", "sum(rate(vllm:generation_tokens_total{namespace=\"$namespace\",llm_isvc_name=\"$service\"}[5m]))", "short"),
        new("Prompt tokens/s", "vLLM", "sum(rate(vllm:prompt_tokens_total{namespace=\"$namespace\",llm_isvc_name=\"$service\"}[5m]))", "short"),
        new("Prefix-cache hit rate", "vLLM", "sum(rate(vllm:prefix_cache_hits_total{namespace=\"$namespace\",llm_isvc_name=\"$service\"}[5m])) / sum(rate(vllm:prefix_cache_queries_total{namespace=\"$namespace\",llm_isvc_name=\"$service\"}[5m]))", "percentunit"),
        new("Pool average queue", "EPP", "max(inference_pool_average_queue_size{namespace=\"$namespace\",llm_isvc_name=\"$service\"})", "short"),
        new("Pool average KV-cache", "EPP", "max(inference_pool_average_kv_cache_utilization{namespace=\"$namespace\",llm_isvc_name=\"$service\"})", "percentunit"),
        new("Ready pods in pool", "EPP", "max(inference_pool_ready_pods{namespace=\"$namespace\",llm_isvc_name=\"$service\"})", "short"),
        new("Queue per pod", "EPP", "max by (model_server_pod) (inference_pool_per_pod_queue_size{namespace=\"$namespace\",llm_isvc_name=\"$service\"})", "short"),
        new("Requests by code", "Gateway", "sum by (response_code) (rate(istio_requests_total{destination_service_namespace=\"$namespace\",destination_service_name=~\"$service-(inference-pool|kserve-workload-svc).*\"}[5m]))", "reqps"),
        new("5xx ratio", "Gateway", "sum(rate(istio_requests_total{destination_service_namespace=\"$namespace\",destination_service_name=~\"$service-(inference-pool|kserve-workload-svc).*\",response_code=~\"5..\"}[5m])) / sum(rate(istio_requests_total{destination_service_namespace=\"$namespace\",destination_service_name=~\"$service-(inference-pool|kserve-workload-svc).*\"}[5m]))", "percentunit"),
    ];

    /// <summary>A Grafana dashboard (JSON model, schemaVersion 39) for vLLM, the EPP and the gateway of one service.</summary>
    public static string Dashboard(MonitoringPlan p)
    {
        var panels = new JsonArray();
        var id = 1;
        var y = 0;
        foreach (var section in DashboardQueries.GroupBy(q => q.Section))
        {
            panels.Add(new JsonObject
            {
                ["id"] = id++, ["type"] = "row", ["title"] = section.Key, ["collapsed"] = false,
                ["gridPos"] = new JsonObject { ["h"] = 1, ["w"] = 24, ["x"] = 0, ["y"] = y++ },
                ["panels"] = new JsonArray(),
            });
            var x = 0;
            foreach (var q in section)
            {
                panels.Add(new JsonObject
                {
                    ["id"] = id++, ["type"] = "timeseries", ["title"] = q.Panel,
                    ["datasource"] = new JsonObject { ["type"] = "prometheus", ["uid"] = "${datasource}" },
                    ["gridPos"] = new JsonObject { ["h"] = 8, ["w"] = 8, ["x"] = x, ["y"] = y },
                    ["fieldConfig"] = new JsonObject { ["defaults"] = new JsonObject { ["unit"] = q.Unit }, ["overrides"] = new JsonArray() },
                    ["targets"] = A(new JsonObject
                    {
                        ["refId"] = "A", ["expr"] = q.Expr, ["legendFormat"] = q.Expr.Contains("by (pod)", StringComparison.Ordinal) ? "{{pod}}" : q.Expr.Contains("by (response_code)", StringComparison.Ordinal) ? "{{response_code}}" : q.Expr.Contains("by (model_server_pod)", StringComparison.Ordinal) ? "{{model_server_pod}}" : q.Panel,
                        ["datasource"] = new JsonObject { ["type"] = "prometheus", ["uid"] = "${datasource}" },
                    }),
                });
                x += 8;
                if (x >= 24) { x = 0; y += 8; }
            }
            if (x != 0) y += 8;
        }
        var dash = new JsonObject
        {
            ["title"] = $"LLM inference: {p.Namespace}/{p.Name}",
            ["uid"] = DashboardUid(p),
            ["tags"] = A("rhaiigke", "vllm", "llm-d", "kserve"),
            ["timezone"] = "browser", ["schemaVersion"] = 39, ["version"] = 1, ["refresh"] = "30s",
            ["time"] = new JsonObject { ["from"] = "now-1h", ["to"] = "now" },
            ["templating"] = new JsonObject
            {
                ["list"] = A(
                    new JsonObject { ["name"] = "datasource", ["type"] = "datasource", ["query"] = "prometheus", ["label"] = "Prometheus" },
                    new JsonObject { ["name"] = "namespace", ["type"] = "constant", ["query"] = p.Namespace, ["hide"] = 2 },
                    new JsonObject { ["name"] = "service", ["type"] = "constant", ["query"] = p.Name, ["hide"] = 2 }),
            },
            ["annotations"] = new JsonObject { ["list"] = new JsonArray() },
            ["panels"] = panels,
        };
        return dash.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
    }

    private static string DashboardUid(MonitoringPlan p)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(p.Namespace + "/" + p.Name));
        return "rhaii-" + Convert.ToHexString(hash)[..12].ToLowerInvariant();
    }

    /// <summary>A dashboard query with its variables filled in.</summary>
    public static string Resolve(DashboardQuery q, MonitoringPlan p) => q.Expr.Replace("$namespace", p.Namespace, StringComparison.Ordinal).Replace("$service", p.Name, StringComparison.Ordinal);
}
