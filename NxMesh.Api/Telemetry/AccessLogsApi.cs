using System.Buffers.Binary;
using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using NxMesh.Api.Platform;
using NxMesh.Data;
using NxMesh.Data.Entities;
using NxMesh.Nginx.Validation;

namespace NxMesh.Api.Telemetry;

/// <summary>One access-log line: the spec's fields plus sizes, upstream time and the virtual host.</summary>
public sealed record AccessLogResponse(
    Guid Id, Guid AgentId, DateTimeOffset Timestamp, string? RemoteAddr, string? Method, string? Uri, string? Protocol, string? Host,
    int Status, long BodyBytesSent, double ResponseTimeMs, string? UserAgent, string? Referer, string? RequestId,
    Guid? VirtualHostId, long RequestLength, long BytesSent, double? UpstreamResponseTimeMs);

/// <summary>
/// <c>total</c>: lines matching the filters in the window (regardless of the cursor), counted up to
/// <see cref="AccessLogsApi.TotalCap"/>; <c>total_capped</c> says the real number is at least that.
/// <c>next_cursor</c>: pass as <c>cursor</c> for the next (older) page; null on the last page.
/// </summary>
public sealed record AccessLogMeta(int Total, bool TotalCapped, int Limit, string? NextCursor);

public sealed record AccessLogPage(IReadOnlyList<AccessLogResponse> Data, AccessLogMeta Meta);

public readonly record struct AccessLogQuery(
    [property: FromQuery(Name = "from")] string? From,
    [property: FromQuery(Name = "to")] string? To,
    [property: FromQuery(Name = "status_code")] string? StatusCode,
    [property: FromQuery(Name = "agent_id")] string? AgentId,
    [property: FromQuery(Name = "host")] string? Host,
    [property: FromQuery(Name = "method")] string? Method,
    [property: FromQuery(Name = "uri")] string? Uri,
    [property: FromQuery(Name = "remote_addr")] string? RemoteAddr,
    [property: FromQuery(Name = "limit")] string? Limit,
    [property: FromQuery(Name = "cursor")] string? Cursor);

