using NxMesh.Protocol.V1;

namespace NxMesh.Nginx.Tests.Support;

/// <summary>Small valid ConfigUpdates that tests change one field at a time.</summary>
public static class SampleConfigs
{
    public static ConfigUpdate Valid()
    {
        var update = new ConfigUpdate { ConfigId = "abc", Version = 1 };
        update.Upstreams.Add(new Upstream
        {
            Id = "up1",
            Name = "api-backend",
            Algorithm = LoadBalanceAlgorithm.RoundRobin,
            Servers =
            {
                new UpstreamServer { Address = "127.0.0.1:9001", Weight = 1, MaxFails = 3, FailTimeoutSeconds = 30 },
                new UpstreamServer { Address = "127.0.0.1:9002", Weight = 1, Backup = true },
            },
            HealthCheck = new HealthCheckConfig { Enabled = true, Path = "/health", IntervalSeconds = 10, TimeoutSeconds = 5 },
            KeepaliveConnections = 8,
        });
        update.Certificates.Add("cert1", TestCertificates.Proto("cert1"));
        update.VirtualHosts.Add(new VirtualHost
        {
            Id = "vh1",
            Name = "Main",
            ServerName = "example.test www.example.test",
            ListenPort = 8080,
            Locations =
            {
                new Location
                {
                    Path = "/api",
                    UpstreamId = "up1",
                    CustomHeaders = { new Header { Name = "X-Frame-Options", Value = "DENY", Always = true } },
                    RewriteRules = { new RewriteRule { Pattern = "^/api/old/(.*)$", Replacement = "/api/new/$1", Flag = "last" } },
                    CustomDirectives = { ["proxy_read_timeout"] = "30s" },
                },
                new Location { Path = "/health", ProxyPass = "http://127.0.0.1:9003/health" },
            },
            CustomDirectives = { ["client_max_body_size"] = "10m" },
        });
        update.VirtualHosts.Add(new VirtualHost
        {
            Id = "vh2",
            Name = "Secure",
            ServerName = "secure.example.test",
            ListenPort = 8443,
            SslEnabled = true,
            SslCertificateId = "cert1",
            Http2Enabled = true,
            Locations = { new Location { Path = "/", Root = "/srv/www", Index = "index.html" } },
        });
        update.GlobalSettings = new GlobalSettings { NginxDirectives = { ["gzip"] = "on" }, EnvVars = { ["TZ"] = "UTC" } };
        return update;
    }
}
