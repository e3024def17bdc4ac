using Microsoft.Extensions.Options;
using NxMesh.AgentHub.Agents;
using NxMesh.AgentHub.Connections;
using NxMesh.Data.Entities;
using NxMesh.Protocol.V1;

namespace NxMesh.AgentHub.Push;

/// <summary>What a health report decided: the agent's state, and the work left for the caller.</summary>
internal readonly record struct HealthOutcome(AgentState State, bool NeedsResolve, bool NeedsReconcile);

internal enum PushTrigger
{
    /// <summary>The agent reported a checksum (first report after registration, or a heartbeat).</summary>
    Health,
    /// <summary>Something the agent's config is built from changed (outbox relayed through Redis).</summary>
    Change,
}

/// <summary>
/// Decides, per connection, whether to push the desired ConfigUpdate (design.md "Config identity"):
/// new content is pushed once; the same content is re-pushed only on a health report that still differs, with no
/// apply in flight, at most every RepushInterval, and never after the agent reported it FAILED/ROLLED_BACK.
/// Nothing here touches the database: the desired config is resolved in batches by <see cref="WorkspaceRecompute"/>
/// (on changes, periodically, and for connections that have none yet) and kept on the connection.
/// </summary>
internal sealed class ConfigPusher(IOptions<AgentHubOptions> options, TimeProvider time, ILogger<ConfigPusher> logger)
{
    private readonly AgentHubOptions _options = options.Value;

    /// <summary>
    /// A health report: remembers the checksum, pushes if needed (from memory), and returns the agent's state, and
    /// whether the connection still needs its desired config resolved (<see cref="WorkspaceRecompute.RequestResolve"/>)
    /// or its record reconciled (<see cref="WorkspaceRecompute.MarkRunningDesiredAsync"/>).
    /// </summary>
    public async Task<HealthOutcome> OnHealthAsync(AgentConnection connection, HealthReport health, CancellationToken cancellationToken)
    {
        await connection.PushLock.WaitAsync(cancellationToken);
        try
        {
            var now = time.GetUtcNow();
            connection.HealthSeen = true;
            connection.ReportedChecksum = health.ConfigChecksum;
            var resolve = connection.DesiredUpdate is null;
            var reconcile = !resolve && Evaluate(connection, connection.DesiredUpdate!, PushTrigger.Health, null, now);
            return new HealthOutcome(StateOf(connection, health, now), resolve, reconcile);
        }
        finally
        {
            connection.PushLock.Release();
        }
    }

    /// <summary>A terminal ConfigStatus: the apply is no longer in flight; a failed config is not re-pushed.</summary>
    public async Task OnTerminalStatusAsync(AgentConnection connection, ConfigStatus status, CancellationToken cancellationToken)
    {
        await connection.PushLock.WaitAsync(cancellationToken);
        try
        {
            if (connection.InFlightConfigId == status.ConfigId)
            {
                connection.InFlightConfigId = null;
            }
            if (status.Status == Protocol.V1.ConfigApplyStatus.Success)
            {
                connection.ReportedChecksum = status.ConfigId;
                connection.FailedConfigId = null;
            }
            else
            {
                connection.FailedConfigId = status.ConfigId;
            }
        }
        finally
        {
            connection.PushLock.Release();
        }
    }

    /// <summary>
    /// Takes <paramref name="desired"/> as the connection's desired config and pushes it if the rules say so. Call
    /// under the connection's PushLock. <paramref name="desired"/> is shared: a push that needs its own trace context
    /// sends a copy. True when the record's apply status must be reconciled (<see cref="WorkspaceRecompute.MarkRunningDesiredAsync"/>).
    /// A push of a recompute run is timed into its <paramref name="round"/>.
    /// </summary>
    public bool Evaluate(AgentConnection connection, ConfigUpdate desired, PushTrigger trigger, string? runTraceparent, DateTimeOffset now,
        WriteRound? round = null)
    {
        var configId = desired.ConfigId;
        connection.DesiredConfigId = configId;
        connection.DesiredUpdate = desired;
        if (!connection.HealthSeen || connection.ReportedChecksum == configId)
        {
            // Before the first health report the agent's checksum is unknown: that report decides.
            if (connection.ReportedChecksum == configId)
            {
                connection.InFlightConfigId = null;
                if (!connection.ApplyStatusReconciled || (connection.FailedConfigId is not null && connection.FailedConfigId != configId))
                {
                    // The agent runs its desired config (first report of this stream, or the desired config went back
                    // to it after a failed change): no apply will report, so the record must not keep an old failure.
                    connection.ApplyStatusReconciled = true;
                    connection.FailedConfigId = null;
                    return true;
                }
            }
            return false;
        }
        if (connection.FailedConfigId == configId)
        {
            return false;
        }
        var inFlight = connection.InFlightConfigId is not null && now - connection.InFlightSince < _options.ApplyTimeout;
        var newContent = connection.LastSentConfigId != configId;
        var heal = trigger == PushTrigger.Health && !inFlight && now - connection.LastPushAt >= _options.RepushInterval;
        if (!newContent && !heal)
        {
            return false;
        }
        var update = desired;
        if (runTraceparent is null)
        {
            // A push of its own (healing from a health report) starts a trace of its own; a recompute run's pushes
            // carry the run's span, already set on the shared update.
            using var activity = HubTracing.StartRoot("push config (checksum differs)");
            activity?.SetTag("nxmesh.agent_id", connection.AgentId.ToString("D"));
            activity?.SetTag("nxmesh.config_id", configId);
            if (activity is not null)
            {
                update = desired.Clone();
                update.Traceparent = activity.Id ?? "";
            }
        }
        if (connection.TryEnqueue(new MasterMessage { ConfigUpdate = update }, round))
        {
            connection.LastSentConfigId = configId;
            connection.LastPushAt = now;
            connection.InFlightConfigId = configId;
            connection.InFlightSince = now;
            if (logger.IsEnabled(LogLevel.Debug))
            {
                // Checked first: the arguments would be boxed into an array for every push of a 10,000-agent run.
                logger.LogDebug("Pushed config {ConfigId} v{Version} to agent {AgentId} ({Reason}).",
                    configId, desired.Version, connection.AgentId, newContent ? "new content" : "re-push, checksum still differs");
            }
        }
        return false;
    }

    private AgentState StateOf(AgentConnection connection, HealthReport health, DateTimeOffset now)
    {
        if (health.ConfigChecksum == connection.DesiredConfigId)
        {
            connection.DriftSince = null;
        }
        else
        {
            connection.DriftSince ??= now;
        }
        var drifting = connection.DriftSince is { } since && now - since > _options.DriftGrace;
        var failed = connection.FailedConfigId is not null && connection.FailedConfigId == connection.DesiredConfigId;
        return health.Nginx is { IsRunning: true } && !failed && !drifting ? AgentState.Online : AgentState.Degraded;
    }
}
