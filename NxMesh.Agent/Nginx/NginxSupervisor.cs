using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace NxMesh.Agent.Nginx;

/// <summary>
/// Runs nginx as a child process in the agent's private prefix and restarts it with exponential backoff when it
/// dies; on shutdown stops it gracefully (QUIT), killing it only after the stop timeout. A master left behind by
/// a killed agent is found through its pid file and stopped before a new one starts.
/// </summary>
internal sealed partial class NginxSupervisor(IOptions<AgentOptions> options, IHostApplicationLifetime lifetime, ILogger<NginxSupervisor> logger)
    : BackgroundService
{
    private static readonly TimeSpan StableRunTime = TimeSpan.FromSeconds(60);
    private readonly AgentOptions _options = options.Value;
    private readonly NginxPrefix _prefix = new(options.Value.ResolvedNginxPrefix);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _prefix.EnsureLayout();
        await StopStaleMasterAsync(stoppingToken);
        _prefix.WriteBaseConfig(_options.HostSettings);

        var (valid, output) = await NginxCommands.TestConfigAsync(_options.NginxBinary, _prefix, stoppingToken);
        if (!valid)
        {
            LogInvalidConfig(output);
            Environment.ExitCode = 1;
            lifetime.StopApplication();
            return;
        }

        var backoff = TimeSpan.FromSeconds(1);
        while (!stoppingToken.IsCancellationRequested)
        {
            var startedAt = Stopwatch.GetTimestamp();
            var exitCode = await RunOnceAsync(stoppingToken);
            if (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            if (Stopwatch.GetElapsedTime(startedAt) > StableRunTime)
            {
                backoff = TimeSpan.FromSeconds(1);
            }
            LogUnexpectedExit(exitCode, backoff.TotalSeconds);
            await Task.Delay(backoff, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            backoff = TimeSpan.FromSeconds(Math.Min(backoff.TotalSeconds * 2, _options.MaxRestartBackoffSeconds));
        }
    }

    private async Task<int> RunOnceAsync(CancellationToken stoppingToken)
    {
        using var process = NginxCommands.StartMaster(_options.NginxBinary, _prefix, line => LogNginxOutput(line));
        LogStarted(process.Id, _prefix.Root);
        try
        {
            await process.WaitForExitAsync(stoppingToken);
            return process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            await StopAsync(process.Id, () => process.HasExited);
            return 0;
        }
    }

    private async Task StopStaleMasterAsync(CancellationToken cancellationToken)
    {
        if (_prefix.ReadLivePid() is not { } pid)
        {
            return;
        }
        LogStaleMaster(pid);
        await StopAsync(pid, () => !Signals.IsAlive(pid));
        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>QUIT, wait (bounded), then KILL.</summary>
    private async Task StopAsync(int pid, Func<bool> hasExited)
    {
        Signals.Send(pid, Signals.Quit);
        var deadline = Stopwatch.GetTimestamp() + (long)(_options.StopTimeoutSeconds * (double)Stopwatch.Frequency);
        while (!hasExited() && Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(50, CancellationToken.None);
        }
        if (!hasExited())
        {
            LogKilled(pid);
            Signals.Send(pid, Signals.Kill);
        }
        LogStopped(pid);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "nginx master {Pid} started in {Prefix}")]
    private partial void LogStarted(int pid, string prefix);

    [LoggerMessage(Level = LogLevel.Information, Message = "nginx master {Pid} stopped")]
    private partial void LogStopped(int pid);

    [LoggerMessage(Level = LogLevel.Warning, Message = "nginx master {Pid} did not stop in time and was killed")]
    private partial void LogKilled(int pid);

    [LoggerMessage(Level = LogLevel.Warning, Message = "nginx master {Pid} left behind by an earlier run; stopping it")]
    private partial void LogStaleMaster(int pid);

    [LoggerMessage(Level = LogLevel.Error, Message = "nginx exited unexpectedly with code {ExitCode}; restarting in {Seconds} s")]
    private partial void LogUnexpectedExit(int exitCode, double seconds);

    [LoggerMessage(Level = LogLevel.Critical, Message = "nginx rejects the base configuration: {Output}")]
    private partial void LogInvalidConfig(string output);

    [LoggerMessage(Level = LogLevel.Information, Message = "nginx: {Line}")]
    private partial void LogNginxOutput(string line);
}

internal static class NginxSupervisionExtensions
{
    public static void AddNginxSupervision(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHostedService<NginxSupervisor>();
        // Leave room for the graceful nginx stop inside the host's shutdown window.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
    }
}
