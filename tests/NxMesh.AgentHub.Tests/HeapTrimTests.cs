extern alias agenthub;

using agenthub::NxMesh.AgentHub.Memory;
using Microsoft.Extensions.DependencyInjection;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.AgentHub.Tests;

/// <summary>
/// The hub gives the GC's slack back once the fleet has settled: the decision (settled, interval, thresholds) and the
/// hosted service that acts on it.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class HeapTrimTests(DatabaseFixture database)
{
    private const long MiB = 1 << 20;
    private static readonly HeapTrimOptions Defaults = new();

    [Fact]
    public void A_settled_fleet_with_a_large_slack_is_trimmed()
    {
        // 613 MB committed, 547 MB heap of which 70 MB fragmented: 136 MB slack (22 %), measured at 10,000 agents.
        Assert.True(HeapTrimPolicy.ShouldTrim(Defaults, 613 * MiB, 547 * MiB, 70 * MiB, 10_000, 9_950, sinceLastTrim: null));
        Assert.True(HeapTrimPolicy.ShouldTrim(Defaults, 613 * MiB, 547 * MiB, 70 * MiB, 10_000, 10_000, TimeSpan.FromMinutes(10)));
    }

    [Fact]
    public void A_fleet_still_connecting_is_not_trimmed()
    {
        Assert.False(HeapTrimPolicy.ShouldTrim(Defaults, 613 * MiB, 547 * MiB, 70 * MiB, 10_000, 9_800, sinceLastTrim: null));
        Assert.False(HeapTrimPolicy.ShouldTrim(Defaults, 613 * MiB, 547 * MiB, 70 * MiB, 100, 80, sinceLastTrim: null));
    }

    [Fact]
    public void No_trim_within_the_minimum_interval_of_the_last()
    {
        Assert.False(HeapTrimPolicy.ShouldTrim(Defaults, 613 * MiB, 547 * MiB, 70 * MiB, 10_000, 10_000, TimeSpan.FromMinutes(9), connectionsAtLastTrim: 10_000));
    }

    [Fact]
    public void A_fleet_that_settled_at_a_new_size_is_trimmed_after_the_shorter_interval()
    {
        // Trimmed at 5,000 agents two minutes ago; now settled at 10,000: the 60 s spacing applies, not the 10 min.
        Assert.True(HeapTrimPolicy.ShouldTrim(Defaults, 613 * MiB, 547 * MiB, 70 * MiB, 10_000, 10_000, TimeSpan.FromMinutes(2), connectionsAtLastTrim: 5_000));
        Assert.False(HeapTrimPolicy.ShouldTrim(Defaults, 613 * MiB, 547 * MiB, 70 * MiB, 10_000, 10_000, TimeSpan.FromSeconds(30), connectionsAtLastTrim: 5_000));
        // The same size (within 25 %) keeps the 10 min spacing; so does a change of fewer than 100 agents.
        Assert.False(HeapTrimPolicy.ShouldTrim(Defaults, 613 * MiB, 547 * MiB, 70 * MiB, 10_000, 10_000, TimeSpan.FromMinutes(2), connectionsAtLastTrim: 9_000));
        Assert.False(HeapTrimPolicy.ShouldTrim(Defaults, 613 * MiB, 547 * MiB, 70 * MiB, 150, 150, TimeSpan.FromMinutes(2), connectionsAtLastTrim: 100));
    }

    [Fact]
    public void A_small_slack_is_left_alone()
    {
        // 60 MB slack: under 64 MiB. 100 MB slack of 900 MB committed: under 15 %.
        Assert.False(HeapTrimPolicy.ShouldTrim(Defaults, 413 * MiB, 383 * MiB, 30 * MiB, 10_000, 10_000, sinceLastTrim: null));
        Assert.False(HeapTrimPolicy.ShouldTrim(Defaults, 900 * MiB, 820 * MiB, 20 * MiB, 10_000, 10_000, sinceLastTrim: null));
        Assert.Equal(136 * MiB, HeapTrimPolicy.Slack(613 * MiB, 547 * MiB, 70 * MiB));
    }

    [Fact]
    public async Task The_hub_trims_when_the_thresholds_are_met_and_only_once_per_interval()
    {
        await using var hub = new HubFactory(database, new Dictionary<string, string?>
        {
            ["HeapTrim:CheckIntervalSeconds"] = "1",
            ["HeapTrim:MinSlackBytes"] = "0",
            ["HeapTrim:MinSlackFraction"] = "0",
            ["HeapTrim:MinIntervalSeconds"] = "3600",
        });
        _ = hub.Client;
        var trim = hub.Services.GetRequiredService<HeapTrim>();

        await Wait.UntilAsync(() => Task.FromResult(trim.Trims > 0), TimeSpan.FromSeconds(30), "a heap trim");
        await Task.Delay(TimeSpan.FromSeconds(3));

        Assert.Equal(1, trim.Trims);
    }

    [Fact]
    public async Task Disabled_trimming_never_collects()
    {
        await using var hub = new HubFactory(database, new Dictionary<string, string?>
        {
            ["HeapTrim:Enabled"] = "false",
            ["HeapTrim:CheckIntervalSeconds"] = "1",
            ["HeapTrim:MinSlackBytes"] = "0",
            ["HeapTrim:MinSlackFraction"] = "0",
        });
        _ = hub.Client;
        var trim = hub.Services.GetRequiredService<HeapTrim>();

        await Task.Delay(TimeSpan.FromSeconds(3));

        Assert.Equal(0, trim.Trims);
    }
}
