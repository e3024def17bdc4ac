using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using NxMesh.AppHost.Local;
using NxMesh.Testing;

namespace NxMesh.EndToEnd.Tests;

/// <summary>
/// Debian's Pebble (ACME server) and pebble-challtestsrv (its DNS) on random loopback ports, for the fleet's
/// certificate tests. Ports and Pebble's TLS certificate (signed by a CA made here, which the Worker trusts through
/// <c>Certificates:AcmeRootCertificatePath</c>) are fixed when the fixture is built, so the AppHost can be given the
/// directory URL; the processes start on first use. Test domains resolve to replica 1's address by default; Pebble
/// validates HTTP-01 on that address's port 80 (+ the fleet's port offset), i.e. replica 1's nginx.
/// PEBBLE_VA_NOSLEEP=1, no nonce rejection, no authorization reuse; never PEBBLE_VA_ALWAYS_VALID.
/// <see cref="BlockedDomain"/> is on Pebble's <c>domainBlocklist</c>: orders for it are refused (rejectedIdentifier).
/// </summary>
public sealed class AcmeTestServer : IAsyncDisposable
{
    /// <summary>Pebble refuses new orders naming this domain by policy, before any challenge.</summary>
    public const string BlockedDomain = "refused-by-policy.nxmesh.test";
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "nxmesh-pebble-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly int _acmePort = LocalDataDirectory.FreeTcpPort();
    private readonly int _managementPort = LocalDataDirectory.FreeTcpPort();
    private readonly int _dnsPort = LocalDataDirectory.FreeTcpPort();
    private readonly int _dnsManagementPort = LocalDataDirectory.FreeTcpPort();
    private readonly string _defaultAddress;
    private readonly int _httpPort;
    private readonly SemaphoreSlim _startLock = new(1, 1);
    private ServerProcess? _dns;
    private ServerProcess? _pebble;

    public AcmeTestServer(string defaultAddress, int httpPort)
    {
        _defaultAddress = defaultAddress;
        _httpPort = httpPort;
        Directory.CreateDirectory(_directory);
        WriteTlsFiles();
    }

    public Uri DirectoryUrl => new($"https://127.0.0.1:{_acmePort}/dir");
    public string RootCertificatePath => Path.Combine(_directory, "ca.pem");

    /// <summary>AppHost arguments that point the Worker at this server (fast timers for tests).</summary>
    public IEnumerable<string> AppHostArguments =>
    [
        $"--NxMesh:Certificates:AcmeDirectoryUrl={DirectoryUrl}",
        $"--NxMesh:Certificates:AcmeRootCertificatePath={RootCertificatePath}",
        "--NxMesh:Certificates:CheckIntervalSeconds=2",
        "--NxMesh:Certificates:PollIntervalSeconds=0.5",
        "--NxMesh:Certificates:ChallengePublishTimeoutSeconds=45",
        "--NxMesh:Certificates:ValidationTimeoutSeconds=45",
        "--NxMesh:Certificates:RetryBaseSeconds=20",
    ];

