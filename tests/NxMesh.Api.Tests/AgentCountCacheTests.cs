using System.Net;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using NxMesh.Api.Agents;
using NxMesh.Data.Entities;
using Xunit;

namespace NxMesh.Api.Tests;

/// <summary>
/// The agents list's total is cached per (workspace, selector) and agent-set generation (issue 9): it must be reused
/// while nothing changed and stay exact through every kind of change — by the Api, by AgentHub's raw SQL, and by
/// another Api instance.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class AgentCountCacheTests(ApiFixture api) : IAsyncLifetime
{
    public Task InitializeAsync() => api.ResetAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task The_total_is_reused_while_unchanged_and_exact_after_insert_label_change_and_delete()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var agents = new List<Agent>();
        for (var i = 0; i < 3; i++)
        {
            agents.Add(await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, $"web-{i}", new() { ["env"] = "production" }, withHealth: false));
        }
        await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "db-0", new() { ["env"] = "staging" }, withHealth: false);
        var cache = api.Factory.Services.GetRequiredService<AgentCountCache>();

        Assert.Equal(3, await TotalAsync(tenant.Owner, tenant.WorkspaceId));
        var hits = cache.Hits;
        Assert.Equal(3, await TotalAsync(tenant.Owner, tenant.WorkspaceId));
        Assert.Equal(hits + 1, cache.Hits);

        await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-3", new() { ["env"] = "production" }, withHealth: false);
        Assert.Equal(4, await TotalAsync(tenant.Owner, tenant.WorkspaceId));

        var patched = await tenant.Owner.PatchAsJsonAsync($"/v1/agents/{agents[0].Id}", new { labels = new Dictionary<string, string> { ["env"] = "staging" } });
        await patched.JsonAsync(HttpStatusCode.OK);
        Assert.Equal(3, await TotalAsync(tenant.Owner, tenant.WorkspaceId));

        Assert.Equal(HttpStatusCode.NoContent, (await tenant.Owner.DeleteAsync($"/v1/agents/{agents[1].Id}")).StatusCode);
        Assert.Equal(2, await TotalAsync(tenant.Owner, tenant.WorkspaceId));

        // AgentHub's connect writer merges reported labels in raw SQL.
        await using (var db = api.Database.CreateDbContext())
        {
            await db.Database.ExecuteSqlAsync($$"""UPDATE agents SET labels = labels || '{"env":"production"}'::jsonb WHERE name = 'db-0'""");
        }
        Assert.Equal(3, await TotalAsync(tenant.Owner, tenant.WorkspaceId));
        hits = cache.Hits;
        Assert.Equal(3, await TotalAsync(tenant.Owner, tenant.WorkspaceId));
        Assert.Equal(hits + 1, cache.Hits);
    }

    [Fact]
    public async Task State_and_health_writes_keep_the_cached_total_and_a_state_filter_is_always_counted()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        for (var i = 0; i < 2; i++)
        {
            await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, $"web-{i}", new() { ["env"] = "production" }, withHealth: false);
        }
        var cache = api.Factory.Services.GetRequiredService<AgentCountCache>();
        Assert.Equal(2, await TotalAsync(tenant.Owner, tenant.WorkspaceId));
        Assert.Equal(2, await TotalAsync(tenant.Owner, tenant.WorkspaceId, "&state=online"));

        await using (var db = api.Database.CreateDbContext())
        {
            // What the health writer, the offline job and a reconnect with unchanged labels write.
            await db.Database.ExecuteSqlAsync($"UPDATE agents SET state = 'offline', last_seen_at = now(), labels = labels || '{{}}'::jsonb WHERE name = 'web-0'");
        }
        var hits = cache.Hits;
        Assert.Equal(2, await TotalAsync(tenant.Owner, tenant.WorkspaceId));
        Assert.Equal(hits + 1, cache.Hits);
        Assert.Equal(1, await TotalAsync(tenant.Owner, tenant.WorkspaceId, "&state=online"));
        Assert.Equal(1, await TotalAsync(tenant.Owner, tenant.WorkspaceId, "&state=offline"));
        Assert.Equal(hits + 1, cache.Hits);
    }

    [Fact]
    public async Task Another_instance_sees_a_change_made_through_the_first_and_a_workspace_with_agents_can_be_deleted()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var agent = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-0", new() { ["env"] = "production" }, withHealth: false);
        await using var second = api.CreateFactory();
        var other = second.CreateClient();
        other.DefaultRequestHeaders.Authorization = tenant.Owner.DefaultRequestHeaders.Authorization;
        Assert.Equal(1, await TotalAsync(other, tenant.WorkspaceId));

        Assert.Equal(HttpStatusCode.NoContent, (await tenant.Owner.DeleteAsync($"/v1/agents/{agent.Id}")).StatusCode);
        Assert.Equal(0, await TotalAsync(other, tenant.WorkspaceId));

        await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-1", new() { ["env"] = "production" }, withHealth: false);
        Assert.Equal(1, await TotalAsync(other, tenant.WorkspaceId));
        // The agents' cascade bumps no generation of the workspace being deleted (it would violate the foreign key).
        Assert.Equal(HttpStatusCode.NoContent, (await tenant.Owner.DeleteAsync($"/v1/workspaces/{tenant.WorkspaceId}?force=true")).StatusCode);
        await (await other.GetAsync($"/v1/workspaces/{tenant.WorkspaceId}/agents")).ErrorAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }

    private static async Task<int> TotalAsync(HttpClient client, Guid workspaceId, string extra = "")
    {
        var body = await (await client.GetAsync($"/v1/workspaces/{workspaceId}/agents?label_selector=env%3Dproduction&per_page=1{extra}")).JsonAsync(HttpStatusCode.OK);
        return body.GetProperty("meta").GetProperty("total").GetInt32();
    }
}
