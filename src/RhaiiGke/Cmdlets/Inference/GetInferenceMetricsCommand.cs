using System.Management.Automation;
using RhaiiGke.Engine.Inference;

namespace RhaiiGke.Cmdlets.Inference;

/// <summary>Scrapes Prometheus metrics from vLLM pods or the EPP into typed samples, with deltas between scrapes.</summary>
[Cmdlet(VerbsCommon.Get, "InferenceMetrics")]
[OutputType(typeof(InferenceMetricSample))]
public sealed class GetInferenceMetricsCommand : RhaiiCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("BaseUrl", "MetricsUrl", "Uri")]
    [ValidateNotNullOrEmpty]
    public string[] Url { get; set; } = [];

    [Parameter(Position = 1)]
    [SupportsWildcards]
    public string[] Name { get; set; } = [];

    [Parameter]
    public InferenceMetricSample[]? Since { get; set; }

    [Parameter]
    [ValidateRange(0.1, 3600)]
    public double Interval { get; set; }

    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSec { get; set; } = 30;

    /// <summary>Bearer token for the endpoint, as a SecureString (a plain string is accepted and converted); never written to output, streams, errors or files.</summary>
    [Parameter]
    [SecureStringTransformation]
    public System.Security.SecureString? ApiKey { get; set; }

    [Parameter]
    public SwitchParameter SkipCertificateCheck { get; set; }

    /// <summary>Send -ApiKey over plain http to a non-loopback host (refused otherwise, as Invoke-RestMethod does).</summary>
    [Parameter]
    public SwitchParameter AllowUnencryptedAuthentication { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
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
}
