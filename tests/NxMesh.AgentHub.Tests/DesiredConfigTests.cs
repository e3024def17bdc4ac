using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using NxMesh.Data;
using NxMesh.Data.DesiredConfig;
using NxMesh.Data.Entities;
using NxMesh.Testing;
using Xunit;
using Proto = NxMesh.Protocol.V1;

namespace NxMesh.AgentHub.Tests;

[Collection(DatabaseCollection.Name)]
public sealed class DesiredConfigTests(DatabaseFixture database) : IAsyncLifetime
{
    private ServiceProvider _services = null!;

    public async Task InitializeAsync()
    {
        await database.ResetAsync();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DataProtection:KeyEncryptionKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
        }).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddDbContext<NxMeshDbContext>(o => o.UseNpgsql(database.ConnectionString));
        services.AddNxMeshDataProtection(configuration);
        services.AddScoped<DesiredConfigBuilder>();
        services.AddScoped<DesiredConfigService>();
        _services = services.BuildServiceProvider();
    }

    public async Task DisposeAsync() => await _services.DisposeAsync();

    [Fact]
    public void Checksum_is_independent_of_map_insertion_order_and_of_id_and_version()
    {
        var a = Sample();
        var b = Sample();
        b.GlobalSettings.NginxDirectives.Clear();
        b.GlobalSettings.NginxDirectives["gzip"] = "on";
        b.GlobalSettings.NginxDirectives["client_max_body_size"] = "10m";
        b.ConfigId = "anything";
        b.Version = 99;

        Assert.Equal(ConfigChecksum.Compute(a), ConfigChecksum.Compute(b));
        Assert.Matches("^[0-9a-f]{64}$", ConfigChecksum.Compute(a));
        Assert.Equal(ConfigChecksum.Compute(a), ConfigChecksum.Compute(Sample()));
    }

    public static TheoryData<string> Mutations => ["server_name", "location_order", "header_value", "upstream_weight", "directive", "certificate_key", "env"];

    [Theory]
    [MemberData(nameof(Mutations))]
    public void Checksum_changes_with_any_content(string mutation)
    {
        var changed = Sample();
        switch (mutation)
        {
            case "server_name": changed.VirtualHosts[0].ServerName = "b.example.test"; break;
            case "location_order":
                var first = changed.VirtualHosts[0].Locations[0];
                changed.VirtualHosts[0].Locations.RemoveAt(0);
                changed.VirtualHosts[0].Locations.Add(first);
                break;
            case "header_value": changed.VirtualHosts[0].Locations[0].CustomHeaders[0].Value = "max-age=1"; break;
            case "upstream_weight": changed.Upstreams[0].Servers[0].Weight = 2; break;
            case "directive": changed.GlobalSettings.NginxDirectives["gzip"] = "off"; break;
            case "certificate_key": changed.Certificates["c1"].PrivateKeyPem = "other key"; break;
            case "env": changed.GlobalSettings.EnvVars["TZ"] = "UTC"; break;
        }
        Assert.NotEqual(ConfigChecksum.Compute(Sample()), ConfigChecksum.Compute(changed));
    }

    [Fact]
    public async Task Builds_the_matching_virtual_hosts_with_referenced_upstreams_and_certificates()
    {
        var workspaceId = await Seed.WorkspaceAsync(database, new WorkspaceSettings { NginxDirectives = { ["gzip"] = "on" }, EnvVars = { ["TZ"] = "UTC" } });
        var (agentId, _) = await Seed.EnrolledAgentAsync(database, workspaceId, new() { ["env"] = "prod", ["tier"] = "web" });
        var provider = _services.GetRequiredService<IDataProtectionProvider>();
        Guid upstreamId, certificateId, unusedUpstreamId;
        await using (var db = database.CreateDbContext())
        {
            var upstream = new Upstream
            {
                WorkspaceId = workspaceId,
                Name = "api",
                Algorithm = LoadBalanceAlgorithm.LeastConnections,
                Servers = [new UpstreamServerSpec { Address = "127.0.0.1:9001", Weight = 3 }],
                HealthCheck = new HealthCheckSpec { Enabled = true, Path = "/healthz" },
                KeepaliveConnections = 16,
            };
            var unused = new Upstream { WorkspaceId = workspaceId, Name = "unused", Servers = [new UpstreamServerSpec { Address = "127.0.0.1:9002" }] };
            var certificate = new Certificate
            {
                WorkspaceId = workspaceId,
                Domain = "shop.example.test",
                CertificatePem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
                PrivateKeyProtected = CertificateKeyProtection.Protect(provider, "-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----"),
                ExpiresAt = DateTimeOffset.FromUnixTimeMilliseconds(1_900_000_000_000),
                Status = CertificateStatus.Active,
            };
            db.AddRange(upstream, unused, certificate);
            await db.SaveChangesAsync();
            (upstreamId, certificateId, unusedUpstreamId) = (upstream.Id, certificate.Id, unused.Id);
            db.Add(new VirtualHost
            {
                WorkspaceId = workspaceId,
                Name = "shop",
                ServerName = "shop.example.test",
                ListenPort = 443,
                SslEnabled = true,
                SslCertificateId = certificateId,
                Http2Enabled = true,
                TargetAgents = new TargetAgents { Type = TargetAgentsType.Selector, LabelSelector = "env=prod,tier in (web,edge)" },
                Locations =
                [
                    new VirtualHostLocation { Path = "/static", Position = 1, Root = "/srv/static" },
                    new VirtualHostLocation
                    {
                        Path = "/api",
                        Position = 0,
                        UpstreamId = upstreamId,
                        CustomHeaders = [new HeaderSpec { Name = "Strict-Transport-Security", Value = "max-age=31536000; includeSubDomains", Always = true }],
                    },
                ],
            });
            db.Add(new VirtualHost { WorkspaceId = workspaceId, Name = "staging", ServerName = "staging.example.test", TargetAgents = new TargetAgents { Type = TargetAgentsType.Selector, LabelSelector = "env=staging" } });
            db.Add(new VirtualHost { WorkspaceId = workspaceId, Name = "mine", ServerName = "mine.example.test", TargetAgents = new TargetAgents { Type = TargetAgentsType.Agents, AgentIds = [agentId] } });
            db.Add(new VirtualHost { WorkspaceId = workspaceId, Name = "theirs", ServerName = "theirs.example.test", TargetAgents = new TargetAgents { Type = TargetAgentsType.Agents, AgentIds = [Guid.NewGuid()] } });
            await db.SaveChangesAsync();
        }

        await using var scope = _services.CreateAsyncScope();
        var result = await scope.ServiceProvider.GetRequiredService<DesiredConfigService>().ResolveAsync(agentId, null, CancellationToken.None);

        var update = result!.Update;
        Assert.Equal(["mine.example.test", "shop.example.test"], update.VirtualHosts.Select(v => v.ServerName).Order());
        var shop = update.VirtualHosts.Single(v => v.ServerName == "shop.example.test");
        Assert.Equal(["/api", "/static"], shop.Locations.Select(l => l.Path));
        Assert.Equal(upstreamId.ToString("D"), shop.Locations[0].UpstreamId);
        Assert.Equal("max-age=31536000; includeSubDomains", shop.Locations[0].CustomHeaders[0].Value);
        var upstreamProto = Assert.Single(update.Upstreams);
        Assert.Equal((Proto.LoadBalanceAlgorithm.LeastConnections, 3u, "/healthz", 16u),
            (upstreamProto.Algorithm, upstreamProto.Servers[0].Weight, upstreamProto.HealthCheck.Path, upstreamProto.KeepaliveConnections));
        Assert.DoesNotContain(update.Upstreams, u => u.Id == unusedUpstreamId.ToString("D"));
        var certificateProto = update.Certificates[certificateId.ToString("D")];
        Assert.Contains("secret", certificateProto.PrivateKeyPem, StringComparison.Ordinal);
        Assert.Equal(1_900_000_000_000, certificateProto.ExpiresAt);
        Assert.Equal("on", update.GlobalSettings.NginxDirectives["gzip"]);
        Assert.Equal("UTC", update.GlobalSettings.EnvVars["TZ"]);
        Assert.Equal(ConfigChecksum.Compute(update), update.ConfigId);

        var redacted = DesiredConfigBuilder.Redact(update);
        Assert.Equal(DesiredConfigBuilder.RedactedKey, redacted.Certificates[certificateId.ToString("D")].PrivateKeyPem);
        Assert.Equal(update.ConfigId, redacted.ConfigId);
        await using var check = database.CreateDbContext();
        Assert.DoesNotContain("secret", (await check.Certificates.SingleAsync()).PrivateKeyProtected, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_per_agent_version_increases_only_when_the_config_id_changes()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, _) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await Seed.VirtualHostAsync(database, workspaceId, "a.example.test");

        var first = await ResolveAsync(agentId);
        var again = await ResolveAsync(agentId);
        Assert.Equal((1L, true), (first.Update.Version, first.Advanced));
        Assert.Equal((1L, false, first.Update.ConfigId), (again.Update.Version, again.Advanced, again.Update.ConfigId));

        await Seed.VirtualHostAsync(database, workspaceId, "b.example.test");
        var changed = await ResolveAsync(agentId);
        Assert.Equal((2L, true), (changed.Update.Version, changed.Advanced));
        Assert.NotEqual(first.Update.ConfigId, changed.Update.ConfigId);

        // Concurrent resolutions of the same content advance the version once.
        await Seed.VirtualHostAsync(database, workspaceId, "c.example.test");
        var concurrent = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => ResolveAsync(agentId)));
        Assert.All(concurrent, r => Assert.Equal(3, r.Update.Version));
        Assert.Single(concurrent, r => r.Advanced);
    }

    [Theory]
    [InlineData("env=prod", true)]
    [InlineData("env==prod", true)]
    [InlineData("env!=prod", false)]
    [InlineData("env in (prod, staging)", true)]
    [InlineData("env notin (prod)", false)]
    [InlineData("tier", true)]
    [InlineData("!tier", false)]
    [InlineData("!gpu", true)]
    [InlineData("env=prod,region=eu", false)]
    [InlineData("env=prod,tier=web", true)]
    [InlineData("", true)]
    [InlineData("env=prod,", false)]
    [InlineData("env in prod", false)]
    public void Label_selectors_match_like_kubernetes(string selector, bool expected)
    {
        var labels = new Dictionary<string, string> { ["env"] = "prod", ["tier"] = "web" };
        Assert.Equal(expected, TargetMatcher.SelectorMatches(selector, labels));
    }

    private async Task<DesiredConfigResult> ResolveAsync(Guid agentId)
    {
        await using var scope = _services.CreateAsyncScope();
        return (await scope.ServiceProvider.GetRequiredService<DesiredConfigService>().ResolveAsync(agentId, null, CancellationToken.None))!;
    }

    private static Proto.ConfigUpdate Sample()
    {
        var update = new Proto.ConfigUpdate { GlobalSettings = new Proto.GlobalSettings() };
        update.GlobalSettings.NginxDirectives["client_max_body_size"] = "10m";
        update.GlobalSettings.NginxDirectives["gzip"] = "on";
        var vhost = new Proto.VirtualHost { Id = "v1", Name = "a", ServerName = "a.example.test", ListenPort = 80 };
        var api = new Proto.Location { Path = "/api", UpstreamId = "u1" };
        api.CustomHeaders.Add(new Proto.Header { Name = "Strict-Transport-Security", Value = "max-age=31536000" });
        vhost.Locations.Add(api);
        vhost.Locations.Add(new Proto.Location { Path = "/", ProxyPass = "http://127.0.0.1:9000" });
        update.VirtualHosts.Add(vhost);
        var upstream = new Proto.Upstream { Id = "u1", Name = "api" };
        upstream.Servers.Add(new Proto.UpstreamServer { Address = "127.0.0.1:9001", Weight = 1 });
        update.Upstreams.Add(upstream);
        update.Certificates["c1"] = new Proto.Certificate { Id = "c1", Domain = "a.example.test", CertificatePem = "cert", PrivateKeyPem = "key" };
        return update;
    }
}
