using System.Text.Json.Nodes;
using RhaiiGke.Engine.Catalog;
using RhaiiGke.Engine.Gke;
using RhaiiGke.Engine.Manifests;
using RhaiiGke.Engine.Manifests.Lint;
using RhaiiGke.Tests.Gke;
using Xunit;

namespace RhaiiGke.Tests.Gpu;

/// <summary>NVIDIA GPU serving: catalog, specs and manifests, lint, GPU node pools on the GKE simulator, cost.</summary>
public class GpuTests
{
    private static readonly GkeShouldProcess Yes = (_, _) => true;

    [Theory]
    [InlineData("nvidia-l4", null, null, "g2-standard-8", 1, 22)]
    [InlineData("l4", "2", null, "g2-standard-24", 2, 22)]
    [InlineData("nvidia-tesla-a100", null, "a2-highgpu-4g", "a2-highgpu-4g", 4, 40)]
    [InlineData("a100-80gb", "8", null, "a2-ultragpu-8g", 8, 80)]
    [InlineData("nvidia-h100-80gb", "8", null, "a3-highgpu-8g", 8, 79)]
    public void TheCatalogResolvesGpuMachineTypes(string accelerator, string? count, string? machine, string expectedMachine, int gpus, int memory)
    {
        var row = GpuCatalog.Resolve(accelerator, GpuCatalog.CountOf(count), machine);
        Assert.Equal(expectedMachine, row.MachineType);
        Assert.Equal(gpus, row.ChipsPerHost);
        Assert.Equal(memory, row.HbmPerChipGiB);
        Assert.Equal("nvidia.com/gpu", row.ResourceName);
        Assert.Equal("nvidia.com/gpu=present:NoSchedule", row.Taint);
        Assert.StartsWith("nvidia-", row.NodeLabel);
    }

    [Fact]
    public void MismatchedGpuMachineTypesAreRefusedWithTheValidOnes()
    {
        Assert.Equal("AcceleratorMachineTypeMismatch", Assert.Throws<RhaiiException>(() => GpuCatalog.Resolve("nvidia-l4", null, "a2-highgpu-1g")).ErrorId);
        Assert.Equal("GpuCountMachineTypeMismatch", Assert.Throws<RhaiiException>(() => GpuCatalog.Resolve("nvidia-l4", 2, "g2-standard-8")).ErrorId);
        var ex = Assert.Throws<RhaiiException>(() => GpuCatalog.Resolve("nvidia-h100-80gb", 3));
        Assert.Equal("UnknownGpuCount", ex.ErrorId);
        Assert.Contains("a3-highgpu-8g", ex.RecommendedAction);
        Assert.Equal("InvalidGpuCount", Assert.Throws<RhaiiException>(() => GpuCatalog.CountOf("2x4")).ErrorId);
        Assert.Equal(("NVIDIA_H100_GPUS", "PREEMPTIBLE_NVIDIA_H100_GPUS"), GpuCatalog.QuotaMetrics("h100"));
        Assert.Equal(("NVIDIA_A100_80GB_GPUS", "PREEMPTIBLE_NVIDIA_A100_80GB_GPUS"), GpuCatalog.QuotaMetrics("nvidia-a100-80gb"));
    }

    [Fact]
    public void AGpuSpecUsesTheCudaImageAndTheGpuResources()
    {
        var spec = SpecFactory.Create(new SpecRequest { Name = "qwen", Model = "Qwen/Qwen2.5-7B-Instruct", Accelerator = "nvidia-l4", Topology = "2x2" });
        Assert.Equal("nvidia-l4", spec.Accelerator);
        Assert.Equal("g2-standard-8", spec.MachineType);
        Assert.Equal(1, spec.ChipsPerHost);
        Assert.Equal("registry.redhat.io/rhaiis/vllm-cuda-rhel9:3.2.5", spec.Image);
        Assert.Equal("redhat-pull-secret", spec.PullSecretName);

        var svc = ManifestBuilder.LlmInferenceService(spec);
        var template = svc["spec"]!["template"]!;
        Assert.Equal("nvidia-l4", template["nodeSelector"]!["cloud.google.com/gke-accelerator"]!.GetValue<string>());
        Assert.Null(template["nodeSelector"]!["cloud.google.com/gke-tpu-accelerator"]);
        var toleration = Assert.Single(template["tolerations"]!.AsArray())!;
        Assert.Equal("nvidia.com/gpu", toleration["key"]!.GetValue<string>());
        var container = template["containers"]![0]!;
        Assert.Equal("1", container["resources"]!["requests"]!["nvidia.com/gpu"]!.GetValue<string>());
        Assert.Equal("1", container["resources"]!["limits"]!["nvidia.com/gpu"]!.GetValue<string>());
        Assert.Null(container["resources"]!["limits"]!["google.com/tpu"]);
        Assert.DoesNotContain(container["env"]!.AsArray(), e => e!["name"]!.GetValue<string>() == "PJRT_DEVICE");
        Assert.Equal(1, svc["spec"]!["parallelism"]!["tensor"]!.GetValue<int>());
    }

