using Microsoft.EntityFrameworkCore;
using NxMesh.Data.Messaging;
using NxMesh.Protocol.V1;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.AgentHub.Tests;

[Collection(DatabaseCollection.Name)]
public sealed class ReportTests(DatabaseFixture database) : IAsyncLifetime
{
    public Task InitializeAsync() => database.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Unary_health_and_metrics_are_authenticated_and_stored_once_per_batch()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using var hub = new HubFactory(database);
        var headers = HubFactory.Credentials(agentId, credential);

        var health = await hub.Client.ReportHealthAsync(new HealthReport
        {
            ConfigChecksum = "abc",
            ConfigVersion = 7,
            Nginx = new NginxStatus { IsRunning = true, TotalRequests = 1000 },
        }, headers);
        Assert.True(health.Success);

        var batch = new MetricsBatch { BatchId = Guid.NewGuid().ToString("D"), Timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
        batch.Metrics.Add(new Metric { Name = "nginx_requests_total", Value = 1000, Type = MetricType.Counter, Labels = { ["vhost"] = "a" } });
        batch.Metrics.Add(new Metric { Name = "cpu_percent", Value = 12.5, Type = MetricType.Gauge });
        var ack = await hub.Client.ReportMetricsAsync(batch, headers);
        var retried = await hub.Client.ReportMetricsAsync(batch, headers);
        Assert.Equal((batch.BatchId, true), (ack.MessageId, ack.Success));
        Assert.True(retried.Success);

        await using var db = database.CreateDbContext();
        var snapshot = await db.HealthSnapshots.SingleAsync();
        Assert.Equal(("abc", 7L, 1000L), (snapshot.ConfigChecksum, snapshot.ConfigVersion, snapshot.TotalRequests));
        var agent = await db.Agents.SingleAsync(a => a.Id == agentId);
        Assert.Equal("abc", agent.AppliedConfigId);
        Assert.NotNull(agent.LastSeenAt);
        var samples = await db.Database.SqlQueryRaw<string>("SELECT name || ':' || coalesce(labels->>'vhost', '-') AS \"Value\" FROM metric_samples ORDER BY name").ToListAsync();
        Assert.Equal(["cpu_percent:-", "nginx_requests_total:a"], samples);
    }

    [Fact]
    public async Task Stream_batches_are_acknowledged_by_id_and_agent_events_are_republished()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using var events = await EventListener.StartAsync(database);
        await using var hub = new HubFactory(database);
        await using var agent = await Fleet.ConnectAsync(hub, agentId, credential);

        var metrics = new MetricsBatch { BatchId = Guid.NewGuid().ToString("D") };
        metrics.Metrics.Add(new Metric { Name = "active_connections", Value = 3, Type = MetricType.Gauge });
        await agent.SendAsync(new AgentMessage { Metrics = metrics });
        var metricsAck = (await agent.NextAsync(m => m.Ack?.MessageId == metrics.BatchId, what: "metrics ack")).Ack;
        Assert.True(metricsAck.Success);

        var logs = new LogBatch { BatchId = Guid.NewGuid().ToString("D") };
        logs.Entries.Add(new LogEntry { Level = "access", Message = "GET /", Fields = { ["status"] = "200" } });
        await agent.SendAsync(new AgentMessage { Logs = logs });
        var logsAck = (await agent.NextAsync(m => m.Ack?.MessageId == logs.BatchId, what: "logs ack")).Ack;
        Assert.True(logsAck.Success);

        await agent.SendAsync(new AgentMessage { Event = new Event { EventId = "e1", EventType = "nginx.restarted", Data = { ["pid"] = "42" } } });
        var republished = await events.WaitForAsync(FleetEventTypes.AgentEvent, agentId);
        Assert.Equal("nginx.restarted", (string?)republished["data"]!["event_type"]);
        Assert.Equal("42", (string?)republished["data"]!["data"]!["pid"]);
    }
}
