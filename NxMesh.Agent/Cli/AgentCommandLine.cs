using System.Collections;
using System.Globalization;
using System.Text;

namespace NxMesh.Agent.Cli;

/// <summary>
/// The agent's flags and NXMESH_* variables, mapped onto the "Agent" configuration section. Precedence: flags, then
/// Agent__*/NXMESH_Agent__* variables, then NXMESH_* variables, then appsettings.json.
/// </summary>
public static class AgentCommandLine
{
    private enum Kind { Value, Map, List }

    private sealed record Option(string Key, string Flag, string Env, string Help, string Default, Kind Kind = Kind.Value);

    private static readonly Option[] Options =
    [
        new("MasterUrl", "--master-url", "NXMESH_MASTER_URL", "AgentHub gRPC address (http:// for h2c, https:// for TLS). Without it the agent runs alone on its last known good config.", "(none)"),
        new("RegistrationToken", "--registration-token", "NXMESH_REGISTRATION_TOKEN", "Enrollment token; used once, until a credential is stored in the state folder.", "(none)"),
        new("MasterCaFile", "--master-ca", "NXMESH_MASTER_CA", "PEM CA bundle trusted for the master's TLS certificate (https master URLs).", "system trust store"),
        new("MasterClientCertificateFile", "--master-client-cert", "NXMESH_MASTER_CLIENT_CERT", "PEM client certificate for a master that asks for mutual TLS.", "(none)"),
        new("MasterClientKeyFile", "--master-client-key", "NXMESH_MASTER_CLIENT_KEY", "PEM private key of the client certificate.", "(none)"),
        new("StateDirectory", "--state-dir", "NXMESH_STATE_DIR", "State folder: credential, last known good config, default nginx prefix.", "/var/lib/nxmesh-agent"),
        new("NginxBinary", "--nginx-binary", "NXMESH_NGINX_BINARY", "The nginx executable.", "nginx"),
        new("NginxPrefix", "--nginx-prefix", "NXMESH_NGINX_PREFIX", "nginx prefix (-p): logs/, temp/ and the config directory live here.", "{state-dir}/nginx"),
        new("NginxConfigPath", "--nginx-config", "NXMESH_NGINX_CONFIG", "Main config (-c). The agent owns its directory and swaps it atomically (a symlink to a release).", "{prefix}/conf/nginx.conf"),
        new("NginxPidFile", "--nginx-pid-file", "NXMESH_NGINX_PID_FILE", "Pid file of the nginx master (external control).", "{prefix}/logs/nginx.pid"),
        new("ListenAddress", "--listen-address", "NXMESH_LISTEN_ADDRESS", "Address every public nginx listener binds.", "0.0.0.0"),
        new("PortOffset", "--port-offset", "NXMESH_PORT_OFFSET", "Added to ports below 1024 when nginx cannot bind privileged ports.", "0"),
        new("StubStatusPort", "--stub-status-port", "NXMESH_STUB_STATUS_PORT", "Loopback port of nginx's stub_status listener (health).", "8099"),
        new("AllowedRoots", "--allowed-root", "NXMESH_ALLOWED_ROOTS", "Directory a location's root may point into; repeat the flag, or ':'-separate in the variable.", "(none)", Kind.List),
        new("Labels", "--label", "NXMESH_LABELS", "Label key=value sent at registration; repeat the flag, or ','-separate in the variable.", "(none)", Kind.Map),
        new("DeploymentMode", "--deployment-mode", "NXMESH_DEPLOYMENT_MODE", "standalone | docker_sidecar | kubernetes_sidecar.", "standalone"),
        new("ControlMode", "--control-mode", "NXMESH_CONTROL_MODE", "supervise (nginx is the agent's child) | external (signal a master found through the pid file) | auto (kubernetes_sidecar: external, else supervise).", "auto"),
        new("MaxRestartBackoffSeconds", "--max-restart-backoff", "NXMESH_MAX_RESTART_BACKOFF", "Cap of the restart backoff (s) after a supervised nginx dies.", "30"),
        new("StopTimeoutSeconds", "--stop-timeout", "NXMESH_STOP_TIMEOUT", "Graceful stop timeout (s) before nginx is killed.", "10"),
        new("ReloadTimeoutSeconds", "--reload-timeout", "NXMESH_RELOAD_TIMEOUT", "Bound (s) on waiting for a new worker generation after a reload.", "15"),
        new("MinReloadIntervalMilliseconds", "--min-reload-interval-ms", "NXMESH_MIN_RELOAD_INTERVAL_MS", "Minimum time (ms) between two reloads.", "1000"),
        new("ErrorLogWatchSeconds", "--error-log-watch", "NXMESH_ERROR_LOG_WATCH", "Seconds the error log is watched after a successful apply (emerg/alert/crit rolls back).", "10"),
        new("HealthIntervalSeconds", "--health-interval", "NXMESH_HEALTH_INTERVAL", "Seconds between health reports.", "15"),
        new("AlertRetentionSeconds", "--alert-retention", "NXMESH_ALERT_RETENTION", "Seconds a local fact (restart, rollback) stays in health reports.", "300"),
        new("AccessLogPath", "--access-log", "NXMESH_ACCESS_LOG", "The JSON access log the rendered config writes (tailed and shipped).", "{prefix}/logs/access.json"),
        new("MetricsIntervalSeconds", "--metrics-interval", "NXMESH_METRICS_INTERVAL", "Seconds between two metrics batches.", "10"),
        new("LogFlushIntervalMilliseconds", "--log-flush-interval-ms", "NXMESH_LOG_FLUSH_INTERVAL_MS", "A log batch leaves at the latest this many ms after it started.", "1000"),
        new("LogBatchMaxLines", "--log-batch-max-lines", "NXMESH_LOG_BATCH_MAX_LINES", "Access-log lines per batch at most.", "1000"),
        new("LogBatchMaxBytes", "--log-batch-max-bytes", "NXMESH_LOG_BATCH_MAX_BYTES", "Access-log bytes per batch at most.", "1048576"),
        new("TelemetryMemoryLimitBytes", "--telemetry-memory-limit", "NXMESH_TELEMETRY_MEMORY_LIMIT", "Bytes of unacked telemetry kept in memory before batches spill to the spool.", "16777216"),
        new("TelemetrySpoolLimitBytes", "--telemetry-spool-limit", "NXMESH_TELEMETRY_SPOOL_LIMIT", "Bytes of the disk spool ({state-dir}/telemetry/spool); the oldest batches are dropped beyond it; 0 = no spool.", "268435456"),
        new("TelemetryAckTimeoutSeconds", "--telemetry-ack-timeout", "NXMESH_TELEMETRY_ACK_TIMEOUT", "Seconds without an ack before a batch is sent again on the same stream.", "30"),
        new("LogFormat", "--log-format", "NXMESH_LOG_FORMAT", "json (one object per line, for journald and container logs) | text.", "json"),
    ];

