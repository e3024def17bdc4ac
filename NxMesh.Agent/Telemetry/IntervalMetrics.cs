using System.Globalization;
using System.Text.RegularExpressions;
using NxMesh.Agent.Health;
using NxMesh.Agent.Upstreams;
using NxMesh.Nginx;
using NxMesh.Protocol.V1;

namespace NxMesh.Agent.Telemetry;

/// <summary>
/// The metrics sampled once per interval (not derived from the access log): nginx's stub_status, the host, the
/// upstream probes and the telemetry buffer itself. Counters are sent as deltas since the previous sample; the
/// first sample after a start, and one after nginx's counters went backwards (a restart), only sets the baseline.
/// </summary>
internal sealed partial class IntervalMetrics : IDisposable
{
    public const string ConnectionsActive = "nginx_connections_active";
    public const string ConnectionsReading = "nginx_connections_reading";
    public const string ConnectionsWriting = "nginx_connections_writing";
    public const string ConnectionsWaiting = "nginx_connections_waiting";
    public const string ConnectionsAccepted = "nginx_connections_accepted_total";
    public const string ConnectionsHandled = "nginx_connections_handled_total";
    public const string RequestsHandled = "nginx_requests_handled_total";
    public const string RequestsPerSecond = "nginx_requests_per_second";
    public const string NginxUp = "nginx_up";
    public const string UpstreamServerHealthy = "nginx_upstream_server_healthy";
    public const string DroppedBatches = "nxmesh_agent_telemetry_dropped_batches_total";
    public const string DroppedItems = "nxmesh_agent_telemetry_dropped_items_total";
    public const string BufferedBytes = "nxmesh_agent_telemetry_buffered_bytes";

    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(2) };
    private readonly SystemSampler _system;
    private readonly int _stubStatusPort;
    private readonly Dictionary<string, ulong> _lastCounters = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Kind, string Reason), (long Batches, long Items)> _lastDropped = [];
    private long? _lastSampleTimestamp;

    public IntervalMetrics(string stateDirectory, int stubStatusPort)
    {
        _system = new SystemSampler(stateDirectory);
        _stubStatusPort = stubStatusPort;
    }

    public async Task<List<Metric>> SampleNginxAsync(bool running, long timestamp, TimeProvider time, CancellationToken cancellationToken)
    {
        var metrics = new List<Metric> { Gauge(NginxUp, running ? 1 : 0, timestamp) };
        var now = time.GetTimestamp();
        var elapsed = _lastSampleTimestamp is { } last ? time.GetElapsedTime(last, now).TotalSeconds : 0;
        _lastSampleTimestamp = now;
        if (!running || await ReadStubStatusAsync(cancellationToken) is not { } stub)
        {
            return metrics;
        }
        metrics.Add(Gauge(ConnectionsActive, stub.Active, timestamp));
        metrics.Add(Gauge(ConnectionsReading, stub.Reading, timestamp));
        metrics.Add(Gauge(ConnectionsWriting, stub.Writing, timestamp));
        metrics.Add(Gauge(ConnectionsWaiting, stub.Waiting, timestamp));
        AddDelta(metrics, ConnectionsAccepted, stub.Accepted, timestamp);
        AddDelta(metrics, ConnectionsHandled, stub.Handled, timestamp);
        if (AddDelta(metrics, RequestsHandled, stub.Requests, timestamp) is { } requests && elapsed > 0)
        {
            metrics.Add(Gauge(RequestsPerSecond, Math.Round(requests / elapsed, 3), timestamp));
        }
        return metrics;
    }

    public List<Metric> SampleSystem(long timestamp)
    {
        var system = _system.Sample();
        return
        [
            Gauge("system_cpu_percent", system.CpuPercent, timestamp),
            Gauge("system_memory_used_bytes", system.MemoryUsedBytes, timestamp),
            Gauge("system_memory_total_bytes", system.MemoryTotalBytes, timestamp),
            Gauge("system_disk_used_bytes", system.DiskUsedBytes, timestamp),
            Gauge("system_disk_total_bytes", system.DiskTotalBytes, timestamp),
            Gauge("system_load_average_1m", Math.Round(system.LoadAverage1M, 3), timestamp),
        ];
    }

    public static List<Metric> SampleUpstreams(IReadOnlyList<UpstreamServerHealth> servers, long timestamp) =>
        [.. servers.Where(s => s.Health != ServerHealth.Unknown).Select(s =>
        {
            var metric = Gauge(UpstreamServerHealthy, s.Health == ServerHealth.Healthy ? 1 : 0, timestamp);
            metric.Labels["upstream_id"] = s.UpstreamId;
            metric.Labels["address"] = s.Address;
            return metric;
        })];

    /// <summary>Buffer gauges and the drop counters' deltas; returns the deltas so the caller can report them as an event.</summary>
    public List<Metric> SampleBuffer(TelemetryBuffer buffer, long timestamp, out List<(string Kind, string Reason, long Batches, long Items)> newDrops)
    {
        var memory = Gauge(BufferedBytes, buffer.MemoryBytes, timestamp);
        memory.Labels["location"] = "memory";
        var spool = Gauge(BufferedBytes, buffer.SpoolBytes, timestamp);
        spool.Labels["location"] = "spool";
        var metrics = new List<Metric> { memory, spool };
        newDrops = [];
        foreach (var ((kind, reason), (batches, items)) in buffer.Dropped.OrderBy(d => d.Key))
        {
            var (lastBatches, lastItems) = _lastDropped.GetValueOrDefault((kind, reason));
            _lastDropped[(kind, reason)] = (batches, items);
            if (batches == lastBatches)
            {
                continue;
            }
            newDrops.Add((kind, reason, batches - lastBatches, items - lastItems));
            foreach (var (name, value) in new[] { (DroppedBatches, batches - lastBatches), (DroppedItems, items - lastItems) })
            {
                var metric = new Metric { Name = name, Value = value, Type = MetricType.Counter, Timestamp = timestamp };
                metric.Labels["kind"] = kind;
                metric.Labels["reason"] = reason;
                metrics.Add(metric);
            }
        }
        return metrics;
    }

    public void Dispose() => _http.Dispose();

    /// <summary>"Active connections: 2 \nserver accepts handled requests\n 10 10 30 \nReading: 0 Writing: 1 Waiting: 1 ".</summary>
    internal static StubStatus? ParseStubStatus(string text)
    {
        var match = StubStatusPattern().Match(text);
        if (!match.Success)
        {
            return null;
        }
        ulong Group(int i) => ulong.Parse(match.Groups[i].Value, CultureInfo.InvariantCulture);
        return new StubStatus(Group(1), Group(2), Group(3), Group(4), Group(5), Group(6), Group(7));
    }

    private double? AddDelta(List<Metric> metrics, string name, ulong value, long timestamp)
    {
        var had = _lastCounters.TryGetValue(name, out var last);
        _lastCounters[name] = value;
        if (!had || value < last)
        {
            return null;
        }
        metrics.Add(new Metric { Name = name, Value = value - last, Type = MetricType.Counter, Timestamp = timestamp });
        return value - last;
    }

    private async Task<StubStatus?> ReadStubStatusAsync(CancellationToken cancellationToken)
    {
        try
        {
            return ParseStubStatus(await _http.GetStringAsync($"http://127.0.0.1:{_stubStatusPort}{BaseConfigRenderer.StubStatusPath}", cancellationToken));
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    private static Metric Gauge(string name, double value, long timestamp) => new() { Name = name, Value = value, Type = MetricType.Gauge, Timestamp = timestamp };

    internal sealed record StubStatus(ulong Active, ulong Accepted, ulong Handled, ulong Requests, ulong Reading, ulong Writing, ulong Waiting);

    [GeneratedRegex(@"Active connections:\s*(\d+)\s+server accepts handled requests\s+(\d+)\s+(\d+)\s+(\d+)\s+Reading:\s*(\d+)\s+Writing:\s*(\d+)\s+Waiting:\s*(\d+)")]
    private static partial Regex StubStatusPattern();
}
