using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Xunit;

namespace NxMesh.Api.Tests;

[Collection(ApiCollection.Name)]
public sealed class AuditLogTests(ApiFixture api) : IAsyncLifetime
{
    public Task InitializeAsync() => api.ResetAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Mutations_are_recorded_with_actor_before_and_after_and_no_secrets()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var agent = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-1", new() { ["env"] = "staging" });
        await (await tenant.Owner.PatchAsJsonAsync($"/v1/agents/{agent.Id}", new { labels = new Dictionary<string, string> { ["env"] = "production" } })).JsonAsync(HttpStatusCode.OK);
        var token = await (await tenant.Owner.PostAsJsonAsync($"/v1/workspaces/{tenant.WorkspaceId}/agents/tokens", new { name = "web-2" })).JsonAsync(HttpStatusCode.Created);
        var member = await (await tenant.Owner.PostAsJsonAsync($"/v1/organizations/{tenant.OrganizationId}/members", new { email = "new@example.com", role = "viewer" })).JsonAsync(HttpStatusCode.Created);

        var log = await (await tenant.Owner.GetAsync($"/v1/organizations/{tenant.OrganizationId}/audit-log")).JsonAsync(HttpStatusCode.OK);
        var entries = log.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(["create:member", "create:registration_token", "update:agent", "create:workspace", "create:organization"],
            entries.Select(e => $"{e.GetProperty("action").GetString()}:{e.GetProperty("resource_type").GetString()}"));
        var update = entries.Single(e => e.GetProperty("resource_type").GetString() == "agent");
        Assert.Equal("staging", update.GetProperty("before").GetProperty("labels").GetProperty("env").GetString());
        Assert.Equal("production", update.GetProperty("after").GetProperty("labels").GetProperty("env").GetString());
        Assert.Equal(tenant.UserId, update.GetProperty("actor").GetProperty("user_id").GetGuid());
        Assert.Equal("owner@acme.example.com", update.GetProperty("actor").GetProperty("email").GetString());
        Assert.StartsWith("req_", update.GetProperty("request_id").GetString(), StringComparison.Ordinal);
        Assert.Equal(tenant.WorkspaceId, update.GetProperty("workspace_id").GetGuid());

        var raw = log.GetRawText();
        Assert.DoesNotContain(token.GetProperty("token").GetString()!, raw, StringComparison.Ordinal);
        Assert.DoesNotContain(member.GetProperty("one_time_password").GetString()!, raw, StringComparison.Ordinal);
        Assert.DoesNotContain("password", raw, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Filters_narrow_the_log()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var agent = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-1", []);
        await (await tenant.Owner.PatchAsJsonAsync($"/v1/agents/{agent.Id}", new { name = "renamed" })).JsonAsync(HttpStatusCode.OK);
        var admin = await Tenants.MemberAsync(api, tenant, "admin");
        await (await admin.PatchAsJsonAsync($"/v1/workspaces/{tenant.WorkspaceId}", new { name = "Prod" })).JsonAsync(HttpStatusCode.OK);
        var url = $"/v1/organizations/{tenant.OrganizationId}/audit-log";

        async Task<int> Count(string query) =>
            (await (await tenant.Owner.GetAsync(url + "?" + query)).JsonAsync(HttpStatusCode.OK)).GetProperty("meta").GetProperty("total").GetInt32();

        Assert.Equal(1, await Count("resource_type=agent"));
        Assert.Equal(1, await Count($"resource_id={agent.Id}"));
        Assert.Equal(2, await Count("resource_type=workspace"));
        Assert.Equal(1, await Count("resource_type=workspace&action=update"));
        Assert.Equal(3, await Count($"workspace_id={tenant.WorkspaceId}"));
        var me = await (await admin.GetAsync("/v1/me")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(1, await Count($"actor_id={me.Id()}"));
        Assert.Equal(0, await Count("from=2999-01-01T00:00:00Z"));
        Assert.Equal(5, await Count("from=2000-01-01T00:00:00Z&to=2999-01-01T00:00:00Z"));
        var paged = await (await tenant.Owner.GetAsync(url + "?per_page=2&page=3")).JsonAsync(HttpStatusCode.OK);
        Assert.Single(paged.GetProperty("data").EnumerateArray());

        await (await tenant.Owner.GetAsync(url + "?from=2999-01-01T00:00:00Z&to=2000-01-01T00:00:00Z")).ErrorAsync(HttpStatusCode.UnprocessableEntity, "VALIDATION_ERROR");
        await (await tenant.Owner.GetAsync(url + "?from=yesterday")).ErrorAsync(HttpStatusCode.UnprocessableEntity, "VALIDATION_ERROR");
        await (await tenant.Owner.GetAsync(url + "?actor_id=nope")).ErrorAsync(HttpStatusCode.UnprocessableEntity, "VALIDATION_ERROR");
    }

    [Fact]
    public async Task Failed_mutations_leave_no_entry()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        await (await tenant.Owner.PostAsJsonAsync($"/v1/organizations/{tenant.OrganizationId}/workspaces", new { name = "Dup", slug = "production" })).ErrorAsync(HttpStatusCode.Conflict, "CONFLICT");
        var log = await (await tenant.Owner.GetAsync($"/v1/organizations/{tenant.OrganizationId}/audit-log")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(2, log.GetProperty("meta").GetProperty("total").GetInt32());
        Assert.Equal(JsonValueKind.Null, log.GetProperty("data")[1].GetProperty("before").ValueKind);
    }
}
