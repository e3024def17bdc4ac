using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Options;
using NxMesh.Agent.Health;

namespace NxMesh.Agent.Nginx;

/// <summary>
/// nginx as the agent's child process (daemon off): restarted with exponential backoff when it dies, but not after
/// a deliberate stop. On agent shutdown it stops gracefully (QUIT), killed only after the stop timeout.
/// </summary>
internal sealed partial class SupervisedNginx(IOptions<AgentOptions> options, NginxLayout layout, LocalFacts facts, ILogger<SupervisedNginx> logger)
    : INginxControl
{
    private static readonly TimeSpan StableRunTime = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);
    private readonly AgentOptions _options = options.Value;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private Task? _loop;
    private Process? _process;
    private HashSet<int> _lastWorkers = [];
    private volatile bool _wanted;
    private volatile bool _deliberatelyStopped;
    private volatile string? _lastExit;

    public NginxControlMode Mode => NginxControlMode.Supervise;

    public int? MasterPid
    {
        get
        {
            var process = _process;
            return process is not null && Signals.IsAlive(process.Id) ? process.Id : null;
        }
    }

    public bool StoppedDeliberately => _deliberatelyStopped;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _loop ??= Task.Run(() => SuperviseAsync(_stopping.Token), CancellationToken.None);
        }
        _deliberatelyStopped = false;
        _lastExit = null;
        _wanted = true;
        _wake.Release();
        var deadline = Stopwatch.GetTimestamp() + (long)(StartTimeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (MasterPid is { } pid && NginxProcesses.ChildrenOf(pid).Any(NginxProcesses.IsActiveWorker))
            {
                return;
            }
            if (_lastExit is { } exit)
            {
                throw new InvalidOperationException($"nginx did not start: {exit}");
            }
            await Task.Delay(25, cancellationToken);
        }
        throw new TimeoutException($"nginx did not start within {StartTimeout.TotalSeconds} s.");
    }

    public async Task StopAsync(bool graceful, TimeSpan timeout, CancellationToken cancellationToken)
    {
        _wanted = false;
        _deliberatelyStopped = true;
        if (MasterPid is { } pid)
        {
            await NginxStopping.TerminateAsync(pid, graceful, timeout, () => !Signals.IsAlive(pid));
        }
        // Until the supervisor has seen the exit as deliberate, a following start could be mistaken for a crash.
        var deadline = Stopwatch.GetTimestamp() + (5 * Stopwatch.Frequency);
        while (_process is not null && Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(10, CancellationToken.None);
        }
    }

    public async Task RestartAsync(bool force, CancellationToken cancellationToken)
    {
        await StopAsync(graceful: !force, TimeSpan.FromSeconds(_options.StopTimeoutSeconds), cancellationToken);
        await StartAsync(cancellationToken);
    }

    public async Task ShutdownAsync()
    {
        _wanted = false;
        if (MasterPid is { } pid)
        {
            var graceful = await NginxStopping.TerminateAsync(pid, graceful: true, TimeSpan.FromSeconds(_options.StopTimeoutSeconds), () => !Signals.IsAlive(pid));
            if (!graceful)
            {
                LogKilled(pid);
            }
        }
        await _stopping.CancelAsync();
        if (_loop is not null)
        {
            await _loop.ContinueWith(_ => { }, TaskScheduler.Default).WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    /// <summary>Kills a master left behind by a killed agent (found through the pid file), with its workers.</summary>
    public async Task StopStaleMasterAsync()
    {
        if (layout.ReadLivePid() is { } pid && NginxProcesses.IsNginx(pid))
        {
            LogStaleMaster(pid);
            await NginxStopping.TerminateAsync(pid, graceful: true, TimeSpan.FromSeconds(_options.StopTimeoutSeconds), () => !Signals.IsAlive(pid));
        }
        // Workers whose master was killed together with an earlier agent still hold the listening sockets.
        NginxStopping.KillOrphans(NginxProcesses.HoldingFile(layout.ErrorLog));
    }

    private async Task SuperviseAsync(CancellationToken stopping)
    {
        var backoff = TimeSpan.FromSeconds(1);
        var crashed = false;
        while (!stopping.IsCancellationRequested)
        {
            if (!_wanted)
            {
                try
                {
                    await _wake.WaitAsync(stopping);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }

            var startedAt = Stopwatch.GetTimestamp();
            Process process;
            try
            {
                process = NginxCommands.StartMaster(_options.NginxBinary, layout, line => LogNginxOutput(line));
            }
            catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
            {
                _lastExit = ex.Message;
                LogStartFailed(ex.Message);
                await DelayAsync(backoff, stopping);
                backoff = NextBackoff(backoff);
                continue;
            }
            _process = process;
            LogStarted(process.Id, layout.Prefix);
            var data = new Dictionary<string, string> { ["pid"] = process.Id.ToString(CultureInfo.InvariantCulture) };
            if (crashed)
            {
                facts.Record(LocalFacts.NginxRestarted, data, "warning", "nginx died and was restarted by the agent");
            }
            else
            {
                facts.Record(LocalFacts.NginxStarted, data);
            }

            while (!process.HasExited)
            {
                try
                {
                    await Task.WhenAny(process.WaitForExitAsync(stopping), Task.Delay(TimeSpan.FromSeconds(1), stopping));
                }
                catch (OperationCanceledException)
                {
                }
                if (stopping.IsCancellationRequested)
                {
                    return;
                }
                if (!process.HasExited)
                {
                    var workers = NginxProcesses.ChildrenOf(process.Id);
                    if (workers.Count > 0)
                    {
                        _lastWorkers = workers;
                    }
                }
            }
            // Not WaitForExit(): it waits for the output pipes, which orphaned workers may hold open.
            var exitCode = process.ExitCode;
            // Read the intent before acknowledging the exit: StopAsync waits for the acknowledgement.
            var wanted = _wanted;
            _process = null;
            process.Dispose();
            if (!wanted)
            {
                LogStopped(exitCode);
                facts.Record(LocalFacts.NginxStopped, new Dictionary<string, string> { ["exit_code"] = exitCode.ToString(CultureInfo.InvariantCulture) });
                crashed = false;
                backoff = TimeSpan.FromSeconds(1);
                continue;
            }

            NginxStopping.KillOrphans(_lastWorkers.Union(NginxProcesses.HoldingFile(layout.ErrorLog)));
            _lastWorkers = [];
            if (Stopwatch.GetElapsedTime(startedAt) > StableRunTime)
            {
                backoff = TimeSpan.FromSeconds(1);
            }
            _lastExit = $"exit code {exitCode}";
            crashed = true;
            LogUnexpectedExit(exitCode, backoff.TotalSeconds);
            facts.Record(LocalFacts.NginxDied, new Dictionary<string, string> { ["exit_code"] = exitCode.ToString(CultureInfo.InvariantCulture) },
                "critical", $"nginx exited unexpectedly with code {exitCode}");
            await DelayAsync(backoff, stopping);
            backoff = NextBackoff(backoff);
        }
    }

    private TimeSpan NextBackoff(TimeSpan backoff) =>
        TimeSpan.FromSeconds(Math.Min(backoff.TotalSeconds * 2, Math.Max(1, _options.MaxRestartBackoffSeconds)));

    private static async Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "nginx master {Pid} started in {Prefix}")]
    private partial void LogStarted(int pid, string prefix);

    [LoggerMessage(Level = LogLevel.Information, Message = "nginx stopped (exit code {ExitCode})")]
    private partial void LogStopped(int exitCode);

    [LoggerMessage(Level = LogLevel.Warning, Message = "nginx master {Pid} did not stop in time and was killed")]
    private partial void LogKilled(int pid);

    [LoggerMessage(Level = LogLevel.Warning, Message = "nginx master {Pid} left behind by an earlier run; stopping it")]
    private partial void LogStaleMaster(int pid);

    [LoggerMessage(Level = LogLevel.Error, Message = "nginx exited unexpectedly with code {ExitCode}; restarting in {Seconds} s")]
    private partial void LogUnexpectedExit(int exitCode, double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "nginx could not be started: {Reason}")]
    private partial void LogStartFailed(string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "nginx: {Line}")]
    private partial void LogNginxOutput(string line);
}
