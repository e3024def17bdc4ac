using System.Globalization;
using Microsoft.Extensions.Options;
using NxMesh.Agent.Master;
using NxMesh.Agent.Nginx;

namespace NxMesh.Agent.Health;

/// <summary>
/// Posts a health report every interval while connected to the master, and notices an external nginx that went down, came back or was replaced
/// (a supervised one reports its own lifecycle).
/// </summary>
internal sealed class HealthReporter(
    IOptions<AgentOptions> options, HealthCollector collector, INginxControl control, LocalFacts facts, AgentOutbox outbox, MasterConnection master)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.HealthIntervalSeconds));
        int? lastPid = control.MasterPid;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var pid = control.MasterPid;
                if (control.Mode == NginxControlMode.External && pid != lastPid)
                {
                    var data = new Dictionary<string, string> { ["pid"] = pid?.ToString(CultureInfo.InvariantCulture) ?? "" };
                    if (pid is null)
                    {
                        facts.Record(LocalFacts.NginxStopped, data);
                    }
                    else if (lastPid is not null)
                    {
                        facts.Record(LocalFacts.NginxRestarted, data, "warning", "the nginx master was replaced");
                    }
                    else
                    {
                        facts.Record(LocalFacts.NginxStarted, data);
                    }
                }
                lastPid = pid;
                // Reports queued while the master is away would arrive stale and crowd out statuses and events;
                // a fresh one follows every registration anyway.
                if (master.IsConnected)
                {
                    outbox.Post(await collector.CollectAsync(stoppingToken));
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
