using System.Globalization;
using System.Text.Json;
using NxMesh.Protocol.V1;

namespace NxMesh.Agent.Telemetry;

/// <summary>
/// One line of the rendered JSON access log (<c>nxmesh_json</c>, see NxMesh.Nginx/README.md) as the spec's
/// access-log record: a <see cref="LogEntry"/> with level "access" and the record in <c>fields</c>.
/// </summary>
internal sealed record AccessLogRecord(
    long TimestampMs, string RemoteAddr, string Method, string Uri, string Protocol, string Host, int Status,
    long BodyBytesSent, long RequestLength, long BytesSent, double ResponseTimeMs, double? UpstreamResponseTimeMs,
    string UserAgent, string Referer, string RequestId, string VirtualHostId)
{
    public const string Level = "access";

    /// <summary>The record, or null for a line that is not one of ours (counted by the caller).</summary>
    public static AccessLogRecord? Parse(string line)
    {
        try
        {
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return null;
            }
            var timestamp = Number(root, "msec") is { } msec
                ? (long)Math.Round(msec * 1000)
                : DateTimeOffset.TryParse(Text(root, "time"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time) ? time.ToUnixTimeMilliseconds() : 0;
            return new AccessLogRecord(
                timestamp,
                Text(root, "remote_addr"),
                Text(root, "request_method"),
                Text(root, "request_uri"),
                Text(root, "server_protocol"),
                Text(root, "host"),
                (int)(Number(root, "status") ?? 0),
                (long)(Number(root, "body_bytes_sent") ?? 0),
                (long)(Number(root, "request_length") ?? 0),
                (long)(Number(root, "bytes_sent") ?? 0),
                (Number(root, "request_time") ?? 0) * 1000,
                UpstreamMilliseconds(Text(root, "upstream_response_time")),
                Text(root, "http_user_agent"),
                Text(root, "http_referer"),
                Text(root, "request_id"),
                Text(root, "vhost_id"));
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>"2xx" … "5xx"; anything outside 100–599 is "other".</summary>
    public string StatusClass => Status is >= 100 and < 600 ? $"{Status / 100}xx" : "other";

    public LogEntry ToLogEntry()
    {
        var entry = new LogEntry { Timestamp = TimestampMs, Level = Level, Message = $"{Method} {Uri} {Status.ToString(CultureInfo.InvariantCulture)}" };
        var fields = entry.Fields;
        fields["timestamp"] = DateTimeOffset.FromUnixTimeMilliseconds(TimestampMs).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        fields["remote_addr"] = RemoteAddr;
        fields["method"] = Method;
        fields["uri"] = Uri;
        fields["protocol"] = Protocol;
        fields["host"] = Host;
        fields["status"] = Status.ToString(CultureInfo.InvariantCulture);
        fields["body_bytes_sent"] = BodyBytesSent.ToString(CultureInfo.InvariantCulture);
        fields["response_time_ms"] = ResponseTimeMs.ToString("0.###", CultureInfo.InvariantCulture);
        fields["user_agent"] = UserAgent;
        fields["referer"] = Referer;
        fields["request_id"] = RequestId;
        fields["request_length"] = RequestLength.ToString(CultureInfo.InvariantCulture);
        fields["bytes_sent"] = BytesSent.ToString(CultureInfo.InvariantCulture);
        if (UpstreamResponseTimeMs is { } upstream)
        {
            fields["upstream_response_time_ms"] = upstream.ToString("0.###", CultureInfo.InvariantCulture);
        }
        if (VirtualHostId.Length > 0)
        {
            fields["virtual_host_id"] = VirtualHostId;
        }
        return entry;
    }

    /// <summary>
    /// nginx lists one time per upstream tried (", ") and per internal redirect (" : "); "-" means no upstream
    /// answered. The sum is the time spent waiting on upstreams.
    /// </summary>
    internal static double? UpstreamMilliseconds(string value)
    {
        double? total = null;
        foreach (var part in value.Split([',', ':'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
            {
                total = (total ?? 0) + (seconds * 1000);
            }
        }
        return total is { } t ? Math.Round(t, 3) : null;
    }

    private static string Text(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) ? value.ValueKind switch
        {
            JsonValueKind.String => value.GetString() ?? "",
            JsonValueKind.Number => value.GetRawText(),
            _ => "",
        } : "";

    private static double? Number(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var value))
        {
            return null;
        }
        return value.ValueKind switch
        {
            JsonValueKind.Number when value.TryGetDouble(out var number) => number,
            JsonValueKind.String when double.TryParse(value.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var number) => number,
            _ => null,
        };
    }
}
