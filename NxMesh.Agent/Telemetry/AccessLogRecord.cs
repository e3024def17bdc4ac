using System.Globalization;
using System.Text.Json;
using WireRecord = NxMesh.Protocol.V1.AccessLogRecord;

namespace NxMesh.Agent.Telemetry;

/// <summary>
/// One line of the rendered JSON access log (<c>nxmesh_json</c>, see NxMesh.Nginx/README.md), the spec's access-log
/// record; shipped as a typed <c>LogBatch.access</c> entry (the older <c>LogEntry</c> map form is what agents before
/// that addition sent).
/// </summary>
internal sealed record AccessLogRecord(
    long TimestampMs, string RemoteAddr, string Method, string Uri, string Protocol, string Host, int Status,
    long BodyBytesSent, long RequestLength, long BytesSent, double ResponseTimeMs, double? UpstreamResponseTimeMs,
    string UserAgent, string Referer, string RequestId, string VirtualHostId)
{
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

    /// <summary>The record as the protocol's typed <c>LogBatch.access</c> entry (empty strings mean absent).</summary>
    public WireRecord ToWire()
    {
        var wire = new WireRecord
        {
            Timestamp = TimestampMs,
            RemoteAddr = RemoteAddr,
            Method = Method,
            Uri = Uri,
            Protocol = Protocol,
            Host = Host,
            Status = Status,
            BodyBytesSent = BodyBytesSent,
            BytesSent = BytesSent,
            RequestLength = RequestLength,
            ResponseTimeMs = ResponseTimeMs,
            UserAgent = UserAgent,
            Referer = Referer,
            RequestId = RequestId,
            VirtualHostId = VirtualHostId,
        };
        if (UpstreamResponseTimeMs is { } upstream)
        {
            wire.UpstreamResponseTimeMs = upstream;
        }
        return wire;
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
