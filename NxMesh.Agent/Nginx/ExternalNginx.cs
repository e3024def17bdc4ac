using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace NxMesh.Agent.Nginx;

/// <summary>
/// An nginx master the agent did not start (a distribution service, the nginx container of a pod), found through
/// its pid file and driven by signals. It must run with the agent's -p/-c so it reads the config the agent swaps.
/// Start runs the binary in daemon mode where the agent can; agent shutdown leaves nginx serving.
/// </summary>
internal sealed partial class ExternalNginx(IOptions<AgentOptions> options, NginxLayout layout, ILogger<ExternalNginx> logger) : INginxControl
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);
    private readonly AgentOptions _options = options.Value;
    private volatile bool _deliberatelyStopped;

    public NginxControlMode Mode => NginxControlMode.External;

    public int? MasterPid => layout.ReadLivePid();

    public bool StoppedDeliberately => _deliberatelyStopped;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _deliberatelyStopped = false;
        if (MasterPid is null)
        {
            var (exitCode, output) = await NginxCommands.RunAsync(_options.NginxBinary, ["-p", layout.PrefixArgument, "-c", layout.ConfigPath], cancellationToken);
            if (exitCode != 0)
            {
                throw new InvalidOperationException($"nginx did not start: {output}");
            }
            LogStarted(layout.PidFile);
        }
        var deadline = Stopwatch.GetTimestamp() + (long)(StartTimeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (MasterPid is { } pid && NginxProcesses.ChildrenOf(pid).Any(NginxProcesses.IsActiveWorker))
            {
                return;
            }
            await Task.Delay(25, cancellationToken);
        }
        throw new TimeoutException($"No nginx master with workers appeared through {layout.PidFile} within {StartTimeout.TotalSeconds} s.");
    }

    public async Task StopAsync(bool graceful, TimeSpan timeout, CancellationToken cancellationToken)
    {
        _deliberatelyStopped = true;
        if (MasterPid is { } pid)
        {
            await NginxStopping.TerminateAsync(pid, graceful, timeout, () => !Signals.IsAlive(pid));
        }
    }

    public async Task RestartAsync(bool force, CancellationToken cancellationToken)
    {
        await StopAsync(graceful: !force, TimeSpan.FromSeconds(_options.StopTimeoutSeconds), cancellationToken);
        await StartAsync(cancellationToken);
    }

    public Task ShutdownAsync() => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "nginx started as a daemon (pid file {PidFile})")]
    private partial void LogStarted(string pidFile);
}
