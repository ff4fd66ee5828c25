using System.Management.Automation;
using RhaiiGke.Cmdlets.Platform;
using RhaiiGke.Engine.Serving.Monitoring;
using RhaiiGke.Validation;

namespace RhaiiGke.Cmdlets.Serving;

/// <summary>
/// Sets up monitoring for a service: scrape targets for vLLM, the EPP and the gateway (Managed Prometheus
/// PodMonitoring or Prometheus Operator PodMonitor), alert rules, KServe's own monitoring switch, and a Grafana dashboard.
/// </summary>
[Cmdlet(VerbsLifecycle.Enable, "LlmInferenceServiceMonitoring", SupportsShouldProcess = true)]
[OutputType(typeof(LlmInferenceServiceMonitoring))]
public sealed class EnableLlmInferenceServiceMonitoringCommand : NamedServiceCmdlet
{
    [Parameter]
    public MonitoringBackend Backend { get; set; } = MonitoringBackend.Auto;

    /// <summary>Seconds of p99 time to first token above which LlmServiceTtftP99High fires.</summary>
    [Parameter]
    public double TtftP99Threshold { get; set; } = 2.0;

    [Parameter]
    public double QueueDepthThreshold { get; set; } = 10;

    /// <summary>Fraction (0-1) of KV cache in use above which LlmServiceKvCacheSaturated fires.</summary>
    [Parameter]
    public double KvCacheUsageThreshold { get; set; } = 0.9;

    [Parameter]
    public int RestartThreshold { get; set; } = 1;

    /// <summary>Fraction (0-1) of 5xx gateway responses above which LlmServiceGateway5xxHigh fires.</summary>
    [Parameter]
    public double Gateway5xxThreshold { get; set; } = 0.05;

    [Parameter]
    public TimeSpan AlertFor { get; set; } = TimeSpan.FromMinutes(5);

    [Parameter]
    [ValidateTimeout]
    public TimeSpan ScrapeInterval { get; set; } = TimeSpan.FromSeconds(30);

    [Parameter]
    public string GatewayName { get; set; } = "inference-gateway";

    [Parameter]
    public string GatewayNamespace { get; set; } = "opendatahub";

    /// <summary>Namespace of the KServe controller whose LLMISVC_MONITORING_DISABLED is turned off.</summary>
    [Parameter]
    public string KServeNamespace { get; set; } = "opendatahub";

    [Parameter]
    public SwitchParameter SkipKServeMonitoring { get; set; }

    [Parameter]
    public SwitchParameter SkipVllmCertificateCheck { get; set; }

    [Parameter]
    public string? DashboardPath { get; set; }

    [Parameter]
    public string? RulesPath { get; set; }

    [Parameter]
    public string? ScrapeConfigPath { get; set; }

    [Parameter]
    [ValidateTimeout]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(10);

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        var thresholds = new MonitoringThresholds
        {
            TtftP99Seconds = TtftP99Threshold, QueueDepth = QueueDepthThreshold, KvCacheUsage = KvCacheUsageThreshold,
            Restarts = RestartThreshold, Gateway5xxRatio = Gateway5xxThreshold, For = AlertFor,
        };
        MonitoringInstaller.Validate(thresholds); // before anything else, even before a connection is needed
        var connection = Connection;
        var dryRun = !ShouldProcess($"{Namespace}/{Name} on {connection.Name}",
            $"Apply scrape targets and alert rules ({(Backend == MonitoringBackend.Auto ? "the monitoring stack the cluster serves" : Backend.ToString())}){(SkipKServeMonitoring ? "" : ", and turn KServe's LLMInferenceService monitoring on where the cluster supports it")}");
        if (dryRun && !MyInvocation.BoundParameters.ContainsKey("WhatIf")) return;
        var plan = new MonitoringPlan
        {
            Name = Name, Namespace = Namespace, GatewayName = GatewayName, GatewayNamespace = GatewayNamespace,
            Thresholds = thresholds, ScrapeInterval = ScrapeInterval, SkipVllmCertificateCheck = SkipVllmCertificateCheck,
        };
        var files = new MonitoringFiles(
            DashboardPath is null ? null : GetUnresolvedProviderPathFromPSPath(DashboardPath),
            RulesPath is null ? null : GetUnresolvedProviderPathFromPSPath(RulesPath),
            ScrapeConfigPath is null ? null : GetUnresolvedProviderPathFromPSPath(ScrapeConfigPath));
        var options = new KubeApplyOptions { DryRun = dryRun, Timeout = Timeout };
        ClusterSession.TuneForSandbox(connection, options);
        LlmInferenceServiceMonitoring result;
        try { result = await MonitoringInstaller.EnableAsync(connection, plan, Backend, !SkipKServeMonitoring, KServeNamespace, files, options, this, cancellationToken); }
        finally { ReportProgress(1, "Enable-LlmInferenceServiceMonitoring", "Done", 100, completed: true); }
        WriteVerbose(result.MutatingRequests == 0 && !dryRun
            ? $"{Namespace}/{Name}: monitoring was already in place; nothing sent."
            : $"{Namespace}/{Name}: {result.Objects.Count} object(s), {result.MutatingRequests} request(s).");
        WriteObject(result);
    }
}
