namespace RhaiiGke;

/// <summary>Which monitoring stack the scrape targets and alert rules are written for.</summary>
public enum MonitoringBackend
{
    /// <summary>Managed Prometheus when the cluster serves monitoring.googleapis.com/v1 PodMonitoring, else the Prometheus Operator when it serves monitoring.coreos.com/v1.</summary>
    Auto,
    /// <summary>Google Cloud Managed Service for Prometheus: PodMonitoring and Rules (monitoring.googleapis.com/v1).</summary>
    ManagedPrometheus,
    /// <summary>The Prometheus Operator: PodMonitor and PrometheusRule (monitoring.coreos.com/v1).</summary>
    PrometheusOperator,
}

/// <summary>Alert thresholds of Enable-LlmInferenceServiceMonitoring.</summary>
public sealed class MonitoringThresholds
{
    /// <summary>Alert when the p99 time to first token (vLLM's histogram, over 5 minutes) is above this many seconds.</summary>
    public double TtftP99Seconds { get; set; } = 2.0;
    /// <summary>Alert when a vLLM pod has more than this many requests waiting (vllm:num_requests_waiting).</summary>
    public double QueueDepth { get; set; } = 10;
    /// <summary>Alert when a vLLM pod's KV cache is fuller than this fraction (vllm:kv_cache_usage_perc, 0-1).</summary>
    public double KvCacheUsage { get; set; } = 0.9;
    /// <summary>Alert when the service's containers restarted at least this many times in 15 minutes.</summary>
    public int Restarts { get; set; } = 1;
    /// <summary>Alert when more than this fraction of the gateway's responses for the service are 5xx (over 5 minutes).</summary>
    public double Gateway5xxRatio { get; set; } = 0.05;
    /// <summary>How long a condition must hold before the alert fires (the rules' <c>for</c>).</summary>
    public TimeSpan For { get; set; } = TimeSpan.FromMinutes(5);
}

/// <summary>What Enable-LlmInferenceServiceMonitoring set up for one service.</summary>
public sealed class LlmInferenceServiceMonitoring
{
    public string Name { get; init; } = "";
    public string Namespace { get; init; } = "";
    /// <summary>The stack the objects were written for.</summary>
    public MonitoringBackend Backend { get; init; }
    /// <summary>True when the KServe controller runs with LLMISVC_MONITORING_DISABLED=false after this run.</summary>
    public bool KServeMonitoring { get; init; }
    /// <summary>Why KServe's own monitoring was left as it was, when it was.</summary>
    public string? KServeMonitoringNote { get; init; }
    /// <summary>namespace/name of the KServe controller Deployment, when found.</summary>
    public string? KServeController { get; init; }
    /// <summary>Alert names of the generated rules.</summary>
    public RhaiiList<string> Alerts { get; init; } = [];
    /// <summary>Kind namespace/name of every object applied.</summary>
    public RhaiiList<KubeObjectResult> Objects { get; init; } = [];
    /// <summary>Files written (dashboard, rules, scrape configuration).</summary>
    public RhaiiList<string> Files { get; init; } = [];
    /// <summary>Mutating requests this run sent (0 when everything was already in place).</summary>
    public int MutatingRequests { get; init; }
    public bool DryRun { get; init; }
    public string Cluster { get; init; } = "";
    public override string ToString() => $"{Namespace}/{Name}: {Backend}, {Alerts.Count} alert(s), KServe monitoring {(KServeMonitoring ? "on" : "off")}";
}
