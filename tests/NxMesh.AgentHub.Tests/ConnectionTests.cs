using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using NxMesh.Data.Commands;
using NxMesh.Data.Entities;
using NxMesh.Data.Messaging;
using NxMesh.Protocol.V1;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.AgentHub.Tests;

[Collection(DatabaseCollection.Name)]
public sealed class ConnectionTests(DatabaseFixture database) : IAsyncLifetime
{
    public Task InitializeAsync() => database.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_second_connection_replaces_the_first_on_the_same_instance()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using var events = await EventListener.StartAsync(database);
        await using var hub = new HubFactory(database);
        await using var first = await Fleet.ConnectAsync(hub, agentId, credential);
        await using var second = await Fleet.ConnectAsync(hub.NewConnectionClient(out var channel), agentId, credential);
        using var _ = channel;

        await first.Ended.WaitAsync(TimeSpan.FromSeconds(10));
        await second.ReportHealthAsync("");
        await second.ConfigUpdateAsync();
        await using var db = database.CreateDbContext();
        var row = await db.Agents.SingleAsync(a => a.Id == agentId);
        Assert.Equal(2, row.ConnectionEpoch);
        Assert.Equal(AgentState.Online, row.State);
        // The replaced stream lost the epoch: it publishes no agent.disconnected.
        await Task.Delay(300);
        Assert.Empty(events.OfType(FleetEventTypes.AgentDisconnected, agentId));
        Assert.Equal(2, events.OfType(FleetEventTypes.AgentConnected, agentId).Count);
    }

    [Fact]
    public async Task A_second_connection_on_another_instance_replaces_the_first_and_changes_reach_agents_on_either()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        var (otherId, otherCredential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using var events = await EventListener.StartAsync(database);
        await using var hubA = new HubFactory(database);
        await using var hubB = new HubFactory(database);

        await using var onA = await Fleet.ConnectAsync(hubA, agentId, credential);
        await using var onB = await Fleet.ConnectAsync(hubB, agentId, credential);
        await onA.Ended.WaitAsync(TimeSpan.FromSeconds(10));

        await using var otherOnA = await Fleet.ConnectAsync(hubA, otherId, otherCredential);
        await onB.ReportHealthAsync("");
        await otherOnA.ReportHealthAsync("");
        var firstB = await onB.ConfigUpdateAsync();
        var firstA = await otherOnA.ConfigUpdateAsync();
        await Fleet.ApplyAsync(onB, firstB);
        await Fleet.ApplyAsync(otherOnA, firstA);

        // One change, relayed by whichever instance claims the outbox row, reaches the agents of both instances.
        await Seed.VirtualHostAsync(database, workspaceId, "both.example.test");
        await Seed.OutboxAsync(database, workspaceId);
        Assert.Single((await onB.ConfigUpdateAsync()).VirtualHosts);
        Assert.Single((await otherOnA.ConfigUpdateAsync()).VirtualHosts);
        Assert.Empty(events.OfType(FleetEventTypes.AgentDisconnected, agentId));
    }

    [Fact]
    public async Task A_client_that_never_reads_its_stream_does_not_delay_the_others()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (stuckId, stuckCredential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using var events = await EventListener.StartAsync(database);
        await using var hub = new HubFactory(database, new() { ["AgentHub:SendQueueCapacity"] = "4", ["AgentHub:DebounceMilliseconds"] = "20" });

        await using var stuck = await Fleet.ConnectAsync(hub.NewConnectionClient(out var stuckChannel), stuckId, stuckCredential, read: false);
        using var _ = stuckChannel;
        await stuck.ReportHealthAsync("");
        var (agent, _) = await Fleet.InSyncAsync(hub, agentId, credential);
        await using var __ = agent;

        // Large configs (≈ 1 MiB each) fill the stuck client's HTTP/2 windows and then its queue.
        var big = new string('x', 200_000);
        var latencies = new List<TimeSpan>();
        for (var i = 0; i < 12; i++)
        {
            await Seed.VirtualHostAsync(database, workspaceId, $"v{i}.example.test", customValue: big + i);
            var changed = Stopwatch.StartNew();
            await Seed.OutboxAsync(database, workspaceId);
            var update = await agent.ConfigUpdateAsync(TimeSpan.FromSeconds(10));
            latencies.Add(changed.Elapsed);
            await Fleet.ApplyAsync(agent, update);
        }

        Assert.All(latencies, l => Assert.True(l < TimeSpan.FromSeconds(3), $"a push took {l.TotalMilliseconds} ms"));
        var disconnected = await events.WaitForAsync(FleetEventTypes.AgentDisconnected, stuckId);
        Assert.Equal(DisconnectReasons.SlowConsumer, (string?)disconnected["data"]!["reason"]);
    }

    [Fact]
    public async Task Commands_travel_through_redis_to_the_agent_and_back()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using var events = await EventListener.StartAsync(database);
        await using var hubA = new HubFactory(database);
        await using var hubB = new HubFactory(database);
        hubA.StartServer();
        await using var agent = await Fleet.ConnectAsync(hubB, agentId, credential);
        var client = new AgentCommandClient(events.Redis);

        // The agent answers every command it receives.
        var answering = Task.Run(async () =>
        {
            while (true)
            {
                var command = (await agent.NextAsync(m => m.Command is not null, TimeSpan.FromSeconds(30), "command")).Command;
                await agent.SendAsync(new AgentMessage
                {
                    CommandResult = new CommandResult
                    {
                        CommandId = command.CommandId,
                        Success = true,
                        Message = command.CommandCase == Command.CommandOneofCase.Reload ? "Nginx reloaded successfully" : "ok",
                        CompletedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                    },
                });
            }
        });

        var outcome = await client.SendAsync(agentId, new Command { Reload = new ReloadCommand { Graceful = true } }, TimeSpan.FromSeconds(5));
        Assert.Equal(CommandOutcomeKind.Result, outcome.Kind);
        Assert.True(outcome.Result!.Success);
        Assert.Equal("Nginx reloaded successfully", outcome.Result.Message);

        var unknown = await client.SendAsync(Guid.NewGuid(), new Command { Reload = new ReloadCommand() }, TimeSpan.FromSeconds(5));
        Assert.Equal(CommandOutcomeKind.NotConnected, unknown.Kind);
        Assert.False(answering.IsFaulted, answering.Exception?.ToString());
    }

    [Fact]
    public async Task A_command_the_agent_does_not_answer_times_out_and_a_disconnected_agent_is_not_connected()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using var hub = new HubFactory(database);
        await using var agent = await Fleet.ConnectAsync(hub, agentId, credential);
        await using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(database.RedisConnectionString);
        var client = new AgentCommandClient(redis);

        var elapsed = Stopwatch.StartNew();
        var outcome = await client.SendAsync(agentId, new Command { GetStatus = new GetStatusCommand() }, TimeSpan.FromMilliseconds(700));
        Assert.Equal(CommandOutcomeKind.TimedOut, outcome.Kind);
        Assert.InRange(elapsed.Elapsed, TimeSpan.FromMilliseconds(650), TimeSpan.FromSeconds(5));
        Assert.NotNull(await agent.NextAsync(m => m.Command is { GetStatus: not null }, what: "the command"));

        await agent.DisposeAsync();
        await Wait.UntilAsync(async () =>
            (await client.SendAsync(agentId, new Command { Reload = new ReloadCommand() }, TimeSpan.FromSeconds(2))).Kind == CommandOutcomeKind.NotConnected,
            TimeSpan.FromSeconds(10), "the agent to count as not connected");
        await Wait.UntilAsync(async () =>
        {
            await using var db = database.CreateDbContext();
            return (await db.Agents.SingleAsync(a => a.Id == agentId)).State == AgentState.Offline;
        }, TimeSpan.FromSeconds(10), "the closed stream to mark the agent offline");
    }
}
