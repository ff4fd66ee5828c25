using RhaiiGke.Engine.Manifests.Lint.Rules;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace RhaiiGke.Engine.Manifests.Lint;

/// <summary>YAML to lint: the text and, when it came from a file, the file's full path.</summary>
public sealed record ManifestSource(string? File, string Yaml)
{
    /// <summary>Reads a file (UTF-8) into a source.</summary>
    public static ManifestSource FromFile(string path) => new(Path.GetFullPath(path), System.IO.File.ReadAllText(path));
}

/// <summary>
/// Lints Kubernetes YAML for KServe LLMInferenceService on GKE TPU: LLMInferenceService and
/// LLMInferenceServiceConfig (serving.kserve.io/v1alpha1), and the pod specs of Deployments,
/// StatefulSets, Jobs, LeaderWorkerSets and Pods. All sources of one call are linted together, so a
/// ServiceAccount in one file answers for a service in another.
/// </summary>
public static class ManifestLinter
{
    private static readonly NothingCheckedRule NothingChecked = new(); // before AllRules: static fields initialize in order

    private static readonly LintRule[] AllRules =
    [
        new TpuAcceleratorLabelUnknownRule(),
        new TpuTopologyUnknownRule(),
        new TpuNodeSelectorIncompleteRule(),
        new TpuChipCountMismatchRule(),
        new TpuRequestLimitMismatchRule(),
        new TpuTolerationMissingRule(),
        new TpuHostBoundsMismatchRule(),
        new ModelExceedsHbmRule(),
        new TensorParallelMismatchRule(),
        new ServedModelNameLostRule(),
        new ModelPathOverriddenRule(),
        new ServingTlsDroppedRule(),
        new Float16OnTpuRule(),
        new PrefixCacheBlockSizeOnTpuRule(),
        new GpuImageOnTpuRule(),
        new TpuImageOnGpuRule(),
        new GpuTolerationMissingRule(),
        new GpuRequestMismatchRule(),
        new GpuAcceleratorLabelUnknownRule(),
        new AdditionalArgsIgnoredRule(),
        new ProbeBudgetTooShortRule(),
        new ProbeSchemeMismatchRule(),
        new ModelUriUnsupportedRule(),
        new HfTokenNotOnServiceAccountRule(),
        new LiteralSecretInManifestRule(),
        new ContainerNotMergedRule(),
        new ParallelismInvalidRule(),
        new RouterInvalidRule(),
        new SidecarInjectionRule(),
        new ApiVersionUnsupportedRule(),
        new ServedModelNameDefaultedRule(),
        new ServiceStoppedRule(),
        new KindOutsideServiceRule(),
        new IntegerOutOfRangeRule(),
        NothingChecked,
    ];

    /// <summary>Every rule, in ID order.</summary>
    public static IReadOnlyList<LintRuleInfo> Rules { get; } = AllRules.Select(r => r.Info).OrderBy(r => r.Id, StringComparer.Ordinal).ToList();

    internal static IReadOnlyList<LintRule> RuleObjects => AllRules;

