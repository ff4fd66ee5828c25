using System.Globalization;
using System.Text.Json.Nodes;

namespace RhaiiGke.Engine.Serving.Autoscaling;

/// <summary>What Enable-LlmInferenceServiceAutoscaling is asked for.</summary>
public sealed record AutoscalingPlan
{
    public required string Name { get; init; }
    public required string Namespace { get; init; }
    public int MinReplicas { get; init; } = 1;
    public int MaxReplicas { get; init; } = 4;
    public IReadOnlyList<AutoscalingSignal> Signals { get; init; } = [AutoscalingSignal.RequestsWaiting, AutoscalingSignal.KvCacheUsage];
    public double RequestsWaitingTarget { get; init; } = 5;
    public double KvCacheUsageTarget { get; init; } = 0.8;
    public double RequestsRunningTarget { get; init; } = 32;
    public double PoolQueueSizeTarget { get; init; } = 5;
    public TimeSpan ScaleUpStabilization { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan ScaleDownStabilization { get; init; } = TimeSpan.FromMinutes(10);
    public int ScaleUpStep { get; init; } = 2;
    public int ScaleDownStep { get; init; } = 1;
    public TimeSpan ScalePeriod { get; init; } = TimeSpan.FromSeconds(60);
    public bool AllowScaleToZero { get; init; }
    /// <summary>Prometheus query endpoint KEDA's triggers read (the GMP frontend or a Prometheus server).</summary>
    public string? PrometheusUrl { get; init; }
}

/// <summary>
/// Builds the autoscaler of one LLMInferenceService. There is no scale subresource on the LLMInferenceService CRD, so both
/// kinds target the workload Deployment KServe creates (&lt;name&gt;-kserve):
/// <list type="bullet">
/// <item>an autoscaling/v2 HorizontalPodAutoscaler with Pods metrics named as the Custom Metrics Stackdriver Adapter serves
/// Managed Prometheus series (<c>prometheus.googleapis.com|vllm:num_requests_waiting|gauge</c>), AverageValue targets;</item>
/// <item>or a KEDA ScaledObject (keda.sh/v1alpha1) with prometheus triggers summing the vLLM gauges of the service's pods
/// (AverageValue: KEDA divides by the replica count), and the same behavior passed to the HPA KEDA creates.</item>
/// </list>
/// behavior: scale-up stabilization (a short window so a burst is not chased) and at most ScaleUpStep pods per period;
/// scale-down stabilization longer than a TPU start-up and at most ScaleDownStep pods per period, so a replica that
/// took minutes to load is not dropped on a short lull.
/// </summary>
public static class AutoscalingBuilder
{
    public const string GmpPrefix = "prometheus.googleapis.com|";
    public const string KedaApiVersion = "keda.sh/v1alpha1";
    public const string HpaApiVersion = "autoscaling/v2";

    public static string WorkloadName(string service) => service + "-kserve";
    public static string AutoscalerName(string service) => service + "-autoscaler";

    public static string VllmMetric(AutoscalingSignal s) => s switch
    {
        AutoscalingSignal.RequestsWaiting => "vllm:num_requests_waiting",
        AutoscalingSignal.KvCacheUsage => "vllm:kv_cache_usage_perc",
        AutoscalingSignal.RequestsRunning => "vllm:num_requests_running",
        _ => "inference_pool_average_queue_size",
    };

    public static double TargetOf(AutoscalingPlan p, AutoscalingSignal s) => s switch
    {
        AutoscalingSignal.RequestsWaiting => p.RequestsWaitingTarget,
        AutoscalingSignal.KvCacheUsage => p.KvCacheUsageTarget,
        AutoscalingSignal.RequestsRunning => p.RequestsRunningTarget,
        _ => p.PoolQueueSizeTarget,
    };

    /// <summary>The adapter's metric name (HPA) or the PromQL query (KEDA) for a signal.</summary>
    public static string MetricFor(AutoscalingPlan p, AutoscalingSignal s, AutoscalingBackend backend) => backend == AutoscalingBackend.Keda
        ? s == AutoscalingSignal.PoolQueueSize
            ? $"max(inference_pool_average_queue_size{{namespace=\"{p.Namespace}\",name=\"{p.Name}-inference-pool\"}})"
            : $"sum({VllmMetric(s)}{{namespace=\"{p.Namespace}\",pod=~\"{WorkloadName(p.Name)}-[a-z0-9]+-[a-z0-9]+\"}})"
        : $"{GmpPrefix}{VllmMetric(s)}|gauge";

    /// <summary>A resource.Quantity for a target: "5", "800m".</summary>
    public static string Quantity(double v)
    {
        var milli = (long)Math.Round(v * 1000, MidpointRounding.AwayFromZero);
        return milli % 1000 == 0 ? (milli / 1000).ToString(CultureInfo.InvariantCulture) : milli.ToString(CultureInfo.InvariantCulture) + "m";
    }

    private static JsonObject Labels(AutoscalingPlan p) => new()
    {
        ["app.kubernetes.io/name"] = p.Name, ["app.kubernetes.io/component"] = "llminferenceservice-autoscaler",
        ["app.kubernetes.io/managed-by"] = "rhaiigke",
    };

