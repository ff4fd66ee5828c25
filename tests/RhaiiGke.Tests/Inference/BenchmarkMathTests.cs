using RhaiiGke.Engine.Inference;
using Xunit;

namespace RhaiiGke.Tests.Inference;

public class BenchmarkMathTests
{
    // Reference values printed by numpy 1.24.2: np.percentile(vals, p) (linear), np.mean, np.std on the LCG series below.
    private static readonly double[] NumpyPercentiles = [0, 1, 5, 25, 50, 75, 90, 95, 99, 99.9, 100];
    private static readonly double[] NumpyValues =
        [0.00015819771215319633, 0.007266821339726448, 0.03576913755387068, 0.24851288460195065, 0.4978905222378671, 0.7424270678311586,
         0.892605219502002, 0.9380440819077194, 0.9878112864680588, 0.9979236111976209, 0.999393432866782];

    private static double[] Lcg(int n)
    {
        var v = new double[n];
        long x = 12345;
        for (var i = 0; i < n; i++) { x = (x * 1103515245 + 12345) % 2147483648; v[i] = x / 2147483648.0; }
        return v;
    }

    [Fact]
    public void PercentilesMatchNumpyLinearInterpolation()
    {
        var stats = BenchmarkMath.Stats("x", Lcg(1001), NumpyPercentiles, scale: 1);
        for (var i = 0; i < NumpyPercentiles.Length; i++)
            Assert.Equal(NumpyValues[i], stats.Percentile(NumpyPercentiles[i]), 15);
        Assert.Equal(0.4966793275642005, stats.Mean, 12);
        Assert.Equal(0.287088752517169, stats.Std, 12);
        Assert.Equal(stats.P50, stats.Median);
    }

    [Fact]
    public void SmallSamplePercentilesMatchNumpy()
    {
        // np.percentile([10,20,30,40,100], [50,90,95,99]) -> 30, 76, 88, 97.6 ; np.std -> 31.6227766016838
        var s = BenchmarkMath.Stats("ttft", [0.010, 0.020, 0.030, 0.040, 0.100], [50, 90, 95, 99]);
        Assert.Equal(30.0, s.P50!.Value, 12);
        Assert.Equal(76.00000000000001, s.P90!.Value, 12);
        Assert.Equal(88.0, s.P95!.Value, 12);
        Assert.Equal(97.60000000000001, s.P99!.Value, 12);
        Assert.Equal(40.0, s.Mean, 12);
        Assert.Equal(31.6227766016838, s.Std, 12);
    }

    [Fact]
    public void EmptyInputGivesZerosLikeVllm()
    {
        var s = BenchmarkMath.Stats("tpot", [], [99]);
        Assert.Equal(0, s.Count);
        Assert.Equal(0, s.Mean);
        Assert.Equal(0, s.P99);
    }

    /// <summary>A hand-made trace whose every figure is known (binary fractions, so the arithmetic is exact).</summary>
    internal static (List<RequestRow> Rows, List<double> Itls) Trace()
    {
        var itls = new List<double>();
        RequestRow Ok(double start, double ttft, int gaps, int prompt, int cached)
        {
            var r = new RequestRow { Start = start, Ttft = ttft, FirstByte = (float)(ttft / 2), Latency = ttft + gaps * 0.125, OutputTokens = gaps + 1,
                PromptTokens = prompt, CachedTokens = cached, Success = true, ItlStart = itls.Count, ItlCount = gaps, MaxItl = gaps > 0 ? 0.125f : 0 };
            for (var i = 0; i < gaps; i++) itls.Add(0.125);
            return r;
        }
        var rows = new List<RequestRow>
        {
            Ok(0, 0.125, 8, 100, 32),
            Ok(1, 0.25, 16, 200, 0),
            new() { Start = 2, Latency = 0.5, Ttft = double.NaN, Success = false, PromptTokens = 70 },
            Ok(3, 0.375, 0, 50, 0),
        };
        return (rows, itls);
    }

    [Fact]
    public void SyntheticTraceGivesVllmsNumbersExactly()
    {
        var (rows, itls) = Trace();
        var stage = new StageInfo { Name = "t", Percentiles = [50, 99], SloMs = new Dictionary<string, double> { ["ttft"] = 300, ["tpot"] = 125 } };
        var r = BenchmarkAccumulator.Compute(rows, itls, 8.0, stage);
        Assert.Equal(3, r.Completed);
        Assert.Equal(1, r.Failed);
        Assert.Equal(350, r.TotalInputTokens); // failed requests add no input, as in vLLM
        Assert.Equal(27, r.TotalOutputTokens);
        Assert.Equal(0.375, r.RequestThroughput);
        Assert.Equal(3.375, r.OutputThroughput);
        Assert.Equal(47.125, r.TotalTokenThroughput);
        Assert.Equal(0.25, r.RequestGoodput);
        Assert.Equal(50, r.GoodputPercent);
        Assert.False(r.MeetsSlo);
        Assert.Equal(250, r.Ttft.Mean, 12);
        Assert.Equal(250, r.Ttft.Median, 12);
        Assert.Equal(125 * Math.Sqrt(2.0 / 3), r.Ttft.Std, 9);
        Assert.Equal(372.5, r.Ttft.P99!.Value, 9);
        Assert.Equal(2, r.Tpot.Count); // one-token request has no TPOT
        Assert.Equal(125, r.Tpot.Mean, 12);
        Assert.Equal(24, r.Itl.Count);
        Assert.Equal(125, r.Itl.P99!.Value, 12);
        Assert.Equal(1250, r.E2el.Mean, 12);
        Assert.Equal(1125, r.E2el.Median, 12);
        Assert.Equal((0.125 + 2.25 / 17 + 0.375) / 3 * 1000, r.Ntpot.Mean, 9);
        Assert.Equal(2, r.MaxConcurrentRequests);
        Assert.Equal(0.53125, r.AchievedConcurrency);
        Assert.Equal(8, r.MaxOutputTokensPerS);
        Assert.Equal(32.0 / 350, r.CachedTokenRatio, 12);
        Assert.Equal(125, r.FirstByte.Median, 12); // first bytes 62.5, 125, 187.5 ms
    }

    [Fact]
    public void TouchingIntervalsDoNotOverlap()
    {
        Assert.Equal(1, BenchmarkMath.PeakConcurrency([(0, 1), (1, 2), (2, 3)]));
        Assert.Equal(3, BenchmarkMath.PeakConcurrency([(0, 10), (1, 2), (1.5, 3)]));
    }

    [Fact]
    public void PoissonScheduleEndsExactlyAtCountOverRate()
    {
        var o = ArrivalSchedule.Offsets(1000, 50, 1, constant: false, seed: 3);
        Assert.Equal(20.0, o[^1], 9);
        Assert.True(o.Zip(o.Skip(1)).All(p => p.First <= p.Second));
        var c = ArrivalSchedule.Offsets(4, 2, 1, constant: true, seed: 0);
        Assert.Equal([0.5, 1.0, 1.5, 2.0], c);
    }

    [Fact]
    public void UnknownSloMetricIsAStableError()
    {
        var (rows, itls) = Trace();
        var ex = Assert.Throws<RhaiiException>(() => BenchmarkAccumulator.Compute(rows, itls, 1, new StageInfo { SloMs = new Dictionary<string, double> { ["speed"] = 1 } }));
        Assert.Equal("UnknownSloMetric", ex.ErrorId);
    }
}
