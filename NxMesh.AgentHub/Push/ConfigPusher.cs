using System.Diagnostics;
using Microsoft.Extensions.Options;
using NxMesh.AgentHub.Agents;
using NxMesh.AgentHub.Connections;
using NxMesh.Data.DesiredConfig;
using NxMesh.Data.Entities;
using NxMesh.Data.Messaging;
using NxMesh.Protocol.V1;

namespace NxMesh.AgentHub.Push;

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
/// </summary>
internal sealed class ConfigPusher(IServiceScopeFactory scopes, WorkspaceGates gates, IOptions<AgentHubOptions> options, TimeProvider time,
    ILogger<ConfigPusher> logger)
{
    private readonly AgentHubOptions _options = options.Value;

    /// <summary>A health report: remembers the checksum, pushes if needed, and returns the agent's state.</summary>
    public async Task<AgentState> OnHealthAsync(AgentConnection connection, HealthReport health, CancellationToken cancellationToken)
    {
        // Resolving loads from the database: under the workspace's gate, taken before PushLock (the one lock order),
        // so it never interleaves with a recompute run. The unlocked read only decides whether to take it.
        using var gate = NeedsResolve(connection, health.ConfigChecksum, time.GetUtcNow())
            ? await gates.EnterAsync(connection.WorkspaceId, cancellationToken)
            : null;
        await connection.PushLock.WaitAsync(cancellationToken);
        try
        {
            var now = time.GetUtcNow();
            connection.HealthSeen = true;
            connection.ReportedChecksum = health.ConfigChecksum;
            if (gate is not null)
            {
                await using var scope = scopes.CreateAsyncScope();
                await EvaluateLockedAsync(connection, PushTrigger.Health, scope.ServiceProvider.GetRequiredService<DesiredConfigService>(), null, null, cancellationToken);
            }
            else if (health.ConfigChecksum == connection.DesiredConfigId)
            {
                connection.InFlightConfigId = null;
            }
            return StateOf(connection, health, now);
        }
        finally
        {
            connection.PushLock.Release();
        }
    }

    private bool NeedsResolve(AgentConnection connection, string reportedChecksum, DateTimeOffset now) =>
        connection.DesiredConfigId is not { } desired
        || reportedChecksum != desired
        || now - connection.DesiredResolvedAt >= _options.DesiredRefresh;

    /// <summary>Re-evaluates one connection after a change (the caller shares one workspace load across agents).</summary>
    public async Task OnChangeAsync(AgentConnection connection, DesiredConfigService service, WorkspaceConfigSource? source, string? traceparent,
        CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, connection.Closed);
        try
        {
            await connection.PushLock.WaitAsync(linked.Token);
        }
        catch (OperationCanceledException) when (connection.Closed.IsCancellationRequested)
        {
            return;
        }
        try
        {
            await EvaluateLockedAsync(connection, PushTrigger.Change, service, source, traceparent, cancellationToken);
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

    private async Task EvaluateLockedAsync(AgentConnection connection, PushTrigger trigger, DesiredConfigService service,
        WorkspaceConfigSource? source, string? traceparent, CancellationToken cancellationToken)
    {
        var desired = await service.ResolveAsync(connection.AgentId, source, cancellationToken);
        if (desired is null)
        {
            logger.LogInformation("Agent {AgentId} no longer exists; closing its stream.", connection.AgentId);
            connection.Close(DisconnectReasons.ConnectionClosed);
            return;
        }
        var now = time.GetUtcNow();
        var configId = desired.Update.ConfigId;
        connection.DesiredConfigId = configId;
        connection.DesiredResolvedAt = now;
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
                    await using var scope = scopes.CreateAsyncScope();
                    await scope.ServiceProvider.GetRequiredService<AgentStore>().MarkRunningDesiredAsync(connection.AgentId, connection.Epoch, configId, cancellationToken);
                }
            }
            return;
        }
        if (connection.FailedConfigId == configId)
        {
            return;
        }
        var inFlight = connection.InFlightConfigId is not null && now - connection.InFlightSince < _options.ApplyTimeout;
        var newContent = connection.LastSentConfigId != configId;
        var heal = trigger == PushTrigger.Health && !inFlight && now - connection.LastPushAt >= _options.RepushInterval;
        if (!newContent && !heal)
        {
            return;
        }
        using var activity = trigger == PushTrigger.Change ? HubTracing.Start("push config", traceparent, ActivityKind.Producer) : HubTracing.StartRoot("push config (checksum differs)");
        activity?.SetTag("nxmesh.agent_id", connection.AgentId.ToString("D"));
        activity?.SetTag("nxmesh.config_id", configId);
        desired.Update.Traceparent = activity?.Id ?? traceparent ?? "";
        if (connection.TryEnqueue(new MasterMessage { ConfigUpdate = desired.Update }))
        {
            connection.LastSentConfigId = configId;
            connection.LastPushAt = now;
            connection.InFlightConfigId = configId;
            connection.InFlightSince = now;
            logger.LogInformation("Pushed config {ConfigId} v{Version} to agent {AgentId} ({Reason}).",
                configId, desired.Update.Version, connection.AgentId, newContent ? "new content" : "re-push, checksum still differs");
        }
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
