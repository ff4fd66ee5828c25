using RhaiiGke.Engine.Inference;
using Xunit;

namespace RhaiiGke.Tests.Infrastructure;

/// <summary>The collections behind result properties: arrays for code, one readable cell for Export-Csv.</summary>
public class OutputCollectionsTests
{
    [Fact]
    public void ListBehavesAsTheArrayItReplacesAndPrintsItsItems()
    {
        RhaiiList<string> list = new[] { "b", "a" };
        Assert.Equal(2, list.Length);
        Assert.Equal("a", list[1]);
        Assert.Equal(["b", "a"], list.ToArray());
        Assert.Equal("b; a", list.ToString());
        RhaiiList<double> numbers = [1.5, 1e-4, 2000];
        Assert.Equal("1.5; 0; 2000", numbers.ToString()); // invariant culture, 3 decimals
        Assert.Equal("", RhaiiList<string>.Empty.ToString());
    }

    [Fact]
    public void LongListsPrintTheirCountInsteadOfEveryItem()
    {
        RhaiiList<double> sample = Enumerable.Range(0, RhaiiList<double>.MaxJoinedItems + 1).Select(i => (double)i).ToArray();
        Assert.Equal($"{RhaiiList<double>.MaxJoinedItems + 1} items", sample.ToString());
    }

    [Fact]
    public void MapPrintsSortedKeyValuePairsAndKeepsItsComparer()
    {
        RhaiiMap<double> slo = new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase) { ["tpot"] = 50, ["TTFT"] = 300.5 };
        Assert.Equal("tpot=50; TTFT=300.5", slo.ToString());
        Assert.Equal(300.5, slo["ttft"]);
    }

    [Fact]
    public void StatisticsKeepEachRequestedPercentileOnceInOrder()
    {
        var s = BenchmarkMath.Stats("ttft", [0.010, 0.020, 0.030, 0.040, 0.100], [99, 50, 99.9, 50]);
        Assert.Equal([50, 99, 99.9], s.Percentiles.Select(p => p.Percentile));
        Assert.Equal(30.0, s.P50!.Value, 12);
        Assert.Null(s.P90); // not requested
        Assert.True(double.IsNaN(s.Percentile(90)));
        Assert.Equal("p99.9=99.76", s.Percentiles[2].ToString());
    }

    [Fact]
    public void FlatLatencyColumnsAreNullWithoutSamples()
    {
        var empty = BenchmarkMath.Stats("ttft", [], [50, 99]);
        var r = new InferenceBenchmarkResult { Ttft = empty, E2el = BenchmarkMath.Stats("e2el", [0.5, 1.5], [50, 90, 99]) };
        Assert.Null(r.TtftP50Ms);
        Assert.Equal(1000, r.E2elP50Ms!.Value, 9);
        Assert.Equal(r.E2el.P99, r.E2elP99Ms);
    }
}
