using System.Management.Automation;
using RhaiiGke.Engine.Inference;

namespace RhaiiGke.Cmdlets.Inference;

/// <summary>Checks an OpenAI-compatible inference endpoint the way a benchmark and the EPP will use it.</summary>
[Cmdlet(VerbsDiagnostic.Test, "InferenceEndpoint")]
[OutputType(typeof(TestInferenceEndpointResult))]
[OutputType(typeof(bool))]
public sealed class TestInferenceEndpointCommand : RhaiiCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Url", "Uri", "Endpoint")]
    [ValidateNotNullOrEmpty]
    public string BaseUrl { get; set; } = "";

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("ModelName", "ServedModelName")]
    public string? Model { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? MetricsUrl { get; set; }

    /// <summary>
    /// A model-routed URL (New-InferenceModelRoute): check each of these models, sending X-Gateway-Model-Name with
    /// every request; one result per model. Binds from the route object's Models.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Models")]
    public string[]? RoutedModel { get; set; }

    [Parameter]
    [ValidateRange(1, 86400)]
    public int WarmupTimeout { get; set; } = 300;

    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSec { get; set; } = 60;

    [Parameter]
    [ValidateRange(1, 4096)]
    public int MaxTokens { get; set; } = 8;

    /// <summary>Bearer token for the endpoint, as a SecureString (a plain string is accepted and converted); never written to output, streams, errors or files.</summary>
    [Parameter]
    [SecureStringTransformation]
    public System.Security.SecureString? ApiKey { get; set; }

    [Parameter]
    public SwitchParameter SkipCertificateCheck { get; set; }

    /// <summary>Send -ApiKey over plain http to a non-loopback host (refused otherwise, as Invoke-RestMethod does).</summary>
    [Parameter]
    public SwitchParameter AllowUnencryptedAuthentication { get; set; }

    [Parameter]
    public SwitchParameter Quiet { get; set; }

    protected override Task ProcessRecordAsync(CancellationToken cancellationToken) =>
        RoutedModels.ForEachAsync(RoutedModel, Model, (model, header) => TestOneAsync(model, header, cancellationToken));

    private async Task TestOneAsync(string? model, bool modelHeader, CancellationToken cancellationToken)
    {
        var result = await EndpointTester.TestAsync(new EndpointTestOptions
        {
            BaseUrl = BaseUrl,
            Model = model,
            ModelHeader = modelHeader,
            MetricsUrl = MetricsUrl,
            ApiKey = ApiKey,
            WarmupTimeout = TimeSpan.FromSeconds(WarmupTimeout),
            Timeout = TimeSpan.FromSeconds(TimeoutSec),
            MaxTokens = MaxTokens,
            SkipCertificateCheck = SkipCertificateCheck,
            AllowUnencryptedAuthentication = AllowUnencryptedAuthentication,
        }, this, cancellationToken);
        foreach (var c in result.Checks.Where(c => c.Status == InferenceCheckStatus.Warning)) WriteWarning($"{c.Name}: {c.Detail}");
        if (InferenceAuthErrors.FromStatusCodes(result.Checks.Select(c => c.StatusCode), result.BaseUrl, $"{BaseUrl}", ApiKey is not null) is { } auth) WriteError(auth);
        if (Quiet) WriteObject(result.Passed);
        else WriteObject(result);
    }
}
