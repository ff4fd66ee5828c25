using RhaiiGke.Engine.Catalog;
using RhaiiGke.Tests.Infrastructure;
using Xunit;

namespace RhaiiGke.Tests.Catalog;

public class TpuCatalogTests
{
    [Theory]
    [InlineData("v6e", "v6e")]
    [InlineData("tpu-v6e-slice", "v6e")]
    [InlineData("TPU-V6E", "v6e")]
    [InlineData("trillium", "v6e")]
    [InlineData("tpu-v5-lite-podslice", "v5e")]
    [InlineData("v5p", "v5p")]
    public void NormalizesWhatPeopleSay(string input, string expected) =>
        Assert.Equal(expected, TpuCatalog.NormalizeAccelerator(input));

    [Fact]
    public void UnknownAcceleratorIsAClearError()
    {
        var ex = Assert.Throws<RhaiiException>(() => TpuCatalog.RequireAccelerator("v7x"));
        Assert.Equal("UnknownAccelerator", ex.ErrorId);
        Assert.Equal(RhaiiErrorCategory.InvalidArgument, ex.Category);
        Assert.Contains("v6e", ex.RecommendedAction);
    }

    [Fact]
    public void V6eTwoByTwoIsOneFourChipHost()
    {
        var t = TpuCatalog.Resolve("v6e", "2x2");
        Assert.Equal("ct6e-standard-4t", t.MachineType);
        Assert.Equal("tpu-v6e-slice", t.NodeLabel);
        Assert.Equal(4, t.Chips);
        Assert.Equal(1, t.Hosts);
        Assert.Equal(4, t.ResourceRequest);
        Assert.Equal(128, t.TotalHbmGiB);
    }

    [Fact]
    public void TwoByFourPrefersTheSingleHostMachineUnlessOneIsNamed()
    {
        Assert.Equal("ct6e-standard-8t", TpuCatalog.Resolve("v6e", "2x4").MachineType);
        var multi = TpuCatalog.Resolve("v6e", "2x4", "ct6e-standard-4t");
        Assert.Equal(2, multi.Hosts);
        Assert.Equal(4, multi.ResourceRequest);
        Assert.True(multi.MultiHost);
    }

    [Fact]
    public void MismatchedMachineTypeAndTopologyNamesTheValidChoices()
    {
        var ex = Assert.Throws<RhaiiException>(() => TpuCatalog.Resolve("v6e", "2x2", "ct6e-standard-8t"));
        Assert.Equal("TopologyMachineTypeMismatch", ex.ErrorId);
        Assert.Contains("2x2 (ct6e-standard-4t)", ex.RecommendedAction);
        Assert.Equal("UnknownTpuTopology", Assert.Throws<RhaiiException>(() => TpuCatalog.Resolve("v6e", "3x3")).ErrorId);
    }

    [Fact]
    public void EveryTopologyStringMatchesItsChipCount()
    {
        foreach (var t in TpuCatalog.All)
            Assert.Equal(TpuCatalog.ChipsOf(t.Topology), t.Chips);
    }

    [Fact]
    public void NoBogusTypesFromTheQuickstartExist()
    {
        // llm-d-xks-gke's quickstart lists ct5e-standard-4, ct6e-standard-16t and 2x2x1 for v6e: none is real.
        Assert.Empty(TpuCatalog.Find(machineType: "ct6e-standard-16t"));
        Assert.Empty(TpuCatalog.Find(machineType: "ct5e-standard-4"));
        Assert.Empty(TpuCatalog.Find("v6e", topology: "2x2x1"));
    }
}

public class TpuSizerTests
{
    [Fact]
    public void ThreeBillionModelFitsOneV6eChipAndTwoByTwoWastesThree()
    {
        var fits = TpuSizer.Size(new TpuSizer.Request("Qwen/Qwen2.5-3B-Instruct", Accelerator: "v6e"));
        var one = fits.Single(f => f.TopologyName == "1x1");
        Assert.True(one.Fits);
        Assert.True(one.Recommended);
        Assert.Equal(1, one.MinimumChips);
        var four = fits.Single(f => f.TopologyName == "2x2");
        Assert.True(four.Fits);
        Assert.Equal(3, four.WastedChips);
        Assert.False(four.Recommended);
        Assert.Equal(4, four.TensorParallelSize);
        Assert.Contains("4 replicas", four.Note);
    }

    [Fact]
    public void WeightsFollowParametersTimesBytes()
    {
        var fit = TpuSizer.Size(new TpuSizer.Request(ParametersBillions: 10, DType: "float32", Accelerator: "v5p")).First();
        Assert.Equal(Math.Round(10e9 * 4 / (1024d * 1024 * 1024), 2), fit.WeightsGiB);
    }

    [Fact]
    public void SeventyBillionNeedsAMultiChipSlice()
    {
        var fits = TpuSizer.Size(new TpuSizer.Request("meta-llama/Llama-3.1-70B-Instruct", Accelerator: "v6e"));
        Assert.False(fits.Single(f => f.TopologyName == "2x2").Fits);
        var smallest = fits.Where(f => f.Fits).OrderBy(f => f.Chips).First();
        Assert.Equal(8, smallest.Chips);
        Assert.Equal(8, smallest.TensorParallelSize);
    }

    [Fact]
    public void TensorParallelMustDivideAttentionHeads()
    {
        // Qwen2.5-7B has 28 attention heads: TP 8 is impossible, TP 4 is used and 4 chips idle.
        var f = TpuSizer.Size(new TpuSizer.Request("Qwen/Qwen2.5-7B-Instruct", Accelerator: "v6e")).Single(x => x.MachineType == "ct6e-standard-8t");
        Assert.Equal(4, f.TensorParallelSize);
        Assert.Contains("TP is 4", f.Note);
        Assert.Contains("4 chip(s) idle", f.Note);
        Assert.DoesNotContain("TP=8", f.Note);
    }