    /// <summary>
    /// Lints several sources as one set. A source whose YAML does not parse gets a result with
    /// <see cref="TestManifestResult.ParseError"/> (ErrorId <c>ManifestYamlInvalid</c>) and no findings.
    /// </summary>
    public static IReadOnlyList<TestManifestResult> Lint(IEnumerable<ManifestSource> sources, CancellationToken cancellationToken = default)
    {
        var parsed = new List<(ManifestSource Source, List<LintDocument> Docs, RhaiiException? Error)>();
        foreach (var source in sources)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                parsed.Add((source, Parse(parsed.Count, source), null));
            }
            catch (RhaiiException ex)
            {
                parsed.Add((source, [], ex));
            }
        }

        var ctx = new LintContext(parsed.SelectMany(p => p.Docs).ToList());
        foreach (var doc in ctx.Documents)
        {
            cancellationToken.ThrowIfCancellationRequested();
            foreach (var rule in AllRules)
            {
                rule.CheckObject(doc, ctx);
                foreach (var pod in doc.Pods) rule.CheckPod(pod, ctx);
            }
        }

        // a run that checked nothing must not pass as "no findings" (every source read, none had anything to check, nothing reported)
        var nothingChecked = parsed.Count > 0 && parsed.All(p => p.Error is null) && !ctx.Documents.Any(d => d.IsChecked) && !ctx.Findings.Any();
        return parsed.Select((p, i) => new TestManifestResult
        {
            File = p.Source.File,
            ObjectCount = p.Docs.Count,
            CheckedObjectCount = p.Docs.Count(d => d.IsChecked),
            ParseError = p.Error,
            Findings = nothingChecked ? [.. ctx.FindingsOf(i), NothingChecked.For(p.Source.File, p.Docs.Count)] : ctx.FindingsOf(i),
        }).ToList();
    }

    /// <summary>Lints YAML text; throws <see cref="RhaiiException"/> (ManifestYamlInvalid) when it does not parse.</summary>
    public static IReadOnlyList<ManifestFinding> LintYaml(string yaml, string? file = null)
    {
        var result = Lint([new ManifestSource(file, yaml)]).Single();
        if (result.ParseError is not null) throw result.ParseError;
        return result.Findings;
    }

    /// <summary>
    /// Lints files and folders (folders: every *.yaml and *.yml below them) as one set; throws
    /// <see cref="RhaiiException"/> for a missing path (ManifestPathNotFound) or unparsable YAML.
    /// </summary>
    public static IReadOnlyList<ManifestFinding> LintFiles(IEnumerable<string> paths)
    {
        var sources = ExpandFiles(paths).Select(ManifestSource.FromFile).ToList();
        var results = Lint(sources);
        if (results.FirstOrDefault(r => r.ParseError is not null) is { } bad) throw bad.ParseError!;
        return results.SelectMany(r => r.Findings).ToList();
    }

    /// <summary>Files for the given paths: files as they are, folders expanded recursively to *.yaml and *.yml (sorted).</summary>
    public static IReadOnlyList<string> ExpandFiles(IEnumerable<string> paths)
    {
        var files = new List<string>();
        foreach (var p in paths)
        {
            var full = Path.GetFullPath(p);
            if (Directory.Exists(full)) files.AddRange(YamlFilesUnder(full));
            else if (System.IO.File.Exists(full)) files.Add(full);
            else throw PathNotFound(p);
        }
        return files.Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>Every *.yaml and *.yml file below a folder, in ordinal path order.</summary>
    public static IReadOnlyList<string> YamlFilesUnder(string directory) =>
        Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".yml", StringComparison.OrdinalIgnoreCase))
            .OrderBy(f => f, StringComparer.Ordinal)
            .ToList();

    /// <summary>The error for a path that does not exist.</summary>
    public static RhaiiException PathNotFound(string path) =>
        new("ManifestPathNotFound", RhaiiErrorCategory.ObjectNotFound,
            $"Cannot find manifest path '{path}' because it does not exist.",
            "Check the path; folders are searched recursively for *.yaml and *.yml files.", path);

    private static List<LintDocument> Parse(int index, ManifestSource source)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(YamlLimits.Bound(new Parser(new StringReader(source.Yaml)), source.Yaml.Length, source.File));
        }
        catch (Exception ex) when (ex is YamlException or InvalidOperationException or ArgumentException)
        {
            var mark = (ex as YamlException)?.Start;
            var where = mark is { Line: > 0 } m ? $"line {m.Line}, column {m.Column}" : "an unknown position";
            var name = source.File is null ? "The YAML text" : $"'{source.File}'";
            var detail = ex is YamlException ? ex.Message : "the YAML structure is malformed (an unclosed bracket or quote?)";
            throw new RhaiiException("ManifestYamlInvalid", RhaiiErrorCategory.ParserError,
                $"{name} is not valid YAML at {where}: {detail}",
                "Fix the YAML syntax there (kubectl apply --dry-run=client -f <file> reports the same problem).",
                source.File ?? "<yaml>", ex);
        }

        var docs = new List<LintDocument>();
        foreach (var d in stream.Documents)
        {
            var root = YamlView.Root(d.RootNode);
            if (!root.IsMapping) continue;
            if (root.Str("kind") is "List" or "ConfigList" || (root.Str("kind")?.EndsWith("List", StringComparison.Ordinal) == true && root["items"] is not null))
            {
                foreach (var item in root["items"]?.Items ?? [])
                    if (item.IsMapping && item.Str("kind") is not null)
                        docs.Add(new LintDocument(index, source.File, YamlView.Root(item.Node)));
                continue;
            }
            if (root.Str("kind") is null) continue;
            docs.Add(new LintDocument(index, source.File, root));
        }
        return docs;
    }
}
