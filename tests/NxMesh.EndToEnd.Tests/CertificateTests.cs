using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Aspire.Hosting.Testing;
using System.Collections.Concurrent;
using Npgsql;
using StackExchange.Redis;
using NxMesh.AppHost;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.EndToEnd.Tests;

/// <summary>
/// Issue 8's Must-show through the real AppHost and a real ACME server (Pebble): a Let's Encrypt-style certificate is
/// issued with HTTP-01 answered by replica 1's nginx, served over TLS (chain valid against Pebble's root), renewed
/// by the Worker when it nears expiry; failures (an unreachable challenge, an order Pebble refuses by policy) end in
/// <c>failed</c> with Pebble's message while the previous certificate keeps being served; a database dump holds no
/// private key.
/// </summary>
[Collection(FleetCollection.Name)]
public sealed class CertificateTests(FleetFixture fleet)
{
    private static readonly TimeSpan EnrollTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan IssueTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan ServeTimeout = TimeSpan.FromSeconds(30);
    /// <summary>Nothing listens on port 80 there: Pebble's fetch is refused.</summary>
    private const string UnreachableAddress = "127.0.0.2";

    [Fact]
    public async Task A_certificate_is_issued_through_replica_1s_nginx_served_over_tls_and_renewed_by_the_worker()
    {
        await fleet.Acme.StartAsync();
        using var api = await Rest.OpenAsync(fleet);
        await api.WaitOnlineAsync(1, EnrollTimeout);
        await using var events = await EventRecorder.StartAsync(fleet);
        await using var upstream = TestUpstream.Start("e2e-tls-" + Guid.NewGuid().ToString("N")[..8]);
        var domain = UniqueDomain();
        var site = await api.CreateSiteAsync(domain, upstream.Address);
        try
        {
            Assert.Equal("pending", (string?)site.Certificate["status"]);
            Assert.True((bool)(await api.GetAsync($"/v1/virtual-hosts/{site.VirtualHostId}"))["waiting_for_certificate"]!);

            var issued = await api.WaitCertificateAsync(site.CertificateId, c => (string?)c["status"] == "active", IssueTimeout, "certificate active");
            Assert.Null((string?)issued["last_error"]);
            Assert.Equal([domain], issued["sans"]!.AsArray().Select(s => (string)s!));
            Assert.StartsWith("CN=Pebble Intermediate CA", (string)issued["issuer"]!, StringComparison.Ordinal);
            Assert.False((bool)(await api.GetAsync($"/v1/virtual-hosts/{site.VirtualHostId}"))["waiting_for_certificate"]!);

            // Pebble's validation request reached replica 1's nginx and was answered 200 from the desired config.
            var log = File.ReadAllLines(Path.Combine(fleet.DataDirectory, "agents", ResourceNames.Agent(1), "nginx", "logs", "access.json"));
            Assert.Contains(log, line => JsonNode.Parse(line) is { } entry
                && ((string?)entry["request_uri"])?.StartsWith("/.well-known/acme-challenge/", StringComparison.Ordinal) == true
                && (int?)entry["status"] == 200 && (string?)entry["host"] == domain);

            var roots = await fleet.Acme.IssuingRootsAsync();
            var fingerprint = (string)issued["fingerprint_sha256"]!;
            await WaitServedAsync(domain, roots, fingerprint, upstream.Name);

            // Set to expire soon: inside the 30-day renewal window, so the Worker's job renews it.
            await SetExpiryAsync(site.CertificateId, DateTimeOffset.UtcNow.AddDays(2));
            var renewed = await api.WaitCertificateAsync(site.CertificateId,
                c => (string?)c["status"] == "active" && (string?)c["fingerprint_sha256"] != fingerprint, IssueTimeout, "certificate renewed");
            Assert.True(DateTimeOffset.Parse((string)renewed["expires_at"]!, System.Globalization.CultureInfo.InvariantCulture) > DateTimeOffset.UtcNow.AddDays(60));
            await WaitServedAsync(domain, roots, (string)renewed["fingerprint_sha256"]!, upstream.Name);

            await events.WaitAsync("certificate.issued", site.CertificateId, api.WorkspaceId);
            await events.WaitAsync("certificate.renewed", site.CertificateId, api.WorkspaceId);
            await AssertDumpHasNoPrivateKeyAsync();
        }
        finally
        {
            await api.DeleteSiteAsync(site);
        }
    }

