using System.Text.Json.Nodes;
using RhaiiGke.Sandbox.Protocol;
using Xunit;

namespace RhaiiGke.Tests.KubeApi;

/// <summary>The sandbox's own server-side protocol code: selector grammar, YAML 1.1 scalars, patches, managed fields.</summary>
public class ServerProtocolTests
{
    private static Dictionary<string, string> L(params (string K, string V)[] kv) => kv.ToDictionary(x => x.K, x => x.V);

    [Theory]
    [InlineData("app=web", true)]
    [InlineData("app==web,tier!=db", true)]
    [InlineData("app in (web, api),!canary", true)]
    [InlineData("app notin (web)", false)]
    [InlineData("tier", false)]
    [InlineData("!tier", true)]
    [InlineData("gen>3", true)]
    [InlineData("gen<3", false)]
    [InlineData("app in (web,)", true)]
    public void LabelSelectorsFollowTheKubernetesGrammar(string selector, bool matches) =>
        Assert.Equal(matches, LabelSelector.Parse(selector).Matches(L(("app", "web"), ("gen", "4"))));

    [Theory]
    [InlineData("app=")]          // empty value is valid and matches only an empty label
    [InlineData("app in ()")]
    public void EmptyValuesAreAllowed(string selector) =>
        Assert.False(LabelSelector.Parse(selector).Matches(L(("app", "web"))));

    [Theory]
    [InlineData("app=web,", "found ''")]
    [InlineData("app in web", "expected: '('")]
    [InlineData("app=web)", "expected: ',' or 'end of string'")]
    [InlineData("-bad=x", "invalid label key")]
    [InlineData("app=we b", "expected: ',' or 'end of string'")]
    [InlineData("gen>x", "must be an integer")]
    public void MalformedLabelSelectorsAreRejected(string selector, string message) =>
        Assert.Contains(message, Assert.Throws<FormatException>(() => LabelSelector.Parse(selector)).Message);

    [Fact]
    public void FieldSelectorsUnescapeValuesAndRejectTermsWithoutAnOperator()
    {
        var fs = FieldSelector.Parse(@"metadata.name=a\,b,status.phase!=Running");
        Assert.Equal(("metadata.name", true, "a,b"), fs.Requirements[0]);
        Assert.Equal(("status.phase", false, "Running"), fs.Requirements[1]);
        Assert.True(fs.Matches(JsonNode.Parse("""{"metadata":{"name":"a,b"},"status":{"phase":"Pending"}}""")));
        Assert.Throws<FormatException>(() => FieldSelector.Parse("metadata.name"));
        Assert.Throws<FormatException>(() => FieldSelector.Parse(@"metadata.name=a\x"));
    }

    [Fact]
    public void YamlPlainScalarsResolveAsYaml11AndQuotedOnesStayStrings()
    {
        var doc = ServerYaml.ReadOne("a: yes\nb: 'yes'\nc: 0x1F\nd: 017\ne: 1_000\nf: 1.5\ng: ~\nh: 2x2\ni: !!str 12\nk: &x {m: 1, n: 2}\nl: *x\n")!.AsObject();
        Assert.True(doc["a"]!.GetValue<bool>());
        Assert.Equal("yes", doc["b"]!.GetValue<string>());
        Assert.Equal(31, doc["c"]!.GetValue<long>());
        Assert.Equal(15, doc["d"]!.GetValue<long>());
        Assert.Equal(1000, doc["e"]!.GetValue<long>());
        Assert.True(ServerJson.DeepEquals(JsonValue.Create(1.5), doc["f"]));
        Assert.Null(doc["g"]);
        Assert.Equal("2x2", doc["h"]!.GetValue<string>());
        Assert.Equal("12", doc["i"]!.GetValue<string>());
        Assert.Equal(1, doc["l"]!["m"]!.GetValue<long>());
        Assert.Equal(2, doc["l"]!["false"]!.GetValue<long>()); // a plain key n is the boolean false, as go-yaml v2 reads it
    }

