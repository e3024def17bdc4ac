using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using NxMesh.Data.Commands;
using NxMesh.Data.DesiredConfig;
using NxMesh.Data.Entities;
using NxMesh.Testing;
using StackExchange.Redis;
using Xunit;
using Proto = NxMesh.Protocol.V1;

namespace NxMesh.AgentHub.Tests;

/// <summary>
/// Trace context on the way to the agent (the outbox's traceparent on ConfigUpdate, the caller's on Command, never
/// part of config_id), the agent record after a rejected change is removed, and pushes never going back to an
/// older snapshot when health reports and change recomputes interleave.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class TraceAndStatusTests(DatabaseFixture database) : IAsyncLifetime
{
    private const string RestTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    public Task InitializeAsync() => database.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_pushed_config_carries_the_trace_of_the_change_and_its_config_id_ignores_it()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await Seed.VirtualHostAsync(database, workspaceId, "a.example.test");
        // No periodic refresh: one that ran between the insert and its outbox row would push the change in a trace of its own.
        await using var hub = new HubFactory(database, new() { ["AgentHub:DesiredRefreshSeconds"] = "600" });
        var (agent, _) = await Fleet.InSyncAsync(hub, agentId, credential);
        await using var _ = agent;

        await Seed.VirtualHostAsync(database, workspaceId, "b.example.test");
        await using (var db = database.CreateDbContext())
        {
            db.Outbox.Add(new OutboxMessage
            {
                Type = "workspace.config_changed",
                WorkspaceId = workspaceId,
                Payload = "{}",
                CreatedAt = DateTimeOffset.UtcNow,
                TraceParent = RestTraceparent,
            });
            await db.SaveChangesAsync();
        }
        var update = await agent.ConfigUpdateAsync();

        Assert.True(ActivityContext.TryParse(update.Traceparent, null, out var pushed), $"traceparent '{update.Traceparent}'");
        Assert.Equal(ActivityContext.Parse(RestTraceparent, null).TraceId, pushed.TraceId);
        Assert.Equal(ConfigChecksum.Compute(update), update.ConfigId);
        var untraced = update.Clone();
        untraced.Traceparent = "";
        Assert.Equal(update.ConfigId, ConfigChecksum.Compute(untraced));
        // The push may arrive before the recompute's UPDATE of the desired id commits (PushBeforeCommitTests).
        await Wait.UntilAsync(async () =>
        {
            await using var check = database.CreateDbContext();
            return (await check.Agents.SingleAsync(a => a.Id == agentId)).DesiredConfigId == update.ConfigId;
        }, TimeSpan.FromSeconds(10), "the desired id recorded");
    }

    [Fact]
    public async Task A_command_carries_the_trace_of_the_rest_call_that_sent_it()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using var hub = new HubFactory(database);
        await using var agent = await Fleet.ConnectAsync(hub, agentId, credential);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(database.RedisConnectionString);
        var client = new AgentCommandClient(redis);

        using var restCall = new Activity("POST /v1/agents/{id}/reload").SetParentId(RestTraceparent).Start();
        var send = client.SendAsync(agentId, new Proto.Command { CommandId = "traced", Reload = new Proto.ReloadCommand() }, TimeSpan.FromSeconds(10));
        var command = (await agent.NextAsync(m => m.Command is not null, what: "the command")).Command;
        await agent.SendAsync(new Proto.AgentMessage
        {
            CommandResult = new Proto.CommandResult { CommandId = command.CommandId, Success = true, Message = "ok" },
        });
        Assert.Equal(CommandOutcomeKind.Result, (await send).Kind);

        Assert.True(ActivityContext.TryParse(command.Traceparent, null, out var carried), $"traceparent '{command.Traceparent}'");
        Assert.Equal(restCall.TraceId, carried.TraceId);
    }

    [Fact]
    public async Task After_the_rejected_change_is_removed_the_agent_record_shows_success_without_a_reapply()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await Seed.VirtualHostAsync(database, workspaceId, "good.example.test");
        await using var hub = new HubFactory(database);
        var (agent, good) = await Fleet.InSyncAsync(hub, agentId, credential);
        await using var _ = agent;

        var bad = await Seed.VirtualHostAsync(database, workspaceId, "bad.example.test");
        await Seed.OutboxAsync(database, workspaceId);
        var rejected = await agent.ConfigUpdateAsync();
        var at = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await agent.ReportStatusAsync(rejected.ConfigId, rejected.Version, Proto.ConfigApplyStatus.Pending, at);
        await agent.ReportStatusAsync(rejected.ConfigId, rejected.Version, Proto.ConfigApplyStatus.Failed, at + 20, "host not found in upstream");
        await agent.ReportHealthAsync(good.ConfigId, good.Version);
        await WaitForAgentAsync(agentId, a => a.LastApplyStatus == ConfigApplyStatus.Failed && a.DesiredConfigId == rejected.ConfigId, "the FAILED apply recorded");

        await using (var db = database.CreateDbContext())
        {
            await db.VirtualHosts.Where(v => v.Id == bad.Id).ExecuteDeleteAsync();
        }
        await Seed.OutboxAsync(database, workspaceId);

        var row = await WaitForAgentAsync(agentId, a => a.DesiredConfigId == good.ConfigId && a.LastApplyStatus == ConfigApplyStatus.Success,
            "the record back to SUCCESS on the config the agent runs");
        Assert.Null(row.LastApplyError);
        Assert.Equal(good.ConfigId, row.AppliedConfigId);
        await agent.ReportHealthAsync(good.ConfigId, good.Version);
        await WaitForAgentAsync(agentId, a => a.State == AgentState.Online, "the agent online again");
        Assert.True(await agent.NothingAsync(m => m.ConfigUpdate is not null, TimeSpan.FromMilliseconds(1500)), "the config it runs is not pushed again");
    }

    [Fact]
    public async Task A_rollback_of_the_desired_config_is_not_hidden_by_a_stale_report_of_its_checksum()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await Seed.VirtualHostAsync(database, workspaceId, "a.example.test");
        await using var hub = new HubFactory(database);
        var (agent, applied) = await Fleet.InSyncAsync(hub, agentId, credential);
        var at = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        // The error-log watch after SUCCESS rolled it back: a second terminal status for the same config.
        await agent.ReportStatusAsync(applied.ConfigId, applied.Version, Proto.ConfigApplyStatus.RolledBack, at, "[emerg] after reload");
        await WaitForAgentAsync(agentId, a => a.LastApplyStatus == ConfigApplyStatus.RolledBack, "ROLLED_BACK recorded");
        await agent.DisposeAsync();

        // A new stream whose first report still carries that checksum (collected before the rollback).
        await using var again = await Fleet.ConnectAsync(hub, agentId, credential);
        await again.ReportHealthAsync(applied.ConfigId, applied.Version);
        await again.ReportHealthAsync(applied.ConfigId, applied.Version);
        await Task.Delay(1500);
        await again.ReportHealthAsync(applied.ConfigId, applied.Version);
        await Task.Delay(500);
        await using var db = database.CreateDbContext();
        var row = await db.Agents.SingleAsync(a => a.Id == agentId);
        Assert.Equal(ConfigApplyStatus.RolledBack, row.LastApplyStatus);
        Assert.Equal("[emerg] after reload", row.LastApplyError);
    }

    [Fact]
    public async Task Interleaved_health_reports_and_change_recomputes_never_push_an_older_snapshot()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using var hub = new HubFactory(database, new()
        {
            ["AgentHub:DebounceMilliseconds"] = "20",
            ["AgentHub:RepushIntervalSeconds"] = "0",
            ["AgentHub:SendQueueCapacity"] = "1000",
        });
        await using var agent = await Fleet.ConnectAsync(hub, agentId, credential);
        await agent.ReportHealthAsync("");
        await agent.ConfigUpdateAsync();

        const int changes = 12;
        using var stop = new CancellationTokenSource();
        // Never applying, the agent keeps reporting a checksum that differs: every report resolves from the database.
        var reporter = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await agent.ReportHealthAsync("");
                await Task.Delay(15);
            }
        });
        for (var i = 0; i < changes; i++)
        {
            await Seed.VirtualHostAsync(database, workspaceId, $"v{i}.example.test");
            await Seed.OutboxAsync(database, workspaceId);
            await Task.Delay(Random.Shared.Next(10, 60));
        }
        await Wait.UntilAsync(() => Task.FromResult(agent.Received.LastOrDefault(m => m.ConfigUpdate is not null)?.ConfigUpdate.VirtualHosts.Count == changes),
            TimeSpan.FromSeconds(15), "the newest snapshot pushed");
        await stop.CancelAsync();
        await reporter;

        var pushed = agent.Received.Where(m => m.ConfigUpdate is not null).Select(m => m.ConfigUpdate).ToList();
        var counts = pushed.Select(u => u.VirtualHosts.Count).ToList();
        for (var i = 1; i < counts.Count; i++)
        {
            Assert.True(counts[i] >= counts[i - 1], $"an older snapshot was pushed after a newer one: {string.Join(", ", counts)}");
            Assert.True(pushed[i].Version >= pushed[i - 1].Version, $"versions went back: {string.Join(", ", pushed.Select(u => u.Version))}");
        }
        await using var db = database.CreateDbContext();
        Assert.Equal(pushed[^1].ConfigId, (await db.Agents.SingleAsync(a => a.Id == agentId)).DesiredConfigId);
    }

    private async Task<Agent> WaitForAgentAsync(Guid agentId, Func<Agent, bool> condition, string what)
    {
        Agent? row = null;
        await Wait.UntilAsync(async () =>
        {
            await using var db = database.CreateDbContext();
            row = await db.Agents.AsNoTracking().SingleAsync(a => a.Id == agentId);
            return condition(row);
        }, TimeSpan.FromSeconds(10), what);
        return row!;
    }
}
