using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using NxMesh.Data.Entities;
using NxMesh.Api.Tests.Config;
using Xunit;

namespace NxMesh.Api.Tests;

/// <summary>GET /agents/{id} <c>config</c> (desired vs applied) and GET /agents/{id}/config (desired ConfigUpdate + rendered nginx.conf).</summary>
[Collection(ApiCollection.Name)]
public sealed class AgentConfigTests(ApiFixture api) : IAsyncLifetime
{
    public Task InitializeAsync() => api.ResetAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Get_agent_shows_desired_vs_applied_and_in_sync_only_when_they_match()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var agent = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-1", []);

        var fresh = (await (await tenant.Owner.GetAsync($"/v1/agents/{agent.Id}")).JsonAsync(HttpStatusCode.OK)).GetProperty("config");
        Assert.Equal(JsonValueKind.Null, fresh.GetProperty("desired_config_id").ValueKind);
        Assert.Equal(JsonValueKind.Null, fresh.GetProperty("applied_config_id").ValueKind);
        Assert.False(fresh.GetProperty("in_sync").GetBoolean());
        Assert.Equal(JsonValueKind.Null, fresh.GetProperty("last_apply_status").ValueKind);
        Assert.Equal(
            ["applied_config_id", "applied_config_version", "desired_config_id", "desired_config_version", "in_sync", "last_apply_at", "last_apply_error", "last_apply_status"],
            fresh.EnumerateObject().Select(p => p.Name).Order());

        var appliedAt = new DateTimeOffset(2026, 3, 2, 12, 0, 0, TimeSpan.Zero);
        await SetAsync(agent.Id, a =>
        {
            a.DesiredConfigId = "aaa"; a.DesiredConfigVersion = 3; a.AppliedConfigId = "aaa"; a.AppliedConfigVersion = 3;
            a.LastApplyStatus = ConfigApplyStatus.Success; a.LastApplyAt = appliedAt;
        });
        var synced = (await (await tenant.Owner.GetAsync($"/v1/agents/{agent.Id}")).JsonAsync(HttpStatusCode.OK)).GetProperty("config");
        Assert.True(synced.GetProperty("in_sync").GetBoolean());
        Assert.Equal("aaa", synced.GetProperty("desired_config_id").GetString());
        Assert.Equal(3, synced.GetProperty("applied_config_version").GetInt64());
        Assert.Equal("success", synced.GetProperty("last_apply_status").GetString());
        Assert.Equal("2026-03-02T12:00:00Z", synced.GetProperty("last_apply_at").GetString());

