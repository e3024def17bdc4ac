using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using NxMesh.Api.Platform;
using NxMesh.Data;
using NxMesh.Data.Messaging;

namespace NxMesh.Api.Events;

/// <summary>GET /v1/events: the real-time event feed over a WebSocket (spec "WebSocket API", design.md).</summary>
public static class EventsApi
{
    public const string Path = "/v1/events";
    public const string TokenQueryName = "token";

    private const string Description = """
        Upgrades to a WebSocket. Authenticate with `?token=<access token>` (browsers cannot set headers on a WebSocket)
        or `Authorization: Bearer`; a missing, invalid or expired token answers 401 with the error envelope before the
        upgrade. The token is removed from the request before anything after authentication sees it, and the hosting
        request log is capped at Warning because its "Request starting" line would carry the raw query.

        Client messages: `{"action":"subscribe","events":["agent.*","config.applied"],"filter":{"workspace_id":"…"}}`
        and `{"action":"unsubscribe","events":[…],"filter":{…}}` (unsubscribe without `events` removes every pattern;
        without `filter` it applies to filtered and unfiltered subscriptions alike). Patterns are globs over event
        types (`*` matches any characters, dots included). Nothing is delivered before a first subscribe; without a
        filter a subscription covers every workspace the user can read, never any other. Acknowledgements:
        `{"type":"subscribed"|"unsubscribed","data":{"events":[…],"filter":{…}}}`. Bad JSON, an unknown action, a bad
        pattern or a workspace the user cannot read (NOT_FOUND, as in REST) answer
        `{"type":"error","error":{code, message, request_id, details[]}}` and the socket stays open.

        Server messages: `{type, timestamp, data}` with `data.workspace_id` always set — `agent.connected`,
        `agent.disconnected`, `agent.state_changed`, `agent.event`, `config.applied`, `config.drift_detected`,
        `health.alert`, `health.resolved`, `certificate.issued`, `certificate.renewed`, `certificate.failed`.

        Close codes: 1000 normal, 1001 the Api instance is shutting down (reconnect), 1009 client message too large,
        4001 the access token expired (reconnect with a fresh token), 4008 the client did not read fast enough (its
        send queue filled). The server pings idle connections (`Events:KeepAliveIntervalSeconds`).
        """;

    public static RouteGroupBuilder MapEventsApi(this RouteGroupBuilder api)
    {
        api.MapGet("/events", ConnectAsync)
            .WithName("ConnectEvents")
            .WithSummary("Real-time event feed (WebSocket upgrade)")
            .WithDescription(Description)
            .WithTags("Events")
            .Produces(StatusCodes.Status101SwitchingProtocols)
            .ProducesErrors(StatusCodes.Status400BadRequest);
        return api;
    }

    private static async Task ConnectAsync(HttpContext context, EventFeed feed, CurrentUser user, IServiceScopeFactory scopes,
        IOptions<EventsOptions> options, IHostApplicationLifetime lifetime, TimeProvider time)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            throw new ApiException(400, ErrorCodes.ValidationError, "GET /v1/events upgrades to a WebSocket (Connection: Upgrade, Upgrade: websocket)");
        }
        var settings = options.Value;
        var userId = user.Id;
        async Task<IReadOnlySet<Guid>> LoadReadableAsync(CancellationToken cancellationToken)
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<NxMeshDbContext>();
            var ids = await db.Workspaces
                .Where(w => db.Memberships.Any(m => m.OrganizationId == w.OrganizationId && m.UserId == userId))
                .Select(w => w.Id).ToListAsync(cancellationToken);
            return ids.ToHashSet();
        }
        var readable = await LoadReadableAsync(context.RequestAborted);
        var expires = long.TryParse(context.User.FindFirst("exp")?.Value, out var exp) ? DateTimeOffset.FromUnixTimeSeconds(exp) : (DateTimeOffset?)null;

        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            KeepAliveInterval = settings.KeepAliveInterval,
            KeepAliveTimeout = settings.KeepAliveTimeout,
        });
        var connection = new EventConnection(socket, settings, context.TraceIdentifier, readable, LoadReadableAsync, context.RequestAborted);
        using var stopping = lifetime.ApplicationStopping.Register(() => connection.RequestClose(EventCloseCodes.ServerShutdown, "server_shutdown"));
        using var expiry = expires is { } at
            ? time.CreateTimer(_ => connection.RequestClose(EventCloseCodes.TokenExpired, "token_expired"), null,
                Clamp(at - time.GetUtcNow()), Timeout.InfiniteTimeSpan)
            : null;
        feed.Add(connection);
        try
        {
            await connection.RunAsync();
        }
        finally
        {
            feed.Remove(connection);
        }
    }

    private static TimeSpan Clamp(TimeSpan due) =>
        due < TimeSpan.Zero ? TimeSpan.Zero : due > TimeSpan.FromDays(24) ? TimeSpan.FromDays(24) : due;

    /// <summary>
    /// The feed: one Redis subscription per instance, <c>?token=</c> accepted on <see cref="Path"/> (moved into the
    /// Authorization header and removed from the query string before the JWT handler and everything after it).
    /// </summary>
    public static void AddEvents(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<EventsOptions>().Bind(builder.Configuration.GetSection(EventsOptions.SectionName));
        builder.Services.AddSingleton<EventFeed>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<EventFeed>());
        builder.Services.AddSingleton<FleetEventPublisher>();
        // "Request starting GET …/v1/events?token=…" is logged before any middleware can redact it.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);
        builder.Services.PostConfigure<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme, jwt =>
        {
            jwt.Events ??= new JwtBearerEvents();
            var inner = jwt.Events.OnMessageReceived;
            jwt.Events.OnMessageReceived = context =>
            {
                MoveQueryToken(context.Request);
                return inner(context);
            };
        });
    }

    internal static void MoveQueryToken(HttpRequest request)
    {
        if (!request.Path.Equals(Path, StringComparison.Ordinal) || !request.Query.ContainsKey(TokenQueryName))
        {
            return;
        }
        var token = request.Query[TokenQueryName].ToString();
        if (token.Length > 0 && request.Headers.Authorization.Count == 0)
        {
            request.Headers.Authorization = "Bearer " + token;
        }
        request.QueryString = QueryString.Create(request.Query
            .Where(p => !string.Equals(p.Key, TokenQueryName, StringComparison.Ordinal))
            .SelectMany(p => p.Value.Select(v => new KeyValuePair<string, string?>(p.Key, v))));
    }
}
