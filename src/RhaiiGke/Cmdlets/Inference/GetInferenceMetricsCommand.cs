using System.Management.Automation;
using RhaiiGke.Cmdlets.Platform;
using RhaiiGke.Engine.Inference;

namespace RhaiiGke.Cmdlets.Inference;

/// <summary>
/// Scrapes Prometheus metrics from vLLM pods or the EPP into typed samples, with deltas between scrapes; or, for an
/// LLMInferenceService, every vLLM pod and the EPP through the Kubernetes API's pods proxy, summarized per pod and
/// for the service (one object per scrape, live with -Interval/-Count).
/// </summary>
[Cmdlet(VerbsCommon.Get, "InferenceMetrics", DefaultParameterSetName = ServiceSet)]
[OutputType(typeof(InferenceMetricSample), ParameterSetName = new[] { UrlSet })]
[OutputType(typeof(InferenceServiceMetrics), ParameterSetName = new[] { ServiceSet, ServiceNameSet })]
public sealed class GetInferenceMetricsCommand : RhaiiCmdlet
{
    private const string UrlSet = "Url";
    private const string ServiceSet = "Service";
    private const string ServiceNameSet = "ServiceName";

    [Parameter(ParameterSetName = UrlSet, Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("BaseUrl", "MetricsUrl", "Uri")]
    [ValidateNotNullOrEmpty]
    public string[] Url { get; set; } = [];

    [Parameter(ParameterSetName = UrlSet, Position = 1)]
    [SupportsWildcards]
    public string[] Name { get; set; } = [];

    [Parameter(ParameterSetName = UrlSet)]
    public InferenceMetricSample[]? Since { get; set; }

    /// <summary>An LLMInferenceService (from Get-/Deploy-LlmInferenceService): its pods are scraped through the API server.</summary>
    [Parameter(ParameterSetName = ServiceSet, Mandatory = true, ValueFromPipeline = true)]
    public LlmInferenceService? Service { get; set; }

    /// <summary>The name of an LLMInferenceService to scrape.</summary>
    [Parameter(ParameterSetName = ServiceNameSet, Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string ServiceName { get; set; } = "";

    [Parameter(ParameterSetName = ServiceNameSet)]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = Engine.Manifests.SpecFactory.DefaultNamespace;

    /// <summary>Number of scrapes of a service (default 1; unlimited with -Interval alone, until Ctrl+C).</summary>
    [Parameter(ParameterSetName = ServiceSet)]
    [Parameter(ParameterSetName = ServiceNameSet)]
    [ValidateRange(1, int.MaxValue)]
    public int Count { get; set; }

    [Parameter(ParameterSetName = ServiceSet)]
    [Parameter(ParameterSetName = ServiceNameSet)]
    [Alias("Connection")]
    public ClusterConnection? Cluster { get; set; }

    [Parameter]
    [ValidateRange(0.1, 3600)]
    public double Interval { get; set; }

    [Parameter(ParameterSetName = UrlSet)]
    [ValidateRange(1, 3600)]
    public int TimeoutSec { get; set; } = 30;

    /// <summary>Bearer token for the endpoint, as a SecureString (a plain string is accepted and converted); never written to output, streams, errors or files.</summary>
    [Parameter(ParameterSetName = UrlSet)]
    [SecureStringTransformation]
    public System.Security.SecureString? ApiKey { get; set; }

    [Parameter(ParameterSetName = UrlSet)]
    public SwitchParameter SkipCertificateCheck { get; set; }

    /// <summary>Send -ApiKey over plain http to a non-loopback host (refused otherwise, as Invoke-RestMethod does).</summary>
    [Parameter(ParameterSetName = UrlSet)]
    public SwitchParameter AllowUnencryptedAuthentication { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        if (ParameterSetName != UrlSet)
        {
            await ServiceAsync(cancellationToken);
            return;
        }
        var patterns = Name.Select(n => new WildcardPattern(n, WildcardOptions.IgnoreCase)).ToList();
        bool Keep(InferenceMetricSample s) => patterns.Count == 0 || patterns.Any(p => p.IsMatch(s.Name) || p.IsMatch(s.Family));
        foreach (var url in Url)
        {
            List<InferenceMetricSample> samples;
            try
            {
                samples = await Scrape(url, cancellationToken);
                IReadOnlyList<InferenceMetricSample>? baseline = Since;
                if (Interval > 0)
                {
                    baseline = samples;
                    await Task.Delay(TimeSpan.FromSeconds(Interval), cancellationToken);
                    samples = await Scrape(url, cancellationToken);
                }
                if (baseline is not null) samples = PrometheusText.Delta(samples, baseline);
            }
            catch (RhaiiException ex)
            {
                WriteError(ex);
                continue;
            }
            foreach (var s in samples.Where(Keep)) WriteObject(s);
        }
    }

    private Task<List<InferenceMetricSample>> Scrape(string url, CancellationToken ct)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var u) || (u.Scheme != "http" && u.Scheme != "https"))
            throw new RhaiiException("InvalidInferenceUrl", RhaiiErrorCategory.InvalidArgument, $"'{url}' is not an http or https URL.",
                "Give a metrics URL such as http://10.0.0.5:8000/metrics or a base URL (then /metrics is used).", url);
        return MetricsScraper.ScrapeAsync(url, TimeSpan.FromSeconds(TimeoutSec), ct, ApiKey, SkipCertificateCheck, AllowUnencryptedAuthentication);
    }

    private async Task ServiceAsync(CancellationToken ct)
    {
        var (ns, name) = Service is { } svc ? (svc.Namespace, svc.Name) : (Namespace, ServiceName);
        var connection = ClusterSession.Resolve(Cluster);
        var collector = new ServiceMetricsCollector(connection, this);
        var count = Count > 0 ? Count : Interval > 0 ? int.MaxValue : 1;
        var interval = TimeSpan.FromSeconds(Interval > 0 ? Interval : 5);
        var targets = await collector.TargetsAsync(ns, name, ct);
        if (targets.Count == 0)
        {
            WriteError(new RhaiiException("InferenceServiceHasNoPods", RhaiiErrorCategory.ResourceUnavailable,
                $"LLMInferenceService {ns}/{name} has no running vLLM or EPP pods to scrape.",
                $"Get-LlmInferenceService -Namespace {ns} -Name {name} shows its stage; Wait-LlmInferenceService waits until it is Ready.", name));
            return;
        }
        ServiceMetricsCollector.Scrape? previous = null;
        for (var i = 1; i <= count; i++)
        {
            if (i > 1)
            {
                await Task.Delay(interval, ct);
                // pods come and go between scrapes (rollouts, scaling)
                targets = await collector.TargetsAsync(ns, name, ct);
            }
            var scrape = await collector.ScrapeAsync(ns, name, targets, ct);
            foreach (var (t, _, error) in scrape.Pods.Where(p => p.Error is not null && (i == 1 || previous?.Pods.Any(q => q.Target.Pod == p.Target.Pod && q.Error is null) != false)))
                WriteWarning($"{t.Role} pod {t.Pod}: {error}");
            WriteObject(ServiceMetricsCollector.Summarize(scrape, previous, i));
            previous = scrape;
        }
    }
}