        await SetAsync(agent.Id, a =>
        {
            a.DesiredConfigId = "bbb"; a.DesiredConfigVersion = 4;
            a.LastApplyStatus = ConfigApplyStatus.RolledBack; a.LastApplyError = "bind() to 0.0.0.0:80 failed (98: Address already in use)";
        });
        var drifted = (await (await tenant.Owner.GetAsync($"/v1/agents/{agent.Id}")).JsonAsync(HttpStatusCode.OK)).GetProperty("config");
        Assert.False(drifted.GetProperty("in_sync").GetBoolean());
        Assert.Equal("bbb", drifted.GetProperty("desired_config_id").GetString());
        Assert.Equal(4, drifted.GetProperty("desired_config_version").GetInt64());
        Assert.Equal("aaa", drifted.GetProperty("applied_config_id").GetString());
        Assert.Equal("rolled_back", drifted.GetProperty("last_apply_status").GetString());
        Assert.Contains("Address already in use", drifted.GetProperty("last_apply_error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Config_shows_the_desired_update_and_rendered_nginx_config_without_the_private_key()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var agent = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "web-1", new() { ["env"] = "production" });
        await SetAsync(agent.Id, a => a.Capabilities = ["http2", "ssl", "stub_status"]);
        var certificate = await (await tenant.Owner.PostAsJsonAsync($"/v1/workspaces/{tenant.WorkspaceId}/certificates",
            new { domain = "tls.example.test", provider = "self_signed" })).JsonAsync(HttpStatusCode.Created);
        var upstream = await (await tenant.Owner.PostAsJsonAsync($"/v1/workspaces/{tenant.WorkspaceId}/upstreams",
            new { name = "backend", servers = new[] { new { address = "127.0.0.1:9001" } } })).JsonAsync(HttpStatusCode.Created);
        var vhost = await (await tenant.Owner.PostAsJsonAsync($"/v1/workspaces/{tenant.WorkspaceId}/virtual-hosts", new
        {
            name = "tls", server_name = "tls.example.test", listen_port = 443, ssl_enabled = true, ssl_certificate_id = certificate.Id(),
            target_agents = new { type = "selector", label_selector = "env=production" },
            locations = new[] { new { path = "/", upstream_id = upstream.Id() } },
        })).JsonAsync(HttpStatusCode.Created);
        var privateKey = await PrivateKeyAsync(certificate.Id());
        Assert.Contains("PRIVATE KEY", privateKey, StringComparison.Ordinal);

        var viewer = await Tenants.MemberAsync(api, tenant, "viewer");
        var response = await viewer.GetAsync($"/v1/agents/{agent.Id}/config");
        var raw = await response.Content.ReadAsStringAsync();
        var body = await response.JsonAsync(HttpStatusCode.OK);
        Assert.DoesNotContain("PRIVATE KEY", raw, StringComparison.Ordinal);
        var keyBody = privateKey.Split('\n').Where(l => l.Length > 0 && !l.StartsWith("-----", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(keyBody);
        Assert.All(keyBody, line => Assert.DoesNotContain(line, raw, StringComparison.Ordinal));

        var desired = body.GetProperty("desired");
        var configId = body.GetProperty("config_id").GetString()!;
        Assert.Matches("^[0-9a-f]{64}$", configId);
        Assert.Equal(configId, desired.GetProperty("config_id").GetString());
        Assert.Equal(1, body.GetProperty("version").GetInt64());
        Assert.Equal(vhost.Id().ToString(), Assert.Single(desired.GetProperty("virtual_hosts").EnumerateArray().ToList()).GetProperty("id").GetString());
        var shown = desired.GetProperty("certificates").GetProperty(certificate.Id().ToString());
        Assert.Equal("[redacted]", shown.GetProperty("private_key_pem").GetString());
        Assert.Contains("BEGIN CERTIFICATE", shown.GetProperty("certificate_pem").GetString(), StringComparison.Ordinal);

        var nginx = body.GetProperty("nginx_config").GetString()!;
        var statements = NginxSyntax.Parse(nginx);
        Assert.Contains(statements, s => s.Words.SequenceEqual(["server_name", "tls.example.test", ";"]));
        Assert.Contains(statements, s => s.Words.Count >= 2 && s.Words[0] == "ssl_certificate_key" && s.Words[1] == $"certs/{certificate.Id()}.key");
        Assert.Contains(statements, s => s.Words.SequenceEqual(["server", "127.0.0.1:9001", ";"]) || (s.Words.Count > 1 && s.Words[0] == "server" && s.Words[1] == "127.0.0.1:9001"));
        Assert.Contains($"config_id {configId} version 1", nginx, StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Array, body.GetProperty("warnings").ValueKind);
        Assert.Equal("0.0.0.0", body.GetProperty("render_host").GetProperty("listen_address").GetString());
        Assert.Equal(["http2", "ssl", "stub_status"], body.GetProperty("render_capabilities").EnumerateArray().Select(c => c.GetString()));

        // The version is the agent's: shown again, unchanged; GET /agents/{id} now names the same desired config.
        var again = await (await viewer.GetAsync($"/v1/agents/{agent.Id}/config")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(1, again.GetProperty("version").GetInt64());
        var detail = await (await viewer.GetAsync($"/v1/agents/{agent.Id}")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(configId, detail.GetProperty("config").GetProperty("desired_config_id").GetString());
        Assert.Equal(1, detail.GetProperty("config").GetProperty("desired_config_version").GetInt64());
    }

    [Fact]
    public async Task Config_follows_targeting_and_a_change_gives_a_new_id_and_version()
    {
        var tenant = await Tenants.CreateAsync(api, "acme");
        var production = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "prod-1", new() { ["env"] = "production" });
        var staging = await Tenants.SeedAgentAsync(api, tenant.WorkspaceId, "staging-1", new() { ["env"] = "staging" });
        await (await tenant.Owner.PostAsJsonAsync($"/v1/workspaces/{tenant.WorkspaceId}/virtual-hosts", new
        {
            name = "site", server_name = "site.example.test", listen_port = 80,
            target_agents = new { type = "selector", label_selector = "env=production" },
            locations = new[] { new { path = "/", proxy_pass = "http://127.0.0.1:9001" } },
        })).JsonAsync(HttpStatusCode.Created);

        var prod = await (await tenant.Owner.GetAsync($"/v1/agents/{production.Id}/config")).JsonAsync(HttpStatusCode.OK);
        var stage = await (await tenant.Owner.GetAsync($"/v1/agents/{staging.Id}/config")).JsonAsync(HttpStatusCode.OK);
        Assert.Contains("site.example.test", prod.GetProperty("nginx_config").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("site.example.test", stage.GetProperty("nginx_config").GetString(), StringComparison.Ordinal);
        Assert.False(stage.GetProperty("desired").TryGetProperty("virtual_hosts", out var none) && none.GetArrayLength() > 0);
        Assert.NotEqual(prod.GetProperty("config_id").GetString(), stage.GetProperty("config_id").GetString());

        await (await tenant.Owner.PatchAsJsonAsync($"/v1/agents/{staging.Id}", new { labels = new Dictionary<string, string> { ["env"] = "production" } })).JsonAsync(HttpStatusCode.OK);
        var moved = await (await tenant.Owner.GetAsync($"/v1/agents/{staging.Id}/config")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(prod.GetProperty("config_id").GetString(), moved.GetProperty("config_id").GetString());
        Assert.Equal(2, moved.GetProperty("version").GetInt64());
    }

    [Fact]
    public async Task The_openapi_document_describes_the_config_block_and_the_preview()
    {
        var document = await (await api.Anonymous().GetAsync("/openapi/v1.json")).JsonAsync(HttpStatusCode.OK);
        var schemas = document.GetProperty("components").GetProperty("schemas");
        Assert.True(schemas.GetProperty("AgentDetailResponse").GetProperty("properties").TryGetProperty("config", out _));
        var config = schemas.GetProperty("AgentConfigState").GetProperty("properties");
        foreach (var name in new[] { "desired_config_id", "desired_config_version", "applied_config_id", "applied_config_version", "in_sync", "last_apply_status", "last_apply_error", "last_apply_at" })
        {
            Assert.True(config.TryGetProperty(name, out _), $"config lacks {name}");
        }
        var preview = schemas.GetProperty("AgentConfigResponse");
        Assert.Contains("redacted", preview.GetProperty("description").GetString(), StringComparison.Ordinal);
        foreach (var name in new[] { "config_id", "version", "desired", "nginx_config", "warnings", "render_host" })
        {
            Assert.True(preview.GetProperty("properties").TryGetProperty(name, out _), $"preview lacks {name}");
        }
        var paths = document.GetProperty("paths");
        foreach (var (path, method) in new[] { ("/v1/agents/{agent_id}/restart", "post"), ("/v1/agents/{agent_id}/stop", "post"), ("/v1/agents/{agent_id}/status", "get"), ("/v1/agents/{agent_id}/validate-config", "post") })
        {
            Assert.True(paths.GetProperty(path).GetProperty(method).GetProperty("responses").TryGetProperty("503", out _), $"{method} {path} does not document 503");
        }
    }

    private async Task SetAsync(Guid agentId, Action<Agent> change)
    {
        await using var db = api.Database.CreateDbContext();
        var agent = await db.Agents.SingleAsync(a => a.Id == agentId);
        change(agent);
        await db.SaveChangesAsync();
    }

    /// <summary>The certificate's real private key, unprotected with the Api's own Data Protection.</summary>
    private async Task<string> PrivateKeyAsync(Guid certificateId)
    {
        await using var db = api.Database.CreateDbContext();
        var certificate = await db.Certificates.AsNoTracking().SingleAsync(c => c.Id == certificateId);
        var provider = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions
            .GetRequiredService<Microsoft.AspNetCore.DataProtection.IDataProtectionProvider>(api.Factory.Services);
        return NxMesh.Data.DesiredConfig.CertificateKeyProtection.Unprotect(provider, certificate.PrivateKeyProtected!);
    }
}
