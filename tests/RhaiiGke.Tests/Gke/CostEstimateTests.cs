using RhaiiGke.Engine.Catalog;
using Xunit;

namespace RhaiiGke.Tests.Gke;

public class CostEstimateTests
{
    private static readonly DateOnly Today = new(2025, 7, 1);

    [Fact]
    public void OneV6eHostOnDemandWithOverhead()
    {
        var e = CostEstimator.Estimate(new CostRequest("v6e", "2x2"), PriceTable.BuiltIn, Today);
        Assert.Equal(("ct6e-standard-4t", 1, 4), (e.MachineType, e.TpuNodes, e.Chips));
        Assert.Equal(4 * 2.70, e.TpuHourly, 3);
        Assert.Equal(0.10 + 2 * 0.134012, e.OverheadHourly, 3);
        Assert.Equal(e.TpuHourly + e.OverheadHourly, e.Hourly, 3);
        Assert.Equal(Math.Round(e.Hourly * 24, 2), e.Daily);
        Assert.Equal(Math.Round(e.Hourly * 730, 2), e.Monthly);
        Assert.Equal(e.OverheadHourly, e.ScaledToZeroHourly);
        Assert.Equal(new DateOnly(2025, 6, 1), e.PriceTableDate);
        Assert.Contains("transcribed 2025-06-01", e.PriceTableSource);
        Assert.Equal(30, e.PriceTableAgeDays);
    }

    [Fact]
    public void CostPerMillionOutputTokensFollowsThroughput()
    {
        var e = CostEstimator.Estimate(new CostRequest("v6e", "1x1", OutputTokensPerSecond: 1000, IncludeClusterFee: false, SystemNodes: 0), PriceTable.BuiltIn, Today);
        // 2.70 $/h for 3.6M tokens/h
        Assert.Equal(2.70 / 3.6, e.CostPerMillionOutputTokens!.Value, 3);
    }

    [Fact]
    public void CommitmentsAndMissingSpotPricesAreExplained()
    {
        var cud = CostEstimator.Estimate(new CostRequest("v6e", "2x2", PricingModel: TpuPricingModel.ThreeYearCommitment), PriceTable.BuiltIn, Today);
        Assert.Equal(1.22, cud.PricePerChipHour);
        var spot = CostEstimator.Estimate(new CostRequest("v6e", "2x2", PricingModel: TpuPricingModel.Spot), PriceTable.BuiltIn, Today);
        Assert.Equal(2.70, spot.PricePerChipHour);
        Assert.Contains(spot.Notes, n => n.Contains("no Spot price", StringComparison.Ordinal));
    }

    [Fact]
    public void ScaledToZeroPoolCostsOnlyTheOverheadButShowsTheMaximum()
    {
        var e = CostEstimator.Estimate(new CostRequest("v6e", "2x2", TpuNodes: 0, MaxTpuNodes: 3), PriceTable.BuiltIn, Today);
        Assert.Equal(0, e.TpuHourly);
        Assert.Equal(e.OverheadHourly, e.Hourly);
        Assert.Equal(3 * 4 * 2.70 + e.OverheadHourly, e.MaxHourly!.Value, 3);
    }

    [Fact]
    public void OldTablesAreFlagged()
    {
        var e = CostEstimator.Estimate(new CostRequest("v5e", "2x2"), PriceTable.BuiltIn, new DateOnly(2026, 6, 1));
        Assert.Contains(e.Notes, n => n.Contains("days old", StringComparison.Ordinal));
    }

