using System.Globalization;
using NxMesh.Nginx.Validation;
using NxMesh.Protocol.V1;

namespace NxMesh.Nginx.Rendering;

/// <summary>
/// Renders a <see cref="ConfigUpdate"/> into a complete nginx configuration for one agent's host and nginx build.
/// Static and pure: same input, same bytes. The input is validated with <see cref="ConfigUpdateValidator"/> first
/// and an invalid update throws <see cref="InvalidConfigUpdateException"/> (nothing is rendered from it). Fields the
/// host or build cannot serve are left out and listed in <see cref="RenderedConfig.Warnings"/>.
/// </summary>
public static class ConfigRenderer
{
    /// <summary>JSON access log, one object per line (fields: see NxMesh.Nginx/README.md).</summary>
    public const string AccessLogPath = "logs/access.json";
    public const string AccessLogFormatName = "nxmesh_json";
    /// <summary>Set per server to the virtual host id ("" on default servers); logged as <c>vhost_id</c>.</summary>
    public const string VirtualHostVariable = "$nxmesh_vhost";
    /// <summary>Prefix-relative directory of certificate and key files.</summary>
    public const string CertificateDirectory = "conf/certs";
    public const string StubStatusPath = "/nginx_status";

    public static readonly string AccessLogFormat = "{" + string.Join(",",
        "\"time\":\"$time_iso8601\"",
        "\"msec\":$msec",
        "\"remote_addr\":\"$remote_addr\"",
        "\"request_method\":\"$request_method\"",
        "\"request_uri\":\"$request_uri\"",
        "\"server_protocol\":\"$server_protocol\"",
        "\"host\":\"$host\"",
        "\"status\":$status",
        "\"body_bytes_sent\":$body_bytes_sent",
        "\"request_length\":$request_length",
        "\"bytes_sent\":$bytes_sent",
        "\"request_time\":$request_time",
        "\"upstream_response_time\":\"$upstream_response_time\"",
        "\"http_user_agent\":\"$http_user_agent\"",
        "\"http_referer\":\"$http_referer\"",
        "\"request_id\":\"$request_id\"",
        $"\"vhost_id\":\"{VirtualHostVariable}\"") + "}";

    /// <summary>The nginx upstream block name of an upstream id (ids are validated to [A-Za-z0-9_-]).</summary>
    public static string UpstreamName(string upstreamId) => "nxmesh_" + upstreamId;

    /// <exception cref="InvalidConfigUpdateException">The update does not pass <see cref="ConfigUpdateValidator"/>.</exception>
    public static RenderedConfig Render(ConfigUpdate update, NginxHostSettings host, NginxCapabilities capabilities)
    {
        ArgumentNullException.ThrowIfNull(update);
        var issues = ConfigUpdateValidator.Validate(update);
        if (issues.Count > 0)
        {
            throw new InvalidConfigUpdateException(issues);
        }
        return new Renderer(update, host, capabilities).Render();
    }

    private sealed class Renderer(ConfigUpdate update, NginxHostSettings host, NginxCapabilities caps)
    {
        private static readonly (string Type, string[] Extensions)[] MimeTypes =
        [
            ("text/html", ["html", "htm"]), ("text/css", ["css"]), ("text/plain", ["txt"]), ("text/xml", ["xml"]),
            ("application/javascript", ["js", "mjs"]), ("application/json", ["json"]), ("application/wasm", ["wasm"]),
            ("application/pdf", ["pdf"]), ("application/zip", ["zip"]), ("image/png", ["png"]), ("image/jpeg", ["jpg", "jpeg"]),
            ("image/gif", ["gif"]), ("image/svg+xml", ["svg"]), ("image/webp", ["webp"]), ("image/x-icon", ["ico"]),
            ("font/woff", ["woff"]), ("font/woff2", ["woff2"]), ("video/mp4", ["mp4"]), ("audio/mpeg", ["mp3"]),
        ];

        private readonly List<string> _warnings = [];
        private readonly SortedDictionary<string, RenderedFile> _files = new(StringComparer.Ordinal);
        private readonly Dictionary<string, Upstream> _upstreams = update.Upstreams.ToDictionary(u => u.Id, StringComparer.Ordinal);
        private readonly IDictionary<string, string> _global = (IDictionary<string, string>?)update.GlobalSettings?.NginxDirectives ?? new Dictionary<string, string>();

