using NxMesh.AgentSim.Report;
using Xunit;

namespace NxMesh.Bench.Tests;

public sealed class DistributionTests
{
    [Fact]
    public void Nearest_rank_percentiles_of_one_to_one_hundred_are_the_ranks()
    {
        var samples = Enumerable.Range(1, 100).Select(i => (double)i).Reverse().ToList();
        var d = Distribution.Of(samples);
        Assert.Equal((100, 1d, 50d, 90d, 99d, 100d, 50.5), (d.Count, d.Min, d.P50, d.P90, d.P99, d.Max, d.Mean));
    }

    [Fact]
    public void Every_percentile_is_a_measured_sample()
    {
        double[] sorted = [3, 7, 20];
        Assert.Equal(7, Distribution.Percentile(sorted, 50));
        Assert.Equal(20, Distribution.Percentile(sorted, 99));
        Assert.Equal(3, Distribution.Percentile(sorted, 33));
        Assert.Equal(7, Distribution.Percentile(sorted, 34));
        Assert.Equal(20, Distribution.Percentile(sorted, 100));
    }

    [Fact]
    public void P99_of_ten_thousand_samples_ignores_only_the_slowest_hundred()
    {
        var samples = Enumerable.Range(0, 10_000).Select(i => i < 9_900 ? 10.0 : 5_000.0).ToList();
        var d = Distribution.Of(samples);
        Assert.Equal(10, d.P99);
        Assert.Equal(5_000, d.Max);
        samples[0] = 5_000;
        Assert.Equal(5_000, Distribution.Of(samples).P99);
    }

    [Fact]
    public void A_single_sample_is_every_percentile_and_no_sample_is_empty()
    {
        var one = Distribution.Of([42]);
        Assert.Equal((42d, 42d, 42d, 42d), (one.Min, one.P50, one.P99, one.Max));
        Assert.Equal(Distribution.Empty, Distribution.Of([]));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(100.5)]
    public void A_percentile_outside_0_to_100_is_refused(double percent) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Distribution.Percentile([1, 2], percent));

    [Fact]
    public void Percentile_of_no_samples_is_refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Distribution.Percentile([], 50));
}
