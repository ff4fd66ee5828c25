namespace RhaiiGke.Engine.Serving.Diagnosis;

/// <summary>Loads snapshots from dump files (kubectl get -o json/yaml output, single objects or Lists) and support bundles (zip).</summary>
public static class SnapshotLoader
{
    /// <summary>Files as given, folders expanded recursively to their .json, .yaml and .yml files.</summary>
    public static IEnumerable<string> Expand(IEnumerable<string> paths) =>
        paths.SelectMany<string, string>(p => Directory.Exists(p)
            ? Directory.EnumerateFiles(p, "*", SearchOption.AllDirectories)
                .Where(f => f.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".yml", StringComparison.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal)
            : [p]);

    public static ClusterSnapshot FromFiles(IEnumerable<string> paths)
    {
        var s = new ClusterSnapshot();
        foreach (var p in paths)
        {
            if (SupportBundleWriter.IsBundle(p)) { SupportBundleWriter.Load(p, s); continue; }
            try { s.AddText(File.ReadAllText(p)); }
            catch (Exception ex) when (ex is System.Text.Json.JsonException or YamlDotNet.Core.YamlException)
            {
                throw new RhaiiException("ClusterDumpUnreadable", RhaiiErrorCategory.InvalidData,
                    $"'{p}' is neither Kubernetes JSON nor YAML: {ex.Message}",
                    "Give files written by kubectl get ... -o json or -o yaml.", p, ex);
            }
        }
        return s;
    }

    public static IReadOnlyList<DiagnosisFinding> Diagnose(IEnumerable<string> paths, IEnumerable<string>? checkIds = null) =>
        Diagnoser.Run(FromFiles(paths), checkIds);

    public static int ObjectCount(IEnumerable<string> paths) => FromFiles(paths).Objects.Count;
}
