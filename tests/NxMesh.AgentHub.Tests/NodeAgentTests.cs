using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using NxMesh.Data.Entities;
using NxMesh.Data.Messaging;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.AgentHub.Tests;

/// <summary>
/// A client that is not .NET: node/agent-client.js (@grpc/grpc-js + @grpc/proto-loader loading the repository's
/// agent.proto at run time) enrolls, applies its ConfigUpdate and reports SUCCESS against a real AgentHub.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class NodeAgentTests(DatabaseFixture database) : IAsyncLifetime
{
    public Task InitializeAsync() => database.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_node_grpc_js_client_enrolls_receives_its_config_and_reports_success()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, token) = await Seed.AgentWithTokenAsync(database, workspaceId, new() { ["env"] = "prod" });
        await Seed.VirtualHostAsync(database, workspaceId, "node.example.test",
            new TargetAgents { Type = TargetAgentsType.Selector, LabelSelector = "env=prod,runtime=node" });
        await Seed.VirtualHostAsync(database, workspaceId, "elsewhere.example.test",
            new TargetAgents { Type = TargetAgentsType.Selector, LabelSelector = "runtime=go" });
        await using var events = await EventListener.StartAsync(database);
        await using var hub = new HubFactory(database);
        hub.StartServer();

        var node = await NodeClient.EnsureInstalledAsync();
        var (exitCode, output) = await ServerProcess.RunAsync("node", TimeSpan.FromSeconds(60),
            Path.Combine(node, "agent-client.js"),
            "--address", $"127.0.0.1:{hub.GrpcPort}",
            "--proto", NodeClient.ProtoPath(),
            "--token", token);

        Assert.True(exitCode == 0, output);
        var steps = output.Split('\n').Where(l => l.StartsWith('{')).Select(l => JsonNode.Parse(l)!.AsObject())
            .ToDictionary(o => (string)o["step"]!);
        Assert.Equal(agentId.ToString("D"), (string?)steps["enrolled"]["agent_id"]);
        Assert.True((bool?)steps["enrolled"]["has_credential"]);
        var update = steps["config_update"];
        Assert.Equal(["node.example.test"], update["server_names"]!.AsArray().Select(n => (string)n!));
        var configId = (string)update["config_id"]!;
        Assert.Matches("^[0-9a-f]{64}$", configId);
        Assert.Equal(agentId.ToString("D"), (string?)steps["reconnected"]["agent_id"]);
        Assert.False((bool?)steps["reconnected"]["pushed_again"], "an in-sync agent got its config pushed again");

        var applied = await events.WaitForAsync(FleetEventTypes.ConfigApplied, agentId);
        Assert.True((bool?)applied["data"]!["success"]);
        Assert.Equal(configId, (string?)applied["data"]!["config_id"]);
        Assert.Equal(25, (long?)applied["data"]!["duration_ms"]);

        await using var db = database.CreateDbContext();
        var agent = await db.Agents.SingleAsync(a => a.Id == agentId);
        Assert.Equal(configId, agent.DesiredConfigId);
        Assert.Equal(configId, agent.AppliedConfigId);
        Assert.Equal(agent.DesiredConfigVersion, agent.AppliedConfigVersion);
        Assert.Equal(ConfigApplyStatus.Success, agent.LastApplyStatus);
        Assert.Equal("node-agent", agent.Hostname);
        Assert.StartsWith("node-", agent.Version);
        Assert.Equal("node", agent.Labels["runtime"]);
        Assert.Equal("prod", agent.Labels["env"]);
        Assert.NotNull((await db.RegistrationTokens.SingleAsync(t => t.AgentId == agentId)).UsedAt);
        var history = await db.Set<Data.DesiredConfig.ConfigApplyRecord>().Where(r => r.AgentId == agentId).ToListAsync();
        var record = Assert.Single(history);
        Assert.Equal(ConfigApplyStatus.Success, record.Status);
        Assert.Equal(configId, record.ConfigId);
    }
}

/// <summary>Locates the Node client and installs its locked dependencies (npm ci) when they are missing.</summary>
internal static class NodeClient
{
    private static readonly SemaphoreSlim Install = new(1, 1);

    public static async Task<string> EnsureInstalledAsync()
    {
        var folder = Path.Combine(RepositoryRoot(), "tests", "NxMesh.AgentHub.Tests", "node");
        await Install.WaitAsync();
        try
        {
            if (!File.Exists(Path.Combine(folder, "node_modules", "@grpc", "grpc-js", "package.json"))
                || !File.Exists(Path.Combine(folder, "node_modules", "@grpc", "proto-loader", "package.json")))
            {
                var (exitCode, output) = await ServerProcess.RunAsync("npm", TimeSpan.FromMinutes(3),
                    "ci", "--prefix", folder, "--no-audit", "--no-fund");
                Assert.True(exitCode == 0, "npm ci failed:\n" + output);
            }
            return folder;
        }
        finally
        {
            Install.Release();
        }
    }

    public static string ProtoPath() => Path.Combine(RepositoryRoot(), "NxMesh.Protocol", "Protos", "agent.proto");

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "NxMesh.sln")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? throw new InvalidOperationException("NxMesh.sln not found above the test folder.");
    }
}
