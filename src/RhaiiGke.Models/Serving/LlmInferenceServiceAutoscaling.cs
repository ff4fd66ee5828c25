namespace RhaiiGke;

/// <summary>What scales the service's workload.</summary>
public enum AutoscalingBackend
{
    /// <summary>KEDA when the cluster serves keda.sh/v1alpha1 ScaledObject, else a HorizontalPodAutoscaler.</summary>
    Auto,
    /// <summary>An autoscaling/v2 HorizontalPodAutoscaler on Pods metrics from Managed Prometheus (the Custom Metrics Stackdriver Adapter).</summary>
    HorizontalPodAutoscaler,
    /// <summary>A KEDA ScaledObject with prometheus triggers (KEDA creates and drives the HPA).</summary>
    Keda,
}

/// <summary>A load signal the service scales on.</summary>
public enum AutoscalingSignal
{
    /// <summary>vllm:num_requests_waiting per pod: requests queued beyond the batch.</summary>
    RequestsWaiting,
    /// <summary>vllm:kv_cache_usage_perc per pod (0-1).</summary>
    KvCacheUsage,
    /// <summary>vllm:num_requests_running per pod (the batch in flight).</summary>
    RequestsRunning,
    /// <summary>The EPP's view of the pool: inference_pool_average_queue_size (KEDA only: a query over the pool, not a per-pod series).</summary>
    PoolQueueSize,
}

/// <summary>One metric of the autoscaler and its per-pod target.</summary>
public sealed class AutoscalingMetric
{
    public AutoscalingSignal Signal { get; init; }
    /// <summary>The metric name the autoscaler asks for (the adapter's name, or the PromQL query for KEDA).</summary>
    public string Metric { get; init; } = "";
    /// <summary>Target average per pod.</summary>
    public double Target { get; init; }
    public override string ToString() => $"{Signal}={Target}";
}

/// <summary>What Enable-LlmInferenceServiceAutoscaling set up (or Disable-LlmInferenceServiceAutoscaling removed) for one service.</summary>
public sealed class LlmInferenceServiceAutoscaling
{
    public string Name { get; init; } = "";
    public string Namespace { get; init; } = "";
    public AutoscalingBackend Backend { get; init; }
    /// <summary>Kind/name of the workload scaled (the Deployment KServe creates, &lt;name&gt;-kserve).</summary>
    public string ScaleTarget { get; init; } = "";
    public int MinReplicas { get; init; }
    public int MaxReplicas { get; init; }
    public RhaiiList<AutoscalingMetric> Metrics { get; init; } = [];
    /// <summary>How long load must stay high before more replicas are added (scaleUp.stabilizationWindowSeconds).</summary>
    public int ScaleUpStabilizationSeconds { get; init; }
    /// <summary>How long load must stay low before replicas are removed (scaleDown.stabilizationWindowSeconds): longer than a TPU start-up.</summary>
    public int ScaleDownStabilizationSeconds { get; init; }
    /// <summary>False after Disable-LlmInferenceServiceAutoscaling.</summary>
    public bool Enabled { get; init; }
    /// <summary>Current and desired replicas as the autoscaler last reported them (null on -WhatIf or before its first sync).</summary>
    public int? CurrentReplicas { get; init; }
    public int? DesiredReplicas { get; init; }
    /// <summary>Kind namespace/name of every object applied or deleted.</summary>
    public RhaiiList<KubeObjectResult> Objects { get; init; } = [];
    /// <summary>What else was done or has to be known (spec.replicas removed, scale-to-zero needs, ...).</summary>
    public RhaiiList<string> Notes { get; init; } = [];
    public int MutatingRequests { get; init; }
    public bool DryRun { get; init; }
    public string Cluster { get; init; } = "";
    public override string ToString() => Enabled
        ? $"{Namespace}/{Name}: {Backend} {MinReplicas}-{MaxReplicas} on {string.Join(", ", Metrics)}"
        : $"{Namespace}/{Name}: autoscaling off";
}
