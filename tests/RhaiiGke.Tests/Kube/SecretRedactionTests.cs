using System.Text;
using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Engine.Kube.Json;
using RhaiiGke.Sandbox.KubeApi;
using RhaiiGke.Tests.Gke;
using Xunit;

namespace RhaiiGke.Tests.Kube;

/// <summary>
/// Credentials never show in what the apply engine says: diffs (verbose, WhatIf, result messages) name the
/// changed keys of a Secret, a credential-named field or a credential-looking value and say "changed";
/// server errors that quote the object are scrubbed of every form of the run's secret values.
/// </summary>
public sealed class SecretRedactionTests : IDisposable
{
    private const string Old = "hf_OLDtoken1234567890";
    private const string New = "hf_NEWtoken0987654321";
    private readonly KubeApiSimulator _sim;
    private readonly ClusterConnection _conn;

    public SecretRedactionTests()
    {
        _sim = new KubeApiSimulator(KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(15)));
        _sim.Start();
        _conn = Fast.Connect(_sim);
    }

    public void Dispose() => _sim.Dispose();

    private static string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));

    private static string DockerConfig(string user, string password) =>
        "{\"auths\":{\"registry.redhat.io\":{\"auth\":\"" + B64(user + ":" + password) + "\"}}}";

    /// <summary>Every form of a value that must never show.</summary>
    private static IEnumerable<string> Forms(params string[] values) =>
        values.SelectMany(v => new[] { v, B64(v), B64(B64(v)) });

    private static void AssertClean(string text, IEnumerable<string> forms)
    {
        foreach (var f in forms) Assert.False(text.Contains(f, StringComparison.Ordinal), $"a credential form leaked into: {text}");
    }

    private static List<JsonObject> Objects(string token, string password, string apiKey, string mode) =>
    [
        new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Secret", ["metadata"] = new JsonObject { ["name"] = "hf-token", ["namespace"] = "redact" },
            ["stringData"] = new JsonObject { ["HF_TOKEN"] = token },
        },
        new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Secret", ["type"] = "kubernetes.io/dockerconfigjson", ["metadata"] = new JsonObject { ["name"] = "pull", ["namespace"] = "redact" },
            ["data"] = new JsonObject { [".dockerconfigjson"] = B64(DockerConfig("svc", password)) },
        },
        new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "ConfigMap", ["metadata"] = new JsonObject { ["name"] = "settings", ["namespace"] = "redact" },
            // a credential-named key, a credential-looking value under an innocent key, and a plain setting
            ["data"] = new JsonObject { ["API_TOKEN"] = apiKey, ["registry"] = DockerConfig("cm", password), ["mode"] = mode },
        },
        new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "ConfigMap", ["metadata"] = new JsonObject { ["name"] = "headers", ["namespace"] = "redact" },
            ["data"] = new JsonObject { ["upstream"] = "Bearer " + apiKey },
        },
    ];

    [Fact]
    public void SecretDataChangesShowKeyNamesNotValues()
    {
        var live = new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Secret", ["metadata"] = new JsonObject { ["name"] = "s" },
            ["data"] = new JsonObject { ["HF_TOKEN"] = B64(Old) },
        };
        var desired = new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Secret", ["metadata"] = new JsonObject { ["name"] = "s" },
            ["stringData"] = new JsonObject { ["HF_TOKEN"] = New },
        };
        var diff = ObjectDiff.Difference(desired, live, "rhaiigke");
        Assert.Equal(".data.HF_TOKEN (changed)", diff);

        // env entries named like a credential, and values that look like one, are redacted in any kind
        var pod = (string name, string value) => new JsonObject
        {
            ["apiVersion"] = "apps/v1", ["kind"] = "Deployment", ["metadata"] = new JsonObject { ["name"] = "d" },
            ["spec"] = new JsonObject { ["template"] = new JsonObject { ["spec"] = new JsonObject { ["containers"] = new JsonArray(new JsonObject
            {
                ["name"] = "main", ["env"] = new JsonArray(new JsonObject { ["name"] = name, ["value"] = value }),
            }) } } },
        };
        var envDiff = ObjectDiff.Difference(pod("HF_TOKEN", New), pod("HF_TOKEN", Old), "rhaiigke")!;
        Assert.EndsWith(".value (changed)", envDiff);
        AssertClean(envDiff, Forms(Old, New));
        var bearer = ObjectDiff.Difference(pod("UPSTREAM", "Bearer " + New), pod("UPSTREAM", "Bearer " + Old), "rhaiigke")!;
        AssertClean(bearer, Forms(Old, New));
        // an ordinary setting still shows both values
        Assert.EndsWith("(\"8\" -> \"16\")", ObjectDiff.Difference(pod("MAX_NUM_SEQS", "16"), pod("MAX_NUM_SEQS", "8"), "rhaiigke"));
    }

    [Fact]
    public async Task RotatedCredentialsShowNowhereInResultsVerboseDebugOrDryRun()
    {
        const string oldKey = "sk-OLDapikey-abcdefgh", newKey = "sk-NEWapikey-hgfedcba";
        const string oldPass = "old-registry-pass-1", newPass = "new-registry-pass-2";
        var forms = Forms(Old, New, oldKey, newKey, oldPass, newPass, DockerConfig("svc", oldPass), DockerConfig("svc", newPass),
            DockerConfig("cm", oldPass), DockerConfig("cm", newPass), "svc:" + oldPass, "svc:" + newPass).ToList();
        var ns = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Namespace", ["metadata"] = new JsonObject { ["name"] = "redact" } };
        var log = new RecordingLog();
        var engine = new ApplyEngine(_conn, log);
        await engine.ApplyAsync([ns, .. Objects(Old, oldPass, oldKey, "a")], Fast.Options("redact"), CancellationToken.None);

        var preview = Fast.Options("redact");
        preview.DryRun = true;
        var dry = await engine.ApplyAsync([ns, .. Objects(New, newPass, newKey, "b")], preview, CancellationToken.None);
        var applied = await engine.ApplyAsync([ns, .. Objects(New, newPass, newKey, "b")], Fast.Options("redact"), CancellationToken.None);

        // the change really happened, and the diff names what changed
        Assert.Equal(KubeApplyAction.WouldConfigure, dry.Objects.Single(o => o.Name == "hf-token").Action);
        var hf = applied.Objects.Single(o => o.Name == "hf-token");
        Assert.Equal(KubeApplyAction.Configured, hf.Action);
        Assert.Equal(".data.HF_TOKEN (changed)", hf.Message);
        Assert.Equal(".data..dockerconfigjson (changed)", applied.Objects.Single(o => o.Name == "pull").Message);
        Assert.Equal(KubeApplyAction.Configured, applied.Objects.Single(o => o.Name == "headers").Action);
        var live = await KubeClients.For(_conn).GetAsync("api/v1/namespaces/redact/secrets/hf-token", CancellationToken.None);
        Assert.Equal(B64(New), live!.Str("data", "HF_TOKEN"));

        var text = string.Join("\n", dry.Objects.Concat(applied.Objects).Select(o => $"{o} {o.Message}")) + "\n" + log.All;
        Assert.Contains("(changed)", text);
        AssertClean(text, forms);
        AssertClean(System.Text.Json.JsonSerializer.Serialize(applied), forms);
    }

    [Fact]
    public void ObjectsQuotedInMessagesAreRedactedButKeepTheirShape()
    {
        var objects = Objects(New, "shape-pass-1", "sk-shape-key-123456", "plain");
        var text = string.Join("\n", objects.Select(o => SecretRedaction.RedactObject(o).ToJsonString()));
        AssertClean(text, Forms(New, "shape-pass-1", "sk-shape-key-123456"));
        Assert.Contains("\"HF_TOKEN\":\"[redacted]\"", text);
        Assert.Contains("\"mode\":\"plain\"", text); // ordinary values stay
        Assert.Equal(B64(New), B64(objects[0].Str("stringData", "HF_TOKEN")!)); // the original is untouched
    }

    [Fact]
    public void ServerErrorsThatQuoteTheObjectAreScrubbed()
    {
        const string password = "quoted-pass-77";
        var secret = Objects(New, password, "sk-quoted-key-123456", "a");
        var values = SecretRedaction.CollectValues(secret);
        var quoted = $"Secret \"hf-token\" is invalid: data[HF_TOKEN]: Invalid value: \"{B64(New)}\"; stringData: {New}; auth {B64("svc:" + password)}; {password}; {DockerConfig("svc", password).Replace("\"", "\\\"")}";
        var status = new JsonObject { ["kind"] = "Status", ["message"] = quoted, ["reason"] = "Invalid", ["code"] = 422 };
        var error = new KubeApiException(422, "Invalid", quoted, status, null, "PATCH", "/api/v1/namespaces/redact/secrets/hf-token").Scrubbed(values).ToRhaii("applying Secret redact/hf-token");
        Assert.Equal("KubeInvalid", error.ErrorId);
        Assert.Contains("[redacted]", error.Message);
        Assert.Contains("hf-token", error.Message);
        var all = error.Message + error.InnerException!.Message + ((KubeApiException)error.InnerException).Status!.ToJsonString();
        AssertClean(all, Forms(New, password, "svc:" + password));

        // a proxy page that echoes the request headers
        var echoed = new KubeApiException(502, "BadGateway", "upstream said: Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.payload.sig", null, null, "GET", "/version").Scrubbed(values);
        Assert.Equal("upstream said: Authorization: Bearer [redacted]", echoed.Message);
    }
}
