using System.Net;
using System.Runtime.CompilerServices;
using System.Security.Authentication;
using System.Text.Json;
using NxMesh.Nginx.Rendering;
using NxMesh.Nginx.Tests.Support;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.Nginx.Tests.Rendering;

/// <summary>
/// Golden files: Golden/&lt;case&gt;.conf is the exact render of each <see cref="GoldenCases"/> case in the fixed
/// <see cref="CaseEnvironment.Golden"/> environment. After an intended rendering change, regenerate them with
/// <c>NXMESH_UPDATE_GOLDEN=1 dotnet test tests/NxMesh.Nginx.Tests --filter Golden_file</c> and review the diff.
/// Each case is also run on real nginx below, so a golden file is never just "what the code printed".
/// </summary>
public sealed class GoldenTests
{
    public static TheoryData<string> Cases => new(GoldenCases.All.Keys);

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Golden_file_matches_the_render_and_passes_nginx_test(string name)
    {
        var rendered = GoldenCases.Render(name, CaseEnvironment.Golden);
        var path = Path.Combine(GoldenDirectory(), name + ".conf");
        if (Environment.GetEnvironmentVariable("NXMESH_UPDATE_GOLDEN") == "1")
        {
            await File.WriteAllTextAsync(path, rendered.MainConfig);
        }
        Assert.True(File.Exists(path), $"missing {path}; regenerate with NXMESH_UPDATE_GOLDEN=1");
        Assert.Equal(await File.ReadAllTextAsync(path), rendered.MainConfig);
        Assert.Empty(rendered.Warnings);
        var (ok, output) = await NginxHarness.TestAsync(rendered);
        Assert.True(ok, output);
    }

