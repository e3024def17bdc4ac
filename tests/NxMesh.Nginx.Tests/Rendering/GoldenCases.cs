using NxMesh.Nginx.Rendering;
using NxMesh.Nginx.Tests.Support;
using NxMesh.Protocol.V1;

namespace NxMesh.Nginx.Tests.Rendering;

/// <summary>Where a case runs: upstream addresses and the static root differ between the golden file and a live run.</summary>
public sealed record CaseEnvironment(IReadOnlyList<string> Upstreams, string Root, NginxHostSettings Host)
{
    /// <summary>The fixed environment of the golden files.</summary>
    public static CaseEnvironment Golden { get; } = new(
        ["127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"],
        "/srv/www",
        new NginxHostSettings { ListenAddress = "127.0.0.1", StubStatusPort = 8099, AllowedRootDirectories = ["/srv/www"] });
}

/// <summary>Representative ConfigUpdates; each has a golden file (Golden/&lt;name&gt;.conf) and a behaviour test on real nginx.</summary>
public static class GoldenCases
{
    public const string StaticHost = "static.example.test";
    public const string AppHost = "app.example.test";
    public const string SecureHost = "secure.example.test";

    public static readonly IReadOnlyDictionary<string, Func<CaseEnvironment, ConfigUpdate>> All = new Dictionary<string, Func<CaseEnvironment, ConfigUpdate>>
    {
        ["static-headers"] = StaticHeaders,
        ["backup"] = Backup,
        ["weighted"] = Weighted,
        ["rewrite"] = Rewrite,
        ["tls-http2"] = TlsHttp2,
    };

    public static RenderedConfig Render(string name, CaseEnvironment environment) =>
        ConfigRenderer.Render(All[name](environment), environment.Host, NginxCapabilities.Standard);

    /// <summary>Static files with security headers: `always` ones also on errors, the other only on 2xx/3xx.</summary>
    public static ConfigUpdate StaticHeaders(CaseEnvironment env)
    {
        var update = new ConfigUpdate { ConfigId = "golden-static-headers", Version = 1 };
        update.VirtualHosts.Add(new VirtualHost
        {
            Id = "vh-static",
            Name = "Static site",
            ServerName = StaticHost,
            ListenPort = 80,
            Locations =
            {
                new Location
                {
                    Path = "/",
                    Root = env.Root,
                    Index = "index.html",
                    CustomHeaders =
                    {
                        new Header { Name = "Strict-Transport-Security", Value = "max-age=31536000; includeSubDomains", Always = true },
                        new Header { Name = "X-Always", Value = "on-every-status", Always = true },
                        new Header { Name = "X-Success-Only", Value = "2xx-and-3xx" },
                    },
                    CustomDirectives = { ["expires"] = "1h" },
                },
            },
        });
        update.GlobalSettings = new GlobalSettings { NginxDirectives = { ["gzip"] = "on", ["gzip_types"] = "text/plain application/json" } };
        return update;
    }

    /// <summary>Two primaries and a backup: the backup only answers when both primaries are down.</summary>
    public static ConfigUpdate Backup(CaseEnvironment env)
    {
        var update = new ConfigUpdate { ConfigId = "golden-backup", Version = 1 };
        update.Upstreams.Add(new Upstream
        {
            Id = "up-pool",
            Name = "pool",
            Algorithm = LoadBalanceAlgorithm.RoundRobin,
            Servers =
            {
                new UpstreamServer { Address = env.Upstreams[0], MaxFails = 1, FailTimeoutSeconds = 10 },
                new UpstreamServer { Address = env.Upstreams[1], MaxFails = 1, FailTimeoutSeconds = 10 },
                new UpstreamServer { Address = env.Upstreams[2], Backup = true },
            },
            HealthCheck = new HealthCheckConfig { Enabled = true, Path = "/health", IntervalSeconds = 10, TimeoutSeconds = 5 },
        });
        update.VirtualHosts.Add(AppVirtualHost("vh-backup", new Location { Path = "/", UpstreamId = "up-pool" }));
        return update;
    }

    /// <summary>Weights 3:1 with keepalive connections to the upstream.</summary>
    public static ConfigUpdate Weighted(CaseEnvironment env)
    {
        var update = new ConfigUpdate { ConfigId = "golden-weighted", Version = 1 };
        update.Upstreams.Add(new Upstream
        {
            Id = "up-weighted",
            Name = "weighted",
            Algorithm = LoadBalanceAlgorithm.WeightedRoundRobin,
            Servers =
            {
                new UpstreamServer { Address = env.Upstreams[0], Weight = 3 },
                new UpstreamServer { Address = env.Upstreams[1], Weight = 1 },
            },
            KeepaliveConnections = 16,
        });
        update.VirtualHosts.Add(AppVirtualHost("vh-weighted", new Location { Path = "/", UpstreamId = "up-weighted" }));
        return update;
    }

    /// <summary>An internal rewrite before proxying, and a permanent redirect built from variables and a capture.</summary>
    public static ConfigUpdate Rewrite(CaseEnvironment env)
    {
        var update = new ConfigUpdate { ConfigId = "golden-rewrite", Version = 1 };
        update.Upstreams.Add(new Upstream
        {
            Id = "up-app",
            Name = "app",
            Algorithm = LoadBalanceAlgorithm.LeastConnections,
            Servers = { new UpstreamServer { Address = env.Upstreams[0] } },
        });
        update.VirtualHosts.Add(AppVirtualHost("vh-rewrite",
            new Location
            {
                Path = "/",
                UpstreamId = "up-app",
                RewriteRules = { new RewriteRule { Pattern = "^/old/(.*)$", Replacement = "/new/$1", Flag = "last" } },
            },
            new Location
            {
                Path = "^~ /legacy/",
                UpstreamId = "up-app",
                RewriteRules = { new RewriteRule { Pattern = "^/legacy/(.*)$", Replacement = "https://$host/modern/$1", Flag = "permanent" } },
            }));
        return update;
    }

    /// <summary>TLS with http2 on 443 (SNI-selected certificate, handshake refused for unknown names) proxying to a URL.</summary>
    public static ConfigUpdate TlsHttp2(CaseEnvironment env)
    {
        var update = new ConfigUpdate { ConfigId = "golden-tls-http2", Version = 1 };
        update.Certificates.Add("cert-secure", TestCertificates.Proto("cert-secure"));
        update.VirtualHosts.Add(new VirtualHost
        {
            Id = "vh-secure",
            Name = "Secure",
            ServerName = SecureHost,
            ListenPort = 443,
            SslEnabled = true,
            SslCertificateId = "cert-secure",
            Http2Enabled = true,
            Locations =
            {
                new Location
                {
                    Path = "/",
                    ProxyPass = $"http://{env.Upstreams[0]}",
                    CustomDirectives = { ["proxy_set_header"] = "X-Tenant acme; corp", ["proxy_read_timeout"] = "15s" },
                },
            },
            CustomDirectives = { ["ssl_protocols"] = "TLSv1.2 TLSv1.3" },
        });
        return update;
    }

    private static VirtualHost AppVirtualHost(string id, params Location[] locations)
    {
        var vhost = new VirtualHost { Id = id, Name = id, ServerName = AppHost, ListenPort = 80 };
        vhost.Locations.Add(locations);
        return vhost;
    }
}
