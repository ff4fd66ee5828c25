using System.Management.Automation;
using System.Text;
using RhaiiGke.Engine.Manifests;

namespace RhaiiGke.Cmdlets.Manifests;

/// <summary>Renders specs or whole patterns as YAML: objects on the pipeline, or one file per object.</summary>
[Cmdlet(VerbsData.Export, "RhaiiManifest", DefaultParameterSetName = SpecSet, SupportsShouldProcess = true)]
[OutputType(typeof(ManifestObject), typeof(ManifestFile))]
public sealed class ExportRhaiiManifestCommand : RhaiiCmdlet
{
    private const string SpecSet = "Spec";
    private const string PatternSet = "Pattern";
    private readonly List<ManifestObject> _objects = [];

    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = SpecSet)]
    public LlmInferenceServiceSpec[] InputObject { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = PatternSet)]
    public DeploymentPattern Pattern { get; set; }

    /// <summary>Folder to write one YAML file per object into. Without it, objects go to the pipeline.</summary>
    [Parameter(Position = 0)]
    [Alias("OutputPath", "Folder")]
    public string? Path { get; set; }

    /// <summary>With specs: also render the platform objects (PKI chain, gateway).</summary>
    [Parameter(ParameterSetName = SpecSet)]
    public SwitchParameter IncludePlatform { get; set; }

    /// <summary>With two or more specs: also render one model-routed URL for all of them (body-based router and HTTPRoute &lt;name&gt;-model-route).</summary>
    [Parameter(ParameterSetName = SpecSet)]
    [ValidateNotNullOrEmpty]
    public string? ModelRoute { get; set; }

    private readonly List<LlmInferenceServiceSpec> _specs = [];

    protected override Task ProcessRecordAsync(CancellationToken cancellationToken)
    {
        if (ParameterSetName == PatternSet)
        {
            var spec = SpecFactory.Create(PatternDefaults.For(Pattern), this);
            _objects.AddRange(ManifestBuilder.BuildPattern(spec));
            return Task.CompletedTask;
        }
        foreach (var spec in InputObject)
        {
            if (spec is null) continue;
            _specs.Add(spec);
            _objects.AddRange(IncludePlatform ? ManifestBuilder.BuildPattern(spec) : ManifestBuilder.BuildService(spec));
        }
        return Task.CompletedTask;
    }

    protected override Task EndProcessingAsync(CancellationToken cancellationToken)
    {
        if (ModelRoute is not null)
            _objects.AddRange(MultiModelBuilder.Build(ModelRoute, _specs.Select(MultiModelBuilder.MemberFromSpec).ToList(),
                _specs.FirstOrDefault()?.GatewayName ?? "inference-gateway", _specs.FirstOrDefault()?.GatewayNamespace ?? "opendatahub",
                _specs.FirstOrDefault()?.GatewayClass ?? InferenceGatewayClass.Istio));
        var objects = ManifestBuilder.Sort(_objects);
        if (Path is null)
        {
            foreach (var o in objects) WriteObject(o);
            return Task.CompletedTask;
        }
        var folder = GetUnresolvedProviderPathFromPSPath(Path);
        if (File.Exists(folder))
            Fail("ExportPathIsFile", RhaiiErrorCategory.InvalidArgument, $"'{folder}' is a file; -Path takes a folder.", "Give a folder path; it is created when missing.", Path);
        var written = 0;
        var i = 0;
        foreach (var o in objects)
        {
            i++;
            var file = System.IO.Path.Combine(folder, o.FileName);
            ReportProgress(2, "Export-RhaiiManifest", file, i * 100 / objects.Count);
            var same = File.Exists(file) && File.ReadAllText(file) == o.Yaml;
            if (!same && ShouldProcess(file, $"Write {o.Kind} {o.Name}"))
            {
                Directory.CreateDirectory(folder);
                File.WriteAllText(file, o.Yaml, new UTF8Encoding(false));
                written++;
            }
            if (same || File.Exists(file))
                WriteObject(new ManifestFile { Path = file, Kind = o.Kind, Name = o.Name, Namespace = o.Namespace, Order = o.Order, HasPlaceholders = o.HasPlaceholders });
        }
        ReportProgress(2, "Export-RhaiiManifest", "done", 100, completed: true);
        WriteVerbose($"{written} file(s) written, {objects.Count - written} unchanged or skipped in {folder}.");
        if (objects.Any(o => o.HasPlaceholders))
            WriteWarning($"Secrets were written with the placeholder '{ManifestBuilder.Placeholder}'; fill them in (or let Deploy-LlmInferenceService create them) before applying.");
        return Task.CompletedTask;
    }
}
