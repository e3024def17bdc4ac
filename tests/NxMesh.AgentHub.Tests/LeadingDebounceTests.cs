using System.Diagnostics;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.AgentHub.Tests;

/// <summary>
/// The recompute debounce is leading-edge: the first change after a quiet period is pushed without waiting for the
/// window; changes arriving after it are coalesced into one trailing recompute no sooner than the window after it.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class LeadingDebounceTests(DatabaseFixture database) : IAsyncLifetime
{
    // Long enough that "at once" and "after the window" cannot be confused on a loaded machine.
    private static readonly TimeSpan Debounce = TimeSpan.FromSeconds(4);

    public Task InitializeAsync() => database.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task The_first_change_after_a_quiet_period_is_pushed_at_once_and_a_burst_after_it_coalesces_into_one_trailing_push()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await Seed.VirtualHostAsync(database, workspaceId, "a.example.test");
        await using var hub = new HubFactory(database, new()
        {
            ["AgentHub:DebounceMilliseconds"] = $"{Debounce.TotalMilliseconds}",
            // No periodic recompute in between: the only runs are the ones the changes cause.
            ["AgentHub:DesiredRefreshSeconds"] = "600",
        });
        var (agent, applied) = await Fleet.InSyncAsync(hub, agentId, credential);
        await using var _ = agent;
        // Quiet: no run has started within the window.
        await Task.Delay(Debounce + TimeSpan.FromMilliseconds(200));

        var clock = Stopwatch.StartNew();
        await Seed.VirtualHostAsync(database, workspaceId, "b0.example.test");
        await Seed.OutboxAsync(database, workspaceId);
        var leading = await agent.ConfigUpdateAsync(TimeSpan.FromSeconds(10));
        var leadingAfter = clock.Elapsed;
        Assert.True(leadingAfter < Debounce - TimeSpan.FromSeconds(1), $"the first change was pushed after {leadingAfter.TotalMilliseconds:0} ms, not at once");
        Assert.Equal(2, leading.VirtualHosts.Count);
        Assert.Equal(applied.Version + 1, leading.Version);

        for (var i = 1; i <= 4; i++)
        {
            await Seed.VirtualHostAsync(database, workspaceId, $"b{i}.example.test");
            await Seed.OutboxAsync(database, workspaceId);
        }
        var trailing = await agent.ConfigUpdateAsync(TimeSpan.FromSeconds(15));
        Assert.True(clock.Elapsed >= Debounce, $"the trailing push came {clock.Elapsed.TotalMilliseconds:0} ms after the first change, inside the window");
        Assert.Equal(6, trailing.VirtualHosts.Count);
        Assert.Equal(applied.Version + 2, trailing.Version);
        Assert.True(await agent.NothingAsync(m => m.ConfigUpdate is not null, TimeSpan.FromMilliseconds(1500)), "four changes after the first, one trailing push");
    }
}
