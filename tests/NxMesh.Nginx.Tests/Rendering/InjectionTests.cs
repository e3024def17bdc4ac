using System.Net;
using NxMesh.Nginx.Rendering;
using NxMesh.Nginx.Tests.Support;
using NxMesh.Nginx.Validation;
using NxMesh.Protocol.V1;
using NxMesh.Testing;
using Xunit;
using Xunit.Abstractions;

namespace NxMesh.Nginx.Tests.Rendering;

/// <summary>
/// Hostile values in every string field of a ConfigUpdate: each one is either refused by validation (and the
/// renderer refuses it too), or rendered into a config that passes <c>nginx -t</c> and that nginx's own behaviour
/// proves stayed one argument — the header comes back verbatim, the body is exactly the text, the upstream sees the
/// path, and nothing else about the response changed. Fields that never reach nginx (names, health check path) are
/// proven absent from the rendered text. Certificate PEM is written to its own file, never into config text, and is
/// checked by parsing (ConfigUpdateValidatorTests).
/// </summary>
public sealed class InjectionTests(ITestOutputHelper output)
{
    private const string Vhost = "inj.example.test";
    private const string ServerVhost = "srv.example.test";
    private const string Inert = "INERTMARK";

    public static readonly (string Name, string Value)[] HostileValues =
    [
        ("CR", "a\rb"),
        ("LF", "a\nb"),
        ("NUL", "a\0b"),
        ("semicolon", "a;b"),
        ("directive", "a\"; return 200 \"pwned\"; #"),
        ("open brace", "a{b"),
        ("close brace", "a}b"),
        ("double quote", "a\"b"),
        ("single quote", "a'b"),
        ("hash", "a#b"),
        ("dollar", "a$b"),
        ("backslash", "a\\b"),
        ("overlong", new string('a', 5000)),
    ];

