using NxMesh.Testing;
using Xunit;

namespace NxMesh.Nginx.Tests;

public sealed class NginxQuotingTests
{
    [Theory]
    [InlineData("plain", "\"plain\"")]
    [InlineData("max-age=31536000; includeSubDomains", "\"max-age=31536000; includeSubDomains\"")]
    [InlineData("a\"b", "\"a\\\"b\"")]
    [InlineData("back\\slash", "\"back\\\\slash\"")]
    [InlineData("{ }", "\"{ }\"")]
    public void Quote_emits_one_argument_with_backslash_and_quote_escaped(string value, string expected) =>
        Assert.Equal(expected, NginxQuoting.Quote(value));

    [Theory]
    [InlineData("a\rb")]
    [InlineData("a\nb")]
    [InlineData("a\0b")]
    public void Quote_refuses_CR_LF_and_NUL(string value)
    {
        Assert.True(NginxQuoting.HasForbiddenCharacters(value));
        Assert.Throws<ArgumentException>(() => NginxQuoting.Quote(value));
    }
}

public sealed class BaseConfigTests
{
    [Fact]
    public void Base_config_is_deterministic()
    {
        var settings = new NginxHostSettings { ListenAddress = "127.0.0.11", StubStatusPort = 18099 };
        Assert.Equal(BaseConfigRenderer.Render(settings), BaseConfigRenderer.Render(settings));
    }

    [Fact]
    public async Task Hostile_values_stay_single_arguments_in_nginx_own_parse()
    {
        const string hostile = "x; return 200 pwned; #{ } \\\"'";
        var config = new NginxConfigBuilder()
            .Directive("pid", "logs/nginx.pid")
            .Block("events", e => e.Directive("worker_connections", 64))
            .Block("http", http => http
                .Directive("access_log", "off")
                .Block("server", s => s
                    .Directive("listen", $"127.0.0.1:{FreePort()}")
                    .Directive("server_name", "example.test")
                    .Block("location", l => l.Directive("add_header", "X-Test", hostile).Directive("return", 204), "/")))
            .ToString();
        await using var nginx = NginxRunner.Create(config);
        var (exitCode, dump) = await nginx.DumpAsync();
        Assert.True(exitCode == 0, dump);
        Assert.DoesNotContain("return \"200\"", dump, StringComparison.Ordinal);
        Assert.Contains("add_header \"X-Test\" \"x; return 200 pwned; #{ } \\\\\\\"'\";", dump, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Base_config_passes_nginx_test_and_answers_404_for_any_host()
    {
        var port = FreePort();
        var stubPort = FreePort();
        var settings = new NginxHostSettings { ListenAddress = "127.0.0.1", PrivilegedPortOffset = port - 80, StubStatusPort = stubPort };
        await using var nginx = NginxRunner.Create(BaseConfigRenderer.Render(settings));
        var (exitCode, output) = await nginx.TestAsync();
        Assert.True(exitCode == 0, output);

        await nginx.StartAsync(new Uri($"http://127.0.0.1:{port}/"));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{port}/anything");
        request.Headers.Host = "unknown.example";
        using var response = await http.SendAsync(request);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("nginx", response.Headers.Server.ToString());

        var status = await http.GetStringAsync($"http://127.0.0.1:{stubPort}{BaseConfigRenderer.StubStatusPath}");
        Assert.StartsWith("Active connections:", status, StringComparison.Ordinal);
    }

    private static int FreePort() => NxMesh.AppHost.Local.LocalDataDirectory.FreeTcpPort();
}
