using RhaiiGke.Engine.Serving.Diagnosis;
using RhaiiGke.Sandbox.KubeApi;
using Xunit;

namespace RhaiiGke.Tests.Serving;

/// <summary>Diagnosis over a live API server: the Kubernetes simulator schedules a TPU pod as GKE does.</summary>
public class LiveDiagnosisTests : IDisposable
{
    private readonly KubeApiSimulator _sim;

    public LiveDiagnosisTests()
    {
        var options = KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(5));
        options.Nodes.AddRange(SimulatedNode.TpuPool("tpu", 1, "tpu-v6e-slice", "2x2", "ct6e-standard-4t", 4));
        _sim = new KubeApiSimulator(options);
        _sim.Start();
    }

    [Fact]
    public async Task WrongAcceleratorLabelLeavesThePodPendingAndIsDiagnosedLive()
    {
        _sim.Seed("""
            apiVersion: v1
            kind: Namespace
            metadata: { name: demo }
            ---
            apiVersion: v1
            kind: Pod
            metadata:
              name: qwen-kserve-0
              namespace: demo
              labels: { app.kubernetes.io/component: llminferenceservice-workload, app.kubernetes.io/name: qwen }
            spec:
              nodeSelector: { cloud.google.com/gke-tpu-accelerator: tpu-v6e, cloud.google.com/gke-tpu-topology: 2x2 }
              tolerations: [{ key: google.com/tpu, operator: Equal, value: present, effect: NoSchedule }]
              containers:
              - name: main
                image: vllm
                resources: { requests: { google.com/tpu: "4" }, limits: { google.com/tpu: "4" } }
            ---
            apiVersion: v1
            kind: Secret
            metadata: { name: hf-token, namespace: demo }
            data: { HF_TOKEN: aGZfc2VjcmV0 }
            """);
        await _sim.WaitIdleAsync(TimeSpan.FromSeconds(5));
        var snapshot = await ClusterSnapshotReader.ReadAsync(new Uri(_sim.Server), _sim.Token, _sim.CaCertificatePem, false);

        Assert.Contains(snapshot.OfKind("Node"), n => ClusterSnapshot.Name(n).StartsWith("gke-tpu-"));
        var secret = Assert.Single(snapshot.OfKind("Secret", "demo"), s => ClusterSnapshot.Name(s) == "hf-token");
        Assert.Equal("", secret["data"]!["HF_TOKEN"]!.GetValue<string>()); // key kept, value dropped

        var findings = Diagnoser.Run(snapshot);
        var f = Assert.Single(findings, x => x.CheckId == "TpuAcceleratorLabelUnknown");
        Assert.Equal("qwen-kserve-0", f.Name);
        Assert.Contains("tpu-v6e-slice", f.Fix);
    }

    public void Dispose() => _sim.Dispose();
}

/// <summary>The cmdlets' live path: a connection to the Kubernetes simulator, in a hosted runspace.</summary>
public class LiveSnapshotCmdletTests : IDisposable
{
    private readonly KubeApiSimulator _sim;
    private readonly Infrastructure.PowerShellHost _ps = new();

    public LiveSnapshotCmdletTests()
    {
        var options = KubeApiSimulatorOptions.Fast(TimeSpan.FromMilliseconds(5));
        options.Nodes.AddRange(SimulatedNode.TpuPool("tpu", 1, "tpu-v6e-slice", "2x2", "ct6e-standard-4t", 4));
        _sim = new KubeApiSimulator(options);
        _sim.Start();
    }

    [Fact]
    public async Task GetRhaiiDiagnosisAndTestRhaiiDeploymentReadThroughAConnection()
    {
        _sim.Seed("""
            apiVersion: v1
            kind: Namespace
            metadata: { name: demo }
            ---
            apiVersion: v1
            kind: Pod
            metadata: { name: qwen-kserve-0, namespace: demo }
            spec:
              nodeSelector: { cloud.google.com/gke-tpu-accelerator: tpu-v6e-slice, cloud.google.com/gke-tpu-topology: 2x2 }
              containers:
              - name: main
                image: vllm
                resources: { requests: { google.com/tpu: "4" }, limits: { google.com/tpu: "4" } }
            """);
        await _sim.WaitIdleAsync(TimeSpan.FromSeconds(5));
        var connection = RhaiiGke.Tests.KubeApi.SimClients.Connection(_sim, "sim");
        var (found, errors) = _ps.Invoke("Get-RhaiiDiagnosis -Cluster $c -CheckId TpuTolerationMissing", new Dictionary<string, object?> { ["c"] = connection });
        Assert.Empty(errors);
        var f = Assert.Single(found);
        Assert.Equal("qwen-kserve-0", ((DiagnosisFinding)f.BaseObject).Name);

        var (_, notFound) = _ps.Invoke("$c | Test-RhaiiDeployment -Namespace demo", new Dictionary<string, object?> { ["c"] = connection });
        Assert.StartsWith("LlmInferenceServiceNotFound", Assert.Single(notFound).FullyQualifiedErrorId);
    }

    public void Dispose()
    {
        _ps.Dispose();
        _sim.Dispose();
    }
}
