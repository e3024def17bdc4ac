namespace NxMesh.Nginx;

/// <summary>
/// The config an agent's nginx serves before it has any workspace config: a default server on port 80 answering
/// 404 for every Host, and stub_status on a loopback-only listener. Paths are relative to the nginx prefix.
/// </summary>
public static class BaseConfigRenderer
{
    public const string StubStatusPath = "/nginx_status";

    public static string Render(NginxHostSettings settings)
    {
        var config = new NginxConfigBuilder()
            .Comment("Rendered by the NxMesh agent; local edits are replaced.")
            .Directive("worker_processes", settings.WorkerProcesses)
            .Directive("pid", "logs/nginx.pid")
            .Directive("error_log", "logs/error.log", "warn")
            .Block("events", e => e.Directive("worker_connections", 1024))
            .Block("http", http =>
            {
                http.Directive("default_type", "application/octet-stream")
                    .Directive("server_tokens", "off")
                    .Directive("access_log", "off")
                    .Directive("client_body_temp_path", "temp/client_body")
                    .Directive("proxy_temp_path", "temp/proxy")
                    .Directive("fastcgi_temp_path", "temp/fastcgi")
                    .Directive("uwsgi_temp_path", "temp/uwsgi")
                    .Directive("scgi_temp_path", "temp/scgi");
                AppendDefaultServer(http, settings, 80);
                http.Block("server", s => s
                    .Directive("listen", $"127.0.0.1:{settings.StubStatusPort}")
                    .Block("location", l => l.Directive("stub_status").Directive("allow", "127.0.0.1").Directive("deny", "all"), "=", StubStatusPath)
                    .Block("location", l => l.Directive("return", 404), "/"));
            });
        return config.ToString();
    }

    /// <summary>The catch-all server of one port: an unknown Host never reaches a tenant's site.</summary>
    public static void AppendDefaultServer(NginxConfigBuilder http, NginxHostSettings settings, int port) =>
        http.Block("server", s => s
            .Directive("listen", $"{settings.ListenAddress}:{settings.EffectivePort(port)}", "default_server")
            .Directive("server_name", "_")
            .Directive("return", 404));
}
