namespace NxMesh.Agent.Nginx;

/// <summary>Starting and stopping nginx, whether the agent supervises it or signals a master it did not start.</summary>
public interface INginxControl
{
    NginxControlMode Mode { get; }

    /// <summary>The live master's pid, or null while nginx is not running.</summary>
    int? MasterPid { get; }

    /// <summary>True after a deliberate stop (a stop command); a supervised nginx then stays stopped.</summary>
    bool StoppedDeliberately { get; }

    /// <summary>Starts nginx (if it is not running) and waits, bounded, until its workers are up.</summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>QUIT (graceful) or TERM (fast); after <paramref name="timeout"/> the master and its workers are killed.</summary>
    Task StopAsync(bool graceful, TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>Stops (gracefully unless forced) and starts again.</summary>
    Task RestartAsync(bool force, CancellationToken cancellationToken);

    /// <summary>On agent shutdown: a supervised nginx stops gracefully, an external one keeps serving.</summary>
    Task ShutdownAsync();
}

internal static class NginxStopping
{
    /// <summary>Signals a master, waits (bounded) for it to go, then kills it and the workers it had.</summary>
    public static async Task<bool> TerminateAsync(int pid, bool graceful, TimeSpan timeout, Func<bool> hasExited)
    {
        var workers = NginxProcesses.ChildrenOf(pid);
        Signals.Send(pid, graceful ? Signals.Quit : Signals.Term);
        var deadline = DateTime.UtcNow + timeout;
        while (!hasExited() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(25, CancellationToken.None);
        }
        if (hasExited())
        {
            return true;
        }
        Signals.Send(pid, Signals.Kill);
        KillOrphans(workers);
        var killDeadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (!hasExited() && DateTime.UtcNow < killDeadline)
        {
            await Task.Delay(25, CancellationToken.None);
        }
        return false;
    }

    /// <summary>Workers whose master died keep their listening sockets; they must go before a new master can bind.</summary>
    public static void KillOrphans(IEnumerable<int> workers)
    {
        foreach (var worker in workers)
        {
            if (Signals.IsAlive(worker) && NginxProcesses.IsNginx(worker))
            {
                Signals.Send(worker, Signals.Kill);
            }
        }
    }
}
