using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NxMesh.Api.Events;
using NxMesh.Data.Messaging;
using NxMesh.Testing;
using StackExchange.Redis;
using Xunit;

namespace NxMesh.Api.Tests.Events;

/// <summary>
/// GET /v1/events on real Kestrel (two Api instances on one Postgres and one Redis): authentication before the
/// upgrade, cross-instance fan-out, acknowledgements and errors, tenant isolation, slow clients, token expiry.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class EventFeedTests(ApiFixture api) : IAsyncLifetime
{
    /// <summary>Every event type the feed carries (spec + design.md + the certificate helper's).</summary>
    public static readonly string[] EventTypes =
    [
        "agent.connected", "agent.disconnected", "agent.state_changed", "agent.event", "config.applied", "config.drift_detected",
        "health.alert", "health.resolved", "certificate.issued", "certificate.renewed", "certificate.failed",
    ];

    private readonly List<IAsyncDisposable> _disposables = [];

    public Task InitializeAsync() => api.ResetAsync();

    public async Task DisposeAsync()
    {
        foreach (var disposable in Enumerable.Reverse(_disposables))
        {
            await disposable.DisposeAsync();
        }
    }

    private Uri StartInstance(IDictionary<string, string?>? settings = null) => StartInstance(out _, settings);

    private Uri StartInstance(out ApiFactory factory, IDictionary<string, string?>? settings = null)
    {
        (factory, var address) = KestrelApi.Start(api, settings);
        _disposables.Add(factory);
        return address;
    }

    private async Task<EventSocket> ConnectAsync(Uri server, HttpClient user, bool viaHeader = false)
    {
        var socket = await EventSocket.ConnectAsync(server, Token(user), viaHeader);
        _disposables.Add(socket);
        return socket;
    }

    private static string Token(HttpClient client) => client.DefaultRequestHeaders.Authorization!.Parameter!;

    private async Task<FleetEventPublisher> HubPublisherAsync()
    {
        // The publisher AgentHub and Worker use, on a connection of its own (as another service would have).
        var redis = await ConnectionMultiplexer.ConnectAsync(api.Database.RedisConnectionString);
        _disposables.Add(redis);
        return new FleetEventPublisher(redis);
    }

    private static JsonObject Data(int seq, string? padding = null) => padding is null
        ? new JsonObject { ["agent_id"] = Guid.NewGuid().ToString("D"), ["seq"] = seq }
        : new JsonObject { ["agent_id"] = Guid.NewGuid().ToString("D"), ["seq"] = seq, ["padding"] = padding };

    private static HttpRequestMessage Upgrade(string uri, string? bearer = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.Add("Connection", "Upgrade");
        request.Headers.Add("Upgrade", "websocket");
        request.Headers.Add("Sec-WebSocket-Version", "13");
        request.Headers.Add("Sec-WebSocket-Key", Convert.ToBase64String(Guid.NewGuid().ToByteArray()));
        if (bearer is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        }
        return request;
    }

    [Fact]
    public async Task Missing_or_invalid_tokens_answer_401_with_the_envelope_before_the_upgrade()
    {
        var address = StartInstance();
        using var http = new HttpClient { BaseAddress = address };
        var (_, owner) = await api.NewUserAsync("owner@example.com");
        var foreignKey = new Microsoft.IdentityModel.Tokens.RsaSecurityKey(System.Security.Cryptography.RSA.Create(2048)) { KeyId = "not-ours" };
        var forged = new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().CreateToken(new Microsoft.IdentityModel.Tokens.SecurityTokenDescriptor
        {
            Issuer = "nxmesh",
            Claims = new Dictionary<string, object> { ["sub"] = Guid.NewGuid().ToString() },
            Expires = DateTime.UtcNow.AddMinutes(5),
            SigningCredentials = new Microsoft.IdentityModel.Tokens.SigningCredentials(foreignKey, "RS256"),
        });
        foreach (var request in new[]
        {
            Upgrade("/v1/events"),
            Upgrade("/v1/events?token=garbage"),
            Upgrade("/v1/events?token=" + forged),
            Upgrade("/v1/events", bearer: forged),
        })
        {
            using var response = await http.SendAsync(request);
            await response.ErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        }
        // The client side of the same: the upgrade is refused with 401.
        var client = new ClientWebSocket();
        client.Options.CollectHttpResponseDetails = true;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await Assert.ThrowsAsync<WebSocketException>(() => client.ConnectAsync(new Uri($"ws://{address.Authority}/v1/events?token=garbage"), timeout.Token));
        Assert.Equal(HttpStatusCode.Unauthorized, client.HttpStatusCode);
        // A valid token without the upgrade headers: an ordinary request, answered with the envelope.
        using var plain = new HttpRequestMessage(HttpMethod.Get, "/v1/events?token=" + Token(owner));
        await (await http.SendAsync(plain)).ErrorAsync(HttpStatusCode.BadRequest, "VALIDATION_ERROR");
    }

    [Fact]
    public async Task A_client_on_one_instance_receives_events_published_by_another_instance_and_by_the_hub_publisher()
    {
        var a = StartInstance();
        var b = StartInstance(out var factoryB);
        var tenant = await Tenants.CreateAsync(api, "acme");
        var onA = await ConnectAsync(a, tenant.Owner);
        var onB = await ConnectAsync(b, tenant.Owner, viaHeader: true);
        await onA.SubscribeAsync(["*"]);
        await onB.SubscribeAsync(["agent.*"]);

        await factoryB.Services.GetRequiredService<FleetEventPublisher>().PublishAsync("agent.connected", tenant.WorkspaceId,
            new JsonObject { ["agent_id"] = "770e8400-e29b-41d4-a716-446655440002", ["hostname"] = "web-01.internal", ["ip_address"] = "10.0.1.10" });
        await (await HubPublisherAsync()).PublishAsync("config.applied", tenant.WorkspaceId, Data(2));

        var first = await onA.ReceiveAsync();
        Assert.Equal("agent.connected", first.GetProperty("type").GetString());
        Assert.Equal(["type", "timestamp", "data"], first.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.True(DateTimeOffset.TryParse(first.GetProperty("timestamp").GetString(), out _));
        var data = first.GetProperty("data");
        Assert.Equal("web-01.internal", data.GetProperty("hostname").GetString());
        Assert.Equal(tenant.WorkspaceId, data.GetProperty("workspace_id").GetGuid());
        Assert.Equal("config.applied", (await onA.ReceiveAsync()).GetProperty("type").GetString());

        Assert.Equal("agent.connected", (await onB.ReceiveAsync()).GetProperty("type").GetString());
        await onB.AssertSilentAsync(TimeSpan.FromMilliseconds(500));
    }

    [Fact]
    public async Task Every_message_is_acknowledged_errors_keep_the_socket_open_and_nothing_arrives_before_a_subscribe()
    {
        var address = StartInstance();
        var tenant = await Tenants.CreateAsync(api, "acme");
        var other = await Tenants.CreateAsync(api, "other");
        var socket = await ConnectAsync(address, tenant.Owner);
        var publisher = await HubPublisherAsync();

        await publisher.PublishAsync("agent.connected", tenant.WorkspaceId, Data(0));
        await socket.AssertSilentAsync(TimeSpan.FromMilliseconds(500));

        async Task ExpectErrorAsync(string message, string code, string field)
        {
            await socket.SendAsync(message);
            var reply = await socket.ReceiveAsync();
            Assert.Equal("error", reply.GetProperty("type").GetString());
            var error = reply.GetProperty("error");
            Assert.Equal(code, error.GetProperty("code").GetString());
            Assert.StartsWith("req_", error.GetProperty("request_id").GetString());
            Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
            Assert.Contains(error.GetProperty("details").EnumerateArray(), d => d.GetProperty("field").GetString() == field);
        }
        await ExpectErrorAsync("{not json", "VALIDATION_ERROR", "message");
        await ExpectErrorAsync("[1,2]", "VALIDATION_ERROR", "message");
        await ExpectErrorAsync("""{"action":"publish","events":["*"]}""", "VALIDATION_ERROR", "action");
        await ExpectErrorAsync("""{"events":["*"]}""", "VALIDATION_ERROR", "action");
        await ExpectErrorAsync("""{"action":"subscribe"}""", "VALIDATION_ERROR", "events");
        await ExpectErrorAsync("""{"action":"subscribe","events":["agent.*","Bad Pattern"]}""", "VALIDATION_ERROR", "events[1]");
        await ExpectErrorAsync("""{"action":"subscribe","events":["*"],"filter":{"workspace_id":"nope"}}""", "VALIDATION_ERROR", "filter.workspace_id");
        await ExpectErrorAsync("""{"action":"subscribe","events":["*"],"filter":{"organization_id":"x"}}""", "VALIDATION_ERROR", "filter.organization_id");
        await ExpectErrorAsync($$$"""{"action":"subscribe","events":["*"],"filter":{"workspace_id":"{{{other.WorkspaceId}}}"}}""", "NOT_FOUND", "filter.workspace_id");
        await ExpectErrorAsync($$$"""{"action":"subscribe","events":["*"],"filter":{"workspace_id":"{{{Guid.NewGuid()}}}"}}""", "NOT_FOUND", "filter.workspace_id");
        Assert.Equal(WebSocketState.Open, socket.Socket.State);

        // Still nothing delivered: every attempt above was refused.
        await publisher.PublishAsync("agent.connected", tenant.WorkspaceId, Data(1));
        await socket.AssertSilentAsync(TimeSpan.FromMilliseconds(500));

        await socket.SubscribeAsync(["agent.*", "health.alert"], tenant.WorkspaceId);
        await socket.SendAsync(new { action = "subscribe", events = new[] { "config.*" }, filter = new { workspace_id = tenant.WorkspaceId } });
        var ack = await socket.ReceiveAsync();
        Assert.Equal(tenant.WorkspaceId, ack.GetProperty("data").GetProperty("filter").GetProperty("workspace_id").GetGuid());

        await publisher.PublishAsync("agent.disconnected", tenant.WorkspaceId, Data(2));
        await publisher.PublishAsync("health.resolved", tenant.WorkspaceId, Data(3));
        await publisher.PublishAsync("config.applied", tenant.WorkspaceId, Data(4));
        Assert.Equal(2, (await socket.ReceiveAsync()).GetProperty("data").GetProperty("seq").GetInt32());
        Assert.Equal(4, (await socket.ReceiveAsync()).GetProperty("data").GetProperty("seq").GetInt32());

        await socket.SendAsync(new { action = "unsubscribe", events = new[] { "agent.*" } });
        var unsubscribed = await socket.ReceiveAsync();
        Assert.Equal("unsubscribed", unsubscribed.GetProperty("type").GetString());
        Assert.Equal(["agent.*"], unsubscribed.GetProperty("data").GetProperty("events").EnumerateArray().Select(e => e.GetString()!).ToArray());
        await publisher.PublishAsync("agent.connected", tenant.WorkspaceId, Data(5));
        await publisher.PublishAsync("health.alert", tenant.WorkspaceId, Data(6));
        Assert.Equal(6, (await socket.ReceiveAsync()).GetProperty("data").GetProperty("seq").GetInt32());

        await socket.SendAsync("""{"action":"unsubscribe"}""");
        var all = await socket.ReceiveAsync();
        Assert.Equal(["config.*", "health.alert"], all.GetProperty("data").GetProperty("events").EnumerateArray().Select(e => e.GetString()!).ToArray());
        await publisher.PublishAsync("health.alert", tenant.WorkspaceId, Data(7));
        await socket.AssertSilentAsync(TimeSpan.FromMilliseconds(500));
    }

    [Fact]
    public async Task Events_of_other_tenants_are_never_delivered_whatever_the_type()
    {
        var a = StartInstance();
        var b = StartInstance();
        var alpha = await Tenants.CreateAsync(api, "alpha");
        var bravo = await Tenants.CreateAsync(api, "bravo");
        // A second workspace of alpha's organization: readable by alpha's owner, so it arrives unfiltered.
        var second = await (await alpha.Owner.PostAsJsonAsync($"/v1/organizations/{alpha.OrganizationId}/workspaces", new { name = "Staging", slug = "staging" }))
            .JsonAsync(HttpStatusCode.Created);
        var alphaViewer = await Tenants.MemberAsync(api, alpha, "viewer");
        var sockets = new[]
        {
            await ConnectAsync(a, alpha.Owner),
            await ConnectAsync(b, alphaViewer),
        };
        foreach (var socket in sockets)
        {
            await socket.SubscribeAsync(["*"]);
        }
        var bravoSocket = await ConnectAsync(b, bravo.Owner);
        await bravoSocket.SendAsync(new { action = "subscribe", events = new[] { "*" }, filter = new { workspace_id = alpha.WorkspaceId } });
        Assert.Equal("NOT_FOUND", (await bravoSocket.ReceiveAsync()).GetProperty("error").GetProperty("code").GetString());
        await bravoSocket.SubscribeAsync(["*"]);

        var publisher = await HubPublisherAsync();
        var seq = 0;
        var expectedAlpha = new List<(string, int)>();
        var expectedBravo = new List<(string, int)>();
        foreach (var type in EventTypes)
        {
            // Interleaved: a foreign event is published before every event the subscriber may see.
            await publisher.PublishAsync(type, bravo.WorkspaceId, Data(++seq));
            expectedBravo.Add((type, seq));
            await publisher.PublishAsync(type, alpha.WorkspaceId, Data(++seq));
            expectedAlpha.Add((type, seq));
            await publisher.PublishAsync(type, second.Id(), Data(++seq));
            expectedAlpha.Add((type, seq));
        }
        // An event without a workspace reaches nobody.
        await api.Factory.Services.GetRequiredService<IConnectionMultiplexer>().GetSubscriber()
            .PublishAsync(RedisChannel.Literal(HubChannels.Events), """{"type":"agent.connected","timestamp":"2026-01-01T00:00:00Z","data":{"agent_id":"x"}}""");
        await publisher.PublishAsync("agent.connected", alpha.WorkspaceId, Data(++seq));
        expectedAlpha.Add(("agent.connected", seq));

        foreach (var socket in sockets)
        {
            var received = new List<(string, int)>();
            foreach (var _ in expectedAlpha)
            {
                var message = await socket.ReceiveAsync();
                received.Add((message.GetProperty("type").GetString()!, message.GetProperty("data").GetProperty("seq").GetInt32()));
            }
            Assert.Equal(expectedAlpha, received);
            await socket.AssertSilentAsync(TimeSpan.FromMilliseconds(300));
        }
        var bravoReceived = new List<(string, int)>();
        foreach (var _ in expectedBravo)
        {
            var message = await bravoSocket.ReceiveAsync();
            Assert.Equal(bravo.WorkspaceId, message.GetProperty("data").GetProperty("workspace_id").GetGuid());
            bravoReceived.Add((message.GetProperty("type").GetString()!, message.GetProperty("data").GetProperty("seq").GetInt32()));
        }
        Assert.Equal(expectedBravo, bravoReceived);
        await bravoSocket.AssertSilentAsync(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task A_slow_client_is_closed_with_4008_while_a_fast_client_receives_everything_in_order()
    {
        var address = StartInstance(out var factory, new Dictionary<string, string?>
        {
            ["Events:SendQueueCapacity"] = "64",
            // Long enough for the slow client to drain its socket and then read the close frame.
            ["Events:CloseTimeoutSeconds"] = "60",
        });
        var tenant = await Tenants.CreateAsync(api, "acme");
        var slow = await ConnectAsync(address, tenant.Owner);
        var fast = await ConnectAsync(address, tenant.Owner);
        await slow.SubscribeAsync(["*"]);
        await fast.SubscribeAsync(["*"]);

        // 2000 × 8 KiB = 16 MiB: more than the loopback socket buffers of the client that does not read.
        const int count = 2000;
        var padding = new string('x', 8 * 1024);
        var publisher = await HubPublisherAsync();
        // Published in batches of 50 that the fast client reads before the next batch: it keeps up, the slow one never reads.
        for (var batch = 0; batch < count; batch += 50)
        {
            for (var i = batch; i < batch + 50; i++)
            {
                await publisher.PublishAsync("agent.event", tenant.WorkspaceId, Data(i, padding));
            }
            for (var i = batch; i < batch + 50; i++)
            {
                Assert.Equal(i, (await fast.ReceiveAsync()).GetProperty("data").GetProperty("seq").GetInt32());
            }
        }

        var (code, reason, received) = await slow.ReceiveCloseAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(EventCloseCodes.SlowConsumer, code);
        Assert.Equal("slow_consumer", reason);
        Assert.InRange(received, 1, count - 1);
        await Wait.UntilAsync(() => Task.FromResult(factory.Services.GetRequiredService<EventFeed>().ConnectionCount == 1), TimeSpan.FromSeconds(10), "slow connection removed");
        // The fast client is untouched.
        await publisher.PublishAsync("agent.connected", tenant.WorkspaceId, Data(count));
        Assert.Equal(count, (await fast.ReceiveAsync()).GetProperty("data").GetProperty("seq").GetInt32());
    }

    [Fact]
    public async Task The_socket_closes_with_4001_when_the_access_token_expires()
    {
        var address = StartInstance(out var factory, new Dictionary<string, string?> { ["Auth:AccessTokenLifetimeSeconds"] = "3" });
        await api.CreateUserAsync("short@example.com");
        var user = await ApiFixture.LoginAsync(factory, "short@example.com");
        var socket = await ConnectAsync(address, user);
        await socket.SubscribeAsync(["*"]);
        var started = Stopwatch.StartNew();
        var (code, reason, _) = await socket.ReceiveCloseAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(EventCloseCodes.TokenExpired, code);
        Assert.Equal("token_expired", reason);
        Assert.InRange(started.Elapsed, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task The_query_token_reaches_neither_logs_nor_traces()
    {
        var logs = new CapturingLoggerProvider();
        var tags = new ConcurrentQueue<string>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                tags.Enqueue(activity.DisplayName);
                foreach (var tag in activity.TagObjects)
                {
                    tags.Enqueue($"{tag.Key}={tag.Value}");
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        await using var factory = api.CreateFactory().WithWebHostBuilder(b => b.ConfigureLogging(l => l.SetMinimumLevel(LogLevel.Trace).AddProvider(logs)));
        var (_, owner) = await api.NewUserAsync("owner@example.com");
        var token = Token(owner);
        var client = factory.Server.CreateWebSocketClient();
        using (var socket = await client.ConnectAsync(new Uri(factory.Server.BaseAddress, "/v1/events?token=" + token + "&x=1"), CancellationToken.None))
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await socket.SendAsync("""{"action":"subscribe","events":["*"]}"""u8.ToArray(), WebSocketMessageType.Text, true, timeout.Token);
            var buffer = new byte[4096];
            var ack = await socket.ReceiveAsync(buffer, timeout.Token);
            Assert.Contains("subscribed", System.Text.Encoding.UTF8.GetString(buffer, 0, ack.Count));
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token);
        }
        await Wait.UntilAsync(() => Task.FromResult(tags.Any(t => t.Contains("/v1/events", StringComparison.Ordinal))), TimeSpan.FromSeconds(10), "the request's activity stopped");
        Assert.NotEmpty(logs.Messages);
        Assert.DoesNotContain(logs.Messages, m => m.Contains(token, StringComparison.Ordinal));
        Assert.DoesNotContain(tags, t => t.Contains(token, StringComparison.Ordinal));
    }

    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        public ConcurrentQueue<string> Messages { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturingLoggerProvider provider, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull
            {
                provider.Messages.Enqueue($"{category} scope {state}");
                return null;
            }

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var values = state is IEnumerable<KeyValuePair<string, object?>> pairs ? string.Join(";", pairs.Select(p => $"{p.Key}={p.Value}")) : "";
                provider.Messages.Enqueue($"{category} {formatter(state, exception)} {values} {exception}");
            }
        }
    }
}
