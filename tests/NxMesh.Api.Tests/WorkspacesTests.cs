using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Xunit;

namespace NxMesh.Api.Tests;

[Collection(ApiCollection.Name)]
public sealed class WorkspacesTests(ApiFixture api) : IAsyncLifetime
{
    public Task InitializeAsync() => api.ResetAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Spec_requests_create_list_get_and_update_in_the_spec_shape()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var workspaces = $"/v1/organizations/{tenant.OrganizationId}/workspaces";
        var created = await (await tenant.Owner.PostAsJsonAsync(workspaces, SpecExamples.Request("Create Workspace"))).JsonAsync(HttpStatusCode.Created);
        var item = SpecExamples.Response("List Workspaces").GetProperty("data")[0];
        // The spec's example omits updated_at, which every other resource carries.
        string[] extras = ["$.updated_at"];
        SpecExamples.AssertShape(item, created, extras);

        var list = await (await tenant.Owner.GetAsync(workspaces + "?page=1&per_page=20")).JsonAsync(HttpStatusCode.OK);
        SpecExamples.AssertShape(SpecExamples.Response("List Workspaces"), list, ["$.data[].updated_at"]);
        Assert.Equal(2, list.GetProperty("meta").GetProperty("total").GetInt32());

        var got = await (await tenant.Owner.GetAsync($"/v1/workspaces/{created.Id()}")).JsonAsync(HttpStatusCode.OK);
        SpecExamples.AssertShape(item, got, extras);
        var updated = await (await tenant.Owner.PatchAsJsonAsync($"/v1/workspaces/{created.Id()}", SpecExamples.Request("Update Workspace"))).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("Staging Environment", updated.GetProperty("name").GetString());
        Assert.Equal("staging", updated.GetProperty("slug").GetString());
    }

    [Fact]
    public async Task Slugs_are_unique_per_organization()
    {
        var a = await Tenants.CreateAsync(api, "a");
        var b = await Tenants.CreateAsync(api, "b");
        await (await a.Owner.PostAsJsonAsync($"/v1/organizations/{a.OrganizationId}/workspaces", new { name = "P", slug = "production" })).ErrorAsync(HttpStatusCode.Conflict, "CONFLICT");
        var staging = await (await a.Owner.PostAsJsonAsync($"/v1/organizations/{a.OrganizationId}/workspaces", new { name = "S", slug = "staging" })).JsonAsync(HttpStatusCode.Created);
        await (await a.Owner.PatchAsJsonAsync($"/v1/workspaces/{staging.Id()}", new { slug = "production" })).ErrorAsync(HttpStatusCode.Conflict, "CONFLICT");
        // Another organization may use the same slug.
        Assert.NotEqual(a.WorkspaceId, b.WorkspaceId);
    }

    [Fact]
    public async Task Deleting_a_workspace_with_resources_answers_409_listing_them_and_force_deletes_all()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-1", new() { ["env"] = "production" });
        await using (var db = api.Database.CreateDbContext())
        {
            var certificate = new Data.Entities.Certificate { WorkspaceId = tenant.WorkspaceId, Domain = "example.com" };
            var upstream = new Data.Entities.Upstream { WorkspaceId = tenant.WorkspaceId, Name = "backend" };
            db.Certificates.Add(certificate);
            db.Upstreams.Add(upstream);
            db.VirtualHosts.Add(new Data.Entities.VirtualHost
            {
                WorkspaceId = tenant.WorkspaceId, Name = "site", ServerName = "example.com", SslEnabled = true, SslCertificateId = certificate.Id,
                Locations = [new Data.Entities.VirtualHostLocation { Path = "/", UpstreamId = upstream.Id }],
            });
            await db.SaveChangesAsync();
        }
        var error = await (await tenant.Owner.DeleteAsync($"/v1/workspaces/{tenant.WorkspaceId}")).ErrorAsync(HttpStatusCode.Conflict, "CONFLICT");
        Assert.Equal(["agents", "virtual_hosts", "upstreams", "certificates"], error.Details().Select(d => d.Field));

        await (await tenant.Owner.DeleteAsync($"/v1/workspaces/{tenant.WorkspaceId}?force=true")).JsonAsync(HttpStatusCode.NoContent);
        await (await tenant.Owner.GetAsync($"/v1/workspaces/{tenant.WorkspaceId}")).ErrorAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        await using var check = api.Database.CreateDbContext();
        Assert.Equal(0, await check.VirtualHosts.CountAsync() + await check.VirtualHostLocations.CountAsync() + await check.Upstreams.CountAsync()
            + await check.Certificates.CountAsync() + await check.Agents.CountAsync() + await check.HealthSnapshots.CountAsync());
    }

    [Fact]
    public async Task An_empty_workspace_deletes_without_force()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        await (await tenant.Owner.DeleteAsync($"/v1/workspaces/{tenant.WorkspaceId}")).JsonAsync(HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Settings_hold_global_settings_and_changes_write_the_outbox_in_the_same_transaction()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var url = $"/v1/workspaces/{tenant.WorkspaceId}/settings";
        var initial = await (await tenant.Owner.GetAsync(url)).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(JsonValueKind.Object, initial.GetProperty("global_settings").GetProperty("nginx_directives").ValueKind);

        var updated = await (await tenant.Owner.PatchAsJsonAsync(url, new
        {
            global_settings = new { nginx_directives = new Dictionary<string, string> { ["client_max_body_size"] = "10m", ["gzip"] = "on" }, env_vars = new Dictionary<string, string> { ["TZ"] = "UTC" } },
        })).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("10m", updated.GetProperty("global_settings").GetProperty("nginx_directives").GetProperty("client_max_body_size").GetString());
        Assert.Equal("UTC", updated.GetProperty("global_settings").GetProperty("env_vars").GetProperty("TZ").GetString());

        await using var db = api.Database.CreateDbContext();
        var message = await db.Outbox.SingleAsync(o => o.Type == "workspace.config_changed");
        Assert.Equal(tenant.WorkspaceId, message.WorkspaceId);
        Assert.Contains("workspace_settings", message.Payload, StringComparison.Ordinal);
        var audit = await db.AuditLog.SingleAsync(a => a.ResourceType == "workspace_settings");
        Assert.Contains("10m", audit.After, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("include", "/etc/passwd", "NOT_ALLOWED")]
    [InlineData("load_module", "x.so", "NOT_ALLOWED")]
    [InlineData("access_log", "/tmp/x", "NOT_ALLOWED")]
    [InlineData("gzip", "on;\ninclude /etc/passwd", "INVALID_FORMAT")]
    [InlineData("gzip", "on\r", "INVALID_FORMAT")]
    [InlineData("gzip", "on\0", "INVALID_FORMAT")]
    public async Task Settings_refuse_directives_outside_the_allowlist_and_control_characters(string name, string value, string code)
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var error = await (await tenant.Owner.PatchAsJsonAsync($"/v1/workspaces/{tenant.WorkspaceId}/settings",
            new { global_settings = new { nginx_directives = new Dictionary<string, string> { [name] = value } } })).ErrorAsync(HttpStatusCode.UnprocessableEntity, "VALIDATION_ERROR");
        Assert.Contains(($"global_settings.nginx_directives.{name}", code), error.Details());
        await using var db = api.Database.CreateDbContext();
        Assert.Equal(0, await db.Outbox.CountAsync());
    }
}
