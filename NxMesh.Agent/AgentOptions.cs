using System.ComponentModel.DataAnnotations;
using NxMesh.Nginx;

namespace NxMesh.Agent;

/// <summary>
/// Section "Agent". Every value has a CLI flag and an NXMESH_* variable (see <see cref="Cli.AgentCommandLine"/>);
/// <c>--Agent:Name=value</c>, <c>Agent__Name</c> and <c>NXMESH_Agent__Name</c> work as well.
/// </summary>
public sealed class AgentOptions
{
    public const string SectionName = "Agent";

    /// <summary>Where the agent keeps its credential, last known good config and (by default) the nginx prefix.</summary>
    public string StateDirectory { get; set; } = "/var/lib/nxmesh-agent";

    public string NginxBinary { get; set; } = "nginx";

    /// <summary>The nginx prefix (-p); defaults to {StateDirectory}/nginx.</summary>
    public string? NginxPrefix { get; set; }

    /// <summary>The main config (-c); the agent owns the directory holding it. Defaults to {prefix}/conf/nginx.conf.</summary>
    public string? NginxConfigPath { get; set; }

    /// <summary>The master's pid file; defaults to {prefix}/logs/nginx.pid (what the rendered config declares).</summary>
    public string? NginxPidFile { get; set; }

    public string ListenAddress { get; set; } = "0.0.0.0";

    /// <summary>Added to ports below 1024 when the agent cannot bind privileged ports.</summary>
    public int PortOffset { get; set; }

    public int StubStatusPort { get; set; } = 8099;

    /// <summary>Directories a location's <c>root</c> may point into.</summary>
    public List<string> AllowedRoots { get; set; } = [];

    /// <summary>The AgentHub address (h2c or https).</summary>
    public string? MasterUrl { get; set; }

    /// <summary>The single-use enrollment token; used only until a credential is stored.</summary>
    public string? RegistrationToken { get; set; }

    /// <summary>A PEM CA bundle that signs the AgentHub certificate (https master URLs).</summary>
    public string? MasterCaFile { get; set; }

    /// <summary>Client certificate and key (PEM) for a master that asks for mutual TLS.</summary>
    public string? MasterClientCertificateFile { get; set; }

    public string? MasterClientKeyFile { get; set; }

    public Dictionary<string, string> Labels { get; set; } = [];

    /// <summary>standalone, docker_sidecar or kubernetes_sidecar (the proto's DeploymentMode).</summary>
    public string DeploymentMode { get; set; } = "standalone";

    /// <summary>auto, supervise or external; auto derives it from the deployment mode.</summary>
    public string ControlMode { get; set; } = "auto";

    /// <summary>Upper bound of the restart backoff after nginx dies unexpectedly.</summary>
    public int MaxRestartBackoffSeconds { get; set; } = 30;

    /// <summary>How long a graceful stop (SIGQUIT) may take before nginx is killed.</summary>
    public int StopTimeoutSeconds { get; set; } = 10;

    /// <summary>How long a reload may take to show a new worker generation.</summary>
    public double ReloadTimeoutSeconds { get; set; } = 15;

    /// <summary>Minimum time between two reloads, so worker generations do not pile up.</summary>
    public int MinReloadIntervalMilliseconds { get; set; } = 1000;

    /// <summary>How long the error log is watched after a successful apply.</summary>
    public double ErrorLogWatchSeconds { get; set; } = 10;

    public double HealthIntervalSeconds { get; set; } = 15;

    /// <summary>How long a local fact (restart, rollback) stays in the health report's alerts.</summary>
    public double AlertRetentionSeconds { get; set; } = 300;

    /// <summary>json (one object per line) or text.</summary>
    public string LogFormat { get; set; } = "json";

    /// <summary>The JSON access log the rendered config writes; defaults to {prefix}/logs/access.json.</summary>
    public string? AccessLogPath { get; set; }

    /// <summary>Seconds between two MetricsBatch samples.</summary>
    public double MetricsIntervalSeconds { get; set; } = 10;

    /// <summary>A log batch leaves at the latest this long after its first line was read.</summary>
    public int LogFlushIntervalMilliseconds { get; set; } = 1000;

    public int LogBatchMaxLines { get; set; } = 1000;

    public int LogBatchMaxBytes { get; set; } = 1024 * 1024;

