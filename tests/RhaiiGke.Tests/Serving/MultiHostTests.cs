using System.Management.Automation;
using System.Text.Json.Nodes;
using RhaiiGke.Engine.Catalog;
using RhaiiGke.Engine.Kube;
using RhaiiGke.Engine.Manifests;
using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.Serving;

/// <summary>
/// Multi-host TPU serving: a replica on a multi-host slice is one LeaderWorkerSet group (KServe spec.worker with
/// pipeline parallelism). Sizing picks multi-host slices for 70B-class models, the manifest carries what KServe and
/// the vLLM TPU image need, and on the sandbox the group lands on one slice, serves only as a whole, and is
/// recreated as a whole when one worker pod is deleted (RecreateGroupOnPodRestart).
/// </summary>
public class MultiHostTests : IDisposable
{
    private const string Token = "hf_TESTTOKEN_mh_81c2";
    private readonly PowerShellHost _ps = new();
    private readonly string _sandbox = "multihost-" + Guid.NewGuid().ToString("N")[..6];

    [Fact]
    public void SeventyBClassModelsSizeToMultiHostSlices()
    {
        // v5e has 16 GiB per chip: no single-host slice holds Llama 3.1 70B, a 4x4 (4 hosts) does
        var v5e = TpuSizer.Size(new TpuSizer.Request("meta-llama/Llama-3.1-70B-Instruct", Accelerator: "v5e"));
        var rec = Assert.Single(v5e, f => f.Recommended);
        Assert.True(rec.Topology.MultiHost);
        Assert.Equal("4x4", rec.TopologyName);
        Assert.Equal(4, rec.TensorParallelSize);
        Assert.Equal(4, rec.PipelineParallelSize);
        Assert.DoesNotContain(v5e, f => f.Fits && !f.Topology.MultiHost);

        // Qwen2.5-72B with 32k contexts needs 16 v6e chips: only multi-host slices have them
        var v6e = TpuSizer.Size(new TpuSizer.Request("Qwen/Qwen2.5-72B-Instruct", MaxModelLength: 32768, Accelerator: "v6e"));
        var best = Assert.Single(v6e, f => f.Recommended);
        Assert.Equal(("4x4", "ct6e-standard-4t", 4), (best.TopologyName, best.MachineType, best.Topology.Hosts));
        Assert.Contains("LeaderWorkerSet", best.Note);

        // when a single-host slice holds the model, it stays the recommendation
        var small = TpuSizer.Size(new TpuSizer.Request("Qwen/Qwen2.5-1.5B-Instruct", Accelerator: "v6e"));
        Assert.All(small.Where(f => f.Recommended), f => Assert.False(f.Topology.MultiHost));

        // through the cmdlet
        var rows = _ps.Run("Get-TpuTopology -Model meta-llama/Llama-3.1-70B-Instruct -Accelerator v5e -FitOnly | Where-Object Recommended");
        var fit = (TpuModelFit)Assert.Single(rows).BaseObject;
        Assert.True(fit.Topology.MultiHost);
    }

