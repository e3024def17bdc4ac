using System.Diagnostics;
using System.Globalization;

namespace NxMesh.AgentSim.Stack;

/// <summary>CPU time and RSS of processes from /proc (Linux: clock ticks are 100 per second).</summary>
internal static class ProcStats
{
    private const double TicksPerSecond = 100;

    /// <summary>User + system CPU seconds of a process; 0 when it is gone.</summary>
    public static double CpuSeconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    public static int ParentPid(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return int.Parse(fields[1], CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>Resident set size in bytes (VmRSS); 0 when the process is gone.</summary>
    public static long RssBytes(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    var kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                    return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
        return 0;
    }

    /// <summary>A process and its direct children (Postgres: the postmaster and its backends).</summary>
    public static IReadOnlyList<int> WithChildren(int pid)
    {
        var result = new List<int> { pid };
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var child) && ParentPid(child) == pid)
            {
                result.Add(child);
            }
        }
        return result;
    }

    /// <summary>A process and all its descendants (npx → sh → node autocannon).</summary>
    public static IReadOnlyList<int> WithDescendants(int pid)
    {
        var parents = new Dictionary<int, List<int>>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var child))
            {
                var parent = ParentPid(child);
                if (!parents.TryGetValue(parent, out var children))
                {
                    parents[parent] = children = [];
                }
                children.Add(child);
            }
        }
        var result = new List<int> { pid };
        for (var i = 0; i < result.Count; i++)
        {
            if (parents.TryGetValue(result[i], out var children))
            {
                result.AddRange(children);
            }
        }
        return result;
    }

    /// <summary>Busy CPU seconds of the whole machine, every core (/proc/stat: all but idle and iowait).</summary>
    public static double MachineBusySeconds()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        // user nice system idle iowait irq softirq steal (guest time is already part of user).
        return (fields.Take(8).Sum() - fields[3] - fields[4]) / TicksPerSecond;
    }

    /// <summary>The first process whose program is <paramref name="program"/> and whose command line contains every fragment
    /// (e.g. the postmaster of a port, not the runuser that started it).</summary>
    public static int? Find(string program, params string[] fragments)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }
            try
            {
                var arguments = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
                var commandLine = string.Join(' ', arguments);
                if (Path.GetFileName(arguments[0]) == program && fragments.All(f => commandLine.Contains(f, StringComparison.Ordinal)))
                {
                    return pid;
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
        return null;
    }

    public static double LoadAverage1m()
    {
        var text = File.ReadAllText("/proc/loadavg").Split(' ');
        return double.Parse(text[0], CultureInfo.InvariantCulture);
    }

    public static string LoadAverages() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
}

/// <summary>CPU used by a set of processes over a measured window, as a share of one core.</summary>
internal sealed class CpuWindow
{
    private readonly Func<IReadOnlyList<int>> _pids;
    private readonly Func<double>? _total;
    private readonly double _startCpu;
    private readonly long _start;

    public CpuWindow(Func<IReadOnlyList<int>> pids)
    {
        _pids = pids;
        _startCpu = Total();
        _start = Stopwatch.GetTimestamp();
    }

    /// <summary>A window over any cumulative CPU-seconds counter (e.g. the whole machine).</summary>
    public CpuWindow(Func<double> cpuSeconds)
    {
        _pids = () => [];
        _total = cpuSeconds;
        _startCpu = Total();
        _start = Stopwatch.GetTimestamp();
    }

    private double Total() => _total is { } total ? total() : _pids().Sum(ProcStats.CpuSeconds);

    /// <summary>Percent of one core since the window opened.</summary>
    public double PercentOfOneCore()
    {
        var wall = Stopwatch.GetElapsedTime(_start).TotalSeconds;
        return wall <= 0 ? 0 : (Total() - _startCpu) / wall * 100;
    }
}