    /// <summary>Unacked telemetry kept in memory before batches spill to the spool.</summary>
    public long TelemetryMemoryLimitBytes { get; set; } = 16L * 1024 * 1024;

    /// <summary>Bound of the disk spool ({state}/telemetry/spool); 0 disables it (memory only).</summary>
    public long TelemetrySpoolLimitBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>A batch sent without an ack for this long is sent again on the same stream.</summary>
    public double TelemetryAckTimeoutSeconds { get; set; } = 30;

    public string ResolvedNginxPrefix => Path.GetFullPath(NginxPrefix ?? Path.Combine(StateDirectory, "nginx"));

    public string ResolvedConfigPath => Path.GetFullPath(NginxConfigPath ?? Path.Combine(ResolvedNginxPrefix, "conf", "nginx.conf"));

    public string ResolvedPidFile => Path.GetFullPath(NginxPidFile ?? Path.Combine(ResolvedNginxPrefix, "logs", "nginx.pid"));

    public string ResolvedAccessLogPath => Path.GetFullPath(AccessLogPath ?? Path.Combine(ResolvedNginxPrefix, NxMesh.Nginx.Rendering.ConfigRenderer.AccessLogPath));

    public NginxControlMode EffectiveControlMode => ControlMode.ToLowerInvariant() switch
    {
        "supervise" => NginxControlMode.Supervise,
        "external" => NginxControlMode.External,
        // A Kubernetes sidecar shares the pod's PID namespace with the nginx container, whose master it did not start;
        // the agent image (docker_sidecar) and standalone hosts run nginx as the agent's child.
        _ => DeploymentMode.ToLowerInvariant() == "kubernetes_sidecar" ? NginxControlMode.External : NginxControlMode.Supervise,
    };

    public NginxHostSettings HostSettings => new()
    {
        ListenAddress = ListenAddress,
        PrivilegedPortOffset = PortOffset,
        StubStatusPort = StubStatusPort,
        AllowedRootDirectories = [.. AllowedRoots.Select(r => Path.GetFullPath(r))],
    };

    public static readonly string[] DeploymentModes = ["standalone", "docker_sidecar", "kubernetes_sidecar"];
    public static readonly string[] ControlModes = ["auto", "supervise", "external"];

    public IEnumerable<ValidationResult> Validate()
    {
        if (PortOffset is < 0 or >= 64512)
        {
            yield return new("PortOffset must be between 0 and 64511.");
        }
        if (StubStatusPort is <= 0 or >= 65536)
        {
            yield return new("StubStatusPort must be a TCP port.");
        }
        if (!DeploymentModes.Contains(DeploymentMode.ToLowerInvariant()))
        {
            yield return new($"DeploymentMode must be one of {string.Join(", ", DeploymentModes)}.");
        }
        if (!ControlModes.Contains(ControlMode.ToLowerInvariant()))
        {
            yield return new($"ControlMode must be one of {string.Join(", ", ControlModes)}.");
        }
        if (Path.GetDirectoryName(ResolvedConfigPath) is not { Length: > 1 })
        {
            yield return new("NginxConfigPath must live in a directory the agent owns.");
        }
        if (MasterUrl is { Length: > 0 } url && !Uri.TryCreate(url, UriKind.Absolute, out _))
        {
            yield return new("MasterUrl must be an absolute URL.");
        }
        if (ReloadTimeoutSeconds <= 0 || ErrorLogWatchSeconds < 0 || HealthIntervalSeconds <= 0 || MinReloadIntervalMilliseconds < 0)
        {
            yield return new("Timers must be positive.");
        }
        if (MetricsIntervalSeconds <= 0 || LogFlushIntervalMilliseconds <= 0 || TelemetryAckTimeoutSeconds <= 0 || LogBatchMaxLines <= 0 || LogBatchMaxBytes <= 0
            || TelemetryMemoryLimitBytes <= 0 || TelemetrySpoolLimitBytes < 0)
        {
            yield return new("Telemetry intervals, batch sizes and the memory limit must be positive; the spool limit must not be negative.");
        }
    }
}

public enum NginxControlMode
{
    /// <summary>nginx runs as the agent's child, restarted with backoff when it dies.</summary>
    Supervise,

    /// <summary>nginx was started by someone else (systemd, the nginx container); the agent signals it via the pid file.</summary>
    External,
}