    [Fact]
    public void MultiHostSpecRendersALeaderWorkerSetReplica()
    {
        var spec = SpecFactory.Create(new SpecRequest { Name = "big", Model = "hf://Qwen/Qwen2.5-72B-Instruct", Topology = "4x4" });
        Assert.Equal((4, 4, 4), (spec.Hosts, spec.ChipsPerHost, spec.TensorParallelSize));
        var objects = ManifestBuilder.BuildService(spec);
        var svc = ManifestBuilder.LlmInferenceService(spec);
        Assert.Equal(4, (int)svc["spec"]!["parallelism"]!["tensor"]!);
        Assert.Equal(4, (int)svc["spec"]!["parallelism"]!["pipeline"]!);
        Assert.Equal("cloud.google.com/gke-nodepool", (string?)svc["metadata"]!["annotations"]![MultiHostManifests.ExclusiveTopologyAnnotation]);
        var worker = svc["spec"]!["worker"]!;
        Assert.Equal("4", (string?)worker["containers"]![0]!["resources"]!["limits"]!["google.com/tpu"]);
        Assert.Equal("4x4", (string?)worker["nodeSelector"]!["cloud.google.com/gke-tpu-topology"]);
        var args = (string?)svc["spec"]!["template"]!["containers"]![0]!["env"]![0]!["value"];
        Assert.Contains("--tensor-parallel-size=4", args);
        Assert.Contains("--pipeline-parallel-size=4", args);
        Assert.Contains("--distributed-executor-backend=ray", args);
        // KServe ships no preset for worker + pipeline parallelism: the service's namespace gets one, applied before the service
        var config = Assert.Single(objects, o => o.Kind == "LLMInferenceServiceConfig" && o.Name == MultiHostManifests.PipelineConfigName);
        Assert.True(config.Order < Assert.Single(objects, o => o.Kind == "LLMInferenceService").Order);
        Assert.Contains(objects, o => o.Kind == "NetworkPolicy" && o.Name == "big-allow-gateway-to-leader");
        Assert.Contains(objects, o => o.Kind == "NetworkPolicy" && o.Name == "big-allow-multihost-group");

        // Export-RhaiiManifest writes the multi-host objects; Get-RhaiiCostEstimate prices the whole slice (4 hosts)
        var exported = _ps.Run("New-LlmInferenceServiceSpec -Name big -Model Qwen/Qwen2.5-72B-Instruct -Topology 4x4 | Export-RhaiiManifest | ForEach-Object Yaml");
        var yaml = string.Join("\n", exported.Select(o => o.ToString()));
        Assert.Contains("pipeline: 4", yaml);
        Assert.Contains("worker:", yaml);
        Assert.Contains(MultiHostManifests.PipelineConfigName, yaml);
        var cost = (CostEstimate)Assert.Single(_ps.Run("New-LlmInferenceServiceSpec -Name big -Model Qwen/Qwen2.5-72B-Instruct -Topology 4x4 | Get-RhaiiCostEstimate")).BaseObject;
        Assert.Equal((4, 16, "ct6e-standard-4t"), (cost.TpuNodes, cost.Chips, cost.MachineType));

        // the tensor-parallel size is per host; the whole slice's chips are refused
        var e = Assert.Throws<RhaiiException>(() => SpecFactory.Create(new SpecRequest { Name = "big", Model = "hf://Qwen/Qwen2.5-72B-Instruct", Topology = "4x4", TensorParallelSize = 16 }));
        Assert.Equal("TensorParallelMismatch", e.ErrorId);
        Assert.Contains("per host", e.RecommendedAction);
    }

    [Fact]
    public void LintAndDiagnosisCatchPartialSlicesSmallPoolsAndMismatchedParallelism()
    {
        var spec = SpecFactory.Create(new SpecRequest { Name = "big", Model = "hf://Qwen/Qwen2.5-72B-Instruct", Topology = "4x4" });
        var yaml = Assert.Single(ManifestBuilder.BuildService(spec), o => o.Kind == "LLMInferenceService").Yaml;
        var clean = RhaiiGke.Engine.Manifests.Lint.ManifestLinter.LintYaml(yaml);
        Assert.DoesNotContain(clean, f => f.Severity == FindingSeverity.Error);

        // a group of 2 pods on a 4-host slice: a partial slice
        var partial = RhaiiGke.Engine.Manifests.Lint.ManifestLinter.LintYaml(yaml.Replace("pipeline: 4", "pipeline: 2").Replace("--pipeline-parallel-size=4", "--pipeline-parallel-size=2"));
        Assert.Contains(partial, f => f.RuleId == "RHAII004" && f.Message.Contains("2 pod(s) per replica") && f.Severity == FindingSeverity.Error);
        // tensor 16 per host x pipeline 4 = 64 chips on a 16-chip slice
        var tp = RhaiiGke.Engine.Manifests.Lint.ManifestLinter.LintYaml(yaml.Replace("tensor: 4", "tensor: 16").Replace("--tensor-parallel-size=4", "--tensor-parallel-size=16"));
        Assert.Contains(tp, f => f.RuleId == "RHAII101" && f.Severity == FindingSeverity.Error);

        // live: a 4-host group against a 2-node 4x4 pool, and a 2-pod group on 4x4
        string Node(int i) => $"{{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{{\"name\":\"gke-tpu-{i}\",\"labels\":{{\"cloud.google.com/gke-nodepool\":\"tpu-pool\",\"cloud.google.com/gke-tpu-accelerator\":\"tpu-v6e-slice\",\"cloud.google.com/gke-tpu-topology\":\"4x4\"}}}}}}";
        string Lws(string name, int size) => $"{{\"apiVersion\":\"leaderworkerset.x-k8s.io/v1\",\"kind\":\"LeaderWorkerSet\",\"metadata\":{{\"name\":\"{name}\",\"namespace\":\"llm\"}},\"spec\":{{\"replicas\":1,\"leaderWorkerTemplate\":{{\"size\":{size},\"workerTemplate\":{{\"spec\":{{\"nodeSelector\":{{\"cloud.google.com/gke-tpu-accelerator\":\"tpu-v6e-slice\",\"cloud.google.com/gke-tpu-topology\":\"4x4\"}},\"containers\":[{{\"name\":\"main\",\"resources\":{{\"requests\":{{\"google.com/tpu\":\"4\"}}}}}}]}}}}}}}}}}";
        var findings = RhaiiGke.Engine.Serving.Diagnosis.Diagnoser.Run(RhaiiGke.Engine.Serving.Diagnosis.ClusterSnapshot.FromText(Node(0), Node(1), Lws("big-kserve-mn", 4), Lws("half-kserve-mn", 2)));
        var small = Assert.Single(findings, f => f.CheckId == "MultiHostPoolSmallerThanSlice");
        Assert.Equal("big-kserve-mn", small.Name);
        Assert.Contains("tpu-pool", small.Message);
        var part = Assert.Single(findings, f => f.CheckId == "MultiHostGroupSizeMismatch");
        Assert.Equal("half-kserve-mn", part.Name);
    }

