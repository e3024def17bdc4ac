using System.Globalization;

namespace NxMesh.Agent.Health;

/// <summary>Host figures from /proc and the state folder's file system: cpu %, memory, disk, load.</summary>
internal sealed class SystemSampler(string diskPath)
{
    private (ulong Busy, ulong Total)? _lastCpu;

    public Protocol.V1.SystemMetrics Sample()
    {
        var metrics = new Protocol.V1.SystemMetrics { CpuPercent = CpuPercent() };
        var memory = ReadMemInfo();
        if (memory.TryGetValue("MemTotal", out var total))
        {
            metrics.MemoryTotalBytes = total * 1024;
            var available = memory.TryGetValue("MemAvailable", out var a) ? a : memory.GetValueOrDefault("MemFree");
            metrics.MemoryUsedBytes = (total - Math.Min(total, available)) * 1024;
        }
        try
        {
            var drive = new DriveInfo(diskPath);
            metrics.DiskTotalBytes = (ulong)drive.TotalSize;
            metrics.DiskUsedBytes = (ulong)(drive.TotalSize - drive.TotalFreeSpace);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
        }
        try
        {
            var load = File.ReadAllText("/proc/loadavg").Split(' ')[0];
            metrics.LoadAverage1M = float.Parse(load, CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or FormatException)
        {
        }
        return metrics;
    }

    /// <summary>Busy share of all cpu time since the previous sample (the first sample: since boot).</summary>
    private float CpuPercent()
    {
        try
        {
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
                .Select(f => ulong.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            // user nice system idle iowait irq softirq steal (guest time is already counted in user).
            var total = fields.Take(8).Aggregate(0UL, (sum, v) => sum + v);
            var idle = fields[3] + fields[4];
            var busy = total - idle;
            var (lastBusy, lastTotal) = _lastCpu ?? (0UL, 0UL);
            _lastCpu = (busy, total);
            var deltaTotal = total - lastTotal;
            return deltaTotal == 0 ? 0 : (float)Math.Round(100.0 * (busy - lastBusy) / deltaTotal, 2);
        }
        catch (Exception ex) when (ex is IOException or FormatException or IndexOutOfRangeException or InvalidOperationException)
        {
            return 0;
        }
    }

    private static Dictionary<string, ulong> ReadMemInfo()
    {
        var values = new Dictionary<string, ulong>();
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                var parts = line.Split(':', 2);
                if (parts.Length == 2 && ulong.TryParse(parts[1].Replace("kB", "", StringComparison.Ordinal).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var kb))
                {
                    values[parts[0]] = kb;
                }
            }
        }
        catch (IOException)
        {
        }
        return values;
    }
}
