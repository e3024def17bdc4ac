using System.Net;
using System.Text.Json.Nodes;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.EndToEnd.Tests;

/// <summary>
/// Issue 5's first Must-show through the real AppHost: the local fleet enrolls itself, a change made through REST
/// reaches exactly the agents its selector targets and is served by their nginx, a configuration nginx rejects is
/// reported and leaves the previous site serving, and a reload travels REST → Redis → AgentHub → agent and back.
/// </summary>
[Collection(FleetCollection.Name)]
public sealed class FleetPathTests(FleetFixture fleet)
{
    private static readonly TimeSpan EnrollTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan ApplyTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task The_local_fleet_enrolls_itself_and_every_replica_becomes_online()
    {
        using var session = await FleetSession.OpenAsync(fleet);
        await Wait.UntilAsync(async () =>
        {
            var agents = await session.ListAgentsAsync();
            return agents.Count == FleetFixture.Replicas && agents.All(a => (string?)a["state"] == "online");
        }, EnrollTimeout, "every replica online");

        var listed = await session.ListAgentsAsync();
        Assert.Equal(
            Enumerable.Range(1, FleetFixture.Replicas).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            listed.Select(a => (string)a["labels"]!["replica"]!).Order());
        foreach (var agent in listed)
        {
            Assert.Equal("standalone", (string?)agent["deployment_mode"]);
            Assert.False(string.IsNullOrEmpty((string?)agent["hostname"]));
            Assert.Equal("local", (string?)agent["labels"]!["env"]);
        }
    }

    [Fact]
    public async Task A_virtual_host_for_replica_1_is_served_by_replica_1_only()
    {
        using var session = await FleetSession.OpenAsync(fleet);
        var agent1 = await session.WaitOnlineAsync(1, EnrollTimeout);
        await session.WaitOnlineAsync(2, EnrollTimeout);
        await using var upstream = TestUpstream.Start("e2e-upstream-" + Guid.NewGuid().ToString("N")[..8]);
        var serverName = FleetSession.UniqueServerName();

        var before = await session.ReadApplyStateAsync(agent1);

        var upstreamId = await session.CreateUpstreamAsync(upstream.Address);
        await session.CreateVirtualHostAsync(serverName, upstreamId, "replica=1");

        // SUCCESS of the new desired config on GET /agents/{id} …
        var applied = await session.WaitInSyncAsync(agent1, ApplyTimeout, before.DesiredConfigId);
        Assert.Equal("success", applied.LastApplyStatus);
        // … and nginx answers with the upstream. The agent reports SUCCESS once the new worker generation runs; old
        // workers may still take a connection for a few milliseconds until they handle the master's QUIT, so this
        // is a (short, bounded) wait rather than a single request.
        await Wait.UntilAsync(async () => await session.GetFromReplicaAsync(1, serverName) is (HttpStatusCode.OK, var body) && body == upstream.Name,
            TimeSpan.FromSeconds(5), $"replica 1 serving {serverName} after SUCCESS");
        Assert.True(upstream.RequestCount > 0);

        var (status, _) = await session.GetFromReplicaAsync(2, serverName);
        Assert.Equal(HttpStatusCode.NotFound, status);
    }

    [Fact]
    public async Task A_virtual_host_nginx_rejects_is_reported_and_the_previous_site_is_still_served()
    {
        using var session = await FleetSession.OpenAsync(fleet);
        var agent1 = await session.WaitOnlineAsync(1, EnrollTimeout);
        await using var upstream = TestUpstream.Start("e2e-kept-" + Guid.NewGuid().ToString("N")[..8]);
        var goodName = FleetSession.UniqueServerName();
        var goodUpstream = await session.CreateUpstreamAsync(upstream.Address);
        await session.CreateVirtualHostAsync(goodName, goodUpstream, "replica=1");
        await Wait.UntilAsync(async () => await session.GetFromReplicaAsync(1, goodName) is (HttpStatusCode.OK, var body) && body == upstream.Name,
            ApplyTimeout, $"replica 1 serving {goodName}");
        var good = await session.WaitInSyncAsync(agent1, ApplyTimeout);

        // The Api accepts a hostname upstream; nginx resolves it at load ("host not found in upstream") and refuses.
        var badUpstream = await session.CreateUpstreamAsync("nxmesh-e2e-missing.invalid:80");
        var badHost = await session.CreateVirtualHostAsync(FleetSession.UniqueServerName(), badUpstream, "replica=1");
        try
        {
            ApplyState? failed = null;
            await Wait.UntilAsync(async () =>
            {
                failed = await session.ReadApplyStateAsync(agent1);
                return failed.DesiredConfigId != good.DesiredConfigId && failed.LastApplyStatus is "failed" or "rolled_back";
            }, ApplyTimeout, "GET /agents/{id} showing the rejected configuration");
            Assert.Equal(good.AppliedConfigId, failed!.AppliedConfigId);
            Assert.False(failed.InSync);
            Assert.Contains("host not found", failed.LastApplyError, StringComparison.Ordinal);

            // Visible through the Api: the agent is degraded (its last apply of the desired config failed).
            await Wait.UntilAsync(async () => (string?)(await session.GetAgentAsync(agent1))["state"] == "degraded",
                ApplyTimeout, "replica 1 degraded on GET /agents/{id}");

            var (status, body) = await session.GetFromReplicaAsync(1, goodName);
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal(upstream.Name, body);
        }
        finally
        {
            // Leave the workspace deployable for the other tests in this collection.
            await session.DeleteAsync($"/v1/virtual-hosts/{badHost}");
            await session.DeleteAsync($"/v1/upstreams/{badUpstream}");
        }
        // Removing the rejected host makes the desired content that of the good config again: same config_id, which
        // the agent already runs, so nothing is re-applied; the record reflects the config the agent runs again.
        ApplyState? restored = null;
        await Wait.UntilAsync(async () => (restored = await session.ReadApplyStateAsync(agent1)) is var s && s.DesiredConfigId == good.DesiredConfigId
                && s.AppliedConfigId == good.DesiredConfigId && s.InSync && s.LastApplyStatus == "success",
            ApplyTimeout, "replica 1's desired config back to the good one, its last apply status success");
        Assert.Null(restored!.LastApplyError);
        await Wait.UntilAsync(async () => (string?)(await session.GetAgentAsync(agent1))["state"] == "online",
            ApplyTimeout, "replica 1 online again");
        Assert.Equal(HttpStatusCode.OK, (await session.GetFromReplicaAsync(1, goodName)).Status);
    }

    [Fact]
    public async Task Reload_through_rest_reaches_the_agent_and_answers_its_result()
    {
        using var session = await FleetSession.OpenAsync(fleet);
        var agent2 = await session.WaitOnlineAsync(2, EnrollTimeout);
        using var response = await session.Http.PostAsync(new Uri($"/v1/agents/{agent2}/reload", UriKind.Relative), null);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        var body = JsonNode.Parse(text)!;
        Assert.True((bool)body["success"]!, text);
        Assert.False(string.IsNullOrEmpty((string?)body["message"]));
        Assert.True(DateTimeOffset.UtcNow - DateTimeOffset.Parse((string)body["timestamp"]!, System.Globalization.CultureInfo.InvariantCulture) < TimeSpan.FromMinutes(1));
    }
}
