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

namespace NxMesh.AgentHub.Tests;

/// <summary>Issue 8 in the desired config: pending HTTP-01 challenges for their serving agents, TLS virtual hosts waiting for a certificate.</summary>
[Collection(DatabaseCollection.Name)]
public sealed class AcmeDesiredConfigTests(DatabaseFixture database) : IAsyncLifetime
{
    private const string Token = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
    private const string KeyAuthorization = Token + ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";
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
        _services = services.BuildServiceProvider();
    }

    public async Task DisposeAsync() => await _services.DisposeAsync();

    [Fact]
    public async Task Challenges_reach_only_their_agents_and_change_the_checksum()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (serving, _) = await Seed.EnrolledAgentAsync(database, workspaceId, new() { ["replica"] = "1" });
        var (other, _) = await Seed.EnrolledAgentAsync(database, workspaceId, new() { ["replica"] = "2" });
        Guid certificateId;
        await using (var db = database.CreateDbContext())
        {
            var certificate = new Certificate { WorkspaceId = workspaceId, Domain = "a.example.test" };
            db.Add(certificate);
            await db.SaveChangesAsync();
            certificateId = certificate.Id;
        }
        var (servingBefore, otherBefore) = await BuildAsync(workspaceId, serving, other);
        await using (var db = database.CreateDbContext())
        {
            db.AcmeHttpChallenges.Add(new AcmeHttpChallenge { WorkspaceId = workspaceId, CertificateId = certificateId, Token = Token, KeyAuthorization = KeyAuthorization, AgentIds = [serving] });
            await db.SaveChangesAsync();
        }

        var (servingAfter, otherAfter) = await BuildAsync(workspaceId, serving, other);

        var challenge = Assert.Single(servingAfter.AcmeChallenges);
        Assert.Equal((Token, KeyAuthorization), (challenge.Token, challenge.KeyAuthorization));
        Assert.NotEqual(servingBefore.ConfigId, servingAfter.ConfigId);
        Assert.Empty(otherAfter.AcmeChallenges);
        Assert.Equal(otherBefore.ConfigId, otherAfter.ConfigId);
    }

    [Fact]
    public async Task A_tls_virtual_host_waits_for_its_certificate_without_blocking_the_others()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, _) = await Seed.EnrolledAgentAsync(database, workspaceId, []);
        var provider = _services.GetRequiredService<IDataProtectionProvider>();
        Guid pendingId;
        await using (var db = database.CreateDbContext())
        {
            var pending = new Certificate { WorkspaceId = workspaceId, Domain = "wait.example.test" };
            var failedRenewal = new Certificate
            {
                WorkspaceId = workspaceId, Domain = "kept.example.test", Status = CertificateStatus.Failed, LastError = "connection: refused",
                CertificatePem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
                PrivateKeyProtected = CertificateKeyProtection.Protect(provider, "-----BEGIN PRIVATE KEY-----\nk\n-----END PRIVATE KEY-----"),
            };
            db.AddRange(pending, failedRenewal);
            await db.SaveChangesAsync();
            pendingId = pending.Id;
            db.Add(new VirtualHost { WorkspaceId = workspaceId, Name = "wait", ServerName = "wait.example.test", ListenPort = 443, SslEnabled = true, SslCertificateId = pending.Id });
            db.Add(new VirtualHost { WorkspaceId = workspaceId, Name = "kept", ServerName = "kept.example.test", ListenPort = 443, SslEnabled = true, SslCertificateId = failedRenewal.Id });
            db.Add(new VirtualHost { WorkspaceId = workspaceId, Name = "plain", ServerName = "plain.example.test" });
            await db.SaveChangesAsync();
        }

        var (update, _) = await BuildAsync(workspaceId, agentId, agentId);

        Assert.Equal(["kept.example.test", "plain.example.test"], update.VirtualHosts.Select(v => v.ServerName).Order());
        Assert.DoesNotContain(pendingId.ToString("D"), update.Certificates.Keys);
        Assert.Single(update.Certificates);
    }

    private async Task<(NxMesh.Protocol.V1.ConfigUpdate First, NxMesh.Protocol.V1.ConfigUpdate Second)> BuildAsync(Guid workspaceId, Guid first, Guid second)
    {
        await using var scope = _services.CreateAsyncScope();
        var builder = scope.ServiceProvider.GetRequiredService<DesiredConfigBuilder>();
        var source = (await builder.LoadWorkspaceAsync(workspaceId, CancellationToken.None))!;
        return (builder.Build(source, first, new Dictionary<string, string> { ["replica"] = "1" }), builder.Build(source, second, new Dictionary<string, string> { ["replica"] = "2" }));
    }
}
