using System.Management.Automation;
using RhaiiGke.Engine.Inference;

namespace RhaiiGke.Cmdlets.Inference;

/// <summary>Proves that the gateway sends shared prefixes to warm replicas, from cached_tokens and prefix-cache counters.</summary>
[Cmdlet(VerbsDiagnostic.Test, "InferenceCacheRouting")]
[OutputType(typeof(TestInferenceCacheRoutingResult))]
public sealed class TestInferenceCacheRoutingCommand : RhaiiCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Url", "Uri", "Endpoint", "GatewayUrl")]
    [ValidateNotNullOrEmpty]
    public string BaseUrl { get; set; } = "";

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("ReplicaUrls", "PodUrls")]
    [ValidateNotNull]
    public string[] PodUrl { get; set; } = [];

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("MetricsUrls")]
    [ValidateNotNull]
    public string[] MetricsUrl { get; set; } = [];

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("ModelName", "ServedModelName")]
    public string? Model { get; set; }

    /// <summary>
    /// A model-routed URL (New-InferenceModelRoute): test each of these models in turn, sending X-Gateway-Model-Name with
    /// every request (so the /metrics scrape through the gateway reaches that model's pods); one result per model. Binds
    /// from the route object's Models.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Models")]
    public string[]? RoutedModel { get; set; }

    [Parameter]
    [ValidateRange(1, 1000)]
    public int Groups { get; set; } = 4;

    [Parameter]
    [ValidateRange(2, 1000)]
    public int RequestsPerGroup { get; set; } = 8;

    [Parameter]
    [ValidateRange(16, 1000000)]
    public int PrefixTokens { get; set; } = 1024;

    [Parameter]
    [ValidateRange(1, 100000)]
    public int SuffixTokens { get; set; } = 32;

    [Parameter]
    [ValidateRange(1, 4096)]
    public int OutputTokens { get; set; } = 4;

    [Parameter]
    [ValidateRange(0.0, 1.0)]
    public double Threshold { get; set; } = 0.5;

    [Parameter]
    public int Seed { get; set; }

    [Parameter]
    [ValidateRange(1, 86400)]
    public int TimeoutSec { get; set; } = 120;

    /// <summary>Bearer token for the endpoint, as a SecureString (a plain string is accepted and converted); never written to output, streams, errors or files.</summary>
    [Parameter]
    [SecureStringTransformation]
    public System.Security.SecureString? ApiKey { get; set; }

    [Parameter]
    public SwitchParameter SkipCertificateCheck { get; set; }

    /// <summary>Send -ApiKey over plain http to a non-loopback host (refused otherwise, as Invoke-RestMethod does).</summary>
    [Parameter]
    public SwitchParameter AllowUnencryptedAuthentication { get; set; }

    protected override Task ProcessRecordAsync(CancellationToken cancellationToken) =>
        RoutedModels.ForEachAsync(RoutedModel, Model, (model, header) => TestOneAsync(model, header, cancellationToken));

    private async Task TestOneAsync(string? model, bool modelHeader, CancellationToken cancellationToken)
    {
        var result = await CacheRoutingTester.TestAsync(new CacheRoutingOptions
        {
            BaseUrl = BaseUrl,
            PodUrls = PodUrl,
            MetricsUrls = MetricsUrl,
            Model = model,
            ModelHeader = modelHeader,
            ApiKey = ApiKey,
            Groups = Groups,
            RequestsPerGroup = RequestsPerGroup,
            PrefixTokens = PrefixTokens,
            SuffixTokens = SuffixTokens,
            OutputTokens = OutputTokens,
            Threshold = Threshold,
            Seed = MyInvocation.BoundParameters.ContainsKey(nameof(Seed)) ? Seed : null,
            Timeout = TimeSpan.FromSeconds(TimeoutSec),
            SkipCertificateCheck = SkipCertificateCheck,
            AllowUnencryptedAuthentication = AllowUnencryptedAuthentication,
        }, this, cancellationToken);
        ReportProgress(1, "Test-InferenceCacheRouting", "done", 100, completed: true);
        foreach (var w in result.Warnings) WriteWarning(w);
        WriteObject(result);
    }
}
