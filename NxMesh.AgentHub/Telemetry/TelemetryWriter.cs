using Npgsql;
using NpgsqlTypes;

namespace NxMesh.AgentHub.Telemetry;

/// <summary>A batch waiting for storage; <see cref="Done"/> completes after the commit that stored it (or found it stored).</summary>
internal sealed class PendingBatch(Guid agentId, Guid workspaceId, Guid batchId, short kind, List<AccessLogRow>? logs, List<MetricRow>? metrics)
{
    public const short LogsKind = 1;
    public const short MetricsKind = 2;

    public Guid AgentId { get; } = agentId;
    public Guid WorkspaceId { get; } = workspaceId;
    public Guid BatchId { get; } = batchId;
    public short Kind { get; } = kind;
    public List<AccessLogRow> Logs { get; } = logs ?? [];
    public List<MetricRow> Metrics { get; } = metrics ?? [];
    public int RowCount => Logs.Count + Metrics.Count;
    public TaskCompletionSource<bool> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// Stores a group of batches (any agents) in one transaction: the batch ids go into <c>ingested_batches</c> first
/// (<c>ON CONFLICT DO NOTHING RETURNING</c> tells which are new — a concurrent writer of the same batch waits on the
/// key and then sees it taken), then binary COPY of the new batches' rows, then the per-minute rollups. A batch is
/// reported stored only after the commit, so an Ack never precedes durable data and a re-sent batch is stored once.
/// </summary>
internal static class TelemetryWriter
{
    public static async Task WriteAsync(NpgsqlDataSource dataSource, IReadOnlyList<PendingBatch> group, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var fresh = await ClaimAsync(connection, group, cancellationToken);
        if (fresh.Count > 0)
        {
            if (fresh.Any(b => b.Logs.Count > 0))
            {
                await CopyAccessLogsAsync(connection, fresh, cancellationToken);
                await UpsertRollupsAsync(connection, fresh, cancellationToken);
            }
            if (fresh.Any(b => b.Metrics.Count > 0))
            {
                await CopyMetricsAsync(connection, fresh, cancellationToken);
                await UpsertActiveConnectionsAsync(connection, fresh, cancellationToken);
            }
        }
        await transaction.CommitAsync(cancellationToken);
    }