    private static JsonObject ScaleTargetRef(AutoscalingPlan p) => new() { ["apiVersion"] = "apps/v1", ["kind"] = "Deployment", ["name"] = WorkloadName(p.Name) };

    public static JsonObject Behavior(AutoscalingPlan p) => new()
    {
        ["scaleUp"] = new JsonObject
        {
            ["stabilizationWindowSeconds"] = (int)p.ScaleUpStabilization.TotalSeconds,
            ["selectPolicy"] = "Max",
            ["policies"] = new JsonArray(new JsonObject { ["type"] = "Pods", ["value"] = p.ScaleUpStep, ["periodSeconds"] = (int)p.ScalePeriod.TotalSeconds }),
        },
        ["scaleDown"] = new JsonObject
        {
            ["stabilizationWindowSeconds"] = (int)p.ScaleDownStabilization.TotalSeconds,
            ["selectPolicy"] = "Max",
            ["policies"] = new JsonArray(new JsonObject { ["type"] = "Pods", ["value"] = p.ScaleDownStep, ["periodSeconds"] = (int)p.ScalePeriod.TotalSeconds }),
        },
    };

    public static JsonObject Hpa(AutoscalingPlan p)
    {
        var metrics = new JsonArray();
        foreach (var s in p.Signals)
            metrics.Add(s == AutoscalingSignal.PoolQueueSize
                ? new JsonObject
                {
                    // the EPP's pool gauge is one series per pool, not per pod: an External metric with a Value target
                    ["type"] = "External",
                    ["external"] = new JsonObject
                    {
                        ["metric"] = new JsonObject
                        {
                            ["name"] = MetricFor(p, s, AutoscalingBackend.HorizontalPodAutoscaler),
                            ["selector"] = new JsonObject
                            {
                                ["matchLabels"] = new JsonObject { ["resource.labels.namespace"] = p.Namespace, ["metric.labels.name"] = p.Name + "-inference-pool" },
                            },
                        },
                        ["target"] = new JsonObject { ["type"] = "Value", ["value"] = Quantity(TargetOf(p, s)) },
                    },
                }
                : new JsonObject
            {
                ["type"] = "Pods",
                ["pods"] = new JsonObject
                {
                    ["metric"] = new JsonObject { ["name"] = MetricFor(p, s, AutoscalingBackend.HorizontalPodAutoscaler) },
                    ["target"] = new JsonObject { ["type"] = "AverageValue", ["averageValue"] = Quantity(TargetOf(p, s)) },
                },
            });
        return new JsonObject
        {
            ["apiVersion"] = HpaApiVersion, ["kind"] = "HorizontalPodAutoscaler",
            ["metadata"] = new JsonObject { ["name"] = AutoscalerName(p.Name), ["namespace"] = p.Namespace, ["labels"] = Labels(p) },
            ["spec"] = new JsonObject
            {
                ["scaleTargetRef"] = ScaleTargetRef(p),
                ["minReplicas"] = p.MinReplicas, ["maxReplicas"] = p.MaxReplicas,
                ["metrics"] = metrics,
                ["behavior"] = Behavior(p),
            },
        };
    }

    public static JsonObject ScaledObject(AutoscalingPlan p)
    {
        var triggers = new JsonArray();
        foreach (var s in p.Signals)
            triggers.Add(new JsonObject
            {
                ["type"] = "prometheus",
                ["name"] = VllmMetric(s).Replace(':', '-').Replace('_', '-'),
                ["metricType"] = s == AutoscalingSignal.PoolQueueSize ? "Value" : "AverageValue",
                ["metadata"] = new JsonObject
                {
                    ["serverAddress"] = p.PrometheusUrl ?? "",
                    ["query"] = MetricFor(p, s, AutoscalingBackend.Keda),
                    ["threshold"] = TargetOf(p, s).ToString(CultureInfo.InvariantCulture),
                    ["activationThreshold"] = "0",
                },
            });
        var spec = new JsonObject
        {
            ["scaleTargetRef"] = ScaleTargetRef(p),
            ["minReplicaCount"] = p.MinReplicas, ["maxReplicaCount"] = p.MaxReplicas,
            ["pollingInterval"] = 15,
            ["advanced"] = new JsonObject
            {
                ["horizontalPodAutoscalerConfig"] = new JsonObject { ["name"] = AutoscalerName(p.Name), ["behavior"] = Behavior(p) },
            },
            ["triggers"] = triggers,
        };
        // cooldownPeriod only applies to the last replica (to zero); the HPA's scale-down window covers the rest
        if (p.MinReplicas == 0) spec["cooldownPeriod"] = (int)p.ScaleDownStabilization.TotalSeconds;
        return new JsonObject
        {
            ["apiVersion"] = KedaApiVersion, ["kind"] = "ScaledObject",
            ["metadata"] = new JsonObject { ["name"] = AutoscalerName(p.Name), ["namespace"] = p.Namespace, ["labels"] = Labels(p) },
            ["spec"] = spec,
        };
    }

    public static IReadOnlyList<AutoscalingMetric> Metrics(AutoscalingPlan p, AutoscalingBackend backend) =>
        p.Signals.Select(s => new AutoscalingMetric { Signal = s, Metric = MetricFor(p, s, backend), Target = TargetOf(p, s) }).ToList();
}
