using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace RhaiiGke.Sandbox.KubeApi;

/// <summary>
/// A folder of upstream schemas the sandbox validates with, as a real cluster would: CRD YAML files (any
/// depth; a CRD installed in the sandbox under the same name is served with the upstream openAPIV3Schema of
/// each version both define) and the Kubernetes swagger spec (<c>swagger-v1.NN.N.json</c>, the one closest
/// to the sandbox's version) for the built-in kinds. Parsed once per folder and process, on first use.
/// This is the sandbox's own reader; the module's client-side validator is not used here.
/// </summary>
internal sealed partial class SchemaLibrary
{
    private static readonly ConcurrentDictionary<string, SchemaLibrary> s_cache = new(StringComparer.Ordinal);

    private readonly Lazy<Dictionary<string, JsonObject>> _crds;
    private readonly Lazy<JsonObject?> _swagger;
    private readonly Lazy<Dictionary<string, string>> _byGvk;

    public string Root { get; }

    /// <summary>The Kubernetes OpenAPI (swagger 2.0) file used for built-in kinds, null when the folder has none.</summary>
    public string? SwaggerFile { get; }

    private SchemaLibrary(string root, string? swagger)
    {
        Root = root;
        SwaggerFile = swagger;
        _crds = new Lazy<Dictionary<string, JsonObject>>(LoadCrds, LazyThreadSafetyMode.ExecutionAndPublication);
        _swagger = new Lazy<JsonObject?>(() => SwaggerFile is null ? null : ServerJson.ParseObject(File.ReadAllText(SwaggerFile)), LazyThreadSafetyMode.ExecutionAndPublication);
        _byGvk = new Lazy<Dictionary<string, string>>(IndexGvk, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The library of <paramref name="root"/> for a cluster of <paramref name="kubernetesVersion"/> (cached per folder and swagger file).</summary>
    public static SchemaLibrary Load(string root, string kubernetesVersion)
    {
        var full = Path.GetFullPath(root);
        if (!Directory.Exists(full)) throw new DirectoryNotFoundException($"schema folder '{root}' does not exist");
        var swagger = PickSwagger(full, kubernetesVersion);
        return s_cache.GetOrAdd(full + "|" + swagger, _ => new SchemaLibrary(full, swagger));
    }

    [GeneratedRegex(@"swagger-v(\d+)\.(\d+)(?:\.(\d+))?\.json$", RegexOptions.IgnoreCase)] private static partial Regex SwaggerName();
    [GeneratedRegex(@"^v?(\d+)\.(\d+)")] private static partial Regex KubeVersion();

    private static string? PickSwagger(string root, string kubernetesVersion)
    {
        var files = Directory.EnumerateFiles(root, "swagger*.json", SearchOption.AllDirectories)
            .Select(f => (File: f, M: SwaggerName().Match(Path.GetFileName(f))))
            .Where(x => x.M.Success)
            .Select(x => (x.File, Minor: int.Parse(x.M.Groups[2].Value, CultureInfo.InvariantCulture)))
            .OrderBy(x => x.Minor).ToList();
        if (files.Count == 0) return null;
        var kv = KubeVersion().Match(kubernetesVersion);
        var want = kv.Success ? int.Parse(kv.Groups[2].Value, CultureInfo.InvariantCulture) : int.MaxValue;
        var atOrBelow = files.Where(f => f.Minor <= want).ToList();
        return (atOrBelow.Count > 0 ? atOrBelow[^1] : files[0]).File;
    }

    private Dictionary<string, JsonObject> LoadCrds()
    {
        var files = Directory.EnumerateFiles(Root, "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".yml", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal).ToList();
        var perFile = new List<JsonObject>[files.Count];
        Parallel.For(0, files.Count, i => perFile[i] = ReadCrdFile(files[i]));
        var crds = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var docs in perFile)
            foreach (var d in docs)
                if (d.Str("kind") == "CustomResourceDefinition" && d.Str("apiVersion") == "apiextensions.k8s.io/v1" && d.Name() is { Length: > 0 } n)
                    crds[n] = d;
        return crds;
    }

    /// <summary>
    /// The documents of one YAML file. Large CRDs take seconds to read as YAML, so the result is kept as JSON
    /// in the temp folder, keyed by path, size and modification time, for the next process.
    /// </summary>
    private static List<JsonObject> ReadCrdFile(string file)
    {
        var info = new FileInfo(file);
        var key = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(
            System.Text.Encoding.UTF8.GetBytes($"{info.FullName}|{info.Length}|{info.LastWriteTimeUtc.Ticks}|1")))[..32];
        var cacheDir = Path.Combine(Path.GetTempPath(), "rhaii-sandbox-schema-cache");
        var cache = Path.Combine(cacheDir, key + ".json");
        try
        {
            if (File.Exists(cache) && JsonNode.Parse(File.ReadAllText(cache)) is JsonArray cached)
                return cached.OfType<JsonObject>().ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException) { }
        List<JsonObject> docs;
        try { docs = ServerYaml.ReadObjects(File.ReadAllText(file)).Where(d => d.Str("kind") == "CustomResourceDefinition").ToList(); }
        catch (FormatException) { return []; }
        try
        {
            Directory.CreateDirectory(cacheDir);
            var tmp = cache + "." + Environment.ProcessId + ".tmp";
            File.WriteAllText(tmp, new JsonArray(docs.Select(d => (JsonNode)d.DeepClone()).ToArray()).ToJsonString());
            File.Move(tmp, cache, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return docs;
    }

    private Dictionary<string, string> IndexGvk()
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (Definitions is not { } defs) return map;
        foreach (var (name, def) in defs)
        {
            // the spec's definitions for a kind carry its GVKs; prefer the API package's own type over aliases
            foreach (var gvk in def.Arr("x-kubernetes-group-version-kind") ?? [])
            {
                var key = Gvk(gvk.Str("group") ?? "", gvk.Str("version") ?? "", gvk.Str("kind") ?? "");
                if (!map.ContainsKey(key) || (def.Obj("properties")?.ContainsKey("metadata") == true && name.StartsWith("io.k8s.api.", StringComparison.Ordinal)))
                    map[key] = name;
            }
        }
        return map;
    }

    private static string Gvk(string g, string v, string k) => g + "/" + v + "/" + k;

    /// <summary>Starts parsing in the background so the first write does not pay for it.</summary>
    public void Warm() => _ = Task.Run(() => { _ = _crds.Value; _ = _byGvk.Value; });

    public IReadOnlyDictionary<string, JsonObject> Crds => _crds.Value;

    /// <summary>The upstream openAPIV3Schema of CRD <paramref name="crdName"/> at <paramref name="version"/>, or null.</summary>
    public JsonObject? CrdSchema(string crdName, string version) =>
        _crds.Value.TryGetValue(crdName, out var crd)
            ? crd.Arr("spec", "versions")?.FirstOrDefault(v => v.Str("name") == version).Obj("schema", "openAPIV3Schema")
            : null;

    /// <summary>The swagger <c>definitions</c>, null without a Kubernetes OpenAPI file.</summary>
    public JsonObject? Definitions => _swagger.Value?.Obj("definitions");

    public JsonObject? Definition(string name) => Definitions?.Obj(name);

    /// <summary>The definition name of a built-in kind (<c>io.k8s.api.apps.v1.Deployment</c>), or null.</summary>
    public string? DefinitionFor(string group, string version, string kind) =>
        _byGvk.Value.TryGetValue(Gvk(group, version, kind), out var n) ? n : null;

    /// <summary>What Start-RhaiiSandbox reports.</summary>
    public string Describe() =>
        $"upstream schemas from {Root}" + (SwaggerFile is null ? " (CRDs only: no Kubernetes OpenAPI file)" : $" (built-in kinds: {Path.GetFileName(SwaggerFile)})");
}
