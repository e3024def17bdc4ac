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
    private readonly double _startCpu;
    private readonly long _start;

    public CpuWindow(Func<IReadOnlyList<int>> pids)
    {
        _pids = pids;
        _startCpu = Total();
        _start = Stopwatch.GetTimestamp();
    }

    private double Total() => _pids().Sum(ProcStats.CpuSeconds);

    /// <summary>Percent of one core since the window opened.</summary>
    public double PercentOfOneCore()
    {
        var wall = Stopwatch.GetElapsedTime(_start).TotalSeconds;
        return wall <= 0 ? 0 : (Total() - _startCpu) / wall * 100;
    }
}
