using System.Collections.Concurrent;
using System.Diagnostics;
using NxMesh.Data.Messaging;
using NxMesh.Testing;
using StackExchange.Redis;
using Xunit;

namespace NxMesh.AgentHub.Tests;

/// <summary>
/// A committed outbox row reaches the hub twice (the Api publishes it after its commit, the relay's poll again): the
/// second delivery of the same id starts no recompute; a new id does.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class DuplicateOutboxTests(DatabaseFixture database) : IAsyncLifetime
{
    public Task InitializeAsync() => database.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task The_same_relay_message_twice_recomputes_once_and_a_new_one_recomputes_again()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using var hub = new HubFactory(database, new() { ["AgentHub:DesiredRefreshSeconds"] = "600" });
        var (agent, _) = await Fleet.InSyncAsync(hub, agentId, credential);
        await using var __ = agent;

        var runs = new ConcurrentQueue<DateTimeOffset>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "NxMesh.AgentHub",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = activity =>
            {
                if (activity.OperationName == "recompute workspace config"
                    && (string?)activity.GetTagItem("nxmesh.workspace_id") == workspaceId.ToString("D"))
                {
                    runs.Enqueue(DateTimeOffset.UtcNow);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(database.RedisConnectionString);
        var channel = RedisChannel.Literal(HubChannels.Outbox);
        var id = Random.Shared.NextInt64(1_000_000, long.MaxValue / 2);

        var message = OutboxMessages.RelayMessage(id, "workspace.config_changed", workspaceId, "{}", null);
        await redis.GetSubscriber().PublishAsync(channel, message);
        await Wait.UntilAsync(() => Task.FromResult(runs.Count >= 1), TimeSpan.FromSeconds(10), "the first delivery's recompute");
        // Well past the debounce (100 ms): a second run, if the duplicate caused one, would have finished.
        await redis.GetSubscriber().PublishAsync(channel, message);
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.Single(runs);

        await redis.GetSubscriber().PublishAsync(channel, OutboxMessages.RelayMessage(id + 1, "workspace.config_changed", workspaceId, "{}", null));
        await Wait.UntilAsync(() => Task.FromResult(runs.Count >= 2), TimeSpan.FromSeconds(10), "the new id's recompute");
    }
}
