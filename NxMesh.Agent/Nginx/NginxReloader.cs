using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace NxMesh.Agent.Nginx;

/// <summary>The outcome of a reload: confirmed by a new worker generation, or why not.</summary>
public sealed record ReloadOutcome(bool Success, string Message);

/// <summary>
/// HUP with confirmation: the reload counts only when the master has spawned a new worker generation (new children,
/// seen in /proc) and the old generation has stopped accepting connections. An [emerg] in the error log (nginx refused the new cycle, e.g. bind() failed), a dead master or
/// the bound elapsing is a failure. Reloads are spaced by a minimum interval so generations do not pile up.
/// </summary>
internal sealed class NginxReloader(IOptions<AgentOptions> options, INginxControl control, NginxLayout layout, TimeProvider time)
{
    private static readonly TimeSpan QuietPeriod = TimeSpan.FromSeconds(1);
    private readonly AgentOptions _options = options.Value;
    private long _lastReload = long.MinValue;

    public async Task<ReloadOutcome> ReloadAsync(bool graceful, CancellationToken cancellationToken)
    {
        if (control.MasterPid is not { } pid)
        {
            return new(false, "nginx is not running");
        }
        await SpaceReloadsAsync(cancellationToken);

        var before = NginxProcesses.ChildrenOf(pid);
        var log = new ErrorLogTail(layout.ErrorLog);
        Signals.Send(pid, Signals.Hup);
        _lastReload = time.GetTimestamp();

        var deadline = Stopwatch.GetTimestamp() + (long)(_options.ReloadTimeoutSeconds * Stopwatch.Frequency);
        var emergencies = new List<string>();
        while (Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(20, cancellationToken);
            if (!Signals.IsAlive(pid))
            {
                return new(false, "the nginx master exited during the reload" + Detail(emergencies));
            }
            var fresh = NginxProcesses.ChildrenOf(pid).Where(c => !before.Contains(c)).ToList();
            if (fresh.Any(NginxProcesses.IsActiveWorker))
            {
                if (!graceful)
                {
                    // Not graceful: the old generation is told to stop now instead of draining its connections.
                    foreach (var old in before.Where(Signals.IsAlive))
                    {
                        Signals.Send(old, Signals.Term);
                    }
                }
                // SUCCESS means every new connection meets the new config: between the new workers starting and
                // the master's QUIT reaching them, old workers may still accept. Wait (bounded) until none of the
                // old generation is an accepting worker (exited, or titled "worker process is shutting down").
                while (before.Any(NginxProcesses.IsActiveWorker) && Stopwatch.GetTimestamp() < deadline)
                {
                    await Task.Delay(10, cancellationToken);
                }
                return before.Any(NginxProcesses.IsActiveWorker)
                    ? new(true, "reloaded: new worker generation up; the old generation had not yet stopped accepting")
                    : new(true, "reloaded: new worker generation up, old generation no longer accepting");
            }
            var lines = log.ReadNew();
            emergencies.AddRange(ErrorLogTail.Emergencies(lines));
            if (emergencies.Count > 0)
            {
                // The master may still be retrying (bind() is tried five times, 500 ms apart): wait until it has
                // given up and the log is quiet, so a following reload is not confused by this one's lines.
                await WaitForQuietAsync(log, emergencies, deadline, cancellationToken);
                return new(false, "nginx refused the reload" + Detail(emergencies));
            }
        }
        return new(false, $"no new worker generation within {_options.ReloadTimeoutSeconds} s");
    }

    private async Task SpaceReloadsAsync(CancellationToken cancellationToken)
    {
        if (_lastReload == long.MinValue)
        {
            return;
        }
        var wait = TimeSpan.FromMilliseconds(_options.MinReloadIntervalMilliseconds) - time.GetElapsedTime(_lastReload);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, time, cancellationToken);
        }
    }

    private static async Task WaitForQuietAsync(ErrorLogTail log, List<string> emergencies, long deadline, CancellationToken cancellationToken)
    {
        var quietSince = Stopwatch.GetTimestamp();
        while (Stopwatch.GetTimestamp() < deadline && Stopwatch.GetElapsedTime(quietSince) < QuietPeriod)
        {
            await Task.Delay(50, cancellationToken);
            var lines = log.ReadNew();
            if (lines.Count > 0)
            {
                emergencies.AddRange(ErrorLogTail.Emergencies(lines));
                quietSince = Stopwatch.GetTimestamp();
            }
        }
    }

    /// <summary>The distinct messages, without nginx's timestamp and pid prefix.</summary>
    private static string Detail(List<string> lines) =>
        lines.Count == 0 ? "" : ": " + string.Join("\n", lines.Select(ErrorLogTail.WithoutPrefix).Distinct());
}
