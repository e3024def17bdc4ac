using Microsoft.EntityFrameworkCore;
using NxMesh.Data.Entities;
using NxMesh.Protocol.V1;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.AgentHub.Tests;

/// <summary>
/// A recompute pushes before it writes <c>desired_config_id/version</c> (the writers send while the UPDATE runs). A
/// statement trigger makes that UPDATE slow, so the agent's SUCCESS is recorded before it commits: the record must
/// still end applied = desired, in sync, with the version the agent was sent. A row another writer changed between
/// the read and the UPDATE is resolved again and sent its committed version.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class PushBeforeCommitTests(DatabaseFixture database) : IAsyncLifetime
{
    public Task InitializeAsync() => database.ResetAsync();

    public async Task DisposeAsync()
    {
        await using var db = database.CreateDbContext();
        await db.Database.ExecuteSqlRawAsync("""
            DROP TRIGGER IF EXISTS test_slow_desired ON agents;
            DROP FUNCTION IF EXISTS test_slow_desired();
            """);
    }

    [Fact]
    public async Task A_success_recorded_before_the_desired_update_commits_ends_applied_equal_desired()
    {
        await using var change = await ChangeWhileTheDesiredUpdateSleepsAsync();
        var (agentId, agent, first, update) = (change.AgentId, change.Agent, change.First, change.Update);

        Assert.NotEqual(first.ConfigId, update.ConfigId);
        Assert.Equal(first.Version + 1, update.Version);
        // Pushed while the UPDATE of the desired id still sleeps in its trigger.
        Assert.Equal(first.ConfigId, (await RowAsync(agentId)).DesiredConfigId);
        await Fleet.ApplyAsync(agent, update);
        await Wait.UntilAsync(async () => (await RowAsync(agentId)).AppliedConfigId == update.ConfigId, TimeSpan.FromSeconds(10), "the SUCCESS recorded");
        Assert.Equal(first.ConfigId, (await RowAsync(agentId)).DesiredConfigId);

        await Wait.UntilAsync(async () => (await RowAsync(agentId)).DesiredConfigId == update.ConfigId, TimeSpan.FromSeconds(15), "the desired id committed");
        var row = await RowAsync(agentId);
        Assert.Equal(update.ConfigId, row.AppliedConfigId);
        Assert.Equal(update.Version, row.DesiredConfigVersion);
        Assert.Equal(update.Version, row.AppliedConfigVersion);
        Assert.Equal(NxMesh.Data.Entities.ConfigApplyStatus.Success, row.LastApplyStatus);
        await agent.ReportHealthAsync(update.ConfigId, update.Version);
        await Wait.UntilAsync(async () => (await RowAsync(agentId)).State == AgentState.Online, TimeSpan.FromSeconds(10), "the agent online");
        Assert.True(await agent.NothingAsync(m => m.PayloadCase == MasterMessage.PayloadOneofCase.ConfigUpdate, TimeSpan.FromSeconds(1.5)));
    }

    [Fact]
    public async Task A_row_changed_between_the_read_and_the_update_is_sent_its_committed_version()
    {
        await using var change = await ChangeWhileTheDesiredUpdateSleepsAsync();
        var (agentId, agent, first, planned) = (change.AgentId, change.Agent, change.First, change.Update);
        // Another writer advances the version (same id) while the recompute's UPDATE sleeps: that UPDATE misses.
        await using (var db = database.CreateDbContext())
        {
            await db.Database.ExecuteSqlAsync($"UPDATE agents SET desired_config_version = desired_config_version + 5 WHERE id = {agentId}");
        }
        var committed = await agent.ConfigUpdateAsync(TimeSpan.FromSeconds(15));

        Assert.Equal(first.Version + 1, planned.Version);
        Assert.Equal(planned.ConfigId, committed.ConfigId);
        Assert.Equal(first.Version + 6, committed.Version);
        var row = await RowAsync(agentId);
        Assert.Equal(committed.ConfigId, row.DesiredConfigId);
        Assert.Equal(committed.Version, row.DesiredConfigVersion);
        await Fleet.ApplyAsync(agent, committed);
        await Wait.UntilAsync(async () => (await RowAsync(agentId)) is { AppliedConfigVersion: var v, AppliedConfigId: var id } && v == committed.Version && id == committed.ConfigId,
            TimeSpan.FromSeconds(10), "the committed version applied");
    }

    /// <summary>
    /// One agent in sync with a one-host workspace behind a hub; then the desired-id UPDATE is made slow, a second host
    /// is added and announced, and the resulting push is received (before that UPDATE commits).
    /// </summary>
    private async Task<Change> ChangeWhileTheDesiredUpdateSleepsAsync()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await Seed.VirtualHostAsync(database, workspaceId, "a.example.com");
        var hub = new HubFactory(database, new() { ["AgentHub:DesiredRefreshSeconds"] = "600" });
        try
        {
            var (agent, first) = await Fleet.InSyncAsync(hub, agentId, credential);
            try
            {
                await SlowDesiredUpdatesAsync();
                await Seed.VirtualHostAsync(database, workspaceId, "b.example.com");
                await Seed.OutboxAsync(database, workspaceId);
                var update = await agent.ConfigUpdateAsync(TimeSpan.FromSeconds(10));
                return new(hub, agentId, agent, first, update);
            }
            catch
            {
                await agent.DisposeAsync();
                throw;
            }
        }
        catch
        {
            await hub.DisposeAsync();
            throw;
        }
    }

    private sealed record Change(HubFactory Hub, Guid AgentId, TestAgent Agent, ConfigUpdate First, ConfigUpdate Update) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Agent.DisposeAsync();
            await Hub.DisposeAsync();
        }
    }

    /// <summary>
    /// A statement trigger on <c>UPDATE OF desired_config_id</c> (only the recompute's UPDATE sets it) sleeps before
    /// any row is locked, so other writers of the row (the ConfigStatus batch) commit meanwhile.
    /// </summary>
    private async Task SlowDesiredUpdatesAsync()
    {
        await using var db = database.CreateDbContext();
        await db.Database.ExecuteSqlRawAsync("""
            CREATE FUNCTION test_slow_desired() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_sleep(3);
                RETURN NULL;
            END $$;
            CREATE TRIGGER test_slow_desired BEFORE UPDATE OF desired_config_id ON agents FOR EACH STATEMENT EXECUTE FUNCTION test_slow_desired();
            """);
    }

    private async Task<Agent> RowAsync(Guid agentId)
    {
        await using var db = database.CreateDbContext();
        return await db.Agents.AsNoTracking().SingleAsync(a => a.Id == agentId);
    }
}