    [Fact]
    public void TensorParallelismSpansTheGpusOfTheMachineWithSharedMemoryForNccl()
    {
        var spec = SpecFactory.Create(new SpecRequest { Name = "llama", Model = "meta-llama/Llama-3.1-8B-Instruct", Accelerator = "nvidia-l4", Topology = "4" });
        Assert.Equal("g2-standard-48", spec.MachineType);
        Assert.Equal(4, spec.TensorParallelSize);
        var template = ManifestBuilder.LlmInferenceService(spec)["spec"]!["template"]!;
        Assert.Equal("Memory", template["volumes"]![0]!["emptyDir"]!["medium"]!.GetValue<string>());
        Assert.Equal("/dev/shm", template["containers"]![0]!["volumeMounts"]![0]!["mountPath"]!.GetValue<string>());
    }

    [Fact]
    public void SizingSaysWhatFitsInGpuMemory()
    {
        // 70B at 16 bits is ~131 GiB of weights: no single L4 or A100 40GB holds it, 8 x H100 do
        var ex = Assert.Throws<RhaiiException>(() => SpecFactory.Create(new SpecRequest { Name = "big", Model = "meta-llama/Llama-3.1-70B-Instruct", Accelerator = "nvidia-l4" }));
        Assert.Equal("ModelDoesNotFitTopology", ex.ErrorId);
        var fits = TpuSizer.Size(new TpuSizer.Request("meta-llama/Llama-3.1-70B-Instruct", Accelerator: "nvidia-h100-80gb"));
        Assert.False(fits.Single(f => f.MachineType == "a3-highgpu-1g").Fits);
        Assert.True(fits.Single(f => f.MachineType == "a3-highgpu-8g").Fits);
        Assert.Equal(8, fits.Single(f => f.MachineType == "a3-highgpu-8g").TensorParallelSize);
        var small = TpuSizer.Size(new TpuSizer.Request("Qwen/Qwen2.5-7B-Instruct", Accelerator: "nvidia-l4"));
        Assert.True(small.First(f => f.MachineType == "g2-standard-8").Fits);
    }