public static class AccessLogsApi
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;
    public const int TotalCap = 10_000;

    public static void MapAccessLogsApi(this IEndpointRouteBuilder routes) =>
        routes.MapGet("/workspaces/{workspace_id:guid}/access-logs", QueryAsync).WithTags("Access Logs").WithName("QueryAccessLogs")
            .WithSummary("Access-log lines of the workspace, newest first; from/to (default: the last hour), status_code (500 or 5xx), agent_id, host, method, uri (prefix), remote_addr, limit (1–1000, 100), cursor; meta.total counted up to 10000 (total_capped)");

    private static async Task<Ok<AccessLogPage>> QueryAsync([FromRoute(Name = "workspace_id")] Guid workspaceId, [AsParameters] AccessLogQuery q,
        NxMeshDbContext db, TenantAccess access, TimeProvider time, CancellationToken cancellationToken)
    {
        var v = new Validator();
        var (from, to) = TelemetryQuery.Window(v, q.From, q.To, time.GetUtcNow());
        var filters = new List<string> { "workspace_id = $1", "\"timestamp\" >= $2", "\"timestamp\" < $3" };
        var values = new List<object> { workspaceId, from, to };
        void Filter(string sql, object value)
        {
            values.Add(value);
            filters.Add(sql.Replace("@", "$" + values.Count.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
        }

        if (q.StatusCode is { } status)
        {
            if (status.Length == 3 && status[0] is >= '1' and <= '5' && status[1..].Equals("xx", StringComparison.OrdinalIgnoreCase))
            {
                // The class as its 100 codes: with = ANY the (workspace_id, status, timestamp) index is entered once per
                // code within the window, where a range on status would walk every code's entries of the whole day.
                var low = (status[0] - '0') * 100;
                Filter("status = ANY(@)", Enumerable.Range(low, 100).ToArray());
            }
            else if (int.TryParse(status, NumberStyles.None, CultureInfo.InvariantCulture, out var code) && code is >= 100 and <= 599)
            {
                Filter("status = @", code);
            }
            else
            {
                v.Add("status_code", ValidationCodes.InvalidFormat, "status_code must be a status (100–599) or a class such as 5xx");
            }
        }
        if (q.AgentId is { } agent)
        {
            if (Guid.TryParse(agent, out var agentId))
            {
                Filter("agent_id = @", agentId);
            }
            else
            {
                v.Add("agent_id", ValidationCodes.InvalidFormat, "agent_id must be a UUID");
            }
        }
        Text(v, "host", q.Host, 255, value => Filter("host = @", value.ToLowerInvariant()));
        Text(v, "method", q.Method, 32, value => Filter("method = @", value.ToUpperInvariant()));
        // LIKE 'prefix%' (wildcards escaped) rather than starts_with(): the (workspace_id, uri text_pattern_ops, timestamp)
        // index serves it; the statement is unprepared, so Postgres plans with the prefix itself.
        Text(v, "uri", q.Uri, 2048, value => Filter("uri LIKE @", LikePrefix(value)));
        Text(v, "remote_addr", q.RemoteAddr, 64, value => Filter("remote_addr = @", value));
        var limit = DefaultLimit;
        if (q.Limit is { } limitText && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxLimit))
        {
            v.Add("limit", ValidationCodes.OutOfRange, $"limit must be between 1 and {MaxLimit}");
        }
        var countFilters = filters.ToList();
        var countValues = values.Count;
        if (q.Cursor is { } cursorText)
        {
            if (Cursor.TryParse(cursorText) is { } cursor)
            {
                values.Add(cursor.Timestamp);
                values.Add(cursor.Id);
                filters.Add($"(\"timestamp\", id) < (${values.Count - 1}, ${values.Count})");
            }
            else
            {
                v.Add("cursor", ValidationCodes.InvalidFormat, "cursor must be a next_cursor value from a previous page");
            }
        }
        v.ThrowIfInvalid();
        await access.WorkspaceAsync(workspaceId, OrganizationRole.Viewer, cancellationToken);

        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync(cancellationToken);
        int total;
        await using (var count = new NpgsqlCommand($"""
            SELECT count(*) FROM (SELECT 1 FROM access_log_entries WHERE {string.Join(" AND ", countFilters)} LIMIT {TotalCap + 1}) matching
            """, connection))
        {
            foreach (var value in values.Take(countValues))
            {
                count.Parameters.Add(new NpgsqlParameter { Value = value });
            }
            total = (int)(long)(await count.ExecuteScalarAsync(cancellationToken))!;
        }
        var rows = new List<AccessLogResponse>();
        string? next = null;
        // The capped count goes first: a filter combination that matches nothing in the window (which its index can only
        // tell by walking the window's entries of the leading filter) is answered by that index-only count alone,
        // rather than by a page scan that fetches every such row from the table to find none.
        if (total > 0)
        {
            await using (var command = new NpgsqlCommand($"""
                SELECT id, agent_id, "timestamp", remote_addr, method, uri, protocol, host, status, body_bytes_sent, response_time_ms,
                       user_agent, referer, request_id, virtual_host_id, request_length, bytes_sent, upstream_response_time_ms
                FROM access_log_entries WHERE {string.Join(" AND ", filters)}
                ORDER BY "timestamp" DESC, id DESC LIMIT {limit + 1}
                """, connection))
            {
                foreach (var value in values)
                {
                    command.Parameters.Add(new NpgsqlParameter { Value = value });
                }
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    rows.Add(new AccessLogResponse(reader.GetGuid(0), reader.GetGuid(1), reader.GetFieldValue<DateTimeOffset>(2), Str(reader, 3), Str(reader, 4),
                        Str(reader, 5), Str(reader, 6), Str(reader, 7), reader.GetInt32(8), reader.GetInt64(9), reader.GetDouble(10), Str(reader, 11),
                        Str(reader, 12), Str(reader, 13), reader.IsDBNull(14) ? null : reader.GetGuid(14), reader.GetInt64(15), reader.GetInt64(16),
                        reader.IsDBNull(17) ? null : reader.GetDouble(17)));
                }
            }
            if (rows.Count > limit)
            {
                rows.RemoveAt(limit);
                next = new Cursor(rows[^1].Timestamp, rows[^1].Id).ToString();
            }
        }
        return TypedResults.Ok(new AccessLogPage(rows, new AccessLogMeta(Math.Min(total, TotalCap), total > TotalCap, limit, next)));
    }

    private static void Text(Validator v, string field, string? value, int maxLength, Action<string> add)
    {
        if (value is null)
        {
            return;
        }
        if (value.Length == 0 || value.Length > maxLength || value.Any(char.IsControl))
        {
            v.Add(field, ValidationCodes.InvalidFormat, $"{field} must be 1–{maxLength} characters without control characters");
            return;
        }
        add(value);
    }

    /// <summary>A LIKE pattern matching strings that start with <paramref name="prefix"/> (backslash is LIKE's default escape).</summary>
    internal static string LikePrefix(string prefix) =>
        prefix.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("%", @"\%", StringComparison.Ordinal).Replace("_", @"\_", StringComparison.Ordinal) + "%";

    private static string? Str(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    /// <summary>The position after the last line of a page: (timestamp in µs, id), base64url.</summary>
    private sealed record Cursor(DateTimeOffset Timestamp, Guid Id)
    {
        public override string ToString()
        {
            Span<byte> bytes = stackalloc byte[24];
            BinaryPrimitives.WriteInt64BigEndian(bytes, Timestamp.UtcTicks);
            Id.TryWriteBytes(bytes[8..], bigEndian: true, out _);
            return Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        }

        public static Cursor? TryParse(string text)
        {
            var base64 = text.Replace('-', '+').Replace('_', '/');
            base64 += new string('=', (4 - base64.Length % 4) % 4);
            var bytes = new byte[24];
            if (text.Length != 32 || !Convert.TryFromBase64String(base64, bytes, out var written) || written != 24)
            {
                return null;
            }
            var ticks = BinaryPrimitives.ReadInt64BigEndian(bytes);
            if (ticks < DateTimeOffset.MinValue.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks)
            {
                return null;
            }
            return new Cursor(new DateTimeOffset(ticks, TimeSpan.Zero), new Guid(bytes.AsSpan(8), bigEndian: true));
        }
    }
}
