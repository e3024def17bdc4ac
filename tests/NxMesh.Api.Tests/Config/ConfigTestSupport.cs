using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using NxMesh.Data.DesiredConfig;
using NxMesh.Data.Entities;
using NxMesh.Nginx;
using NxMesh.Nginx.Rendering;
using NxMesh.Testing;
using Xunit;
using Proto = NxMesh.Protocol.V1;

namespace NxMesh.Api.Tests.Config;

/// <summary>One user owning one organization with one workspace, created through the API.</summary>
public sealed record Tenant(HttpClient Client, Guid UserId, Guid OrganizationId, Guid WorkspaceId)
{
    public string Ws(string path) => $"/v1/workspaces/{WorkspaceId}/{path}";
}

internal static class ConfigTestSupport
{
    public static async Task<Tenant> NewTenantAsync(ApiFixture api, string email)
    {
        var (user, client) = await api.NewUserAsync(email);
        var slug = "o" + Guid.NewGuid().ToString("N")[..10];
        var organization = await (await client.PostAsJsonAsync("/v1/organizations", new { name = "Org " + slug, slug })).JsonAsync(HttpStatusCode.Created);
        var organizationId = organization.GetProperty("id").GetGuid();
        var workspace = await (await client.PostAsJsonAsync($"/v1/organizations/{organizationId}/workspaces", new { name = "Production", slug = "prod" })).JsonAsync(HttpStatusCode.Created);
        return new Tenant(client, user.Id, organizationId, workspace.GetProperty("id").GetGuid());
    }

    /// <summary>Another workspace of the same organization.</summary>
    public static async Task<Guid> NewWorkspaceAsync(Tenant tenant, string slug)
    {
        var workspace = await (await tenant.Client.PostAsJsonAsync($"/v1/organizations/{tenant.OrganizationId}/workspaces", new { name = slug, slug })).JsonAsync(HttpStatusCode.Created);
        return workspace.GetProperty("id").GetGuid();
    }

    /// <summary>A user with <paramref name="role"/> in the tenant's organization (membership written directly).</summary>
    public static async Task<HttpClient> MemberAsync(ApiFixture api, Tenant tenant, string email, OrganizationRole role)
    {
        var user = await api.CreateUserAsync(email);
        await using (var db = api.Database.CreateDbContext())
        {
            db.Memberships.Add(new Membership { OrganizationId = tenant.OrganizationId, UserId = user.Id, Role = role, CreatedAt = DateTimeOffset.UtcNow });
            await db.SaveChangesAsync();
        }
        return await api.LoginAsync(email);
    }

