using System.Net;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using NxMesh.Data.Messaging;
using StackExchange.Redis;
using Xunit;

namespace NxMesh.Api.Tests.Outbox;

/// <summary>
/// The Api publishes a committed outbox row to <see cref="HubChannels.Outbox"/> itself, right after the commit, so
/// agents do not wait for the AgentHub's outbox poll (no AgentHub, hence no relay, runs in these tests).
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class OutboxPublishTests(ApiFixture api) : IAsyncLifetime
{
    public Task InitializeAsync() => api.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_committed_change_is_published_to_the_outbox_channel_by_the_api_itself()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        await using var redis = await ConnectionMultiplexer.ConnectAsync(api.Database.RedisConnectionString);
        var received = Channel.CreateUnbounded<string>();
        await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(HubChannels.Outbox), (_, message) => received.Writer.TryWrite(message!));

        await (await tenant.Owner.PatchAsJsonAsync($"/v1/workspaces/{tenant.WorkspaceId}/settings",
            new { global_settings = new { nginx_directives = new Dictionary<string, string> { ["gzip"] = "on" } } })).JsonAsync(HttpStatusCode.OK);

        await using var db = api.Database.CreateDbContext();
        var row = (await db.Outbox.AsNoTracking().Where(o => o.Type == OutboxTypes.WorkspaceConfigChanged).ToListAsync())
            .Single(o => o.Payload.Contains("workspace_settings", StringComparison.Ordinal));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        JsonObject message;
        do
        {
            message = JsonNode.Parse(await received.Reader.ReadAsync(timeout.Token))!.AsObject();
        }
        while ((long?)message["id"] != row.Id);

        Assert.Equal(OutboxTypes.WorkspaceConfigChanged, (string?)message["type"]);
        Assert.Equal(tenant.WorkspaceId.ToString("D"), (string?)message["workspace_id"]);
        Assert.Equal("workspace_settings", (string?)message["payload"]!["resource_type"]);
        // Not relayed: the row is still unprocessed, left for the AgentHub's relay (the safety net).
        Assert.Null((await db.Outbox.AsNoTracking().SingleAsync(o => o.Id == row.Id)).ProcessedAt);
    }
}
