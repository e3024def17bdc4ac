using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace NxMesh.Api.Tests;

/// <summary>
/// Tenant isolation (another organization's ids → 404, nothing changed) and roles (each role × each endpoint
/// that needs more than viewer → allowed or 403), over every id-taking route the Api maps.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class AccessMatrixTests(ApiFixture api) : IAsyncLifetime
{
    public Task InitializeAsync() => api.ResetAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>Every id-taking route: method, template, body. Ids are filled from tenant A's resources.</summary>
    private static readonly (string Method, string Template, object? Body)[] IdRoutes =
    [
        ("GET", "/v1/organizations/{organization_id}", null),
        ("PATCH", "/v1/organizations/{organization_id}", new { name = "Hijacked" }),
        ("DELETE", "/v1/organizations/{organization_id}", null),
        ("GET", "/v1/organizations/{organization_id}/members", null),
        ("POST", "/v1/organizations/{organization_id}/members", new { email = "intruder@example.com", role = "owner" }),
        ("PATCH", "/v1/organizations/{organization_id}/members/{user_id}", new { role = "viewer" }),
        ("DELETE", "/v1/organizations/{organization_id}/members/{user_id}", null),
        ("GET", "/v1/organizations/{organization_id}/audit-log", null),
        ("GET", "/v1/organizations/{organization_id}/workspaces", null),
        ("POST", "/v1/organizations/{organization_id}/workspaces", new { name = "X", slug = "x" }),
        ("GET", "/v1/workspaces/{workspace_id}", null),
        ("PATCH", "/v1/workspaces/{workspace_id}", new { name = "Hijacked" }),
        ("DELETE", "/v1/workspaces/{workspace_id}", null),
        ("GET", "/v1/workspaces/{workspace_id}/settings", null),
        ("PATCH", "/v1/workspaces/{workspace_id}/settings", new { metrics_retention_days = 2 }),
        ("GET", "/v1/workspaces/{workspace_id}/agents", null),
        ("GET", "/v1/workspaces/{workspace_id}/agents/tokens", null),
        ("POST", "/v1/workspaces/{workspace_id}/agents/tokens", new { name = "intruder" }),
        ("GET", "/v1/agents/{agent_id}", null),
        ("PATCH", "/v1/agents/{agent_id}", new { name = "hijacked" }),
        ("DELETE", "/v1/agents/{agent_id}", null),
        ("POST", "/v1/agents/{agent_id}/reload", null),
        ("POST", "/v1/agents/{agent_id}/restart", null),
        ("POST", "/v1/agents/{agent_id}/stop", null),
        ("GET", "/v1/agents/{agent_id}/status", null),
        ("POST", "/v1/agents/{agent_id}/validate-config", null),
        ("GET", "/v1/agents/{agent_id}/config", null),
        ("DELETE", "/v1/registration-tokens/{token_id}", null),
        ("GET", "/v1/workspaces/{workspace_id}/virtual-hosts", null),
        ("POST", "/v1/workspaces/{workspace_id}/virtual-hosts", new { name = "x", server_name = "x.example.com", listen_port = 80, locations = new[] { new { path = "/", proxy_pass = "http://127.0.0.1:8080" } } }),
        ("GET", "/v1/virtual-hosts/{virtual_host_id}", null),
        ("PATCH", "/v1/virtual-hosts/{virtual_host_id}", new { name = "hijacked" }),
        ("DELETE", "/v1/virtual-hosts/{virtual_host_id}", null),
        ("GET", "/v1/workspaces/{workspace_id}/upstreams", null),
        ("POST", "/v1/workspaces/{workspace_id}/upstreams", new { name = "x", servers = new[] { new { address = "10.0.0.1:80" } } }),
        ("GET", "/v1/upstreams/{upstream_id}", null),
        ("PATCH", "/v1/upstreams/{upstream_id}", new { name = "hijacked" }),
        ("DELETE", "/v1/upstreams/{upstream_id}", null),
        ("GET", "/v1/workspaces/{workspace_id}/certificates", null),
        ("POST", "/v1/workspaces/{workspace_id}/certificates", new { domain = "x.example.com", provider = "self_signed" }),
        ("GET", "/v1/certificates/{certificate_id}", null),
        ("DELETE", "/v1/certificates/{certificate_id}", null),
        ("GET", "/v1/workspaces/{workspace_id}/alert-rules", null),
        ("PUT", "/v1/workspaces/{workspace_id}/alert-rules", new { rules = new[] { new { metric = "cpu_percent", threshold = 1 } } }),
    ];

    [Fact]
    public void The_matrix_covers_every_mapped_route_that_takes_an_id()
    {
        var mapped = api.Factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText is { } raw && raw.StartsWith("/v1/", StringComparison.Ordinal) && e.RoutePattern.Parameters.Count > 0)
            .SelectMany(e => (e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.IHttpMethodMetadata>()?.HttpMethods ?? []).Select(m => $"{m} {Normalize(e.RoutePattern.RawText!)}"))
            .ToHashSet();
        var covered = IdRoutes.Select(r => $"{r.Method} {r.Template}").ToHashSet();
        Assert.True(mapped.SetEquals(covered), "not covered: " + string.Join(", ", mapped.Except(covered)) + "; not mapped: " + string.Join(", ", covered.Except(mapped)));
    }

    [Fact]
    public async Task Another_organizations_ids_answer_404_everywhere_and_change_nothing()
    {
        var a = await Tenants.CreateAsync(api, "alpha");
        var b = await Tenants.CreateAsync(api, "bravo");
        var ids = await ResourcesAsync(a);
        var before = await SnapshotAsync();
        foreach (var (method, template, body) in IdRoutes)
        {
            var response = await SendAsync(b.Owner, method, Fill(template, ids), body);
            var error = await response.ErrorAsync(HttpStatusCode.NotFound, "NOT_FOUND");
            Assert.DoesNotContain("alpha", error.GetRawText(), StringComparison.OrdinalIgnoreCase);
        }
        Assert.Equal(before, await SnapshotAsync());
        // The owner still sees everything as it was.
        await (await a.Owner.GetAsync(Fill("/v1/agents/{agent_id}", ids))).JsonAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Ids_that_exist_nowhere_answer_404_too()
    {
        var a = await Tenants.CreateAsync(api, "alpha");
        var missing = new Dictionary<string, string>
        {
            ["organization_id"] = Guid.NewGuid().ToString(), ["workspace_id"] = Guid.NewGuid().ToString(), ["agent_id"] = Guid.NewGuid().ToString(),
            ["token_id"] = Guid.NewGuid().ToString(), ["user_id"] = Guid.NewGuid().ToString(),
            ["virtual_host_id"] = Guid.NewGuid().ToString(), ["upstream_id"] = Guid.NewGuid().ToString(), ["certificate_id"] = Guid.NewGuid().ToString(),
        };
        foreach (var (method, template, body) in IdRoutes)
        {
            await (await SendAsync(a.Owner, method, Fill(template, missing), body)).ErrorAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        }
    }

    public static TheoryData<string> Roles => new() { "viewer", "editor", "admin", "owner" };

    /// <summary>Minimum role per endpoint (design.md "Roles"); everything not listed is readable by viewers.</summary>
    private static readonly (string Method, string Template, string Minimum, HttpStatusCode Success, object? Body)[] RoleRoutes =
    [
        ("PATCH", "/v1/organizations/{organization_id}", "admin", HttpStatusCode.OK, new { name = "Renamed" }),
        ("DELETE", "/v1/organizations/{organization_id}", "owner", HttpStatusCode.NoContent, null),
        ("GET", "/v1/organizations/{organization_id}/members", "viewer", HttpStatusCode.OK, null),
        ("POST", "/v1/organizations/{organization_id}/members", "admin", HttpStatusCode.Created, new { email = "fresh-{n}@example.com", role = "viewer" }),
        ("PATCH", "/v1/organizations/{organization_id}/members/{user_id}", "admin", HttpStatusCode.OK, new { role = "editor" }),
        ("DELETE", "/v1/organizations/{organization_id}/members/{user_id}", "admin", HttpStatusCode.NoContent, null),
        ("GET", "/v1/organizations/{organization_id}/audit-log", "admin", HttpStatusCode.OK, null),
        ("POST", "/v1/organizations/{organization_id}/workspaces", "admin", HttpStatusCode.Created, new { name = "New", slug = "new-{n}" }),
        ("PATCH", "/v1/workspaces/{workspace_id}", "admin", HttpStatusCode.OK, new { name = "Renamed" }),
        ("DELETE", "/v1/workspaces/{workspace_id}", "admin", HttpStatusCode.NoContent, null),
        ("GET", "/v1/workspaces/{workspace_id}/settings", "viewer", HttpStatusCode.OK, null),
        ("PATCH", "/v1/workspaces/{workspace_id}/settings", "admin", HttpStatusCode.OK, new { metrics_retention_days = 10 }),
        ("GET", "/v1/workspaces/{workspace_id}/agents/tokens", "admin", HttpStatusCode.OK, null),
        ("POST", "/v1/workspaces/{workspace_id}/agents/tokens", "admin", HttpStatusCode.Created, new { name = "new-agent" }),
        ("GET", "/v1/agents/{agent_id}", "viewer", HttpStatusCode.OK, null),
        ("PATCH", "/v1/agents/{agent_id}", "editor", HttpStatusCode.OK, new { labels = new Dictionary<string, string> { ["tier"] = "web" } }),
        ("DELETE", "/v1/agents/{agent_id}", "admin", HttpStatusCode.NoContent, null),
        ("POST", "/v1/agents/{agent_id}/reload", "editor", HttpStatusCode.ServiceUnavailable, null),
        ("POST", "/v1/agents/{agent_id}/restart", "admin", HttpStatusCode.ServiceUnavailable, new { force = true }),
        ("POST", "/v1/agents/{agent_id}/stop", "admin", HttpStatusCode.ServiceUnavailable, new { graceful = true, timeout_seconds = 5 }),
        ("GET", "/v1/agents/{agent_id}/status", "viewer", HttpStatusCode.ServiceUnavailable, null),
        ("POST", "/v1/agents/{agent_id}/validate-config", "admin", HttpStatusCode.ServiceUnavailable, null),
        ("GET", "/v1/agents/{agent_id}/config", "viewer", HttpStatusCode.OK, null),
        ("DELETE", "/v1/registration-tokens/{token_id}", "admin", HttpStatusCode.NoContent, null),
        ("GET", "/v1/workspaces/{workspace_id}/alert-rules", "viewer", HttpStatusCode.OK, null),
        ("PUT", "/v1/workspaces/{workspace_id}/alert-rules", "editor", HttpStatusCode.OK, new { rules = new[] { new { metric = "cpu_percent", threshold = 80 } } }),
    ];

    [Theory]
    [MemberData(nameof(Roles))]
    public async Task Each_role_may_do_exactly_what_design_md_grants(string role)
    {
        string[] order = ["viewer", "editor", "admin", "owner"];
        var tenant = await Tenants.CreateAsync(api, "acme");
        var n = 0;
        foreach (var (method, template, minimum, success, body) in RoleRoutes)
        {
            n++;
            // Fresh resources per case: deletes consume theirs, and the org delete needs an organization of its own.
            var target = tenant;
            if (method == "DELETE" && template == "/v1/organizations/{organization_id}")
            {
                target = await FreshOrganizationAsync(tenant, n);
            }
            var client = await RoleClientAsync(target, role);
            var ids = await ResourcesAsync(target, n);
            object? filledBody = body is null ? null : JsonSerializer.Deserialize<JsonElement>(JsonSerializer.Serialize(body).Replace("{n}", n.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
            var response = await SendAsync(client, method, Fill(template, ids), filledBody);
            var allowed = Array.IndexOf(order, role) >= Array.IndexOf(order, minimum);
            if (allowed)
            {
                Assert.True(response.StatusCode == success, $"{role} {method} {template}: expected {(int)success}, got {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
            else
            {
                await response.ErrorAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
            }
        }
    }

    private readonly Dictionary<(Guid, string), HttpClient> _roleClients = [];

    private async Task<HttpClient> RoleClientAsync(Tenant tenant, string role)
    {
        if (role == "owner")
        {
            return tenant.Owner;
        }
        if (!_roleClients.TryGetValue((tenant.OrganizationId, role), out var client))
        {
            client = await Tenants.MemberAsync(api, tenant, role);
            _roleClients[(tenant.OrganizationId, role)] = client;
        }
        return client;
    }

    private async Task<Tenant> FreshOrganizationAsync(Tenant tenant, int n)
    {
        var org = await (await tenant.Owner.PostAsJsonAsync("/v1/organizations", new { name = "Doomed", slug = $"doomed-{n}" })).JsonAsync(HttpStatusCode.Created);
        return tenant with { OrganizationId = org.Id(), WorkspaceId = Guid.Empty };
    }

    /// <summary>An agent, a registration token, an empty workspace and a viewer member in the tenant: the ids the routes need.</summary>
    private async Task<Dictionary<string, string>> ResourcesAsync(Tenant tenant, int n = 0)
    {
        var ids = new Dictionary<string, string> { ["organization_id"] = tenant.OrganizationId.ToString() };
        if (tenant.WorkspaceId == Guid.Empty)
        {
            return ids;
        }
        var agent = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, $"agent-{n}", new() { ["env"] = "production" });
        var token = await (await tenant.Owner.PostAsJsonAsync($"/v1/workspaces/{tenant.WorkspaceId}/agents/tokens", new { name = $"pending-{n}" })).JsonAsync(HttpStatusCode.Created);
        var tokenId = await TokenIdAsync(token.GetProperty("agent_id").GetGuid());
        var workspace = await (await tenant.Owner.PostAsJsonAsync($"/v1/organizations/{tenant.OrganizationId}/workspaces", new { name = "Empty", slug = $"empty-{n}" })).JsonAsync(HttpStatusCode.Created);
        var email = $"member-{n}-{Guid.NewGuid():N}@example.com";
        var member = await (await tenant.Owner.PostAsJsonAsync($"/v1/organizations/{tenant.OrganizationId}/members", new { email, role = "viewer" })).JsonAsync(HttpStatusCode.Created);
        ids["workspace_id"] = workspace.Id().ToString();
        ids["agent_id"] = agent.Id.ToString();
        ids["token_id"] = tokenId.ToString();
        ids["user_id"] = member.GetProperty("user_id").GetGuid().ToString();
        await using var db = api.Database.CreateDbContext();
        var certificate = new Data.Entities.Certificate { WorkspaceId = tenant.WorkspaceId, Domain = $"c{n}.example.com" };
        var upstream = new Data.Entities.Upstream { WorkspaceId = tenant.WorkspaceId, Name = $"backend-{n}", Servers = [new Data.Entities.UpstreamServerSpec { Address = "10.0.0.1:80" }] };
        var virtualHost = new Data.Entities.VirtualHost { WorkspaceId = tenant.WorkspaceId, Name = $"site-{n}", ServerName = $"s{n}.example.com" };
        db.AddRange(certificate, upstream, virtualHost);
        await db.SaveChangesAsync();
        ids["certificate_id"] = certificate.Id.ToString();
        ids["upstream_id"] = upstream.Id.ToString();
        ids["virtual_host_id"] = virtualHost.Id.ToString();
        return ids;
    }

    private async Task<Guid> TokenIdAsync(Guid agentId)
    {
        await using var db = api.Database.CreateDbContext();
        return await db.RegistrationTokens.Where(t => t.AgentId == agentId).Select(t => t.Id).SingleAsync();
    }

    private static string Fill(string template, IReadOnlyDictionary<string, string> ids)
    {
        foreach (var (name, value) in ids)
        {
            template = template.Replace("{" + name + "}", value, StringComparison.Ordinal);
        }
        return template;
    }

    private static string Normalize(string raw) => System.Text.RegularExpressions.Regex.Replace(raw, ":[a-z]+}", "}");

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, string method, string url, object? body)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), url);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }
        return client.SendAsync(request);
    }

    /// <summary>Every row of the tenant-owned tables, serialized: equal snapshots mean nothing changed.</summary>
    private async Task<string> SnapshotAsync()
    {
        await using var db = api.Database.CreateDbContext();
        var parts = new object[]
        {
            await db.Organizations.AsNoTracking().OrderBy(x => x.Id).Select(x => new { x.Id, x.Name, x.Slug, x.UpdatedAt }).ToListAsync(),
            await db.Memberships.AsNoTracking().OrderBy(x => x.UserId).ThenBy(x => x.OrganizationId).Select(x => new { x.UserId, x.OrganizationId, x.Role }).ToListAsync(),
            await db.Workspaces.AsNoTracking().OrderBy(x => x.Id).Select(x => new { x.Id, x.Name, x.Slug, x.Settings, x.UpdatedAt }).ToListAsync(),
            await db.Agents.AsNoTracking().OrderBy(x => x.Id).Select(x => new { x.Id, x.Name, x.Labels, x.UpdatedAt }).ToListAsync(),
            await db.VirtualHosts.AsNoTracking().OrderBy(x => x.Id).Select(x => new { x.Id, x.Name, x.UpdatedAt }).ToListAsync(),
            await db.Upstreams.AsNoTracking().OrderBy(x => x.Id).Select(x => new { x.Id, x.Name, x.UpdatedAt }).ToListAsync(),
            await db.Certificates.AsNoTracking().OrderBy(x => x.Id).Select(x => new { x.Id, x.Domain, x.UpdatedAt }).ToListAsync(),
            await db.RegistrationTokens.AsNoTracking().OrderBy(x => x.Id).Select(x => new { x.Id, x.RevokedAt }).ToListAsync(),
            await db.Users.CountAsync(),
            await db.AuditLog.CountAsync(),
            await db.Outbox.CountAsync(),
        };
        return JsonSerializer.Serialize(parts);
    }
}
