using RhaiiGke.Engine.Catalog;
using Xunit;

namespace RhaiiGke.Tests.Gke;

public class CostEstimateTests
{
    private static readonly DateOnly Today = new(2027, 1, 6);

    [Fact]
    public void OneV6eHostOnDemandWithOverhead()
    {
        var e = CostEstimator.Estimate(new CostRequest("v6e", "2x2"), PriceTable.BuiltIn, Today);
        Assert.Equal(("ct6e-standard-4t", 1, 4), (e.MachineType, e.TpuNodes, e.Chips));
        Assert.Equal(4 * 2.70, e.TpuHourly, 3);
        Assert.True(Math.Abs(0.10 + 2 * 0.134023 + 0.025 - e.OverheadHourly) < 1e-3);
        Assert.Equal(0.025, e.LoadBalancerHourly, 4);
        Assert.Equal("us-central1", e.Region);
        Assert.Contains(e.Notes, n => n.Contains("No region given", StringComparison.Ordinal));
        Assert.Equal(e.TpuHourly + e.OverheadHourly, e.Hourly, 3);
        Assert.Equal(Math.Round(e.Hourly * 24, 2), e.Daily);
        Assert.Equal(Math.Round(e.Hourly * 730, 2), e.Monthly);
        Assert.Equal(e.OverheadHourly, e.ScaledToZeroHourly);
        Assert.Equal(new DateOnly(2026, 12, 7), e.PriceTableDate);
        Assert.Contains("skypilot-org/skypilot-catalog", e.PriceTableSource);
        Assert.Contains("read 2026-12-07", e.PriceTableSource);
        Assert.Equal(30, e.PriceTableAgeDays);
    }

    [Fact]
    public void CostPerMillionOutputTokensFollowsThroughput()
    {
        var e = CostEstimator.Estimate(new CostRequest("v6e", "1x1", OutputTokensPerSecond: 1000, IncludeClusterFee: false, SystemNodes: 0, IncludeLoadBalancer: false), PriceTable.BuiltIn, Today);
        // 2.70 $/h for 3.6M tokens/h
        Assert.Equal(2.70 / 3.6, e.CostPerMillionOutputTokens!.Value, 3);
    }

    [Fact]
    public void CommitmentsAndMissingSpotPricesAreExplained()
    {
        var cud = CostEstimator.Estimate(new CostRequest("v6e", "2x2", PricingModel: TpuPricingModel.ThreeYearCommitment), PriceTable.BuiltIn, Today);
        Assert.Equal(1.22, cud.PricePerChipHour);
        // No source could be read for commitment prices: the estimate says it is one.
        Assert.Contains(cud.Notes, n => n.StartsWith("Estimate:", StringComparison.Ordinal) && n.Contains("commitment", StringComparison.Ordinal));
        var spot = CostEstimator.Estimate(new CostRequest("v6e", "2x2", PricingModel: TpuPricingModel.Spot), PriceTable.BuiltIn, Today);
        Assert.Equal(0.54421, spot.PricePerChipHour);
        Assert.Empty(spot.Warnings);
        Assert.Contains(spot.Notes, n => n.Contains("Spot prices are dynamic", StringComparison.Ordinal));
        var onDemand = CostEstimator.Estimate(new CostRequest("v6e", "2x2"), PriceTable.BuiltIn, Today);
        Assert.True(spot.Hourly < onDemand.Hourly);

        // A table without a Spot figure falls back to on demand, and says so as a warning (not silently).
        var noSpot = new PriceTable { SourceDate = Today, Source = "t", Region = "us-central1", Tpu = new() { ["v6e"] = new() { OnDemand = 2.0 } } };
        var fallback = CostEstimator.Estimate(new CostRequest("v6e", "2x2", PricingModel: TpuPricingModel.Spot), noSpot, Today);
        Assert.Equal(2.0, fallback.PricePerChipHour);
        Assert.Contains(fallback.Warnings, w => w.Contains("No Spot price for v6e in us-central1", StringComparison.Ordinal));
    }