    [Fact]
    public async Task Unreachable_challenges_end_in_failed_with_the_acme_servers_message_and_the_previous_certificate_keeps_serving()
    {
        await fleet.Acme.StartAsync();
        using var api = await Rest.OpenAsync(fleet);
        await api.WaitOnlineAsync(1, EnrollTimeout);
        await using var events = await EventRecorder.StartAsync(fleet);
        await using var upstream = TestUpstream.Start("e2e-keep-" + Guid.NewGuid().ToString("N")[..8]);
        var domain = UniqueDomain();
        var site = await api.CreateSiteAsync(domain, upstream.Address);
        var neverDomain = UniqueDomain();
        await fleet.Acme.SetAddressAsync(neverDomain, UnreachableAddress);
        var never = Guid.Parse((string)(await api.PostAsync($"/v1/workspaces/{api.WorkspaceId}/certificates", new { domain = neverDomain, provider = "letsencrypt" }))["id"]!);
        try
        {
            // Never issued: failed with Pebble's problem (type and detail), no certificate.
            var failed = await api.WaitCertificateAsync(never, c => (string?)c["status"] == "failed", IssueTimeout, "certificate failed");
            var error = (string)failed["last_error"]!;
            Assert.Contains("connection", error, StringComparison.OrdinalIgnoreCase);
            Assert.Contains(UnreachableAddress, error, StringComparison.Ordinal);
            Assert.Null((string?)failed["fingerprint_sha256"]);
            Assert.True((int)failed["failed_attempts"]! >= 1);
            var failedEvent = await events.WaitAsync("certificate.failed", never, api.WorkspaceId);
            Assert.Contains(UnreachableAddress, (string)failedEvent["data"]!["error"]!, StringComparison.Ordinal);

            // Issued, then a forced renewal whose challenge cannot be reached: failed, the previous one still served.
            var issued = await api.WaitCertificateAsync(site.CertificateId, c => (string?)c["status"] == "active", IssueTimeout, "certificate active");
            var fingerprint = (string)issued["fingerprint_sha256"]!;
            var roots = await fleet.Acme.IssuingRootsAsync();
            await WaitServedAsync(domain, roots, fingerprint, upstream.Name);
            await fleet.Acme.SetAddressAsync(domain, UnreachableAddress);
            var queued = await api.PostAsync($"/v1/certificates/{site.CertificateId}/renew", null, HttpStatusCode.Accepted);
            Assert.Equal("renewing", (string?)queued["status"]);
            var renewalFailed = await api.WaitCertificateAsync(site.CertificateId, c => (string?)c["status"] == "failed", IssueTimeout, "renewal failed");
            Assert.Contains(UnreachableAddress, (string)renewalFailed["last_error"]!, StringComparison.Ordinal);
            Assert.Equal(fingerprint, (string?)renewalFailed["fingerprint_sha256"]);
            Assert.False((bool)(await api.GetAsync($"/v1/virtual-hosts/{site.VirtualHostId}"))["waiting_for_certificate"]!);
            await WaitServedAsync(domain, roots, fingerprint, upstream.Name);
        }
        finally
        {
            await fleet.Acme.ClearAddressAsync(domain);
            await fleet.Acme.ClearAddressAsync(neverDomain);
            await api.DeleteAsync($"/v1/certificates/{never}");
            await api.DeleteSiteAsync(site);
        }
    }