    private static readonly Field[] Fields =
    [
        new("virtual_hosts[].server_name", (u, v, _) => u.VirtualHosts[0].ServerName = "x" + v + ".example.test", null),
        new("virtual_hosts[].id", (u, v, _) => u.VirtualHosts[0].Id = "vh" + v, null),
        new("virtual_hosts[].ssl_certificate_id", (u, v, _) =>
        {
            u.VirtualHosts[0].ListenPort = 443;
            u.VirtualHosts[0].SslEnabled = true;
            u.VirtualHosts[0].SslCertificateId = "c" + v;
            u.Certificates["c" + v] = TestCertificates.Proto("c" + v);
        }, null),
        new("certificates{key}", (u, v, _) => u.Certificates["c" + v] = TestCertificates.Proto("c" + v), null),
        new("locations[].path (prefix)", (u, v, _) => u.VirtualHosts[0].Locations.Add(new Location { Path = "/p" + v, CustomDirectives = { ["return"] = "200 matched" } }),
            async (p, v) =>
            {
                await p.ExpectAsync("/p" + Uri.EscapeDataString(v), HttpStatusCode.OK, "matched");
                await p.ExpectAsync("/p", HttpStatusCode.OK, "U");
            }),
        new("locations[].path (regex)", (u, v, _) => u.VirtualHosts[0].Locations.Add(new Location { Path = "~ ^/r" + EscapeRegex(v) + "$", CustomDirectives = { ["return"] = "200 regex" } }),
            async (p, v) =>
            {
                await p.ExpectAsync("/r" + Uri.EscapeDataString(v), HttpStatusCode.OK, "regex");
                await p.ExpectAsync("/r", HttpStatusCode.OK, "U");
            }),
        new("locations[].upstream_id", (u, v, _) => u.VirtualHosts[0].Locations[0].UpstreamId = "up" + v, null),
        new("locations[].proxy_pass", (u, v, e) => u.VirtualHosts[0].Locations.Add(new Location { Path = "/pp", ProxyPass = $"http://{e.Upstream}/base" + v }),
            async (p, v) =>
            {
                await p.ExpectAsync("/pp", HttpStatusCode.OK, "U");
                Assert.StartsWith("GET /base" + v + " HTTP/1.0\r\n", p.LastUpstreamRequest, StringComparison.Ordinal);
            }),
        new("locations[].root", (u, v, _) => u.VirtualHosts[0].Locations.Add(new Location { Path = "/st", Root = "/srv/www" + v }), null),
        new("locations[].index", (u, v, _) => u.VirtualHosts[0].Locations.Add(new Location { Path = "/st", Root = "/srv/www", Index = "index" + v + ".html" }), null),
        new("locations[].custom_headers[].name", (u, v, _) => u.VirtualHosts[0].Locations[0].CustomHeaders.Add(new Header { Name = "X-" + v, Value = "hv", Always = true }),
            async (p, v) =>
            {
                var response = await p.ExpectAsync("/", HttpStatusCode.OK, "U");
                Assert.Equal("hv", response.Headers.NonValidated["X-" + v].ToString());
            }),
        new("locations[].custom_headers[].value", (u, v, _) => u.VirtualHosts[0].Locations[0].CustomHeaders.Add(new Header { Name = "X-Inj", Value = v, Always = true }),
            async (p, v) =>
            {
                var response = await p.ExpectAsync("/", HttpStatusCode.OK, "U");
                Assert.Equal(v, response.Headers.NonValidated["X-Inj"].ToString());
            }),
        new("locations[].rewrite_rules[].pattern", (u, v, _) => u.VirtualHosts[0].Locations.Add(new Location
            {
                Path = "/rp",
                UpstreamId = "up",
                RewriteRules = { new RewriteRule { Pattern = "^/rp" + EscapeRegex(v) + "$", Replacement = "/rewritten", Flag = "break" } },
            }),
            async (p, v) =>
            {
                await p.ExpectAsync("/rp" + Uri.EscapeDataString(v), HttpStatusCode.OK, "U");
                Assert.StartsWith("GET /rewritten HTTP/1.0\r\n", p.LastUpstreamRequest, StringComparison.Ordinal);
            }),
        new("locations[].rewrite_rules[].replacement", (u, v, _) => u.VirtualHosts[0].Locations.Add(new Location
            {
                Path = "/rw",
                UpstreamId = "up",
                RewriteRules = { new RewriteRule { Pattern = "^/rw$", Replacement = "/target" + v, Flag = "break" } },
            }),
            async (p, v) =>
            {
                await p.ExpectAsync("/rw", HttpStatusCode.OK, "U");
                var path = p.LastUpstreamRequest.Split(' ')[1];
                Assert.Equal("/target" + v, Uri.UnescapeDataString(path));
            }),
        new("locations[].rewrite_rules[].flag", (u, v, _) => u.VirtualHosts[0].Locations[0].RewriteRules.Add(new RewriteRule { Pattern = "^/x$", Replacement = "/y", Flag = "last" + v }), null),
        new("locations[].custom_directives{name}", (u, v, _) => u.VirtualHosts[0].Locations[0].CustomDirectives["gzip" + v] = "on", null),
        new("locations[].custom_directives{value} (return)", (u, v, _) => u.VirtualHosts[0].Locations.Add(new Location { Path = "/ret", CustomDirectives = { ["return"] = "200 " + v } }),
            async (p, v) => await p.ExpectAsync("/ret", HttpStatusCode.OK, v)),
        new("locations[].custom_directives{value} (proxy_set_header)", (u, v, _) => u.VirtualHosts[0].Locations[0].CustomDirectives["proxy_set_header"] = "X-Inj " + v,
            async (p, v) =>
            {
                await p.ExpectAsync("/", HttpStatusCode.OK, "U");
                Assert.Contains("\r\nX-Inj: " + v + "\r\n", p.LastUpstreamRequest, StringComparison.Ordinal);
            }),
        new("virtual_hosts[].custom_directives{name}", (u, v, _) => u.VirtualHosts[0].CustomDirectives["client_max_body_size" + v] = "1m", null),
        new("virtual_hosts[].custom_directives{value} (return)", (u, v, _) => u.VirtualHosts.Add(new VirtualHost
            {
                Id = "vh-srv", Name = "srv", ServerName = ServerVhost, ListenPort = 80, CustomDirectives = { ["return"] = "200 " + v },
            }),
            async (p, v) =>
            {
                await p.ExpectAsync("/anything", HttpStatusCode.OK, v, ServerVhost);
                await p.ExpectAsync("/", HttpStatusCode.OK, "U");
            }),
        new("global_settings.nginx_directives{name}", (u, v, _) => u.GlobalSettings.NginxDirectives["gzip" + v] = "on", null),
        new("global_settings.nginx_directives{value} (default_type)", (u, v, _) =>
            {
                u.GlobalSettings.NginxDirectives["default_type"] = v;
                u.VirtualHosts[0].Locations.Add(new Location { Path = "/dt", CustomDirectives = { ["return"] = "200 typed" } });
            },
            async (p, v) =>
            {
                var response = await p.ExpectAsync("/dt", HttpStatusCode.OK, "typed");
                Assert.Equal(v, response.Content.Headers.NonValidated["Content-Type"].ToString());
            }),
        new("global_settings.env_vars{name}", (u, v, _) => u.GlobalSettings.EnvVars["E" + v] = "1", null),
        new("global_settings.env_vars{value}", (u, v, _) => u.GlobalSettings.EnvVars["E"] = "x" + v, null),
        new("upstreams[].id", (u, v, _) => { u.Upstreams[0].Id = "up" + v; u.VirtualHosts[0].Locations[0].UpstreamId = "up" + v; }, null),
        new("upstreams[].servers[].address", (u, v, e) => u.Upstreams[0].Servers[0].Address = e.Upstream + v, null),
        new("upstreams[].name", (u, v, _) => u.Upstreams[0].Name = Inert + v, InertAsync),
        new("upstreams[].health_check.path", (u, v, _) => u.Upstreams[0].HealthCheck = new HealthCheckConfig { Enabled = true, Path = "/" + Inert + v, IntervalSeconds = 5, TimeoutSeconds = 1 }, InertAsync),
        new("virtual_hosts[].name", (u, v, _) => u.VirtualHosts[0].Name = Inert + v, InertAsync),
        new("certificates{}.domain", (u, v, _) => u.Certificates["c1"] = TestCertificates.Proto("c1", Inert + v), InertAsync),
        new("config_id", (u, v, _) => u.ConfigId = Inert + v,
            (p, _) =>
            {
                // Rendered only into the header comment, reduced to [A-Za-z0-9._-?].
                var line = Assert.Single(p.MainConfig.Split('\n'), l => l.Contains(Inert, StringComparison.Ordinal));
                Assert.Matches(@"^# config_id INERTMARK[A-Za-z0-9._\-?]* version 1$", line);
                return Task.CompletedTask;
            }, NeedsNginx: false),
    ];