    [Fact]
    public void YamlStreamsFlattenListsSkipEmptyDocumentsAndNameTheLineOfAnError()
    {
        var objects = ServerYaml.ReadObjects("---\n---\nkind: ConfigMapList\nitems:\n- {kind: ConfigMap, metadata: {name: a}}\n- {kind: ConfigMap, metadata: {name: b}}\n---\nkind: Secret\n");
        Assert.Equal(new[] { "a", "b", "" }, objects.Select(o => o.Name()));
        Assert.Contains("line 2", Assert.Throws<FormatException>(() => ServerYaml.ReadOne("a: 1\n b: [\n")).Message);
    }

    [Fact]
    public void AliasBombsAreRefused()
    {
        var yaml = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + string.Concat(Enumerable.Range(0, 8).Select(i =>
            $"{(char)('b' + i)}: &{(char)('b' + i)} [{string.Join(", ", Enumerable.Repeat("*" + (char)('a' + i), 10))}]\n"));
        Assert.Contains("nodes", Assert.Throws<FormatException>(() => ServerYaml.ReadOne(yaml)).Message);
    }

    [Fact]
    public void JsonPatchFailsAsAWholeAndMergePatchDeletesNulls()
    {
        var doc = JsonNode.Parse("""{"a":{"b":1},"l":[1,2]}""");
        var ops = JsonNode.Parse("""[{"op":"add","path":"/l/-","value":3},{"op":"test","path":"/a/b","value":2}]""")!.AsArray();
        Assert.Throws<InvalidOperationException>(() => ServerJson.JsonPatch(doc, ops));
        Assert.Equal("""{"a":{"b":1},"l":[1,2]}""", doc.ToJson()); // untouched
        var ok = ServerJson.JsonPatch(doc, JsonNode.Parse("""[{"op":"move","from":"/a/b","path":"/l/0"},{"op":"replace","path":"/a","value":"x"}]""")!.AsArray());
        Assert.Equal("""{"a":"x","l":[1,1,2]}""", ok.ToJson());
        Assert.Equal("""{"l":[1,2]}""", ServerJson.MergePatch(doc!.DeepClone(), JsonNode.Parse("""{"a":null}""")).ToJson());
    }

    [Fact]
    public void StrategicMergeMergesContainersByName()
    {
        var live = JsonNode.Parse("""{"spec":{"containers":[{"name":"a","image":"x"},{"name":"b","image":"y"}]}}""");
        var patched = ServerJson.StrategicMerge(live, JsonNode.Parse("""{"spec":{"containers":[{"name":"b","image":"z"},{"name":"c","$patch":"delete"},{"name":"a","$patch":"delete"}]}}"""));
        Assert.Equal("""{"spec":{"containers":[{"name":"b","image":"z"}]}}""", patched.ToJson());
    }

    [Fact]
    public void ServerSideApplyConflictsUntilForcedThenTakesOwnership()
    {
        var created = ServerJson.ParseObject("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"k":"1","other":"o"}}""");
        ServerSideApply.RecordUpdate(null, created, "kubectl-edit", "v1", "t0", null, statusSeparate: false);

        var applied = ServerJson.ParseObject("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"k":"2"}}""");
        var (none, conflicts) = ServerSideApply.Apply(created, applied, "rhaii", force: false, "v1", "t1", null, false);
        Assert.Null(none);
        var conflict = Assert.Single(conflicts);
        Assert.Equal(("kubectl-edit", ".data.k"), (conflict.Manager, conflict.Path));

        var (merged, _) = ServerSideApply.Apply(created, applied, "rhaii", force: true, "v1", "t1", null, false);
        Assert.Equal("2", merged.Str("data", "k"));
        Assert.Equal("o", merged.Str("data", "other"));
        var owners = ManagedEntry.Read(merged);
        Assert.True(owners.Single(e => e.Manager == "rhaii").Fields.Contains(["f:data", "f:k"]));
        Assert.False(owners.Single(e => e.Manager == "kubectl-edit").Fields.Contains(["f:data", "f:k"]));

        // Re-applying without the field releases it: a field only this manager owned is removed.
        var (pruned, _) = ServerSideApply.Apply(merged, ServerJson.ParseObject("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{}}"""), "rhaii", false, "v1", "t2", null, false);
        Assert.Null(pruned!.At("data", "k"));
        Assert.Equal("o", pruned.Str("data", "other"));
    }
}