        public RenderedConfig Render()
        {
            var servers = SelectVirtualHosts();
            var ports = ListenPorts(servers);
            var config = new NginxConfigBuilder()
                .Comment("Rendered by NxMesh; local edits are replaced.")
                .Comment($"config_id {Sanitize(update.ConfigId)} version {update.Version.ToString(CultureInfo.InvariantCulture)}")
                .Directive("worker_processes", host.WorkerProcesses)
                .Directive("pid", "logs/nginx.pid")
                .Directive("error_log", "logs/error.log", "warn");
            foreach (var (name, value) in ((IDictionary<string, string>?)update.GlobalSettings?.EnvVars ?? new Dictionary<string, string>()).OrderBy(e => e.Key, StringComparer.Ordinal))
            {
                config.Directive("env", $"{name}={value}");
            }
            config.Block("events", e => e.Directive("worker_connections", host.WorkerConnections));
            config.Block("http", http =>
            {
                http.Block("types", types =>
                {
                    foreach (var (type, extensions) in MimeTypes)
                    {
                        types.Directive(type, extensions);
                    }
                });
                DefaultDirective(http, "default_type", "application/octet-stream");
                DefaultDirective(http, "server_tokens", "off");
                var names = servers.SelectMany(s => NginxValidation.SplitServerNames(s.ServerName)).ToArray();
                var longest = names.Select(n => n.Length).DefaultIfEmpty(0).Max();
                DefaultDirective(http, "server_names_hash_bucket_size", PowerOfTwoAtLeast(Math.Max(64, longest + 26)).ToString(CultureInfo.InvariantCulture));
                DefaultDirective(http, "server_names_hash_max_size", PowerOfTwoAtLeast(Math.Max(512, names.Length * 4)).ToString(CultureInfo.InvariantCulture));
                http.Directive("uninitialized_variable_warn", "off")
                    .Directive("log_format", AccessLogFormatName, "escape=json", AccessLogFormat)
                    .Directive("access_log", AccessLogPath, AccessLogFormatName)
                    .Directive("client_body_temp_path", "temp/client_body")
                    .Directive("proxy_temp_path", "temp/proxy")
                    .Directive("fastcgi_temp_path", "temp/fastcgi")
                    .Directive("uwsgi_temp_path", "temp/uwsgi")
                    .Directive("scgi_temp_path", "temp/scgi");
                CustomDirectiveLines(http, _global, skipProxyHeaders: true);
                foreach (var upstream in update.Upstreams.OrderBy(u => u.Id, StringComparer.Ordinal))
                {
                    RenderUpstream(http, upstream);
                }
                foreach (var (port, tls) in ports)
                {
                    RenderDefaultServer(http, port, tls);
                }
                foreach (var vhost in servers)
                {
                    RenderVirtualHost(http, vhost, ports[host.EffectivePort((int)vhost.ListenPort)]);
                }
                if (caps.StubStatus)
                {
                    RenderStubStatus(http);
                }
                else
                {
                    _warnings.Add("stub_status is not available in this nginx build; health reports will lack connection counts");
                }
            });
            return new RenderedConfig(config.ToString(), _files, _warnings);
        }

