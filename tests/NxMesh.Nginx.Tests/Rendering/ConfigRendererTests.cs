using NxMesh.Nginx.Rendering;
using NxMesh.Nginx.Tests.Support;
using NxMesh.Nginx.Validation;
using NxMesh.Protocol.V1;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.Nginx.Tests.Rendering;

public sealed class ConfigRendererTests
{
    private static readonly NginxHostSettings Host = new() { ListenAddress = "127.0.0.1", StubStatusPort = 18099, AllowedRootDirectories = ["/srv/www"] };

    [Fact]
    public async Task The_sample_renders_and_passes_nginx_test()
    {
        var rendered = ConfigRenderer.Render(SampleConfigs.Valid(), Host, NginxCapabilities.Standard);
        var (ok, output) = await NginxHarness.TestAsync(rendered);
        Assert.True(ok, output + "\n" + rendered.MainConfig);
        Assert.Empty(rendered.Warnings);
    }

    [Fact]
    public void Rendering_is_deterministic_and_ignores_the_order_of_unordered_input()
    {
        var first = ConfigRenderer.Render(SampleConfigs.Valid(), Host, NginxCapabilities.Standard);
        var shuffled = SampleConfigs.Valid();
        var vhosts = shuffled.VirtualHosts.Reverse().ToArray();
        shuffled.VirtualHosts.Clear();
        shuffled.VirtualHosts.Add(vhosts);
        var second = ConfigRenderer.Render(shuffled, Host, NginxCapabilities.Standard);
        Assert.Equal(first.MainConfig, second.MainConfig);
        Assert.Equal(first.Files.Keys, second.Files.Keys);
    }

    [Fact]
    public void Invalid_input_throws_with_the_issues_and_renders_nothing()
    {
        var update = SampleConfigs.Valid();
        update.VirtualHosts[0].ServerName = "a.test; return 200 pwned";
        var error = Assert.Throws<InvalidConfigUpdateException>(() => ConfigRenderer.Render(update, Host, NginxCapabilities.Standard));
        Assert.Contains(error.Issues, i => i.Field == "virtual_hosts[0].server_name");
    }

    [Fact]
    public void Keys_are_secret_files_under_conf_certs()
    {
        var rendered = ConfigRenderer.Render(SampleConfigs.Valid(), Host, NginxCapabilities.Standard);
        Assert.Equal(["conf/certs/cert1.crt", "conf/certs/cert1.key"], rendered.Files.Keys);
        Assert.False(rendered.Files["conf/certs/cert1.crt"].Secret);
        Assert.True(rendered.Files["conf/certs/cert1.key"].Secret);
        Assert.Contains("ssl_certificate_key \"certs/cert1.key\";", rendered.MainConfig, StringComparison.Ordinal);
    }

