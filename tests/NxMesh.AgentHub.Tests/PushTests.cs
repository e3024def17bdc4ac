using Microsoft.EntityFrameworkCore;
using NxMesh.Data.DesiredConfig;
using NxMesh.Data.Entities;
using NxMesh.Data.Messaging;
using NxMesh.Testing;
using Xunit;
using Proto = NxMesh.Protocol.V1;

namespace NxMesh.AgentHub.Tests;

[Collection(DatabaseCollection.Name)]
public sealed class PushTests(DatabaseFixture database) : IAsyncLifetime
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(1500);

    public Task InitializeAsync() => database.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Config_is_pushed_when_the_checksum_reported_after_registration_differs()
    {
        var workspaceId = await Seed.WorkspaceAsync(database, new WorkspaceSettings { NginxDirectives = { ["client_max_body_size"] = "10m" } });
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        var vhost = await Seed.VirtualHostAsync(database, workspaceId, "shop.example.test");
        await using var hub = new HubFactory(database);
        await using var agent = await Fleet.ConnectAsync(hub, agentId, credential);

        Assert.True(await agent.NothingAsync(m => m.ConfigUpdate is not null, TimeSpan.FromMilliseconds(500)), "nothing is pushed before the first health report");
        await agent.ReportHealthAsync("");
        var update = await agent.ConfigUpdateAsync();

        Assert.Matches("^[0-9a-f]{64}$", update.ConfigId);
        Assert.Equal(1, update.Version);
        Assert.Equal(vhost.Id.ToString("D"), Assert.Single(update.VirtualHosts).Id);
        Assert.Equal("10m", update.GlobalSettings.NginxDirectives["client_max_body_size"]);
        // The push may arrive before the recompute's UPDATE of the desired id commits (PushBeforeCommitTests).
        Agent row = null!;
        await Wait.UntilAsync(async () =>
        {
            await using var db = database.CreateDbContext();
            row = await db.Agents.SingleAsync(a => a.Id == agentId);
            return row.DesiredConfigId is not null;
        }, TimeSpan.FromSeconds(10), "the desired id recorded");
        Assert.Equal(update.ConfigId, row.DesiredConfigId);
        Assert.Equal(1, row.DesiredConfigVersion);

        // In sync: heartbeats with the desired checksum push nothing, even past the re-push interval.
        await Fleet.ApplyAsync(agent, update);
        for (var i = 0; i < 6; i++)
        {
            await agent.ReportHealthAsync(update.ConfigId, update.Version);
            await Task.Delay(250);
        }
        Assert.Single(agent.Received, m => m.ConfigUpdate is not null);
    }

    [Fact]
    public async Task An_agent_already_in_sync_at_registration_gets_no_push()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await Seed.VirtualHostAsync(database, workspaceId, "a.example.test");
        await using var hub = new HubFactory(database);
        var (first, applied) = await Fleet.InSyncAsync(hub, agentId, credential);
        await first.DisposeAsync();

        await using var again = await Fleet.ConnectAsync(hub, agentId, credential);
        await again.ReportHealthAsync(applied.ConfigId, applied.Version);
        Assert.True(await again.NothingAsync(m => m.ConfigUpdate is not null, Quiet));
    }

    [Fact]
    public async Task Outbox_changes_are_relayed_debounced_and_coalesced_into_one_push()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await Seed.VirtualHostAsync(database, workspaceId, "a.example.test");
        await using var hub = new HubFactory(database, new() { ["AgentHub:DebounceMilliseconds"] = "1500" });
        var (agent, applied) = await Fleet.InSyncAsync(hub, agentId, credential);
        await using var _ = agent;

        for (var i = 0; i < 3; i++)
        {
            await Seed.VirtualHostAsync(database, workspaceId, $"b{i}.example.test");
            await Seed.OutboxAsync(database, workspaceId);
        }
        // Leading-edge debounce: the first change may be pushed at once; what follows is coalesced into one trailing push.
        var update = await agent.ConfigUpdateAsync(TimeSpan.FromSeconds(5));
        var pushes = 1;
        if (update.VirtualHosts.Count < 4)
        {
            update = await agent.ConfigUpdateAsync(TimeSpan.FromSeconds(5));
            pushes++;
        }

        Assert.Equal(4, update.VirtualHosts.Count);
        Assert.Equal(applied.Version + pushes, update.Version);
        Assert.True(await agent.NothingAsync(m => m.ConfigUpdate is not null, Quiet), $"three changes, {pushes} push(es), then nothing");
        await using var db = database.CreateDbContext();
        Assert.All(await db.Outbox.ToListAsync(), o => Assert.NotNull(o.ProcessedAt));
    }

    [Fact]
    public async Task Unchanged_config_is_never_re_pushed()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await Seed.VirtualHostAsync(database, workspaceId, "a.example.test");
        await using var hub = new HubFactory(database);
        var (agent, applied) = await Fleet.InSyncAsync(hub, agentId, credential);
        await using var _ = agent;

        // A change elsewhere in the workspace that does not target this agent.
        await Seed.VirtualHostAsync(database, workspaceId, "other.example.test", new TargetAgents { Type = TargetAgentsType.Agents, AgentIds = [Guid.NewGuid()] });
        await Seed.OutboxAsync(database, workspaceId);
        await Seed.OutboxAsync(database, workspaceId);

        Assert.True(await agent.NothingAsync(m => m.ConfigUpdate is not null, Quiet));
        await using var db = database.CreateDbContext();
        Assert.Equal(applied.Version, (await db.Agents.SingleAsync(a => a.Id == agentId)).DesiredConfigVersion);
    }

    [Fact]
    public async Task Changing_labels_re_targets_virtual_hosts_and_pushes()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId, new() { ["env"] = "dev" });
        var prodOnly = await Seed.VirtualHostAsync(database, workspaceId, "prod.example.test",
            new TargetAgents { Type = TargetAgentsType.Selector, LabelSelector = "env=prod" });
        await using var hub = new HubFactory(database);
        var (agent, applied) = await Fleet.InSyncAsync(hub, agentId, credential);
        await using var _ = agent;
        Assert.Empty(applied.VirtualHosts);

        await using (var db = database.CreateDbContext())
        {
            var row = await db.Agents.SingleAsync(a => a.Id == agentId);
            row.Labels = new() { ["env"] = "prod" };
            db.Outbox.Add(new OutboxMessage { Type = OutboxTypes.AgentUpdated, WorkspaceId = workspaceId, Payload = $$"""{"agent_id":"{{agentId}}"}""" });
            await db.SaveChangesAsync();
        }

        var update = await agent.ConfigUpdateAsync();
        Assert.Equal(prodOnly.Id.ToString("D"), Assert.Single(update.VirtualHosts).Id);
    }

    [Fact]
    public async Task A_lost_notification_is_healed_by_the_health_checksum_rule()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using var hub = new HubFactory(database);
        var (agent, applied) = await Fleet.InSyncAsync(hub, agentId, credential);
        await using var _ = agent;

        // Written without its outbox message: no notification ever comes.
        var vhost = await Seed.VirtualHostAsync(database, workspaceId, "late.example.test");
        Proto.ConfigUpdate? update = null;
        await Wait.UntilAsync(async () =>
        {
            await agent.ReportHealthAsync(applied.ConfigId, applied.Version);
            update = agent.Received.LastOrDefault(m => m.ConfigUpdate is not null && m.ConfigUpdate.ConfigId != applied.ConfigId)?.ConfigUpdate;
            await Task.Delay(200);
            return update is not null;
        }, TimeSpan.FromSeconds(10), "the heartbeat to heal the lost notification");
        Assert.Equal(vhost.Id.ToString("D"), Assert.Single(update!.VirtualHosts).Id);
    }

    [Fact]
    public async Task A_config_the_agent_lost_is_re_pushed_at_most_once_per_interval()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await Seed.VirtualHostAsync(database, workspaceId, "a.example.test");
        await using var hub = new HubFactory(database);
        var (agent, applied) = await Fleet.InSyncAsync(hub, agentId, credential);
        await using var _ = agent;

        // The agent lost its config (e.g. its state was wiped) and says so in every heartbeat for 3.5 s.
        var before = agent.Received.Count(m => m.ConfigUpdate is not null);
        var until = DateTime.UtcNow.AddSeconds(3.5);
        while (DateTime.UtcNow < until)
        {
            await agent.ReportHealthAsync("");
            await Task.Delay(100);
        }
        // One re-push; while it is being applied (in flight) the heartbeats trigger no more.
        var repushes = agent.Received.Count(m => m.ConfigUpdate is not null) - before;
        Assert.Equal(1, repushes);
        Assert.All(agent.Received.Where(m => m.ConfigUpdate is not null), m => Assert.Equal(applied.ConfigId, m.ConfigUpdate.ConfigId));

        // Once the re-pushed config is applied again, nothing more comes.
        var last = agent.Received.Last(m => m.ConfigUpdate is not null).ConfigUpdate;
        await Fleet.ApplyAsync(agent, last);
        Assert.True(await agent.NothingAsync(m => m.ConfigUpdate is not null, Quiet));
    }

    [Fact]
    public async Task Re_pushes_to_an_agent_that_never_applies_are_rate_limited()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await Seed.VirtualHostAsync(database, workspaceId, "a.example.test");
        await using var hub = new HubFactory(database, new() { ["AgentHub:ApplyTimeoutSeconds"] = "1", ["AgentHub:RepushIntervalSeconds"] = "1" });
        await using var agent = await Fleet.ConnectAsync(hub, agentId, credential);

        // 35 heartbeats in 3.5 s, each still reporting no config, and no ConfigStatus ever.
        var until = DateTime.UtcNow.AddSeconds(3.5);
        while (DateTime.UtcNow < until)
        {
            await agent.ReportHealthAsync("");
            await Task.Delay(100);
        }
        Assert.InRange(agent.Received.Count(m => m.ConfigUpdate is not null), 2, 4);
    }

    [Fact]
    public async Task Config_status_updates_the_agent_records_history_and_publishes_config_applied()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await Seed.VirtualHostAsync(database, workspaceId, "a.example.test");
        await using var events = await EventListener.StartAsync(database);
        await using var hub = new HubFactory(database);
        await using var agent = await Fleet.ConnectAsync(hub, agentId, credential);
        await agent.ReportHealthAsync("");
        var update = await agent.ConfigUpdateAsync();

        await Fleet.ApplyAsync(agent, update, durationMs: 150);
        var applied = await events.WaitForAsync(FleetEventTypes.ConfigApplied, agentId);

        var data = applied["data"]!;
        Assert.Equal(update.ConfigId, (string?)data["config_id"]);
        Assert.Equal(update.Version, (long?)data["version"]);
        Assert.Equal(150, (long?)data["duration_ms"]);
        Assert.True((bool?)data["success"]);
        Assert.Equal(workspaceId.ToString("D"), (string?)data["workspace_id"]);
        await Wait.UntilAsync(async () =>
        {
            await using var db = database.CreateDbContext();
            var row = await db.Agents.SingleAsync(a => a.Id == agentId);
            return row.AppliedConfigId == update.ConfigId && row.LastApplyStatus == ConfigApplyStatus.Success;
        }, TimeSpan.FromSeconds(5), "the applied config on the agent row");
        await using (var db = database.CreateDbContext())
        {
            var history = await db.Set<ConfigApplyRecord>().SingleAsync();
            Assert.Equal((update.ConfigId, update.Version, ConfigApplyStatus.Success, 150L), (history.ConfigId, history.Version, history.Status, history.DurationMs));
        }

        // A change nginx rejects: FAILED is recorded, published, and the failing config is not pushed again.
        await Seed.VirtualHostAsync(database, workspaceId, "broken.example.test");
        await Seed.OutboxAsync(database, workspaceId);
        var broken = await agent.ConfigUpdateAsync();
        var start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await agent.ReportStatusAsync(broken.ConfigId, broken.Version, Proto.ConfigApplyStatus.Pending, start);
        await agent.ReportStatusAsync(broken.ConfigId, broken.Version, Proto.ConfigApplyStatus.Failed, start + 40, "nginx: [emerg] host not found in upstream");
        await Wait.UntilAsync(() => Task.FromResult(events.OfType(FleetEventTypes.ConfigApplied, agentId).Count == 2), TimeSpan.FromSeconds(5), "the second config.applied");
        var failed = events.OfType(FleetEventTypes.ConfigApplied, agentId)[1]["data"]!;
        Assert.False((bool?)failed["success"]);
        Assert.Equal("failed", (string?)failed["status"]);
        Assert.Equal(40, (long?)failed["duration_ms"]);
        Assert.Contains("host not found", (string?)failed["error_message"], StringComparison.Ordinal);

        for (var i = 0; i < 8; i++)
        {
            await agent.ReportHealthAsync(update.ConfigId, update.Version);
            await Task.Delay(200);
        }
        Assert.Equal(2, agent.Received.Count(m => m.ConfigUpdate is not null));
        await using (var db = database.CreateDbContext())
        {
            var row = await db.Agents.SingleAsync(a => a.Id == agentId);
            Assert.Equal(ConfigApplyStatus.Failed, row.LastApplyStatus);
            Assert.Contains("host not found", row.LastApplyError, StringComparison.Ordinal);
            Assert.Equal(update.ConfigId, row.AppliedConfigId);
            Assert.Equal(broken.ConfigId, row.DesiredConfigId);
            Assert.Equal(AgentState.Degraded, row.State);
            Assert.Equal(2, await db.Set<ConfigApplyRecord>().CountAsync());
        }
    }

    [Fact]
    public async Task Nginx_not_running_makes_the_agent_degraded_and_health_is_stored()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using var hub = new HubFactory(database);
        var (agent, applied) = await Fleet.InSyncAsync(hub, agentId, credential);
        await using var _ = agent;

        await agent.ReportHealthAsync(applied.ConfigId, applied.Version, nginxRunning: false);
        await Wait.UntilAsync(async () =>
        {
            await using var db = database.CreateDbContext();
            return (await db.Agents.SingleAsync(a => a.Id == agentId)).State == AgentState.Degraded;
        }, TimeSpan.FromSeconds(5), "the agent to be degraded");
        await agent.ReportHealthAsync(applied.ConfigId, applied.Version);
        await Wait.UntilAsync(async () =>
        {
            await using var db = database.CreateDbContext();
            return (await db.Agents.SingleAsync(a => a.Id == agentId)).State == AgentState.Online;
        }, TimeSpan.FromSeconds(5), "the agent to be online again");
        // The row's state is updated at once, the report's snapshot row with the next health batch: wait for that too.
        HealthSnapshot? latest = null;
        await Wait.UntilAsync(async () =>
        {
            await using var db = database.CreateDbContext();
            latest = await db.HealthSnapshots.Where(h => h.AgentId == agentId).OrderByDescending(h => h.Id).FirstOrDefaultAsync();
            return latest?.NginxRunning == true;
        }, TimeSpan.FromSeconds(5), "the running report's snapshot");
        Assert.Equal(applied.ConfigId, latest!.ConfigChecksum);
        Assert.Equal(12.5, latest.CpuPercent, 3);
    }
}
