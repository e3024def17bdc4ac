using NxMesh.Agent.Apply;

namespace NxMesh.Agent.Nginx;

/// <summary>
/// Agent start: the last known good config (else the base config) becomes active and nginx serves it — before any
/// master is reachable. Agent stop: a supervised nginx stops gracefully, an external one keeps serving.
/// </summary>
internal sealed partial class NginxHostedService(
    INginxControl control, ConfigApplier applier, NginxReloader reloader, IHostApplicationLifetime lifetime, ILogger<NginxHostedService> logger)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (control is SupervisedNginx supervised)
            {
                await supervised.StopStaleMasterAsync();
            }
            await applier.InstallStartupConfigAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException)
        {
            LogNoConfig(ex.Message);
            Environment.ExitCode = 1;
            lifetime.StopApplication();
            return;
        }
        try
        {
            if (control.MasterPid is null)
            {
                await control.StartAsync(cancellationToken);
            }
            else
            {
                var reload = await reloader.ReloadAsync(graceful: true, cancellationToken);
                if (!reload.Success)
                {
                    LogReloadFailed(reload.Message);
                }
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or IOException)
        {
            // A supervised nginx keeps being retried with backoff; health reports say it is down meanwhile.
            LogStartFailed(ex.Message);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => control.ShutdownAsync();

    [LoggerMessage(Level = LogLevel.Critical, Message = "no config nginx accepts: {Reason}")]
    private partial void LogNoConfig(string reason);

    [LoggerMessage(Level = LogLevel.Critical, Message = "nginx could not be brought up: {Reason}")]
    private partial void LogStartFailed(string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "reloading the running nginx onto the stored config failed: {Reason}")]
    private partial void LogReloadFailed(string reason);
}