    public async Task StartAsync()
    {
        await _startLock.WaitAsync();
        try
        {
            if (_pebble is not null)
            {
                return;
            }
            _dns = ServerProcess.Start("/usr/bin/pebble-challtestsrv",
                "-defaultIPv4", _defaultAddress, "-defaultIPv6", "",
                "-dns01", $"127.0.0.1:{_dnsPort}", "-http01", "", "-https01", "", "-tlsalpn01", "",
                "-management", $"127.0.0.1:{_dnsManagementPort}");
            var config = new JsonObject
            {
                ["pebble"] = new JsonObject
                {
                    ["listenAddress"] = $"127.0.0.1:{_acmePort}",
                    ["managementListenAddress"] = $"127.0.0.1:{_managementPort}",
                    ["certificate"] = Path.Combine(_directory, "cert.pem"),
                    ["privateKey"] = Path.Combine(_directory, "key.pem"),
                    ["httpPort"] = _httpPort,
                    ["tlsPort"] = LocalDataDirectory.FreeTcpPort(),
                    ["ocspResponderURL"] = "",
                    ["externalAccountBindingRequired"] = false,
                    ["domainBlocklist"] = new JsonArray(BlockedDomain),
                },
            };
            var configPath = Path.Combine(_directory, "pebble.json");
            await File.WriteAllTextAsync(configPath, config.ToJsonString());
            // env(1) execs pebble, so the PID stopped later is pebble's own.
            _pebble = ServerProcess.Start("/usr/bin/env", "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0",
                "/usr/bin/pebble", "-config", configPath, "-dnsserver", $"127.0.0.1:{_dnsPort}");
            using var http = TrustingClient();
            await Wait.UntilAsync(async () =>
            {
                if (_pebble.HasExited || _dns.HasExited)
                {
                    throw new InvalidOperationException("pebble exited: " + _pebble.Output + _dns.Output);
                }
                using var directory = await http.GetAsync(DirectoryUrl);
                using var dns = await http.PostAsJsonAsync($"http://127.0.0.1:{_dnsManagementPort}/clear-a", new { host = "probe.test." });
                return directory.IsSuccessStatusCode && dns.IsSuccessStatusCode;
            }, TimeSpan.FromSeconds(30), "pebble and pebble-challtestsrv answering");
        }
        finally
        {
            _startLock.Release();
        }
    }

    /// <summary>Makes <paramref name="host"/> resolve to <paramref name="address"/> (instead of replica 1) for Pebble.</summary>
    public async Task SetAddressAsync(string host, string address)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var response = await http.PostAsJsonAsync($"http://127.0.0.1:{_dnsManagementPort}/add-a", new { host = host + ".", addresses = new[] { address } });
        response.EnsureSuccessStatusCode();
    }

    public async Task ClearAddressAsync(string host)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var response = await http.PostAsJsonAsync($"http://127.0.0.1:{_dnsManagementPort}/clear-a", new { host = host + "." });
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Pebble's issuing roots (generated at its start), from the management interface.</summary>
    public async Task<X509Certificate2Collection> IssuingRootsAsync()
    {
        using var http = TrustingClient();
        var roots = new X509Certificate2Collection();
        roots.ImportFromPem(await http.GetStringAsync(new Uri($"https://127.0.0.1:{_managementPort}/roots/0")));
        return roots;
    }

    public async ValueTask DisposeAsync()
    {
        if (_pebble is not null)
        {
            await _pebble.DisposeAsync();
        }
        if (_dns is not null)
        {
            await _dns.DisposeAsync();
        }
        _startLock.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Pebble's own HTTPS, verified against the CA made here (never switched off).</summary>
    private HttpClient TrustingClient()
    {
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.ImportFromPemFile(RootCertificatePath);
        return new HttpClient(new SocketsHttpHandler { SslOptions = { CertificateChainPolicy = policy } }) { Timeout = TimeSpan.FromSeconds(10) };
    }

    /// <summary>A CA and a certificate for 127.0.0.1/localhost signed by it: Pebble's TLS listener.</summary>
    private void WriteTlsFiles()
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=NxMesh test ACME CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        using var ca = caRequest.CreateSelfSigned(now.AddHours(-1), now.AddDays(7));

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        var serial = BitConverter.GetBytes(DateTime.UtcNow.Ticks);
        using var leaf = request.Create(ca, now.AddHours(-1), now.AddDays(6), serial);

        File.WriteAllText(Path.Combine(_directory, "ca.pem"), ca.ExportCertificatePem());
        File.WriteAllText(Path.Combine(_directory, "cert.pem"), leaf.ExportCertificatePem());
        File.WriteAllText(Path.Combine(_directory, "key.pem"), key.ExportPkcs8PrivateKeyPem());
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"pebble {DirectoryUrl}");
}
