using System.Diagnostics;
using System.Globalization;

namespace NxMesh.AppHost;

public enum FleetMode { Local, Container }

/// <summary>
/// Section "NxMesh" of the AppHost's configuration (command line --NxMesh:Key=value, environment NxMesh__Key).
/// </summary>
public sealed class FleetSettings
{
    /// <summary>auto (default: container when an engine answers, else local), local or container.</summary>
    public string Mode { get; set; } = "auto";
    public int AgentReplicas { get; set; } = 2;
    /// <summary>AgentHub instances sharing Postgres and Redis (agenthub, agenthub-2, …); agent replica i uses hub ((i − 1) mod N) + 1.</summary>
    public int AgentHubReplicas { get; set; } = 1;
    /// <summary>Replica i binds 127.0.0.(10+i) by default; tests use another /24 of 127.0.0.0/8.</summary>
    public string AgentAddressPrefix { get; set; } = "127.0.0.";
    /// <summary>Added to agent ports below 1024; defaults to 0 as root and 8000 otherwise.</summary>
    public int? AgentPortOffset { get; set; }
    /// <summary>Local mode: Postgres and Redis ports (0 picks a free one).</summary>
    public int PostgresPort { get; set; } = 5433;
    public int RedisPort { get; set; } = 6380;
    /// <summary>Local mode: the folder with the database, secrets and replica state (default .nxmesh/local).</summary>
    public string? DataDirectory { get; set; }
    public string PostgresBinDirectory { get; set; } = "/usr/lib/postgresql/15/bin";
    public string RedisServer { get; set; } = "redis-server";
    public string NginxBinary { get; set; } = "/usr/sbin/nginx";
    /// <summary>OTEL_EXPORTER_OTLP_TIMEOUT of every service (ms): keeps a stop within DCP's 6 s SIGTERM grace (see TelemetryExport).</summary>
    public int OtlpExportTimeoutMilliseconds { get; set; } = 1000;

    public static bool RunningAsRoot => Environment.UserName == "root";

    public int EffectiveAgentPortOffset => AgentPortOffset ?? (RunningAsRoot ? 0 : 8000);

    public string AgentAddress(int index) => AgentAddressPrefix + (10 + index).ToString(CultureInfo.InvariantCulture);

    /// <summary>The 1-based AgentHub instance agent replica <paramref name="replica"/> connects to (round robin).</summary>
    public int AgentHubOf(int replica) => ((replica - 1) % Math.Max(1, AgentHubReplicas)) + 1;

    public FleetMode ResolveMode() => Mode.ToLowerInvariant() switch
    {
        "local" => FleetMode.Local,
        "container" => FleetMode.Container,
        "auto" => ContainerEngineAnswers() ? FleetMode.Container : FleetMode.Local,
        _ => throw new InvalidOperationException($"NxMesh:Mode must be auto, local or container, not '{Mode}'."),
    };

    /// <summary>Aspire's container resources need a running engine; a client alone (docker --version) is not enough.</summary>
    private static bool ContainerEngineAnswers()
    {
        foreach (var engine in new[] { "docker", "podman" })
        {
            try
            {
                using var process = Process.Start(new ProcessStartInfo(engine, "info")
                {
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    UseShellExecute = false,
                });
                if (process is null)
                {
                    continue;
                }
                process.StandardOutput.ReadToEndAsync();
                process.StandardError.ReadToEndAsync();
                if (process.WaitForExit(TimeSpan.FromSeconds(10)) && process.ExitCode == 0)
                {
                    return true;
                }
                if (!process.HasExited)
                {
                    process.Kill();
                }
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // Not installed.
            }
        }
        return false;
    }
}
