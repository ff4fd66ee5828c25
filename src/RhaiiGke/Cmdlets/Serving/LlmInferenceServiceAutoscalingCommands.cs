using System.Management.Automation;
using RhaiiGke.Cmdlets.Platform;
using RhaiiGke.Engine.Serving.Autoscaling;
using RhaiiGke.Validation;

namespace RhaiiGke.Cmdlets.Serving;

/// <summary>
/// Scales a service's workload on its own load signals (vLLM waiting requests, KV-cache usage, running requests, the EPP's
/// pool queue) between -MinReplicas and -MaxReplicas: an autoscaling/v2 HorizontalPodAutoscaler on Managed Prometheus
/// metrics, or a KEDA ScaledObject where KEDA is installed, with stabilization windows sized for TPU start-up.
/// </summary>
[Cmdlet(VerbsLifecycle.Enable, "LlmInferenceServiceAutoscaling", SupportsShouldProcess = true)]
[OutputType(typeof(LlmInferenceServiceAutoscaling))]
public sealed class EnableLlmInferenceServiceAutoscalingCommand : NamedServiceCmdlet
{
    [Parameter]
    [ValidateRange(0, 1000)]
    public int MinReplicas { get; set; } = 1;

    [Parameter]
    [ValidateRange(1, 1000)]
    public int MaxReplicas { get; set; } = 4;

    [Parameter]
    public AutoscalingSignal[] Signal { get; set; } = [AutoscalingSignal.RequestsWaiting, AutoscalingSignal.KvCacheUsage];

    /// <summary>Average vllm:num_requests_waiting per pod to aim for.</summary>
    [Parameter]
    public double RequestsWaitingTarget { get; set; } = 5;

    /// <summary>Average vllm:kv_cache_usage_perc per pod to aim for (0-1).</summary>
    [Parameter]
    public double KvCacheUsageTarget { get; set; } = 0.8;

    [Parameter]
    public double RequestsRunningTarget { get; set; } = 32;

    [Parameter]
    public double PoolQueueSizeTarget { get; set; } = 5;

    [Parameter]
    public TimeSpan ScaleUpStabilization { get; set; } = TimeSpan.FromSeconds(60);

    [Parameter]
    public TimeSpan ScaleDownStabilization { get; set; } = TimeSpan.FromMinutes(10);

    [Parameter]
    [ValidateRange(1, 1000)]
    public int ScaleUpStep { get; set; } = 2;

    [Parameter]
    [ValidateRange(1, 1000)]
    public int ScaleDownStep { get; set; } = 1;

    [Parameter]
    public TimeSpan ScalePeriod { get; set; } = TimeSpan.FromSeconds(60);

    [Parameter]
    public AutoscalingBackend Backend { get; set; } = AutoscalingBackend.Auto;

    [Parameter]
    public string? PrometheusUrl { get; set; }

    [Parameter]
    public SwitchParameter AllowScaleToZero { get; set; }

    [Parameter]
    [ValidateTimeout]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(5);

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        var plan = new AutoscalingPlan
        {
            Name = Name, Namespace = Namespace, MinReplicas = MinReplicas, MaxReplicas = MaxReplicas, Signals = Signal.Distinct().ToList(),
            RequestsWaitingTarget = RequestsWaitingTarget, KvCacheUsageTarget = KvCacheUsageTarget, RequestsRunningTarget = RequestsRunningTarget,
            PoolQueueSizeTarget = PoolQueueSizeTarget, ScaleUpStabilization = ScaleUpStabilization, ScaleDownStabilization = ScaleDownStabilization,
            ScaleUpStep = ScaleUpStep, ScaleDownStep = ScaleDownStep, ScalePeriod = ScalePeriod, AllowScaleToZero = AllowScaleToZero, PrometheusUrl = PrometheusUrl,
        };
        AutoscalingInstaller.Validate(plan); // before a connection is needed
        var connection = Connection;
        var dryRun = !ShouldProcess($"{Namespace}/{Name} on {connection.Name}",
            $"Scale Deployment {AutoscalingBuilder.WorkloadName(Name)} between {MinReplicas} and {MaxReplicas} replicas on {string.Join(", ", plan.Signals)} ({(Backend == AutoscalingBackend.Auto ? "KEDA where installed, else an HPA" : Backend.ToString())}), and remove spec.replicas from the service if it is set");
        if (dryRun && !MyInvocation.BoundParameters.ContainsKey("WhatIf")) return;
        var options = new KubeApplyOptions { DryRun = dryRun, Timeout = Timeout, Wait = false };
        ClusterSession.TuneForSandbox(connection, options);
        LlmInferenceServiceAutoscaling result;
        try { result = await AutoscalingInstaller.EnableAsync(connection, plan, Backend, options, this, cancellationToken); }
        finally { ReportProgress(1, "Enable-LlmInferenceServiceAutoscaling", "Done", 100, completed: true); }
        WriteVerbose(result.MutatingRequests == 0 && !dryRun
            ? $"{Namespace}/{Name}: the autoscaler was already in place; nothing sent."
            : $"{Namespace}/{Name}: {result.Objects.Count} object(s), {result.MutatingRequests} request(s).");
        WriteObject(result);
    }
}

/// <summary>Removes the autoscaler of a service (HPA or KEDA ScaledObject); optionally pins a replica count on the service.</summary>
[Cmdlet(VerbsLifecycle.Disable, "LlmInferenceServiceAutoscaling", SupportsShouldProcess = true)]
[OutputType(typeof(LlmInferenceServiceAutoscaling))]
public sealed class DisableLlmInferenceServiceAutoscalingCommand : NamedServiceCmdlet
{
    /// <summary>Write this spec.replicas on the service after removing the autoscaler (otherwise the workload keeps its current count).</summary>
    [Parameter]
    [ValidateRange(0, 1000)]
    public int Replicas { get; set; }

    [Parameter]
    [ValidateTimeout]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(5);

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        var connection = Connection;
        int? replicas = MyInvocation.BoundParameters.ContainsKey(nameof(Replicas)) ? Replicas : null;
        var dryRun = !ShouldProcess($"{Namespace}/{Name} on {connection.Name}",
            $"Delete the autoscaler {AutoscalingBuilder.AutoscalerName(Name)}{(replicas is null ? "" : $" and set spec.replicas to {replicas}")}");
        if (dryRun && !MyInvocation.BoundParameters.ContainsKey("WhatIf")) return;
        var options = new KubeApplyOptions { DryRun = dryRun, Timeout = Timeout, Wait = false };
        ClusterSession.TuneForSandbox(connection, options);
        LlmInferenceServiceAutoscaling result;
        try { result = await AutoscalingInstaller.DisableAsync(connection, Namespace, Name, replicas, options, this, cancellationToken); }
        finally { ReportProgress(1, "Disable-LlmInferenceServiceAutoscaling", "Done", 100, completed: true); }
        WriteObject(result);
    }
}