    [Fact]
    public async Task An_order_the_acme_server_refuses_ends_in_failed_with_its_problem_type_and_detail()
    {
        await fleet.Acme.StartAsync();
        using var api = await Rest.OpenAsync(fleet);
        await using var events = await EventRecorder.StartAsync(fleet);
        var id = Guid.Parse((string)(await api.PostAsync($"/v1/workspaces/{api.WorkspaceId}/certificates",
            new { domain = AcmeTestServer.BlockedDomain, provider = "letsencrypt" }))["id"]!);
        try
        {
            // Pebble answers the new order with a rejectedIdentifier problem: no challenge, no agent involved.
            var failed = await api.WaitCertificateAsync(id, c => (string?)c["status"] == "failed", IssueTimeout, "certificate failed");
            var error = (string)failed["last_error"]!;
            Assert.Contains("rejectedIdentifier", error, StringComparison.Ordinal);
            Assert.Contains("issuance is forbidden by policy", error, StringComparison.Ordinal);
            Assert.Contains(AcmeTestServer.BlockedDomain, error, StringComparison.Ordinal);
            Assert.Null((string?)failed["fingerprint_sha256"]);
            Assert.True((int)failed["failed_attempts"]! >= 1);
            var failedEvent = await events.WaitAsync("certificate.failed", id, api.WorkspaceId);
            Assert.Contains("rejectedIdentifier", (string)failedEvent["data"]!["error"]!, StringComparison.Ordinal);
        }
        finally
        {
            await api.DeleteAsync($"/v1/certificates/{id}");
        }
    }

    private static string UniqueDomain() => $"acme-{Guid.NewGuid():N}"[..17] + ".nxmesh.test";

