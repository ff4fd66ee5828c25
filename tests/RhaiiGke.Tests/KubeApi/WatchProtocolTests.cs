using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Xunit;

namespace RhaiiGke.Tests.KubeApi;

/// <summary>The watch query parameter and response framing as kube-apiserver handles them.</summary>
public sealed class WatchProtocolTests : SimulatorTestBase
{
    private HttpClient Http()
    {
        // verify the sandbox CA, authenticate with its token, as any client of the sandbox does
        var http = Sim.HttpClient();
        http.BaseAddress = Sim.Endpoint;
        http.Timeout = Timeout.InfiniteTimeSpan;
        return http;
    }

    /// <summary>apimachinery's Convert_Slice_string_To_bool: only "0" and "false" (any case) are false; "True", "yes", "" are a watch.</summary>
    [Theory]
    [InlineData("watch=True", true)]
    [InlineData("watch=true", true)]
    [InlineData("watch=1", true)]
    [InlineData("watch=yes", true)]
    [InlineData("watch=", true)]
    [InlineData("watch", true)]
    [InlineData("watch=0", false)]
    [InlineData("watch=false", false)]
    [InlineData("watch=FALSE", false)]
    [InlineData("", false)]
    public async Task EveryWatchValueButZeroAndFalseIsAWatch(string query, bool isWatch)
    {
        using var http = Http();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        using var res = await http.GetAsync("/api/v1/namespaces/default/configmaps?timeoutSeconds=1&" + query, HttpCompletionOption.ResponseHeadersRead, limit.Token);
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        if (isWatch)
        {
            Assert.True(res.Headers.TransferEncodingChunked, "a watch is a chunked stream");
            // the stream ends at timeoutSeconds; every line is a watch event, never a List
            var body = await res.Content.ReadAsStringAsync(limit.Token);
            foreach (var line in body.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                Assert.NotNull(JsonNode.Parse(line)!["type"]);
        }
        else
        {
            var list = JsonNode.Parse(await res.Content.ReadAsStringAsync(limit.Token))!;
            Assert.Equal("ConfigMapList", list["kind"]!.GetValue<string>());
        }
    }

    /// <summary>
    /// With no event pending the server still answers at once: 200, chunked, application/json, then events as
    /// they happen (a client awaiting the response must not wait for the first event).
    /// </summary>
    [Fact]
    public async Task AWatchWithNothingPendingSendsItsHeadersAtOnce()
    {
        var rv = (await Client.ListNamespacedConfigMapAsync("default")).Metadata.ResourceVersion;
        using var http = Http();
        using var headersLimit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        // timeoutSeconds far beyond the wait: only flushed headers let this return
        using var res = await http.GetAsync($"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=600",
            HttpCompletionOption.ResponseHeadersRead, headersLimit.Token);
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        Assert.True(res.Headers.TransferEncodingChunked);
        Assert.Equal("application/json", res.Content.Headers.ContentType?.MediaType);

        await Client.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "after-headers" } }, "default");
        using var reader = new StreamReader(await res.Content.ReadAsStreamAsync(headersLimit.Token));
        var ev = JsonNode.Parse((await reader.ReadLineAsync(headersLimit.Token))!)!;
        Assert.Equal("ADDED", ev["type"]!.GetValue<string>());
        Assert.Equal("after-headers", ev["object"]!["metadata"]!["name"]!.GetValue<string>());
    }
}
