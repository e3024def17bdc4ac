using NxMesh.Nginx.Tests.Support;
using NxMesh.Nginx.Validation;
using NxMesh.Protocol.V1;

namespace NxMesh.Nginx.Tests.Rendering;

/// <summary>
/// Generates valid ConfigUpdates from a seed, recording which features each one used so a test can prove that
/// every enum value, flag, location kind and allowlisted directive was exercised.
/// </summary>
public sealed class ConfigGenerator(int seed)
{
    /// <summary>Values nginx accepts for every allowlisted directive, chosen to be compatible with each other across levels.</summary>
    public static readonly IReadOnlyDictionary<string, string[]> SampleValues = new Dictionary<string, string[]>
    {
        ["client_max_body_size"] = ["10m", "0", "512k"],
        ["client_body_buffer_size"] = ["16k"],
        ["client_body_timeout"] = ["30s", "1m"],
        ["client_header_timeout"] = ["15s"],
        ["client_header_buffer_size"] = ["1k"],
        ["large_client_header_buffers"] = ["4 8k"],
        ["keepalive_timeout"] = ["65s", "65s 60s", "0"],
        ["keepalive_requests"] = ["1000"],
        ["send_timeout"] = ["30s"],
        ["reset_timedout_connection"] = ["on"],
        ["sendfile"] = ["on", "off"],
        ["tcp_nopush"] = ["on"],
        ["tcp_nodelay"] = ["off"],
        ["limit_rate"] = ["100k"],
        ["limit_rate_after"] = ["1m"],
        ["underscores_in_headers"] = ["on"],
        ["ignore_invalid_headers"] = ["off"],
        ["merge_slashes"] = ["off"],
        ["chunked_transfer_encoding"] = ["on"],
        ["server_tokens"] = ["on", "off"],
        ["charset"] = ["utf-8"],
        ["default_type"] = ["text/plain", "application/json"],
        ["etag"] = ["off"],
        ["if_modified_since"] = ["before", "exact"],
        ["expires"] = ["1h", "max", "off", "epoch", "modified +24h", "-1", "@15h30m"],
        ["absolute_redirect"] = ["off"],
        ["port_in_redirect"] = ["off"],
        ["server_name_in_redirect"] = ["off"],
        ["log_not_found"] = ["off"],
        ["return"] = ["204", "200 ok", "301 https://$host$request_uri", "404", "200 \"quoted\"; { } #"],
        ["try_files"] = ["$uri $uri/ =404", "$uri /index.html"],
        ["autoindex"] = ["on", "off"],
        ["gzip"] = ["on", "off"],
        ["gzip_comp_level"] = ["5"],
        ["gzip_min_length"] = ["256"],
        ["gzip_types"] = ["text/css application/json", "text/plain"],
        ["gzip_vary"] = ["on"],
        ["gzip_http_version"] = ["1.1"],
        ["gzip_buffers"] = ["16 8k"],
        ["gzip_proxied"] = ["expired no-cache", "any"],
        ["proxy_connect_timeout"] = ["5s"],
        ["proxy_read_timeout"] = ["60s", "1m30s"],
        ["proxy_send_timeout"] = ["60s"],
        ["proxy_buffering"] = ["on", "off"],
        ["proxy_request_buffering"] = ["off"],
        ["proxy_buffer_size"] = ["8k"],
        ["proxy_buffers"] = ["8 16k"],
        ["proxy_busy_buffers_size"] = ["16k"],
        ["proxy_max_temp_file_size"] = ["0", "1024m"],
        ["proxy_intercept_errors"] = ["on"],
        ["proxy_redirect"] = ["off", "http://backend.example/ /"],
        ["proxy_next_upstream"] = ["error timeout http_502", "off"],
        ["proxy_next_upstream_tries"] = ["3"],
        ["proxy_next_upstream_timeout"] = ["10s"],
        ["proxy_ssl_server_name"] = ["on"],
        ["proxy_hide_header"] = ["X-Powered-By"],
        ["proxy_pass_header"] = ["Server"],
        ["proxy_set_header"] = ["X-Request-Id $request_id", "Host $host", "X-Note a; b {c} \"d\" #e"],
        ["proxy_http_version"] = ["1.1", "1.0"],
        ["allow"] = ["10.0.0.0/8 192.168.1.1 ::1", "127.0.0.1"],
        ["deny"] = ["all", "2001:db8::/32"],
        ["set_real_ip_from"] = ["10.0.0.0/8 ::1"],
        ["real_ip_header"] = ["X-Forwarded-For"],
        ["real_ip_recursive"] = ["on"],
        ["ssl_protocols"] = ["TLSv1.2 TLSv1.3", "TLSv1.3"],
        ["ssl_ciphers"] = ["HIGH:!aNULL:!MD5"],
        ["ssl_prefer_server_ciphers"] = ["on"],
        ["ssl_session_timeout"] = ["10m"],
        ["ssl_session_tickets"] = ["off"],
        ["server_names_hash_bucket_size"] = ["512"],
        ["server_names_hash_max_size"] = ["1024"],
        ["types_hash_max_size"] = ["2048"],
    };