    [Fact]
    public void TheGpuPatternLintsCleanAndATpuImageOnGpuIsAnError()
    {
        var spec = SpecFactory.Create(new SpecRequest { Name = "qwen", Model = "Qwen/Qwen2.5-1.5B-Instruct", Accelerator = "nvidia-l4" });
        var yaml = string.Join("---\n", ManifestBuilder.BuildPattern(spec).Select(o => o.Yaml));
        var clean = Lint(yaml);
        Assert.DoesNotContain(clean, f => f.Severity >= FindingSeverity.Warning && f.RuleId != "RHAII601");

        var wrong = SpecFactory.Create(new SpecRequest { Name = "qwen", Model = "Qwen/Qwen2.5-1.5B-Instruct", Accelerator = "nvidia-l4", Image = SpecFactory.DefaultTpuImage });
        var findings = Lint(string.Join("---\n", ManifestBuilder.BuildService(wrong).Select(o => o.Yaml)));
        Assert.Contains(findings, f => f.RuleId == "RHAII801" && f.Severity == FindingSeverity.Error);

        var noToleration = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  nodeSelector: {cloud.google.com/gke-accelerator: nvidia-l4-gpu}\n  containers:\n  - name: main\n    image: registry.redhat.io/rhaiis/vllm-cuda-rhel9:3.2.5\n    args: [\"--tensor-parallel-size=2\"]\n    resources: {requests: {nvidia.com/gpu: \"1\"}, limits: {nvidia.com/gpu: \"1\"}}\n";
        var ids = Lint(noToleration).Select(f => f.RuleId).ToList();
        Assert.Contains("RHAII802", ids);
        Assert.Contains("RHAII803", ids);
        Assert.Contains("RHAII804", ids);
    }

    private static IReadOnlyList<ManifestFinding> Lint(string yaml) => ManifestLinter.Lint([new ManifestSource("m.yaml", yaml)]).SelectMany(r => r.Findings).ToList();

    private static TpuClusterSpec GpuSpec(string name, string zone = "us-central1-a") => new()
    {
        Name = name, Project = GkeTestBed.Project, Zone = zone, Accelerator = "nvidia-l4", Topology = "", NodePoolName = "gpu-pool",
        InitialNodeCount = 1, MinNodes = 0, MaxNodes = 2, SystemNodeCount = 1,
    };

    [Fact]
    public async Task NewGpuClusterCreatesAPoolWithGkeManagedDriversAndIsIdempotent()
    {
        using var bed = new GkeTestBed(TimeSpan.FromMilliseconds(20));
        using var session = bed.Session();
        var service = new TpuClusterService(session);
        var cluster = await service.EnsureAsync(GpuSpec("gpu"), Yes, false, false, default);
        var pool = Assert.Single(cluster!.GpuNodePools);
        Assert.Empty(cluster.TpuNodePools);
        Assert.Equal("nvidia-l4", pool.Accelerator);
        Assert.Equal("g2-standard-8", pool.MachineType);
        Assert.Equal(1, pool.ChipsPerNode);
        Assert.Equal("DEFAULT", pool.GpuDriverVersion);
        Assert.Equal("RUNNING", pool.Status);
        Assert.Empty(cluster.Drift);
        var body = bed.Simulator.RequestLog.Last(r => r.Contains("/nodePools", StringComparison.Ordinal) && r.StartsWith("POST", StringComparison.Ordinal));
        Assert.Contains("/clusters/gpu/nodePools", body);

        var again = await service.EnsureAsync(GpuSpec("gpu"), Yes, false, false, default);
        Assert.Single(again!.GpuNodePools);
        Assert.Equal(1, bed.Simulator.CountRequests("POST", "/clusters/gpu/nodePools"));
    }

    [Fact]
    public async Task GpuQuotaIsCheckedBeforeAnythingIsCreated()
    {
        using var bed = new GkeTestBed(TimeSpan.FromMilliseconds(20));
        bed.Simulator.SetQuota(GkeTestBed.Project, "us-central1", "NVIDIA_L4_GPUS", 0);
        using var session = bed.Session();
        var service = new TpuClusterService(session);
        var ex = await Assert.ThrowsAsync<GkeApiException>(() => service.EnsureAsync(GpuSpec("noquota"), Yes, false, false, default));
        Assert.Equal("GkeQuotaExceeded", ex.ErrorId);
        Assert.Contains("NVIDIA_L4_GPUS", ex.Message);
        Assert.Contains("GPU quota", ex.Message);
        Assert.Equal(0, bed.Simulator.CountRequests("POST", "/clusters"));

        var pre = await new PrerequisiteService(session).RunAsync(new PrerequisiteRequest
        {
            Project = GkeTestBed.Project, Zone = "us-central1-a", Accelerator = "nvidia-l4", Spot = true, RequiredApis = [],
        }, default);
        var check = Assert.Single(pre.Checks, c => c.Name == "GpuQuota");
        Assert.Equal(PrerequisiteStatus.Passed, check.Status);
        Assert.Equal("PREEMPTIBLE_NVIDIA_L4_GPUS", check.Data["Metric"]);
        Assert.Equal(PrerequisiteStatus.Passed, pre.Checks.Single(c => c.Name == "AcceleratorInZone").Status);
    }

    [Fact]
    public async Task AGpuStockoutRemovesThePoolAndNamesZonesThatOfferTheGpu()
    {
        using var bed = new GkeTestBed(TimeSpan.FromMilliseconds(20));
        bed.Simulator.Faults.StockoutZones.Add("us-central1-a");
        using var session = bed.Session();
        var service = new TpuClusterService(session);
        var ex = await Assert.ThrowsAsync<GkeApiException>(() => service.EnsureAsync(GpuSpec("stock"), Yes, false, false, default));
        Assert.Equal("GkeStockout", ex.ErrorId);
        Assert.Contains("us-central1-c", ex.AlternativeZones);
        Assert.Contains("New-GpuCluster", ex.RecommendedAction);
        var cluster = await service.GetAsync(GkeTestBed.Project, "us-central1-a", "stock", default);
        Assert.Empty(cluster!.GpuNodePools);
    }

    [Fact]
    public async Task AZoneWithoutTheGpuIsRefusedInPreflight()
    {
        using var bed = new GkeTestBed(TimeSpan.FromMilliseconds(20));
        using var session = bed.Session();
        var spec = GpuSpec("h100", "europe-west4-a");
        spec.Accelerator = "nvidia-h100-80gb";
        spec.Topology = "8";
        var ex = await Assert.ThrowsAsync<GkeApiException>(() => new TpuClusterService(session).EnsureAsync(spec, Yes, false, false, default));
        Assert.Equal("AcceleratorNotOfferedInZone", ex.ErrorId);
        Assert.Contains("us-central1-a", ex.AlternativeZones);
    }

    [Fact]
    public async Task TheSimulatorIsStrictAboutTheAcceleratorsField()
    {
        using var bed = new GkeTestBed(TimeSpan.FromMilliseconds(20));
        using var session = bed.Session();
        var service = new TpuClusterService(session);
        await service.EnsureAsync(GpuSpec("strict"), Yes, false, true, default);
        var gke = service.Client;
        var bad = new JsonObject
        {
            ["name"] = "bad", ["initialNodeCount"] = 1,
            ["config"] = new JsonObject
            {
                ["machineType"] = "g2-standard-8",
                ["accelerators"] = new JsonArray(new JsonObject { ["acceleratorCount"] = "2", ["acceleratorType"] = "nvidia-l4" }),
            },
        };
        var ex = await Assert.ThrowsAsync<GkeApiException>(() => gke.CreateNodePoolAsync(GkeTestBed.Project, "us-central1-a", "strict", (JsonObject)bad.DeepClone(), default));
        Assert.Contains("not supported for machine type", ex.Message);
        bad["config"]!["accelerators"]![0]!["acceleratorCount"] = "1";
        bad["config"]!["accelerators"]![0]!["gpuDriverInstallationConfig"] = new JsonObject { ["gpuDriverVersion"] = "NEWEST" };
        ex = await Assert.ThrowsAsync<GkeApiException>(() => gke.CreateNodePoolAsync(GkeTestBed.Project, "us-central1-a", "strict", (JsonObject)bad.DeepClone(), default));
        Assert.Contains("gpu_driver_version", ex.Message);
    }

    [Fact]
    public void TheGpuPoolRequestUsesTheRestFieldNames()
    {
        var spec = GpuSpec("body");
        spec.GpuDriverVersion = "latest";
        spec.Topology = "4";
        var plan = TpuClusterPlan.Create(spec);
        Assert.True(plan.IsGpu);
        var pool = GpuClusterRequests.NodePool(plan);
        var acc = pool["config"]!["accelerators"]![0]!;
        Assert.Equal("4", acc["acceleratorCount"]!.GetValue<string>());
        Assert.Equal("nvidia-l4", acc["acceleratorType"]!.GetValue<string>());
        Assert.Equal("LATEST", acc["gpuDriverInstallationConfig"]!["gpuDriverVersion"]!.GetValue<string>());
        Assert.Equal("g2-standard-48", pool["config"]!["machineType"]!.GetValue<string>());
        Assert.Null(pool["placementPolicy"]);
        Assert.Null(pool["config"]!["taints"]);
        spec.GpuDriverVersion = "NEWEST";
        Assert.Equal("InvalidGpuDriverVersion", Assert.Throws<RhaiiException>(() => TpuClusterPlan.Create(spec)).ErrorId);
    }

    [Fact]
    public void TheCostOfAGpuPoolComesFromTheDatedGpuTable()
    {
        var est = GpuCostEstimator.Estimate(new CostRequest("nvidia-l4", "", "g2-standard-24", 2), PriceTable.BuiltIn, GpuPriceTable.BuiltIn, new DateOnly(2026, 12, 7));
        Assert.Equal(4, est.Chips);
        Assert.Equal(Math.Round(2 * 2.00083, 4), est.TpuHourly);
        Assert.Equal(Math.Round(2.00083 / 2, 5), est.PricePerChipHour);
        Assert.Equal(new DateOnly(2026, 7, 30), est.PriceTableDate);
        Assert.True(est.OverheadHourly > 0);
        Assert.Contains(est.Notes, n => n.Contains("includes its GPUs", StringComparison.Ordinal));
        var h100 = GpuCostEstimator.Estimate(new CostRequest("nvidia-h100-80gb", "8", null, 1), PriceTable.BuiltIn, GpuPriceTable.BuiltIn, new DateOnly(2026, 12, 7));
        Assert.Equal("a3-highgpu-8g", h100.MachineType);
        Assert.True(h100.Hourly > est.Hourly);
    }
}
