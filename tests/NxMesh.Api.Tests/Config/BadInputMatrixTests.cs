using System.Net;
using Microsoft.EntityFrameworkCore;
using NxMesh.Nginx.Rendering;
using Xunit;
using Proto = NxMesh.Protocol.V1;

namespace NxMesh.Api.Tests.Config;

/// <summary>
/// The bad-input matrix: every string field that reaches nginx (and the display names beside them) × CR, LF, NUL,
/// <c>;</c>, <c>{</c>, <c>}</c>, <c>"</c>, <c>'</c>, <c>#</c>, <c>$</c> and an overlong value. Each case answers 422 with
/// the envelope and a detail on that field, or is accepted and provably inert: the stored virtual host, rendered as
/// an agent would, passes `nginx -t`, and nginx's tokenizer finds the same directives with the same argument counts as
/// with a benign value, the hostile value being exactly the argument the benign one was. Never a 5xx. Which payloads a
/// field accepts is stated per field (<c>Accepts</c>), so the matrix also pins the decisions of design.md.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class BadInputMatrixTests(ApiFixture api)
{
    private static readonly (string Name, string Value)[] Payloads =
    [
        ("CR", "\r"), ("LF", "\n"), ("NUL", "\0"), ("semicolon", ";"), ("open_brace", "{"), ("close_brace", "}"),
        ("double_quote", "\""), ("single_quote", "'"), ("hash", "#"), ("dollar", "$"), ("overlong", new string('a', 5000)),
    ];

    /// <summary>
    /// How a field's value is placed in a request (<c>Body</c>) and in the desired config (<c>SetProto</c>).
    /// <c>Rendered</c> is false for names that never reach nginx: then the rendered config must not change at all.
    /// </summary>
    public sealed record Field(string Name, string Resource, string Benign, string DetailPrefix, bool Rendered,
        Func<string, MatrixIds, object> Body, Action<Proto.ConfigUpdate, string> SetProto, string[] Accepts);

    /// <summary>Characters nginx quoting carries as data (design.md); <c>$</c> only where nginx never interpolates.</summary>
    private static readonly string[] Quoted = ["semicolon", "open_brace", "close_brace", "double_quote", "single_quote", "hash"];
    private static readonly string[] QuotedAndDollar = [.. Quoted, "dollar"];
    private static readonly string[] None = [];

    public sealed record MatrixIds(Guid UpstreamId, string ServerName);

    private static object Vhost(MatrixIds ids, string name = "Main", string? serverName = null, object? location = null, Dictionary<string, string>? directives = null) => new
    {
        name,
        server_name = serverName ?? ids.ServerName,
        listen_port = 8080,
        locations = new[] { location ?? UpstreamLocation(ids) },
        custom_directives = directives ?? new Dictionary<string, string>(),
    };

    private static object UpstreamLocation(MatrixIds ids, string path = "/app", object? headers = null, object? rewrites = null, Dictionary<string, string>? directives = null) => new
    {
        path,
        upstream_id = ids.UpstreamId,
        custom_headers = headers ?? Array.Empty<object>(),
        rewrite_rules = rewrites ?? Array.Empty<object>(),
        custom_directives = directives ?? new Dictionary<string, string>(),
    };

    private static Proto.Location Location0(Proto.ConfigUpdate u) => u.VirtualHosts[0].Locations[0];

    private static readonly Field[] Fields =
    [
        new("name", "vhost", "Main", "name", false, (v, ids) => Vhost(ids, name: v), (u, v) => u.VirtualHosts[0].Name = v, QuotedAndDollar),
        new("server_name", "vhost", "site.example.test", "server_name", true, (v, ids) => Vhost(ids, serverName: v), (u, v) => u.VirtualHosts[0].ServerName = v, None),
        new("locations[0].path", "vhost", "/app", "locations[0].path", true, (v, ids) => Vhost(ids, location: UpstreamLocation(ids, path: v)), (u, v) => Location0(u).Path = v, Quoted),
        new("locations[0].proxy_pass", "vhost", "http://127.0.0.1:9003/p", "locations[0].proxy_pass", true,
            (v, ids) => Vhost(ids, location: new { path = "/app", proxy_pass = v }), (u, v) => Location0(u).ProxyPass = v, Quoted),
        new("locations[0].root", "vhost", "/srv/www", "locations[0].root", true,
            (v, ids) => Vhost(ids, location: new { path = "/app", root = v, index = "index.html" }), (u, v) => Location0(u).Root = v, None),
        new("locations[0].index", "vhost", "index.html", "locations[0].index", true,
            (v, ids) => Vhost(ids, location: new { path = "/app", root = "/srv/www", index = v }), (u, v) => Location0(u).Index = v, None),
        new("locations[0].custom_headers[0].name", "vhost", "X-Test", "locations[0].custom_headers[0].name", true,
            (v, ids) => Vhost(ids, location: UpstreamLocation(ids, headers: new[] { new { name = v, value = "v", always = true } })),
            (u, v) => Location0(u).CustomHeaders[0].Name = v, ["single_quote", "hash"]),
        new("locations[0].custom_headers[0].value", "vhost", "max-age=31536000", "locations[0].custom_headers[0].value", true,
            (v, ids) => Vhost(ids, location: UpstreamLocation(ids, headers: new[] { new { name = "Strict-Transport-Security", value = v, always = true } })),
            (u, v) => Location0(u).CustomHeaders[0].Value = v, Quoted),
        new("locations[0].rewrite_rules[0].pattern", "vhost", "^/old/(.*)", "locations[0].rewrite_rules[0].pattern", true,
            (v, ids) => Vhost(ids, location: UpstreamLocation(ids, rewrites: new[] { new { pattern = v, replacement = "/new/$1", flag = "last" } })),
            (u, v) => Location0(u).RewriteRules[0].Pattern = v, QuotedAndDollar),
        new("locations[0].rewrite_rules[0].replacement", "vhost", "/new", "locations[0].rewrite_rules[0].replacement", true,
            (v, ids) => Vhost(ids, location: UpstreamLocation(ids, rewrites: new[] { new { pattern = "^/old/(.*)", replacement = v, flag = "last" } })),
            (u, v) => Location0(u).RewriteRules[0].Replacement = v, Quoted),
        new("locations[0].rewrite_rules[0].flag", "vhost", "last", "locations[0].rewrite_rules[0].flag", true,
            (v, ids) => Vhost(ids, location: UpstreamLocation(ids, rewrites: new[] { new { pattern = "^/old/(.*)", replacement = "/new/$1", flag = v } })),
            (u, v) => Location0(u).RewriteRules[0].Flag = v, None),
        new("locations[0].custom_directives value", "vhost", "text/plain", "locations[0].custom_directives", true,
            (v, ids) => Vhost(ids, location: UpstreamLocation(ids, directives: new() { ["default_type"] = v })),
            (u, v) => Location0(u).CustomDirectives["default_type"] = v, Quoted),
        new("locations[0].custom_directives name", "vhost", "gzip", "locations[0].custom_directives", true,
            (v, ids) => Vhost(ids, location: UpstreamLocation(ids, directives: new() { [v] = "on" })),
            (u, v) => { Location0(u).CustomDirectives.Clear(); Location0(u).CustomDirectives[v] = "on"; }, None),
        new("custom_directives value", "vhost", "text/html", "custom_directives", true,
            (v, ids) => Vhost(ids, directives: new() { ["default_type"] = v }), (u, v) => u.VirtualHosts[0].CustomDirectives["default_type"] = v, Quoted),
        new("custom_directives name", "vhost", "gzip", "custom_directives", true,
            (v, ids) => Vhost(ids, directives: new() { [v] = "on" }),
            (u, v) => { u.VirtualHosts[0].CustomDirectives.Clear(); u.VirtualHosts[0].CustomDirectives[v] = "on"; }, None),
        new("upstream name", "upstream", "api-backend", "name", false,
            (v, _) => new { name = v, servers = new[] { new { address = "127.0.0.1:9001" } } }, (u, v) => u.Upstreams[0].Name = v, QuotedAndDollar),
        new("upstream servers[0].address", "upstream", "127.0.0.1:9001", "servers[0].address", true,
            (v, _) => new { name = "up-" + Guid.NewGuid().ToString("N")[..8], servers = new[] { new { address = v } } }, (u, v) => u.Upstreams[0].Servers[0].Address = v, None),
        new("upstream health_check.path", "upstream", "/health", "health_check.path", false,
            (v, _) => new { name = "up-" + Guid.NewGuid().ToString("N")[..8], servers = new[] { new { address = "127.0.0.1:9001" } }, health_check = new { enabled = true, path = v, interval = 10, timeout = 5 } },
            (u, v) => u.Upstreams[0].HealthCheck.Path = v, QuotedAndDollar),
        new("certificate domain", "certificate", "secure.example.test", "domain", true,
            (v, _) => new { domain = v, provider = "self_signed" }, (_, _) => { }, None),
    ];

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var field in Fields)
        {
            foreach (var (name, _) in Payloads)
            {
                data.Add(field.Name, name);
            }
        }
        return data;
    }

    private static Tenant? _tenant;
    private static Guid _upstreamId;

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Hostile_value_is_refused_or_inert(string fieldName, string payloadName)
    {
        var field = Fields.Single(f => f.Name == fieldName);
        var payload = Payloads.Single(p => p.Name == payloadName).Value;
        var tenant = await TenantAsync();
        var ids = new MatrixIds(_upstreamId, "h" + Guid.NewGuid().ToString("N")[..12] + ".example.test");
        var value = field.Benign + payload;
        var uri = field.Resource switch { "vhost" => "virtual-hosts", "upstream" => "upstreams", _ => "certificates" };
        var (outboxBefore, auditBefore) = await ConfigTestSupport.CountsAsync(api, tenant.WorkspaceId);

        var response = await tenant.Client.PostJsonAsync(tenant.Ws(uri), ConfigTestSupport.Json(field.Body(value, ids)));
        Assert.True((int)response.StatusCode < 500, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        var accepted = field.Accepts.Contains(payloadName);
        if (!accepted)
        {
            var error = await response.ErrorAsync(HttpStatusCode.UnprocessableEntity, "VALIDATION_ERROR");
            Assert.Contains(error.Details(), d => d.Field.StartsWith(field.DetailPrefix, StringComparison.Ordinal));
            Assert.Equal((outboxBefore, auditBefore), await ConfigTestSupport.CountsAsync(api, tenant.WorkspaceId));
            return;
        }

        var created = await response.JsonAsync(HttpStatusCode.Created);
        var id = created.GetProperty("id").GetGuid();
        Guid vhostId;
        if (field.Resource == "upstream")
        {
            var vhost = Vhost(ids, location: new { path = "/app", upstream_id = id });
            vhostId = (await (await tenant.Client.PostJsonAsync(tenant.Ws("virtual-hosts"), ConfigTestSupport.Json(vhost))).JsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();
        }
        else
        {
            Assert.Equal("vhost", field.Resource);
            vhostId = id;
        }

        var hostile = await ConfigTestSupport.DesiredConfigAsync(api, vhostId);
        var baseline = hostile.Clone();
        field.SetProto(baseline, field.Benign);
        var hostileConfig = ConfigTestSupport.Render(hostile);
        var baselineConfig = ConfigTestSupport.Render(baseline);
        var (exitCode, output) = await ConfigTestSupport.NginxTestAsync(hostileConfig);
        Assert.True(exitCode == 0, output + "\n" + hostileConfig.MainConfig);
        if (!field.Rendered)
        {
            Assert.Equal(baselineConfig.MainConfig, hostileConfig.MainConfig);
            Assert.DoesNotContain(value, hostileConfig.MainConfig, StringComparison.Ordinal);
        }
        else
        {
            AssertOnlyArgumentsDiffer(baselineConfig, hostileConfig, field.Benign, value);
        }
        await DeleteAsync(tenant, vhostId, field.Resource == "upstream" ? id : null);
    }

    /// <summary>Same statements, names and argument counts; every differing argument is the benign value become the hostile one.</summary>
    private static void AssertOnlyArgumentsDiffer(RenderedConfig baseline, RenderedConfig hostile, string benign, string value)
    {
        var expected = NginxSyntax.Parse(baseline.MainConfig);
        var actual = NginxSyntax.Parse(hostile.MainConfig);
        Assert.Equal(expected.Count, actual.Count);
        var replaced = 0;
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Depth, actual[i].Depth);
            Assert.Equal(expected[i].Words.Count, actual[i].Words.Count);
            Assert.Equal(expected[i].Words[0], actual[i].Words[0] == value ? benign : actual[i].Words[0]);
            for (var w = 0; w < expected[i].Words.Count; w++)
            {
                if (expected[i].Words[w] != actual[i].Words[w])
                {
                    Assert.Equal(benign, expected[i].Words[w]);
                    Assert.Equal(value, actual[i].Words[w]);
                    replaced++;
                }
            }
        }
        Assert.Equal(1, replaced);
    }

    private async Task DeleteAsync(Tenant tenant, Guid vhostId, Guid? upstreamId)
    {
        await (await tenant.Client.DeleteAsync($"/v1/virtual-hosts/{vhostId}")).JsonAsync(HttpStatusCode.NoContent);
        if (upstreamId is { } id)
        {
            await (await tenant.Client.DeleteAsync($"/v1/upstreams/{id}")).JsonAsync(HttpStatusCode.NoContent);
        }
    }

    /// <summary>
    /// One tenant for the whole matrix (logins cost a password hash each); made again when another test class of the
    /// collection has reset the database in between.
    /// </summary>
    private async Task<Tenant> TenantAsync()
    {
        if (_tenant is { } tenant)
        {
            await using var db = api.Database.CreateDbContext();
            if (await db.Workspaces.AnyAsync(w => w.Id == tenant.WorkspaceId))
            {
                return tenant;
            }
        }
        await api.ResetAsync();
        _tenant = await ConfigTestSupport.NewTenantAsync(api, "matrix@example.com");
        _upstreamId = await ConfigTestSupport.CreateUpstreamAsync(_tenant);
        return _tenant;
    }
}
