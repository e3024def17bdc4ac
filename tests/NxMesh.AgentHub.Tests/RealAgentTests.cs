using System.Net;
using Microsoft.EntityFrameworkCore;
using NxMesh.Data.Entities;
using NxMesh.Data.Messaging;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.AgentHub.Tests;

/// <summary>The real agent process (NxMesh.Agent supervising nginx) against this AgentHub: the fleet path end to end.</summary>
[Collection(DatabaseCollection.Name)]
public sealed class RealAgentTests(DatabaseFixture database) : IAsyncLifetime
{
    private readonly RealAgent _agent = new("hub-agent");

    public Task InitializeAsync() => database.ResetAsync();

    public Task DisposeAsync()
    {
        _agent.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_real_agent_enrolls_applies_the_pushed_config_and_nginx_serves_the_upstream()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, token) = await Seed.AgentWithTokenAsync(database, workspaceId, new() { ["env"] = "prod" });
        await using var upstream = TestUpstream.Start("hello from the upstream");
        Guid upstreamId;
        await using (var db = database.CreateDbContext())
        {
            var row = new Upstream { WorkspaceId = workspaceId, Name = "app", Servers = [new UpstreamServerSpec { Address = upstream.Address }] };
            db.Add(row);
            await db.SaveChangesAsync();
            upstreamId = row.Id;
        }
        await Seed.VirtualHostAsync(database, workspaceId, "shop.example.test",
            new TargetAgents { Type = TargetAgentsType.Selector, LabelSelector = "env=prod" }, upstreamId);
        await using var events = await EventListener.StartAsync(database);
        await using var hub = new HubFactory(database);
        hub.StartServer();

        await using var agent = _agent.Start(hub.GrpcPort, token);

        var applied = await events.WaitForAsync(FleetEventTypes.ConfigApplied, agentId, TimeSpan.FromSeconds(60));
        Assert.True((bool?)applied["data"]!["success"], agent.Output);
        Assert.Equal("hello from the upstream", await ServedAsync("shop.example.test"));
        await InSyncAsync(agentId);
    }

    [Fact]
    public async Task When_the_hub_is_down_nginx_keeps_serving_and_after_a_restart_the_agent_is_back_in_sync()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, token) = await Seed.AgentWithTokenAsync(database, workspaceId);
        await using var upstream = TestUpstream.Start("still here");
        Guid upstreamId;
        await using (var db = database.CreateDbContext())
        {
            var row = new Upstream { WorkspaceId = workspaceId, Name = "app", Servers = [new UpstreamServerSpec { Address = upstream.Address }] };
            db.Add(row);
            await db.SaveChangesAsync();
            upstreamId = row.Id;
        }
        await Seed.VirtualHostAsync(database, workspaceId, "first.example.test", upstreamId: upstreamId);
        await using var hub = new HubFactory(database);
        hub.StartServer();
        var port = hub.GrpcPort;
        await using var agent = _agent.Start(port, token);
        Assert.Equal("still here", await ServedAsync("first.example.test", TimeSpan.FromSeconds(60)));
        await InSyncAsync(agentId);

        await hub.DisposeAsync();
        await Wait.UntilAsync(async () =>
        {
            await using var db = database.CreateDbContext();
            return (await db.Agents.SingleAsync(a => a.Id == agentId)).State == AgentState.Offline;
        }, TimeSpan.FromSeconds(10), "the stopped hub to mark the agent offline");
        Assert.Equal("still here", await ServedAsync("first.example.test"));

        // Changed while no hub runs; the restarted hub relays the outbox and the agent's checksum differs anyway.
        await Seed.VirtualHostAsync(database, workspaceId, "second.example.test", upstreamId: upstreamId);
        await Seed.OutboxAsync(database, workspaceId);
        await using var restarted = new HubFactory(database, grpcPort: port);
        restarted.StartServer();

        Assert.Equal("still here", await ServedAsync("second.example.test", TimeSpan.FromSeconds(60)));
        await InSyncAsync(agentId);
    }


    private async Task<string> ServedAsync(string host, TimeSpan? timeout = null)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var answer = "";
        await Wait.UntilAsync(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, _agent.Url());
            request.Headers.Host = host;
            using var response = await http.SendAsync(request);
            answer = await response.Content.ReadAsStringAsync();
            return response.StatusCode == HttpStatusCode.OK;
        }, timeout ?? TimeSpan.FromSeconds(20), $"nginx to serve {host}");
        return answer;
    }

    private async Task InSyncAsync(Guid agentId) =>
        await Wait.UntilAsync(async () =>
        {
            await using var db = database.CreateDbContext();
            var row = await db.Agents.SingleAsync(a => a.Id == agentId);
            return row.AppliedConfigId == row.DesiredConfigId && row.State == AgentState.Online && row.Capabilities.Count > 0;
        }, TimeSpan.FromSeconds(30), "the agent to be online and in sync");
}
