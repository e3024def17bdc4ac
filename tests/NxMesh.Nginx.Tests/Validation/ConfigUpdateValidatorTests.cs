using NxMesh.Nginx.Tests.Support;
using NxMesh.Nginx.Validation;
using NxMesh.Protocol.V1;
using Xunit;

namespace NxMesh.Nginx.Tests.Validation;

public sealed class ConfigUpdateValidatorTests
{
    [Fact]
    public void The_sample_is_valid() => Assert.Empty(ConfigUpdateValidator.Validate(SampleConfigs.Valid()));

    [Fact]
    public void An_empty_update_is_valid() => Assert.Empty(ConfigUpdateValidator.Validate(new ConfigUpdate()));

    public static TheoryData<string, Action<ConfigUpdate>, string, string> Breakages => new()
    {
        { "hostile server_name", u => u.VirtualHosts[0].ServerName = "a.test; return 200", "virtual_hosts[0].server_name", ValidationCodes.InvalidFormat },
        { "port 0", u => u.VirtualHosts[0].ListenPort = 0, "virtual_hosts[0].listen_port", ValidationCodes.OutOfRange },
        { "bad path", u => u.VirtualHosts[0].Locations[0].Path = "api", "virtual_hosts[0].locations[0].path", ValidationCodes.InvalidFormat },
        { "bad header name", u => u.VirtualHosts[0].Locations[0].CustomHeaders[0].Name = "X Y", "virtual_hosts[0].locations[0].custom_headers[0].name", ValidationCodes.InvalidFormat },
        { "header value LF", u => u.VirtualHosts[0].Locations[0].CustomHeaders[0].Value = "a\nb", "virtual_hosts[0].locations[0].custom_headers[0].value", ValidationCodes.InvalidFormat },
        { "unknown upstream", u => u.VirtualHosts[0].Locations[0].UpstreamId = "nope", "virtual_hosts[0].locations[0].upstream_id", ValidationCodes.NotFound },
        { "two targets", u => u.VirtualHosts[0].Locations[0].ProxyPass = "http://a.test", "virtual_hosts[0].locations[0].proxy_pass", ValidationCodes.NotAllowed },
        { "bad proxy_pass", u => u.VirtualHosts[0].Locations[1].ProxyPass = "http://$host/", "virtual_hosts[0].locations[1].proxy_pass", ValidationCodes.InvalidFormat },
        { "bad rewrite flag", u => u.VirtualHosts[0].Locations[0].RewriteRules[0].Flag = "stop", "virtual_hosts[0].locations[0].rewrite_rules[0].flag", ValidationCodes.InvalidFormat },
        { "include directive", u => u.VirtualHosts[0].Locations[0].CustomDirectives["include"] = "/etc/passwd", "virtual_hosts[0].locations[0].custom_directives.include", ValidationCodes.NotAllowed },
        { "server directive", u => u.VirtualHosts[0].CustomDirectives["access_log"] = "/tmp/x", "virtual_hosts[0].custom_directives.access_log", ValidationCodes.NotAllowed },
        { "global directive", u => u.GlobalSettings.NginxDirectives["return"] = "200", "global_settings.nginx_directives.return", ValidationCodes.NotAllowed },
        { "env var", u => u.GlobalSettings.EnvVars["LD_PRELOAD"] = "/x.so", "global_settings.env_vars.LD_PRELOAD", ValidationCodes.NotAllowed },
        { "root with ..", u => u.VirtualHosts[1].Locations[0].Root = "/srv/../etc", "virtual_hosts[1].locations[0].root", ValidationCodes.InvalidFormat },
        { "bad index", u => u.VirtualHosts[1].Locations[0].Index = "../x", "virtual_hosts[1].locations[0].index", ValidationCodes.InvalidFormat },
        { "bad address", u => u.Upstreams[0].Servers[0].Address = "$host:80", "upstreams[0].servers[0].address", ValidationCodes.InvalidFormat },
        { "weight", u => u.Upstreams[0].Servers[0].Weight = 1001, "upstreams[0].servers[0].weight", ValidationCodes.OutOfRange },
        { "backup with ip_hash", u => u.Upstreams[0].Algorithm = LoadBalanceAlgorithm.IpHash, "upstreams[0].servers[1].backup", ValidationCodes.NotAllowed },
        { "only backups", u => u.Upstreams[0].Servers[0].Backup = true, "upstreams[0].servers", ValidationCodes.NotAllowed },
        { "no servers", u => u.Upstreams[0].Servers.Clear(), "upstreams[0].servers", ValidationCodes.Required },
        { "unknown algorithm", u => u.Upstreams[0].Algorithm = (LoadBalanceAlgorithm)42, "upstreams[0].algorithm", ValidationCodes.InvalidFormat },
        { "health check path", u => u.Upstreams[0].HealthCheck.Path = "health", "upstreams[0].health_check.path", ValidationCodes.InvalidFormat },
        { "keepalive", u => u.Upstreams[0].KeepaliveConnections = 20000, "upstreams[0].keepalive_connections", ValidationCodes.OutOfRange },
        { "upstream id", u => { u.Upstreams[0].Id = "../x"; u.VirtualHosts[0].Locations[0].UpstreamId = "../x"; }, "upstreams[0].id", ValidationCodes.InvalidFormat },
        { "ssl without certificate", u => u.VirtualHosts[1].SslCertificateId = "", "virtual_hosts[1].ssl_certificate_id", ValidationCodes.Required },
        { "missing certificate", u => u.VirtualHosts[1].SslCertificateId = "other", "virtual_hosts[1].ssl_certificate_id", ValidationCodes.NotFound },
        { "bad certificate", u => u.Certificates["cert1"].CertificatePem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", "certificates.cert1.certificate_pem", ValidationCodes.InvalidFormat },
        { "key mismatch", u => u.Certificates["cert1"].PrivateKeyPem = TestCertificates.Create("other.test").Key, "certificates.cert1.certificate_pem", ValidationCodes.InvalidFormat },
        { "http2 without ssl", u => u.VirtualHosts[0].Http2Enabled = true, "virtual_hosts[0].http2_enabled", ValidationCodes.NotAllowed },
        { "ssl on port 80", u => u.VirtualHosts[1].ListenPort = 80, "virtual_hosts[1].ssl_enabled", ValidationCodes.NotAllowed },
        { "duplicate location", u => u.VirtualHosts[0].Locations[1].Path = "^~ /api", "virtual_hosts[0].locations[1].path", ValidationCodes.NotAllowed },
        { "duplicate vhost id", u => u.VirtualHosts[1].Id = "vh1", "virtual_hosts[1].id", ValidationCodes.Conflict },
        { "regex location with URI", u => u.VirtualHosts[0].Locations[1].Path = "~ ^/health$", "virtual_hosts[0].locations[1].proxy_pass", ValidationCodes.NotAllowed },
        { "config id", u => u.ConfigId = "abc\n# injected", "config_id", ValidationCodes.InvalidFormat },
        { "certificate domain", u => u.Certificates["cert1"].Domain = "a.test;", "certificates.cert1.domain", ValidationCodes.InvalidFormat },
        { "display name", u => u.VirtualHosts[0].Name = "a\u0007b", "virtual_hosts[0].name", ValidationCodes.InvalidFormat },
    };

    [Theory]
    [MemberData(nameof(Breakages))]
    public void Each_broken_field_is_reported_at_its_path(string what, Action<ConfigUpdate> breakIt, string field, string code)
    {
        var update = SampleConfigs.Valid();
        breakIt(update);
        var issues = ConfigUpdateValidator.Validate(update);
        Assert.True(issues.Any(i => i.Field == field && i.Code == code), $"{what}: {string.Join("; ", issues)}");
    }

    [Fact]
    public void Virtual_hosts_sharing_a_port_must_agree_on_ssl_and_http2()
    {
        var update = SampleConfigs.Valid();
        update.VirtualHosts[0].ListenPort = 8443;
        var issues = ConfigUpdateValidator.Validate(update);
        Assert.Contains(issues, i => i.Field == "virtual_hosts[1].ssl_enabled" && i.Code == ValidationCodes.Conflict);
        Assert.Contains(issues, i => i.Field == "virtual_hosts[1].http2_enabled" && i.Code == ValidationCodes.Conflict);
    }

    [Fact]
    public void A_server_name_is_unique_per_port_case_insensitively()
    {
        var update = SampleConfigs.Valid();
        update.VirtualHosts[1].ServerName = "WWW.example.test";
        Assert.Empty(ConfigUpdateValidator.Validate(update));
        update.VirtualHosts[1].ListenPort = 8080;
        update.VirtualHosts[1].SslEnabled = false;
        update.VirtualHosts[1].Http2Enabled = false;
        var issue = Assert.Single(ConfigUpdateValidator.Validate(update));
        Assert.Equal(("virtual_hosts[1].server_name", ValidationCodes.Conflict), (issue.Field, issue.Code));
    }

    [Fact]
    public void Port_rules_are_usable_by_the_api_on_a_workspace()
    {
        var issues = ConfigUpdateValidator.PortRules(
        [
            new("a", "a.test", 443, true, true),
            new("b", "b.test", 443, true, false),
            new("c", "a.test", 443, true, true),
        ]);
        Assert.Equal(["b.http2_enabled", "c.server_name"], issues.Select(i => i.Field));
        Assert.All(issues, i => Assert.Equal(ValidationCodes.Conflict, i.Code));
    }

    [Fact]
    public void A_location_answering_with_return_needs_no_target()
    {
        var update = SampleConfigs.Valid();
        update.VirtualHosts[0].Locations.Add(new Location { Path = "= /ping", CustomDirectives = { ["return"] = "200 pong" } });
        Assert.Empty(ConfigUpdateValidator.Validate(update));
    }

    [Fact]
    public void Single_resources_validate_with_request_relative_paths_and_no_references()
    {
        var sample = SampleConfigs.Valid();
        var upstream = sample.Upstreams[0].Clone();
        upstream.Id = "";
        Assert.Empty(ConfigUpdateValidator.ValidateUpstream(upstream));
        upstream.Servers[1].Address = "bad address";
        Assert.Equal("servers[1].address", Assert.Single(ConfigUpdateValidator.ValidateUpstream(upstream)).Field);

        var vhost = sample.VirtualHosts[0].Clone();
        vhost.Id = "";
        vhost.Locations[0].UpstreamId = "not-checked-here";
        Assert.Empty(ConfigUpdateValidator.ValidateVirtualHost(vhost));
        vhost.Http2Enabled = true;
        vhost.Locations[1].CustomHeaders.Add(new Header { Name = "X", Value = "$nope" });
        Assert.Equal(["locations[1].custom_headers[0].value", "http2_enabled"], ConfigUpdateValidator.ValidateVirtualHost(vhost).Select(i => i.Field));

        Assert.Equal("locations[2].custom_directives.include",
            Assert.Single(ConfigUpdateValidator.ValidateLocation(new Location { Path = "/", UpstreamId = "u", CustomDirectives = { ["include"] = "x" } }, "locations[2]")).Field);
    }
}
