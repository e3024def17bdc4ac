using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace NxMesh.Agent.Nginx;

/// <summary>
/// The outcome of a reload: confirmed by a new worker generation, or why not. <paramref name="NewGeneration"/> is the
/// time from the HUP until a worker of the new generation runs; <paramref name="Confirmed"/> until, in addition, no
/// worker of the old generation still accepts (zero when the reload did not succeed).
/// </summary>
public sealed record ReloadOutcome(bool Success, string Message, TimeSpan NewGeneration = default, TimeSpan Confirmed = default);

/// <summary>
/// HUP with confirmation: the reload counts only when the master has spawned a new worker generation (new children,
/// seen in /proc) and the old generation has stopped accepting connections. An [emerg] in the error log (nginx refused the new cycle, e.g. bind() failed), a dead master or
/// the bound elapsing is a failure. Reloads are spaced by a minimum interval so generations do not pile up.
/// The master itself tells the old workers to quit only 100 ms after it forked the new ones (a fixed sleep in nginx's
/// master cycle, "allow new processes to start"); once the new generation runs, the agent sends the old workers the
/// same graceful QUIT at once, so the old config stops taking connections without that fixed wait. The master's own
/// QUIT follows and finds them already exiting; as they exited while it slept, it reaps them as quitting, not as
/// crashed (it blocks SIGCHLD outside sigsuspend), and respawns nothing.
/// </summary>
internal sealed class NginxReloader(IOptions<AgentOptions> options, INginxControl control, NginxLayout layout, TimeProvider time)
{
    private static readonly TimeSpan QuietPeriod = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(2);
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
        var lastPid = NginxProcesses.LastPid();
        var log = new ErrorLogTail(layout.ErrorLog);
        var signalled = Stopwatch.GetTimestamp();
        Signals.Send(pid, Signals.Hup);
        _lastReload = time.GetTimestamp();

        var deadline = signalled + (long)(_options.ReloadTimeoutSeconds * Stopwatch.Frequency);
        var emergencies = new List<string>();
        var looks = 0;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            // Parsing the config in the master takes from a few ms to hundreds (1,000 server blocks): a short poll
            // keeps the confirmation close to the moment the workers run; each look reads only the pids created since the HUP.
            await Task.Delay(PollInterval, cancellationToken);
            if (!Signals.IsAlive(pid))
            {
                return new(false, "the nginx master exited during the reload" + Detail(emergencies));
            }
            // Every 25th look is a full scan, should the pid counter belong to another pid namespace than nginx.
            var fresh = NginxProcesses.ChildrenCreatedAfter(pid, ++looks % 25 == 0 ? null : lastPid).Where(c => !before.Contains(c)).ToList();
            // A child still titled like the master is forked but not yet initialised: wait for the whole generation.
            if (fresh.Any(NginxProcesses.IsActiveWorker) && !fresh.Any(NginxProcesses.IsMasterTitled))
            {
                var newGeneration = Stopwatch.GetElapsedTime(signalled);
                // SUCCESS means every new connection meets the new config: the old generation must stop accepting.
                // Graceful: QUIT, as the master sends it 100 ms later (they finish the requests in flight);
                // not graceful: TERM, the old generation stops now instead of draining its connections.
                var old = graceful
                    ? before.Where(c => NginxProcesses.IsActiveWorker(c) && NginxProcesses.ParentOf(c) == pid)
                    : before.Where(c => Signals.IsAlive(c) && NginxProcesses.ParentOf(c) == pid);
                foreach (var child in old.ToList())
                {
                    Signals.Send(child, graceful ? Signals.Quit : Signals.Term);
                }
                // Bounded wait until none of the old generation is an accepting worker (exited, or titled
                // "worker process is shutting down").
                while (before.Any(NginxProcesses.IsActiveWorker) && Stopwatch.GetTimestamp() < deadline)
                {
                    await Task.Delay(PollInterval, cancellationToken);
                }
                var confirmed = Stopwatch.GetElapsedTime(signalled);
                return before.Any(NginxProcesses.IsActiveWorker)
                    ? new(true, "reloaded: new worker generation up; the old generation had not yet stopped accepting", newGeneration, confirmed)
                    : new(true, "reloaded: new worker generation up, old generation no longer accepting", newGeneration, confirmed);
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