    [Fact]
    public async Task GroupServesAsAWholeAndIsRecreatedWhenAWorkerIsDeleted()
    {
        // one v6e 4x4 slice: 4 hosts of ct6e-standard-4t, 4 chips each
        _ps.Run($"$sb = Start-RhaiiSandbox -Name {_sandbox} -TpuNodes 4 -Topology 4x4 -ControllerDelay 00:00:00.005; $sb | Install-RhaiiOperators | Out-Null; New-InferenceGateway | Out-Null");
        _ps.Run($"$hf = ConvertTo-SecureString '{Token}' -AsPlainText -Force; $cred = [pscredential]::new('svc-account', (ConvertTo-SecureString 'registry-password-xyz' -AsPlainText -Force))");
        var deployed = (LlmInferenceService)Assert.Single(_ps.Run(
            "New-LlmInferenceServiceSpec -Name big -Model Qwen/Qwen2.5-72B-Instruct -Namespace llm -Topology 4x4 | " +
            "Deploy-LlmInferenceService -RegistryCredential $cred -HuggingFaceToken $hf -Wait -Timeout 00:05:00")).BaseObject;
        Assert.True(deployed.Ready);
        Assert.Equal(1, deployed.ReadyReplicas);
        Assert.Single(deployed.Pods, p => p.Role == "workload" && p.Name == "big-kserve-mn-0" && p.Ready);
        Assert.Equal(3, deployed.Pods.Count(p => p.Role == "worker" && p.Ready));
        // the group took the whole slice: one pod per host
        Assert.Equal(4, deployed.Pods.Where(p => p.Role is "workload" or "worker").Select(p => p.Node).Distinct().Count());
        Assert.Contains(deployed.Conditions, c => c.Type == "WorkerWorkloadReady" && c.IsTrue);

        var connection = (ClusterConnection)_ps.Run("$sb.Connection")[0].BaseObject;
        var kube = KubeClients.For(connection);
        var lws = await kube.GetAsync("apis/leaderworkerset.x-k8s.io/v1/namespaces/llm/leaderworkersets/big-kserve-mn", CancellationToken.None);
        Assert.Equal(4, (int)lws!["spec"]!["leaderWorkerTemplate"]!["size"]!);
        Assert.Equal("RecreateGroupOnPodRestart", (string?)lws["spec"]!["leaderWorkerTemplate"]!["restartPolicy"]);
        var worker = await kube.GetAsync("api/v1/namespaces/llm/pods/big-kserve-mn-0-2", CancellationToken.None);
        var env = worker!["spec"]!["containers"]!.AsArray().First(c => (string?)c!["name"] == "main")!["env"]!.AsArray()
            .ToDictionary(e => (string)e!["name"]!, e => (string?)e!["value"]);
        Assert.Equal("2", env["TPU_WORKER_ID"]);
        Assert.Equal("big-kserve-mn-0.big-kserve-mn,big-kserve-mn-0-1.big-kserve-mn,big-kserve-mn-0-2.big-kserve-mn,big-kserve-mn-0-3.big-kserve-mn", env["TPU_WORKER_HOSTNAMES"]);
        Assert.Equal("big-kserve-mn-0.big-kserve-mn.llm", env["LWS_LEADER_ADDRESS"]);
        Assert.Equal("4", env["LWS_GROUP_SIZE"]);

        // traffic through the gateway reaches the leader
        var verified = (TestRhaiiDeploymentResult)Assert.Single(_ps.Run("Test-RhaiiDeployment -Namespace llm -Name big")).BaseObject;
        Assert.True(verified.Passed, string.Join("; ", verified.Checks.Where(c => c.Status == CheckStatus.Failed).Select(c => $"{c.Name}: {c.Detail}")));
        Assert.Contains(verified.Checks, c => c.Name == "GatewayCompletion" && c.Status == CheckStatus.Passed);

        // delete one worker: the whole group is recreated (a new leader), then the service is Ready again
        var leaderUid = (string?)(await kube.GetAsync("api/v1/namespaces/llm/pods/big-kserve-mn-0", CancellationToken.None))!["metadata"]!["uid"];
        await kube.DeleteAsync("api/v1/namespaces/llm/pods/big-kserve-mn-0-1", "Background", dryRun: false, CancellationToken.None);
        var deadline = DateTime.UtcNow.AddMinutes(3);
        string? newUid = leaderUid;
        while (newUid == leaderUid && DateTime.UtcNow < deadline)
        {
            newUid = (string?)(await kube.GetAsync("api/v1/namespaces/llm/pods/big-kserve-mn-0", CancellationToken.None))?["metadata"]?["uid"];
            if (newUid == leaderUid) await Task.Delay(20);
        }
        Assert.NotEqual(leaderUid, newUid);
        var events = await kube.ListAsync("api/v1/namespaces/llm/events", null, CancellationToken.None);
        Assert.Contains(events["items"]!.AsArray(), e => (string?)e?["reason"] == "RecreateGroup");
        var again = (LlmInferenceService)Assert.Single(_ps.Run("Wait-LlmInferenceService -Namespace llm -Name big -Timeout 00:05:00")).BaseObject;
        Assert.True(again.Ready);
        Assert.Equal(3, again.Pods.Count(p => p.Role == "worker" && p.Ready));
        var after = (TestRhaiiDeploymentResult)Assert.Single(_ps.Run("Test-RhaiiDeployment -Namespace llm -Name big")).BaseObject;
        Assert.True(after.Passed);
    }

