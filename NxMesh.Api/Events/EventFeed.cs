using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using NxMesh.Data.Messaging;
using StackExchange.Redis;

namespace NxMesh.Api.Events;

/// <summary>An event as received from Redis: routed by type and workspace, its UTF-8 bytes shared by every socket.</summary>
public sealed record FeedEvent(string Type, Guid WorkspaceId, ReadOnlyMemory<byte> Utf8)
{
    /// <summary>Null when the message is not an event with a type and data.workspace_id (it can then reach nobody).</summary>
    public static FeedEvent? TryParse(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
                && root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object
                && data.TryGetProperty("workspace_id", out var workspace) && workspace.ValueKind == JsonValueKind.String
                && Guid.TryParse(workspace.GetString(), out var workspaceId))
            {
                return new FeedEvent(type.GetString()!, workspaceId, Encoding.UTF8.GetBytes(json));
            }
        }
        catch (JsonException)
        {
        }
        return null;
    }
}

/// <summary>
/// One Redis subscription per Api instance on <see cref="HubChannels.Events"/>. Each message is parsed and encoded
/// once, then offered to every live connection; offering never blocks (a full queue closes that connection), so a
/// slow client cannot hold up the others. Messages are read in order from one queue, so each socket sees the
/// channel's order.
/// </summary>
public sealed partial class EventFeed(IConnectionMultiplexer redis, ILogger<EventFeed> logger) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private ImmutableHashSet<EventConnection> _connections = [];
    private Task _loop = Task.CompletedTask;

    public int ConnectionCount => Volatile.Read(ref _connections).Count;

    internal void Add(EventConnection connection) => ImmutableInterlocked.Update(ref _connections, set => set.Add(connection));

    internal void Remove(EventConnection connection) => ImmutableInterlocked.Update(ref _connections, set => set.Remove(connection));

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Subscribed before the server accepts sockets, so a client never misses events published after it connected.
        ChannelMessageQueue? queue = null;
        try
        {
            queue = await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(HubChannels.Events)).WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogSubscribeFailed(ex);
        }
        _loop = RunAsync(queue, _stopping.Token);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _loop.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task RunAsync(ChannelMessageQueue? queue, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                queue ??= await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(HubChannels.Events));
                var message = await queue.ReadAsync(stopping);
                Dispatch(message.Message.ToString());
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is RedisException or ChannelClosedException)
            {
                LogSubscribeFailed(ex);
                queue = null;
                await Task.Delay(TimeSpan.FromSeconds(2), stopping).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
        if (queue is not null)
        {
            await queue.UnsubscribeAsync().ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>Routes one raw event to every connection whose subscriptions and tenancy match.</summary>
    internal void Dispatch(string json)
    {
        if (FeedEvent.TryParse(json) is not { } feedEvent)
        {
            LogUnroutable(json.Length);
            return;
        }
        foreach (var connection in Volatile.Read(ref _connections))
        {
            connection.Offer(feedEvent);
        }
    }

    public void Dispose() => _stopping.Dispose();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event feed: Redis subscription failed; retrying")]
    private partial void LogSubscribeFailed(Exception ex);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event feed: dropped a message of {Length} characters without type or data.workspace_id")]
    private partial void LogUnroutable(int length);
}
