using System.Globalization;
using System.Text.Json.Nodes;
using NxMesh.AgentHub.Push;
using NxMesh.Data.Messaging;
using StackExchange.Redis;

namespace NxMesh.AgentHub.Connections;

/// <summary>This AgentHub instance's identity on the control channel.</summary>
internal sealed class HubInstance
{
    public Guid Id { get; } = Guid.NewGuid();
}

/// <summary>
/// Subscribes this instance to relayed outbox messages (→ debounced recompute; agent.deleted closes the stream)
/// and to the control channel (another instance accepted a newer connection of an agent, or it was deleted).
/// </summary>
internal sealed class HubMessaging(IConnectionMultiplexer redis, ConnectionRegistry registry, WorkspaceRecompute recompute,
    HubInstance instance, ILogger<HubMessaging> logger) : IHostedService
{
    private ChannelMessageQueue? _outbox;
    private ChannelMessageQueue? _control;
    private readonly RecentIds _seen = new(4096);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var subscriber = redis.GetSubscriber();
        _outbox = await subscriber.SubscribeAsync(RedisChannel.Literal(HubChannels.Outbox));
        _outbox.OnMessage(message => Handle(() => OnOutbox(message.Message!)));
        _control = await subscriber.SubscribeAsync(RedisChannel.Literal(HubChannels.AgentControl));
        _control.OnMessage(message => Handle(() => OnControl(message.Message!)));
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var queue in new[] { _outbox, _control })
        {
            if (queue is not null)
            {
                await queue.UnsubscribeAsync();
            }
        }
    }

    /// <summary>Tells other instances to close their older stream of this agent.</summary>
    public Task PublishReplacedAsync(Guid agentId, long epoch) =>
        redis.GetSubscriber().PublishAsync(RedisChannel.Literal(HubChannels.AgentControl), new JsonObject
        {
            ["type"] = "replaced",
            ["agent_id"] = agentId.ToString("D"),
            ["epoch"] = epoch,
            ["instance_id"] = instance.Id.ToString("D"),
        }.ToJsonString());

    private void OnOutbox(string text)
    {
        var message = JsonNode.Parse(text)!.AsObject();
        // Each committed row arrives twice: the Api publishes it right after its commit and the relay's poll sends it
        // again. The second delivery would only cost a recompute that finds nothing to push (10,000 rows read and
        // compared at 10,000 agents, under the workspace's gate), so it is dropped.
        if ((long?)message["id"] is { } id && !_seen.Add(id))
        {
            return;
        }
        if ((string?)message["type"] == OutboxTypes.AgentDeleted && AgentIdOf(message["payload"]) is { } deleted)
        {
            registry.Get(deleted)?.Close(DisconnectReasons.ConnectionClosed);
        }
        if (Guid.TryParse((string?)message["workspace_id"], out var workspaceId))
        {
            recompute.Notify(workspaceId, (string?)message["traceparent"], NotificationAge.OnArrival(message));
        }
    }

    private void OnControl(string text)
    {
        var message = JsonNode.Parse(text)!.AsObject();
        if (!Guid.TryParse((string?)message["agent_id"], out var agentId) || registry.Get(agentId) is not { } connection)
        {
            return;
        }
        switch ((string?)message["type"])
        {
            case "replaced" when (string?)message["instance_id"] != instance.Id.ToString("D")
                                 && (long?)message["epoch"] is { } epoch && epoch > connection.Epoch:
                logger.LogInformation("Agent {AgentId} reconnected elsewhere (epoch {Epoch}); closing stream of epoch {Old}.", agentId, epoch, connection.Epoch);
                connection.Close("replaced");
                break;
            case "deleted":
                connection.Close(DisconnectReasons.ConnectionClosed);
                break;
        }
    }

    private static Guid? AgentIdOf(JsonNode? payload) =>
        payload is JsonObject obj && Guid.TryParse((string?)obj["agent_id"], out var id) ? id : null;

    private void Handle(Action action)
    {
        try
        {
            action();
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Ignoring a malformed hub message.");
        }
    }
}

/// <summary>
/// How old a relayed change was when this instance received it (wall clock; Api, Redis and hub share a machine or
/// a synchronized clock): ms from the publish to the arrival, and from the outbox row's creation (inside the writer's
/// request, before its commit) to the publish. Null fields: the sender did not say.
/// </summary>
internal readonly record struct NotificationAge(double? SincePublishMs, double? CreateToPublishMs)
{
    public static NotificationAge OnArrival(JsonObject message)
    {
        var now = OutboxMessages.UnixMs(DateTimeOffset.UtcNow);
        var published = (double?)message["published_at_ms"];
        var created = (double?)message["created_at_ms"];
        return new NotificationAge(now - published, published - created);
    }

    public override string ToString() =>
        $"{(SincePublishMs is { } p ? Math.Round(p, 1).ToString(CultureInfo.InvariantCulture) : "?")} ms after its publish"
        + (CreateToPublishMs is { } c ? $" ({Math.Round(c, 1).ToString(CultureInfo.InvariantCulture)} ms from the outbox row's creation to the publish)" : "");
}

/// <summary>The last <c>capacity</c> ids seen, in arrival order: <see cref="Add"/> is false for an id still remembered.</summary>
internal sealed class RecentIds(int capacity)
{
    private readonly HashSet<long> _ids = [];
    private readonly Queue<long> _order = new();

    public bool Add(long id)
    {
        lock (_ids)
        {
            if (!_ids.Add(id))
            {
                return false;
            }
            _order.Enqueue(id);
            if (_order.Count > capacity)
            {
                _ids.Remove(_order.Dequeue());
            }
            return true;
        }
    }
}
