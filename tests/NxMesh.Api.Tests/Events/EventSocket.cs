using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace NxMesh.Api.Tests.Events;

/// <summary>A test client of /v1/events over a real TCP socket; every receive is bounded.</summary>
public sealed class EventSocket : IAsyncDisposable
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);
    private readonly ClientWebSocket _socket;

    private EventSocket(ClientWebSocket socket) => _socket = socket;

    public WebSocket Socket => _socket;

    public static async Task<EventSocket> ConnectAsync(Uri server, string token, bool viaHeader = false)
    {
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        var uri = new UriBuilder(server) { Scheme = "ws", Path = "/v1/events" };
        if (viaHeader)
        {
            socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
        }
        else
        {
            uri.Query = "token=" + Uri.EscapeDataString(token);
        }
        using var timeout = new CancellationTokenSource(DefaultTimeout);
        await socket.ConnectAsync(uri.Uri, timeout.Token);
        return new EventSocket(socket);
    }

    public async Task SendAsync(string text)
    {
        using var timeout = new CancellationTokenSource(DefaultTimeout);
        await _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, timeout.Token);
    }

    public Task SendAsync(object message) => SendAsync(JsonSerializer.Serialize(message));

    /// <summary>Subscribes and checks the acknowledgement.</summary>
    public async Task SubscribeAsync(string[] events, Guid? workspaceId = null)
    {
        await SendAsync(new { action = "subscribe", events, filter = workspaceId is { } id ? new { workspace_id = id } : null });
        var ack = await ReceiveAsync();
        Assert.Equal("subscribed", ack.GetProperty("type").GetString());
        Assert.Equal(events, ack.GetProperty("data").GetProperty("events").EnumerateArray().Select(e => e.GetString()!).ToArray());
    }

    /// <summary>One frame (message or close). The pending read survives a timeout: cancelling a receive would abort the socket.</summary>
    public sealed record Frame(WebSocketMessageType Type, byte[] Payload, int? CloseCode, string? CloseReason);

    private Task<Frame>? _pending;

    public async Task<Frame?> NextAsync(TimeSpan timeout)
    {
        _pending ??= ReadFrameAsync();
        try
        {
            var frame = await _pending.WaitAsync(timeout);
            _pending = null;
            if (frame.Type == WebSocketMessageType.Close && _socket.State == WebSocketState.CloseReceived)
            {
                // Complete the handshake, as a well-behaved client does.
                using var cts = new CancellationTokenSource(DefaultTimeout);
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", cts.Token);
            }
            return frame;
        }
        catch (TimeoutException)
        {
            return null;
        }
    }

    private async Task<Frame> ReadFrameAsync()
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await _socket.ReceiveAsync(buffer, CancellationToken.None);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return new Frame(result.MessageType, [], (int?)result.CloseStatus, result.CloseStatusDescription);
            }
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return new Frame(result.MessageType, message.ToArray(), null, null);
            }
        }
    }

    public async Task<JsonElement> ReceiveAsync(TimeSpan? timeout = null)
    {
        var frame = await NextAsync(timeout ?? DefaultTimeout) ?? throw new TimeoutException("no message within the timeout");
        if (frame.Type == WebSocketMessageType.Close)
        {
            throw new InvalidOperationException($"closed by the server: {frame.CloseCode} {frame.CloseReason}");
        }
        return JsonDocument.Parse(frame.Payload).RootElement.Clone();
    }

    /// <summary>Nothing arrives within <paramref name="quiet"/>.</summary>
    public async Task AssertSilentAsync(TimeSpan quiet)
    {
        if (await NextAsync(quiet) is { } frame)
        {
            Assert.Fail($"expected silence, got {frame.Type}: {Encoding.UTF8.GetString(frame.Payload)} {frame.CloseCode}");
        }
    }

    /// <summary>Reads until the server's close frame, counting the messages before it; returns its code and reason.</summary>
    public async Task<(int Code, string? Reason, int Messages)> ReceiveCloseAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var messages = 0;
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            var frame = await NextAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero) ?? throw new TimeoutException("no close frame within the timeout");
            if (frame.Type == WebSocketMessageType.Close)
            {
                return (frame.CloseCode!.Value, frame.CloseReason, messages);
            }
            messages++;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            if (_socket.State == WebSocketState.Open)
            {
                // CloseOutput, not Close: a read may be pending, and Close would start a second one.
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", cts.Token);
            }
            if (_pending is not null)
            {
                await _pending.WaitAsync(TimeSpan.FromSeconds(2));
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or TimeoutException or WebSocketException or InvalidOperationException)
        {
        }
        _socket.Dispose();
    }
}

internal static class KestrelApi
{
    /// <summary>An Api instance on real Kestrel (random loopback port), sharing the fixture's Postgres and Redis.</summary>
    public static (ApiFactory Factory, Uri Address) Start(ApiFixture api, IDictionary<string, string?>? settings = null)
    {
        var factory = api.CreateFactory(settings);
        factory.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        factory.StartServer();
        var address = factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (factory, new Uri(address));
    }
}