    public static async Task<Guid> CreateUpstreamAsync(Tenant tenant, string name = "api-backend", string address = "127.0.0.1:9001")
    {
        var body = new { name, algorithm = "round_robin", servers = new[] { new { address, weight = 1 } } };
        return (await (await tenant.Client.PostAsJsonAsync(tenant.Ws("upstreams"), body)).JsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();
    }

    public static async Task<Guid> CreateSelfSignedAsync(Tenant tenant, string domain)
    {
        var body = new { domain, provider = "self_signed" };
        return (await (await tenant.Client.PostAsJsonAsync(tenant.Ws("certificates"), body)).JsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();
    }

    public static async Task<Guid> CreateAgentAsync(ApiFixture api, Guid workspaceId, string name)
    {
        await using var db = api.Database.CreateDbContext();
        var agent = new Agent { WorkspaceId = workspaceId, Name = name, CreatedAt = DateTimeOffset.UtcNow };
        db.Agents.Add(agent);
        await db.SaveChangesAsync();
        return agent.Id;
    }

    public static Task<HttpResponseMessage> PostJsonAsync(this HttpClient client, string uri, string json) => client.SendRawAsync(HttpMethod.Post, uri, json);

    /// <summary>Outbox messages and audit entries of a workspace, to prove a mutation wrote both (or a refusal neither).</summary>
    public static async Task<(int Outbox, int Audit)> CountsAsync(ApiFixture api, Guid workspaceId)
    {
        await using var db = api.Database.CreateDbContext();
        return (await db.Outbox.CountAsync(o => o.WorkspaceId == workspaceId && o.Type == "workspace.config_changed"),
            await db.AuditLog.CountAsync(a => a.WorkspaceId == workspaceId));
    }

    /// <summary>
    /// The stored virtual host (with the upstreams and certificates it references) as the ConfigUpdate an agent
    /// receives: AgentHub's own <see cref="DesiredConfigBuilder"/> (private keys decrypted), narrowed to this virtual host.
    /// </summary>
    public static async Task<Proto.ConfigUpdate> DesiredConfigAsync(ApiFixture api, Guid virtualHostId)
    {
        await using var db = api.Database.CreateDbContext();
        var workspaceId = await db.VirtualHosts.Where(v => v.Id == virtualHostId).Select(v => v.WorkspaceId).SingleAsync();
        var builder = new DesiredConfigBuilder(db, api.Factory.Services.GetRequiredService<IDataProtectionProvider>());
        var source = await builder.LoadWorkspaceAsync(workspaceId, CancellationToken.None);
        Assert.NotNull(source);
        var update = builder.Build(source, Guid.NewGuid(), new Dictionary<string, string>());
        var vhost = Assert.Single(update.VirtualHosts, v => v.Id == virtualHostId.ToString());
        update.VirtualHosts.Clear();
        update.VirtualHosts.Add(vhost);
        return update;
    }

    public static readonly NginxHostSettings Host = new()
    {
        ListenAddress = "127.0.0.1", PrivilegedPortOffset = 20000, StubStatusPort = 18099, AllowedRootDirectories = ["/srv"],
    };

    public static RenderedConfig Render(Proto.ConfigUpdate update) => ConfigRenderer.Render(update, Host, NginxCapabilities.Standard);

    /// <summary>`nginx -t` of a rendered config (main file and certificate files) in a fresh prefix.</summary>
    public static async Task<(int ExitCode, string Output)> NginxTestAsync(RenderedConfig rendered)
    {
        await using var nginx = NginxRunner.Create(rendered.MainConfig);
        foreach (var (path, file) in rendered.Files)
        {
            var target = Path.Combine(nginx.Prefix, path);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            await File.WriteAllTextAsync(target, file.Content);
        }
        return await nginx.TestAsync();
    }

    public static string Json(object value) => JsonSerializer.Serialize(value);
}

/// <summary>
/// nginx's own tokenizer rules (ngx_conf_read_token): whitespace separates, <c>;</c> ends a directive, braces open and
/// close blocks, <c>#</c> at a token start comments to the end of the line, quotes make one argument with backslash
/// escapes. Used to prove a hostile value stays exactly one argument of the directive it was meant for.
/// </summary>
internal static class NginxSyntax
{
    /// <summary>One directive: block depth and its words (name first), unquoted.</summary>
    public sealed record Statement(int Depth, IReadOnlyList<string> Words);

    public static IReadOnlyList<Statement> Parse(string config)
    {
        var statements = new List<Statement>();
        var words = new List<string>();
        var depth = 0;
        var i = 0;
        while (i < config.Length)
        {
            var c = config[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (c == '#')
            {
                while (i < config.Length && config[i] != '\n')
                {
                    i++;
                }
            }
            else if (c is ';' or '{' or '}')
            {
                if (c != '}' || words.Count > 0)
                {
                    statements.Add(new Statement(depth, [.. words, c.ToString()]));
                }
                words.Clear();
                depth += c == '{' ? 1 : c == '}' ? -1 : 0;
                i++;
            }
            else if (c is '"' or '\'')
            {
                var word = new StringBuilder();
                i++;
                while (i < config.Length && config[i] != c)
                {
                    if (config[i] == '\\' && i + 1 < config.Length)
                    {
                        var next = config[i + 1];
                        // nginx keeps the backslash except before the quote, a backslash, t, r and n.
                        word.Append(next switch { '"' or '\'' or '\\' => next.ToString(), 't' => "\t", 'r' => "\r", 'n' => "\n", _ => "\\" + next });
                        i += 2;
                    }
                    else
                    {
                        word.Append(config[i++]);
                    }
                }
                Assert.True(i < config.Length, "unterminated quoted string");
                i++;
                words.Add(word.ToString());
            }
            else
            {
                var word = new StringBuilder();
                while (i < config.Length && !char.IsWhiteSpace(config[i]) && config[i] is not (';' or '{' or '}'))
                {
                    word.Append(config[i++]);
                }
                words.Add(word.ToString());
            }
        }
        Assert.Equal(0, depth);
        return statements;
    }
}
