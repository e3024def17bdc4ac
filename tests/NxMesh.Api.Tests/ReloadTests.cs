using System.Net;
using System.Text.Json.Nodes;
using Google.Protobuf;
using NxMesh.Data.Messaging;
using NxMesh.Protocol.V1;
using StackExchange.Redis;
using Xunit;

namespace NxMesh.Api.Tests;

/// <summary>Reload through the command path: a stand-in AgentHub subscribes to the agent's command channel in Redis.</summary>
[Collection(ApiCollection.Name)]
public sealed class ReloadTests(ApiFixture api) : IAsyncLifetime
{
    public Task InitializeAsync() => api.ResetAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_connected_agent_reloads_and_the_answer_has_the_spec_shape()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var agent = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-1", []);
        await using var hub = await ConnectionMultiplexer.ConnectAsync(api.Database.RedisConnectionString);
        Command? received = null;
        await hub.GetSubscriber().SubscribeAsync(RedisChannel.Literal(HubChannels.AgentCommands(agent.Id)), (_, message) =>
        {
            var request = JsonNode.Parse((string)message!)!;
            received = JsonParser.Default.Parse<Command>((string)request["command"]!);
            var result = new CommandResult { CommandId = received.CommandId, Success = true, Message = "Nginx reloaded successfully", CompletedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
            var reply = new JsonObject { ["status"] = "result", ["result"] = JsonFormatter.Default.Format(result) };
            hub.GetSubscriber().Publish(RedisChannel.Literal((string)request["reply_to"]!), reply.ToJsonString());
        });

        var body = await (await tenant.Owner.PostAsync($"/v1/agents/{agent.Id}/reload", null)).JsonAsync(HttpStatusCode.OK);
        SpecExamples.AssertShape(SpecExamples.Response("Reload Agent Nginx"), body);
        Assert.True(body.GetProperty("success").GetBoolean());
        Assert.NotNull(received);
        Assert.Equal(Command.CommandOneofCase.Reload, received!.CommandCase);
        Assert.True(received.Reload.Graceful);
    }

    [Fact]
    public async Task An_agent_that_does_not_answer_in_time_answers_503()
    {
        await using var factory = api.CreateFactory(new Dictionary<string, string?> { ["AgentCommands:TimeoutSeconds"] = "1" });
        await api.CreateUserAsync("owner@example.com");
        var owner = await ApiFixture.LoginAsync(factory, "owner@example.com");
        var org = await (await owner.PostAsync("/v1/organizations", System.Net.Http.Json.JsonContent.Create(new { name = "A", slug = "a" }))).JsonAsync(HttpStatusCode.Created);
        var ws = await (await owner.PostAsync($"/v1/organizations/{org.Id()}/workspaces", System.Net.Http.Json.JsonContent.Create(new { name = "W", slug = "w" }))).JsonAsync(HttpStatusCode.Created);
        var agent = await Tenants.SeedAgentAsync(api, ws.Id(), "web-1", []);
        await using var hub = await ConnectionMultiplexer.ConnectAsync(api.Database.RedisConnectionString);
        await hub.GetSubscriber().SubscribeAsync(RedisChannel.Literal(HubChannels.AgentCommands(agent.Id)), (_, _) => { });
        var error = await (await owner.PostAsync($"/v1/agents/{agent.Id}/reload", null)).ErrorAsync(HttpStatusCode.ServiceUnavailable, "SERVICE_UNAVAILABLE");
        Assert.Contains("did not answer", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }
}