    /// <summary>
    /// HTTPS to replica 1 with the domain as SNI until it presents the certificate with <paramref name="fingerprint"/>,
    /// whose chain must validate against Pebble's root (and name the domain); the site answers through the upstream.
    /// </summary>
    private async Task WaitServedAsync(string domain, X509Certificate2Collection roots, string fingerprint, string upstreamName)
    {
        string? seen = null;
        var errors = SslPolicyErrors.None;
        var chainValid = false;
        using var http = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            PooledConnectionLifetime = TimeSpan.Zero,
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(fleet.AgentAddressPrefix + "11"), 443 + fleet.AgentPortOffset), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
            SslOptions =
            {
                RemoteCertificateValidationCallback = (_, certificate, presented, sslErrors) =>
                {
                    if (certificate is null)
                    {
                        return false;
                    }
                    using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
                    seen = Convert.ToHexStringLower(SHA256.HashData(leaf.RawData));
                    errors = sslErrors;
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    chain.ChainPolicy.CustomTrustStore.AddRange(roots);
                    if (presented is not null)
                    {
                        foreach (var element in presented.ChainElements)
                        {
                            chain.ChainPolicy.ExtraStore.Add(element.Certificate);
                        }
                    }
                    chainValid = chain.Build(leaf) && leaf.MatchesHostname(domain);
                    // Only the system-trust verdict is replaced (Pebble's root is not a system root); a name mismatch still fails.
                    return chainValid && (sslErrors & ~SslPolicyErrors.RemoteCertificateChainErrors) == SslPolicyErrors.None;
                },
            },
        })
        { Timeout = TimeSpan.FromSeconds(5) };
        await Wait.UntilAsync(async () =>
        {
            try
            {
                using var response = await http.GetAsync(new Uri($"https://{domain}/"));
                return seen == fingerprint && response.StatusCode == HttpStatusCode.OK && await response.Content.ReadAsStringAsync() == upstreamName;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, ServeTimeout, $"replica 1 serving {domain} with certificate {fingerprint} (last seen {seen}, errors {errors}, chain valid {chainValid})");
        Assert.True(chainValid);
    }

    private async Task SetExpiryAsync(Guid certificateId, DateTimeOffset expiresAt)
    {
        await using var connection = new NpgsqlConnection(await fleet.App.GetConnectionStringAsync(ResourceNames.Database));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("UPDATE certificates SET expires_at = @expires WHERE id = @id", connection);
        command.Parameters.AddWithValue("expires", expiresAt);
        command.Parameters.AddWithValue("id", certificateId);
        Assert.Equal(1, await command.ExecuteNonQueryAsync());
    }

    /// <summary>pg_dump of the whole database: certificates are in it, private keys (PEM) are not.</summary>
    private async Task AssertDumpHasNoPrivateKeyAsync()
    {
        var builder = new NpgsqlConnectionStringBuilder(await fleet.App.GetConnectionStringAsync(ResourceNames.Database));
        var (exitCode, dump) = await ServerProcess.RunAsync("/usr/bin/env", TimeSpan.FromSeconds(60), "PGPASSWORD=" + builder.Password,
            "/usr/lib/postgresql/15/bin/pg_dump", "-h", builder.Host!, "-p", builder.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-U", builder.Username!, "-d", builder.Database!);
        Assert.True(exitCode == 0, dump.Length > 2000 ? dump[..2000] : dump);
        Assert.Contains("-----BEGIN CERTIFICATE-----", dump, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", dump, StringComparison.Ordinal);
    }

    /// <summary>Every message on <c>nxmesh:events</c> from its start (the channel the WebSocket feed relays).</summary>
    private sealed class EventRecorder : IAsyncDisposable
    {
        private readonly ConnectionMultiplexer _redis;
        private readonly ConcurrentQueue<JsonNode> _events = new();

        private EventRecorder(ConnectionMultiplexer redis) => _redis = redis;

        public static async Task<EventRecorder> StartAsync(FleetFixture fleet)
        {
            var recorder = new EventRecorder(await ConnectionMultiplexer.ConnectAsync((await fleet.App.GetConnectionStringAsync(ResourceNames.Redis))!));
            await recorder._redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(NxMesh.Data.Messaging.HubChannels.Events),
                (_, message) => recorder._events.Enqueue(JsonNode.Parse((string)message!)!));
            return recorder;
        }

        public async Task<JsonNode> WaitAsync(string type, Guid certificateId, Guid workspaceId)
        {
            JsonNode? found = null;
            await Wait.UntilAsync(() =>
            {
                found = _events.FirstOrDefault(e => (string?)e["type"] == type && (string?)e["data"]?["certificate_id"] == certificateId.ToString());
                return Task.FromResult(found is not null);
            }, TimeSpan.FromSeconds(10), $"{type} for {certificateId}");
            Assert.Equal(workspaceId.ToString(), (string?)found!["data"]!["workspace_id"]);
            return found;
        }

        public async ValueTask DisposeAsync() => await _redis.DisposeAsync();
    }

    private sealed record Site(Guid UpstreamId, Guid CertificateId, Guid VirtualHostId, JsonNode Certificate);

    /// <summary>REST as the bootstrap admin on the seeded workspace.</summary>
    private sealed class Rest : IDisposable
    {
        private readonly HttpClient _http;

        private Rest(HttpClient http, Guid workspaceId)
        {
            _http = http;
            WorkspaceId = workspaceId;
        }

        public Guid WorkspaceId { get; }

        public static async Task<Rest> OpenAsync(FleetFixture fleet)
        {
            using (var cts = new CancellationTokenSource(FleetFixture.StartTimeout))
            {
                await fleet.WaitHealthyAsync(ResourceNames.Api, cts.Token);
                await fleet.WaitHealthyAsync(ResourceNames.Worker, cts.Token);
            }
            var http = fleet.App.CreateHttpClient(ResourceNames.Api);
            http.Timeout = TimeSpan.FromSeconds(60);
            var rest = new Rest(http, Guid.Empty);
            try
            {
                var tokens = await rest.PostAsync("/v1/auth/login", new { email = ControlPlaneExtensions.DefaultAdminEmail, password = ControlPlaneExtensions.DefaultAdminPassword }, HttpStatusCode.OK);
                http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (string)tokens["access_token"]!);
                var organization = (await rest.GetAsync("/v1/organizations?per_page=100"))["data"]!.AsArray().Single(o => (string?)o!["slug"] == ControlPlaneExtensions.LocalOrganizationSlug)!;
                var workspace = (await rest.GetAsync($"/v1/organizations/{organization["id"]}/workspaces?per_page=100"))["data"]!.AsArray()
                    .Single(w => (string?)w!["slug"] == ControlPlaneExtensions.LocalWorkspaceSlug)!;
                return new Rest(http, Guid.Parse((string)workspace["id"]!));
            }
            catch
            {
                http.Dispose();
                throw;
            }
        }

        public async Task WaitOnlineAsync(int replica, TimeSpan timeout)
        {
            var label = replica.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await Wait.UntilAsync(async () => (await GetAsync($"/v1/workspaces/{WorkspaceId}/agents?state=all&per_page=100"))["data"]!.AsArray()
                .Any(a => (string?)a!["labels"]?["replica"] == label && (string?)a["state"] is "online" or "degraded"), timeout, $"replica {replica} connected");
        }

        /// <summary>A pending letsencrypt certificate and a TLS virtual host on it (port 443) for replica 1, proxying to the upstream.</summary>
        public async Task<Site> CreateSiteAsync(string domain, string upstreamAddress)
        {
            var upstream = await PostAsync($"/v1/workspaces/{WorkspaceId}/upstreams", new { name = "e2e-" + Guid.NewGuid().ToString("N")[..12], servers = new[] { new { address = upstreamAddress } } });
            var certificate = await PostAsync($"/v1/workspaces/{WorkspaceId}/certificates", new { domain, provider = "letsencrypt", auto_renew = true });
            var vhost = await PostAsync($"/v1/workspaces/{WorkspaceId}/virtual-hosts", new
            {
                name = domain,
                server_name = domain,
                listen_port = 443,
                ssl_enabled = true,
                ssl_certificate_id = (string)certificate["id"]!,
                locations = new[] { new { path = "/", upstream_id = (string)upstream["id"]! } },
                target_agents = new { type = "selector", label_selector = "replica=1" },
            });
            return new Site(Guid.Parse((string)upstream["id"]!), Guid.Parse((string)certificate["id"]!), Guid.Parse((string)vhost["id"]!), certificate);
        }

        public async Task DeleteSiteAsync(Site site)
        {
            await DeleteAsync($"/v1/virtual-hosts/{site.VirtualHostId}");
            await DeleteAsync($"/v1/certificates/{site.CertificateId}");
            await DeleteAsync($"/v1/upstreams/{site.UpstreamId}");
        }

        public async Task<JsonNode> WaitCertificateAsync(Guid id, Func<JsonNode, bool> condition, TimeSpan timeout, string what)
        {
            JsonNode? last = null;
            try
            {
                await Wait.UntilAsync(async () => condition(last = await GetAsync($"/v1/certificates/{id}")), timeout, what);
            }
            catch (TimeoutException ex)
            {
                throw new TimeoutException($"{ex.Message}; last: {last?.ToJsonString()}", ex);
            }
            return last!;
        }

        public Task<JsonNode> GetAsync(string path) => SendAsync(HttpMethod.Get, path, null, HttpStatusCode.OK);

        public Task<JsonNode> PostAsync(string path, object? body, HttpStatusCode expected = HttpStatusCode.Created) => SendAsync(HttpMethod.Post, path, body, expected);

        public async Task DeleteAsync(string path)
        {
            using var response = await _http.DeleteAsync(new Uri(path, UriKind.Relative));
            Assert.True(response.StatusCode == HttpStatusCode.NoContent, $"DELETE {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        private async Task<JsonNode> SendAsync(HttpMethod method, string path, object? body, HttpStatusCode expected)
        {
            using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
            if (body is not null)
            {
                request.Content = JsonContent.Create(body);
            }
            using var response = await _http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == expected, $"{method} {path}: {(int)response.StatusCode} {text}");
            return JsonNode.Parse(text)!;
        }

        public void Dispose() => _http.Dispose();
    }
}