    private static async Task<List<PendingBatch>> ClaimAsync(NpgsqlConnection connection, IReadOnlyList<PendingBatch> group, CancellationToken cancellationToken)
    {
        // One claim per (agent, batch) even if the same batch waits twice in this group.
        var unique = group.GroupBy(b => (b.AgentId, b.BatchId)).Select(g => g.First()).OrderBy(b => b.AgentId).ThenBy(b => b.BatchId).ToList();
        await using var command = new NpgsqlCommand("""
            INSERT INTO ingested_batches (agent_id, batch_id, kind, row_count)
            SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::smallint[], $4::integer[])
            ON CONFLICT DO NOTHING
            RETURNING agent_id, batch_id
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = unique.Select(b => b.AgentId).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = unique.Select(b => b.BatchId).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = unique.Select(b => b.Kind).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = unique.Select(b => b.RowCount).ToArray() });
        var claimed = new HashSet<(Guid, Guid)>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                claimed.Add((reader.GetGuid(0), reader.GetGuid(1)));
            }
        }
        return unique.Where(b => claimed.Contains((b.AgentId, b.BatchId))).ToList();
    }

    private static async Task CopyAccessLogsAsync(NpgsqlConnection connection, List<PendingBatch> batches, CancellationToken cancellationToken)
    {
        await using var importer = await connection.BeginBinaryImportAsync("""
            COPY access_log_entries (id, agent_id, workspace_id, virtual_host_id, "timestamp", remote_addr, method, uri, protocol,
                host, status, body_bytes_sent, request_length, bytes_sent, response_time_ms, upstream_response_time_ms,
                user_agent, referer, request_id, batch_id) FROM STDIN (FORMAT BINARY)
            """, cancellationToken);
        // Synchronous field writes: the importer buffers (flushing to the socket only when its buffer fills), and an
        // awaited call per field cost more than the occasional blocking flush in these dedicated writer loops.
        foreach (var batch in batches)
        {
            foreach (var row in batch.Logs)
            {
                importer.StartRow();
                importer.Write(row.Id, NpgsqlDbType.Uuid);
                importer.Write(batch.AgentId, NpgsqlDbType.Uuid);
                importer.Write(batch.WorkspaceId, NpgsqlDbType.Uuid);
                WriteNullable(importer, row.VirtualHostId, NpgsqlDbType.Uuid);
                importer.Write(row.Timestamp, NpgsqlDbType.TimestampTz);
                WriteText(importer, row.RemoteAddr);
                WriteText(importer, row.Method);
                WriteText(importer, row.Uri);
                WriteText(importer, row.Protocol);
                WriteText(importer, row.Host);
                importer.Write(row.Status, NpgsqlDbType.Integer);
                importer.Write(row.BodyBytesSent, NpgsqlDbType.Bigint);
                importer.Write(row.RequestLength, NpgsqlDbType.Bigint);
                importer.Write(row.BytesSent, NpgsqlDbType.Bigint);
                importer.Write(row.ResponseTimeMs, NpgsqlDbType.Double);
                WriteNullable(importer, row.UpstreamResponseTimeMs, NpgsqlDbType.Double);
                WriteText(importer, row.UserAgent);
                WriteText(importer, row.Referer);
                WriteText(importer, row.RequestId);
                importer.Write(batch.BatchId, NpgsqlDbType.Uuid);
            }
        }
        await importer.CompleteAsync(cancellationToken);
    }

    private static async Task CopyMetricsAsync(NpgsqlConnection connection, List<PendingBatch> batches, CancellationToken cancellationToken)
    {
        await using var importer = await connection.BeginBinaryImportAsync("""
            COPY metric_samples (agent_id, workspace_id, name, type, value, labels, "timestamp", batch_id) FROM STDIN (FORMAT BINARY)
            """, cancellationToken);
        foreach (var batch in batches)
        {
            foreach (var row in batch.Metrics)
            {
                importer.StartRow();
                importer.Write(batch.AgentId, NpgsqlDbType.Uuid);
                importer.Write(batch.WorkspaceId, NpgsqlDbType.Uuid);
                importer.Write(row.Name, NpgsqlDbType.Varchar);
                importer.Write(row.Type, NpgsqlDbType.Integer);
                importer.Write(row.Value, NpgsqlDbType.Double);
                importer.Write(row.LabelsJson, NpgsqlDbType.Jsonb);
                importer.Write(row.Timestamp, NpgsqlDbType.TimestampTz);
                importer.Write(batch.BatchId, NpgsqlDbType.Uuid);
            }
        }
        await importer.CompleteAsync(cancellationToken);
    }

    /// <summary>Access-log sums per agent and minute, added to what the minute already holds (keys in order: no deadlocks between instances).</summary>
    private static async Task UpsertRollupsAsync(NpgsqlConnection connection, List<PendingBatch> batches, CancellationToken cancellationToken)
    {
        var minutes = new SortedDictionary<(Guid Agent, DateTimeOffset Minute), Rollup>();
        foreach (var batch in batches)
        {
            foreach (var row in batch.Logs)
            {
                var minute = new DateTimeOffset(row.Timestamp.UtcTicks - row.Timestamp.UtcTicks % TimeSpan.TicksPerMinute, TimeSpan.Zero);
                if (!minutes.TryGetValue((batch.AgentId, minute), out var rollup))
                {
                    minutes[(batch.AgentId, minute)] = rollup = new Rollup(batch.WorkspaceId);
                }
                rollup.Add(row);
            }
        }
        var keys = minutes.Keys.ToList();
        var values = minutes.Values.ToList();
        await using var command = new NpgsqlCommand("""
            INSERT INTO telemetry_rollups AS r (agent_id, minute, workspace_id, requests, status_1xx, status_2xx, status_3xx, status_4xx,
                status_5xx, bytes_in, bytes_out, response_time_ms_sum)
            SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::uuid[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[],
                $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::double precision[])
            ON CONFLICT (agent_id, minute) DO UPDATE SET
                requests = r.requests + excluded.requests,
                status_1xx = r.status_1xx + excluded.status_1xx,
                status_2xx = r.status_2xx + excluded.status_2xx,
                status_3xx = r.status_3xx + excluded.status_3xx,
                status_4xx = r.status_4xx + excluded.status_4xx,
                status_5xx = r.status_5xx + excluded.status_5xx,
                bytes_in = r.bytes_in + excluded.bytes_in,
                bytes_out = r.bytes_out + excluded.bytes_out,
                response_time_ms_sum = r.response_time_ms_sum + excluded.response_time_ms_sum
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = keys.Select(k => k.Agent).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = keys.Select(k => k.Minute).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = values.Select(v => v.WorkspaceId).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = values.Select(v => v.Requests).ToArray() });
        for (var statusClass = 1; statusClass <= 5; statusClass++)
        {
            var index = statusClass;
            command.Parameters.Add(new NpgsqlParameter { Value = values.Select(v => v.Classes[index]).ToArray() });
        }
        command.Parameters.Add(new NpgsqlParameter { Value = values.Select(v => v.BytesIn).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = values.Select(v => v.BytesOut).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = values.Select(v => v.ResponseTimeMs).ToArray() });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The newest active-connections gauge of each agent minute (a newer sample replaces an older one).</summary>
    private static async Task UpsertActiveConnectionsAsync(NpgsqlConnection connection, List<PendingBatch> batches, CancellationToken cancellationToken)
    {
        var latest = new SortedDictionary<(Guid Agent, DateTimeOffset Minute), (Guid WorkspaceId, double Value, DateTimeOffset At)>();
        foreach (var batch in batches)
        {
            foreach (var row in batch.Metrics)
            {
                if (!TelemetryRows.ActiveConnectionMetrics.Contains(row.Name))
                {
                    continue;
                }
                var minute = new DateTimeOffset(row.Timestamp.UtcTicks - row.Timestamp.UtcTicks % TimeSpan.TicksPerMinute, TimeSpan.Zero);
                if (!latest.TryGetValue((batch.AgentId, minute), out var current) || current.At <= row.Timestamp)
                {
                    latest[(batch.AgentId, minute)] = (batch.WorkspaceId, row.Value, row.Timestamp);
                }
            }
        }
        if (latest.Count == 0)
        {
            return;
        }
        await using var command = new NpgsqlCommand("""
            INSERT INTO telemetry_rollups AS r (agent_id, minute, workspace_id, active_connections, active_connections_at)
            SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::uuid[], $4::double precision[], $5::timestamptz[])
            ON CONFLICT (agent_id, minute) DO UPDATE SET
                active_connections = excluded.active_connections, active_connections_at = excluded.active_connections_at
            WHERE r.active_connections_at IS NULL OR r.active_connections_at <= excluded.active_connections_at
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = latest.Keys.Select(k => k.Agent).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = latest.Keys.Select(k => k.Minute).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = latest.Values.Select(v => v.WorkspaceId).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = latest.Values.Select(v => v.Value).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = latest.Values.Select(v => v.At).ToArray() });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static void WriteText(NpgsqlBinaryImporter importer, string? value)
    {
        if (value is null)
        {
            importer.WriteNull();
        }
        else
        {
            importer.Write(value, NpgsqlDbType.Text);
        }
    }

    private static void WriteNullable<T>(NpgsqlBinaryImporter importer, T? value, NpgsqlDbType type) where T : struct
    {
        if (value is { } v)
        {
            importer.Write(v, type);
        }
        else
        {
            importer.WriteNull();
        }
    }

    private sealed class Rollup(Guid workspaceId)
    {
        public Guid WorkspaceId { get; } = workspaceId;
        public long Requests { get; private set; }
        public long[] Classes { get; } = new long[6];
        public long BytesIn { get; private set; }
        public long BytesOut { get; private set; }
        public double ResponseTimeMs { get; private set; }

        public void Add(AccessLogRow row)
        {
            Requests++;
            if (row.Status / 100 is >= 1 and <= 5)
            {
                Classes[row.Status / 100]++;
            }
            BytesIn += row.RequestLength;
            BytesOut += row.BytesSent;
            ResponseTimeMs += row.ResponseTimeMs;
        }
    }
}
