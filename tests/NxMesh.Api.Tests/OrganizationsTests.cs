using System.Net;
using System.Net.Http.Json;
using Microsoft.EntityFrameworkCore;
using Xunit;

namespace NxMesh.Api.Tests;

[Collection(ApiCollection.Name)]
public sealed class OrganizationsTests(ApiFixture api) : IAsyncLifetime
{
    public Task InitializeAsync() => api.ResetAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Spec_create_request_creates_an_organization_listed_in_the_spec_shape_with_the_caller_as_owner()
    {
        var (user, client) = await api.NewUserAsync("a@example.com");
        var created = await (await client.PostAsJsonAsync("/v1/organizations", SpecExamples.Request("Create Organization"))).JsonAsync(HttpStatusCode.Created);
        var itemExample = SpecExamples.Response("List Organizations").GetProperty("data")[0];
        SpecExamples.AssertShape(itemExample, created);
        Assert.Equal("acme-corp", created.GetProperty("slug").GetString());

        var list = await (await client.GetAsync("/v1/organizations?page=1&per_page=20")).JsonAsync(HttpStatusCode.OK);
        SpecExamples.AssertShape(SpecExamples.Response("List Organizations"), list);
        Assert.Equal(1, list.GetProperty("meta").GetProperty("total").GetInt32());

        var got = await (await client.GetAsync($"/v1/organizations/{created.Id()}")).JsonAsync(HttpStatusCode.OK);
        SpecExamples.AssertShape(itemExample, got);

        await using var db = api.Database.CreateDbContext();
        var membership = await db.Memberships.SingleAsync();
        Assert.Equal(user.Id, membership.UserId);
        Assert.Equal(Data.Entities.OrganizationRole.Owner, membership.Role);
    }

