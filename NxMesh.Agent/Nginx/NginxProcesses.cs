using System.Globalization;

namespace NxMesh.Agent.Nginx;

/// <summary>What /proc says about nginx processes: the children of a master, their titles, their state.</summary>
internal static class NginxProcesses
{
    /// <summary>The pids whose parent is <paramref name="parent"/>.</summary>
    public static HashSet<int> ChildrenOf(int parent)
    {
        var children = new HashSet<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(directory);
            if (!int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }
            if (Stat(pid) is { } stat && stat.ParentPid == parent)
            {
                children.Add(pid);
            }
        }
        return children;
    }

    /// <summary>
    /// The children of <paramref name="parent"/> created after pid <paramref name="after"/> was handed out: pids are
    /// allocated in sequence (<c>/proc/sys/kernel/ns_last_pid</c>), so only the few pids since are read instead of
    /// every process in /proc — cheap enough to poll every few ms while the master parses a large config. Falls back
    /// to a full scan when the counter is unreadable, wrapped or far ahead.
    /// </summary>
    public static HashSet<int> ChildrenCreatedAfter(int parent, int? after)
    {
        if (after is not { } first || LastPid() is not { } last || last < first || last - first > 2048)
        {
            return ChildrenOf(parent);
        }
        var children = new HashSet<int>();
        for (var pid = first + 1; pid <= last; pid++)
        {
            if (Stat(pid) is { } stat && stat.ParentPid == parent)
            {
                children.Add(pid);
            }
        }
        return children;
    }

    /// <summary>The last pid handed out in this pid namespace, or null where the kernel does not say.</summary>
    public static int? LastPid()
    {
        try
        {
            return int.Parse(File.ReadAllText("/proc/sys/kernel/ns_last_pid").AsSpan().Trim(), NumberStyles.None, CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
            return null;
        }
    }

    /// <summary>
    /// nginx processes (master, workers, cache processes) holding <paramref name="file"/> open — the prefix's error
    /// log identifies the processes of one nginx installation, including workers orphaned by a killed master.
    /// </summary>
    public static List<int> HoldingFile(string file)
    {
        var holders = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || !IsNginx(pid))
            {
                continue;
            }
            try
            {
                if (Directory.EnumerateFileSystemEntries(Path.Combine(directory, "fd")).Any(fd => new FileInfo(fd).LinkTarget == file))
                {
                    holders.Add(pid);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
        return holders;
    }

    /// <summary>Workers that are not shutting down (an old generation draining is titled "worker process is shutting down").</summary>
    public static bool IsActiveWorker(int pid) => Title(pid) is { } title
        && title.Contains("worker process", StringComparison.Ordinal)
        && !title.Contains("shutting down", StringComparison.Ordinal);

    /// <summary>A child freshly forked by the master still carries the master's title until it has initialised.</summary>
    public static bool IsMasterTitled(int pid) => Title(pid)?.StartsWith("nginx: master process", StringComparison.Ordinal) == true;

    /// <summary>The parent pid, or null once the process is gone.</summary>
    public static int? ParentOf(int pid) => Stat(pid)?.ParentPid;

    public static bool IsNginx(int pid) => Title(pid)?.StartsWith("nginx:", StringComparison.Ordinal) == true;

    public static bool IsZombie(int pid) => Stat(pid) is { State: 'Z' };

    /// <summary>The process title nginx sets (e.g. "nginx: worker process").</summary>
    public static string? Title(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static (char State, int ParentPid)? Stat(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            // "pid (comm) S ppid ..." — comm may hold spaces and parentheses, so parse after the last ')'.
            var close = text.LastIndexOf(')');
            var fields = text[(close + 2)..].Split(' ');
            return (fields[0][0], int.Parse(fields[1], CultureInfo.InvariantCulture));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }
}
