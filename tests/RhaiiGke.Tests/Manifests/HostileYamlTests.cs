using System.Text;
using RhaiiGke.Engine.Gke;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Engine.Kube.Json;
using RhaiiGke.Engine.Manifests;
using RhaiiGke.Engine.Manifests.Lint;
using Xunit;

namespace RhaiiGke.Tests.Manifests;

/// <summary>
/// Hostile YAML (issue 10, defects 4 and 5): a "billion laughs" alias bomb and 50,000-deep nesting are
/// refused by every YAML reader of the client (lint, the apply path's KubeYaml, YamlCodec, the
/// kubeconfig merge and the kubeconfig loader) with a LimitsExceeded RhaiiException. Each reader runs
/// on its own thread with a 1 MiB stack, and the bytes that thread allocates are bounded (200 MB).
/// </summary>
public sealed class HostileYamlTests : IDisposable
{
    private const long MemoryBound = 200L * 1024 * 1024;
    private readonly string _dir = Directory.CreateTempSubdirectory("rhaii-hostile-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>The classic 9 x 9 alias bomb: 9^9 (387 million) strings when expanded, in about 340 bytes.</summary>
    internal static string AliasBomb()
    {
        var sb = new StringBuilder("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        for (var c = 'b'; c <= 'i'; c++)
        {
            var prev = (char)(c - 1);
            sb.Append($"{c}: &{c} [{string.Join(",", Enumerable.Repeat("*" + prev, 9))}]\n");
        }
        return sb.ToString();
    }

    /// <summary>50,000 levels of flow sequences: 100 KB.</summary>
    internal static string DeepFlow(int depth = 50_000) => new string('[', depth) + new string(']', depth);

    /// <summary>50,000 levels of block sequences on one line ("- - - ... x").</summary>
    internal static string DeepBlock(int depth = 50_000) => string.Concat(Enumerable.Repeat("- ", depth)) + "x\n";

    public static TheoryData<string, string> Inputs() => new()
    {
        { "bomb", "YamlAliasExpansionTooLarge" },
        { "flow", "YamlNestingTooDeep" },
        { "block", "YamlNestingTooDeep" },
        { "json", "YamlNestingTooDeep" },
    };

    private static string Text(string kind) => kind switch
    {
        "bomb" => AliasBomb(),
        "flow" => DeepFlow(),
        "block" => DeepBlock(),
        // a JSON manifest (the apply path reads JSON through the YAML parser): deep objects
        _ => "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"data\":" + string.Concat(Enumerable.Repeat("{\"a\":", 50_000)) + "1" + new string('}', 50_001),
    };

    /// <summary>Runs <paramref name="read"/> on a 1 MiB-stack thread; returns what it threw and the bytes it allocated.</summary>
    private static (Exception? Error, long Allocated) OnSmallStack(Action read)
    {
        Exception? error = null;
        long allocated = 0;
        var t = new Thread(() =>
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            try { read(); }
            catch (Exception ex) { error = ex; }
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }, 1024 * 1024);
        t.Start();
        t.Join();
        return (error, allocated);
    }

    private static RhaiiException AssertRefused(string errorId, (Exception? Error, long Allocated) r)
    {
        var ex = Assert.IsType<RhaiiException>(r.Error);
        Assert.Equal(errorId, ex.ErrorId);
        Assert.Equal(RhaiiErrorCategory.LimitsExceeded, ex.Category);
        Assert.False(string.IsNullOrWhiteSpace(ex.RecommendedAction));
        Assert.True(r.Allocated < MemoryBound, $"allocated {r.Allocated:N0} bytes");
        return ex;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void LintRefusesWithAParseErrorAndBoundedMemory(string kind, string errorId)
    {
        var file = Path.Combine(_dir, kind + ".yaml");
        File.WriteAllText(file, Text(kind));
        TestManifestResult? result = null;
        var r = OnSmallStack(() => result = ManifestLinter.Lint([ManifestSource.FromFile(file)]).Single());
        Assert.Null(r.Error);
        Assert.NotNull(result!.ParseError);
        var ex = AssertRefused(errorId, (result.ParseError, r.Allocated));
        Assert.Contains(file, ex.Message);
        Assert.False(result.Passed);
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void ApplyPathReadersRefuseWithBoundedMemory(string kind, string errorId)
    {
        var text = Text(kind);
        AssertRefused(errorId, OnSmallStack(() => ApplyEngine.ParseManifests(text)));
        AssertRefused(errorId, OnSmallStack(() => KubeYaml.ReadObjects(text)));
        AssertRefused(errorId, OnSmallStack(() => YamlCodec.ReadAll(text)));
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void KubeconfigMergeAndLoadRefuseWithBoundedMemoryAndLeaveTheFile(string kind, string errorId)
    {
        var path = Path.Combine(_dir, "config-" + kind);
        var text = kind == "bomb"
            ? "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\ncurrent-context: x\n" + AliasBomb().Replace("a:", "preferences-a:")
            : "apiVersion: v1\nkind: Config\ncurrent-context: x\npreferences: " + Text(kind == "block" ? "flow" : kind) + "\n";
        File.WriteAllText(path, text);
        var cluster = new TpuCluster { Name = "kc", Project = "rhaii-test", Location = "europe-west4-a", Endpoint = "https://127.0.0.1:6443" };
        AssertRefused(errorId, OnSmallStack(() => Kubeconfig.Merge(path, cluster, ClusterAuthMode.GcloudAuthPlugin, setCurrentContext: true)));
        Assert.Equal(text, File.ReadAllText(path)); // nothing written
        AssertRefused(errorId, OnSmallStack(() => ClusterConnector.FromKubeconfig(path, null, null)));
    }

    [Fact]
    public void OrdinaryAnchorsMergeKeysAndDepthUpToTheLimitStillRead()
    {
        const string yaml = """
            defaults: &d {image: "vllm/vllm-tpu:v1", args: [--port, "8000"]}
            a: {<<: *d, name: a}
            b: {<<: *d, name: b}
            list: [*d, *d, *d]
            """;
        var doc = Assert.Single(YamlCodec.ReadAll(yaml))!;
        Assert.Equal("vllm/vllm-tpu:v1", doc["b"]!["image"]!.GetValue<string>());
        Assert.Equal(3, doc["list"]!.AsArray().Count);

        // nesting just inside the bound reads on a 1 MiB stack (the bound is what keeps the recursion safe)
        var r = OnSmallStack(() =>
        {
            Assert.Single(YamlCodec.ReadAll(DeepFlow(YamlLimits.MaxDepth)));
            Assert.Null(ManifestLinter.Lint([new ManifestSource(null, DeepFlow(YamlLimits.MaxDepth))]).Single().ParseError);
        });
        Assert.Null(r.Error);
        Assert.Equal("YamlNestingTooDeep", Assert.IsType<RhaiiException>(OnSmallStack(() => YamlCodec.ReadAll(DeepFlow(YamlLimits.MaxDepth + 1))).Error).ErrorId);

        // a large file may repeat its anchors up to ten times its size
        var big = new StringBuilder("base: &b {k: \"" + new string('x', 500_000) + "\"}\nuses: [");
        big.Append(string.Join(",", Enumerable.Repeat("*b", 8))).Append("]\n");
        Assert.Single(YamlCodec.ReadAll(big.ToString()));
        big.Replace("[*b,", "[*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,");
        Assert.Equal("YamlAliasExpansionTooLarge", Assert.IsType<RhaiiException>(OnSmallStack(() => YamlCodec.ReadAll(big.ToString())).Error).ErrorId);
    }
}

/// <summary>Client-side limits on objects before they are sent (issue 10, defect 7).</summary>
public sealed class ObjectLimitsTests
{
    private static System.Text.Json.Nodes.JsonObject Nested(int depth)
    {
        // depth counts the object itself: Nested(1) is {"apiVersion":...,"data":{}} at depth 2
        var yaml = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: demo}\nspec: " +
                   string.Concat(Enumerable.Repeat("{a: ", depth - 1)) + "1" + new string('}', depth - 1) + "\n";
        return KubeYaml.ReadObjects(yaml).Single();
    }

    [Fact]
    public void NestingUpToTheWriterDepthIsSentAndDeeperIsAClearError()
    {
        ObjectLimits.Check([Nested(ObjectLimits.MaxDepth)]);
        Assert.Equal(ObjectLimits.MaxDepth, ObjectLimits.Depth(Nested(ObjectLimits.MaxDepth)));
        var ex = Assert.Throws<RhaiiException>(() => ObjectLimits.Check([Nested(ObjectLimits.MaxDepth + 1)]));
        Assert.Equal("ObjectNestingTooDeep", ex.ErrorId);
        Assert.Equal(RhaiiErrorCategory.LimitsExceeded, ex.Category);
    }

    [Theory]
    [InlineData("Namespace", "Llm", false)]
    [InlineData("Namespace", "llm.serving", false)] // a label: no dots
    [InlineData("ConfigMap", "llm.serving", true)]  // a subdomain
    [InlineData("Service", "a-service-name-that-is-longer-than-sixty-three-characters-in-total", false)]
    [InlineData("ClusterRole", "system:aggregate-to-view", true)] // RBAC names are path segments
    [InlineData("ClusterRole", "a/b", false)]
    [InlineData("LLMInferenceService", "Qwen", false)]
    [InlineData("LLMInferenceService", "qwen-2-5", true)]
    public void NamesAreValidatedPerKindAsTheApiServerDoes(string kind, string name, bool valid) =>
        Assert.Equal(valid, ObjectLimits.NameProblem(kind, name) is null);
}