    [Fact]
    public void AnOverrideTableMustStateItsDateAndSource()
    {
        var dir = Directory.CreateTempSubdirectory("rhaii-prices-").FullName;
        try
        {
            var good = Path.Combine(dir, "good.json");
            File.WriteAllText(good, """{ "sourceDate": "2026-01-15", "source": "our contract", "currency": "EUR", "tpu": { "v6e": { "onDemand": 2.0, "spot": 0.9 } }, "clusterManagementPerHour": 0.1, "machineTypes": { "e2-standard-4": 0.15 } }""");
            var table = PriceTable.Resolve(good, _ => null);
            var e = CostEstimator.Estimate(new CostRequest("v6e", "2x2", PricingModel: TpuPricingModel.Spot), table, Today);
            Assert.Equal(("EUR", 0.9, new DateOnly(2026, 1, 15), "our contract"), (e.Currency, e.PricePerChipHour, e.PriceTableDate, e.PriceTableSource));
            Assert.Same(table.GetType(), PriceTable.Resolve(null, k => k == PriceTable.EnvironmentVariable ? good : null).GetType());
            Assert.Equal("our contract", PriceTable.Resolve(null, k => k == PriceTable.EnvironmentVariable ? good : null).Source);

            var undated = Path.Combine(dir, "undated.json");
            File.WriteAllText(undated, """{ "source": "x", "tpu": { "v6e": { "onDemand": 2.0 } } }""");
            Assert.Equal("InvalidPriceTable", Assert.Throws<RhaiiException>(() => PriceTable.Load(undated)).ErrorId);
            Assert.Equal("PriceTableNotFound", Assert.Throws<RhaiiException>(() => PriceTable.Load(Path.Combine(dir, "none.json"))).ErrorId);

            // The built-in table round-trips through its JSON form, so users can start from it.
            File.WriteAllText(Path.Combine(dir, "builtin.json"), PriceTable.BuiltIn.ToJson());
            Assert.Equal(PriceTable.BuiltIn.Tpu["v6e"].OnDemand, PriceTable.Load(Path.Combine(dir, "builtin.json")).Tpu["v6e"].OnDemand);
        }
        finally { Directory.Delete(dir, true); }
    }
}

[Collection("GkeCmdlets")]
public class CostEstimateCmdletTests
{
    [Fact]
    public void EstimatesFromParametersFromAClusterAndFromABenchmarkResult()
    {
        using var bed = new GkeTestBed();
        using var ps = new GkeCmdletHost(bed);
        var p = ps.Ok("Get-RhaiiCostEstimate -Accelerator v6e -Topology 2x4").Single<CostEstimate>();
        Assert.Equal(("ct6e-standard-8t", 8), (p.MachineType, p.Chips));

        ps.Ok("New-TpuCluster @c -Name cost -Zone europe-west4-a -InitialNodeCount 1 -MaxNodes 3 -SystemNodeCount 1");
        var fromCluster = ps.Ok("Get-TpuCluster @c -Name cost -Zone europe-west4-a | Get-RhaiiCostEstimate").Single<CostEstimate>();
        Assert.Equal(("cost/tpu-pool", 1, 4), (fromCluster.Cluster, fromCluster.TpuNodes, fromCluster.Chips));
        Assert.NotNull(fromCluster.MaxHourly);
        Assert.Equal(0.10 + 0.134012, fromCluster.OverheadHourly, 3); // one e2-standard-4 system node

        var bench = ps.Ok("[pscustomobject]@{ Accelerator = 'v6e'; Topology = '1x1'; OutputTokensPerSecond = 500 } | Get-RhaiiCostEstimate -ExcludeClusterFee -SystemNodeCount 0").Single<CostEstimate>();
        Assert.Equal(2.70 / 1.8, bench.CostPerMillionOutputTokens!.Value, 3);

        var spec = ps.Ok("$s = [RhaiiGke.TpuClusterSpec]::new(); $s.Name = 'plan'; $s.Accelerator = 'v5e'; $s.Topology = '2x2'; $s.MaxNodes = 2; $s | Get-RhaiiCostEstimate").Single<CostEstimate>();
        Assert.Equal(("v5e", 1), (spec.Accelerator, spec.TpuNodes));
        Assert.Equal(2 * 4 * 1.20 + spec.OverheadHourly, spec.MaxHourly!.Value, 3);
    }
}
