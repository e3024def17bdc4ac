using System.Globalization;
using System.Text;
using NxMesh.Agent.Apply;
using NxMesh.Nginx.Rendering;
using NxMesh.Protocol.V1;

namespace NxMesh.Agent.Tests;

/// <summary>
/// A hand-written stand-in for the shared renderer (built elsewhere): each virtual host becomes one server on
/// 127.0.0.1:listen_port proxying to its first location's proxy_pass; custom directives are pasted verbatim (so a
/// test can hand nginx something it rejects); certificates become conf/certs/{id}.pem and .key (secret). Like the real
/// renderer it keeps the default server (404) on the agent's port 80 (+ offset) and stub_status on loopback.
/// </summary>
internal sealed class TestRenderer(int stubPort, int basePort) : IConfigRenderer
{
    public int Renders { get; private set; }

    public RenderedConfig Render(ConfigUpdate update)
    {
        Renders++;
        var files = new Dictionary<string, RenderedFile>();
        foreach (var (id, certificate) in update.Certificates)
        {
            files[$"conf/certs/{id}.pem"] = new RenderedFile(certificate.CertificatePem, Secret: false);
            files[$"conf/certs/{id}.key"] = new RenderedFile(certificate.PrivateKeyPem, Secret: true);
        }
        var servers = new StringBuilder();
        foreach (var host in update.VirtualHosts)
        {
            var listen = $"127.0.0.1:{host.ListenPort.ToString(CultureInfo.InvariantCulture)}" + (host.SslEnabled ? " ssl" : "");
            servers.Append(CultureInfo.InvariantCulture, $"    server {{\n        listen {listen};\n        server_name {(host.ServerName.Length > 0 ? host.ServerName : "_")};\n");
            if (host.SslEnabled)
            {
                servers.Append(CultureInfo.InvariantCulture, $"        ssl_certificate certs/{host.SslCertificateId}.pem;\n        ssl_certificate_key certs/{host.SslCertificateId}.key;\n");
            }
            foreach (var (name, value) in host.CustomDirectives.OrderBy(d => d.Key, StringComparer.Ordinal))
            {
                servers.Append(CultureInfo.InvariantCulture, $"        {name} {value};\n");
            }
            foreach (var location in host.Locations)
            {
                var target = location.ProxyPass.Length > 0 ? $"proxy_pass {location.ProxyPass};" : "return 200 \"static\";";
                servers.Append(CultureInfo.InvariantCulture, $"        location {location.Path} {{ {target} }}\n");
            }
            servers.Append("    }\n");
        }
        servers.Append(CultureInfo.InvariantCulture, $"    server {{ listen 127.0.0.1:{basePort} default_server; return 404; }}\n");
        return new RenderedConfig(MainConfig(stubPort, servers.ToString()), files, []);
    }

    public static string MainConfig(int stubPort, string servers) => $$"""
        worker_processes 1;
        pid logs/nginx.pid;
        error_log logs/error.log warn;
        events { worker_connections 256; }
        http {
            access_log off;
            client_body_temp_path temp/client_body;
            proxy_temp_path temp/proxy;
            fastcgi_temp_path temp/fastcgi;
            uwsgi_temp_path temp/uwsgi;
            scgi_temp_path temp/scgi;
            server {
                listen 127.0.0.1:{{stubPort}};
                location = /nginx_status { stub_status; }
            }
        {{servers}}}

        """;

    /// <summary>An update with one proxying virtual host per (port, upstream address).</summary>
    public static ConfigUpdate Update(long version, params (int Port, string Upstream)[] sites)
    {
        var update = new ConfigUpdate { Version = version };
        foreach (var (port, upstream) in sites)
        {
            update.VirtualHosts.Add(new VirtualHost
            {
                Id = $"vh-{port}",
                Name = $"site-{port}",
                ListenPort = (uint)port,
                Locations = { new Location { Path = "/", ProxyPass = "http://" + upstream } },
            });
        }
        update.ConfigId = Checksum(update);
        return update;
    }

    /// <summary>Lowercase hex SHA-256 of the update without its id: stands in for the master's checksum.</summary>
    public static string Checksum(ConfigUpdate update)
    {
        var copy = update.Clone();
        copy.ConfigId = "";
        copy.Version = 0;
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Google.Protobuf.MessageExtensions.ToByteArray(copy)));
    }
}
