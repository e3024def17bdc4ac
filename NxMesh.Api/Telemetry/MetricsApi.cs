using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using NxMesh.Api.Platform;
using NxMesh.Data;
using NxMesh.Data.Entities;

namespace NxMesh.Api.Telemetry;

public sealed record Bandwidth(long InBytes, long OutBytes);

/// <summary>Counts per status class. Lines with another status (1xx, 0) count only in requests_total.</summary>
public sealed record StatusClassCounts(
    [property: JsonPropertyName("2xx")] long Status2xx,
    [property: JsonPropertyName("3xx")] long Status3xx,
    [property: JsonPropertyName("4xx")] long Status4xx,
    [property: JsonPropertyName("5xx")] long Status5xx);

/// <summary>One point of a series: the window [timestamp, timestamp + step).</summary>
public sealed record MetricsPoint(
    DateTimeOffset Timestamp, long RequestsTotal, double RequestsPerSecond, double ErrorRate, long ActiveConnections, Bandwidth Bandwidth,
    StatusClassCounts StatusCodes);

/// <summary>The spec's metrics object for [from, to), plus the window and, with <c>step</c>, the series.</summary>
public sealed record MetricsResponse(
    long RequestsTotal, double RequestsPerSecond, double ErrorRate, long ActiveConnections, Bandwidth Bandwidth, StatusClassCounts StatusCodes,
    DateTimeOffset From, DateTimeOffset To, int? StepSeconds,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<MetricsPoint>? Series);