    private static readonly (int Port, bool Ssl, bool Http2)[] Ports =
        [(80, false, false), (8080, false, false), (443, true, true), (8443, true, false), (9443, true, true)];

    private static readonly string[] RewriteFlags = ["", "last", "break", "redirect", "permanent"];

    private readonly Random _random = new(seed);
    private int _count;

    /// <summary>Every feature any generated config used ("algorithm:IpHash", "directive:location:gzip", …).</summary>
    public HashSet<string> Features { get; } = [];

    public ConfigUpdate Next()
    {
        var n = _count++;
        var update = new ConfigUpdate { ConfigId = $"generated-{seed}-{n}", Version = n + 1 };
        var upstreamCount = _random.Next(0, 4);
        for (var u = 0; u < upstreamCount; u++)
        {
            update.Upstreams.Add(NextUpstream($"u{n}-{u}", (LoadBalanceAlgorithm)((n + u) % 5)));
        }
        var vhostCount = _random.Next(1, 5);
        for (var v = 0; v < vhostCount; v++)
        {
            update.VirtualHosts.Add(NextVirtualHost(n, v, update));
        }
        if (update.VirtualHosts.Any(v => v.SslEnabled))
        {
            update.Certificates.Add("cert-a", TestCertificates.Proto("cert-a"));
            update.Certificates.Add("cert-b", TestCertificates.Proto("cert-b"));
        }
        if (Chance(0.5))
        {
            update.GlobalSettings = new GlobalSettings();
            AddDirectives(update.GlobalSettings.NginxDirectives, DirectiveContext.Http, "http", _random.Next(1, 6));
            if (Chance(0.5))
            {
                update.GlobalSettings.EnvVars["TZ"] = "UTC";
                update.GlobalSettings.EnvVars["APP_MODE"] = "production mode, v2";
                Features.Add("env_vars");
            }
        }
        return update;
    }

    private Upstream NextUpstream(string id, LoadBalanceAlgorithm algorithm)
    {
        Features.Add("algorithm:" + algorithm);
        var upstream = new Upstream { Id = id, Name = "upstream " + id, Algorithm = algorithm };
        var servers = _random.Next(1, 5);
        for (var s = 0; s < servers; s++)
        {
            var kind = _random.Next(3);
            var address = kind switch
            {
                0 => $"127.0.0.1:{_random.Next(1, 65536)}",
                1 => $"[::1]:{_random.Next(1, 65536)}",
                _ => $"localhost:{_random.Next(1, 65536)}",
            };
            var server = new UpstreamServer
            {
                Address = address,
                Weight = (uint)(Chance(0.5) ? _random.Next(0, 1001) : 0),
                Backup = s > 0 && algorithm != LoadBalanceAlgorithm.IpHash && Chance(0.3),
                Down = s > 0 && Chance(0.2),
                MaxFails = (uint)(Chance(0.5) ? _random.Next(0, 11) : 0),
                FailTimeoutSeconds = (uint)(Chance(0.5) ? _random.Next(0, 121) : 0),
            };
            Features.Add("server_address:" + kind);
            Flag(server.Backup, "backup");
            Flag(server.Down, "down");
            Flag(server.Weight > 1, "weight");
            Flag(server.MaxFails > 0, "max_fails");
            Flag(server.FailTimeoutSeconds > 0, "fail_timeout");
            upstream.Servers.Add(server);
        }
        upstream.KeepaliveConnections = (uint)(Chance(0.5) ? _random.Next(1, 64) : 0);
        Flag(upstream.KeepaliveConnections > 0, "keepalive");
        if (Chance(0.5))
        {
            var interval = (uint)_random.Next(1, 60);
            upstream.HealthCheck = new HealthCheckConfig
            {
                Enabled = Chance(0.8),
                Path = "/health",
                IntervalSeconds = interval,
                TimeoutSeconds = (uint)_random.Next(1, (int)interval + 1),
                HealthyThreshold = (uint)_random.Next(0, 5),
                UnhealthyThreshold = (uint)_random.Next(0, 5),
            };
            Features.Add("health_check");
        }
        return upstream;
    }

    private VirtualHost NextVirtualHost(int n, int v, ConfigUpdate update)
    {
        var (port, ssl, http2) = Ports[_random.Next(Ports.Length)];
        var vhost = new VirtualHost
        {
            Id = $"v{n}-{v}",
            Name = $"site {n}/{v}; {{\"quoted\"}} # fine: names are never rendered",
            ServerName = NextServerName(n, v),
            ListenPort = (uint)port,
            SslEnabled = ssl,
            SslCertificateId = ssl ? (Chance(0.5) ? "cert-a" : "cert-b") : "",
            Http2Enabled = http2,
            Http3Enabled = Chance(0.1),
        };
        Features.Add($"port:{port}");
        Flag(ssl, "ssl");
        Flag(http2, "http2");
        Flag(vhost.Http3Enabled, "http3");
        if (Chance(0.5))
        {
            AddDirectives(vhost.CustomDirectives, DirectiveContext.Server, "server", _random.Next(1, 4));
        }
        var locations = _random.Next(0, 5);
        var usedPaths = new HashSet<string>();
        for (var l = 0; l < locations; l++)
        {
            var location = NextLocation(l, update);
            var key = NginxValidation.ParseLocation(location.Path)!.Pattern;
            if (usedPaths.Add(key))
            {
                vhost.Locations.Add(location);
            }
        }
        return vhost;
    }