    /// <summary>The outcome of reading argv and the environment.</summary>
    public sealed record Parsed(
        bool Help,
        IReadOnlyDictionary<string, string?> FromEnvironment,
        IReadOnlyDictionary<string, string?> FromFlags,
        string[] PassThrough,
        IReadOnlyList<string> Errors);

    public static Parsed Parse(string[] args, IDictionary environment)
    {
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var passThrough = new List<string>();
        var errors = new List<string>();
        var help = false;

        foreach (var option in Options)
        {
            if (environment[option.Env] is string text && text.Length > 0)
            {
                var separator = option.Kind == Kind.List ? ':' : ',';
                var items = option.Kind == Kind.Value ? [text] : text.Split(separator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                foreach (var item in items)
                {
                    Set(option, item, values, errors);
                }
            }
        }
        var envOnly = new Dictionary<string, string?>(values, StringComparer.OrdinalIgnoreCase);
        values.Clear();

        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg is "--help" or "-h" or "-?")
            {
                help = true;
                continue;
            }
            var (flag, inline) = arg.IndexOf('=') is var eq and > 0 ? (arg[..eq], arg[(eq + 1)..]) : (arg, null);
            var option = Array.Find(Options, o => string.Equals(o.Flag, flag, StringComparison.Ordinal));
            if (option is null)
            {
                passThrough.Add(arg);
                continue;
            }
            var value = inline;
            if (value is null)
            {
                if (i + 1 >= args.Length)
                {
                    errors.Add($"{flag} needs a value.");
                    continue;
                }
                value = args[++i];
            }
            Set(option, value, values, errors);
        }
        return new Parsed(help, envOnly, values, [.. passThrough], errors);
    }

    public static string HelpText()
    {
        var text = new StringBuilder();
        text.AppendLine("nxmesh-agent — runs next to nginx: applies NxMesh config safely, keeps the last known good, reports health.");
        text.AppendLine();
        text.AppendLine("Usage: nxmesh-agent [options]");
        text.AppendLine();
        text.AppendLine("Every option is a flag, an NXMESH_* variable, or the configuration key Agent:<Key>");
        text.AppendLine("(--Agent:Key=value, Agent__Key, NXMESH_Agent__Key). Flags win over variables.");
        text.AppendLine();
        foreach (var option in Options)
        {
            var flag = option.Kind switch
            {
                Kind.Map => option.Flag + " <key=value>",
                _ => option.Flag + " <value>",
            };
            text.Append(CultureInfo.InvariantCulture, $"  {flag,-36} {option.Env} | Agent:{option.Key}").AppendLine();
            text.Append(CultureInfo.InvariantCulture, $"  {"",-36} {option.Help} Default: {option.Default}.").AppendLine();
        }
        text.AppendLine("  --help                               Show this text and exit.");
        text.AppendLine();
        text.AppendLine("Deployment modes and nginx control:");
        text.AppendLine("  standalone          agent as a systemd service; supervises nginx as its child (control-mode supervise),");
        text.AppendLine("                      or signals a distribution nginx started with the same -p/-c (control-mode external).");
        text.AppendLine("  docker_sidecar      the agent image's entrypoint; nginx runs as the agent's child (supervise).");
        text.AppendLine("  kubernetes_sidecar  a pod with shareProcessNamespace: the nginx container's master is signalled");
        text.AppendLine("                      through the pid file on a shared volume (external).");
        return text.ToString();
    }

    private static void Set(Option option, string value, Dictionary<string, string?> values, List<string> errors)
    {
        switch (option.Kind)
        {
            case Kind.Value:
                values[$"Agent:{option.Key}"] = value;
                break;
            case Kind.List:
                var index = values.Keys.Count(k => k.StartsWith($"Agent:{option.Key}:", StringComparison.OrdinalIgnoreCase));
                values[$"Agent:{option.Key}:{index.ToString(CultureInfo.InvariantCulture)}"] = value;
                break;
            case Kind.Map:
                var eq = value.IndexOf('=');
                if (eq <= 0)
                {
                    errors.Add($"{option.Flag} expects key=value, got '{value}'.");
                    return;
                }
                values[$"Agent:{option.Key}:{value[..eq].Trim()}"] = value[(eq + 1)..].Trim();
                break;
        }
    }
}
