using System.Collections;
using System.Management.Automation;
using RhaiiGke.Engine.Inference;

namespace RhaiiGke.Cmdlets.Inference;

/// <summary>Benchmarks an OpenAI-compatible endpoint with vLLM's metric definitions.</summary>
[Cmdlet(VerbsLifecycle.Invoke, "InferenceBenchmark", SupportsShouldProcess = true)]
[OutputType(typeof(InferenceBenchmarkResult))]
public sealed class InvokeInferenceBenchmarkCommand : RhaiiCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Url", "Uri", "Endpoint")]
    [ValidateNotNullOrEmpty]
    public string BaseUrl { get; set; } = "";

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("ModelName", "ServedModelName")]
    public string? Model { get; set; }

    /// <summary>Several models through one model-routed URL: served model name → relative weight; every stage reports overall and per model.</summary>
    [Parameter]
    public Hashtable? ModelMix { get; set; }

    [Parameter]
    public InferenceBenchmarkProfile Profile { get; set; } = InferenceBenchmarkProfile.Concurrent;

    [Parameter]
    [ValidateRange(1, 100000)]
    public int[] Concurrency { get; set; } = [1];

    [Parameter]
    [ValidateRange(0.001, 1000000)]
    public double[] Rate { get; set; } = [1];

    [Parameter]
    [ValidateRange(0.01, 100)]
    public double Burstiness { get; set; } = 1;

    [Parameter]
    [ValidateRange(1, 100000)]
    public int MaxConcurrency { get; set; }

    [Parameter]
    [Alias("Requests")]
    [ValidateRange(1, 100000000)]
    public int NumPrompts { get; set; } = 200;

    [Parameter]
    [ValidateRange(0.1, 604800)]
    public double MaxDurationSeconds { get; set; }

    [Parameter]
    public InferenceDatasetKind Dataset { get; set; } = InferenceDatasetKind.Random;

    [Parameter]
    [ValidateRange(1, 10000000)]
    public int InputTokens { get; set; } = 256;

    [Parameter]
    [ValidateRange(1, 10000000)]
    public int OutputTokens { get; set; } = 128;

    [Parameter]
    [ValidateRange(0.0, 0.99)]
    public double RangeRatio { get; set; }

    [Parameter]
    [ValidateRange(0, 10000000)]
    public int PrefixTokens { get; set; }

    [Parameter]
    [ValidateRange(1, 100000)]
    public int NumPrefixes { get; set; } = 10;

    [Parameter]
    public string? DatasetPath { get; set; }

    [Parameter]
    public InferenceApi Api { get; set; } = InferenceApi.Chat;

    [Parameter]
    public int Seed { get; set; }

    [Parameter]
    public SwitchParameter NoStream { get; set; }

    [Parameter]
    public SwitchParameter NoIgnoreEos { get; set; }

    [Parameter]
    [ValidateRange(0, 1000)]
    public int Warmups { get; set; } = 1;

    [Parameter]
    [ValidateRange(1, 86400)]
    public int WarmupTimeout { get; set; } = 300;

    [Parameter]
    [ValidateRange(1, 86400)]
    public int RequestTimeout { get; set; } = 300;

    [Parameter]
    public Hashtable? Slo { get; set; }

    [Parameter]
    [ValidateRange(0.0, 1.0)]
    public double SloAttainment { get; set; } = 0.99;

    [Parameter]
    [ValidateRange(0.0, 100.0)]
    public double[] Percentile { get; set; } = [50, 90, 95, 99];

    [Parameter]
    [ValidateRange(1, 100)]
    public int SweepSteps { get; set; } = 5;

    [Parameter]
    public string Label { get; set; } = "rhaii";

    [Parameter]
    public string? OutputDirectory { get; set; }

    [Parameter]
    public SwitchParameter Detailed { get; set; }

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
    public Hashtable? Metadata { get; set; }

    private Dictionary<string, double>? ModelMixWeights()
    {
        if (ModelMix is null) return null;
        var mix = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (DictionaryEntry e in ModelMix)
        {
            var key = (e.Key is PSObject pk ? pk.BaseObject : e.Key)?.ToString() ?? "";
            var raw = e.Value is PSObject p ? p.BaseObject : e.Value;
            if (!double.TryParse(Convert.ToString(raw, System.Globalization.CultureInfo.InvariantCulture), System.Globalization.NumberStyles.Float,
                    System.Globalization.CultureInfo.InvariantCulture, out var w) || !(w > 0))
                Fail("InvalidModelMix", RhaiiErrorCategory.InvalidArgument, $"The weight of model '{key}' must be a positive number, got '{raw}'.",
                    "Use -ModelMix @{ 'Qwen/Qwen2.5-3B-Instruct' = 3; 'meta-llama/Llama-3.1-8B-Instruct' = 1 }.", key);
            mix[key] = w;
        }
        return mix;
    }

    protected override async Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        var slo = new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase);
        if (Slo is not null)
            foreach (DictionaryEntry e in Slo)
            {
                var key = e.Key?.ToString() ?? "";
                var raw = e.Value is PSObject p ? p.BaseObject : e.Value;
                if (!double.TryParse(Convert.ToString(raw, System.Globalization.CultureInfo.InvariantCulture), System.Globalization.NumberStyles.Float,
                        System.Globalization.CultureInfo.InvariantCulture, out var ms) || !(ms > 0))
                    Fail("InvalidSloValue", RhaiiErrorCategory.InvalidArgument, $"SLO '{key}' must be a positive number of milliseconds, got '{raw}'.",
                        "Use -Slo @{ ttft = 200; tpot = 50; e2el = 2000 }.", key);
                slo[key] = ms;
            }
        var stamp = DateTimeOffset.Now.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture);
        string? dir = null;
        if (OutputDirectory is not null) dir = GetUnresolvedProviderPathFromPSPath(OutputDirectory);
        var spec = new InferenceBenchmarkSpec
        {
            BaseUrl = BaseUrl,
            Model = Model,
            Api = Api,
            ApiKey = ApiKey,
            Profile = Profile,
            Concurrency = Concurrency,
            Rates = Rate,
            Burstiness = Burstiness,
            MaxConcurrency = MaxConcurrency > 0 ? MaxConcurrency : null,
            NumPrompts = NumPrompts,
            MaxDuration = MaxDurationSeconds > 0 ? TimeSpan.FromSeconds(MaxDurationSeconds) : null,
            // -DatasetPath alone implies -Dataset File; with another -Dataset the runner refuses it (DatasetPathIgnored)
            Dataset = DatasetPath is not null && !MyInvocation.BoundParameters.ContainsKey(nameof(Dataset)) ? InferenceDatasetKind.File : Dataset,
            InputTokens = InputTokens,
            OutputTokens = OutputTokens,
            RangeRatio = RangeRatio,
            PrefixTokens = PrefixTokens,
            NumPrefixes = NumPrefixes,
            DatasetPath = DatasetPath is null ? null : GetUnresolvedProviderPathFromPSPath(DatasetPath),
            Seed = Seed,
            Streaming = !NoStream,
            IgnoreEos = !NoIgnoreEos,
            Warmups = Warmups,
            WarmupTimeout = TimeSpan.FromSeconds(WarmupTimeout),
            RequestTimeout = TimeSpan.FromSeconds(RequestTimeout),
            Slo = slo,
            SloAttainment = SloAttainment,
            Percentiles = Percentile,
            SweepSteps = SweepSteps,
            Label = Label,
            Detailed = Detailed,
            SkipCertificateCheck = SkipCertificateCheck,
            AllowUnencryptedAuthentication = AllowUnencryptedAuthentication,
            RequestLogPath = dir is null ? null : Path.Combine(dir, $"{Label}-{stamp}.requests.jsonl"),
            ModelMix = ModelMixWeights(),
            Metadata = Metadata?.Cast<DictionaryEntry>().ToDictionary(e => e.Key.ToString() ?? "", e => e.Value?.ToString() ?? "") ?? [],
        };
        var runner = new InferenceBenchmarkRunner(spec, this);
        var what = $"{Profile} benchmark ({string.Join(", ", runner.PlannedStages)}{(Profile == InferenceBenchmarkProfile.Sweep ? ", then rates" : "")}; {NumPrompts} requests each)";
        if (!ShouldProcess(BaseUrl + (dir is null ? "" : $", writing results to {dir}"), what)) return;
        if (dir is not null) Directory.CreateDirectory(dir);
        var all = new List<InferenceBenchmarkResult>();
        var authReported = false;
        await foreach (var r in runner.RunAsync(cancellationToken))
        {
            all.Add(r);
            if (!authReported && RhaiiGke.Engine.Inference.InferenceAuthErrors.FromBenchmark(r, ApiKey is not null) is { } auth)
            {
                authReported = true;
                WriteError(auth);
            }
            if (dir is not null)
            {
                r.JsonPath = Path.Combine(dir, BenchmarkExport.FileName(r));
                await File.WriteAllTextAsync(r.JsonPath, BenchmarkExport.ToJson(r), cancellationToken);
                r.CsvPath = Path.Combine(dir, $"{Label}-{stamp}.csv");
                await File.WriteAllTextAsync(r.CsvPath, BenchmarkExport.ToCsv(all), cancellationToken);
            }
            WriteObject(r);
        }
        ReportProgress(1, "Invoke-InferenceBenchmark", "done", 100, completed: true);
        if (dir is not null && Profile == InferenceBenchmarkProfile.Sweep && all.Count > 0)
        {
            // Sweep marks the best stage only at the end: rewrite the files so they carry it.
            foreach (var r in all) await File.WriteAllTextAsync(r.JsonPath!, BenchmarkExport.ToJson(r), cancellationToken);
            await File.WriteAllTextAsync(all[0].CsvPath!, BenchmarkExport.ToCsv(all), cancellationToken);
        }
    }
}
