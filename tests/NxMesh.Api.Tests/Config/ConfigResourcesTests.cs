using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using NxMesh.Data.DesiredConfig;
using NxMesh.Data.Entities;
using Xunit;

namespace NxMesh.Api.Tests.Config;

/// <summary>Virtual hosts, upstreams and certificates: the spec's examples, PATCH semantics, audit + outbox, keys at rest.</summary>
[Collection(ApiCollection.Name)]
public sealed class ConfigResourcesTests(ApiFixture api) : IAsyncLifetime
{
    private static readonly string[] VhostExtras = ["$.data[].http3_enabled", "$.data[].locations", "$.data[].custom_directives", "$.data[].waiting_for_certificate"];
    private static readonly string[] UpstreamExtras = ["$.data[].keepalive_connections", "$.data[].servers[].down", "$.data[].health_check.healthy_threshold", "$.data[].health_check.unhealthy_threshold"];

    public Task InitializeAsync() => api.ResetAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>The spec's request example with its example ids replaced by real ones.</summary>
    private static string SpecRequest(string heading, params (string From, Guid To)[] ids)
    {
        var text = SpecExamples.Request(heading).GetRawText();
        foreach (var (from, to) in ids)
        {
            text = text.Replace(from, to.ToString(), StringComparison.Ordinal);
        }
        return text;
    }