    [Fact]
    public async Task Spec_update_request_renames()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var updated = await (await tenant.Owner.PatchAsJsonAsync($"/v1/organizations/{tenant.OrganizationId}", SpecExamples.Request("Update Organization")))
            .JsonAsync(HttpStatusCode.OK);
        Assert.Equal("Acme Corporation", updated.GetProperty("name").GetString());
        Assert.Equal("acme", updated.GetProperty("slug").GetString());
    }

    [Fact]
    public async Task Duplicate_slug_answers_409()
    {
        var (_, client) = await api.NewUserAsync("a@example.com");
        await (await client.PostAsJsonAsync("/v1/organizations", new { name = "A", slug = "same" })).JsonAsync(HttpStatusCode.Created);
        var error = await (await client.PostAsJsonAsync("/v1/organizations", new { name = "B", slug = "same" })).ErrorAsync(HttpStatusCode.Conflict, "CONFLICT");
        Assert.Contains(("slug", "CONFLICT"), error.Details());
    }

    [Theory]
    [InlineData("Upper")]
    [InlineData("-lead")]
    [InlineData("trail-")]
    [InlineData("has space")]
    [InlineData("semi;colon")]
    [InlineData("")]
    [InlineData("a234567890123456789012345678901234567890123456789012345678901234")]
    public async Task Invalid_slugs_answer_422(string slug)
    {
        var (_, client) = await api.NewUserAsync("a@example.com");
        var error = await (await client.PostAsJsonAsync("/v1/organizations", new { name = "A", slug })).ErrorAsync(HttpStatusCode.UnprocessableEntity, "VALIDATION_ERROR");
        Assert.Contains(error.Details(), d => d.Field == "slug");
    }

    [Fact]
    public async Task Lists_show_only_the_callers_organizations_and_page()
    {
        var (_, a) = await api.NewUserAsync("a@example.com");
        var (_, b) = await api.NewUserAsync("b@example.com");
        for (var i = 0; i < 3; i++)
        {
            await (await a.PostAsJsonAsync("/v1/organizations", new { name = $"A{i}", slug = $"a{i}" })).JsonAsync(HttpStatusCode.Created);
        }
        await (await b.PostAsJsonAsync("/v1/organizations", new { name = "B", slug = "b" })).JsonAsync(HttpStatusCode.Created);
        var page = await (await a.GetAsync("/v1/organizations?page=2&per_page=2")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(3, page.GetProperty("meta").GetProperty("total").GetInt32());
        Assert.Equal(2, page.GetProperty("meta").GetProperty("page").GetInt32());
        Assert.Equal(2, page.GetProperty("meta").GetProperty("per_page").GetInt32());
        Assert.Equal("a2", Assert.Single(page.GetProperty("data").EnumerateArray().ToList()).GetProperty("slug").GetString());
    }

    [Fact]
    public async Task Deleting_an_organization_with_workspaces_needs_force_and_then_removes_everything()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-1", new() { ["env"] = "production" });
        var error = await (await tenant.Owner.DeleteAsync($"/v1/organizations/{tenant.OrganizationId}")).ErrorAsync(HttpStatusCode.Conflict, "CONFLICT");
        Assert.Contains(error.Details(), d => d.Field == "workspaces");

        await (await tenant.Owner.DeleteAsync($"/v1/organizations/{tenant.OrganizationId}?force=true")).JsonAsync(HttpStatusCode.NoContent);
        await (await tenant.Owner.GetAsync($"/v1/organizations/{tenant.OrganizationId}")).ErrorAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        await using var db = api.Database.CreateDbContext();
        Assert.Equal(0, await db.Workspaces.CountAsync());
        Assert.Equal(0, await db.Agents.CountAsync());
        Assert.Equal(0, await db.Memberships.CountAsync());
        Assert.Equal(1, await db.Outbox.CountAsync(o => o.Type == "agent.deleted"));
    }

    [Fact]
    public async Task Members_can_be_added_listed_changed_and_removed_and_one_owner_always_remains()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var members = $"/v1/organizations/{tenant.OrganizationId}/members";
        await api.CreateUserAsync("existing@example.com");
        var existing = await (await tenant.Owner.PostAsJsonAsync(members, new { email = "existing@example.com", role = "editor" })).JsonAsync(HttpStatusCode.Created);
        Assert.Equal(System.Text.Json.JsonValueKind.Null, existing.GetProperty("one_time_password").ValueKind);
        var added = await (await tenant.Owner.PostAsJsonAsync(members, new { email = "New@Example.com", role = "viewer" })).JsonAsync(HttpStatusCode.Created);
        Assert.Equal("new@example.com", added.GetProperty("email").GetString());
        Assert.True(added.GetProperty("one_time_password").GetString()!.Length >= 16);
        await (await tenant.Owner.PostAsJsonAsync(members, new { email = "existing@example.com", role = "viewer" })).ErrorAsync(HttpStatusCode.Conflict, "CONFLICT");

        var list = await (await tenant.Owner.GetAsync(members)).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(3, list.GetProperty("meta").GetProperty("total").GetInt32());

        var userId = existing.GetProperty("user_id").GetGuid();
        var changed = await (await tenant.Owner.PatchAsJsonAsync($"{members}/{userId}", new { role = "admin" })).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("admin", changed.GetProperty("role").GetString());
        await (await tenant.Owner.PatchAsJsonAsync($"{members}/{userId}", new { role = "superuser" })).ErrorAsync(HttpStatusCode.UnprocessableEntity, "VALIDATION_ERROR");

        await (await tenant.Owner.PatchAsJsonAsync($"{members}/{tenant.UserId}", new { role = "admin" })).ErrorAsync(HttpStatusCode.Conflict, "CONFLICT");
        await (await tenant.Owner.DeleteAsync($"{members}/{tenant.UserId}")).ErrorAsync(HttpStatusCode.Conflict, "CONFLICT");

        var admin = await api.LoginAsync("existing@example.com");
        await (await admin.PatchAsJsonAsync($"{members}/{tenant.UserId}", new { role = "viewer" })).ErrorAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        await (await admin.PostAsJsonAsync(members, new { email = "owner2@example.com", role = "owner" })).ErrorAsync(HttpStatusCode.Forbidden, "FORBIDDEN");

        await (await tenant.Owner.DeleteAsync($"{members}/{userId}")).JsonAsync(HttpStatusCode.NoContent);
        await (await admin.GetAsync($"/v1/organizations/{tenant.OrganizationId}")).ErrorAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }
}
