using System.Net;
using Microsoft.Extensions.DependencyInjection;
using NxMesh.Api.Agents;
using Xunit;

namespace NxMesh.Api.Tests;

/// <summary>
/// Once a selector's total is cached, the agents list reads its page by a name-order walk on generic plans (issue 9):
/// the same pages and totals as the counted statement, a change of the agent set falls back to counting, and access
/// is still decided per request.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class AgentListWalkTests(ApiFixture api) : IAsyncLifetime
{
    public Task InitializeAsync() => api.ResetAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Walked_pages_match_the_counted_ones_and_a_new_agent_is_counted_before_the_next_walk()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        for (var i = 0; i < 12; i++)
        {
            await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, $"agent-{i:D2}", new() { ["role"] = i % 3 == 0 ? "db" : "web" }, withHealth: false);
        }
        var cache = api.Factory.Services.GetRequiredService<AgentCountCache>();
        var url = $"/v1/workspaces/{tenant.WorkspaceId}/agents?label_selector=role%3Dweb&per_page=3";

        var counted = new List<string>();
        for (var page = 1; page <= 3; page++)
        {
            // A state filter is never cached: these pages come from the counted statement with its custom plan.
            counted.AddRange(await NamesAsync(tenant.Owner, $"{url}&state=online&page={page}", 8));
        }
        Assert.Equal(["agent-01", "agent-02", "agent-04", "agent-05", "agent-07", "agent-08", "agent-10", "agent-11"], counted);

        await NamesAsync(tenant.Owner, url, 8);
        var walks = cache.Walks;
        var walked = new List<string>();
        for (var page = 1; page <= 3; page++)
        {
            walked.AddRange(await NamesAsync(tenant.Owner, $"{url}&page={page}", 8));
        }
        Assert.Equal(counted, walked);
        Assert.Equal(walks + 3, cache.Walks);

        await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "agent-00a", new() { ["role"] = "web" }, withHealth: false);
        walks = cache.Walks;
        Assert.Equal(["agent-00a", "agent-01", "agent-02"], await NamesAsync(tenant.Owner, url, 9));
        Assert.Equal(walks, cache.Walks);
        Assert.Equal(["agent-00a", "agent-01", "agent-02"], await NamesAsync(tenant.Owner, url, 9));
        Assert.Equal(walks + 1, cache.Walks);
    }

    [Fact]
    public async Task A_viewer_reads_through_the_walk_and_another_organization_is_refused()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-1", new() { ["env"] = "production" }, withHealth: false);
        var viewer = await Tenants.MemberAsync(api, tenant, "viewer");
        var other = await Tenants.CreateAsync(api, "other");
        var cache = api.Factory.Services.GetRequiredService<AgentCountCache>();
        var url = $"/v1/workspaces/{tenant.WorkspaceId}/agents?label_selector=env%3Dproduction";
        await NamesAsync(tenant.Owner, url, 1);

        var walks = cache.Walks;
        Assert.Equal(["web-1"], await NamesAsync(viewer, url, 1));
        Assert.Equal(walks + 1, cache.Walks);
        // Another organization's owner is refused by the walk's membership row, not by the cache.
        await (await other.Owner.GetAsync(url)).ErrorAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }

    private static async Task<List<string>> NamesAsync(HttpClient client, string url, int total)
    {
        var body = await (await client.GetAsync(url)).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(total, body.GetProperty("meta").GetProperty("total").GetInt32());
        return [.. body.GetProperty("data").EnumerateArray().Select(a => a.GetProperty("name").GetString()!)];
    }
}