    /// <summary>
    /// The other slice shapes the guides name, each end to end on a sandbox holding exactly one slice: v6e 2x4 on
    /// ct6e-standard-4t (two hosts; on ct6e-standard-8t it is one host), v6e 4x8 (eight hosts) and v5p 2x2x2 (two
    /// hosts of ct5p-hightpu-4t, a 3-D topology). The group takes every host of the slice, TP is the chips of one
    /// host and PP the hosts, the TPU env names every host, and traffic through the gateway reaches the leader.
    /// </summary>
    [Theory]
    [InlineData("v6e", "2x4", "ct6e-standard-4t", "tpu-v6e-slice", 2, 4)]
    [InlineData("v6e", "4x8", "ct6e-standard-4t", "tpu-v6e-slice", 8, 4)]
    [InlineData("v5p", "2x2x2", "ct5p-hightpu-4t", "tpu-v5p-slice", 2, 4)]
    public async Task OtherSliceShapesDeployToReadyAndPassTestRhaiiDeployment(string accelerator, string topology, string machineType, string label, int hosts, int chips)
    {
        _ps.Run($"$sb = Start-RhaiiSandbox -Name {_sandbox} -TpuNodes {hosts} -Accelerator {accelerator} -Topology {topology} -TpuMachineType {machineType} -ControllerDelay 00:00:00.005; $sb | Install-RhaiiOperators | Out-Null; New-InferenceGateway | Out-Null");
        _ps.Run("$cred = [pscredential]::new('svc-account', (ConvertTo-SecureString 'registry-password-xyz' -AsPlainText -Force))");
        var deployed = (LlmInferenceService)Assert.Single(_ps.Run(
            $"New-LlmInferenceServiceSpec -Name big -Model Qwen/Qwen2.5-72B-Instruct -Namespace llm -Accelerator {accelerator} -Topology {topology} -MachineType {machineType} | " +
            "Deploy-LlmInferenceService -RegistryCredential $cred -Wait -Timeout 00:05:00")).BaseObject;
        Assert.True(deployed.Ready);
        var group = deployed.Pods.Where(p => p.Role is "workload" or "worker").ToList();
        Assert.Equal(hosts, group.Count(p => p.Ready));
        Assert.Single(group, p => p.Role == "workload" && p.Name == "big-kserve-mn-0");
        Assert.Equal(hosts, group.Select(p => p.Node).Distinct().Count());

        var connection = (ClusterConnection)_ps.Run("$sb.Connection")[0].BaseObject;
        var kube = KubeClients.For(connection);
        var lws = await kube.GetAsync("apis/leaderworkerset.x-k8s.io/v1/namespaces/llm/leaderworkersets/big-kserve-mn", CancellationToken.None);
        Assert.Equal(hosts, (int)lws!["spec"]!["leaderWorkerTemplate"]!["size"]!);
        var svc = await kube.GetAsync("apis/serving.kserve.io/v1alpha1/namespaces/llm/llminferenceservices/big", CancellationToken.None);
        Assert.Equal(chips, (int)svc!["spec"]!["parallelism"]!["tensor"]!);
        Assert.Equal(hosts, (int)svc["spec"]!["parallelism"]!["pipeline"]!);
        Assert.Equal(label, (string?)svc["spec"]!["worker"]!["nodeSelector"]!["cloud.google.com/gke-tpu-accelerator"]);
        Assert.Equal(topology, (string?)svc["spec"]!["worker"]!["nodeSelector"]!["cloud.google.com/gke-tpu-topology"]);

        // the last worker: its TPU worker id is its index in the group, and the hostnames list every host in order
        var last = $"big-kserve-mn-0-{hosts - 1}";
        var pod = await kube.GetAsync($"api/v1/namespaces/llm/pods/{last}", CancellationToken.None);
        var main = pod!["spec"]!["containers"]!.AsArray().First(c => (string?)c!["name"] == "main")!;
        var env = main["env"]!.AsArray().ToDictionary(e => (string)e!["name"]!, e => (string?)e!["value"]);
        Assert.Equal((hosts - 1).ToString(System.Globalization.CultureInfo.InvariantCulture), env["TPU_WORKER_ID"]);
        var names = env["TPU_WORKER_HOSTNAMES"]!.Split(',');
        Assert.Equal(hosts, names.Length);
        Assert.Equal("big-kserve-mn-0.big-kserve-mn", names[0]);
        Assert.Equal($"{last}.big-kserve-mn", names[^1]);
        Assert.Equal(chips.ToString(System.Globalization.CultureInfo.InvariantCulture), (string?)main["resources"]!["limits"]!["google.com/tpu"]);
        var args = (string?)svc["spec"]!["template"]!["containers"]![0]!["env"]![0]!["value"];
        Assert.Contains($"--tensor-parallel-size={chips}", args);
        Assert.Contains($"--pipeline-parallel-size={hosts}", args);

        var verified = (TestRhaiiDeploymentResult)Assert.Single(_ps.Run("Test-RhaiiDeployment -Namespace llm -Name big")).BaseObject;
        Assert.True(verified.Passed, string.Join("; ", verified.Checks.Where(c => c.Status == CheckStatus.Failed).Select(c => $"{c.Name}: {c.Detail}")));
        Assert.Contains(verified.Checks, c => c.Name == "GatewayCompletion" && c.Status == CheckStatus.Passed);
    }

