using System.Globalization;
using NxMesh.Protocol.V1;

namespace NxMesh.Agent.Telemetry;

/// <summary>
/// Per-interval aggregation of access-log records: requests by virtual host and status class, bytes in and out, and
/// the response-time histogram (cumulative buckets, Prometheus style). <see cref="Drain"/> returns the deltas since
/// the previous drain; series without traffic in the interval are left out (their delta is 0).
/// </summary>
internal sealed class AccessMetrics
{
    public const string RequestsTotal = "nginx_http_requests_total";
    public const string RequestBytesTotal = "nginx_http_request_bytes_total";
    public const string ResponseBytesTotal = "nginx_http_response_bytes_total";
    public const string DurationBucket = "nginx_http_request_duration_seconds_bucket";
    public const string DurationSum = "nginx_http_request_duration_seconds_sum";
    public const string DurationCount = "nginx_http_request_duration_seconds_count";
    public const string UnparsedLines = "nxmesh_agent_access_log_unparsed_lines_total";
    public const string VirtualHostLabel = "virtual_host_id";

    /// <summary>Upper bounds (seconds) of the response-time buckets; "+Inf" follows.</summary>
    public static readonly double[] BucketBounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly Lock _gate = new();
    private Dictionary<string, VirtualHostCounts> _hosts = new(StringComparer.Ordinal);
    private long _unparsed;

    public void Observe(AccessLogRecord record)
    {
        lock (_gate)
        {
            if (!_hosts.TryGetValue(record.VirtualHostId, out var counts))
            {
                _hosts[record.VirtualHostId] = counts = new VirtualHostCounts();
            }
            counts.ByStatusClass[record.StatusClass] = counts.ByStatusClass.GetValueOrDefault(record.StatusClass) + 1;
            counts.BytesIn += record.RequestLength;
            counts.BytesOut += record.BytesSent;
            var seconds = record.ResponseTimeMs / 1000;
            counts.DurationSum += seconds;
            counts.Count++;
            for (var i = 0; i < BucketBounds.Length; i++)
            {
                if (seconds <= BucketBounds[i])
                {
                    counts.Buckets[i]++;
                }
            }
        }
    }

    public void ObserveUnparsed(int lines)
    {
        lock (_gate)
        {
            _unparsed += lines;
        }
    }

    public List<Metric> Drain(long timestamp)
    {
        Dictionary<string, VirtualHostCounts> hosts;
        long unparsed;
        lock (_gate)
        {
            (hosts, _hosts) = (_hosts, new Dictionary<string, VirtualHostCounts>(StringComparer.Ordinal));
            (unparsed, _unparsed) = (_unparsed, 0);
        }
        var metrics = new List<Metric>();
        foreach (var (host, counts) in hosts.OrderBy(h => h.Key, StringComparer.Ordinal))
        {
            foreach (var (statusClass, count) in counts.ByStatusClass.OrderBy(s => s.Key, StringComparer.Ordinal))
            {
                metrics.Add(Metric(RequestsTotal, count, MetricType.Counter, timestamp, host, ("status_class", statusClass)));
            }
            metrics.Add(Metric(RequestBytesTotal, counts.BytesIn, MetricType.Counter, timestamp, host));
            metrics.Add(Metric(ResponseBytesTotal, counts.BytesOut, MetricType.Counter, timestamp, host));
            for (var i = 0; i < BucketBounds.Length; i++)
            {
                metrics.Add(Metric(DurationBucket, counts.Buckets[i], MetricType.Histogram, timestamp, host, ("le", BucketBounds[i].ToString(CultureInfo.InvariantCulture))));
            }
            metrics.Add(Metric(DurationBucket, counts.Count, MetricType.Histogram, timestamp, host, ("le", "+Inf")));
            metrics.Add(Metric(DurationSum, Math.Round(counts.DurationSum, 6), MetricType.Counter, timestamp, host));
            metrics.Add(Metric(DurationCount, counts.Count, MetricType.Counter, timestamp, host));
        }
        if (unparsed > 0)
        {
            metrics.Add(new Metric { Name = UnparsedLines, Value = unparsed, Type = MetricType.Counter, Timestamp = timestamp });
        }
        return metrics;
    }

    private static Metric Metric(string name, double value, MetricType type, long timestamp, string host, params (string Key, string Value)[] labels)
    {
        var metric = new Metric { Name = name, Value = value, Type = type, Timestamp = timestamp };
        metric.Labels[VirtualHostLabel] = host;
        foreach (var (key, labelValue) in labels)
        {
            metric.Labels[key] = labelValue;
        }
        return metric;
    }

    private sealed class VirtualHostCounts
    {
        public Dictionary<string, long> ByStatusClass { get; } = new(StringComparer.Ordinal);
        public long BytesIn { get; set; }
        public long BytesOut { get; set; }
        public long[] Buckets { get; } = new long[BucketBounds.Length];
        public double DurationSum { get; set; }
        public long Count { get; set; }
    }
}
