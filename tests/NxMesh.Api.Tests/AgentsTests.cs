using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using NxMesh.Data.Entities;
using NxMesh.Data.Security;
using Xunit;

namespace NxMesh.Api.Tests;

[Collection(ApiCollection.Name)]
public sealed class AgentsTests(ApiFixture api) : IAsyncLifetime
{
    public Task InitializeAsync() => api.ResetAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task List_and_get_answer_the_spec_shapes_with_health()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var agent = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-server-01", new() { ["env"] = "production", ["region"] = "us-east-1" });
        var list = await (await tenant.Owner.GetAsync($"/v1/workspaces/{tenant.WorkspaceId}/agents?page=1&per_page=20&state=online")).JsonAsync(HttpStatusCode.OK);
        SpecExamples.AssertShape(SpecExamples.Response("List Agents"), list);
        var got = await (await tenant.Owner.GetAsync($"/v1/agents/{agent.Id}")).JsonAsync(HttpStatusCode.OK);
        // reported_at tells how old the health block is.
        SpecExamples.AssertShape(SpecExamples.Response("Get Agent"), got, ["$.health.reported_at", "$.config"]);
        var health = got.GetProperty("health");
        Assert.Equal("running", health.GetProperty("nginx_status").GetString());
        Assert.Equal(512, health.GetProperty("memory_used_mb").GetInt64());
        Assert.Equal("docker_sidecar", got.GetProperty("deployment_mode").GetString());
    }

    [Fact]
    public async Task Health_is_null_until_the_first_report()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var agent = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-1", [], AgentState.Offline, withHealth: false);
        var got = await (await tenant.Owner.GetAsync($"/v1/agents/{agent.Id}")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(JsonValueKind.Null, got.GetProperty("health").ValueKind);
    }

    [Fact]
    public async Task State_and_label_selector_filter_the_list()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "a", new() { ["env"] = "production", ["region"] = "us-east" });
        await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "b", new() { ["env"] = "production", ["region"] = "eu-west" });
        await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "c", new() { ["env"] = "staging" }, AgentState.Offline);
        await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "d", new() { ["env"] = "production", ["canary"] = "true" }, AgentState.Degraded);

        async Task<string[]> Names(string query)
        {
            var body = await (await tenant.Owner.GetAsync($"/v1/workspaces/{tenant.WorkspaceId}/agents?{query}")).JsonAsync(HttpStatusCode.OK);
            return body.GetProperty("data").EnumerateArray().Select(a => a.GetProperty("name").GetString()!).ToArray();
        }

        Assert.Equal(["a", "b", "c", "d"], await Names(""));
        Assert.Equal(["a", "b", "c", "d"], await Names("state=all"));
        Assert.Equal(["a", "b"], await Names("state=online"));
        Assert.Equal(["c"], await Names("state=offline"));
        Assert.Equal(["d"], await Names("state=degraded"));
        Assert.Equal(["a"], await Names("label_selector=" + Uri.EscapeDataString("env=production,region=us-east")));
        Assert.Equal(["a", "b"], await Names("label_selector=" + Uri.EscapeDataString("env==production,!canary")));
        Assert.Equal(["c", "d"], await Names("label_selector=" + Uri.EscapeDataString("region notin (us-east,eu-west)")));
        Assert.Equal(["b", "c", "d"], await Names("label_selector=" + Uri.EscapeDataString("region!=us-east") + "&state=all"));
        Assert.Equal(["c"], await Names("label_selector=" + Uri.EscapeDataString("env in (staging, qa),region!=us-east")));
        Assert.Equal(["d"], await Names("label_selector=canary&state=degraded"));
        var paged = await (await tenant.Owner.GetAsync($"/v1/workspaces/{tenant.WorkspaceId}/agents?per_page=1&page=2&label_selector=env%3Dproduction")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(3, paged.GetProperty("meta").GetProperty("total").GetInt32());
        Assert.Equal("b", paged.GetProperty("data")[0].GetProperty("name").GetString());
    }

    [Theory]
    [InlineData("state=sleeping", "state")]
    [InlineData("label_selector=env%3D%3D%3Dx", "label_selector")]
    [InlineData("label_selector=env%20in%20(a", "label_selector")]
    [InlineData("label_selector=%3Dx", "label_selector")]
    public async Task Bad_filters_answer_422(string query, string field)
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var error = await (await tenant.Owner.GetAsync($"/v1/workspaces/{tenant.WorkspaceId}/agents?{query}")).ErrorAsync(HttpStatusCode.UnprocessableEntity, "VALIDATION_ERROR");
        Assert.Contains(error.Details(), d => d.Field == field && d.Code == "INVALID_FORMAT");
    }

    [Fact]
    public async Task Spec_update_renames_and_replaces_labels_and_announces_the_config_change()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var agent = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-server-01", new() { ["env"] = "production" });
        var updated = await (await tenant.Owner.PatchAsJsonAsync($"/v1/agents/{agent.Id}", SpecExamples.Request("Update Agent"))).JsonAsync(HttpStatusCode.OK);
        SpecExamples.AssertShape(SpecExamples.Response("List Agents").GetProperty("data")[0], updated);
        Assert.Equal("web-server-01-renamed", updated.GetProperty("name").GetString());
        Assert.Equal("web", updated.GetProperty("labels").GetProperty("tier").GetString());
        await using var db = api.Database.CreateDbContext();
        Assert.Equal(1, await db.Outbox.CountAsync(o => o.Type == "workspace.config_changed" && o.WorkspaceId == tenant.WorkspaceId));
        Assert.Equal(1, await db.AuditLog.CountAsync(a => a.ResourceType == "agent" && a.Action == "update" && a.ResourceId == agent.Id));

        // A rename alone does not change any nginx config.
        await (await tenant.Owner.PatchAsJsonAsync($"/v1/agents/{agent.Id}", new { name = "again" })).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(1, await db.Outbox.CountAsync(o => o.Type == "workspace.config_changed"));
    }

    [Theory]
    [InlineData("-bad", "x")]
    [InlineData("ok", "bad value")]
    [InlineData("ok", "a;b")]
    [InlineData("ok", "{x}")]
    [InlineData("ok", "line\nbreak")]
    [InlineData("UPPER.Prefix/x", "v")]
    [InlineData("ok", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    public async Task Labels_are_validated_like_kubernetes(string key, string value)
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var agent = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-1", []);
        var error = await (await tenant.Owner.PatchAsJsonAsync($"/v1/agents/{agent.Id}", new { labels = new Dictionary<string, string> { [key] = value } }))
            .ErrorAsync(HttpStatusCode.UnprocessableEntity, "VALIDATION_ERROR");
        Assert.Contains(($"labels.{key}", "INVALID_FORMAT"), error.Details());
    }

    [Fact]
    public async Task Delete_removes_the_agent_and_revokes_its_credentials()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var agent = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-1", []);
        await using (var db = api.Database.CreateDbContext())
        {
            db.AgentCredentials.Add(new AgentCredential { AgentId = agent.Id, SecretHash = Secrets.Hash("secret"), CreatedAt = DateTimeOffset.UtcNow });
            await db.SaveChangesAsync();
        }
        await (await tenant.Owner.DeleteAsync($"/v1/agents/{agent.Id}")).JsonAsync(HttpStatusCode.NoContent);
        await (await tenant.Owner.GetAsync($"/v1/agents/{agent.Id}")).ErrorAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        await using var check = api.Database.CreateDbContext();
        Assert.Equal(0, await check.AgentCredentials.CountAsync());
        Assert.Equal(1, await check.Outbox.CountAsync(o => o.Type == "agent.deleted"));
    }

    [Fact]
    public async Task Reload_answers_503_while_no_agent_can_be_reached()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var agent = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-1", []);
        await (await tenant.Owner.PostAsync($"/v1/agents/{agent.Id}/reload", null)).ErrorAsync(HttpStatusCode.ServiceUnavailable, "SERVICE_UNAVAILABLE");
    }

    [Fact]
    public async Task Spec_token_request_creates_an_offline_agent_and_a_hashed_single_use_token()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var created = await (await tenant.Owner.PostAsJsonAsync($"/v1/workspaces/{tenant.WorkspaceId}/agents/tokens", SpecExamples.Request("Create Agent Registration Token")))
            .JsonAsync(HttpStatusCode.Created);
        SpecExamples.AssertShape(SpecExamples.Response("Create Agent Registration Token"), created);
        var token = created.GetProperty("token").GetString()!;
        Assert.StartsWith("nxmesh_agent_", token, StringComparison.Ordinal);
        Assert.True(Convert.FromBase64String(Pad(token["nxmesh_agent_".Length..])).Length >= 32);
        var expiresAt = created.GetProperty("expires_at").GetDateTimeOffset();
        Assert.InRange(expiresAt - DateTimeOffset.UtcNow, TimeSpan.FromHours(23.9), TimeSpan.FromHours(24.1));

        var agent = await (await tenant.Owner.GetAsync($"/v1/agents/{created.GetProperty("agent_id").GetGuid()}")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("offline", agent.GetProperty("state").GetString());
        Assert.Equal("web-server-02", agent.GetProperty("name").GetString());
        Assert.Equal("us-west-1", agent.GetProperty("labels").GetProperty("region").GetString());

        await using var db = api.Database.CreateDbContext();
        var stored = await db.RegistrationTokens.SingleAsync();
        Assert.Equal(Secrets.Hash(token), stored.TokenHash);

        var list = await (await tenant.Owner.GetAsync($"/v1/workspaces/{tenant.WorkspaceId}/agents/tokens")).JsonAsync(HttpStatusCode.OK);
        var listed = Assert.Single(list.GetProperty("data").EnumerateArray().ToList());
        Assert.Equal("active", listed.GetProperty("status").GetString());
        Assert.DoesNotContain(token, list.GetRawText(), StringComparison.Ordinal);

        await (await tenant.Owner.DeleteAsync($"/v1/registration-tokens/{listed.Id()}")).JsonAsync(HttpStatusCode.NoContent);
        var after = await (await tenant.Owner.GetAsync($"/v1/workspaces/{tenant.WorkspaceId}/agents/tokens")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("revoked", after.GetProperty("data")[0].GetProperty("status").GetString());
    }

    [Fact]
    public async Task Count_creates_tokens_in_bulk()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var created = await (await tenant.Owner.PostAsJsonAsync($"/v1/workspaces/{tenant.WorkspaceId}/agents/tokens", new { name = "edge", count = 3, expires_in_hours = 1 }))
            .JsonAsync(HttpStatusCode.Created);
        var tokens = created.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(3, tokens.Count);
        Assert.Equal(3, tokens.Select(t => t.GetProperty("token").GetString()).Distinct().Count());
        var agents = await (await tenant.Owner.GetAsync($"/v1/workspaces/{tenant.WorkspaceId}/agents")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(["edge-1", "edge-2", "edge-3"], agents.GetProperty("data").EnumerateArray().Select(a => a.GetProperty("name").GetString()));
    }

    [Theory]
    [InlineData(0, null)]
    [InlineData(721, null)]
    [InlineData(-5, null)]
    [InlineData(24, 0)]
    [InlineData(24, 101)]
    public async Task Token_ranges_are_enforced(int hours, int? count)
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var error = await (await tenant.Owner.PostAsJsonAsync($"/v1/workspaces/{tenant.WorkspaceId}/agents/tokens", new { name = "x", expires_in_hours = hours, count }))
            .ErrorAsync(HttpStatusCode.UnprocessableEntity, "VALIDATION_ERROR");
        Assert.Contains(error.Details(), d => d.Code == "OUT_OF_RANGE");
    }

    private static string Pad(string base64Url)
    {
        var s = base64Url.Replace('-', '+').Replace('_', '/');
        return s.PadRight(s.Length + (4 - s.Length % 4) % 4, '=');
    }
}
