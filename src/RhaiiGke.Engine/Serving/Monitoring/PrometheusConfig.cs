using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RhaiiGke.Engine.Kube.Json;

namespace RhaiiGke.Engine.Serving.Monitoring;

/// <summary>
/// A pod a translated scrape job should scrape directly instead of discovering it through the Kubernetes API
/// (a pod address reachable from where Prometheus runs). The pod's metadata goes through the same relabeling
/// as a discovered pod, so the selector and the target labels are exercised either way.
/// </summary>
public sealed record ScrapeTarget(string Address, string Namespace, string PodName, string Container, IReadOnlyDictionary<string, string> PodLabels, int? PortNumber = null, string? PortName = null);

/// <summary>
/// Translates the PodMonitoring (Managed Prometheus) and PodMonitor (Prometheus Operator) objects the module
/// generates into a plain Prometheus configuration: kubernetes_sd_configs with the relabeling those operators
/// generate (selector as keep rules, port match, namespace/pod/container and pod-label target labels), secrets as
/// files under a folder (one file per secret key, as mounted secrets would be).
/// </summary>
public static class PrometheusConfig
{
    public static string Sanitize(string labelName) => Regex.Replace(labelName, "[^a-zA-Z0-9_]", "_");

    /// <summary>One scrape_config for a PodMonitoring or PodMonitor (its first endpoint).</summary>
    public static JsonObject ScrapeJob(JsonObject monitor, string secretsDirectory, IReadOnlyList<ScrapeTarget>? targets = null, string? schemeOverride = null)
    {
        var kind = monitor.Str("kind");
        var gmp = kind == "PodMonitoring";
        if (!gmp && kind != "PodMonitor") throw new ArgumentException($"Only PodMonitoring and PodMonitor translate to a scrape job, not {kind}.", nameof(monitor));
        var ns = monitor.Namespace() ?? "default";
        var name = monitor.Name();
        var endpoint = (gmp ? monitor.Arr("spec", "endpoints") : monitor.Arr("spec", "podMetricsEndpoints"))?.OfType<JsonObject>().FirstOrDefault()
                       ?? throw new ArgumentException($"{kind} {ns}/{name} has no endpoint.", nameof(monitor));
        var job = new JsonObject
        {
            // GMP sets job to the PodMonitoring's name; the Prometheus Operator to <namespace>/<name>
            ["job_name"] = gmp ? name : $"{ns}/{name}",
            ["honor_labels"] = false,
            ["metrics_path"] = endpoint.Str("path") ?? "/metrics",
            ["scheme"] = schemeOverride ?? endpoint.Str("scheme") ?? "http",
        };
        if (endpoint.Str("interval") is { } interval) job["scrape_interval"] = interval;
        string File(string secret, string key) => Path.Combine(secretsDirectory, secret, key);
        var tls = gmp ? endpoint.Obj("tls") : endpoint.Obj("tlsConfig");
        if (tls is not null && job.Str("scheme") == "https")
        {
            var t = new JsonObject();
            if (tls.Bool("insecureSkipVerify") == true) t["insecure_skip_verify"] = true;
            if (tls.Str("serverName") is { } sn) t["server_name"] = sn;
            if (tls.Obj("ca", "secret") is { } ca) t["ca_file"] = File(ca.Str("name")!, ca.Str("key")!);
            job["tls_config"] = t;
        }
        var auth = endpoint.Obj("authorization");
        if (auth is not null)
        {
            var cred = gmp ? auth.Obj("credentials", "secret") : auth.Obj("credentials");
            var a = new JsonObject { ["type"] = auth.Str("type") ?? "Bearer" };
            if (cred is not null) a["credentials_file"] = File(cred.Str("name")!, cred.Str("key")!);
            job["authorization"] = a;
        }

        if (targets is null)
            job["kubernetes_sd_configs"] = new JsonArray(new JsonObject { ["role"] = "pod", ["namespaces"] = new JsonObject { ["names"] = new JsonArray(ns) } });
        else
            job["static_configs"] = new JsonArray(targets.Select(t => (JsonNode?)StaticConfig(t)).ToArray());

        var relabel = new JsonArray();
        JsonObject Keep(string source, string regex) => new() { ["source_labels"] = new JsonArray(source), ["regex"] = regex, ["action"] = "keep" };
        relabel.Add(new JsonObject { ["source_labels"] = new JsonArray("__meta_kubernetes_pod_phase"), ["regex"] = "(Failed|Succeeded)", ["action"] = "drop" });
        var selector = monitor.Obj("spec", "selector");
        foreach (var (k, v) in selector.Obj("matchLabels") ?? [])
            relabel.Add(Keep("__meta_kubernetes_pod_label_" + Sanitize(k), Regex.Escape(v?.ToString() ?? "")));
        foreach (var e in selector.Arr("matchExpressions")?.OfType<JsonObject>() ?? [])
        {
            var values = (e.Arr("values") ?? []).Select(v => Regex.Escape(v?.ToString() ?? "")).ToList();
            var src = "__meta_kubernetes_pod_label_" + Sanitize(e.Str("key")!);
            switch (e.Str("operator"))
            {
                case "In": relabel.Add(Keep(src, "(" + string.Join("|", values) + ")")); break;
                case "NotIn": relabel.Add(new JsonObject { ["source_labels"] = new JsonArray(src), ["regex"] = "(" + string.Join("|", values) + ")", ["action"] = "drop" }); break;
                case "Exists": relabel.Add(Keep("__meta_kubernetes_pod_labelpresent_" + Sanitize(e.Str("key")!), "true")); break;
                case "DoesNotExist": relabel.Add(new JsonObject { ["source_labels"] = new JsonArray("__meta_kubernetes_pod_labelpresent_" + Sanitize(e.Str("key")!)), ["regex"] = "true", ["action"] = "drop" }); break;
            }
        }
        var port = endpoint["port"] ?? endpoint["targetPort"];
        if (port is JsonValue pv && pv.TryGetValue<int>(out var number)) relabel.Add(Keep("__meta_kubernetes_pod_container_port_number", number.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        else if (port?.ToString() is { Length: > 0 } portName) relabel.Add(Keep("__meta_kubernetes_pod_container_port_name", Regex.Escape(portName)));
        JsonObject Copy(string source, string target) => new() { ["source_labels"] = new JsonArray(source), ["target_label"] = target, ["action"] = "replace" };
        relabel.Add(Copy("__meta_kubernetes_namespace", "namespace"));
        relabel.Add(Copy("__meta_kubernetes_pod_name", "pod"));
        relabel.Add(Copy("__meta_kubernetes_pod_container_name", "container"));
        if (gmp)
        {
            foreach (var m in monitor.Obj("spec", "targetLabels")?.Arr("fromPod")?.OfType<JsonObject>() ?? [])
                relabel.Add(Copy("__meta_kubernetes_pod_label_" + Sanitize(m.Str("from")!), m.Str("to") ?? Sanitize(m.Str("from")!)));
        }
        else
        {
            foreach (var r in endpoint.Arr("relabelings")?.OfType<JsonObject>() ?? [])
            {
                var c = new JsonObject { ["action"] = r.Str("action") ?? "replace" };
                if (r.Arr("sourceLabels") is { } sl) c["source_labels"] = sl.DeepClone();
                if (r.Str("targetLabel") is { } tl) c["target_label"] = tl;
                if (r.Str("regex") is { } rx) c["regex"] = rx;
                if (r.Str("replacement") is { } rp) c["replacement"] = rp;
                relabel.Add(c);
            }
        }
        job["relabel_configs"] = relabel;
        return job;
    }

    private static JsonObject StaticConfig(ScrapeTarget t)
    {
        var labels = new JsonObject
        {
            ["__meta_kubernetes_namespace"] = t.Namespace,
            ["__meta_kubernetes_pod_name"] = t.PodName,
            ["__meta_kubernetes_pod_container_name"] = t.Container,
            ["__meta_kubernetes_pod_phase"] = "Running",
        };
        if (t.PortNumber is { } n) labels["__meta_kubernetes_pod_container_port_number"] = n.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (t.PortName is { } pn) labels["__meta_kubernetes_pod_container_port_name"] = pn;
        foreach (var (k, v) in t.PodLabels)
        {
            labels["__meta_kubernetes_pod_label_" + Sanitize(k)] = v;
            labels["__meta_kubernetes_pod_labelpresent_" + Sanitize(k)] = "true";
        }
        return new JsonObject { ["targets"] = new JsonArray(t.Address), ["labels"] = labels };
    }

    /// <summary>A whole prometheus.yml: global settings, the rule files and one job per monitor.</summary>
    public static string Render(IEnumerable<JsonObject> jobs, IEnumerable<string> ruleFiles, TimeSpan scrapeInterval) =>
        KubeYaml.Write(new JsonObject
        {
            ["global"] = new JsonObject { ["scrape_interval"] = MonitoringBuilder.Duration(scrapeInterval), ["evaluation_interval"] = MonitoringBuilder.Duration(scrapeInterval) },
            ["rule_files"] = new JsonArray(ruleFiles.Select(f => (JsonNode?)f).ToArray()),
            ["scrape_configs"] = new JsonArray(jobs.Select(j => (JsonNode?)j).ToArray()),
        });
}
