using System.Net;
using Aspire.Hosting.Testing;
using NxMesh.AppHost;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.EndToEnd.Tests;

/// <summary>
/// Issue 5, "two AgentHub instances sharing Redis: a change reaches agents on either", through the real AppHost: the
/// shared fleet runs two hubs, each replica holds its stream on its own hub (seen in the agent process's sockets),
/// and one REST change reaches, is applied and served by the agents of both.
/// </summary>
[Collection(FleetCollection.Name)]
public sealed class TwoAgentHubsTests(FleetFixture fleet)
{
    private static readonly TimeSpan ApplyTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_rest_change_reaches_and_is_served_by_the_agents_of_both_hubs()
    {
        using var session = await FleetSession.OpenAsync(fleet);
        var processes = new FleetProcesses(fleet);
        var agents = new Dictionary<int, Guid>();
        for (var replica = 1; replica <= FleetFixture.Replicas; replica++)
        {
            agents[replica] = await session.WaitOnlineAsync(replica, FleetFixture.ConnectTimeout);
        }

        // Each agent's stream runs on a connection to its own hub's gRPC endpoint, and both hubs hold one.
        var hubsInUse = new HashSet<string>();
        for (var replica = 1; replica <= FleetFixture.Replicas; replica++)
        {
            var hub = FleetFixture.AgentHubOf(replica);
            var hubPort = fleet.App.GetEndpoint(hub, "grpc").Port;
            var agentProcess = processes.ServiceProcess(ResourceNames.Agent(replica))
                ?? throw new InvalidOperationException($"replica {replica} is not running");
            await Wait.UntilAsync(() => Task.FromResult(FleetProcesses.ConnectionsTo(agentProcess, hubPort).Count > 0),
                FleetFixture.ConnectTimeout, $"replica {replica} connected to {hub} (port {hubPort})");
            foreach (var other in FleetFixture.AgentHubNames.Where(h => h != hub))
            {
                Assert.Empty(FleetProcesses.ConnectionsTo(agentProcess, fleet.App.GetEndpoint(other, "grpc").Port));
            }
            hubsInUse.Add(hub);
        }
        Assert.True(hubsInUse.Count >= 2, "the shared fleet runs a single AgentHub");
        Assert.Equal(FleetFixture.AgentHubNames.Order(), hubsInUse.Order());

        var before = new Dictionary<int, string?>();
        foreach (var (replica, agentId) in agents)
        {
            before[replica] = (await session.ReadApplyStateAsync(agentId)).DesiredConfigId;
        }
        await using var upstream = TestUpstream.Start("two-hubs-" + Guid.NewGuid().ToString("N")[..8]);
        var serverName = FleetSession.UniqueServerName();
        var upstreamId = await session.CreateUpstreamAsync(upstream.Address);
        Guid? vhostId = null;
        try
        {
            vhostId = await session.CreateVirtualHostAsync(serverName, upstreamId, "env=local");
            foreach (var (replica, agentId) in agents)
            {
                await session.WaitInSyncAsync(agentId, ApplyTimeout, before[replica]);
                await Wait.UntilAsync(async () => await session.GetFromReplicaAsync(replica, serverName) is (HttpStatusCode.OK, var body) && body == upstream.Name,
                    TimeSpan.FromSeconds(10), $"replica {replica} (on {FleetFixture.AgentHubOf(replica)}) serving {serverName}");
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
    }
}