        /// <summary>The virtual hosts this host can serve, in render order (port, id), with capability warnings.</summary>
        private List<VirtualHost> SelectVirtualHosts()
        {
            var selected = new List<VirtualHost>();
            var tlsByPort = new Dictionary<int, Tls>();
            tlsByPort[host.EffectivePort(80)] = new Tls(false, false);
            foreach (var vhost in update.VirtualHosts.OrderBy(v => v.ListenPort).ThenBy(v => v.Id, StringComparer.Ordinal))
            {
                var port = host.EffectivePort((int)vhost.ListenPort);
                if (vhost.SslEnabled && !caps.Ssl)
                {
                    _warnings.Add($"virtual host {vhost.Id}: ssl is not available in this nginx build; the virtual host is left out");
                    continue;
                }
                if (vhost.Http2Enabled && !caps.Http2)
                {
                    _warnings.Add($"virtual host {vhost.Id}: http2 is not available in this nginx build; served without it");
                }
                if (vhost.Http3Enabled && !caps.Http3)
                {
                    _warnings.Add($"virtual host {vhost.Id}: http3 is not available in this nginx build; served without it");
                }
                if (port == host.StubStatusPort)
                {
                    _warnings.Add($"virtual host {vhost.Id}: port {port} is the agent's stub_status port; the virtual host is left out");
                    continue;
                }
                var tls = new Tls(vhost.SslEnabled, vhost.SslEnabled && vhost.Http2Enabled && caps.Http2);
                if (tlsByPort.TryGetValue(port, out var existing) && existing != tls)
                {
                    _warnings.Add($"virtual host {vhost.Id}: port {vhost.ListenPort} becomes {port} on this host, where another listener has different ssl/http2 settings; the virtual host is left out");
                    continue;
                }
                tlsByPort[port] = tls;
                selected.Add(vhost);
            }
            return selected;
        }

        /// <summary>Every effective port with a listener and its TLS settings: port 80 always, plus each virtual host's.</summary>
        private SortedDictionary<int, Tls> ListenPorts(List<VirtualHost> servers)
        {
            var ports = new SortedDictionary<int, Tls> { [host.EffectivePort(80)] = new Tls(false, false) };
            foreach (var vhost in servers)
            {
                ports[host.EffectivePort((int)vhost.ListenPort)] = new Tls(vhost.SslEnabled, vhost.SslEnabled && vhost.Http2Enabled && caps.Http2);
            }
            return ports;
        }

        private void RenderUpstream(NginxConfigBuilder http, Upstream upstream) =>
            http.Block("upstream", block =>
            {
                switch (upstream.Algorithm)
                {
                    case LoadBalanceAlgorithm.LeastConnections:
                        block.Directive("least_conn");
                        break;
                    case LoadBalanceAlgorithm.IpHash:
                        block.Directive("ip_hash");
                        break;
                }
                foreach (var server in upstream.Servers)
                {
                    var arguments = new List<string> { server.Address };
                    if (server.Weight > 1)
                    {
                        arguments.Add("weight=" + server.Weight.ToString(CultureInfo.InvariantCulture));
                    }
                    if (server.MaxFails > 0)
                    {
                        arguments.Add("max_fails=" + server.MaxFails.ToString(CultureInfo.InvariantCulture));
                    }
                    if (server.FailTimeoutSeconds > 0)
                    {
                        arguments.Add("fail_timeout=" + server.FailTimeoutSeconds.ToString(CultureInfo.InvariantCulture) + "s");
                    }
                    if (server.Backup)
                    {
                        arguments.Add("backup");
                    }
                    if (server.Down)
                    {
                        arguments.Add("down");
                    }
                    block.Directive("server", [.. arguments]);
                }
                if (upstream.KeepaliveConnections > 0)
                {
                    block.Directive("keepalive", (int)upstream.KeepaliveConnections);
                }
            }, UpstreamName(upstream.Id));

        /// <summary>The catch-all server of one port: an unknown Host (or SNI) never reaches a tenant's site.</summary>
        private void RenderDefaultServer(NginxConfigBuilder http, int port, Tls tls) =>
            http.Block("server", server =>
            {
                server.Directive("listen", ListenArguments(port, tls, defaultServer: true))
                    .Directive("server_name", "_")
                    .Directive("set", VirtualHostVariable, "");
                if (tls.Ssl)
                {
                    server.Directive("ssl_reject_handshake", "on");
                }
                if (AcmeChallengeLocations(server, port))
                {
                    // A server-level return would answer before any location is matched.
                    server.Block("location", l => l.Directive("return", 404), "/");
                }
                else
                {
                    server.Directive("return", 404);
                }
            });