    [Fact]
    public void RegionsHaveTheirOwnPricesAndAnUnknownRegionIsRefused()
    {
        var us = CostEstimator.Estimate(new CostRequest("v6e", "2x2", Region: "us-east5-a"), PriceTable.BuiltIn, Today);
        Assert.Equal(("us-east5", 2.70), (us.Region, us.PricePerChipHour));
        var eu = CostEstimator.Estimate(new CostRequest("v6e", "2x2", Region: "europe-west4-a"), PriceTable.BuiltIn, Today);
        Assert.Equal("europe-west4", eu.Region);
        Assert.True(eu.PricePerChipHour > us.PricePerChipHour, "europe-west4 is priced above the US list price");
        Assert.Equal(PriceTable.BuiltIn.Regions["europe-west4"].Tpu["v6e"].OnDemand, eu.PricePerChipHour);
        Assert.DoesNotContain(eu.Notes, n => n.StartsWith("Estimate:", StringComparison.Ordinal)); // a catalog price, not an estimate
        var euSpot = CostEstimator.Estimate(new CostRequest("v6e", "2x2", Region: "europe-west4", PricingModel: TpuPricingModel.Spot), PriceTable.BuiltIn, Today);
        Assert.Equal(PriceTable.BuiltIn.Regions["europe-west4"].Tpu["v6e"].Spot, euSpot.PricePerChipHour);

        var unknown = Assert.Throws<RhaiiException>(() => CostEstimator.Estimate(new CostRequest("v6e", "2x2", Region: "mars-north1-a"), PriceTable.BuiltIn, Today));
        Assert.Equal(("NoPriceForRegion", "mars-north1"), (unknown.ErrorId, unknown.Target));
        Assert.Contains("europe-west4", unknown.RecommendedAction);

        // A generation the region does not offer: refused with the region named, not priced with another region's figure.
        var v5pTokyo = Assert.Throws<RhaiiException>(() => CostEstimator.Estimate(new CostRequest("v5p", "2x2x1", Region: "asia-northeast1"), PriceTable.BuiltIn, Today));
        Assert.Equal("NoPriceForAccelerator", v5pTokyo.ErrorId);
        Assert.Contains("asia-northeast1", v5pTokyo.Message);
    }

