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
    private readonly string _state = Path.Combine(Path.GetTempPath(), "nxmesh-hub-agent-" + Guid.NewGuid().ToString("N")[..8]);

    public Task InitializeAsync() => database.ResetAsync();

    public Task DisposeAsync()
    {
        try
        {
            Directory.Delete(_state, recursive: true);
        }
        catch (IOException)
        {
        }
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

        var address = $"127.{Random.Shared.Next(1, 250)}.{Random.Shared.Next(1, 250)}.{Random.Shared.Next(2, 250)}";
        var offset = Random.Shared.Next(20, 60) * 1000;
        Directory.CreateDirectory(_state);
        await using var agent = ServerProcess.Start("dotnet", AgentDll(),
            "--master-url", $"http://127.0.0.1:{hub.GrpcPort}",
            "--registration-token", token,
            "--state-dir", _state,
            "--nginx-binary", "/usr/sbin/nginx",
            "--listen-address", address,
            "--port-offset", $"{offset}",
            "--stub-status-port", $"{offset + 99}",
            "--error-log-watch", "1",
            "--health-interval", "1",
            "--log-format", "text");

        var applied = await events.WaitForAsync(FleetEventTypes.ConfigApplied, agentId, TimeSpan.FromSeconds(60));
        Assert.True((bool?)applied["data"]!["success"], agent.Output);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var answer = "";
        await Wait.UntilAsync(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"http://{address}:{80 + offset}/");
            request.Headers.Host = "shop.example.test";
            using var response = await http.SendAsync(request);
            answer = await response.Content.ReadAsStringAsync();
            return response.StatusCode == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(20), "nginx to serve the virtual host");
        Assert.Equal("hello from the upstream", answer);

        await Wait.UntilAsync(async () =>
        {
            await using var db = database.CreateDbContext();
            var row = await db.Agents.SingleAsync(a => a.Id == agentId);
            return row.AppliedConfigId == row.DesiredConfigId && row.State == AgentState.Online && row.Capabilities.Count > 0;
        }, TimeSpan.FromSeconds(20), "the agent to be online and in sync");
    }

    private static string AgentDll()
    {
        // The agent's own output folder (its appsettings and deps), built through the ProjectReference.
        var configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "NxMesh.sln")))
        {
            directory = directory.Parent;
        }
        var dll = Path.Combine(directory?.FullName ?? throw new InvalidOperationException("NxMesh.sln not found above the test folder."),
            "NxMesh.Agent", "bin", configuration, "net10.0", "NxMesh.Agent.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("Build NxMesh.Agent first.", dll);
    }
}
