using System.Net;
using System.Text.Json;
using NxMesh.Data.Entities;
using NxMesh.Data.Labels;
using Xunit;

namespace NxMesh.Api.Tests;

/// <summary>
/// The agents list reads access, total and page in one hand-written statement (issue 9): the item must equal what
/// GET /agents/{id} shows, merged equality requirements must keep their meaning, and revocation must stay immediate.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class AgentListQueryTests(ApiFixture api) : IAsyncLifetime
{
    private static readonly string[] ItemFields =
        ["id", "workspace_id", "name", "hostname", "ip_address", "version", "state", "deployment_mode", "last_seen_at", "capabilities", "labels", "created_at"];

    public Task InitializeAsync() => api.ResetAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task List_items_equal_the_agent_read_and_a_page_past_the_end_is_empty_with_the_total()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var agent = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-1", new() { ["env"] = "production", ["example.com/team"] = "core" });
        await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-2", new() { ["env"] = "production" }, AgentState.Degraded, withHealth: false);

        var list = await (await tenant.Owner.GetAsync($"/v1/workspaces/{tenant.WorkspaceId}/agents?label_selector=env%3Dproduction,example.com%2Fteam")).JsonAsync(HttpStatusCode.OK);
        var item = Assert.Single(list.GetProperty("data").EnumerateArray());
        var detail = await (await tenant.Owner.GetAsync($"/v1/agents/{agent.Id}")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(ItemFields, item.EnumerateObject().Select(p => p.Name));
        foreach (var field in ItemFields)
        {
            Assert.Equal(detail.GetProperty(field).GetRawText(), item.GetProperty(field).GetRawText());
        }

        var past = await (await tenant.Owner.GetAsync($"/v1/workspaces/{tenant.WorkspaceId}/agents?per_page=1&page=3")).JsonAsync(HttpStatusCode.OK);
        Assert.Empty(past.GetProperty("data").EnumerateArray());
        Assert.Equal(JsonSerializer.SerializeToElement(new { page = 3, per_page = 1, total = 2 }).GetRawText(), past.GetProperty("meta").GetRawText());

        var huge = await (await tenant.Owner.GetAsync($"/v1/workspaces/{tenant.WorkspaceId}/agents?per_page=100&page=2147483647")).JsonAsync(HttpStatusCode.OK);
        Assert.Empty(huge.GetProperty("data").EnumerateArray());
        Assert.Equal(2, huge.GetProperty("meta").GetProperty("total").GetInt32());
    }

    [Theory]
    [InlineData("env=production,env=staging")]
    [InlineData("env=production,env in (production)")]
    [InlineData("env in (production),region=us-east,tier==web")]
    [InlineData("env=production,region in (us-east),!canary")]
    [InlineData("region=us-east,env in (production,staging)")]
    public async Task Equality_requirements_merged_into_one_containment_match_the_in_memory_matcher(string text)
    {
        (string Name, Dictionary<string, string> Labels)[] fleet =
        [
            ("a", new() { ["env"] = "production", ["region"] = "us-east", ["tier"] = "web" }),
            ("b", new() { ["env"] = "production", ["region"] = "us-east", ["canary"] = "true" }),
            ("c", new() { ["env"] = "staging", ["region"] = "us-east", ["tier"] = "web" }),
            ("d", new() { ["env"] = "production", ["region"] = "eu-west", ["tier"] = "web" }),
        ];
        var tenant = await Tenants.CreateAsync(api, "acme");
        foreach (var (name, labels) in fleet)
        {
            await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, name, labels, withHealth: false);
        }
        var selector = LabelSelector.Parse(text);
        var expected = fleet.Where(a => selector.Matches(a.Labels)).Select(a => a.Name).ToArray();

        var body = await (await tenant.Owner.GetAsync($"/v1/workspaces/{tenant.WorkspaceId}/agents?label_selector={Uri.EscapeDataString(text)}")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(expected, body.GetProperty("data").EnumerateArray().Select(a => a.GetProperty("name").GetString()));
        Assert.Equal(expected.Length, body.GetProperty("meta").GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task A_removed_member_gets_404_on_the_next_list_and_another_tenant_never_sees_it()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-1", new() { ["env"] = "production" }, withHealth: false);
        var viewer = await Tenants.MemberAsync(api, tenant, "viewer");
        var other = await Tenants.CreateAsync(api, "other");
        var url = $"/v1/workspaces/{tenant.WorkspaceId}/agents?label_selector=env%3Dproduction";

        var seen = await (await viewer.GetAsync(url)).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(1, seen.GetProperty("meta").GetProperty("total").GetInt32());
        await (await other.Owner.GetAsync(url)).ErrorAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        await (await other.Owner.GetAsync($"/v1/workspaces/{Guid.NewGuid()}/agents")).ErrorAsync(HttpStatusCode.NotFound, "NOT_FOUND");

        var me = await (await viewer.GetAsync("/v1/me")).JsonAsync(HttpStatusCode.OK);
        var removed = await tenant.Owner.DeleteAsync($"/v1/organizations/{tenant.OrganizationId}/members/{me.Id()}");
        Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        await (await viewer.GetAsync(url)).ErrorAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }
}