    private string NextServerName(int n, int v)
    {
        var kind = _random.Next(6);
        Features.Add("server_name:" + kind);
        return kind switch
        {
            0 => $"h{n}-{v}.example.test",
            1 => $"*.w{n}-{v}.example.test",
            2 => $"t{n}-{v}.example.*",
            3 => $"10.{n % 256}.{v}.1",
            4 => $"a{n}-{v}.example.test B{n}-{v}.Example.Test *.c{n}-{v}.example.test",
            _ => $"{new string('l', 60)}.{new string('m', 60)}.{new string('n', 60)}.x{n}-{v}.test",
        };
    }

    private Location NextLocation(int l, ConfigUpdate update)
    {
        var pathKind = _random.Next(5);
        Features.Add("path:" + pathKind);
        var path = pathKind switch
        {
            0 => l == 0 ? "/" : $"/p{l}/a;b{{c}}'d#e\\f\"g",
            1 => $"= /exact{l}",
            2 => $"^~ /static{l}/",
            3 => $"~ ^/r{l}/(\\d+)/(?<name>[a-z]+)$",
            _ => $"~* \\.(png|jpe?g|gif){l}$",
        };
        var location = new Location { Path = path };
        var isRegex = pathKind >= 3;
        var targetKind = _random.Next(5);
        if (targetKind == 0 && update.Upstreams.Count == 0)
        {
            targetKind = 1;
        }
        Features.Add("target:" + targetKind);
        switch (targetKind)
        {
            case 0:
                location.UpstreamId = update.Upstreams[_random.Next(update.Upstreams.Count)].Id;
                break;
            case 1:
                location.ProxyPass = _random.Next(4) switch
                {
                    0 => "http://127.0.0.1:8081",
                    1 => isRegex ? "https://[::1]:8443" : "https://[::1]:8443/base/",
                    2 => "http://127.0.0.1:8082$request_uri",
                    _ => isRegex ? "http://localhost" : "http://localhost/x;y{z}'q\"r",
                };
                break;
            case 2:
                location.Root = Chance(0.5) ? "/srv/www" : "/srv/www/site-" + l;
                location.Index = Chance(0.5) ? "index.html index.htm" : "";
                break;
            case 3:
                location.Root = "/etc/outside";
                break;
            default:
                location.CustomDirectives["return"] = "200 only-return";
                break;
        }
        var headers = _random.Next(0, 4);
        for (var h = 0; h < headers; h++)
        {
            var header = new Header
            {
                Name = h == 0 ? "Content-Security-Policy" : $"X-H{h}",
                Value = _random.Next(4) switch
                {
                    0 => "default-src 'self'; img-src * data:",
                    1 => "$scheme://${host}:$server_port",
                    2 => "a\"; return 200 \"pwned {#}\\",
                    _ => isRegex ? "capture $1" : "plain",
                },
                Always = Chance(0.5),
            };
            Flag(header.Always, "header_always");
            Features.Add("header");
            location.CustomHeaders.Add(header);
        }
        var rewrites = _random.Next(0, 3);
        for (var r = 0; r < rewrites; r++)
        {
            var flag = RewriteFlags[_random.Next(RewriteFlags.Length)];
            Features.Add("rewrite_flag:" + flag);
            location.RewriteRules.Add(new RewriteRule
            {
                Pattern = r == 0 ? "^/old/(.*)$" : "^/x{2,3};\"'#(?i)Y$",
                Replacement = flag is "redirect" or "permanent" ? "https://$host/new/$1?src=$arg_src" : "/new/$1",
                Flag = flag,
            });
        }
        if (Chance(0.6))
        {
            AddDirectives(location.CustomDirectives, DirectiveContext.Location, "location", _random.Next(1, 4));
        }
        return location;
    }

    private void AddDirectives(IDictionary<string, string> target, DirectiveContext context, string contextName, int count)
    {
        var names = CustomDirectives.Allowlist.Values.Where(r => (r.Contexts & context) != 0).Select(r => r.Name).Order(StringComparer.Ordinal).ToArray();
        for (var i = 0; i < count; i++)
        {
            var name = names[_random.Next(names.Length)];
            if (target.ContainsKey(name))
            {
                continue;
            }
            var samples = SampleValues[name];
            target[name] = samples[_random.Next(samples.Length)];
            Features.Add($"directive:{contextName}:{name}");
        }
    }

    private bool Chance(double probability) => _random.NextDouble() < probability;

    private void Flag(bool on, string name) => Features.Add(name + ":" + (on ? "on" : "off"));
}
