using System.Diagnostics;
using System.Globalization;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace NxMesh.EndToEnd.Tests;

/// <summary>
/// The processes behind the fleet's resources, as Linux sees them, and DCP's resource commands. DCP runs a project as
/// <c>dotnet run</c> (the pid in the resource snapshot), which runs the service as its child; an agent's nginx master
/// is the agent's child.
/// </summary>
internal sealed class FleetProcesses(FleetFixture fleet)
{
    private static readonly string[] StoppedStates = [KnownResourceStates.Exited, KnownResourceStates.Finished, KnownResourceStates.FailedToStart];

    private ResourceNotificationService Notifications => fleet.App.Services.GetRequiredService<ResourceNotificationService>();
    private ResourceCommandService Commands => fleet.App.Services.GetRequiredService<ResourceCommandService>();

    /// <summary>The pid DCP started for the resource (<c>dotnet run</c> for a project), or null while it is not running.</summary>
    public int? ResourcePid(string resource) =>
        Notifications.TryGetCurrentState(resource, out var state)
        && state.Snapshot.State?.Text == KnownResourceStates.Running
        && state.Snapshot.Properties.FirstOrDefault(p => p.Name == "executable.pid")?.Value is int pid
            ? pid
            : null;

    /// <summary>Every process below <paramref name="pid"/>, from the parent pids in /proc/*/stat.</summary>
    public static IReadOnlyList<int> Descendants(int pid)
    {
        var children = new Dictionary<int, List<int>>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var child))
            {
                continue;
            }
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(directory, "stat"));
            }
            catch (IOException)
            {
                continue; // Exited meanwhile.
            }
            // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var parent = int.Parse(fields[1], CultureInfo.InvariantCulture);
            if (!children.TryGetValue(parent, out var list))
            {
                children[parent] = list = [];
            }
            list.Add(child);
        }
        var result = new List<int>();
        var pending = new Queue<int>([pid]);
        while (pending.TryDequeue(out var next))
        {
            foreach (var child in children.GetValueOrDefault(next) ?? [])
            {
                result.Add(child);
                pending.Enqueue(child);
            }
        }
        return result;
    }

    /// <summary>The service process itself: the child of <c>dotnet run</c> (or the resource's own process without one).</summary>
    public int? ServiceProcess(string resource) =>
        ResourcePid(resource) is { } pid ? Descendants(pid).DefaultIfEmpty(pid).First() : null;

    /// <summary>
    /// The local TCP ports of the ESTABLISHED connections the process holds to <paramref name="remotePort"/> (its
    /// sockets, matched by inode in /proc/net/tcp and tcp6).
    /// </summary>
    public static IReadOnlyList<int> ConnectionsTo(int pid, int remotePort)
    {
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var fd in Directory.EnumerateFiles($"/proc/{pid}/fd"))
        {
            if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith("socket:[", StringComparison.Ordinal))
            {
                inodes.Add(target["socket:[".Length..^1]);
            }
        }
        var ports = new List<int>();
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                // sl local_address rem_address st … inode: ports are the hex after ':', state 01 = ESTABLISHED.
                var columns = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (columns.Length > 9 && columns[3] == "01" && inodes.Contains(columns[9]) && HexPort(columns[2]) == remotePort)
                {
                    ports.Add(HexPort(columns[1]));
                }
            }
        }
        return ports;
    }

    public static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (IOException)
        {
            return "";
        }
    }

    public static bool IsAlive(int pid) => Directory.Exists($"/proc/{pid}");

    /// <summary>The nginx master processes below the resource's process (an agent replica has exactly one).</summary>
    public IReadOnlyList<int> NginxMasters(string resource) =>
        ResourcePid(resource) is { } pid
            ? [.. Descendants(pid).Where(p => CommandLine(p).StartsWith("nginx: master", StringComparison.Ordinal))]
            : [];

    /// <summary>
    /// SIGKILLs every process of the resource (no graceful stop: the service and, for <c>dotnet run</c>, its launcher)
    /// and waits until DCP reports the resource stopped.
    /// </summary>
    public async Task KillAsync(string resource, TimeSpan timeout)
    {
        var pid = ResourcePid(resource) ?? throw new InvalidOperationException($"{resource} is not running.");
        var processes = Descendants(pid).Reverse().Append(pid).ToList();
        foreach (var victim in processes)
        {
            try
            {
                using var process = Process.GetProcessById(victim);
                process.Kill(); // SIGKILL on Linux.
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
            {
                // Already gone.
            }
        }
        using var cts = new CancellationTokenSource(timeout);
        await Notifications.WaitForResourceAsync(resource, StoppedStates, cts.Token);
        foreach (var victim in processes)
        {
            Assert.False(IsAlive(victim) && !IsZombie(victim), $"{resource}'s process {victim} ({CommandLine(victim)}) still alive after SIGKILL");
        }
    }

    /// <summary>
    /// Runs one of DCP's resource commands (start, stop, restart). DCP's stop of a busy process sometimes reports failure
    /// on a loaded machine while it is still shutting down: up to 3 attempts 10 s apart, and the last must succeed.
    /// </summary>
    public async Task CommandAsync(string resource, string command)
    {
        ExecuteCommandResult result = new() { Success = false };
        for (var attempt = 1; attempt <= 3 && !result.Success; attempt++)
        {
            if (attempt > 1)
            {
                await Task.Delay(TimeSpan.FromSeconds(10));
            }
            result = await Commands.ExecuteCommandAsync(resource, command);
        }
        Assert.True(result.Success, $"{command} {resource}: {result.Message}");
    }

    /// <summary>Starts the resource if it is not running, and waits until it is healthy (running, for one without a health check).</summary>
    public async Task EnsureRunningAsync(string resource, TimeSpan timeout)
    {
        if (ResourcePid(resource) is null)
        {
            await CommandAsync(resource, KnownResourceCommands.StartCommand);
        }
        using var cts = new CancellationTokenSource(timeout);
        await Notifications.WaitForResourceHealthyAsync(resource, cts.Token);
    }

    private static int HexPort(string address) =>
        int.Parse(address[(address.LastIndexOf(':') + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (IOException)
        {
            return true;
        }
    }
}
