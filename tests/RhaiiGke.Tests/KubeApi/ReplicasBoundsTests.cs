using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using RhaiiGke.Engine.Kube.Json;
using Xunit;

namespace RhaiiGke.Tests.KubeApi;

/// <summary>
/// Issue 10, defect 6 in the sandbox: spec.replicas outside int32 is a 422 (never stored and wrapped by a
/// controller), and a large but valid replica count does not make the controllers create pods without bound.
/// </summary>
public sealed class ReplicasBoundsTests : SimulatorTestBase
{
    private async Task<(HttpStatusCode Code, JsonObject Body)> PostAsync(string path, string json)
    {
        using var http = Sim.HttpClient();
        using var res = await http.PostAsync(Sim.Server + path, new StringContent(json, Encoding.UTF8, "application/json"));
        return (res.StatusCode, JsonNode.Parse(await res.Content.ReadAsStringAsync())!.AsObject());
    }

    private static string Deployment(string name, string replicas) =>
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"" + name + "\",\"namespace\":\"default\"},\"spec\":{\"replicas\":" + replicas +
        ",\"selector\":{\"matchLabels\":{\"app\":\"" + name + "\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"" + name + "\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"example/app:1\"}]}}}}";

    [Theory]
    [InlineData("99999999999")]
    [InlineData("2147483648")]
    [InlineData("1e20")]
    public async Task ReplicasOutsideInt32IsRefusedWith422AndNothingIsStored(string replicas)
    {
        var (code, status) = await PostAsync("/apis/apps/v1/namespaces/default/deployments", Deployment("wrap", replicas));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, code);
        Assert.Equal("Invalid", status.Str("reason"));
        Assert.Contains(status.Arr("details", "causes")!, c => c.Str("field") == "spec.replicas");
        Assert.DoesNotContain(Sim.ListObjects("apps/v1", "Deployment", "default"), d => d.Name() == "wrap");
        Assert.Empty(Sim.ListObjects("v1", "Pod", "default"));
    }

    [Fact]
    public async Task ALargeValidReplicaCountIsAcceptedButPodsStopAtTheSimulatedCapacity()
    {
        var (code, _) = await PostAsync("/apis/apps/v1/namespaces/default/deployments", Deployment("many", "100000"));
        Assert.Equal(HttpStatusCode.Created, code); // a real server accepts it too
        // the ReplicaSet controller writes its status after its create loop: once it reports pods, the loop is over
        try
        {
            await Eventually(() => Task.FromResult(Sim.ListObjects("apps/v1", "ReplicaSet", "default").Any(rs => (rs.Long("status", "replicas") ?? 0) > 0)),
                "the ReplicaSet's status", timeoutMs: 120_000);
        }
        catch (Exception e) { throw new Exception($"{Sim.ListObjects("v1", "Pod", "default").Count} pods, {Sim.ListObjects("apps/v1", "ReplicaSet", "default").Count} rs: {e.Message}; {string.Join(" / ", Sim.ControllerErrors.Take(3))}"); }
        var pods = Sim.ListObjects("v1", "Pod", "default").Count;
        Assert.True(pods <= 1000, $"{pods} pods");
        Assert.True(pods > 0);
    }
}
