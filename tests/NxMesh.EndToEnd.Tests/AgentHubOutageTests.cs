using System.Net;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using NxMesh.AppHost;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.EndToEnd.Tests;

/// <summary>
/// Issue 5, "kill the AgentHub", through the real AppHost: every AgentHub process is SIGKILLed while the replicas
/// serve a virtual host; their nginx keeps serving; a replica restarted (DCP's restart command) while no hub runs
/// comes back serving its last known good config from its state folder; when the hubs start again every agent
/// reconnects and is back in sync. The fleet is restored (hubs and replicas running, site deleted) whatever happens.
/// </summary>
[Collection(FleetCollection.Name)]
public sealed class AgentHubOutageTests(FleetFixture fleet)
{
    private static readonly TimeSpan ApplyTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ResourceTimeout = TimeSpan.FromSeconds(180);
    private const int RestartedReplica = 1;

    [Fact]
    public void Local_replicas_wait_for_the_migrator_only_so_they_start_while_no_hub_runs()
    {
        var model = fleet.App.Services.GetRequiredService<DistributedApplicationModel>();
        for (var replica = 1; replica <= FleetFixture.Replicas; replica++)
        {
            var agent = model.Resources.Single(r => r.Name == ResourceNames.Agent(replica));
            var wait = Assert.Single(agent.Annotations.OfType<WaitAnnotation>());
            Assert.Equal(ResourceNames.Migrator, wait.Resource.Name);
            Assert.Equal(WaitType.WaitForCompletion, wait.WaitType);
        }
    }

    [Fact]
    public async Task With_every_hub_killed_nginx_keeps_serving_a_restarted_agent_serves_its_last_known_good_config_and_all_resync_when_the_hubs_return()
    {
        using var session = await FleetSession.OpenAsync(fleet);
        var processes = new FleetProcesses(fleet);
        var agents = new Dictionary<int, Guid>();
        for (var replica = 1; replica <= FleetFixture.Replicas; replica++)
        {
            agents[replica] = await session.WaitOnlineAsync(replica, FleetFixture.ConnectTimeout);
        }
        var before = new Dictionary<int, string?>();
        foreach (var (replica, agentId) in agents)
        {
            before[replica] = (await session.ReadApplyStateAsync(agentId)).DesiredConfigId;
        }
        await using var upstream = TestUpstream.Start("outage-" + Guid.NewGuid().ToString("N")[..8]);
        var serverName = FleetSession.UniqueServerName();
        var upstreamId = await session.CreateUpstreamAsync(upstream.Address);
        Guid? vhostId = null;
        try
        {
            vhostId = await session.CreateVirtualHostAsync(serverName, upstreamId, "env=local");
            foreach (var (replica, agentId) in agents)
            {
                await session.WaitInSyncAsync(agentId, ApplyTimeout, before[replica]);
                await WaitServedAsync(session, replica, serverName, upstream, TimeSpan.FromSeconds(10));
            }

            // Set when the hubs start again: while none runs, nothing writes an agent's last_seen_at.
            DateTimeOffset hubsBackFrom;
            try
            {
                foreach (var hub in FleetFixture.AgentHubNames)
                {
                    await processes.KillAsync(hub, ResourceTimeout);
                }

                // No hub anywhere: every replica's nginx still serves the site.
                foreach (var replica in agents.Keys)
                {
                    await WaitServedAsync(session, replica, serverName, upstream, TimeSpan.FromSeconds(5));
                }

                // One replica restarts while no hub runs: the new agent process starts its own nginx on the last known
                // good config from its state folder and serves the site; the old nginx went with the old agent.
                var replicaResource = ResourceNames.Agent(RestartedReplica);
                var oldPid = processes.ResourcePid(replicaResource);
                var oldMasters = processes.NginxMasters(replicaResource);
                Assert.Single(oldMasters);
                await processes.CommandAsync(replicaResource, KnownResourceCommands.RestartCommand);
                IReadOnlyList<int> newMasters = [];
                await Wait.UntilAsync(() => Task.FromResult(processes.ResourcePid(replicaResource) is { } pid && pid != oldPid
                        && (newMasters = processes.NginxMasters(replicaResource)).Count == 1),
                    ResourceTimeout, $"{replicaResource} running again with its own nginx master");
                Assert.False(FleetProcesses.IsAlive(oldMasters[0]), $"the old nginx master {oldMasters[0]} outlived its agent");
                await WaitServedAsync(session, RestartedReplica, serverName, upstream, ResourceTimeout);
                foreach (var hub in FleetFixture.AgentHubNames)
                {
                    Assert.Null(processes.ResourcePid(hub));
                }
                foreach (var replica in agents.Keys)
                {
                    await WaitServedAsync(session, replica, serverName, upstream, TimeSpan.FromSeconds(5));
                }
            }
            finally
            {
                hubsBackFrom = DateTimeOffset.UtcNow;
                foreach (var hub in FleetFixture.AgentHubNames)
                {
                    await processes.EnsureRunningAsync(hub, ResourceTimeout);
                }
                for (var replica = 1; replica <= FleetFixture.Replicas; replica++)
                {
                    await processes.EnsureRunningAsync(ResourceNames.Agent(replica), ResourceTimeout);
                }
            }

            // Every agent reconnects (a registration is followed by a health report, which stamps last_seen_at; nothing
            // else writes it while no hub runs) and is in sync again, serving the site.
            foreach (var (replica, agentId) in agents)
            {
                await Wait.UntilAsync(async () => await session.GetAgentAsync(agentId) is var agent
                        && (string?)agent["state"] is "online" or "degraded"
                        // last_seen_at has whole seconds.
                        && (DateTimeOffset?)agent["last_seen_at"] >= hubsBackFrom.AddSeconds(-1),
                    FleetFixture.ConnectTimeout, $"replica {replica} reconnected to {FleetFixture.AgentHubOf(replica)}");
                await session.WaitInSyncAsync(agentId, ApplyTimeout);
                await WaitServedAsync(session, replica, serverName, upstream, TimeSpan.FromSeconds(10));
            }
        }
        finally
        {
            if (vhostId is { } id)
            {
                await session.DeleteAsync($"/v1/virtual-hosts/{id}");
            }
            await session.DeleteAsync($"/v1/upstreams/{upstreamId}");
        }
        // Later tests in the shared fleet find every agent in sync on the config without the site.
        foreach (var (replica, agentId) in agents)
        {
            await Wait.UntilAsync(async () => (await session.ReadApplyStateAsync(agentId)) is { InSync: true, LastApplyStatus: "success" }
                    && (await session.GetFromReplicaAsync(replica, serverName)).Status == HttpStatusCode.NotFound,
                ApplyTimeout, $"replica {replica} in sync without {serverName}");
        }
    }

    private static Task WaitServedAsync(FleetSession session, int replica, string serverName, TestUpstream upstream, TimeSpan timeout) =>
        Wait.UntilAsync(async () => await session.GetFromReplicaAsync(replica, serverName) is (HttpStatusCode.OK, var body) && body == upstream.Name,
            timeout, $"replica {replica} serving {serverName}");
}