    [Fact]
    public async Task Spec_examples_round_trip_through_create_list_get_patch_and_delete()
    {
        var tenant = await ConfigTestSupport.NewTenantAsync(api, "spec@example.com");
        var upstream = await (await tenant.Client.PostJsonAsync(tenant.Ws("upstreams"), SpecRequest("Create Upstream"))).JsonAsync(HttpStatusCode.Created);
        Assert.Equal("least_connections", upstream.GetProperty("algorithm").GetString());
        Assert.Equal(3, upstream.GetProperty("servers").GetArrayLength());
        Assert.True(upstream.GetProperty("servers")[2].GetProperty("backup").GetBoolean());
        var upstreamId = upstream.GetProperty("id").GetGuid();
        var upstreams = await (await tenant.Client.GetAsync(tenant.Ws("upstreams?page=1&per_page=20"))).JsonAsync(HttpStatusCode.OK);
        SpecExamples.AssertShape(SpecExamples.Response("List Upstreams"), upstreams, UpstreamExtras);

        var certificate = await (await tenant.Client.PostJsonAsync(tenant.Ws("certificates"), SpecRequest("Request Certificate"))).JsonAsync(HttpStatusCode.Created);
        Assert.Equal("pending", certificate.GetProperty("status").GetString());
        Assert.Equal("letsencrypt", certificate.GetProperty("provider").GetString());
        Assert.True(certificate.GetProperty("auto_renew").GetBoolean());
        var selfSigned = await ConfigTestSupport.CreateSelfSignedAsync(tenant, "api.example.com");
        var certificates = await (await tenant.Client.GetAsync(tenant.Ws("certificates"))).JsonAsync(HttpStatusCode.OK);
        // A pending certificate has no issued_at/expires_at yet.
        SpecExamples.AssertShape(SpecExamples.Response("List Certificates"), certificates, nullable: ["$.data[].issued_at", "$.data[].expires_at"]);
        Assert.Equal(2, certificates.GetProperty("meta").GetProperty("total").GetInt32());

        var create = SpecRequest("Create Virtual Host", ("aa0e8400-e29b-41d4-a716-446655440006", upstreamId), ("990e8400-e29b-41d4-a716-446655440005", selfSigned));
        var vhost = await (await tenant.Client.PostJsonAsync(tenant.Ws("virtual-hosts"), create)).JsonAsync(HttpStatusCode.Created);
        var vhostId = vhost.GetProperty("id").GetGuid();
        Assert.Equal("selector", vhost.GetProperty("target_agents").GetProperty("type").GetString());
        Assert.Equal("env=production", vhost.GetProperty("target_agents").GetProperty("label_selector").GetString());
        Assert.Equal("$scheme", vhost.GetProperty("locations")[0].GetProperty("custom_headers")[0].GetProperty("value").GetString());
        Assert.Equal("http://localhost:8080/health", vhost.GetProperty("locations")[1].GetProperty("proxy_pass").GetString());
        var list = await (await tenant.Client.GetAsync(tenant.Ws("virtual-hosts?page=1&per_page=20"))).JsonAsync(HttpStatusCode.OK);
        SpecExamples.AssertShape(SpecExamples.Response("List Virtual Hosts"), list,
            [.. VhostExtras, "$.data[].target_agents.label_selector"]);

        var secondUpstream = await ConfigTestSupport.CreateUpstreamAsync(tenant, "api-v2");
        var patch = SpecRequest("Update Virtual Host", ("aa0e8400-e29b-41d4-a716-446655440007", secondUpstream));
        var patched = await (await tenant.Client.SendRawAsync(HttpMethod.Patch, $"/v1/virtual-hosts/{vhostId}", patch)).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("API Gateway v2", patched.GetProperty("name").GetString());
        var location = Assert.Single(patched.GetProperty("locations").EnumerateArray());
        Assert.Equal("/api/v2", location.GetProperty("path").GetString());
        Assert.Equal(secondUpstream, location.GetProperty("upstream_id").GetGuid());
        // Absent fields keep their values.
        Assert.Equal("api.example.com", patched.GetProperty("server_name").GetString());
        Assert.True(patched.GetProperty("http2_enabled").GetBoolean());
        Assert.Equal(selfSigned, patched.GetProperty("ssl_certificate_id").GetGuid());
        var fetched = await (await tenant.Client.GetAsync($"/v1/virtual-hosts/{vhostId}")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(patched.GetRawText(), fetched.GetRawText());

        var patchedUpstream = await (await tenant.Client.SendRawAsync(HttpMethod.Patch, $"/v1/upstreams/{upstreamId}", SpecRequest("Update Upstream"))).JsonAsync(HttpStatusCode.OK);
        var server = Assert.Single(patchedUpstream.GetProperty("servers").EnumerateArray());
        Assert.Equal(3, server.GetProperty("weight").GetInt32());
        Assert.Equal("least_connections", patchedUpstream.GetProperty("algorithm").GetString());
        Assert.True(patchedUpstream.GetProperty("health_check").GetProperty("enabled").GetBoolean());

        await (await tenant.Client.DeleteAsync($"/v1/virtual-hosts/{vhostId}")).JsonAsync(HttpStatusCode.NoContent);
        await (await tenant.Client.GetAsync($"/v1/virtual-hosts/{vhostId}")).ErrorAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        await (await tenant.Client.DeleteAsync($"/v1/upstreams/{upstreamId}")).JsonAsync(HttpStatusCode.NoContent);
        await (await tenant.Client.DeleteAsync($"/v1/certificates/{selfSigned}")).JsonAsync(HttpStatusCode.NoContent);
        await (await tenant.Client.GetAsync($"/v1/certificates/{selfSigned}")).ErrorAsync(HttpStatusCode.NotFound, "NOT_FOUND");
    }

    [Fact]
    public async Task Patch_null_clears_nullable_fields_and_absent_fields_keep()
    {
        var tenant = await ConfigTestSupport.NewTenantAsync(api, "patch@example.com");
        var upstreamId = await ConfigTestSupport.CreateUpstreamAsync(tenant);
        var certificate = await ConfigTestSupport.CreateSelfSignedAsync(tenant, "a.example.test");
        var body = new
        {
            name = "A", server_name = "a.example.test", listen_port = 8080, ssl_certificate_id = certificate,
            custom_directives = new Dictionary<string, string> { ["gzip"] = "on" },
            locations = new object[] { new { path = "/", upstream_id = upstreamId }, new { path = "= /ping", custom_directives = new Dictionary<string, string> { ["return"] = "200 pong" } } },
        };
        var vhost = await (await tenant.Client.PostAsJsonAsync(tenant.Ws("virtual-hosts"), body)).JsonAsync(HttpStatusCode.Created);
        var id = vhost.GetProperty("id").GetGuid();
        var patched = await (await tenant.Client.SendRawAsync(HttpMethod.Patch, $"/v1/virtual-hosts/{id}", "{\"ssl_certificate_id\":null}")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(JsonValueKind.Null, patched.GetProperty("ssl_certificate_id").ValueKind);
        Assert.Equal(2, patched.GetProperty("locations").GetArrayLength());
        Assert.Equal("on", patched.GetProperty("custom_directives").GetProperty("gzip").GetString());
        // Replacing the locations deletes the old rows.
        var replaced = await (await tenant.Client.SendRawAsync(HttpMethod.Patch, $"/v1/virtual-hosts/{id}", "{\"locations\":[{\"path\":\"/x\",\"proxy_pass\":\"http://10.0.0.1:81\"}]}")).JsonAsync(HttpStatusCode.OK);
        Assert.Single(replaced.GetProperty("locations").EnumerateArray());
        await using (var db = api.Database.CreateDbContext())
        {
            Assert.Equal(1, await db.VirtualHostLocations.CountAsync(l => l.VirtualHostId == id));
        }

        var agent = await ConfigTestSupport.CreateAgentAsync(api, tenant.WorkspaceId, "edge-1");
        var targeted = await (await tenant.Client.PatchAsJsonAsync($"/v1/virtual-hosts/{id}", new { target_agents = new { type = "agents", agent_ids = new[] { agent } } })).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(agent, targeted.GetProperty("target_agents").GetProperty("agent_ids")[0].GetGuid());
        Assert.False(targeted.GetProperty("target_agents").TryGetProperty("label_selector", out _));
        var all = await (await tenant.Client.SendRawAsync(HttpMethod.Patch, $"/v1/virtual-hosts/{id}", "{\"target_agents\":null}")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("{\"type\":\"all\"}", all.GetProperty("target_agents").GetRawText());

        var upstream = await (await tenant.Client.SendRawAsync(HttpMethod.Patch, $"/v1/upstreams/{upstreamId}", "{\"health_check\":{\"path\":\"/healthz\",\"interval\":5,\"timeout\":2}}")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("/healthz", upstream.GetProperty("health_check").GetProperty("path").GetString());
        var cleared = await (await tenant.Client.SendRawAsync(HttpMethod.Patch, $"/v1/upstreams/{upstreamId}", "{\"health_check\":null,\"keepalive_connections\":16}")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(JsonValueKind.Null, cleared.GetProperty("health_check").ValueKind);
        Assert.Equal(16, cleared.GetProperty("keepalive_connections").GetInt32());
        Assert.Equal("api-backend", cleared.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Every_mutation_writes_audit_and_outbox_in_one_transaction()
    {
        var tenant = await ConfigTestSupport.NewTenantAsync(api, "outbox@example.com");
        var start = await ConfigTestSupport.CountsAsync(api, tenant.WorkspaceId);
        var upstreamId = await ConfigTestSupport.CreateUpstreamAsync(tenant);
        var certificate = await ConfigTestSupport.CreateSelfSignedAsync(tenant, "o.example.test");
        var vhost = await (await tenant.Client.PostAsJsonAsync(tenant.Ws("virtual-hosts"), new { name = "O", server_name = "o.example.test", locations = new[] { new { path = "/", upstream_id = upstreamId } } })).JsonAsync(HttpStatusCode.Created);
        var id = vhost.GetProperty("id").GetGuid();
        await (await tenant.Client.PatchAsJsonAsync($"/v1/virtual-hosts/{id}", new { name = "O2" })).JsonAsync(HttpStatusCode.OK);
        await (await tenant.Client.PatchAsJsonAsync($"/v1/upstreams/{upstreamId}", new { keepalive_connections = 4 })).JsonAsync(HttpStatusCode.OK);
        await (await tenant.Client.DeleteAsync($"/v1/virtual-hosts/{id}")).JsonAsync(HttpStatusCode.NoContent);
        await (await tenant.Client.DeleteAsync($"/v1/upstreams/{upstreamId}")).JsonAsync(HttpStatusCode.NoContent);
        await (await tenant.Client.DeleteAsync($"/v1/certificates/{certificate}")).JsonAsync(HttpStatusCode.NoContent);
        var end = await ConfigTestSupport.CountsAsync(api, tenant.WorkspaceId);
        Assert.Equal(start.Outbox + 8, end.Outbox);
        Assert.Equal(start.Audit + 8, end.Audit);

        await using var db = api.Database.CreateDbContext();
        var entries = await db.AuditLog.AsNoTracking().Where(a => a.WorkspaceId == tenant.WorkspaceId && a.ResourceType != "workspace").OrderBy(a => a.CreatedAt).ToListAsync();
        Assert.Equal(
            ["upstream:create", "certificate:create", "virtual_host:create", "virtual_host:update", "upstream:update", "virtual_host:delete", "upstream:delete", "certificate:delete"],
            entries.Select(e => $"{e.ResourceType}:{e.Action}"));
        Assert.All(entries, e => Assert.Equal(tenant.UserId, e.ActorUserId));
        var update = entries.Single(e => e.ResourceType == "virtual_host" && e.Action == "update");
        Assert.Contains("\"O\"", update.Before!, StringComparison.Ordinal);
        Assert.Contains("\"O2\"", update.After!, StringComparison.Ordinal);
        var message = await db.Outbox.AsNoTracking().Where(o => o.WorkspaceId == tenant.WorkspaceId).OrderBy(o => o.Id).FirstAsync();
        Assert.Equal(upstreamId, JsonNode.Parse(message.Payload)!["resource_id"]!.GetValue<Guid>());
    }

    [Fact]
    public async Task Referenced_upstream_and_certificate_cannot_be_deleted_and_the_answer_names_the_referrers()
    {
        var tenant = await ConfigTestSupport.NewTenantAsync(api, "refs@example.com");
        var upstreamId = await ConfigTestSupport.CreateUpstreamAsync(tenant);
        var certificate = await ConfigTestSupport.CreateSelfSignedAsync(tenant, "r.example.test");
        var vhost = await (await tenant.Client.PostAsJsonAsync(tenant.Ws("virtual-hosts"), new
        {
            name = "Shop front", server_name = "r.example.test", listen_port = 443, ssl_enabled = true, ssl_certificate_id = certificate,
            locations = new[] { new { path = "/", upstream_id = upstreamId } },
        })).JsonAsync(HttpStatusCode.Created);
        var id = vhost.GetProperty("id").GetGuid();
        var upstreamError = await (await tenant.Client.DeleteAsync($"/v1/upstreams/{upstreamId}")).ErrorAsync(HttpStatusCode.Conflict, "CONFLICT");
        Assert.Contains("Shop front", upstreamError.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains(id.ToString(), upstreamError.GetProperty("message").GetString(), StringComparison.Ordinal);
        var certificateError = await (await tenant.Client.DeleteAsync($"/v1/certificates/{certificate}")).ErrorAsync(HttpStatusCode.Conflict, "CONFLICT");
        Assert.Contains("Shop front", certificateError.GetProperty("message").GetString(), StringComparison.Ordinal);
        await (await tenant.Client.GetAsync($"/v1/upstreams/{upstreamId}")).JsonAsync(HttpStatusCode.OK);
        await (await tenant.Client.GetAsync($"/v1/certificates/{certificate}")).JsonAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Certificates_keep_private_keys_protected_and_never_return_them()
    {
        var tenant = await ConfigTestSupport.NewTenantAsync(api, "keys@example.com");
        var (pem, key) = TestPems.Create("upload.example.test", DateTimeOffset.UtcNow.AddDays(90));
        var custom = await (await tenant.Client.PostAsJsonAsync(tenant.Ws("certificates"), new { domain = "upload.example.test", provider = "custom", certificate_pem = pem, private_key_pem = key }))
            .JsonAsync(HttpStatusCode.Created);
        Assert.Equal("active", custom.GetProperty("status").GetString());
        Assert.False(custom.GetProperty("auto_renew").GetBoolean());
        SpecExamples.AssertShape(SpecExamples.Response("List Certificates").GetProperty("data")[0], custom);
        var wildcard = await (await tenant.Client.PostAsJsonAsync(tenant.Ws("certificates"), new { domain = "*.example.test", provider = "self_signed" })).JsonAsync(HttpStatusCode.Created);
        Assert.True(wildcard.GetProperty("is_wildcard").GetBoolean());
        var wildcardId = wildcard.GetProperty("id").GetGuid();
        var listed = await (await tenant.Client.GetAsync(tenant.Ws("certificates"))).Content.ReadAsStringAsync();
        Assert.DoesNotContain("PRIVATE KEY", listed, StringComparison.Ordinal);
        Assert.DoesNotContain("BEGIN", listed, StringComparison.Ordinal);

        await using var db = api.Database.CreateDbContext();
        var protector = api.Factory.Services.GetRequiredService<IDataProtectionProvider>().CreateProtector(CertificateKeyProtection.Purpose);
        var stored = await db.Certificates.AsNoTracking().SingleAsync(c => c.Id == custom.GetProperty("id").GetGuid());
        Assert.DoesNotContain("PRIVATE KEY", stored.PrivateKeyProtected!, StringComparison.Ordinal);
        Assert.Equal(key, protector.Unprotect(stored.PrivateKeyProtected!));
        var issued = await db.Certificates.AsNoTracking().SingleAsync(c => c.Id == wildcardId);
        using var certificate = X509Certificate2.CreateFromPem(issued.CertificatePem, protector.Unprotect(issued.PrivateKeyProtected!));
        Assert.True(certificate.HasPrivateKey);
        Assert.Contains("*.example.test", certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().EnumerateDnsNames());
        Assert.Equal(issued.ExpiresAt, new DateTimeOffset(certificate.NotAfter.ToUniversalTime()));
        var audit = await db.AuditLog.AsNoTracking().Where(a => a.ResourceType == "certificate").ToListAsync();
        Assert.All(audit, a => Assert.DoesNotContain("PRIVATE KEY", a.After ?? "", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Ssl_virtual_host_with_a_self_signed_certificate_renders_and_passes_nginx_test()
    {
        var tenant = await ConfigTestSupport.NewTenantAsync(api, "render@example.com");
        var upstreamId = await ConfigTestSupport.CreateUpstreamAsync(tenant);
        var certificate = await ConfigTestSupport.CreateSelfSignedAsync(tenant, "tls.example.test");
        var vhost = await (await tenant.Client.PostAsJsonAsync(tenant.Ws("virtual-hosts"), new
        {
            name = "TLS", server_name = "tls.example.test", listen_port = 443, ssl_enabled = true, http2_enabled = true, ssl_certificate_id = certificate,
            custom_directives = new Dictionary<string, string> { ["client_max_body_size"] = "10m" },
            locations = new object[]
            {
                new
                {
                    path = "/", upstream_id = upstreamId,
                    custom_headers = new[] { new { name = "Strict-Transport-Security", value = "max-age=31536000; includeSubDomains", always = true } },
                    rewrite_rules = new[] { new { pattern = "^/old/(.*)$", replacement = "/new/$1", flag = "permanent" } },
                },
                new { path = "/static", root = "/srv/www", index = "index.html" },
            },
        })).JsonAsync(HttpStatusCode.Created);
        var rendered = ConfigTestSupport.Render(await ConfigTestSupport.DesiredConfigAsync(api, vhost.GetProperty("id").GetGuid()));
        var (exitCode, output) = await ConfigTestSupport.NginxTestAsync(rendered);
        Assert.True(exitCode == 0, output + "\n" + rendered.MainConfig);
        var statements = NginxSyntax.Parse(rendered.MainConfig);
        Assert.Contains(statements, s => s.Words.SequenceEqual(["add_header", "Strict-Transport-Security", "max-age=31536000; includeSubDomains", "always", ";"]));
    }

    [Fact]
    public async Task Another_organization_gets_404_on_every_endpoint_and_changes_nothing()
    {
        var owner = await ConfigTestSupport.NewTenantAsync(api, "owner@example.com");
        var stranger = await ConfigTestSupport.NewTenantAsync(api, "stranger@example.com");
        var upstreamId = await ConfigTestSupport.CreateUpstreamAsync(owner);
        var certificate = await ConfigTestSupport.CreateSelfSignedAsync(owner, "iso.example.test");
        var vhost = await (await owner.Client.PostAsJsonAsync(owner.Ws("virtual-hosts"), new { name = "Iso", server_name = "iso.example.test", locations = new[] { new { path = "/", upstream_id = upstreamId } } })).JsonAsync(HttpStatusCode.Created);
        var vhostId = vhost.GetProperty("id").GetGuid();
        var before = await ConfigTestSupport.CountsAsync(api, owner.WorkspaceId);
        var valid = ConfigTestSupport.Json(new { name = "X", server_name = "x.example.test", servers = new[] { new { address = "10.0.0.1:80" } }, domain = "x.example.test", provider = "self_signed" });
        var requests = new (HttpMethod Method, string Uri, string? Body)[]
        {
            (HttpMethod.Get, owner.Ws("virtual-hosts"), null), (HttpMethod.Post, owner.Ws("virtual-hosts"), valid),
            (HttpMethod.Get, $"/v1/virtual-hosts/{vhostId}", null), (HttpMethod.Patch, $"/v1/virtual-hosts/{vhostId}", "{\"name\":\"Stolen\"}"), (HttpMethod.Delete, $"/v1/virtual-hosts/{vhostId}", null),
            (HttpMethod.Get, owner.Ws("upstreams"), null), (HttpMethod.Post, owner.Ws("upstreams"), valid),
            (HttpMethod.Get, $"/v1/upstreams/{upstreamId}", null), (HttpMethod.Patch, $"/v1/upstreams/{upstreamId}", "{\"name\":\"Stolen\"}"), (HttpMethod.Delete, $"/v1/upstreams/{upstreamId}", null),
            (HttpMethod.Get, owner.Ws("certificates"), null), (HttpMethod.Post, owner.Ws("certificates"), valid),
            (HttpMethod.Get, $"/v1/certificates/{certificate}", null), (HttpMethod.Delete, $"/v1/certificates/{certificate}", null),
        };
        foreach (var (method, uri, body) in requests)
        {
            var request = new HttpRequestMessage(method, uri);
            if (body is not null)
            {
                request.Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
            }
            var error = await (await stranger.Client.SendAsync(request)).ErrorAsync(HttpStatusCode.NotFound, "NOT_FOUND");
            Assert.DoesNotContain("Iso", error.GetRawText(), StringComparison.Ordinal);
        }
        Assert.Equal(before, await ConfigTestSupport.CountsAsync(api, owner.WorkspaceId));
        var fetched = await (await owner.Client.GetAsync($"/v1/virtual-hosts/{vhostId}")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("Iso", fetched.GetProperty("name").GetString());
        await (await owner.Client.GetAsync($"/v1/upstreams/{upstreamId}")).JsonAsync(HttpStatusCode.OK);
        await (await owner.Client.GetAsync($"/v1/certificates/{certificate}")).JsonAsync(HttpStatusCode.OK);
    }

    [Theory]
    [InlineData(OrganizationRole.Viewer, false)]
    [InlineData(OrganizationRole.Editor, true)]
    [InlineData(OrganizationRole.Admin, true)]
    public async Task Viewers_read_and_editors_change(OrganizationRole role, bool mayChange)
    {
        var owner = await ConfigTestSupport.NewTenantAsync(api, "roles-owner@example.com");
        var client = await ConfigTestSupport.MemberAsync(api, owner, "member@example.com", role);
        var upstreamId = await ConfigTestSupport.CreateUpstreamAsync(owner);
        var certificate = await ConfigTestSupport.CreateSelfSignedAsync(owner, "role.example.test");
        var vhost = await (await owner.Client.PostAsJsonAsync(owner.Ws("virtual-hosts"), new { name = "R", server_name = "r.example.test", locations = new[] { new { path = "/", upstream_id = upstreamId } } })).JsonAsync(HttpStatusCode.Created);
        var vhostId = vhost.GetProperty("id").GetGuid();
        foreach (var uri in new[] { owner.Ws("virtual-hosts"), owner.Ws("upstreams"), owner.Ws("certificates"), $"/v1/virtual-hosts/{vhostId}", $"/v1/upstreams/{upstreamId}", $"/v1/certificates/{certificate}" })
        {
            await (await client.GetAsync(uri)).JsonAsync(HttpStatusCode.OK);
        }
        var mutations = new Func<Task<HttpResponseMessage>>[]
        {
            () => client.PostAsJsonAsync(owner.Ws("upstreams"), new { name = "new-" + role, servers = new[] { new { address = "10.0.0.2:80" } } }),
            () => client.PatchAsJsonAsync($"/v1/upstreams/{upstreamId}", new { keepalive_connections = 2 }),
            () => client.PostAsJsonAsync(owner.Ws("certificates"), new { domain = $"{role}.example.test".ToLowerInvariant(), provider = "letsencrypt" }),
            () => client.PostAsJsonAsync(owner.Ws("virtual-hosts"), new { name = "N", server_name = $"n-{role}.example.test".ToLowerInvariant(), locations = new[] { new { path = "/", proxy_pass = "http://10.0.0.1:8080" } } }),
            () => client.PatchAsJsonAsync($"/v1/virtual-hosts/{vhostId}", new { name = "Renamed" }),
            () => client.DeleteAsync($"/v1/virtual-hosts/{vhostId}"),
            () => client.DeleteAsync($"/v1/certificates/{certificate}"),
            () => client.DeleteAsync($"/v1/upstreams/{upstreamId}"),
        };
        foreach (var mutation in mutations)
        {
            var response = await mutation();
            if (mayChange)
            {
                Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            }
            else
            {
                await response.ErrorAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
            }
        }
    }
}

[Collection(ApiCollection.Name)]
public sealed class ConfigOpenApiTests(ApiFixture api)
{
    [Fact]
    public async Task OpenApi_documents_every_config_route_with_typed_patch_bodies()
    {
        var document = await (await api.Anonymous().GetAsync("/openapi/v1.json")).JsonAsync(HttpStatusCode.OK);
        var paths = document.GetProperty("paths");
        var expected = new (string Path, string[] Methods)[]
        {
            ("/v1/workspaces/{workspace_id}/virtual-hosts", ["get", "post"]), ("/v1/virtual-hosts/{virtual_host_id}", ["get", "patch", "delete"]),
            ("/v1/workspaces/{workspace_id}/upstreams", ["get", "post"]), ("/v1/upstreams/{upstream_id}", ["get", "patch", "delete"]),
            ("/v1/workspaces/{workspace_id}/certificates", ["get", "post"]), ("/v1/certificates/{certificate_id}", ["get", "delete"]),
        };
        foreach (var (path, methods) in expected)
        {
            Assert.True(paths.TryGetProperty(path, out var item), $"{path} missing");
            foreach (var method in methods)
            {
                Assert.True(item.TryGetProperty(method, out var operation), $"{method} {path} missing");
                Assert.True(operation.TryGetProperty("security", out _), $"{method} {path} without bearer security");
            }
        }
        foreach (var path in new[] { "/v1/virtual-hosts/{virtual_host_id}", "/v1/upstreams/{upstream_id}" })
        {
            var schema = paths.GetProperty(path).GetProperty("patch").GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema");
            Assert.Contains("Request", schema.GetRawText(), StringComparison.Ordinal);
        }
    }
}