/// <summary>
/// Metrics from the per-minute rollups (<c>telemetry_rollups</c>, written by AgentHub with every access-log batch).
/// Aggregation: the window is widened to whole minutes (from down, to up); requests_total, status classes and
/// bandwidth (in = request_length, out = bytes_sent of each logged request) are sums over the minutes;
/// requests_per_second = requests_total / window seconds; error_rate = 5xx / requests_total (0 without requests);
/// active_connections = the sum over agents of each agent's last reported gauge in the window.
/// </summary>
public static class MetricsApi
{
    public static void MapMetricsApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("").WithTags("Metrics");
        group.MapGet("/workspaces/{workspace_id:guid}/metrics", WorkspaceAsync).WithName("GetWorkspaceMetrics")
            .WithSummary("Traffic of the workspace's agents for [from, to) (default: the last hour); with step (e.g. 5m) also a series");
        group.MapGet("/agents/{agent_id:guid}/metrics", AgentAsync).WithName("GetAgentMetrics")
            .WithSummary("Traffic of one agent for [from, to) (default: the last hour); with step (e.g. 5m) also a series");
    }

    private static async Task<Ok<MetricsResponse>> WorkspaceAsync([FromRoute(Name = "workspace_id")] Guid workspaceId,
        [FromQuery(Name = "from")] string? from, [FromQuery(Name = "to")] string? to, [FromQuery(Name = "step")] string? step,
        NxMeshDbContext db, TenantAccess access, TimeProvider time, CancellationToken cancellationToken)
    {
        var query = Parse(from, to, step, time);
        await access.WorkspaceAsync(workspaceId, OrganizationRole.Viewer, cancellationToken);
        return TypedResults.Ok(await QueryAsync(db, "workspace_id", workspaceId, query, cancellationToken));
    }

    private static async Task<Ok<MetricsResponse>> AgentAsync([FromRoute(Name = "agent_id")] Guid agentId,
        [FromQuery(Name = "from")] string? from, [FromQuery(Name = "to")] string? to, [FromQuery(Name = "step")] string? step,
        NxMeshDbContext db, TenantAccess access, TimeProvider time, CancellationToken cancellationToken)
    {
        var query = Parse(from, to, step, time);
        await access.WorkspaceResourceAsync(db.Agents.AsNoTracking(), agentId, a => a.WorkspaceId, OrganizationRole.Viewer, "Agent", cancellationToken);
        return TypedResults.Ok(await QueryAsync(db, "agent_id", agentId, query, cancellationToken));
    }

    private static (DateTimeOffset From, DateTimeOffset To, TimeSpan? Step) Parse(string? from, string? to, string? step, TimeProvider time)
    {
        var v = new Validator();
        var (fromTime, toTime) = TelemetryQuery.Window(v, from, to, time.GetUtcNow());
        var stepSpan = v.IsValid ? TelemetryQuery.Step(v, step, fromTime, toTime) : null;
        v.ThrowIfInvalid();
        return (TelemetryQuery.FloorMinute(fromTime), TelemetryQuery.CeilingMinute(toTime), stepSpan);
    }

    private static async Task<MetricsResponse> QueryAsync(NxMeshDbContext db, string column, Guid id,
        (DateTimeOffset From, DateTimeOffset To, TimeSpan? Step) query, CancellationToken cancellationToken)
    {
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync(cancellationToken);
        var stepSeconds = (long)(query.Step ?? (query.To - query.From)).TotalSeconds;
        // Buckets of `step` from `from`; without a step one bucket covers the window. Active connections: each
        // agent's last gauge in the bucket, summed.
        await using var command = new NpgsqlCommand($"""
            WITH rows AS (
                SELECT agent_id, minute, requests, status_2xx, status_3xx, status_4xx, status_5xx, bytes_in, bytes_out,
                       active_connections, active_connections_at,
                       floor(extract(epoch FROM minute - $2) / $4)::bigint AS bucket
                FROM telemetry_rollups WHERE {column} = $1 AND minute >= $2 AND minute < $3
            ), last_gauge AS (
                SELECT DISTINCT ON (bucket, agent_id) bucket, active_connections
                FROM rows WHERE active_connections IS NOT NULL
                ORDER BY bucket, agent_id, active_connections_at DESC
            )
            SELECT r.bucket, sum(requests)::bigint, sum(status_2xx)::bigint, sum(status_3xx)::bigint, sum(status_4xx)::bigint,
                   sum(status_5xx)::bigint, sum(bytes_in)::bigint, sum(bytes_out)::bigint,
                   coalesce((SELECT sum(g.active_connections) FROM last_gauge g WHERE g.bucket = r.bucket), 0)::bigint
            FROM rows r GROUP BY r.bucket ORDER BY r.bucket
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        command.Parameters.Add(new NpgsqlParameter { Value = query.From });
        command.Parameters.Add(new NpgsqlParameter { Value = query.To });
        command.Parameters.Add(new NpgsqlParameter { Value = (double)stepSeconds });
        var buckets = new Dictionary<long, Totals>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                buckets[reader.GetInt64(0)] = new Totals(reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4),
                    reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7), reader.GetInt64(8));
            }
        }
        var windowSeconds = (query.To - query.From).TotalSeconds;
        var total = buckets.Values.Aggregate(Totals.Zero, (a, b) => a.Plus(b));
        // The window's active connections: the last bucket's (the most recent gauges).
        total = total with { ActiveConnections = buckets.Count == 0 ? 0 : buckets[buckets.Keys.Max()].ActiveConnections };
        List<MetricsPoint>? series = null;
        if (query.Step is { } step)
        {
            series = [];
            for (long i = 0; query.From + step * i < query.To; i++)
            {
                var start = query.From + step * i;
                var end = start + step < query.To ? start + step : query.To;
                var t = buckets.GetValueOrDefault(i, Totals.Zero);
                series.Add(new MetricsPoint(start, t.Requests, Rate(t.Requests, (end - start).TotalSeconds), ErrorRate(t), t.ActiveConnections,
                    new Bandwidth(t.BytesIn, t.BytesOut), t.Classes()));
            }
        }
        return new MetricsResponse(total.Requests, Rate(total.Requests, windowSeconds), ErrorRate(total), total.ActiveConnections,
            new Bandwidth(total.BytesIn, total.BytesOut), total.Classes(), query.From, query.To, query.Step is { } s ? (int)s.TotalSeconds : null, series);
    }

    private static double Rate(long count, double seconds) => seconds <= 0 ? 0 : Math.Round(count / seconds, 3);

    private static double ErrorRate(Totals t) => t.Requests == 0 ? 0 : Math.Round((double)t.Status5xx / t.Requests, 6);

    private sealed record Totals(long Requests, long Status2xx, long Status3xx, long Status4xx, long Status5xx, long BytesIn, long BytesOut, long ActiveConnections)
    {
        public static readonly Totals Zero = new(0, 0, 0, 0, 0, 0, 0, 0);

        public Totals Plus(Totals o) => new(Requests + o.Requests, Status2xx + o.Status2xx, Status3xx + o.Status3xx, Status4xx + o.Status4xx,
            Status5xx + o.Status5xx, BytesIn + o.BytesIn, BytesOut + o.BytesOut, ActiveConnections);

        public StatusClassCounts Classes() => new(Status2xx, Status3xx, Status4xx, Status5xx);
    }
}
