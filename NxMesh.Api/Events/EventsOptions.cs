namespace NxMesh.Api.Events;

/// <summary>The event feed's limits and timers (section "Events").</summary>
public sealed class EventsOptions
{
    public const string SectionName = "Events";

    /// <summary>Messages queued per connection; a client that lets the queue fill is closed with 4008.</summary>
    public int SendQueueCapacity { get; set; } = 256;
    /// <summary>WebSocket PING interval, so idle connections stay open through proxies.</summary>
    public double KeepAliveIntervalSeconds { get; set; } = 20;
    /// <summary>A client that does not answer a PING within this long is dropped.</summary>
    public double KeepAliveTimeoutSeconds { get; set; } = 30;
    /// <summary>How long a closing handshake (or a blocked send after a close) may take before the socket is aborted.</summary>
    public double CloseTimeoutSeconds { get; set; } = 5;
    /// <summary>How often a connection re-reads the workspaces its user can read (membership changes).</summary>
    public double AccessRefreshSeconds { get; set; } = 30;
    /// <summary>Largest client message; bigger ones close the socket with 1009.</summary>
    public int MaxMessageBytes { get; set; } = 16 * 1024;
    /// <summary>Most patterns one subscribe may carry.</summary>
    public int MaxPatterns { get; set; } = 50;

    public TimeSpan KeepAliveInterval => TimeSpan.FromSeconds(KeepAliveIntervalSeconds);
    public TimeSpan KeepAliveTimeout => TimeSpan.FromSeconds(KeepAliveTimeoutSeconds);
    public TimeSpan CloseTimeout => TimeSpan.FromSeconds(CloseTimeoutSeconds);
    public TimeSpan AccessRefresh => TimeSpan.FromSeconds(AccessRefreshSeconds);
}

/// <summary>WebSocket close codes the feed uses (documented in the README and the OpenAPI description).</summary>
public static class EventCloseCodes
{
    /// <summary>The client closed, or the server completed the client's close.</summary>
    public const int Normal = 1000;
    /// <summary>The Api instance is shutting down; reconnect (another instance will serve).</summary>
    public const int ServerShutdown = 1001;
    /// <summary>A client message larger than <see cref="EventsOptions.MaxMessageBytes"/>.</summary>
    public const int MessageTooBig = 1009;
    /// <summary>The access token expired during the session; reconnect with a fresh token.</summary>
    public const int TokenExpired = 4001;
    /// <summary>The client did not read fast enough: its send queue filled up.</summary>
    public const int SlowConsumer = 4008;
}