    [Fact]
    public void A_root_outside_the_allowed_directories_is_left_out_with_a_warning()
    {
        var rendered = ConfigRenderer.Render(SampleConfigs.Valid(), Host with { AllowedRootDirectories = ["/var/www"] }, NginxCapabilities.Standard);
        Assert.DoesNotContain("root ", rendered.MainConfig, StringComparison.Ordinal);
        Assert.Contains(rendered.Warnings, w => w.Contains("/srv/www", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("/srv/www", "/srv/www", true)]
    [InlineData("/srv/www/", "/srv/www/site", true)]
    [InlineData("/srv/www", "/srv/www2", false)]
    [InlineData("/srv/www", "/srv", false)]
    [InlineData("/", "/anything", true)]
    [InlineData("relative", "/relative", false)]
    public void Root_confinement(string allowed, string root, bool expected) =>
        Assert.Equal(expected, new NginxHostSettings { AllowedRootDirectories = [allowed] }.IsRootAllowed(root));

    [Fact]
    public void Missing_capabilities_leave_fields_out_with_warnings()
    {
        var update = SampleConfigs.Valid();
        update.VirtualHosts[1].Http3Enabled = true;
        var rendered = ConfigRenderer.Render(update, Host, new NginxCapabilities { Ssl = true });
        Assert.DoesNotContain("http2", rendered.MainConfig, StringComparison.Ordinal);
        Assert.DoesNotContain("quic", rendered.MainConfig, StringComparison.Ordinal);
        Assert.DoesNotContain("stub_status", rendered.MainConfig, StringComparison.Ordinal);
        Assert.Contains(rendered.Warnings, w => w.Contains("http2", StringComparison.Ordinal));
        Assert.Contains(rendered.Warnings, w => w.Contains("http3", StringComparison.Ordinal));
        Assert.Contains(rendered.Warnings, w => w.Contains("stub_status", StringComparison.Ordinal));

        var withoutSsl = ConfigRenderer.Render(update, Host, new NginxCapabilities { StubStatus = true });
        Assert.DoesNotContain("secure.example.test", withoutSsl.MainConfig, StringComparison.Ordinal);
        Assert.Empty(withoutSsl.Files);
        Assert.Contains(withoutSsl.Warnings, w => w.Contains("vh2", StringComparison.Ordinal) && w.Contains("ssl", StringComparison.Ordinal));
    }

    [Fact]
    public void Http3_is_rendered_as_a_quic_listener_when_the_build_has_it()
    {
        var update = SampleConfigs.Valid();
        update.VirtualHosts[1].Http3Enabled = true;
        var rendered = ConfigRenderer.Render(update, Host, NginxCapabilities.Standard with { Http3 = true });
        Assert.Contains("listen \"127.0.0.1:8443\" \"quic\";", rendered.MainConfig, StringComparison.Ordinal);
        Assert.Empty(rendered.Warnings);
    }

    [Fact]
    public async Task A_privileged_port_offset_moves_every_listener_below_1024()
    {
        var update = SampleConfigs.Valid();
        update.VirtualHosts[0].ListenPort = 80;
        update.VirtualHosts[1].ListenPort = 443;
        var rendered = ConfigRenderer.Render(update, Host with { PrivilegedPortOffset = 8000 }, NginxCapabilities.Standard);
        Assert.Contains("listen \"127.0.0.1:8080\" \"default_server\";", rendered.MainConfig, StringComparison.Ordinal);
        Assert.Contains("listen \"127.0.0.1:8443\" \"default_server\" \"ssl\" \"http2\";", rendered.MainConfig, StringComparison.Ordinal);
        Assert.DoesNotContain(":80\"", rendered.MainConfig, StringComparison.Ordinal);
        var (ok, output) = await NginxHarness.TestAsync(rendered);
        Assert.True(ok, output);
    }

    [Fact]
    public void A_virtual_host_whose_offset_port_clashes_with_another_listener_is_left_out()
    {
        var update = SampleConfigs.Valid();
        update.VirtualHosts[1].ListenPort = 8080;
        update.VirtualHosts[0].ListenPort = 80;
        update.VirtualHosts[0].SslEnabled = false;
        Assert.Empty(ConfigUpdateValidator.Validate(update));
        var rendered = ConfigRenderer.Render(update, Host with { PrivilegedPortOffset = 8000 }, NginxCapabilities.Standard);
        Assert.Contains(rendered.Warnings, w => w.Contains("vh2", StringComparison.Ordinal));
        Assert.DoesNotContain("secure.example.test", rendered.MainConfig, StringComparison.Ordinal);
    }

    [Fact]
    public void Base_config_is_the_render_of_an_empty_update()
    {
        var settings = new NginxHostSettings { ListenAddress = "127.0.0.11", StubStatusPort = 18099 };
        Assert.Equal(ConfigRenderer.Render(new ConfigUpdate(), settings, NginxCapabilities.Standard).MainConfig, BaseConfigRenderer.Render(settings));
    }

    [Fact]
    public async Task Capabilities_are_read_from_nginx_V()
    {
        var (exitCode, output) = await ServerProcess.RunAsync(NginxRunner.Binary, TimeSpan.FromSeconds(10), "-V");
        Assert.Equal(0, exitCode);
        var caps = NginxCapabilities.Parse(output);
        Assert.Matches(@"^1\.\d+\.\d+$", caps.Version);
        Assert.True(caps.Ssl && caps.Http2 && caps.StubStatus);
        Assert.False(caps.Http3);
        Assert.Equal(["http2", "ssl", "stub_status"], caps.Names());

        var v3 = NginxCapabilities.Parse("nginx version: nginx/1.25.3\nconfigure arguments: --with-http_v3_module --with-http_ssl_module");
        Assert.Equal(("1.25.3", true, true, false, false), (v3.Version, v3.Http3, v3.Ssl, v3.Http2, v3.StubStatus));
        Assert.False(NginxCapabilities.Parse("configure arguments: --with-http_v2_module_extra").Http2);
    }
}
