using NxMesh.Agent.Telemetry;
using MetricType = NxMesh.Protocol.V1.MetricType;
using WireRecord = NxMesh.Protocol.V1.AccessLogRecord;

namespace NxMesh.Agent.Tests.Telemetry;

public sealed class AccessLogParsingTests
{
    internal const string Line = """{"time":"2026-03-02T10:30:00+00:00","msec":1772447400.123,"remote_addr":"192.168.1.100","request_method":"POST","request_uri":"/api/error?x=\"1\"","server_protocol":"HTTP/1.1","host":"api.example.com","status":502,"body_bytes_sent":123,"request_length":456,"bytes_sent":789,"request_time":0.151,"upstream_response_time":"0.050, 0.100 : 0.001","http_user_agent":"Mozilla/5.0 (X11)","http_referer":"https://example.com/","request_id":"0123456789abcdef0123456789abcdef","vhost_id":"vh-1"}""";

    [Fact]
    public void A_rendered_log_line_becomes_a_typed_access_record()
    {
        var record = AccessLogRecord.Parse(Line);

        Assert.NotNull(record);
        var wire = record.ToWire();
        Assert.Equal(new WireRecord
        {
            Timestamp = 1772447400123,
            RemoteAddr = "192.168.1.100",
            Method = "POST",
            Uri = "/api/error?x=\"1\"",
            Protocol = "HTTP/1.1",
            Host = "api.example.com",
            Status = 502,
            BodyBytesSent = 123,
            RequestLength = 456,
            BytesSent = 789,
            ResponseTimeMs = 151,
            UpstreamResponseTimeMs = 151,
            UserAgent = "Mozilla/5.0 (X11)",
            Referer = "https://example.com/",
            RequestId = "0123456789abcdef0123456789abcdef",
            VirtualHostId = "vh-1",
        }, wire);
        Assert.Equal("5xx", record.StatusClass);
    }

    [Fact]
    public void A_request_without_upstream_or_virtual_host_leaves_those_fields_out()
    {
        var line = Line.Replace("\"0.050, 0.100 : 0.001\"", "\"-\"", StringComparison.Ordinal).Replace("\"vh-1\"", "\"\"", StringComparison.Ordinal);

        var wire = AccessLogRecord.Parse(line)!.ToWire();

        Assert.False(wire.HasUpstreamResponseTimeMs);
        Assert.Equal("", wire.VirtualHostId);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("{\"status\":")]
    public void Lines_that_are_not_records_are_refused(string line) => Assert.Null(AccessLogRecord.Parse(line));

    [Theory]
    [InlineData("-", null)]
    [InlineData("0.004", 4.0)]
    [InlineData("0.010, 0.020", 30.0)]
    [InlineData("0.001 : -", 1.0)]
    public void Upstream_times_are_summed_over_tries_and_redirects(string value, double? expected) =>
        Assert.Equal(expected, AccessLogRecord.UpstreamMilliseconds(value));

    [Fact]
    public void Metrics_are_deltas_per_virtual_host_and_status_class_with_cumulative_buckets()
    {
        var metrics = new AccessMetrics();
        foreach (var (status, seconds, host) in new[] { (200, 0.004, "a"), (204, 0.2, "a"), (404, 3.0, "a"), (500, 0.02, "b") })
        {
            var line = Line.Replace("\"status\":502", $"\"status\":{status}", StringComparison.Ordinal)
                .Replace("\"request_time\":0.151", FormattableString.Invariant($"\"request_time\":{seconds}"), StringComparison.Ordinal)
                .Replace("\"vh-1\"", $"\"{host}\"", StringComparison.Ordinal);
            metrics.Observe(AccessLogRecord.Parse(line)!);
        }
        metrics.ObserveUnparsed(2);

        var drained = metrics.Drain(1000);

        double Value(string name, string host, params (string Key, string Value)[] labels) => drained.Single(m => m.Name == name
            && m.Labels[AccessMetrics.VirtualHostLabel] == host && labels.All(l => m.Labels[l.Key] == l.Value)).Value;
        Assert.Equal(2, Value(AccessMetrics.RequestsTotal, "a", ("status_class", "2xx")));
        Assert.Equal(1, Value(AccessMetrics.RequestsTotal, "a", ("status_class", "4xx")));
        Assert.Equal(1, Value(AccessMetrics.RequestsTotal, "b", ("status_class", "5xx")));
        Assert.Equal(3 * 456, Value(AccessMetrics.RequestBytesTotal, "a"));
        Assert.Equal(3 * 789, Value(AccessMetrics.ResponseBytesTotal, "a"));
        Assert.Equal(1, Value(AccessMetrics.DurationBucket, "a", ("le", "0.005")));
        Assert.Equal(1, Value(AccessMetrics.DurationBucket, "a", ("le", "0.1")));
        Assert.Equal(2, Value(AccessMetrics.DurationBucket, "a", ("le", "0.25")));
        Assert.Equal(2, Value(AccessMetrics.DurationBucket, "a", ("le", "2.5")));
        Assert.Equal(3, Value(AccessMetrics.DurationBucket, "a", ("le", "5")));
        Assert.Equal(3, Value(AccessMetrics.DurationBucket, "a", ("le", "+Inf")));
        Assert.Equal(3, Value(AccessMetrics.DurationCount, "a"));
        Assert.Equal(3.204, Value(AccessMetrics.DurationSum, "a"), 6);
        Assert.All(drained.Where(m => m.Name == AccessMetrics.DurationBucket), m => Assert.Equal(MetricType.Histogram, m.Type));
        Assert.All(drained.Where(m => m.Name == AccessMetrics.RequestsTotal), m => Assert.Equal(MetricType.Counter, m.Type));
        Assert.Equal(2, drained.Single(m => m.Name == AccessMetrics.UnparsedLines).Value);
        Assert.Empty(metrics.Drain(2000));
    }

    [Fact]
    public void Stub_status_is_parsed_into_its_seven_numbers()
    {
        var stub = IntervalMetrics.ParseStubStatus("Active connections: 2 \nserver accepts handled requests\n 10 9 30 \nReading: 0 Writing: 1 Waiting: 1 \n");

        Assert.Equal(new IntervalMetrics.StubStatus(2, 10, 9, 30, 0, 1, 1), stub);
        Assert.Null(IntervalMetrics.ParseStubStatus("<html>404</html>"));
    }
}