        private void RenderVirtualHost(NginxConfigBuilder http, VirtualHost vhost, Tls tls) =>
            http.Block("server", server =>
            {
                var port = host.EffectivePort((int)vhost.ListenPort);
                server.Directive("listen", ListenArguments(port, tls, defaultServer: false));
                if (vhost.Http3Enabled && caps.Http3)
                {
                    server.Directive("listen", Address(port), "quic");
                }
                server.Directive("server_name", [.. vhost.ServerName.Split(' ')])
                    .Directive("set", VirtualHostVariable, vhost.Id);
                if (vhost.SslEnabled)
                {
                    var certificate = update.Certificates[vhost.SslCertificateId];
                    var certificatePath = $"{CertificateDirectory}/{vhost.SslCertificateId}.crt";
                    var keyPath = $"{CertificateDirectory}/{vhost.SslCertificateId}.key";
                    _files[certificatePath] = new RenderedFile(certificate.CertificatePem, Secret: false);
                    _files[keyPath] = new RenderedFile(certificate.PrivateKeyPem, Secret: true);
                    // Relative certificate paths are resolved against the directory of nginx.conf.
                    server.Directive("ssl_certificate", certificatePath["conf/".Length..])
                        .Directive("ssl_certificate_key", keyPath["conf/".Length..]);
                }
                CustomDirectiveLines(server, vhost.CustomDirectives, skipProxyHeaders: true);
                AcmeChallengeLocations(server, port);
                var hasRoot = false;
                foreach (var location in vhost.Locations)
                {
                    RenderLocation(server, vhost, location);
                    hasRoot |= location.Path == "/" || location.Path == "^~ /";
                }
                if (!hasRoot)
                {
                    server.Block("location", l => l.Directive("return", 404), "/");
                }
            });

        private void RenderLocation(NginxConfigBuilder server, VirtualHost vhost, Location location)
        {
            var match = NginxValidation.ParseLocation(location.Path)!;
            string[] arguments = match.Modifier.Length == 0 ? [match.Pattern] : [match.Modifier, match.Pattern];
            server.Block("location", block =>
            {
                foreach (var rule in location.RewriteRules)
                {
                    block.Directive("rewrite", string.IsNullOrEmpty(rule.Flag) ? [rule.Pattern, rule.Replacement] : [rule.Pattern, rule.Replacement, rule.Flag]);
                }
                foreach (var header in location.CustomHeaders)
                {
                    block.Directive("add_header", header.Always ? [header.Name, header.Value, "always"] : [header.Name, header.Value]);
                }
                var answered = location.CustomDirectives.ContainsKey("return");
                if (location.UpstreamId.Length > 0)
                {
                    var upstream = _upstreams[location.UpstreamId];
                    block.Directive("proxy_pass", "http://" + UpstreamName(upstream.Id));
                    ProxyHeaders(block, vhost, location, hostHeader: "$host", keepalive: upstream.KeepaliveConnections > 0);
                }
                else if (location.ProxyPass.Length > 0)
                {
                    block.Directive("proxy_pass", location.ProxyPass);
                    ProxyHeaders(block, vhost, location, hostHeader: "$proxy_host", keepalive: false);
                }
                else if (location.Root.Length > 0)
                {
                    if (host.IsRootAllowed(location.Root))
                    {
                        // Symlinks below the root are not followed: a link to /etc cannot leave the allowed directory.
                        block.Directive("root", location.Root)
                            .Directive("disable_symlinks", "on", "from=$document_root");
                        if (location.Index.Length > 0)
                        {
                            block.Directive("index", location.Index.Split(' '));
                        }
                    }
                    else
                    {
                        _warnings.Add($"virtual host {vhost.Id}, location {location.Path}: root {location.Root} is outside the allowed directories; the location answers 404");
                        if (!answered)
                        {
                            block.Directive("return", 404);
                        }
                    }
                }
                CustomDirectiveLines(block, location.CustomDirectives, skipProxyHeaders: true);
            }, arguments);
        }

