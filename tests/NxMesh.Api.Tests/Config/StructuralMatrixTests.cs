using System.Net;
using Microsoft.EntityFrameworkCore;
using Xunit;

namespace NxMesh.Api.Tests.Config;

/// <summary>
/// The structural half of the bad-input matrix: wrong types, ranges, missing or foreign references and conflicts,
/// each a raw JSON body (placeholders filled with real ids) that must answer the given status and detail — never a 5xx,
/// and nothing written (no audit entry, no outbox message).
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class StructuralMatrixTests(ApiFixture api)
{
    private const string Vh = "{\"name\":\"Main\",\"server_name\":\"s.example.test\",\"listen_port\":8080,\"locations\":[{\"path\":\"/\",\"upstream_id\":\"{upstream}\"}]";
    private const string Up = "{\"name\":\"b\",\"servers\":[{\"address\":\"10.0.0.1:80\"}]";

    /// <summary>(case, method, target, body, status, detail field).</summary>
    public static TheoryData<string, string, string, string, int, string> Cases() => new()
    {
        // Virtual hosts: types.
        { "vhost body not an object", "POST", "ws:virtual-hosts", "[]", 422, "body" },
        { "vhost malformed json", "POST", "ws:virtual-hosts", "{\"name\":", 422, "" },
        { "listen_port as string", "POST", "ws:virtual-hosts", Vh + ",\"listen_port\":\"80\"}", 422, "listen_port" },
        { "listen_port fractional", "POST", "ws:virtual-hosts", Vh.Replace("8080", "80.5") + "}", 422, "listen_port" },
        { "listen_port beyond int", "POST", "ws:virtual-hosts", Vh.Replace("8080", "99999999999") + "}", 422, "listen_port" },
        { "ssl_enabled as string", "POST", "ws:virtual-hosts", Vh + ",\"ssl_enabled\":\"yes\"}", 422, "ssl_enabled" },
        { "locations as object", "POST", "ws:virtual-hosts", Vh.Replace(",\"locations\":[{\"path\":\"/\",\"upstream_id\":\"{upstream}\"}]", ",\"locations\":{}") + "}", 422, "locations" },
        { "location null", "POST", "ws:virtual-hosts", Vh.Replace("[{\"path\":\"/\",\"upstream_id\":\"{upstream}\"}]", "[null]") + "}", 422, "locations[0]" },
        { "upstream_id not a uuid", "POST", "ws:virtual-hosts", Vh.Replace("{upstream}", "abc") + "}", 422, "locations" },
        { "custom_headers as string", "POST", "ws:virtual-hosts", Vh.Replace("\"path\":\"/\",", "\"path\":\"/\",\"custom_headers\":\"x\",") + "}", 422, "locations" },
        { "target type unknown", "POST", "ws:virtual-hosts", Vh + ",\"target_agents\":{\"type\":\"some\"}}", 422, "target_agents" },
        { "custom_directives value number", "POST", "ws:virtual-hosts", Vh + ",\"custom_directives\":{\"gzip\":1}}", 422, "custom_directives" },
        // Virtual hosts: required fields and ranges.
        { "name missing", "POST", "ws:virtual-hosts", Vh.Replace("\"name\":\"Main\",", "") + "}", 422, "name" },
        { "server_name missing", "POST", "ws:virtual-hosts", Vh.Replace("\"server_name\":\"s.example.test\",", "") + "}", 422, "server_name" },
        { "server_name double space", "POST", "ws:virtual-hosts", Vh.Replace("s.example.test", "a.test  b.test") + "}", 422, "server_name" },
        { "server_name regex", "POST", "ws:virtual-hosts", Vh.Replace("s.example.test", "~^www") + "}", 422, "server_name" },
        { "server_name underscore catch-all", "POST", "ws:virtual-hosts", Vh.Replace("s.example.test", "_") + "}", 422, "server_name" },
        { "listen_port 0", "POST", "ws:virtual-hosts", Vh.Replace("8080", "0") + "}", 422, "listen_port" },
        { "listen_port 65536", "POST", "ws:virtual-hosts", Vh.Replace("8080", "65536") + "}", 422, "listen_port" },
        { "listen_port negative", "POST", "ws:virtual-hosts", Vh.Replace("8080", "-1") + "}", 422, "listen_port" },
        { "ssl on port 80", "POST", "ws:virtual-hosts", Vh.Replace("8080", "80") + ",\"ssl_enabled\":true,\"ssl_certificate_id\":\"{cert}\"}", 422, "ssl_enabled" },
        { "http2 without ssl", "POST", "ws:virtual-hosts", Vh + ",\"http2_enabled\":true}", 422, "http2_enabled" },
        { "ssl without certificate", "POST", "ws:virtual-hosts", Vh.Replace("8080", "8443") + ",\"ssl_enabled\":true}", 422, "ssl_certificate_id" },
        { "location path relative", "POST", "ws:virtual-hosts", Vh.Replace("\"path\":\"/\"", "\"path\":\"app\"") + "}", 422, "locations[0].path" },
        { "location named", "POST", "ws:virtual-hosts", Vh.Replace("\"path\":\"/\"", "\"path\":\"@fallback\"") + "}", 422, "locations[0].path" },
        { "location regex invalid", "POST", "ws:virtual-hosts", Vh.Replace("\"path\":\"/\"", "\"path\":\"~ ^/(a\"") + "}", 422, "locations[0].path" },
        { "location two targets", "POST", "ws:virtual-hosts", Vh.Replace("\"path\":\"/\",", "\"path\":\"/\",\"proxy_pass\":\"http://10.0.0.1\",") + "}", 422, "locations[0].proxy_pass" },
        { "location no target", "POST", "ws:virtual-hosts", Vh.Replace(",\"upstream_id\":\"{upstream}\"", "") + "}", 422, "locations[0].upstream_id" },
        { "index without root", "POST", "ws:virtual-hosts", Vh.Replace("\"path\":\"/\",", "\"path\":\"/\",\"index\":\"index.html\",") + "}", 422, "locations[0].index" },
        { "proxy_pass not http", "POST", "ws:virtual-hosts", Vh.Replace("\"upstream_id\":\"{upstream}\"", "\"proxy_pass\":\"ftp://10.0.0.1\"") + "}", 422, "locations[0].proxy_pass" },
        { "proxy_pass unknown variable", "POST", "ws:virtual-hosts", Vh.Replace("\"upstream_id\":\"{upstream}\"", "\"proxy_pass\":\"http://10.0.0.1$document_root\"") + "}", 422, "locations[0].proxy_pass" },
        { "root with dot-dot", "POST", "ws:virtual-hosts", Vh.Replace("\"upstream_id\":\"{upstream}\"", "\"root\":\"/srv/../etc\"") + "}", 422, "locations[0].root" },
        { "header value unknown variable", "POST", "ws:virtual-hosts", Vh.Replace("\"path\":\"/\",", "\"path\":\"/\",\"custom_headers\":[{\"name\":\"X-A\",\"value\":\"$request_body_file\"}],") + "}", 422, "locations[0].custom_headers[0].value" },
        { "header null entry", "POST", "ws:virtual-hosts", Vh.Replace("\"path\":\"/\",", "\"path\":\"/\",\"custom_headers\":[null],") + "}", 422, "locations[0].custom_headers[0]" },
        { "rewrite replacement with space", "POST", "ws:virtual-hosts", Vh.Replace("\"path\":\"/\",", "\"path\":\"/\",\"rewrite_rules\":[{\"pattern\":\"^/a\",\"replacement\":\"/b c\"}],") + "}", 422, "locations[0].rewrite_rules[0].replacement" },
        { "custom directive include", "POST", "ws:virtual-hosts", Vh + ",\"custom_directives\":{\"include\":\"/etc/passwd\"}}", 422, "custom_directives" },
        { "custom directive load_module", "POST", "ws:virtual-hosts", Vh + ",\"custom_directives\":{\"load_module\":\"x.so\"}}", 422, "custom_directives" },
        { "custom directive access_log", "POST", "ws:virtual-hosts", Vh + ",\"custom_directives\":{\"access_log\":\"/tmp/x\"}}", 422, "custom_directives" },
        { "custom directive bad size", "POST", "ws:virtual-hosts", Vh + ",\"custom_directives\":{\"client_max_body_size\":\"ten\"}}", 422, "custom_directives" },
        { "location directive server-only", "POST", "ws:virtual-hosts", Vh.Replace("\"path\":\"/\",", "\"path\":\"/\",\"custom_directives\":{\"ssl_protocols\":\"TLSv1.3\"},") + "}", 422, "locations[0].custom_directives" },
        { "duplicate location path", "POST", "ws:virtual-hosts", Vh.Replace("]", ",{\"path\":\"/\",\"upstream_id\":\"{upstream}\"}]") + "}", 409, "locations[1].path" },
        // Virtual hosts: references.
        { "upstream unknown", "POST", "ws:virtual-hosts", Vh.Replace("{upstream}", "{random}") + "}", 422, "locations[0].upstream_id" },
        { "upstream of another workspace", "POST", "ws:virtual-hosts", Vh.Replace("{upstream}", "{other_upstream}") + "}", 422, "locations[0].upstream_id" },
        { "certificate unknown", "POST", "ws:virtual-hosts", Vh.Replace("8080", "8443") + ",\"ssl_enabled\":true,\"ssl_certificate_id\":\"{random}\"}", 422, "ssl_certificate_id" },
        { "certificate of another workspace", "POST", "ws:virtual-hosts", Vh.Replace("8080", "8443") + ",\"ssl_enabled\":true,\"ssl_certificate_id\":\"{other_cert}\"}", 422, "ssl_certificate_id" },
        { "selector without label_selector", "POST", "ws:virtual-hosts", Vh + ",\"target_agents\":{\"type\":\"selector\"}}", 422, "target_agents.label_selector" },
        { "selector unparsable", "POST", "ws:virtual-hosts", Vh + ",\"target_agents\":{\"type\":\"selector\",\"label_selector\":\"env in (a\"}}", 422, "target_agents.label_selector" },
        { "agents empty", "POST", "ws:virtual-hosts", Vh + ",\"target_agents\":{\"type\":\"agents\",\"agent_ids\":[]}}", 422, "target_agents.agent_ids" },
        { "agent unknown", "POST", "ws:virtual-hosts", Vh + ",\"target_agents\":{\"type\":\"agents\",\"agent_ids\":[\"{random}\"]}}", 422, "target_agents.agent_ids[0]" },
        { "agent of another workspace", "POST", "ws:virtual-hosts", Vh + ",\"target_agents\":{\"type\":\"agents\",\"agent_ids\":[\"{other_agent}\"]}}", 422, "target_agents.agent_ids[0]" },
        { "all with agent_ids", "POST", "ws:virtual-hosts", Vh + ",\"target_agents\":{\"type\":\"all\",\"agent_ids\":[\"{agent}\"]}}", 422, "target_agents.agent_ids" },
        // Virtual hosts: conflicts with the existing one (taken.example.test on 8443, ssl + http2).
        { "server_name taken on port", "POST", "ws:virtual-hosts", Vh.Replace("s.example.test", "www.test TAKEN.example.test").Replace("8080", "8443") + ",\"ssl_enabled\":true,\"http2_enabled\":true,\"ssl_certificate_id\":\"{cert}\"}", 409, "server_name" },
        { "port disagrees on ssl", "POST", "ws:virtual-hosts", Vh.Replace("8080", "8443") + "}", 409, "ssl_enabled" },
        { "port disagrees on http2", "POST", "ws:virtual-hosts", Vh.Replace("8080", "8443") + ",\"ssl_enabled\":true,\"ssl_certificate_id\":\"{cert}\"}", 409, "http2_enabled" },
        { "patch onto taken name", "PATCH", "vhost2", "{\"server_name\":\"taken.example.test\",\"listen_port\":8443,\"ssl_enabled\":true,\"http2_enabled\":true,\"ssl_certificate_id\":\"{cert}\"}", 409, "server_name" },
        { "patch name null", "PATCH", "vhost2", "{\"name\":null}", 422, "name" },
        { "patch body array", "PATCH", "vhost2", "[1]", 422, "body" },
        { "patch wrong type", "PATCH", "vhost2", "{\"listen_port\":true}", 422, "listen_port" },
        { "patch unknown certificate", "PATCH", "vhost2", "{\"ssl_certificate_id\":\"{random}\"}", 422, "ssl_certificate_id" },
        // Upstreams.
        { "upstream name missing", "POST", "ws:upstreams", Up.Replace("\"name\":\"b\",", "") + "}", 422, "name" },
        { "upstream no servers", "POST", "ws:upstreams", "{\"name\":\"b\",\"servers\":[]}", 422, "servers" },
        { "upstream servers null entry", "POST", "ws:upstreams", "{\"name\":\"b\",\"servers\":[null]}", 422, "servers[0]" },
        { "upstream address without port", "POST", "ws:upstreams", Up.Replace("10.0.0.1:80", "10.0.0.1") + "}", 422, "servers[0].address" },
        { "upstream address port 0", "POST", "ws:upstreams", Up.Replace("10.0.0.1:80", "10.0.0.1:0") + "}", 422, "servers[0].address" },
        { "upstream address unix socket", "POST", "ws:upstreams", Up.Replace("10.0.0.1:80", "unix:/tmp/s.sock") + "}", 422, "servers[0].address" },
        { "upstream address ipv6 unbracketed", "POST", "ws:upstreams", Up.Replace("10.0.0.1:80", "::1:80") + "}", 422, "servers[0].address" },
        { "upstream weight 0", "POST", "ws:upstreams", Up.Replace("80\"}", "80\",\"weight\":0}") + "}", 422, "servers[0].weight" },
        { "upstream weight 1001", "POST", "ws:upstreams", Up.Replace("80\"}", "80\",\"weight\":1001}") + "}", 422, "servers[0].weight" },
        { "upstream weight string", "POST", "ws:upstreams", Up.Replace("80\"}", "80\",\"weight\":\"2\"}") + "}", 422, "servers[0].weight" },
        { "upstream max_fails negative", "POST", "ws:upstreams", Up.Replace("80\"}", "80\",\"max_fails\":-1}") + "}", 422, "servers[0].max_fails" },
        { "upstream fail_timeout too long", "POST", "ws:upstreams", Up.Replace("80\"}", "80\",\"fail_timeout\":86401}") + "}", 422, "servers[0].fail_timeout" },
        { "upstream backup as string", "POST", "ws:upstreams", Up.Replace("80\"}", "80\",\"backup\":\"no\"}") + "}", 422, "servers[0].backup" },
        { "upstream algorithm unknown", "POST", "ws:upstreams", Up + ",\"algorithm\":\"fastest\"}", 422, "algorithm" },
        { "upstream algorithm uppercase", "POST", "ws:upstreams", Up + ",\"algorithm\":\"ROUND_ROBIN\"}", 422, "algorithm" },
        { "upstream backup with ip_hash", "POST", "ws:upstreams", "{\"name\":\"b\",\"algorithm\":\"ip_hash\",\"servers\":[{\"address\":\"10.0.0.1:80\"},{\"address\":\"10.0.0.2:80\",\"backup\":true}]}", 422, "servers[1].backup" },
        { "upstream only backups", "POST", "ws:upstreams", "{\"name\":\"b\",\"servers\":[{\"address\":\"10.0.0.1:80\",\"backup\":true}]}", 422, "servers" },
        { "upstream keepalive too many", "POST", "ws:upstreams", Up + ",\"keepalive_connections\":10001}", 422, "keepalive_connections" },
        { "upstream health interval 0", "POST", "ws:upstreams", Up + ",\"health_check\":{\"enabled\":true,\"path\":\"/h\",\"interval\":0,\"timeout\":1}}", 422, "health_check.interval" },
        { "upstream health timeout over interval", "POST", "ws:upstreams", Up + ",\"health_check\":{\"enabled\":true,\"path\":\"/h\",\"interval\":5,\"timeout\":6}}", 422, "health_check.timeout" },
        { "upstream health path relative", "POST", "ws:upstreams", Up + ",\"health_check\":{\"enabled\":true,\"path\":\"h\"}}", 422, "health_check.path" },
        { "upstream health threshold 101", "POST", "ws:upstreams", Up + ",\"health_check\":{\"healthy_threshold\":101}}", 422, "health_check.healthy_threshold" },
        { "upstream duplicate name", "POST", "ws:upstreams", "{\"name\":\"api-backend\",\"servers\":[{\"address\":\"10.0.0.1:80\"}]}", 409, "name" },
        { "upstream patch ip_hash with backup", "PATCH", "upstream", "{\"algorithm\":\"ip_hash\",\"servers\":[{\"address\":\"10.0.0.1:80\"},{\"address\":\"10.0.0.2:80\",\"backup\":true}]}", 422, "servers[1].backup" },
        { "upstream patch servers null", "PATCH", "upstream", "{\"servers\":null}", 422, "servers" },
        { "upstream delete while used", "DELETE", "upstream", "", 409, "virtual_hosts" },
        // Certificates.
        { "certificate wildcard letsencrypt", "POST", "ws:certificates", "{\"domain\":\"*.example.test\",\"provider\":\"letsencrypt\"}", 422, "domain" },
        { "certificate provider unknown", "POST", "ws:certificates", "{\"domain\":\"a.example.test\",\"provider\":\"acme\"}", 422, "provider" },
        { "certificate provider missing", "POST", "ws:certificates", "{\"domain\":\"a.example.test\"}", 422, "provider" },
        { "certificate domain missing", "POST", "ws:certificates", "{\"provider\":\"self_signed\"}", 422, "domain" },
        { "certificate domain ip", "POST", "ws:certificates", "{\"domain\":\"10.0.0.1\",\"provider\":\"self_signed\"}", 422, "domain" },
        { "certificate two domains", "POST", "ws:certificates", "{\"domain\":\"a.test b.test\",\"provider\":\"self_signed\"}", 422, "domain" },
        { "certificate custom without pem", "POST", "ws:certificates", "{\"domain\":\"a.example.test\",\"provider\":\"custom\"}", 422, "certificate_pem" },
        { "certificate custom garbage", "POST", "ws:certificates", "{\"domain\":\"a.example.test\",\"provider\":\"custom\",\"certificate_pem\":\"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\",\"private_key_pem\":\"x\"}", 422, "certificate_pem" },
        { "certificate custom key mismatch", "POST", "ws:certificates", "{\"domain\":\"pem.example.test\",\"provider\":\"custom\",\"certificate_pem\":{pem},\"private_key_pem\":{other_key}}", 422, "private_key_pem" },
        { "certificate custom domain not covered", "POST", "ws:certificates", "{\"domain\":\"other.example.test\",\"provider\":\"custom\",\"certificate_pem\":{pem},\"private_key_pem\":{key}}", 422, "domain" },
        { "certificate custom expired", "POST", "ws:certificates", "{\"domain\":\"old.example.test\",\"provider\":\"custom\",\"certificate_pem\":{expired_pem},\"private_key_pem\":{expired_key}}", 422, "certificate_pem" },
        { "certificate custom auto_renew", "POST", "ws:certificates", "{\"domain\":\"pem.example.test\",\"provider\":\"custom\",\"auto_renew\":true,\"certificate_pem\":{pem},\"private_key_pem\":{key}}", 422, "auto_renew" },
        { "certificate pem for letsencrypt", "POST", "ws:certificates", "{\"domain\":\"a.example.test\",\"provider\":\"letsencrypt\",\"certificate_pem\":{pem}}", 422, "certificate_pem" },
        { "certificate auto_renew string", "POST", "ws:certificates", "{\"domain\":\"a.example.test\",\"provider\":\"letsencrypt\",\"auto_renew\":\"yes\"}", 422, "auto_renew" },
        { "certificate delete while used", "DELETE", "cert", "", 409, "virtual_hosts" },
        // Paging.
        { "vhost list per_page 0", "GET", "ws:virtual-hosts?per_page=0", "", 422, "per_page" },
        { "upstream list per_page 101", "GET", "ws:upstreams?per_page=101", "", 422, "per_page" },
        { "certificate list page 0", "GET", "ws:certificates?page=0", "", 422, "page" },
    };

    private sealed record Setup(Tenant Tenant, Dictionary<string, string> Values, Guid VhostId, Guid UpstreamId, Guid CertificateId);

    private static Setup? _setup;

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Structural_case_answers_its_status(string name, string method, string target, string body, int status, string field)
    {
        Assert.False(string.IsNullOrEmpty(name));
        var setup = await SetupAsync();
        var tenant = setup.Tenant;
        foreach (var (key, value) in setup.Values)
        {
            body = body.Replace("{" + key + "}", value, StringComparison.Ordinal);
        }
        var uri = target switch
        {
            "vhost2" => $"/v1/virtual-hosts/{setup.VhostId}",
            "upstream" => $"/v1/upstreams/{setup.UpstreamId}",
            "cert" => $"/v1/certificates/{setup.CertificateId}",
            _ => tenant.Ws(target["ws:".Length..]),
        };
        var before = await ConfigTestSupport.CountsAsync(api, tenant.WorkspaceId);
        var request = new HttpRequestMessage(new HttpMethod(method), uri);
        if (body.Length > 0)
        {
            request.Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        }
        var response = await tenant.Client.SendAsync(request);
        var error = await response.ErrorAsync((HttpStatusCode)status, status == 409 ? "CONFLICT" : "VALIDATION_ERROR");
        Assert.True(error.Details().Any(d => d.Field.StartsWith(field, StringComparison.Ordinal)),
            $"no detail on '{field}': {error}");
        Assert.Equal(before, await ConfigTestSupport.CountsAsync(api, tenant.WorkspaceId));
    }

    private async Task<Setup> SetupAsync()
    {
        if (_setup is { } existing)
        {
            await using var db = api.Database.CreateDbContext();
            if (await db.Workspaces.AnyAsync(w => w.Id == existing.Tenant.WorkspaceId))
            {
                return existing;
            }
        }
        await api.ResetAsync();
        var tenant = await ConfigTestSupport.NewTenantAsync(api, "structural@example.com");
        var upstream = await ConfigTestSupport.CreateUpstreamAsync(tenant);
        var certificate = await ConfigTestSupport.CreateSelfSignedAsync(tenant, "taken.example.test");
        var agent = await ConfigTestSupport.CreateAgentAsync(api, tenant.WorkspaceId, "edge-1");
        var other = await ConfigTestSupport.NewTenantAsync(api, "structural-other@example.com");
        var otherUpstream = await ConfigTestSupport.CreateUpstreamAsync(other);
        var otherCertificate = await ConfigTestSupport.CreateSelfSignedAsync(other, "other.example.test");
        var otherAgent = await ConfigTestSupport.CreateAgentAsync(api, other.WorkspaceId, "edge-9");
        var vhost = new
        {
            name = "Taken", server_name = "taken.example.test", listen_port = 8443, ssl_enabled = true, http2_enabled = true,
            ssl_certificate_id = certificate, locations = new[] { new { path = "/", upstream_id = upstream } },
        };
        await (await tenant.Client.PostJsonAsync(tenant.Ws("virtual-hosts"), ConfigTestSupport.Json(vhost))).JsonAsync(HttpStatusCode.Created);
        // The target of the PATCH cases.
        var second = new { name = "Second", server_name = "patchme.example.test", listen_port = 8080, locations = new[] { new { path = "/", upstream_id = upstream } } };
        var vhostId = (await (await tenant.Client.PostJsonAsync(tenant.Ws("virtual-hosts"), ConfigTestSupport.Json(second))).JsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();
        var pending = (await (await tenant.Client.PostJsonAsync(tenant.Ws("certificates"), "{\"domain\":\"pending.example.test\",\"provider\":\"letsencrypt\"}")).JsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();
        var (pem, key) = TestPems.Create("pem.example.test", DateTimeOffset.UtcNow.AddYears(1));
        var (_, otherKey) = TestPems.Create("pem.example.test", DateTimeOffset.UtcNow.AddYears(1));
        var (expiredPem, expiredKey) = TestPems.Create("old.example.test", DateTimeOffset.UtcNow.AddDays(-1));
        var values = new Dictionary<string, string>
        {
            ["upstream"] = upstream.ToString(), ["cert"] = certificate.ToString(), ["agent"] = agent.ToString(), ["random"] = Guid.NewGuid().ToString(),
            ["other_upstream"] = otherUpstream.ToString(), ["other_cert"] = otherCertificate.ToString(), ["other_agent"] = otherAgent.ToString(), ["pending_cert"] = pending.ToString(),
            ["pem"] = ConfigTestSupport.Json(pem), ["key"] = ConfigTestSupport.Json(key), ["other_key"] = ConfigTestSupport.Json(otherKey),
            ["expired_pem"] = ConfigTestSupport.Json(expiredPem), ["expired_key"] = ConfigTestSupport.Json(expiredKey),
        };
        _setup = new Setup(tenant, values, vhostId, upstream, certificate);
        return _setup;
    }
}

/// <summary>Certificates and keys for the custom provider, made with System.Security.Cryptography.</summary>
internal static class TestPems
{
    public static (string Certificate, string Key) Create(string domain, DateTimeOffset notAfter)
    {
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=" + domain, key, System.Security.Cryptography.HashAlgorithmName.SHA256);
        var names = new System.Security.Cryptography.X509Certificates.SubjectAlternativeNameBuilder();
        names.AddDnsName(domain);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(notAfter.AddYears(-2), notAfter);
        return (certificate.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }
}
