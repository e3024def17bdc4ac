using System.Globalization;
using Google.Protobuf.Collections;
using NxMesh.Protocol.V1;

namespace NxMesh.AgentHub.Telemetry;

/// <summary>One access-log line as stored (the spec's fields plus sizes, upstream time and the virtual host).</summary>
internal readonly record struct AccessLogRow(
    Guid Id, DateTimeOffset Timestamp, Guid? VirtualHostId, string? RemoteAddr, string? Method, string? Uri, string? Protocol,
    string? Host, int Status, long BodyBytesSent, long RequestLength, long BytesSent, double ResponseTimeMs,
    double? UpstreamResponseTimeMs, string? UserAgent, string? Referer, string? RequestId);

internal sealed record MetricRow(string Name, int Type, double Value, string LabelsJson, DateTimeOffset Timestamp);

/// <summary>Turns protocol messages into rows. Lenient: a missing or malformed field is stored empty, never refused.</summary>
internal static class TelemetryRows
{
    public const string AccessLevel = "access";
    /// <summary>The gauges that feed active_connections in the rollups (first present wins).</summary>
    public static readonly string[] ActiveConnectionMetrics = ["nginx_connections_active", "active_connections", "nginx_active_connections"];
    private const int MaxText = 8192;

    /// <summary>The batch's typed records (<c>access</c>) and its map-form entries with level "access" (older agents).</summary>
    public static List<AccessLogRow> AccessLogs(LogBatch batch, DateTimeOffset now)
    {
        var rows = new List<AccessLogRow>(batch.Access.Count + batch.Entries.Count);
        foreach (var record in batch.Access)
        {
            var timestamp = record.Timestamp > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(record.Timestamp) : now;
            rows.Add(new AccessLogRow(
                Guid.CreateVersion7(timestamp),
                timestamp,
                record.VirtualHostId.Length > 0 && Guid.TryParse(record.VirtualHostId, out var vhost) ? vhost : null,
                Text(record.RemoteAddr),
                Text(record.Method),
                Text(record.Uri),
                Text(record.Protocol),
                Text(record.Host),
                record.Status,
                record.BodyBytesSent,
                record.RequestLength,
                record.BytesSent,
                double.IsFinite(record.ResponseTimeMs) ? record.ResponseTimeMs : 0,
                record.HasUpstreamResponseTimeMs && double.IsFinite(record.UpstreamResponseTimeMs) ? record.UpstreamResponseTimeMs : null,
                Text(record.UserAgent),
                Text(record.Referer),
                Text(record.RequestId)));
        }
        foreach (var entry in batch.Entries)
        {
            if (!string.Equals(entry.Level, AccessLevel, StringComparison.OrdinalIgnoreCase))
            {
                // The agent's own diagnostics: not access-log data.
                continue;
            }
            var f = entry.Fields;
            var timestamp = Time(Text(f, "timestamp"))
                ?? (entry.Timestamp > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(entry.Timestamp) : now);
            rows.Add(new AccessLogRow(
                Guid.CreateVersion7(timestamp),
                timestamp,
                Guid.TryParse(Text(f, "virtual_host_id"), out var vhost) ? vhost : null,
                Text(f, "remote_addr"),
                Text(f, "method"),
                Text(f, "uri"),
                Text(f, "protocol"),
                Text(f, "host"),
                (int)(Long(f, "status") ?? 0),
                Long(f, "body_bytes_sent") ?? 0,
                Long(f, "request_length") ?? 0,
                Long(f, "bytes_sent") ?? 0,
                Double(f, "response_time_ms") ?? 0,
                Double(f, "upstream_response_time_ms"),
                Text(f, "user_agent"),
                Text(f, "referer"),
                Text(f, "request_id")));
        }
        return rows;
    }

    public static List<MetricRow> Metrics(MetricsBatch batch, DateTimeOffset now)
    {
        var batchTime = batch.Timestamp > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(batch.Timestamp) : now;
        var rows = new List<MetricRow>(batch.Metrics.Count);
        foreach (var metric in batch.Metrics)
        {
            var labels = new System.Text.Json.Nodes.JsonObject();
            foreach (var (key, value) in metric.Labels.OrderBy(l => l.Key, StringComparer.Ordinal))
            {
                labels[Clean(key)] = Clean(value);
            }
            rows.Add(new MetricRow(Clean(metric.Name.Length > 128 ? metric.Name[..128] : metric.Name), (int)metric.Type, metric.Value,
                labels.ToJsonString(), metric.Timestamp > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(metric.Timestamp) : batchTime));
        }
        return rows;
    }

    /// <summary>Unix ms, Unix seconds with a fraction (nginx $msec), or ISO 8601.</summary>
    private static DateTimeOffset? Time(string? value)
    {
        if (value is null)
        {
            return null;
        }
        if (long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms) && ms > 100_000_000_000)
        {
            return DateTimeOffset.FromUnixTimeMilliseconds(ms);
        }
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds > 0)
        {
            return DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Round(seconds * 1000));
        }
        return DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed)
            ? parsed.ToUniversalTime()
            : null;
    }

    private static string? Text(MapField<string, string> fields, string key) => fields.TryGetValue(key, out var value) ? Text(value) : null;

    /// <summary>Empty and nginx's "-" are absent; longer than <see cref="MaxText"/> is cut.</summary>
    private static string? Text(string value) =>
        value.Length > 0 && value != "-" ? Clean(value.Length > MaxText ? value[..MaxText] : value) : null;

    private static long? Long(MapField<string, string> fields, string key)
    {
        if (Text(fields, key) is not { } text)
        {
            return null;
        }
        // nginx writes integers; the float parse is the lenient fallback.
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
        {
            return integer;
        }
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value is >= long.MinValue and <= long.MaxValue
            ? (long)value : null;
    }

    /// <summary>nginx writes "0.012, 0.004" when several upstreams were tried: their sum.</summary>
    private static double? Double(MapField<string, string> fields, string key)
    {
        if (Text(fields, key) is not { } text)
        {
            return null;
        }
        double? sum = null;
        foreach (var part in text.Split([',', ':'], StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value))
            {
                sum = (sum ?? 0) + value;
            }
        }
        return sum;
    }

    /// <summary>Postgres text cannot hold NUL.</summary>
    private static string Clean(string value) => value.Contains('\0', StringComparison.Ordinal) ? value.Replace("\0", "", StringComparison.Ordinal) : value;
}
