using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using NxMesh.AgentHub.Agents;
using NxMesh.AgentHub.Connections;
using NxMesh.Data;
using NxMesh.Data.Alerts;
using NxMesh.Data.Configurations;
using NxMesh.Data.Entities;
using NxMesh.Data.Messaging;
using NxMesh.Protocol.V1;

namespace NxMesh.AgentHub.Alerts;

/// <summary>What one health report says, as the master's alert rules see it.</summary>
internal sealed record HealthFacts(Guid AgentId, Guid WorkspaceId, long? Epoch, HealthReport Report, AgentState? State,
    TimeSpan? Drift, string? DesiredConfigId);

/// <summary>
/// Evaluated on every health report (design.md "Alerts": the master owns every threshold). State changes and
/// alert transitions are conditional statements in Postgres, so with several AgentHub instances (or a replaced
/// stream) each transition is published exactly once: <c>agent.state_changed</c> by the connection whose epoch is
/// current, <c>health.alert</c> by the INSERT that created the open row, <c>health.resolved</c> by the UPDATE that
/// closed it. The fast path is free of database calls: the state is written only when it differs from what this
/// connection last wrote, and the rules, the open alerts and the 5xx rates come from a per-workspace snapshot
/// refreshed every <see cref="AgentHubOptions.AlertRefreshSeconds"/> (<see cref="AlertSweep"/>, which then also
/// re-evaluates each connection's last report: a changed rule or error rate takes effect without a new report).
/// </summary>
internal sealed class HealthAlerts(IServiceScopeFactory scopes, FleetEventPublisher events, IOptions<AgentHubOptions> options, TimeProvider time,
    ILogger<HealthAlerts> logger)
{
    private readonly ConcurrentDictionary<Guid, WorkspaceAlerts> _workspaces = new();

    /// <summary>A stream report (<paramref name="connection"/> set) or a unary one.</summary>
    public async Task OnHealthAsync(HealthFacts facts, AgentConnection? connection, CancellationToken cancellationToken)
    {
        if (connection is null)
        {
            await EvaluateGuardedAsync(facts, null, cancellationToken);
            return;
        }
        await connection.AlertLock.WaitAsync(cancellationToken);
        try
        {
            connection.LastHealth = facts.Report;
            connection.LastState = facts.State;
            await EvaluateGuardedAsync(facts, connection, cancellationToken);
        }
        finally
        {
            connection.AlertLock.Release();
        }
    }

    /// <summary>Re-evaluates a connection's last report against a fresh snapshot (the sweep).</summary>
    public async Task ReevaluateAsync(AgentConnection connection, CancellationToken cancellationToken)
    {
        await connection.AlertLock.WaitAsync(cancellationToken);
        try
        {
            if (connection.LastHealth is { } report && !connection.Closed.IsCancellationRequested)
            {
                var drift = connection.DriftSince is { } since ? time.GetUtcNow() - since : (TimeSpan?)null;
                await EvaluateGuardedAsync(new HealthFacts(connection.AgentId, connection.WorkspaceId, connection.Epoch, report, null, drift,
                    connection.DesiredConfigId), connection, cancellationToken);
            }
        }
        finally
        {
            connection.AlertLock.Release();
        }
    }

    /// <summary>Reloads the workspace's rules, open alerts and 5xx rates (one round of three queries).</summary>
    public async Task RefreshAsync(Guid workspaceId, CancellationToken cancellationToken)
    {
        var workspace = _workspaces.GetOrAdd(workspaceId, _ => new WorkspaceAlerts());
        await workspace.Refreshing.WaitAsync(cancellationToken);
        try
        {
            workspace.Current = await LoadAsync(workspaceId, cancellationToken);
        }
        finally
        {
            workspace.Refreshing.Release();
        }
    }

    private async Task EvaluateGuardedAsync(HealthFacts facts, AgentConnection? connection, CancellationToken cancellationToken)
    {
        try
        {
            if (connection is not null && facts is { Epoch: { } epoch, State: { } state } && state != connection.PersistedState)
            {
                await ChangeStateAsync(facts, epoch, state);
                connection.PersistedState = state;
            }
            await EvaluateAsync(facts, await SnapshotAsync(facts.WorkspaceId, cancellationToken));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Alerting must never end an agent's stream; the next report evaluates again.
            logger.LogWarning(ex, "Health evaluation of agent {AgentId} failed.", facts.AgentId);
        }
    }

    private async Task<AlertSnapshot> SnapshotAsync(Guid workspaceId, CancellationToken cancellationToken)
    {
        var workspace = _workspaces.GetOrAdd(workspaceId, _ => new WorkspaceAlerts());
        if (workspace.Current is { } current && time.GetUtcNow() - current.LoadedAt < options.Value.AlertRefresh)
        {
            return current;
        }
        await workspace.Refreshing.WaitAsync(cancellationToken);
        try
        {
            // Whoever waited for the lock finds the snapshot the first one loaded.
            if (workspace.Current is { } loaded && time.GetUtcNow() - loaded.LoadedAt < options.Value.AlertRefresh)
            {
                return loaded;
            }
            return workspace.Current = await LoadAsync(workspaceId, cancellationToken);
        }
        finally
        {
            workspace.Refreshing.Release();
        }
    }

    private async Task<AlertSnapshot> LoadAsync(Guid workspaceId, CancellationToken cancellationToken)
    {
        var loadedAt = time.GetUtcNow();
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<NxMeshDbContext>();
        var overrides = await db.Set<AlertRule>().AsNoTracking().Where(r => r.WorkspaceId == workspaceId).ToListAsync(cancellationToken);
        var open = await db.Set<AgentAlert>().AsNoTracking()
            .Where(a => a.WorkspaceId == workspaceId && a.ResolvedAt == null)
            .Select(a => new { a.AgentId, a.Metric }).ToListAsync(cancellationToken);
        var since = loadedAt - AlertMetrics.ErrorRateWindow;
        var rates = await db.Database.SqlQuery<ErrorRateRow>($"""
            SELECT agent_id AS "AgentId", COALESCE(sum(requests), 0)::bigint AS "Requests", COALESCE(sum(status_5xx), 0)::bigint AS "Errors"
            FROM telemetry_rollups WHERE workspace_id = {workspaceId} AND minute >= date_trunc('minute', {since})
            GROUP BY agent_id
            """).ToListAsync(cancellationToken);
        var snapshot = new AlertSnapshot(AlertMetrics.Effective(overrides), loadedAt,
            rates.ToDictionary(r => r.AgentId, r => r.Requests == 0 ? 0 : Math.Round(100.0 * r.Errors / r.Requests, 1)));
        foreach (var alert in open)
        {
            snapshot.Open[(alert.AgentId, alert.Metric)] = 0;
        }
        return snapshot;
    }

    private async Task ChangeStateAsync(HealthFacts facts, long epoch, AgentState state)
    {
        var name = EnumNames.ToSnakeCase(state);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<NxMeshDbContext>();
        // The old value comes from the locked row, so exactly one report sees each transition.
        var previous = await db.Database.SqlQuery<string>($"""
            UPDATE agents a SET state = {name}, updated_at = now()
            FROM (SELECT id, state FROM agents WHERE id = {facts.AgentId} AND connection_epoch = {epoch} FOR UPDATE) old
            WHERE a.id = old.id AND old.state <> {name}
            RETURNING old.state AS "Value"
            """).ToListAsync(CancellationToken.None);
        if (previous.Count == 1)
        {
            await events.PublishAsync(HealthEventTypes.AgentStateChanged, facts.WorkspaceId, new JsonObject
            {
                ["agent_id"] = facts.AgentId.ToString("D"),
                ["state"] = name,
                ["previous_state"] = previous[0],
            });
        }
    }

    private async Task EvaluateAsync(HealthFacts facts, AlertSnapshot snapshot)
    {
        foreach (var rule in snapshot.Rules)
        {
            var reported = rule.Metric.Name == AlertMetrics.ErrorRate5xxPercent
                ? snapshot.ErrorRates.GetValueOrDefault(facts.AgentId)
                : ValueOf(rule.Metric.Name, facts);
            if (!rule.Metric.Evaluated || reported is not { } value)
            {
                continue;
            }
            var crossed = rule.Enabled && rule.Crossed(value);
            var isOpen = snapshot.Open.ContainsKey((facts.AgentId, rule.Metric.Name));
            if (crossed && !isOpen)
            {
                await FireAsync(facts, rule, value);
                snapshot.Open[(facts.AgentId, rule.Metric.Name)] = 0;
            }
            else if (!crossed && isOpen)
            {
                await ResolveAsync(facts, rule, value);
                snapshot.Open.TryRemove((facts.AgentId, rule.Metric.Name), out _);
            }
        }
    }

    private sealed record ErrorRateRow(Guid AgentId, long Requests, long Errors);

    /// <summary>A workspace's rules, open alerts (agent, metric) and 5xx rates (percent) at <see cref="LoadedAt"/>.</summary>
    private sealed record AlertSnapshot(IReadOnlyList<EffectiveAlertRule> Rules, DateTimeOffset LoadedAt, Dictionary<Guid, double> ErrorRates)
    {
        /// <summary>Kept current by this instance's own fire/resolve until the next refresh.</summary>
        public ConcurrentDictionary<(Guid, string), byte> Open { get; } = new();
    }

    private sealed class WorkspaceAlerts
    {
        public SemaphoreSlim Refreshing { get; } = new(1, 1);
        public volatile AlertSnapshot? Current;
    }

    /// <summary>The metric's value in this report; null when the report does not say (no system stats, unary report).</summary>
    private static double? ValueOf(string metric, HealthFacts facts)
    {
        var system = facts.Report.System;
        return metric switch
        {
            AlertMetrics.CpuPercent => system?.CpuPercent,
            AlertMetrics.MemoryPercent => system is { MemoryTotalBytes: > 0 } ? 100.0 * system.MemoryUsedBytes / system.MemoryTotalBytes : null,
            AlertMetrics.DiskPercent => system is { DiskTotalBytes: > 0 } ? 100.0 * system.DiskUsedBytes / system.DiskTotalBytes : null,
            AlertMetrics.NginxDown => facts.Report.Nginx is { } nginx ? (nginx.IsRunning ? 0 : 1) : null,
            AlertMetrics.ConfigDriftSeconds => facts.Drift is { } drift ? Math.Round(drift.TotalSeconds, 1) : facts.Epoch is null ? null : 0,
            _ => null,
        };
    }

    private async Task FireAsync(HealthFacts facts, EffectiveAlertRule rule, double value)
    {
        var id = Guid.CreateVersion7();
        var message = Describe(rule, value, open: true);
        var now = time.GetUtcNow();
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<NxMeshDbContext>();
        var inserted = await db.Database.SqlQuery<Guid>($"""
            INSERT INTO agent_alerts (id, agent_id, workspace_id, metric, severity, message, value, threshold, opened_at)
            VALUES ({id}, {facts.AgentId}, {facts.WorkspaceId}, {rule.Metric.Name}, {rule.Severity}, {message}, {value}, {rule.Threshold}, {now})
            ON CONFLICT (agent_id, metric) WHERE resolved_at IS NULL DO NOTHING
            RETURNING id AS "Value"
            """).ToListAsync(CancellationToken.None);
        if (inserted.Count == 0)
        {
            return;
        }
        if (rule.Metric.Name == AlertMetrics.ConfigDriftSeconds)
        {
            await events.PublishAsync(HealthEventTypes.ConfigDriftDetected, facts.WorkspaceId, new JsonObject
            {
                ["agent_id"] = facts.AgentId.ToString("D"),
                ["desired_config_id"] = facts.DesiredConfigId,
                ["applied_config_id"] = facts.Report.ConfigChecksum,
                ["drift_seconds"] = value,
                ["threshold"] = rule.Threshold,
            });
        }
        await events.PublishAsync(HealthEventTypes.Alert, facts.WorkspaceId, AlertData(facts, rule, id, message, value));
        logger.LogInformation("Alert {AlertId} on agent {AgentId}: {Message}", id, facts.AgentId, message);
    }

    private async Task ResolveAsync(HealthFacts facts, EffectiveAlertRule rule, double value)
    {
        var now = time.GetUtcNow();
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<NxMeshDbContext>();
        var closed = await db.Database.SqlQuery<ResolvedRow>($"""
            UPDATE agent_alerts SET resolved_at = {now}, resolved_value = {value}
            WHERE agent_id = {facts.AgentId} AND metric = {rule.Metric.Name} AND resolved_at IS NULL
            RETURNING id AS "Id", severity AS "Severity", threshold AS "Threshold", opened_at AS "OpenedAt"
            """).ToListAsync(CancellationToken.None);
        foreach (var row in closed)
        {
            var message = rule.Enabled ? Describe(rule, value, open: false) : $"Rule {rule.Metric.Name} disabled";
            var data = AlertData(facts, rule with { Severity = row.Severity, Threshold = row.Threshold }, row.Id, message, value);
            data["opened_at"] = row.OpenedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
            await events.PublishAsync(HealthEventTypes.Resolved, facts.WorkspaceId, data);
            logger.LogInformation("Alert {AlertId} on agent {AgentId} resolved: {Message}", row.Id, facts.AgentId, message);
        }
    }

    private static JsonObject AlertData(HealthFacts facts, EffectiveAlertRule rule, Guid alertId, string message, double value) => new()
    {
        ["agent_id"] = facts.AgentId.ToString("D"),
        ["alert_id"] = alertId.ToString("D"),
        ["severity"] = rule.Severity,
        ["message"] = message,
        ["metric"] = rule.Metric.Name,
        ["value"] = value,
        ["threshold"] = rule.Threshold,
    };

    private static string Describe(EffectiveAlertRule rule, double value, bool open)
    {
        var v = value.ToString("0.#", CultureInfo.InvariantCulture);
        var t = rule.Threshold?.ToString("0.#", CultureInfo.InvariantCulture);
        return (rule.Metric.Name, open) switch
        {
            (AlertMetrics.CpuPercent, true) => $"High CPU usage: {v}% (threshold {t}%)",
            (AlertMetrics.CpuPercent, false) => $"CPU usage back to {v}% (threshold {t}%)",
            (AlertMetrics.MemoryPercent, true) => $"High memory usage: {v}% (threshold {t}%)",
            (AlertMetrics.MemoryPercent, false) => $"Memory usage back to {v}% (threshold {t}%)",
            (AlertMetrics.DiskPercent, true) => $"Disk almost full: {v}% used (threshold {t}%)",
            (AlertMetrics.DiskPercent, false) => $"Disk usage back to {v}% (threshold {t}%)",
            (AlertMetrics.NginxDown, true) => "nginx is not running",
            (AlertMetrics.NginxDown, false) => "nginx is running again",
            (AlertMetrics.ConfigDriftSeconds, true) => $"Config drift: the applied config has differed from the desired one for {v} s (threshold {t} s)",
            (AlertMetrics.ConfigDriftSeconds, false) => "Config drift resolved: the applied config matches the desired one",
            (AlertMetrics.ErrorRate5xxPercent, true) => $"High 5xx error rate: {v}% of requests in the last {AlertMetrics.ErrorRateWindow.TotalMinutes:0} min (threshold {t}%)",
            (AlertMetrics.ErrorRate5xxPercent, false) => $"5xx error rate back to {v}% (threshold {t}%)",
            _ => $"{rule.Metric.Name} = {v}",
        };
    }

    private sealed record ResolvedRow(Guid Id, string Severity, double? Threshold, DateTimeOffset OpenedAt);
}

/// <summary>
/// Every <see cref="AgentHubOptions.AlertRefreshSeconds"/>: refreshes the alert snapshot of each workspace with
/// agents connected here and re-evaluates each connection's last report against it (rule edits, the 5xx rate of
/// newly ingested access logs, drift growing between reports).
/// </summary>
internal sealed class AlertSweep(ConnectionRegistry registry, HealthAlerts alerts, IOptions<AgentHubOptions> options, ILogger<AlertSweep> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.AlertRefresh);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                foreach (var workspace in registry.All().GroupBy(c => c.WorkspaceId))
                {
                    try
                    {
                        await alerts.RefreshAsync(workspace.Key, stoppingToken);
                        foreach (var connection in workspace)
                        {
                            await alerts.ReevaluateAsync(connection, stoppingToken);
                        }
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        logger.LogWarning(ex, "The alert sweep of workspace {WorkspaceId} failed; the next one retries.", workspace.Key);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}

internal static class HealthAlertsExtensions
{
    public static void AddHealthAlerts(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<HealthAlerts>();
        builder.Services.AddHostedService<AlertSweep>();
    }
}
