using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using NxMesh.Data;
using NxMesh.Data.DesiredConfig;
using NxMesh.Data.Entities;
using NxMesh.Data.Messaging;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.AgentHub.Tests;

/// <summary>
/// The fleet path at scale works in batches: a recompute resolves all agents of a workspace with one read, one build
/// per distinct target set and one UPDATE; health reports are persisted in batches. These tests hold the batches to
/// the per-agent rules: the same config_id and version as the single-agent resolver, every report stored, a stale
/// epoch still closing its stream.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class BatchingTests(DatabaseFixture database) : IAsyncLifetime
{
    public Task InitializeAsync() => database.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_change_reaches_every_agent_with_the_config_of_its_own_target_set_and_one_version_step()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var agents = new List<(Guid Id, string Credential, string Env)>();
        for (var i = 0; i < 12; i++)
        {
            var env = i % 2 == 0 ? "prod" : "dev";
            var (id, credential) = await Seed.EnrolledAgentAsync(database, workspaceId, new() { ["env"] = env, ["bench"] = "batch" });
            agents.Add((id, credential, env));
        }
        await Seed.VirtualHostAsync(database, workspaceId, "all.example.test");
        await Seed.VirtualHostAsync(database, workspaceId, "prod.example.test", new TargetAgents { Type = TargetAgentsType.Selector, LabelSelector = "env=prod" });
        // No periodic refresh: one that ran between the two inserts below would push a state in between (two version steps).
        await using var hub = new HubFactory(database, new() { ["AgentHub:DesiredRefreshSeconds"] = "600" });
        var connected = new List<TestAgent>();
        try
        {
            foreach (var (id, credential, _) in agents)
            {
                var agent = await Fleet.ConnectAsync(hub, id, credential);
                connected.Add(agent);
                await agent.ReportHealthAsync("");
            }
            var first = new List<Protocol.V1.ConfigUpdate>();
            foreach (var agent in connected)
            {
                var update = await agent.ConfigUpdateAsync(TimeSpan.FromSeconds(10));
                first.Add(update);
                await Fleet.ApplyAsync(agent, update);
            }
            Assert.Equal(2, first.Select(u => u.ConfigId).Distinct().Count());
            Assert.All(first, u => Assert.Equal(1, u.Version));

            // A change for every agent, and one (prod) agent is now also targeted by id: a third target set, for it alone.
            var chosen = agents[2].Id;
            await Seed.VirtualHostAsync(database, workspaceId, "all-2.example.test");
            await Seed.VirtualHostAsync(database, workspaceId, "one.example.test", new TargetAgents { Type = TargetAgentsType.Agents, AgentIds = [chosen] });
            await Seed.OutboxAsync(database, workspaceId);
            var second = new Dictionary<Guid, Protocol.V1.ConfigUpdate>();
            for (var i = 0; i < connected.Count; i++)
            {
                second[agents[i].Id] = await connected[i].ConfigUpdateAsync(TimeSpan.FromSeconds(10));
            }

            Assert.All(second.Values, u => Assert.Equal(2, u.Version));
            Assert.Equal(3, second.Values.Select(u => u.ConfigId).Distinct().Count());
            Assert.Equal(4, second[chosen].VirtualHosts.Count);
            Assert.Single(second.Values, u => u.VirtualHosts.Count == 4);
            Assert.All(second.Values, u => Assert.Equal(ConfigChecksum.Compute(u), u.ConfigId));
            foreach (var (id, _, env) in agents.Where(a => a.Id != chosen))
            {
                Assert.Equal(env == "prod" ? 3 : 2, second[id].VirtualHosts.Count);
            }

            // The batch wrote exactly what the single-agent resolver computes (which advances nothing now) — once its
            // UPDATE has committed: the pushes may arrive before it (PushBeforeCommitTests).
            await Wait.UntilAsync(async () =>
            {
                await using var check = database.CreateDbContext();
                return await check.Agents.CountAsync(a => a.WorkspaceId == workspaceId && a.DesiredConfigVersion == 2) == agents.Count;
            }, TimeSpan.FromSeconds(10), "the desired versions recorded");
            await using var services = ResolverServices();
            await using var db = database.CreateDbContext();
            var rows = await db.Agents.AsNoTracking().Where(a => a.WorkspaceId == workspaceId).ToDictionaryAsync(a => a.Id);
            foreach (var (id, update) in second)
            {
                await using var scope = services.CreateAsyncScope();
                var reference = await scope.ServiceProvider.GetRequiredService<DesiredConfigService>().ResolveAsync(id, null, CancellationToken.None);
                Assert.Equal((update.ConfigId, 2L, false), (reference!.Update.ConfigId, reference.Update.Version, reference.Advanced));
                Assert.Equal((update.ConfigId, 2L), (rows[id].DesiredConfigId, rows[id].DesiredConfigVersion));
            }
        }
        finally
        {
            foreach (var agent in connected)
            {
                await agent.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Health_reports_of_many_agents_are_all_stored_and_a_stale_epoch_closes_its_stream()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        await using var hub = new HubFactory(database, new() { ["AgentHub:HealthFlushMilliseconds"] = "300" });
        var agents = new List<(Guid Id, TestAgent Agent)>();
        try
        {
            for (var i = 0; i < 10; i++)
            {
                var (id, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
                agents.Add((id, await Fleet.ConnectAsync(hub, id, credential)));
            }
            // Three reports each, sent as fast as possible: they land in a few batches.
            for (var round = 0; round < 3; round++)
            {
                await Task.WhenAll(agents.Select(a => a.Agent.ReportHealthAsync($"checksum-{round}", round)));
            }
            await Wait.UntilAsync(async () =>
            {
                await using var db = database.CreateDbContext();
                return await db.HealthSnapshots.CountAsync() == 30;
            }, TimeSpan.FromSeconds(10), "30 snapshots");
            await using (var db = database.CreateDbContext())
            {
                // The newest report of each agent is on its row.
                var rows = await db.Agents.AsNoTracking().Where(a => a.WorkspaceId == workspaceId).ToListAsync();
                Assert.All(rows, r => Assert.Equal(("checksum-2", 2L, AgentState.Online), (r.AppliedConfigId, r.AppliedConfigVersion, r.State)));
                Assert.All(rows, r => Assert.NotNull(r.LastSeenAt));
                Assert.Equal(10, await db.HealthSnapshots.Select(h => h.AgentId).Distinct().CountAsync());
            }

            // Another instance accepted a newer stream of the first agent (its epoch moved on): the next report of
            // the old stream finds no current row, so the old stream is closed and the report is not stored.
            var (staleId, stale) = agents[0];
            await using (var db = database.CreateDbContext())
            {
                await db.Agents.Where(a => a.Id == staleId).ExecuteUpdateAsync(s => s.SetProperty(a => a.ConnectionEpoch, a => a.ConnectionEpoch + 1));
            }
            await stale.ReportHealthAsync("checksum-3", 3);
            await stale.Ended.WaitAsync(TimeSpan.FromSeconds(10));
            await using (var db = database.CreateDbContext())
            {
                Assert.Equal(3, await db.HealthSnapshots.CountAsync(h => h.AgentId == staleId));
                Assert.Equal("checksum-2", (await db.Agents.SingleAsync(a => a.Id == staleId)).AppliedConfigId);
            }
        }
        finally
        {
            foreach (var (_, agent) in agents)
            {
                await agent.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_command_reaches_the_agent_through_its_hub_channel_and_an_agent_held_nowhere_is_not_connected()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using var events = await EventListener.StartAsync(database);
        await using var hub = new HubFactory(database);
        var client = new NxMesh.Data.Commands.AgentCommandClient(events.Redis);
        await using (var agent = await Fleet.ConnectAsync(hub, agentId, credential))
        {
            // The stream's hub is recorded as the agent's location; no per-agent subscription exists.
            var location = await events.Redis.GetDatabase().StringGetAsync(HubChannels.AgentLocation(agentId));
            Assert.True(Guid.TryParse((string?)location, out _));
            Assert.Equal(0, await events.Redis.GetSubscriber().PublishAsync(StackExchange.Redis.RedisChannel.Literal(HubChannels.AgentCommands(agentId)), "{}"));

            var send = client.SendAsync(agentId, new Protocol.V1.Command { CommandId = "c1", Reload = new Protocol.V1.ReloadCommand() }, TimeSpan.FromSeconds(10));
            var command = (await agent.NextAsync(m => m.Command is not null, what: "the command")).Command;
            await agent.SendAsync(new Protocol.V1.AgentMessage { CommandResult = new Protocol.V1.CommandResult { CommandId = command.CommandId, Success = true, Message = "reloaded" } });
            var outcome = await send;
            Assert.Equal((NxMesh.Data.Commands.CommandOutcomeKind.Result, "reloaded"), (outcome.Kind, outcome.Message));
        }
        // The stream ended: its location is cleared, and a command is answered at once.
        await Wait.UntilAsync(async () => !(await events.Redis.GetDatabase().KeyExistsAsync(HubChannels.AgentLocation(agentId))),
            TimeSpan.FromSeconds(10), "the location cleared");
        var started = DateTimeOffset.UtcNow;
        var missing = await client.SendAsync(agentId, new Protocol.V1.Command { CommandId = "c2", Reload = new Protocol.V1.ReloadCommand() }, TimeSpan.FromSeconds(10));
        Assert.Equal(NxMesh.Data.Commands.CommandOutcomeKind.NotConnected, missing.Kind);
        Assert.True(DateTimeOffset.UtcNow - started < TimeSpan.FromSeconds(5));

        // A location left behind by an instance that is gone (killed): not connected, not a timeout.
        await events.Redis.GetDatabase().StringSetAsync(HubChannels.AgentLocation(agentId), Guid.NewGuid().ToString("D"));
        var stale = await client.SendAsync(agentId, new Protocol.V1.Command { CommandId = "c3", Reload = new Protocol.V1.ReloadCommand() }, TimeSpan.FromSeconds(10));
        Assert.Equal(NxMesh.Data.Commands.CommandOutcomeKind.NotConnected, stale.Kind);
    }

    [Fact]
    public async Task Connections_accepted_in_one_batch_each_get_their_own_epoch_and_the_label_precedence()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var ids = new List<(Guid Id, string Credential)>();
        for (var i = 0; i < 8; i++)
        {
            ids.Add(await Seed.EnrolledAgentAsync(database, workspaceId, new() { ["env"] = "stored", ["tier"] = "web" }));
        }
        await using var hub = new HubFactory(database, new() { ["AgentHub:BatchWindowMilliseconds"] = "300" });
        var registration = TestAgent.Registration(labels: new() { ["env"] = "reported", ["zone"] = "a" });
        // All at once (one window), plus the first agent twice: its two streams cannot share an epoch.
        var opening = ids.Select(a => TestAgent.OpenAsync(hub.NewConnectionClient(out _), HubFactory.Credentials(a.Id, a.Credential), registration,
            agentId: a.Id.ToString("D"))).Append(TestAgent.OpenAsync(hub.NewConnectionClient(out _),
            HubFactory.Credentials(ids[0].Id, ids[0].Credential), registration, agentId: ids[0].Id.ToString("D"))).ToList();
        var agents = await Task.WhenAll(opening);
        try
        {
            Assert.All(await Task.WhenAll(agents.Select(a => a.RegistrationAsync())), r => Assert.True(r.Success));
            // One of the first agent's two streams is replaced (closed); the other stays.
            var twins = new[] { agents[0], agents[^1] };
            await Task.WhenAny(twins.Select(t => t.Ended)).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Single(twins, t => t.Ended.IsCompleted);

            await using var db = database.CreateDbContext();
            var rows = await db.Agents.AsNoTracking().Where(a => a.WorkspaceId == workspaceId).ToDictionaryAsync(a => a.Id);
            Assert.Equal(2, rows[ids[0].Id].ConnectionEpoch);
            Assert.All(ids.Skip(1), a => Assert.Equal(1, rows[a.Id].ConnectionEpoch));
            Assert.All(rows.Values, r =>
            {
                // Reported < stored: env stays "stored", the reported zone is added.
                Assert.Equal(new Dictionary<string, string> { ["env"] = "stored", ["tier"] = "web", ["zone"] = "a" }, r.Labels);
                Assert.Equal((AgentState.Online, "web-01", "0.1.0-test", DeploymentMode.Standalone), (r.State, r.Hostname, r.Version, r.DeploymentMode));
                Assert.Equal(["http2", "ssl"], r.Capabilities);
                Assert.NotNull(r.LastSeenAt);
            });
            Assert.Equal(8, await db.AgentCredentials.CountAsync(c => c.AgentId != Guid.Empty && c.LastUsedAt != null));
        }
        finally
        {
            foreach (var agent in agents)
            {
                await agent.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task An_agent_deleted_while_connected_does_not_stop_a_change_reaching_the_others()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (keptId, keptCredential) = await Seed.EnrolledAgentAsync(database, workspaceId, new() { ["env"] = "prod" });
        var (goneId, goneCredential) = await Seed.EnrolledAgentAsync(database, workspaceId, new() { ["env"] = "prod" });
        await Seed.VirtualHostAsync(database, workspaceId, "first.example.test");
        await using var hub = new HubFactory(database);
        await using var kept = await Fleet.ConnectAsync(hub, keptId, keptCredential);
        await using var gone = await Fleet.ConnectAsync(hub, goneId, goneCredential);
        foreach (var agent in new[] { kept, gone })
        {
            await agent.ReportHealthAsync("");
            await Fleet.ApplyAsync(agent, await agent.ConfigUpdateAsync(TimeSpan.FromSeconds(10)));
        }

        // The row goes without the agent.deleted notification (as when the Api's delete and this change race):
        // the hub still holds its stream when the next change of the workspace is resolved.
        await using (var db = database.CreateDbContext())
        {
            await db.Database.ExecuteSqlAsync($"DELETE FROM agents WHERE id = {goneId}");
        }
        await Seed.VirtualHostAsync(database, workspaceId, "second.example.test");
        await Seed.OutboxAsync(database, workspaceId);

        var update = await kept.ConfigUpdateAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(2, update.VirtualHosts.Count);
        Assert.Equal(2, update.Version);
    }

    private ServiceProvider ResolverServices()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DataProtection:KeyEncryptionKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
        }).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddDbContext<NxMeshDbContext>(o => o.UseNpgsql(database.ConnectionString));
        services.AddNxMeshDataProtection(configuration);
        services.AddScoped<DesiredConfigBuilder>();
        services.AddScoped<DesiredConfigService>();
        return services.BuildServiceProvider();
    }
}