    [Fact]
    public void APoolSmallerThanTheSliceLeavesTheGroupUnschedulable()
    {
        // two hosts cannot hold a 4-host group: the workers stay Pending and the service says which
        _ps.Run($"$sb = Start-RhaiiSandbox -Name {_sandbox} -TpuNodes 2 -Topology 4x4 -ControllerDelay 00:00:00.005; $sb | Install-RhaiiOperators | Out-Null; New-InferenceGateway | Out-Null");
        _ps.Run($"$hf = ConvertTo-SecureString '{Token}' -AsPlainText -Force; $cred = [pscredential]::new('svc-account', (ConvertTo-SecureString 'registry-password-xyz' -AsPlainText -Force))");
        var (_, errors) = _ps.Invoke(
            "New-LlmInferenceServiceSpec -Name big -Model Qwen/Qwen2.5-72B-Instruct -Namespace llm -Topology 4x4 | " +
            "Deploy-LlmInferenceService -RegistryCredential $cred -HuggingFaceToken $hf -Wait -Timeout 00:05:00 -SchedulingTimeout 00:00:05");
        var error = Assert.Single(errors);
        Assert.Equal("LlmInferenceServiceUnschedulable", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains("group 0", error.Exception.Message);
        Assert.Contains("Insufficient google.com/tpu", error.Exception.Message);
    }

    public void Dispose()
    {
        try { _ps.Invoke($"Stop-RhaiiSandbox -Name {_sandbox}"); } catch { /* best effort */ }
        _ps.Dispose();
    }
}