    [Fact]
    public void TheLoadBalancerLineCountsTheForwardingRuleAndTheDataProcessed()
    {
        var lb = PriceTable.BuiltIn.LoadBalancer!;
        var none = CostEstimator.Estimate(new CostRequest("v6e", "2x2", IncludeLoadBalancer: false), PriceTable.BuiltIn, Today);
        Assert.Equal((0.0, (double?)null), (none.LoadBalancerHourly, none.LoadBalancerGbPerMonth));
        var idle = CostEstimator.Estimate(new CostRequest("v6e", "2x2"), PriceTable.BuiltIn, Today);
        Assert.Equal(lb.ForwardingRulePerHour, idle.LoadBalancerHourly, 4);
        Assert.Equal(none.OverheadHourly + lb.ForwardingRulePerHour, idle.OverheadHourly, 4);
        var busy = CostEstimator.Estimate(new CostRequest("v6e", "2x2", LoadBalancerGbPerMonth: 7300), PriceTable.BuiltIn, Today);
        Assert.Equal(lb.ForwardingRulePerHour + 10 * lb.DataProcessingPerGb, busy.LoadBalancerHourly, 4);
        Assert.Equal(7300, busy.LoadBalancerGbPerMonth);
        Assert.Contains(busy.Notes, n => n.Contains("7300 GB/month", StringComparison.Ordinal));
        // The gateway stays when the TPU pool scales to zero.
        Assert.Equal(busy.OverheadHourly, busy.ScaledToZeroHourly);
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
        var e = CostEstimator.Estimate(new CostRequest("v5e", "2x2"), PriceTable.BuiltIn, new DateOnly(2027, 7, 1));
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
            // a table without regions prices its own region only
            Assert.Equal("NoPriceForRegion", Assert.Throws<RhaiiException>(() => CostEstimator.Estimate(new CostRequest("v6e", "2x2", Region: "europe-west4"), table, Today)).ErrorId);
            var regional = Path.Combine(dir, "regional.json");
            File.WriteAllText(regional, """{ "sourceDate": "2026-01-15", "source": "ours", "region": "us-central1", "tpu": { "v6e": { "onDemand": 2.0 } }, "regions": { "Europe-West4": { "tpu": { "V6E": { "onDemand": 2.5, "spot": 1.0 } } } }, "loadBalancer": { "forwardingRulePerHour": 0.03, "dataProcessingPerGb": 0.01, "source": "ours" } }""");
            var rt = PriceTable.Load(regional);
            var eu = CostEstimator.Estimate(new CostRequest("v6e", "2x2", Region: "europe-west4-b", PricingModel: TpuPricingModel.Spot), rt, Today);
            Assert.Equal((1.0, 0.03), (eu.PricePerChipHour, eu.LoadBalancerHourly));
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

    [Theory]
    // Figures read 2026-12-07 from the Cloud Billing Catalog compilation (skypilot-catalog catalogs/v8/gcp/vms.csv, commit 006059e0).
    [InlineData("v6e", "2x2", "us-central1", 2.70, 0.54421)]
    [InlineData("v6e", "2x2", "us-east5-a", 2.70, 1.215)]
    [InlineData("v6e", "2x2", "europe-west4-a", 2.97, 1.03748)]
    [InlineData("v6e", "2x2", "asia-southeast1-b", 2.97, 0.36292)]
    [InlineData("v6e", "2x2", "asia-northeast1-b", 3.24, 0.94352)]
    [InlineData("v5e", "2x2", "us-west4-a", 1.20, 0.48)]
    [InlineData("v5e", "2x2", "us-south1-a", 1.416, 0.5664)]
    [InlineData("v5e", "2x2", "europe-west4-b", 1.56, 0.44498)]
    [InlineData("v5p", "2x2x1", "us-east5-a", 4.20, 1.68)]
    [InlineData("v5p", "2x2x1", "europe-west4-b", 4.2525, 1.34849)]
    public void BuiltInTpuPricesAreTheCatalogFiguresOfTheirRegion(string accelerator, string topology, string zone, double onDemand, double spot)
    {
        var od = CostEstimator.Estimate(new CostRequest(accelerator, topology, Region: zone), PriceTable.BuiltIn, Today);
        Assert.Equal(onDemand, od.PricePerChipHour, 5);
        var sp = CostEstimator.Estimate(new CostRequest(accelerator, topology, Region: zone, PricingModel: TpuPricingModel.Spot), PriceTable.BuiltIn, Today);
        Assert.Equal(spot, sp.PricePerChipHour, 5);
        Assert.Empty(sp.Warnings);
        Assert.Contains(sp.Notes, n => n.Contains("Spot prices are dynamic", StringComparison.Ordinal));
    }

    [Fact]
    public void MultiHostSlicesArePricedForEveryHost()
    {
        // v6e 4x4 on ct6e-standard-4t: 4 hosts of 4 chips; two replicas are two whole slices.
        var one = CostEstimator.Estimate(new CostRequest("v6e", "4x4", IncludeClusterFee: false, SystemNodes: 0, IncludeLoadBalancer: false), PriceTable.BuiltIn, Today);
        Assert.Equal((4, 16), (one.TpuNodes, one.Chips));
        Assert.Equal(16 * 2.70, one.Hourly, 3);
        var v5p = CostEstimator.Estimate(new CostRequest("v5p", "2x2x2", IncludeClusterFee: false, SystemNodes: 0, IncludeLoadBalancer: false), PriceTable.BuiltIn, Today);
        Assert.Equal((2, 8), (v5p.TpuNodes, v5p.Chips));
        Assert.Equal(8 * 4.20, v5p.Hourly, 3);
    }

    [Fact]
    public void GpuPricesHaveSpotRegionsAndTheLoadBalancerLine()
    {
        var gpu = GpuPriceTable.BuiltIn;
        var od = GpuCostEstimator.Estimate(new CostRequest("nvidia-l4", "1", MachineType: "g2-standard-8", Region: "us-central1-a"), PriceTable.BuiltIn, gpu, Today);
        Assert.Equal("us-central1", od.Region);
        Assert.Equal(0.85362, od.TpuHourly, 3);
        Assert.Equal(0.025, od.LoadBalancerHourly, 4);
        var spot = GpuCostEstimator.Estimate(new CostRequest("nvidia-l4", "1", MachineType: "g2-standard-8", Region: "us-central1-a", PricingModel: TpuPricingModel.Spot), PriceTable.BuiltIn, gpu, Today);
        Assert.Equal(0.47987, spot.TpuHourly, 3);
        Assert.Empty(spot.Warnings);
        Assert.Contains(spot.Notes, n => n.Contains("Spot prices are dynamic", StringComparison.Ordinal));
        Assert.Contains("Cloud Billing Catalog", spot.PriceTableSource);

        // H100 and A100 80GB: per machine, Spot below on demand; another region has its own price.
        var h100 = GpuCostEstimator.Estimate(new CostRequest("nvidia-h100-80gb", "8", Region: "us-central1", PricingModel: TpuPricingModel.Spot), PriceTable.BuiltIn, gpu, Today);
        Assert.Equal(("a3-highgpu-8g", 8), (h100.MachineType, h100.Chips));
        Assert.Equal(50.60954, h100.TpuHourly, 3);
        var a100eu = GpuCostEstimator.Estimate(new CostRequest("nvidia-a100-80gb", "1", Region: "europe-west4-a"), PriceTable.BuiltIn, gpu, Today);
        Assert.Equal(gpu.Regions["europe-west4"]["a2-ultragpu-1g"].OnDemand, a100eu.TpuHourly, 3);
        Assert.NotEqual(gpu.Regions["us-central1"]["a2-ultragpu-1g"].OnDemand, a100eu.TpuHourly);

        var mars = Assert.Throws<RhaiiException>(() => GpuCostEstimator.Estimate(new CostRequest("nvidia-l4", "1", Region: "mars-north1-a"), PriceTable.BuiltIn, gpu, Today));
        Assert.Equal(("NoPriceForRegion", "mars-north1"), (mars.ErrorId, mars.Target));

        // A table without a Spot figure: never silently on demand; a warning and an "Estimate:" note.
        var noSpot = new GpuPriceTable { SourceDate = Today, Source = "ours", MachineTypes = new Dictionary<string, GpuMachinePrice> { ["g2-standard-8"] = new(0.9) } };
        var fallback = GpuCostEstimator.Estimate(new CostRequest("nvidia-l4", "1", MachineType: "g2-standard-8", PricingModel: TpuPricingModel.Spot), PriceTable.BuiltIn, noSpot, Today);
        Assert.Equal(0.9, fallback.TpuHourly, 5);
        Assert.Contains(fallback.Warnings, w => w.Contains("No Spot price for g2-standard-8", StringComparison.Ordinal));
        Assert.Contains(fallback.Notes, n => n.StartsWith("Estimate:", StringComparison.Ordinal));
    }

    [Fact]
    public void ModelsSharingOneGatewayPayOneLoadBalancer()
    {
        static CostRequest Line(string acc, string topo, string name) => new(acc, topo, IncludeClusterFee: false, SystemNodes: 0, IncludeLoadBalancer: false, Region: "us-central1", Service: name);
        var a = CostEstimator.Estimate(Line("v6e", "2x2", "gemma"), PriceTable.BuiltIn, Today);
        var b = CostEstimator.Estimate(Line("v6e", "4x4", "llama-70b"), PriceTable.BuiltIn, Today);
        var overhead = CostEstimator.Estimate(new CostRequest("v6e", "2x2", TpuNodes: 0, Region: "us-central1"), PriceTable.BuiltIn, Today);
        var sum = CostEstimator.Combine([a, b], overhead);
        Assert.Equal((2, 4 + 16), (sum.ModelCount, sum.Chips));
        Assert.Equal(0.025, sum.LoadBalancerHourly, 4);
        Assert.True(Math.Abs(0.10 + 2 * 0.134023 + 0.025 - sum.OverheadHourly) < 1e-3);
        Assert.Equal(20 * 2.70 + sum.OverheadHourly, sum.Hourly, 3);
        Assert.Equal(new[] { "gemma", "llama-70b" }, sum.Models.Select(m => m.Service));
        Assert.All(sum.Models, m => Assert.Equal(0.0, m.LoadBalancerHourly));

        var eu = CostEstimator.Estimate(Line("v6e", "2x2", "eu") with { Region = "europe-west4" }, PriceTable.BuiltIn, Today);
        Assert.Equal("SharedGatewayRegionMismatch", Assert.Throws<RhaiiException>(() => CostEstimator.Combine([a, eu], overhead)).ErrorId);
        Assert.Equal("NoModelToPrice", Assert.Throws<RhaiiException>(() => CostEstimator.Combine([], overhead)).ErrorId);
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
        Assert.Equal("europe-west4", fromCluster.Region);
        var eu = PriceTable.BuiltIn.Regions["europe-west4"];
        Assert.Equal(eu.Tpu["v6e"].OnDemand, fromCluster.PricePerChipHour);
        Assert.True(Math.Abs(0.10 + eu.MachineTypes["e2-standard-4"] + 0.025 - fromCluster.OverheadHourly) < 1e-3); // one e2-standard-4 system node and the gateway

        var regionErr = ps.Run("Get-RhaiiCostEstimate -Accelerator v6e -Topology 2x2 -Region mars-north1").Error;
        Assert.StartsWith("NoPriceForRegion,", regionErr.FullyQualifiedErrorId);
        var lb = ps.Ok("Get-RhaiiCostEstimate -Accelerator v6e -Topology 2x2 -Region us-east1 -LoadBalancerGbPerMonth 730").Single<CostEstimate>();
        Assert.Equal(0.025 + 0.008, lb.LoadBalancerHourly, 4);
        Assert.Equal(0.0, ps.Ok("Get-RhaiiCostEstimate -Accelerator v6e -Topology 2x2 -ExcludeLoadBalancer").Single<CostEstimate>().LoadBalancerHourly);

        var bench = ps.Ok("[pscustomobject]@{ Accelerator = 'v6e'; Topology = '1x1'; OutputTokensPerSecond = 500 } | Get-RhaiiCostEstimate -ExcludeClusterFee -ExcludeLoadBalancer -SystemNodeCount 0").Single<CostEstimate>();
        Assert.Equal(2.70 / 1.8, bench.CostPerMillionOutputTokens!.Value, 3);

        var spec = ps.Ok("$s = [RhaiiGke.TpuClusterSpec]::new(); $s.Name = 'plan'; $s.Accelerator = 'v5e'; $s.Topology = '2x2'; $s.MaxNodes = 2; $s | Get-RhaiiCostEstimate").Single<CostEstimate>();
        Assert.Equal(("v5e", 1), (spec.Accelerator, spec.TpuNodes));
        Assert.Equal(2 * 4 * 1.20 + spec.OverheadHourly, spec.MaxHourly!.Value, 3);
    }

    [Fact]
    public void SpecsPipedWithSharedGatewayGiveOneSummaryWithOneLoadBalancer()
    {
        using var bed = new GkeTestBed();
        using var ps = new GkeCmdletHost(bed);
        // A multi-host spec with two replicas: two whole 4x4 slices (8 hosts, 32 chips).
        var big = ps.Ok("New-LlmInferenceServiceSpec -Name big -Model Qwen/Qwen2.5-72B-Instruct -Topology 4x4 -Replicas 2 | Get-RhaiiCostEstimate").Single<CostEstimate>();
        Assert.Equal(("big", 8, 32), (big.Service, big.TpuNodes, big.Chips));

        var sum = ps.Ok("@(New-LlmInferenceServiceSpec -Name small -Model google/gemma-2-2b-it -Topology 2x2; New-LlmInferenceServiceSpec -Name big -Model Qwen/Qwen2.5-72B-Instruct -Topology 4x4) | Get-RhaiiCostEstimate -SharedGateway -LoadBalancerGbPerMonth 730").Single<CostEstimateSummary>();
        Assert.Equal((2, 4 + 16), (sum.ModelCount, sum.Chips));
        Assert.Equal(0.025 + 0.008, sum.LoadBalancerHourly, 4);
        Assert.Equal(sum.AcceleratorHourly + sum.OverheadHourly, sum.Hourly, 3);
        Assert.Equal(20 * 2.70, sum.AcceleratorHourly, 3);
        Assert.Equal(new[] { "small", "big" }, sum.Models.Select(m => m.Service));
    }
}
