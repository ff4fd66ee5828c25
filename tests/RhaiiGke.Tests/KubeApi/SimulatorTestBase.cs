using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using RhaiiGke.Sandbox.KubeApi;
using Xunit;

namespace RhaiiGke.Tests.KubeApi;

/// <summary>One simulator per test class instance (xunit creates an instance per test), reached with KubernetesClient over real HTTP.</summary>
public abstract class SimulatorTestBase : IDisposable
{
    protected SimulatorTestBase(KubeApiSimulatorOptions? options = null)
    {
        Sim = new KubeApiSimulator(options ?? KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(10)));
        Sim.Start();
        Client = new Kubernetes(Sim.ClientConfig());
    }

    protected KubeApiSimulator Sim { get; }
    protected Kubernetes Client { get; }

    public void Dispose()
    {
        Client.Dispose();
        Sim.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>The Status body of a failed call.</summary>
    protected static async Task<(int Code, JsonObject Status)> Fails(Func<Task> call)
    {
        var ex = await Assert.ThrowsAsync<HttpOperationException>(call);
        var status = JsonNode.Parse(ex.Response.Content)!.AsObject();
        return ((int)ex.Response.StatusCode, status);
    }

    /// <summary>An apply patch; KubernetesClient sends the content as JSON, so YAML is converted first.</summary>
    protected static V1Patch Apply(string yaml) => new(RhaiiGke.Engine.Kube.Json.KubeYaml.ReadOne(yaml)!.ToJsonString(), V1Patch.PatchType.ApplyPatch);

    protected static V1Patch Merge(object patch) => new(JsonSerializer.Serialize(patch), V1Patch.PatchType.MergePatch);

    protected static async Task Eventually(Func<Task<bool>> condition, string what, int timeoutMs = 120000)
    {
        var until = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (DateTime.UtcNow < until)
        {
            if (await condition()) return;
            await Task.Delay(20);
        }
        Assert.Fail($"timed out waiting for {what}");
    }

    protected static V1Deployment Deployment(string name, string ns = "default", int replicas = 1, IDictionary<string, string>? nodeSelector = null, V1ResourceRequirements? resources = null,
        IList<V1Toleration>? tolerations = null) => new()
    {
        ApiVersion = "apps/v1", Kind = "Deployment",
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
        Spec = new V1DeploymentSpec
        {
            Replicas = replicas,
            Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = name } },
            Template = new V1PodTemplateSpec
            {
                Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = name } },
                Spec = new V1PodSpec
                {
                    NodeSelector = nodeSelector, Tolerations = tolerations,
                    Containers = [new V1Container { Name = "main", Image = "registry.example/app:1.0", Resources = resources, Ports = [new V1ContainerPort { ContainerPort = 8443, Name = "https" }] }],
                },
            },
        },
    };
}