    public static TheoryData<string> FieldNames => new(Fields.Select(f => f.Name));

    [Theory]
    [MemberData(nameof(FieldNames))]
    public async Task Hostile_values_are_refused_or_provably_one_argument(string fieldName)
    {
        var field = Fields.Single(f => f.Name == fieldName);
        await using var upstream = TestUpstream.Start("U");
        var environment = new Environment(upstream.Address);
        foreach (var (name, value) in HostileValues)
        {
            var update = Base(environment);
            field.Apply(update, value, environment);
            var issues = ConfigUpdateValidator.Validate(update);
            if (issues.Count > 0)
            {
                Assert.Throws<InvalidConfigUpdateException>(() => ConfigRenderer.Render(update, Host(0, 0), NginxCapabilities.Standard));
                output.WriteLine($"{name}: refused ({issues[0].Field}: {issues[0].Code})");
                continue;
            }
            Assert.True(field.Prove is not null, $"{fieldName} accepted {name} but has no behaviour proof");
            await ProveAsync(field, update, value, upstream);
            output.WriteLine($"{name}: accepted, proven inert");
        }
    }

    private async Task ProveAsync(Field field, ConfigUpdate update, string value, TestUpstream upstream)
    {
        var offset = NginxHarness.FreeOffset(80);
        var stub = NginxHarness.FreePort();
        var rendered = ConfigRenderer.Render(update, Host(offset, stub), NginxCapabilities.Standard);
        await using var nginx = NginxHarness.Write(rendered);
        var (exitCode, test) = await nginx.TestAsync();
        Assert.True(exitCode == 0, test + "\n" + rendered.MainConfig);
        using var http = NginxHarness.Client(80 + offset);
        var probe = new Probe(http, upstream, rendered.MainConfig);
        if (field.NeedsNginx)
        {
            await nginx.StartAsync(new Uri($"http://127.0.0.1:{stub}/"));
        }
        await field.Prove!(probe, value);
    }

    private static Task InertAsync(Probe probe, string value)
    {
        Assert.DoesNotContain(Inert, probe.MainConfig, StringComparison.Ordinal);
        return probe.ExpectAsync("/", HttpStatusCode.OK, "U");
    }

    /// <summary>Escapes regex metacharacters but leaves control characters raw, so validation still sees them.</summary>
    private static string EscapeRegex(string value) =>
        string.Concat(value.Select(c => "\\*+?|{}[]()^$.# ".Contains(c, StringComparison.Ordinal) ? "\\" + c : c.ToString()));

    private static NginxHostSettings Host(int offset, int stub) => new()
    {
        ListenAddress = "127.0.0.1",
        PrivilegedPortOffset = offset,
        StubStatusPort = stub == 0 ? 8099 : stub,
        AllowedRootDirectories = ["/srv/www"],
    };

    private static ConfigUpdate Base(Environment environment)
    {
        var update = new ConfigUpdate { ConfigId = "injection", Version = 1, GlobalSettings = new GlobalSettings() };
        update.Upstreams.Add(new Upstream { Id = "up", Name = "up", Servers = { new UpstreamServer { Address = environment.Upstream } } });
        update.VirtualHosts.Add(new VirtualHost
        {
            Id = "vh",
            Name = "vh",
            ServerName = Vhost,
            ListenPort = 80,
            Locations = { new Location { Path = "/", UpstreamId = "up" } },
        });
        return update;
    }

    private sealed record Environment(string Upstream);

    private sealed record Field(string Name, Action<ConfigUpdate, string, Environment> Apply, Func<Probe, string, Task>? Prove, bool NeedsNginx = true);

    private sealed class Probe(HttpClient http, TestUpstream upstream, string mainConfig)
    {
        public string MainConfig { get; } = mainConfig;

        public string LastUpstreamRequest => upstream.Requests.Last();

        /// <summary>GET a path on the injected virtual host; status and body must be exactly the expected ones.</summary>
        public async Task<HttpResponseMessage> ExpectAsync(string pathAndQuery, HttpStatusCode status, string body, string host = Vhost)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"http://{host}{pathAndQuery}"));
            var response = await http.SendAsync(request);
            Assert.Equal(status, response.StatusCode);
            Assert.Equal(body, await response.Content.ReadAsStringAsync());
            return response;
        }
    }
}