    [Fact]
    public void NoteNamesTheTensorParallelSizeOfItsRow()
    {
        // gemma-2-9b has 16 attention heads: on the single-host 2x4 (8 chips) TP=8; on the multi-host 4x8 (8 hosts of 4
        // chips) TP=4 per host x PP=8 hosts, and the note must not claim TP=32
        var single = TpuSizer.Size(new TpuSizer.Request("google/gemma-2-9b-it", Accelerator: "v6e")).Single(x => x.MachineType == "ct6e-standard-8t");
        Assert.Equal((8, 1), (single.TensorParallelSize, single.PipelineParallelSize));
        var row = TpuSizer.Size(new TpuSizer.Request("google/gemma-2-9b-it", Accelerator: "v6e")).Single(x => x.TopologyName == "4x8");
        Assert.Equal((4, 8), (row.TensorParallelSize, row.PipelineParallelSize));
        Assert.Contains("one replica at TP=4 × PP=8", row.Note);
        Assert.DoesNotContain("idle", row.Note);
        Assert.DoesNotContain("TP=32", row.Note);

        // and for every model and slice: any TP the note gives for this slice is the row's TP
        foreach (var model in ModelCatalog.Known)
            foreach (var f in TpuSizer.Size(new TpuSizer.Request(model.Id)))
            {
                Assert.Equal(0, model.AttentionHeads % f.TensorParallelSize);
                Assert.DoesNotContain($"TP={f.Chips} here", f.Note);
                if (f.Note.Contains("runs one replica at TP="))
                    Assert.Contains($"runs one replica at TP={f.TensorParallelSize}{(f.PipelineParallelSize > 1 ? $" × PP={f.PipelineParallelSize}" : "")};", f.Note);
                if (f.TensorParallelSize * f.PipelineParallelSize != f.Chips && f.Fits)
                    Assert.Contains($"TP is {f.TensorParallelSize}", f.Note);
            }
    }

    [Fact]
    public void IdleChipsAddNoMemory()
    {
        // 28 heads on 8 chips: vLLM shards over 4, so only 4 chips' HBM holds weights and KV cache
        var rows = TpuSizer.Size(new TpuSizer.Request("Qwen/Qwen2.5-7B-Instruct", Accelerator: "v6e"));
        var four = rows.Single(x => x.MachineType == "ct6e-standard-4t" && x.TopologyName == "2x2");
        var eight = rows.Single(x => x.MachineType == "ct6e-standard-8t");
        Assert.Equal(4, eight.TensorParallelSize);
        Assert.Equal(four.UsableHbmGiB, eight.UsableHbmGiB);
    }

    [Theory]
    [InlineData("hf://meta-llama/Llama-3.1-8B-Instruct", true)]
    [InlineData("google/gemma-2-9b-it", true)]
    [InlineData("hf://Qwen/Qwen2.5-3B-Instruct", false)]
    [InlineData("Qwen2.5-7B-Instruct", false)]
    [InlineData("hf://acme/house-model", null)]
    [InlineData("", null)]
    public void GatedIsKnownOnlyForKnownModels(string model, bool? gated) => Assert.Equal(gated, ModelCatalog.IsGated(model));

    [Fact]
    public void UnknownModelWithoutParameterCountIsAClearError()
    {
        var ex = Assert.Throws<RhaiiException>(() => TpuSizer.Size(new TpuSizer.Request("acme/secret-model")));
        Assert.Equal("UnknownModelSize", ex.ErrorId);
    }
}

public class GetTpuTopologyCommandTests : IDisposable
{
    private readonly PowerShellHost _ps = new();

    [Fact]
    public void ListsTypedRowsFilteredByLabelValue()
    {
        var rows = _ps.Run("Get-TpuTopology -Accelerator tpu-v6e-slice");
        Assert.NotEmpty(rows);
        Assert.All(rows, r => Assert.Equal("v6e", ((TpuTopology)r.BaseObject).Accelerator));
    }

    [Fact]
    public void InvalidPairWritesStableError()
    {
        var (o, e) = _ps.Invoke("Get-TpuTopology -Accelerator v6e -MachineType ct6e-standard-8t -Topology 2x2");
        Assert.Empty(o);
        var err = Assert.Single(e);
        Assert.Equal("TpuTopologyNotFound,RhaiiGke.Cmdlets.Catalog.GetTpuTopologyCommand", err.FullyQualifiedErrorId);
        Assert.Equal(System.Management.Automation.ErrorCategory.ObjectNotFound, err.CategoryInfo.Category);
        Assert.NotNull(err.ErrorDetails?.RecommendedAction);
    }

    [Fact]
    public void UnknownAcceleratorIsTerminatingWithFix()
    {
        var (_, e) = _ps.Invoke("Get-TpuTopology -Accelerator v9");
        Assert.Contains(e, x => x.FullyQualifiedErrorId.StartsWith("UnknownAccelerator"));
    }

    [Fact]
    public void SizesAndPipesByPropertyName()
    {
        var rows = _ps.Run("[pscustomobject]@{ Model = 'Qwen/Qwen2.5-3B-Instruct'; Accelerator = 'v6e' } | Get-TpuTopology -FitOnly");
        Assert.NotEmpty(rows);
        Assert.All(rows, r => Assert.True(((TpuModelFit)r.BaseObject).Fits));
    }

    public void Dispose() => _ps.Dispose();
}
