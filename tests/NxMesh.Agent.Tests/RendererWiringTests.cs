using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using NxMesh.Agent.Apply;
using NxMesh.Agent.Nginx;
using NxMesh.Protocol.V1;
using NxMesh.Testing;

namespace NxMesh.Agent.Tests;

/// <summary>The production renderer (NxMesh.Nginx) behind the agent's seam, on real nginx.</summary>
public sealed class RendererWiringTests
{
    [Fact]
    public async Task Update_rendered_by_the_shared_library_serves_https_through_an_upstream_with_the_key_written_0600()
    {
        await using var upstream = TestUpstream.Start("tls-app");
        await using var agent = await TestAgent.StartAsync(productionRenderer: true);
        Assert.IsType<LibraryConfigRenderer>(agent.Services.GetRequiredService<IConfigRenderer>());
        Assert.Contains("ssl", agent.Services.GetRequiredService<NginxBuild>().Capabilities.Names());
        var port = Ports.Free();
        var (certificatePem, keyPem) = SelfSigned("shop.example");
        var update = new ConfigUpdate
        {
            Version = 3,
            Upstreams = { new Upstream { Id = "app", Name = "app", Algorithm = LoadBalanceAlgorithm.RoundRobin, Servers = { new UpstreamServer { Address = upstream.Address, Weight = 1 } } } },
            Certificates = { ["cert1"] = new Certificate { Id = "cert1", Domain = "shop.example", CertificatePem = certificatePem, PrivateKeyPem = keyPem } },
            VirtualHosts =
            {
                new VirtualHost
                {
                    Id = "shop", Name = "shop", ServerName = "shop.example", ListenPort = (uint)port, SslEnabled = true, SslCertificateId = "cert1",
                    Locations = { new Location { Path = "/", UpstreamId = "app" } },
                },
            },
        };
        update.ConfigId = TestRenderer.Checksum(update);

        var statuses = await agent.ApplyAsync(update);

        Assert.True(statuses[^1].Status == ConfigApplyStatus.Success, statuses[^1].ErrorMessage);
        var release = Path.Combine(agent.Prefix, "conf");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(release, "certs", "cert1.key")));
        Assert.Equal(certificatePem, await File.ReadAllTextAsync(Path.Combine(release, "certs", "cert1.crt")));
        using var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.Subject == "CN=shop.example";
        handler.ConnectCallback = async (context, token) =>
        {
            var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            await socket.ConnectAsync(IPAddress.Loopback, port, token);
            return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
        };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(5) };
        Assert.Equal("tls-app", await http.GetStringAsync($"https://shop.example:{port}/cart"));
        Assert.Contains(upstream.Requests, r => r.StartsWith("GET /cart ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Update_the_shared_library_refuses_is_FAILED_with_its_reason()
    {
        await using var agent = await TestAgent.StartAsync(productionRenderer: true);
        var update = new ConfigUpdate
        {
            Version = 1,
            VirtualHosts = { new VirtualHost { Id = "x", Name = "x", ServerName = "bad;name", ListenPort = (uint)Ports.Free() } },
        };
        update.ConfigId = TestRenderer.Checksum(update);

        var statuses = await agent.ApplyAsync(update);

        Assert.Equal([ConfigApplyStatus.Pending, ConfigApplyStatus.Validating, ConfigApplyStatus.Failed], statuses.Select(s => s.Status));
        Assert.Contains("server_name", statuses[^1].ErrorMessage, StringComparison.Ordinal);
    }

    private static (string Certificate, string Key) SelfSigned(string name)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var builder = new SubjectAlternativeNameBuilder();
        builder.AddDnsName(name);
        request.CertificateExtensions.Add(builder.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        return (certificate.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }
}
