using Microsoft.EntityFrameworkCore;
using NxMesh.Data.Alerts;
using NxMesh.Protocol.V1;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.AgentHub.Tests;

/// <summary>
/// Health alerts evaluated by the AgentHub on real Postgres/Redis: fire once, resolve once (also when two hubs
/// evaluate reports of the same agent at the same time), per-workspace rules, agent.state_changed, drift.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class AlertsTests(DatabaseFixture database) : IAsyncLifetime
{
    public Task InitializeAsync() => database.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    private static HealthReport Health(string checksum = "", float cpu = 10, double memoryPercent = 25, double diskPercent = 40, bool nginxRunning = true) => new()
    {
        ConfigChecksum = checksum,
        Nginx = new NginxStatus { IsRunning = nginxRunning, Pid = nginxRunning ? 42u : 0u },
        System = new SystemMetrics
        {
            CpuPercent = cpu,
            MemoryTotalBytes = 1000UL << 20,
            MemoryUsedBytes = (ulong)(memoryPercent * 10) << 20,
            DiskTotalBytes = 1000UL << 30,
            DiskUsedBytes = (ulong)(diskPercent * 10) << 30,
        },
    };

    private static Task ReportAsync(TestAgent agent, HealthReport health) => agent.SendAsync(new AgentMessage { Health = health });

    /// <summary>Stream reports are processed asynchronously: waits until <paramref name="count"/> reports were stored.</summary>
    private Task ProcessedAsync(Guid agentId, int count) => Wait.UntilAsync(async () =>
    {
        await using var db = database.CreateDbContext();
        return await db.HealthSnapshots.CountAsync(h => h.AgentId == agentId) >= count;
    }, TimeSpan.FromSeconds(10), $"{count} health reports stored");

    [Fact]
    public async Task A_crossed_threshold_fires_once_and_resolves_once_even_when_two_hubs_evaluate_at_the_same_time()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using var events = await EventListener.StartAsync(database);
        await using var hubA = new HubFactory(database);
        await using var hubB = new HubFactory(database);
        await using var agent = await Fleet.ConnectAsync(hubA, agentId, credential);
        var headers = HubFactory.Credentials(agentId, credential);

        await ReportAsync(agent, Health(cpu: 95));
        var alert = await events.WaitForAsync("health.alert", agentId);
        var data = alert["data"]!;
        Assert.Equal(("warning", "cpu_percent", 95.0, 90.0), ((string?)data["severity"], (string?)data["metric"], (double)data["value"]!, (double)data["threshold"]!));
        Assert.Equal("High CPU usage: 95% (threshold 90%)", (string?)data["message"]);
        Assert.Equal(workspaceId.ToString("D"), (string?)data["workspace_id"]);
        Assert.True(Guid.TryParse((string?)data["alert_id"], out var alertId));

        // Still above: on the stream, and through the other hub's unary call at the same moment.
        await Task.WhenAll(ReportAsync(agent, Health(cpu: 96)), hubB.Client.ReportHealthAsync(Health(cpu: 97), headers).ResponseAsync);
        await ReportAsync(agent, Health(cpu: 98));
        await ProcessedAsync(agentId, 4);
        // Both hubs clear it at once: exactly one of them closes the alert.
        await Task.WhenAll(ReportAsync(agent, Health(cpu: 20)), hubB.Client.ReportHealthAsync(Health(cpu: 21), headers).ResponseAsync);
        var resolved = await events.WaitForAsync("health.resolved", agentId);
        Assert.Equal(alertId.ToString("D"), (string?)resolved["data"]!["alert_id"]);
        Assert.StartsWith("CPU usage back to", (string?)resolved["data"]!["message"]);
        await ReportAsync(agent, Health(cpu: 5));
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Single(events.OfType("health.alert", agentId));
        Assert.Single(events.OfType("health.resolved", agentId));

        await using var db = database.CreateDbContext();
        var row = await db.Set<AgentAlert>().SingleAsync();
        Assert.Equal((alertId, "cpu_percent"), (row.Id, row.Metric));
        Assert.NotNull(row.ResolvedAt);
    }

    [Fact]
    public async Task Default_and_workspace_rules_each_fire_with_their_severity_and_nginx_down_degrades_the_agent_once()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using (var db = database.CreateDbContext())
        {
            db.Set<AlertRule>().Add(new AlertRule { WorkspaceId = workspaceId, Metric = AlertMetrics.CpuPercent, Threshold = 50, Severity = "error", UpdatedAt = DateTimeOffset.UtcNow });
            db.Set<AlertRule>().Add(new AlertRule { WorkspaceId = workspaceId, Metric = AlertMetrics.MemoryPercent, Threshold = 90, Severity = "warning", Enabled = false, UpdatedAt = DateTimeOffset.UtcNow });
            await db.SaveChangesAsync();
        }
        await using var events = await EventListener.StartAsync(database);
        await using var hub = new HubFactory(database);
        await using var agent = await Fleet.ConnectAsync(hub, agentId, credential);

        await ReportAsync(agent, Health(cpu: 60, memoryPercent: 99, diskPercent: 95, nginxRunning: false));
        await Wait.UntilAsync(() => Task.FromResult(events.OfType("health.alert", agentId).Count == 3), TimeSpan.FromSeconds(10), "three alerts");
        var alerts = events.OfType("health.alert", agentId).ToDictionary(e => (string)e["data"]!["metric"]!, e => (string)e["data"]!["severity"]!);
        Assert.Equal(new Dictionary<string, string> { ["cpu_percent"] = "error", ["disk_percent"] = "error", ["nginx_down"] = "critical" }, alerts);
        var degraded = await events.WaitForAsync("agent.state_changed", agentId);
        Assert.Equal(("degraded", "online"), ((string?)degraded["data"]!["state"], (string?)degraded["data"]!["previous_state"]));

        await ReportAsync(agent, Health(cpu: 60, memoryPercent: 99, diskPercent: 95, nginxRunning: false));
        await ReportAsync(agent, Health(cpu: 10, memoryPercent: 99, diskPercent: 95, nginxRunning: true));
        await Wait.UntilAsync(() => Task.FromResult(events.OfType("health.resolved", agentId).Count == 2), TimeSpan.FromSeconds(10), "two resolved");
        await Wait.UntilAsync(() => Task.FromResult(events.OfType("agent.state_changed", agentId).Count == 2), TimeSpan.FromSeconds(10), "back online");
        var online = events.OfType("agent.state_changed", agentId)[1];
        Assert.Equal(("online", "degraded"), ((string?)online["data"]!["state"], (string?)online["data"]!["previous_state"]));
        Assert.Equal(["cpu_percent", "nginx_down"], events.OfType("health.resolved", agentId).Select(e => (string)e["data"]!["metric"]!).Order().ToArray());
        Assert.Equal(3, events.OfType("health.alert", agentId).Count);

        // Disabling a rule resolves its open alert once.
        await using (var db = database.CreateDbContext())
        {
            db.Set<AlertRule>().Add(new AlertRule { WorkspaceId = workspaceId, Metric = AlertMetrics.DiskPercent, Threshold = 90, Severity = "error", Enabled = false, UpdatedAt = DateTimeOffset.UtcNow });
            await db.SaveChangesAsync();
        }
        await ReportAsync(agent, Health(cpu: 10, memoryPercent: 99, diskPercent: 95));
        await Wait.UntilAsync(() => Task.FromResult(events.OfType("health.resolved", agentId).Count == 3), TimeSpan.FromSeconds(10), "disk resolved");
        Assert.Equal("Rule disk_percent disabled", (string?)events.OfType("health.resolved", agentId).Single(e => (string?)e["data"]!["metric"] == "disk_percent")["data"]!["message"]);
    }

    [Fact]
    public async Task Drift_beyond_the_rule_publishes_config_drift_detected_and_an_alert_then_resolves_when_in_sync()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using (var db = database.CreateDbContext())
        {
            db.Set<AlertRule>().Add(new AlertRule { WorkspaceId = workspaceId, Metric = AlertMetrics.ConfigDriftSeconds, Threshold = 1, Severity = "warning", UpdatedAt = DateTimeOffset.UtcNow });
            await db.SaveChangesAsync();
        }
        await using var events = await EventListener.StartAsync(database);
        await using var hub = new HubFactory(database);
        var (agent, applied) = await Fleet.InSyncAsync(hub, agentId, credential);
        await using var _ = agent;

        await ReportAsync(agent, Health(checksum: "stale"));
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        await ReportAsync(agent, Health(checksum: "stale"));
        var drift = await events.WaitForAsync("config.drift_detected", agentId);
        Assert.Equal((applied.ConfigId, "stale"), ((string?)drift["data"]!["desired_config_id"], (string?)drift["data"]!["applied_config_id"]));
        Assert.True((double)drift["data"]!["drift_seconds"]! > 1);
        var alert = await events.WaitForAsync("health.alert", agentId);
        Assert.Equal("config_drift_seconds", (string?)alert["data"]!["metric"]);

        await ReportAsync(agent, Health(checksum: applied.ConfigId));
        var resolved = await events.WaitForAsync("health.resolved", agentId);
        Assert.Equal((string?)alert["data"]!["alert_id"], (string?)resolved["data"]!["alert_id"]);
        Assert.Single(events.OfType("config.drift_detected", agentId));
    }

    [Fact]
    public async Task The_5xx_error_rate_of_the_ingested_access_logs_fires_once_and_resolves_once()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using var events = await EventListener.StartAsync(database);
        await using var hub = new HubFactory(database);
        await using var agent = await Fleet.ConnectAsync(hub, agentId, credential);

        // 4 of 20 requests failed (20 %): the default rule (≥ 5 %, warning) fires on the next health report.
        var failing = TelemetryIngestTests.Logs(DateTimeOffset.UtcNow, 20, i => i < 4 ? 502 : 200);
        await agent.SendAsync(new AgentMessage { Logs = failing });
        Assert.True((await agent.NextAsync(m => m.Ack?.MessageId == failing.BatchId, what: "logs ack")).Ack.Success);
        await ReportAsync(agent, Health());
        var alert = await events.WaitForAsync("health.alert", agentId);
        Assert.Equal(("error_rate_5xx_percent", "warning", 20.0, 5.0), ((string?)alert["data"]!["metric"], (string?)alert["data"]!["severity"], (double)alert["data"]!["value"]!, (double)alert["data"]!["threshold"]!));
        await ReportAsync(agent, Health());
        await ProcessedAsync(agentId, 2);

        // 380 more successful requests: 4 of 400 = 1 %, below the threshold.
        var healthy = TelemetryIngestTests.Logs(DateTimeOffset.UtcNow, 380);
        await agent.SendAsync(new AgentMessage { Logs = healthy });
        Assert.True((await agent.NextAsync(m => m.Ack?.MessageId == healthy.BatchId, what: "logs ack")).Ack.Success);
        await ReportAsync(agent, Health());
        var resolved = await events.WaitForAsync("health.resolved", agentId);
        Assert.Equal(((string?)alert["data"]!["alert_id"], 1.0), ((string?)resolved["data"]!["alert_id"], (double)resolved["data"]!["value"]!));
        await ReportAsync(agent, Health());
        await ProcessedAsync(agentId, 4);
        Assert.Single(events.OfType("health.alert", agentId));
        Assert.Single(events.OfType("health.resolved", agentId));
    }
}
