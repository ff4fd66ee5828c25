using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Xunit;

namespace RhaiiGke.Tests.Gke;

/// <summary>The GKE simulator's update routes and multi-host TPU pool rules over plain REST (runs without gcloud).</summary>
public sealed class GkeSimulatorFidelityTests : IDisposable
{
    private readonly GkeTestBed _bed = new();
    private readonly HttpClient _http = new();
    private string Base => $"{_bed.Simulator.ContainerEndpoint}v1/projects/{GkeTestBed.Project}/locations/{GkeTestBed.Zone}";

    public GkeSimulatorFidelityTests()
    {
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _bed.Token);
        _bed.Simulator.SeedCluster(GkeTestBed.Project, GkeTestBed.Zone, new JsonObject
        {
            ["name"] = "c1",
            ["nodePools"] = new JsonArray(new JsonObject
            {
                ["name"] = "slice", ["initialNodeCount"] = 2,
                ["config"] = new JsonObject { ["machineType"] = "ct6e-standard-4t" },
                ["placementPolicy"] = new JsonObject { ["tpuTopology"] = "2x4", ["type"] = "COMPACT" },
            }),
        });
    }

    public void Dispose() { _http.Dispose(); _bed.Dispose(); }

    private async Task<(int Code, JsonObject Body)> Send(HttpMethod method, string path, JsonObject? body = null)
    {
        using var req = new HttpRequestMessage(method, Base + path);
        if (body is not null) req.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        using var res = await _http.SendAsync(req);
        return ((int)res.StatusCode, JsonNode.Parse(await res.Content.ReadAsStringAsync())!.AsObject());
    }

    private static void InvalidArgument((int Code, JsonObject Body) r, string message)
    {
        Assert.Equal(400, r.Code);
        Assert.Equal("INVALID_ARGUMENT", r.Body["error"]!["status"]!.GetValue<string>());
        Assert.Equal(message, r.Body["error"]!["message"]!.GetValue<string>());
    }

    private static JsonObject TpuPool(string name, int nodes, JsonObject? autoscaling = null)
    {
        var p = new JsonObject
        {
            ["name"] = name, ["initialNodeCount"] = nodes,
            ["config"] = new JsonObject { ["machineType"] = "ct6e-standard-4t" },
            ["placementPolicy"] = new JsonObject { ["tpuTopology"] = "2x4" },
        };
        if (autoscaling is not null) p["autoscaling"] = autoscaling;
        return new JsonObject { ["nodePool"] = p };
    }

    [Fact]
    public async Task AMultiHostSlicePoolHasItsHostCountOrNoNodes()
    {
        InvalidArgument(await Send(HttpMethod.Post, "/clusters/c1/nodePools", TpuPool("p1", 1)), "Initial node count 1 is not a valid size of TPU pod slice with topology \"2x4\"");
        InvalidArgument(await Send(HttpMethod.Post, "/clusters/c1/nodePools", TpuPool("p1", 0, new JsonObject { ["enabled"] = true, ["minNodeCount"] = 0, ["maxNodeCount"] = 4 })),
            "Maximum node count 4 is not a valid size of TPU pod slice with topology \"2x4\"");
        InvalidArgument(await Send(HttpMethod.Post, "/clusters/c1/nodePools/slice:setSize", new JsonObject { ["nodeCount"] = 3 }),
            "Node count 3 is not a valid size of TPU pod slice with topology \"2x4\"");
        InvalidArgument(await Send(HttpMethod.Put, "/clusters/c1", new JsonObject
        {
            ["update"] = new JsonObject { ["desiredNodePoolId"] = "slice", ["desiredNodePoolAutoscaling"] = new JsonObject { ["enabled"] = true, ["minNodeCount"] = 1, ["maxNodeCount"] = 2 } },
        }), "Minimum node count 1 is not a valid size of TPU pod slice with topology \"2x4\"");
        // a whole slice (2 hosts) or none is fine, and so is a single-host slice of any count
        Assert.Equal(200, (await Send(HttpMethod.Post, "/clusters/c1/nodePools/slice:setSize", new JsonObject { ["nodeCount"] = 0 })).Code);
    }

    [Fact]
    public async Task ClusterUpdatesAreValidatedAndApplyWhenTheOperationEnds()
    {
        InvalidArgument(await Send(HttpMethod.Put, "/clusters/c1", new JsonObject { ["update"] = new JsonObject() }),
            "Invalid value for field \"update\": an update must set at least one field.");
        InvalidArgument(await Send(HttpMethod.Put, "/clusters/c1", new JsonObject { ["update"] = new JsonObject { ["gatewayApi"] = "standard" } }),
            "Invalid JSON payload received. Unknown name \"gatewayApi\" at 'update': Cannot find field.");
        InvalidArgument(await Send(HttpMethod.Put, "/clusters/c1", new JsonObject { ["update"] = new JsonObject { ["desiredGatewayApiConfig"] = new JsonObject { ["channel"] = "STANDARD" } } }),
            "Invalid value for field \"update.desired_gateway_api_config.channel\": \"STANDARD\".");
        var bad = await Send(HttpMethod.Put, "/clusters/c1", new JsonObject { ["update"] = new JsonObject { ["desiredMasterVersion"] = "1.20.0" } });
        Assert.Equal(400, bad.Code);

        var (code, op) = await Send(HttpMethod.Put, "/clusters/c1", new JsonObject { ["update"] = new JsonObject { ["desiredGatewayApiConfig"] = new JsonObject { ["channel"] = "CHANNEL_STANDARD" } } });
        Assert.Equal(200, code);
        Assert.Equal("UPDATE_CLUSTER", op["operationType"]!.GetValue<string>());
        var name = op["name"]!.GetValue<string>();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        while ((await Send(HttpMethod.Get, "/operations/" + name)).Body["status"]!.GetValue<string>() != "DONE") await Task.Delay(20, limit.Token);
        var cluster = (await Send(HttpMethod.Get, "/clusters/c1")).Body;
        Assert.Equal("CHANNEL_STANDARD", cluster["networkConfig"]!["gatewayApiConfig"]!["channel"]!.GetValue<string>());
        Assert.Equal("RUNNING", cluster["status"]!.GetValue<string>());
    }
}
