extern alias worker;

using System.Security.Cryptography;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using NxMesh.Data.Entities;
using NxMesh.Data.Messaging;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.AgentHub.Tests;

[Collection(DatabaseCollection.Name)]
public sealed class OfflineDetectionTests(DatabaseFixture database) : IAsyncLifetime
{
    public Task InitializeAsync() => database.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task The_worker_job_marks_silent_agents_offline_once_and_publishes_connection_timeout()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (silentId, _) = await Seed.EnrolledAgentAsync(database, workspaceId);
        var (liveId, _) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await SetPresenceAsync(silentId, AgentState.Online, DateTimeOffset.UtcNow.AddSeconds(-10));
        await SetPresenceAsync(liveId, AgentState.Degraded, DateTimeOffset.UtcNow.AddMinutes(10));
        await using var events = await EventListener.StartAsync(database);

        await using var workerHost = new WorkerFactory(database);
        workerHost.StartServer();

        await Wait.UntilAsync(async () => await StateAsync(silentId) == AgentState.Offline, TimeSpan.FromSeconds(20), "the silent agent to go offline");
        var disconnected = await events.WaitForAsync(FleetEventTypes.AgentDisconnected, silentId);
        Assert.Equal(DisconnectReasons.ConnectionTimeout, (string?)disconnected["data"]!["reason"]);
        Assert.Equal(workspaceId.ToString("D"), (string?)disconnected["data"]!["workspace_id"]);

        // Several more runs (every second): no second event, the live agent untouched.
        await Task.Delay(2500);
        Assert.Single(events.OfType(FleetEventTypes.AgentDisconnected, silentId));
        Assert.Empty(events.OfType(FleetEventTypes.AgentDisconnected, liveId));
        Assert.Equal(AgentState.Degraded, await StateAsync(liveId));
    }

    [Fact]
    public async Task Concurrent_runs_on_several_workers_mark_each_agent_exactly_once()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var silent = new List<Guid>();
        for (var i = 0; i < 20; i++)
        {
            var (agentId, _) = await Seed.EnrolledAgentAsync(database, workspaceId);
            await SetPresenceAsync(agentId, AgentState.Online, DateTimeOffset.UtcNow.AddMinutes(-1));
            silent.Add(agentId);
        }

        var runs = await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            await using var db = database.CreateDbContext();
            return await AgentPresence.MarkSilentAgentsOfflineAsync(db, TimeSpan.FromSeconds(3), CancellationToken.None);
        }));

        var marked = runs.SelectMany(r => r).Select(o => o.AgentId).ToList();
        Assert.Equal(silent.Order(), marked.Order());
    }

    [Fact]
    public async Task A_reconnected_agent_is_not_marked_offline_by_a_stale_connection()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, _) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using (var db = database.CreateDbContext())
        {
            await db.Agents.Where(a => a.Id == agentId).ExecuteUpdateAsync(s => s
                .SetProperty(a => a.State, AgentState.Online).SetProperty(a => a.ConnectionEpoch, 5).SetProperty(a => a.LastSeenAt, DateTimeOffset.UtcNow));
        }
        await using (var db = database.CreateDbContext())
        {
            Assert.Null(await AgentPresence.MarkConnectionOfflineAsync(db, agentId, epoch: 4, CancellationToken.None));
            Assert.Empty(await AgentPresence.MarkSilentAgentsOfflineAsync(db, TimeSpan.FromSeconds(3), CancellationToken.None));
            Assert.NotNull(await AgentPresence.MarkConnectionOfflineAsync(db, agentId, epoch: 5, CancellationToken.None));
            Assert.Null(await AgentPresence.MarkConnectionOfflineAsync(db, agentId, epoch: 5, CancellationToken.None));
        }
    }

    private async Task SetPresenceAsync(Guid agentId, AgentState state, DateTimeOffset lastSeen)
    {
        await using var db = database.CreateDbContext();
        await db.Agents.Where(a => a.Id == agentId).ExecuteUpdateAsync(s => s.SetProperty(a => a.State, state).SetProperty(a => a.LastSeenAt, lastSeen));
    }

    private async Task<AgentState> StateAsync(Guid agentId)
    {
        await using var db = database.CreateDbContext();
        return (await db.Agents.SingleAsync(a => a.Id == agentId)).State;
    }

    /// <summary>The Worker with its clustered Quartz scheduler and a 1 s heartbeat (offline after 3 s of silence).</summary>
    private sealed class WorkerFactory(DatabaseFixture database) : WebApplicationFactory<worker::Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseSetting("ConnectionStrings:nxmesh", database.ConnectionString);
            builder.UseSetting("ConnectionStrings:redis", database.RedisConnectionString);
            builder.UseSetting("DataProtection:KeyEncryptionKey", Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
            builder.UseSetting("Offline:HeartbeatIntervalSeconds", "1");
            builder.UseSetting("Offline:CheckIntervalSeconds", "1");
            builder.UseSetting("Scheduling:SchedulerName", "nxmesh-test-" + Guid.NewGuid().ToString("N")[..8]);
            builder.UseSetting("Logging:LogLevel:Default", "Warning");
            builder.UseEnvironment("Testing");
        }
    }
}
