using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using NxMesh.Data.Messaging;
using NxMesh.Testing;
using StackExchange.Redis;

namespace NxMesh.AgentHub.Tests;

/// <summary>Collects everything published on the event channel, as the Api's WebSocket feed would see it.</summary>
public sealed class EventListener : IAsyncDisposable
{
    private readonly ConnectionMultiplexer _redis;
    private readonly ConcurrentQueue<JsonObject> _events = new();

    private EventListener(ConnectionMultiplexer redis) => _redis = redis;

    public ConnectionMultiplexer Redis => _redis;

    public static async Task<EventListener> StartAsync(DatabaseFixture database)
    {
        var redis = await ConnectionMultiplexer.ConnectAsync(database.RedisConnectionString);
        var listener = new EventListener(redis);
        var queue = await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(HubChannels.Events));
        queue.OnMessage(m => listener._events.Enqueue(JsonNode.Parse((string)m.Message!)!.AsObject()));
        return listener;
    }

    public List<JsonObject> OfType(string type, Guid agentId) =>
        [.. _events.Where(e => (string?)e["type"] == type && (string?)e["data"]?["agent_id"] == agentId.ToString("D"))];

    public async Task<JsonObject> WaitForAsync(string type, Guid agentId, TimeSpan? timeout = null)
    {
        JsonObject? found = null;
        await Wait.UntilAsync(() =>
        {
            found = OfType(type, agentId).FirstOrDefault();
            return Task.FromResult(found is not null);
        }, timeout ?? TimeSpan.FromSeconds(10), $"{type} of agent {agentId}");
        return found!;
    }

    public async ValueTask DisposeAsync() => await _redis.DisposeAsync();
}
