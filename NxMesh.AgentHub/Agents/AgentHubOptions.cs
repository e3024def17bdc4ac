namespace NxMesh.AgentHub.Agents;

/// <summary>Every timer of the fleet path (section "AgentHub"), so tests wait seconds, not minutes.</summary>
public sealed class AgentHubOptions
{
    public const string Section = "AgentHub";

    /// <summary>Returned to agents at registration; the Worker's offline threshold is 3 × this.</summary>
    public int HeartbeatIntervalSeconds { get; set; } = 30;
    /// <summary>How long a new stream may take to send its registration.</summary>
    public double RegistrationTimeoutSeconds { get; set; } = 30;
    /// <summary>Messages queued per stream; an agent that lets it fill is not reading and is disconnected.</summary>
    public int SendQueueCapacity { get; set; } = 64;
    /// <summary>The first workspace change after a quiet period recomputes at once; changes within this window after a run started are coalesced into one trailing recompute.</summary>
    public int DebounceMilliseconds { get; set; } = 100;
    /// <summary>Minimum time between re-pushes of the same config to an agent reporting another checksum.</summary>
    public double RepushIntervalSeconds { get; set; } = 30;
    /// <summary>An apply with no terminal status after this long no longer blocks re-pushes.</summary>
    public double ApplyTimeoutSeconds { get; set; } = 120;
    /// <summary>How often every workspace with agents connected is recomputed even if nothing was announced (heals lost notifications).</summary>
    public double DesiredRefreshSeconds { get; set; } = 10;
    /// <summary>An applied config_id different from the desired one for longer than this makes the agent degraded.</summary>
    public double DriftGraceSeconds { get; set; } = 60;
    /// <summary>How often the outbox is polled for committed changes (the first leg of propagation latency).</summary>
    public int OutboxPollMilliseconds { get; set; } = 50;
    public int OutboxBatchSize { get; set; } = 100;
    /// <summary>Kestrel HTTP/2 keepalive: ping an idle connection after this long, drop it if unanswered.</summary>
    public double KeepAlivePingDelaySeconds { get; set; } = 15;
    public double KeepAlivePingTimeoutSeconds { get; set; } = 20;
    /// <summary>Health reports are persisted in batches at most this far apart (one statement per batch).</summary>
    public int HealthFlushMilliseconds { get; set; } = 1000;
    /// <summary>Streams doing their set-up database work (authenticate, enroll, connect) at the same time; the rest wait in memory.</summary>
    public int ConnectConcurrency { get; set; } = 32;
    /// <summary>Connections accepted and ConfigStatus messages arriving within this window are each written with one statement.</summary>
    public int BatchWindowMilliseconds { get; set; } = 50;
    /// <summary>Health reports (and config statuses) per statement.</summary>
    public int HealthBatchSize { get; set; } = 5000;
    /// <summary>How old a workspace's alert snapshot (rules, open alerts, 5xx rates) may get; the alert sweep runs this often.</summary>
    public double AlertRefreshSeconds { get; set; } = 2;

    public TimeSpan RegistrationTimeout => TimeSpan.FromSeconds(RegistrationTimeoutSeconds);
    public TimeSpan Debounce => TimeSpan.FromMilliseconds(DebounceMilliseconds);
    public TimeSpan RepushInterval => TimeSpan.FromSeconds(RepushIntervalSeconds);
    public TimeSpan ApplyTimeout => TimeSpan.FromSeconds(ApplyTimeoutSeconds);
    public TimeSpan DesiredRefresh => TimeSpan.FromSeconds(DesiredRefreshSeconds);
    public TimeSpan DriftGrace => TimeSpan.FromSeconds(DriftGraceSeconds);
    public TimeSpan AlertRefresh => TimeSpan.FromSeconds(AlertRefreshSeconds);
}