    [Fact]
    public async Task Static_headers_always_header_is_on_a_404_the_other_only_on_success()
    {
        await using var live = await LiveCase.StartAsync("static-headers");
        using var http = live.Client(80);

        using var ok = await http.GetAsync($"http://{GoldenCases.StaticHost}/");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(LiveCase.IndexBody, await ok.Content.ReadAsStringAsync());
        Assert.Equal("on-every-status", Header(ok, "X-Always"));
        Assert.Equal("2xx-and-3xx", Header(ok, "X-Success-Only"));
        Assert.Equal("max-age=31536000; includeSubDomains", Header(ok, "Strict-Transport-Security"));
        Assert.NotNull(ok.Content.Headers.Expires);

        using var missing = await http.GetAsync($"http://{GoldenCases.StaticHost}/missing.html");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("on-every-status", Header(missing, "X-Always"));
        Assert.Equal("max-age=31536000; includeSubDomains", Header(missing, "Strict-Transport-Security"));
        Assert.Null(Header(missing, "X-Success-Only"));

        // A symlink inside the allowed root that points outside it is not followed.
        using var escape = await http.GetAsync($"http://{GoldenCases.StaticHost}/{LiveCase.OutsideLink}");
        Assert.Equal(HttpStatusCode.Forbidden, escape.StatusCode);
        Assert.DoesNotContain(LiveCase.OutsideSecret, await escape.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var unknown = await http.GetAsync("http://unknown.example.test/");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Null(Header(unknown, "X-Always"));

        // The JSON access log names the virtual host; the default server logs an empty id.
        var records = await live.AccessLogAsync(3);
        var missingRecord = records.Single(r => r.GetProperty("request_uri").GetString() == "/missing.html");
        Assert.Equal(404, missingRecord.GetProperty("status").GetInt32());
        Assert.Equal("vh-static", missingRecord.GetProperty("vhost_id").GetString());
        Assert.Equal(GoldenCases.StaticHost, missingRecord.GetProperty("host").GetString());
        Assert.Equal("GET", missingRecord.GetProperty("request_method").GetString());
        Assert.True(missingRecord.GetProperty("request_time").GetDouble() >= 0);
        Assert.Equal(32, missingRecord.GetProperty("request_id").GetString()!.Length);
        Assert.Equal("", records.Single(r => r.GetProperty("host").GetString() == "unknown.example.test").GetProperty("vhost_id").GetString());

        using var loopback = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var status = await loopback.GetStringAsync($"http://127.0.0.1:{live.StubStatusPort}{ConfigRenderer.StubStatusPath}");
        Assert.StartsWith("Active connections:", status, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Backup_server_answers_only_when_the_primaries_are_down()
    {
        await using var live = await LiveCase.StartAsync("backup");
        using var http = live.Client(80);
        for (var i = 0; i < 20; i++)
        {
            Assert.NotEqual("C", await http.GetStringAsync($"http://{GoldenCases.AppHost}/{i}"));
        }
        Assert.Equal(20, live.Upstreams[0].RequestCount + live.Upstreams[1].RequestCount);
        Assert.Equal(0, live.Upstreams[2].RequestCount);

        await live.StopUpstreamAsync(0);
        await live.StopUpstreamAsync(1);
        for (var i = 0; i < 10; i++)
        {
            using var response = await http.GetAsync($"http://{GoldenCases.AppHost}/after/{i}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("C", await response.Content.ReadAsStringAsync());
        }
        Assert.Equal(10, live.Upstreams[2].RequestCount);
    }

    [Fact]
    public async Task Weights_shape_the_distribution_3_to_1()
    {
        await using var live = await LiveCase.StartAsync("weighted");
        using var http = live.Client(80);
        var counts = new Dictionary<string, int>();
        for (var i = 0; i < 400; i++)
        {
            var body = await http.GetStringAsync($"http://{GoldenCases.AppHost}/w/{i}");
            counts[body] = counts.GetValueOrDefault(body) + 1;
        }
        Assert.Equal(400, counts.GetValueOrDefault("A") + counts.GetValueOrDefault("B"));
        Assert.InRange(counts.GetValueOrDefault("A"), 270, 330);
        // keepalive 16 + HTTP/1.1 + Connection "": the upstream sees keep-alive requests without "Connection: close".
        Assert.DoesNotContain(live.Upstreams[0].Requests, r => r.Contains("Connection: close", StringComparison.OrdinalIgnoreCase));
        Assert.All(live.Upstreams[0].Requests, r => Assert.Contains(" HTTP/1.1\r\n", r, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Rewrite_rewrites_before_proxying_and_redirects_permanently()
    {
        await using var live = await LiveCase.StartAsync("rewrite");
        using var http = live.Client(80);

        Assert.Equal("A", await http.GetStringAsync($"http://{GoldenCases.AppHost}/old/page?x=1"));
        var request = Assert.Single(live.Upstreams[0].Requests);
        Assert.StartsWith("GET /new/page?x=1 HTTP/1.0\r\n", request, StringComparison.Ordinal);
        Assert.Contains($"Host: {GoldenCases.AppHost}\r\n", request, StringComparison.Ordinal);
        Assert.Contains("X-Forwarded-Proto: http\r\n", request, StringComparison.Ordinal);
        Assert.Contains("X-Real-IP: 127.0.0.1\r\n", request, StringComparison.Ordinal);

        using var redirect = await http.GetAsync($"http://{GoldenCases.AppHost}/legacy/a/b");
        Assert.Equal(HttpStatusCode.MovedPermanently, redirect.StatusCode);
        Assert.Equal($"https://{GoldenCases.AppHost}/modern/a/b", redirect.Headers.Location?.ToString());
        Assert.Single(live.Upstreams[0].Requests);

        Assert.Equal("A", await http.GetStringAsync($"http://{GoldenCases.AppHost}/untouched"));
        Assert.StartsWith("GET /untouched HTTP/1.0", live.Upstreams[0].Requests.Last(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tls_with_http2_serves_the_named_host_and_refuses_unknown_SNI()
    {
        await using var live = await LiveCase.StartAsync("tls-http2");
        using var https = live.Client(443);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"https://{GoldenCases.SecureHost}/hello")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        using var response = await https.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal("A", await response.Content.ReadAsStringAsync());
        var upstreamRequest = Assert.Single(live.Upstreams[0].Requests);
        Assert.Contains("X-Forwarded-Proto: https\r\n", upstreamRequest, StringComparison.Ordinal);
        Assert.Contains("X-Tenant: acme; corp\r\n", upstreamRequest, StringComparison.Ordinal);
        Assert.Contains($"Host: {live.Upstreams[0].Address}\r\n", upstreamRequest, StringComparison.Ordinal);

        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => https.GetAsync("https://unknown.example.test/"));
        Assert.True(refused.InnerException is AuthenticationException or IOException, refused.ToString());

        // Port 80 still has its plain default server.
        using var http = live.Client(80);
        using var plain = await http.GetAsync($"http://{GoldenCases.SecureHost}/");
        Assert.Equal(HttpStatusCode.NotFound, plain.StatusCode);
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

    private static string GoldenDirectory([CallerFilePath] string path = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, "..", "Golden"));

    /// <summary>A golden case rendered for real upstreams, a real static root and free ports, served by nginx.</summary>
    private sealed class LiveCase : IAsyncDisposable
    {
        public const string IndexBody = "hello from the static root";
        public const string OutsideLink = "outside.txt";
        public const string OutsideSecret = "secret outside the allowed root";
        private readonly NginxRunner _nginx;
        private readonly string _root;
        private readonly int _offset;
        private readonly HashSet<int> _stopped = [];

        private LiveCase(NginxRunner nginx, string root, int offset, int stubStatusPort, TestUpstream[] upstreams)
        {
            _nginx = nginx;
            _root = root;
            _offset = offset;
            StubStatusPort = stubStatusPort;
            Upstreams = upstreams;
        }

        public TestUpstream[] Upstreams { get; }
        public int StubStatusPort { get; }

        public static async Task<LiveCase> StartAsync(string name)
        {
            var upstreams = new[] { TestUpstream.Start("A"), TestUpstream.Start("B"), TestUpstream.Start("C") };
            var root = Path.Combine(Path.GetTempPath(), "nxmesh-root-" + Guid.NewGuid().ToString("N")[..12]);
            Directory.CreateDirectory(root);
            await File.WriteAllTextAsync(Path.Combine(root, "index.html"), IndexBody);
            Directory.CreateDirectory(root + "-outside");
            await File.WriteAllTextAsync(Path.Combine(root + "-outside", "secret.txt"), OutsideSecret);
            File.CreateSymbolicLink(Path.Combine(root, OutsideLink), Path.Combine(root + "-outside", "secret.txt"));
            var offset = NginxHarness.FreeOffset(80, 443);
            var stub = NginxHarness.FreePort();
            var environment = new CaseEnvironment(upstreams.Select(u => u.Address).ToArray(), root, new NginxHostSettings
            {
                ListenAddress = "127.0.0.1",
                PrivilegedPortOffset = offset,
                StubStatusPort = stub,
                AllowedRootDirectories = [root],
            });
            var nginx = NginxHarness.Write(GoldenCases.Render(name, environment));
            var live = new LiveCase(nginx, root, offset, stub, upstreams);
            try
            {
                var (exitCode, output) = await nginx.TestAsync();
                if (exitCode != 0)
                {
                    throw new InvalidOperationException(output);
                }
                await nginx.StartAsync(new Uri($"http://127.0.0.1:{stub}/"));
                return live;
            }
            catch
            {
                await live.DisposeAsync();
                throw;
            }
        }

        public HttpClient Client(int configuredPort) => NginxHarness.Client(configuredPort + _offset);

        public async Task StopUpstreamAsync(int index)
        {
            if (_stopped.Add(index))
            {
                await Upstreams[index].DisposeAsync();
            }
        }

        /// <summary>The parsed JSON access log once it holds at least <paramref name="count"/> records (bounded wait).</summary>
        public async Task<List<JsonElement>> AccessLogAsync(int count)
        {
            var path = Path.Combine(_nginx.Prefix, ConfigRenderer.AccessLogPath);
            var records = new List<JsonElement>();
            await Wait.UntilAsync(async () =>
            {
                records = File.Exists(path)
                    ? (await File.ReadAllLinesAsync(path)).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList()
                    : [];
                return records.Count >= count;
            }, TimeSpan.FromSeconds(10), $"{count} access log records");
            return records;
        }

        public async ValueTask DisposeAsync()
        {
            await _nginx.DisposeAsync();
            for (var i = 0; i < Upstreams.Length; i++)
            {
                await StopUpstreamAsync(i);
            }
            Directory.Delete(_root, recursive: true);
            Directory.Delete(_root + "-outside", recursive: true);
        }
    }
}
