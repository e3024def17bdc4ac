using System.Net;
using NxMesh.Nginx.Rendering;
using NxMesh.Nginx.Tests.Support;
using NxMesh.Nginx.Validation;
using NxMesh.Protocol.V1;
using Xunit;

namespace NxMesh.Nginx.Tests.Rendering;

public sealed class AcmeChallengeTests
{
    private const string Token = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
    private static readonly string KeyAuthorization = Token + ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";

    [Fact]
    public async Task Challenges_are_answered_on_every_port_80_server_and_nowhere_else()
    {
        var offset = NginxHarness.FreeOffset(80, 443);
        var stub = NginxHarness.FreePort();
        var update = new ConfigUpdate { ConfigId = "c1" };
        update.AcmeChallenges.Add(new AcmeChallenge { Token = Token, KeyAuthorization = KeyAuthorization });
        update.Certificates.Add("cert", TestCertificates.Proto("cert"));
        update.VirtualHosts.Add(new VirtualHost
        {
            Id = "plain", Name = "plain", ServerName = "example.test", ListenPort = 80,
            Locations = { new Location { Path = "/", ProxyPass = "http://127.0.0.1:9" }, new Location { Path = "~ \\.well-known", ProxyPass = "http://127.0.0.1:9" } },
        });
        update.VirtualHosts.Add(new VirtualHost { Id = "tls", Name = "tls", ServerName = "example.test", ListenPort = 443, SslEnabled = true, SslCertificateId = "cert" });
        var settings = new NginxHostSettings { ListenAddress = "127.0.0.1", PrivilegedPortOffset = offset, StubStatusPort = stub };
        var rendered = ConfigRenderer.Render(update, settings, NginxCapabilities.Standard);
        await using var nginx = NginxHarness.Write(rendered);
        var (exitCode, output) = await nginx.TestAsync();
        Assert.True(exitCode == 0, output);
        await nginx.StartAsync(new Uri($"http://127.0.0.1:{stub}/"));

        using var http80 = NginxHarness.Client(80 + offset);
        foreach (var host in new[] { "example.test", "unknown.test" })
        {
            using var response = await http80.GetAsync($"http://{host}{AcmeChallenges.PathPrefix}{Token}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(KeyAuthorization, await response.Content.ReadAsStringAsync());
        }
        // Exact match only: a longer path is not the challenge (the vhost's own locations answer it).
        using (var other = await http80.GetAsync($"http://unknown.test{AcmeChallenges.PathPrefix}{Token}x"))
        {
            Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        }
        using var https = NginxHarness.Client(443 + offset);
        using (var tls = await https.GetAsync($"https://example.test{AcmeChallenges.PathPrefix}{Token}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, tls.StatusCode);
        }
    }

    [Fact]
    public void Without_challenges_no_challenge_location_is_rendered()
    {
        var rendered = ConfigRenderer.Render(new ConfigUpdate { ConfigId = "c1" }, new NginxHostSettings(), NginxCapabilities.Standard);
        Assert.DoesNotContain("acme-challenge", rendered.MainConfig, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "x", "acme_challenges[0].token")]
    [InlineData("tok;en", "tok;en.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI", "acme_challenges[0].token")]
    [InlineData("tok/../x", "x", "acme_challenges[0].token")]
    [InlineData("token", "token.short", "acme_challenges[0].key_authorization")]
    [InlineData("token", "other.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI", "acme_challenges[0].key_authorization")]
    [InlineData("token", "token.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mq\"}", "acme_challenges[0].key_authorization")]
    [InlineData("token", "token.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mq\nI", "acme_challenges[0].key_authorization")]
    public void Bad_tokens_and_key_authorizations_are_refused(string token, string keyAuthorization, string field)
    {
        var update = new ConfigUpdate { ConfigId = "c1" };
        update.AcmeChallenges.Add(new AcmeChallenge { Token = token, KeyAuthorization = keyAuthorization });
        var issue = Assert.Single(ConfigUpdateValidator.Validate(update));
        Assert.Equal(field, issue.Field);
        Assert.Throws<InvalidConfigUpdateException>(() => ConfigRenderer.Render(update, new NginxHostSettings(), NginxCapabilities.Standard));
    }

    [Fact]
    public void Duplicate_tokens_are_refused()
    {
        var update = new ConfigUpdate { ConfigId = "c1" };
        update.AcmeChallenges.Add(new AcmeChallenge { Token = Token, KeyAuthorization = KeyAuthorization });
        update.AcmeChallenges.Add(new AcmeChallenge { Token = Token, KeyAuthorization = KeyAuthorization });
        Assert.Equal("acme_challenges[1].token", Assert.Single(ConfigUpdateValidator.Validate(update)).Field);
    }
}