        /// <summary>
        /// proxy_set_header at location level replaces every inherited one in nginx, so the defaults and the
        /// global, server and location custom proxy_set_header are merged here (later levels win per header name).
        /// </summary>
        private void ProxyHeaders(NginxConfigBuilder block, VirtualHost vhost, Location location, string hostHeader, bool keepalive)
        {
            var headers = new List<(string Name, string Value)>
            {
                ("Host", hostHeader), ("X-Real-IP", "$remote_addr"), ("X-Forwarded-For", "$proxy_add_x_forwarded_for"), ("X-Forwarded-Proto", "$scheme"),
            };
            if (keepalive)
            {
                headers.Add(("Connection", ""));
                if (!location.CustomDirectives.ContainsKey("proxy_http_version"))
                {
                    block.Directive("proxy_http_version", "1.1");
                }
            }
            foreach (var level in new[] { _global, vhost.CustomDirectives, location.CustomDirectives })
            {
                if (level.TryGetValue("proxy_set_header", out var value))
                {
                    var custom = CustomDirectives.Render("proxy_set_header", value)[0];
                    headers.RemoveAll(h => string.Equals(h.Name, custom[0], StringComparison.OrdinalIgnoreCase));
                    headers.Add((custom[0], custom[1]));
                }
            }
            foreach (var (name, value) in headers)
            {
                block.Directive("proxy_set_header", name, value);
            }
        }

        /// <summary>
        /// Pending HTTP-01 challenges on every server of port 80 (the default server and each virtual host there), so
        /// the ACME server's fetch is answered whatever Host it sends and whether or not a virtual host exists yet.
        /// An exact-match location wins over every prefix and regex location of the virtual host.
        /// </summary>
        private bool AcmeChallengeLocations(NginxConfigBuilder server, int port)
        {
            if (port != host.EffectivePort(80) || update.AcmeChallenges.Count == 0)
            {
                return false;
            }
            foreach (var challenge in update.AcmeChallenges.OrderBy(c => c.Token, StringComparer.Ordinal))
            {
                server.Block("location", l => l.Directive("default_type", "text/plain").Directive("return", "200", challenge.KeyAuthorization),
                    "=", AcmeChallenges.PathPrefix + challenge.Token);
            }
            return true;
        }

        private void RenderStubStatus(NginxConfigBuilder http) =>
            http.Block("server", s => s
                .Directive("listen", $"127.0.0.1:{host.StubStatusPort.ToString(CultureInfo.InvariantCulture)}")
                .Directive("access_log", "off")
                .Block("location", l => l.Directive("stub_status").Directive("allow", "127.0.0.1").Directive("deny", "all"), "=", StubStatusPath)
                .Block("location", l => l.Directive("return", 404), "/"));

        private void DefaultDirective(NginxConfigBuilder http, string name, string value)
        {
            if (!_global.ContainsKey(name))
            {
                http.Directive(name, value);
            }
        }

        private static void CustomDirectiveLines(NginxConfigBuilder block, IDictionary<string, string> directives, bool skipProxyHeaders)
        {
            foreach (var (name, value) in directives.OrderBy(d => d.Key, StringComparer.Ordinal))
            {
                if (skipProxyHeaders && name == "proxy_set_header")
                {
                    continue;
                }
                foreach (var arguments in CustomDirectives.Render(name, value))
                {
                    block.Directive(name, arguments);
                }
            }
        }

        private string[] ListenArguments(int port, Tls tls, bool defaultServer)
        {
            var arguments = new List<string> { Address(port) };
            if (defaultServer)
            {
                arguments.Add("default_server");
            }
            if (tls.Ssl)
            {
                arguments.Add("ssl");
            }
            if (tls.Http2)
            {
                arguments.Add("http2");
            }
            return [.. arguments];
        }

        private string Address(int port)
        {
            var address = host.ListenAddress.Contains(':', StringComparison.Ordinal) && !host.ListenAddress.StartsWith('[')
                ? $"[{host.ListenAddress}]"
                : host.ListenAddress;
            return $"{address}:{port.ToString(CultureInfo.InvariantCulture)}";
        }

        private static int PowerOfTwoAtLeast(int value)
        {
            var result = 1;
            while (result < value)
            {
                result <<= 1;
            }
            return result;
        }

        private static string Sanitize(string value) =>
            new(value.Take(128).Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '?').ToArray());
    }

    private readonly record struct Tls(bool Ssl, bool Http2);
}

/// <summary>The update failed validation; <see cref="Issues"/> say why. Nothing was rendered.</summary>
public sealed class InvalidConfigUpdateException(IReadOnlyList<ValidationIssue> issues)
    : Exception("The config update is invalid: " + string.Join("; ", issues.Take(5).Select(i => $"{i.Field}: {i.Message}")))
{
    public IReadOnlyList<ValidationIssue> Issues { get; } = issues;
}
