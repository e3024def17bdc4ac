using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
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
/// closed it.
/// </summary>
internal sealed class HealthAlerts(NxMeshDbContext db, FleetEventPublisher events, TimeProvider time, ILogger<HealthAlerts> logger)
{
    public async Task OnHealthAsync(HealthFacts facts, CancellationToken cancellationToken)
    {
        try
        {
            if (facts is { Epoch: { } epoch, State: { } state })
            {
                await ChangeStateAsync(facts, epoch, state);
            }
            await EvaluateAsync(facts, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Alerting must never end an agent's stream; the next report evaluates again.
            logger.LogWarning(ex, "Health evaluation of agent {AgentId} failed.", facts.AgentId);
        }
    }

    private async Task ChangeStateAsync(HealthFacts facts, long epoch, AgentState state)
    {
        var name = EnumNames.ToSnakeCase(state);
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

    private async Task EvaluateAsync(HealthFacts facts, CancellationToken cancellationToken)
    {
        var overrides = await db.Set<AlertRule>().AsNoTracking().Where(r => r.WorkspaceId == facts.WorkspaceId).ToListAsync(cancellationToken);
        var open = await db.Set<AgentAlert>().AsNoTracking()
            .Where(a => a.AgentId == facts.AgentId && a.ResolvedAt == null)
            .Select(a => a.Metric).ToListAsync(cancellationToken);
        foreach (var rule in AlertMetrics.Effective(overrides))
        {
            var reported = rule.Metric.Name == AlertMetrics.ErrorRate5xxPercent
                ? await ErrorRateAsync(facts, cancellationToken)
                : ValueOf(rule.Metric.Name, facts);
            if (!rule.Metric.Evaluated || reported is not { } value)
            {
                continue;
            }
            var crossed = rule.Enabled && rule.Crossed(value);
            var isOpen = open.Contains(rule.Metric.Name);
            if (crossed && !isOpen)
            {
                await FireAsync(facts, rule, value);
            }
            else if (!crossed && isOpen)
            {
                await ResolveAsync(facts, rule, value);
            }
        }
    }

    /// <summary>
    /// The agent's 5xx share (percent) of the requests its access logs reported over the last
    /// <see cref="AlertMetrics.ErrorRateWindow"/>, from the per-minute rollups the telemetry ingest keeps; 0 without
    /// requests, so an open alert resolves once traffic stops failing or stops.
    /// </summary>
    private async Task<double?> ErrorRateAsync(HealthFacts facts, CancellationToken cancellationToken)
    {
        var since = time.GetUtcNow() - AlertMetrics.ErrorRateWindow;
        var window = await db.Database.SqlQuery<ErrorRateRow>($"""
            SELECT COALESCE(sum(requests), 0)::bigint AS "Requests", COALESCE(sum(status_5xx), 0)::bigint AS "Errors"
            FROM telemetry_rollups WHERE agent_id = {facts.AgentId} AND minute >= date_trunc('minute', {since})
            """).SingleAsync(cancellationToken);
        return window.Requests == 0 ? 0 : Math.Round(100.0 * window.Errors / window.Requests, 1);
    }

    private sealed record ErrorRateRow(long Requests, long Errors);

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

internal static class HealthAlertsExtensions
{
    public static void AddHealthAlerts(this IHostApplicationBuilder builder) => builder.Services.AddScoped<HealthAlerts>();
}
