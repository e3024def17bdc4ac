using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using NxMesh.Api.Platform;
using NxMesh.Nginx.Validation;

namespace NxMesh.Api.Events;

/// <summary>
/// One client socket. The reader loop handles subscribe/unsubscribe; everything sent — events, acknowledgements,
/// errors — goes through one bounded queue drained by the only writer, so a client that does not read fills its
/// own queue and is closed (4008) while the feed moves on.
/// </summary>
public sealed class EventConnection
{
    private readonly WebSocket _socket;
    private readonly EventsOptions _options;
    private readonly string _requestId;
    private readonly Func<CancellationToken, Task<IReadOnlySet<Guid>>> _loadReadable;
    private readonly Channel<ReadOnlyMemory<byte>> _queue;
    // _drop stops sending what is queued; _abort ends the socket (request aborted, or a close that did not finish).
    private readonly CancellationTokenSource _drop = new();
    private readonly CancellationTokenSource _abort;
    private Subscriptions _subscriptions = Subscriptions.None;
    private IReadOnlySet<Guid> _readable;
    private (WebSocketCloseStatus Status, string Reason)? _close;
    private int _closing;

    public EventConnection(WebSocket socket, EventsOptions options, string requestId, IReadOnlySet<Guid> readable,
        Func<CancellationToken, Task<IReadOnlySet<Guid>>> loadReadable, CancellationToken requestAborted)
    {
        _socket = socket;
        _options = options;
        _requestId = requestId;
        _readable = readable;
        _loadReadable = loadReadable;
        _abort = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);
        _queue = Channel.CreateBounded<ReadOnlyMemory<byte>>(new BoundedChannelOptions(options.SendQueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    /// <summary>The close this connection ended with (server- or client-initiated), for logs and tests.</summary>
    public (WebSocketCloseStatus Status, string Reason)? CloseInfo => _close;

    /// <summary>Called by the feed for every event: never blocks.</summary>
    public void Offer(FeedEvent feedEvent)
    {
        if (Volatile.Read(ref _closing) == 0 && Volatile.Read(ref _subscriptions).Matches(feedEvent.Type, feedEvent.WorkspaceId, Volatile.Read(ref _readable)))
        {
            Enqueue(feedEvent.Utf8);
        }
    }

    /// <summary>Starts the closing handshake with <paramref name="code"/>; what is still queued is dropped. Idempotent.</summary>
    public void RequestClose(int code, string reason)
    {
        if (Interlocked.Exchange(ref _closing, 1) == 1)
        {
            return;
        }
        _close = ((WebSocketCloseStatus)code, reason);
        _queue.Writer.TryComplete();
        try
        {
            _drop.Cancel();
            _abort.CancelAfter(_options.CloseTimeout);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public async Task RunAsync()
    {
        var writer = WriteLoopAsync();
        using var refresh = new PeriodicTimer(_options.AccessRefresh);
        var refresher = RefreshLoopAsync(refresh);
        try
        {
            await ReadLoopAsync();
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException or ObjectDisposedException)
        {
            // The peer vanished or a close did not complete in time: a normal end.
        }
        finally
        {
            RequestClose(EventCloseCodes.Normal, "");
            refresh.Dispose();
            await writer;
            await refresher;
            if (_socket.State != WebSocketState.Closed)
            {
                _socket.Abort();
            }
            _abort.Dispose();
            _drop.Dispose();
        }
    }

    private void Enqueue(ReadOnlyMemory<byte> message)
    {
        if (!_queue.Writer.TryWrite(message) && Volatile.Read(ref _closing) == 0)
        {
            RequestClose(EventCloseCodes.SlowConsumer, "slow_consumer");
        }
    }

    private async Task WriteLoopAsync()
    {
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(_drop.Token))
            {
                while (!_drop.IsCancellationRequested && reader.TryRead(out var message))
                {
                    await _socket.SendAsync(message, WebSocketMessageType.Text, endOfMessage: true, _abort.Token);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException or ObjectDisposedException)
        {
        }
        if (_close is { } close && _socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            try
            {
                await _socket.CloseOutputAsync(close.Status, close.Reason, _abort.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException or ObjectDisposedException)
            {
            }
        }
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[_options.MaxMessageBytes];
        while (true)
        {
            var count = 0;
            ValueWebSocketReceiveResult result;
            do
            {
                if (count == buffer.Length)
                {
                    RequestClose(EventCloseCodes.MessageTooBig, "message_too_big");
                    // Discard the rest of the message; the client's close answer ends the loop.
                    count = 0;
                }
                result = await _socket.ReceiveAsync(buffer.AsMemory(count), _abort.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    RequestClose((int)(_socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure), "");
                    return;
                }
                count += result.Count;
            }
            while (!result.EndOfMessage);
            if (Volatile.Read(ref _closing) == 1)
            {
                continue;
            }
            if (result.MessageType == WebSocketMessageType.Binary)
            {
                SendError(ErrorCodes.ValidationError, "Messages are JSON text frames", "message", ValidationCodes.InvalidFormat);
                continue;
            }
            await HandleAsync(buffer.AsMemory(0, count));
        }
    }

    private async Task HandleAsync(ReadOnlyMemory<byte> text)
    {
        ClientMessage message;
        try
        {
            message = ClientMessage.Parse(text.Span, _options.MaxPatterns);
        }
        catch (JsonException)
        {
            SendError(ErrorCodes.ValidationError, "Malformed JSON", "message", ValidationCodes.InvalidFormat);
            return;
        }
        catch (ClientMessageException ex)
        {
            SendError(ErrorCodes.ValidationError, ex.Message, ex.Field, ex.Code);
            return;
        }
        if (message.WorkspaceId is { } workspaceId)
        {
            // Re-read on every filtered subscribe, so a workspace created (or a membership granted) a moment ago counts.
            var readable = await _loadReadable(_abort.Token);
            Volatile.Write(ref _readable, readable);
            if (!readable.Contains(workspaceId))
            {
                // As in REST: a workspace the user cannot read is indistinguishable from one that does not exist.
                SendError(ErrorCodes.NotFound, "Workspace not found", "filter.workspace_id", ValidationCodes.NotFound);
                return;
            }
        }
        var before = _subscriptions;
        string[] events;
        string type;
        if (message.Action == ClientMessage.Subscribe)
        {
            Volatile.Write(ref _subscriptions, before.Subscribe(message.Events!, message.WorkspaceId));
            (events, type) = ([.. message.Events!], "subscribed");
        }
        else
        {
            var after = before.Unsubscribe(message.Events, message.WorkspaceId);
            Volatile.Write(ref _subscriptions, after);
            (events, type) = ([.. before.Items.Except(after.Items).Select(s => s.Pattern).Distinct().Order(StringComparer.Ordinal)], "unsubscribed");
        }
        var filter = new JsonObject();
        if (message.WorkspaceId is { } id)
        {
            filter["workspace_id"] = id.ToString("D");
        }
        Send(new JsonObject
        {
            ["type"] = type,
            ["data"] = new JsonObject { ["events"] = new JsonArray([.. events.Select(e => (JsonNode)e)]), ["filter"] = filter },
        });
    }

    private async Task RefreshLoopAsync(PeriodicTimer timer)
    {
        try
        {
            while (await timer.WaitForNextTickAsync(_abort.Token))
            {
                Volatile.Write(ref _readable, await _loadReadable(_abort.Token));
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private void SendError(string code, string message, string field, string detailCode) => Send(new JsonObject
    {
        ["type"] = "error",
        ["error"] = new JsonObject
        {
            ["code"] = code,
            ["message"] = message,
            ["request_id"] = _requestId,
            ["details"] = new JsonArray(new JsonObject { ["field"] = field, ["message"] = message, ["code"] = detailCode }),
        },
    });

    private void Send(JsonObject message) => Enqueue(JsonSerializer.SerializeToUtf8Bytes(message));
}

/// <summary>A client message: <c>{"action": "subscribe"|"unsubscribe", "events": [...], "filter": {"workspace_id": ...}}</c>.</summary>
internal sealed record ClientMessage(string Action, IReadOnlyCollection<string>? Events, Guid? WorkspaceId)
{
    public const string Subscribe = "subscribe";
    public const string Unsubscribe = "unsubscribe";

    public static ClientMessage Parse(ReadOnlySpan<byte> utf8, int maxPatterns)
    {
        using var document = JsonDocument.Parse(utf8.ToArray());
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new ClientMessageException("message", "A message is a JSON object", ValidationCodes.InvalidFormat);
        }
        if (!root.TryGetProperty("action", out var actionElement) || actionElement.ValueKind != JsonValueKind.String)
        {
            throw new ClientMessageException("action", "action is required: subscribe or unsubscribe", ValidationCodes.Required);
        }
        var action = actionElement.GetString()!;
        if (action is not (Subscribe or Unsubscribe))
        {
            throw new ClientMessageException("action", $"Unknown action '{Truncate(action)}': use subscribe or unsubscribe", ValidationCodes.InvalidFormat);
        }
        List<string>? events = null;
        if (root.TryGetProperty("events", out var eventsElement) && eventsElement.ValueKind != JsonValueKind.Null)
        {
            if (eventsElement.ValueKind != JsonValueKind.Array)
            {
                throw new ClientMessageException("events", "events is an array of event type patterns", ValidationCodes.InvalidFormat);
            }
            events = [];
            var index = 0;
            foreach (var item in eventsElement.EnumerateArray())
            {
                var pattern = item.ValueKind == JsonValueKind.String ? item.GetString() : null;
                if (!EventPattern.IsValid(pattern))
                {
                    throw new ClientMessageException($"events[{index}]",
                        $"A pattern is 1–{EventPattern.MaxLength} characters of a-z, 0-9, '.', '_', '-' and '*' (e.g. agent.*)", ValidationCodes.InvalidFormat);
                }
                events.Add(pattern!);
                index++;
            }
            if (events.Count > maxPatterns)
            {
                throw new ClientMessageException("events", $"At most {maxPatterns} patterns per message", ValidationCodes.OutOfRange);
            }
        }
        if (action == Subscribe && events is not { Count: > 0 })
        {
            throw new ClientMessageException("events", "subscribe needs at least one event type pattern", ValidationCodes.Required);
        }
        Guid? workspaceId = null;
        if (root.TryGetProperty("filter", out var filter) && filter.ValueKind != JsonValueKind.Null)
        {
            if (filter.ValueKind != JsonValueKind.Object)
            {
                throw new ClientMessageException("filter", "filter is an object: {\"workspace_id\": \"…\"}", ValidationCodes.InvalidFormat);
            }
            foreach (var property in filter.EnumerateObject())
            {
                if (property.Name != "workspace_id")
                {
                    throw new ClientMessageException($"filter.{Truncate(property.Name)}", "Unknown filter: only workspace_id is supported", ValidationCodes.NotAllowed);
                }
                if (property.Value.ValueKind == JsonValueKind.Null)
                {
                    continue;
                }
                if (property.Value.ValueKind != JsonValueKind.String || !Guid.TryParse(property.Value.GetString(), out var id))
                {
                    throw new ClientMessageException("filter.workspace_id", "workspace_id is a UUID", ValidationCodes.InvalidFormat);
                }
                workspaceId = id;
            }
        }
        return new ClientMessage(action, events, workspaceId);
    }

    private static string Truncate(string value) => value.Length <= 40 ? value : value[..40] + "…";
}

internal sealed class ClientMessageException(string field, string message, string code) : Exception(message)
{
    public string Field { get; } = field;
    public string Code { get; } = code;
}
