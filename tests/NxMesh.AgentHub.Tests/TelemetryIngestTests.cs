using System.Globalization;
using Npgsql;
using NxMesh.Data.Telemetry;
using NxMesh.Protocol.V1;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.AgentHub.Tests;

[Collection(DatabaseCollection.Name)]
public sealed class TelemetryIngestTests(DatabaseFixture database) : IAsyncLifetime
{
    public Task InitializeAsync() => database.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Access_log_batches_are_copied_with_every_field_and_rolled_up_per_minute()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using var hub = new HubFactory(database);
        await using var agent = await Fleet.ConnectAsync(hub, agentId, credential);
        var at = DateTimeOffset.UtcNow.AddMinutes(-5);
        var vhostId = Guid.NewGuid();
        var batch = Logs(at, 3, i => i == 2 ? 503 : 200);
        batch.Entries[0].Fields["virtual_host_id"] = vhostId.ToString();
        batch.Entries[0].Fields["upstream_response_time_ms"] = "1.5, 2.5";

        await agent.SendAsync(new AgentMessage { Logs = batch });
        var ack = (await agent.NextAsync(m => m.Ack?.MessageId == batch.BatchId, what: "logs ack")).Ack;

        Assert.True(ack.Success);
        var rows = await database.QueryAsync("""
            SELECT remote_addr, method, uri, protocol, host, status, body_bytes_sent, request_length, bytes_sent, response_time_ms,
                   upstream_response_time_ms, user_agent, referer, request_id, virtual_host_id, agent_id, workspace_id, "timestamp"
            FROM access_log_entries ORDER BY request_id
            """);
        Assert.Equal(3, rows.Count);
        var first = rows[0];
        Assert.Equal(new object?[] { "10.0.0.1", "GET", "/path/0", "HTTP/1.1", "a.example.com", 200, 100L, 50L, 300L, 12.5, 4.0, "curl/8", "https://ref/", "req-0" },
            first[..14]);
        Assert.Equal((vhostId, agentId, workspaceId), ((Guid)first[14]!, (Guid)first[15]!, (Guid)first[16]!));
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(at.ToUnixTimeMilliseconds()).UtcDateTime, (DateTime)first[17]!);
        Assert.All(rows, row => Assert.Equal(first[17], row[17]));
        Assert.Equal(DBNull.Value, rows[1][14]);
        Assert.Equal(503, rows[2][5]);

        var rollup = Assert.Single(await database.QueryAsync("SELECT requests, status_2xx, status_5xx, bytes_in, bytes_out, minute FROM telemetry_rollups"));
        Assert.Equal(new object?[] { 3L, 2L, 1L, 150L, 900L }, rollup[..5]);
    }

    [Fact]
    public async Task The_ack_is_sent_only_after_the_commit()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using var hub = new HubFactory(database);
        await using var agent = await Fleet.ConnectAsync(hub, agentId, credential);
        var batch = Logs(DateTimeOffset.UtcNow, 5);

        // Blocks the ingest transaction at its first statement (the batch id claim).
        await using var blocker = new NpgsqlConnection(database.ConnectionString);
        await blocker.OpenAsync();
        var transaction = await blocker.BeginTransactionAsync();
        await new NpgsqlCommand("LOCK TABLE ingested_batches IN EXCLUSIVE MODE", blocker, transaction).ExecuteNonQueryAsync();
        await agent.SendAsync(new AgentMessage { Logs = batch });

        Assert.True(await agent.NothingAsync(m => m.Ack is not null, TimeSpan.FromSeconds(1.5)));
        Assert.Equal(0L, await CountAsync("access_log_entries"));
        await transaction.CommitAsync();

        var ack = (await agent.NextAsync(m => m.Ack?.MessageId == batch.BatchId, what: "logs ack")).Ack;
        Assert.True(ack.Success);
        Assert.Equal(5L, await CountAsync("access_log_entries"));
    }

    [Fact]
    public async Task A_re_sent_batch_is_acknowledged_again_and_stored_once_on_the_stream_a_new_stream_and_unary()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using var hub = new HubFactory(database);
        var logs = Logs(DateTimeOffset.UtcNow, 4);
        var metrics = new MetricsBatch { BatchId = Guid.NewGuid().ToString("D"), Timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
        metrics.Metrics.Add(new Metric { Name = "nginx_connections_active", Value = 7, Type = MetricType.Gauge });
        metrics.Metrics.Add(new Metric { Name = "nginx_http_requests_total", Value = 4, Type = MetricType.Counter, Labels = { ["status"] = "2xx" } });

        await using (var agent = await Fleet.ConnectAsync(hub, agentId, credential))
        {
            // Twice back to back: both may wait in the same coalesced group.
            await agent.SendAsync(new AgentMessage { Logs = logs });
            await agent.SendAsync(new AgentMessage { Logs = logs });
            await agent.SendAsync(new AgentMessage { Metrics = metrics });
            Assert.All(await AcksAsync(agent, logs.BatchId, logs.BatchId, metrics.BatchId), ack => Assert.True(ack.Success));
        }
        await using (var again = await Fleet.ConnectAsync(hub, agentId, credential))
        {
            await again.SendAsync(new AgentMessage { Logs = logs });
            await again.SendAsync(new AgentMessage { Metrics = metrics });
            Assert.All(await AcksAsync(again, logs.BatchId, metrics.BatchId), ack => Assert.True(ack.Success));
        }
        var unary = await hub.Client.ReportMetricsAsync(metrics, HubFactory.Credentials(agentId, credential));

        Assert.True(unary.Success);
        Assert.Equal(4L, await CountAsync("access_log_entries"));
        Assert.Equal(2L, await CountAsync("metric_samples"));
        Assert.Equal(2L, await CountAsync("ingested_batches"));
        var rollup = Assert.Single(await database.QueryAsync("SELECT requests, active_connections FROM telemetry_rollups"));
        Assert.Equal(new object?[] { 4L, 7.0 }, rollup);
    }

    [Fact]
    public async Task A_row_outside_every_day_partition_is_kept_in_the_default_partition_and_moves_with_a_new_partition()
    {
        var workspaceId = await Seed.WorkspaceAsync(database);
        var (agentId, credential) = await Seed.EnrolledAgentAsync(database, workspaceId);
        await using var hub = new HubFactory(database);
        await using var agent = await Fleet.ConnectAsync(hub, agentId, credential);
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        await using var dataSource = NpgsqlDataSource.Create(database.ConnectionString);
        await Wait.UntilAsync(async () => (await TelemetryPartitions.ListAsync(dataSource, TelemetrySchema.AccessLogs, default)).Contains(today),
            TimeSpan.FromSeconds(10), "today's partition");
        var old = new DateOnly(2020, 2, 3);
        var ancient = Logs(TelemetryPartitions.StartOf(old).AddHours(5), 2);
        var current = Logs(DateTimeOffset.UtcNow, 1);

        await agent.SendAsync(new AgentMessage { Logs = ancient });
        await agent.SendAsync(new AgentMessage { Logs = current });
        Assert.All(await AcksAsync(agent, ancient.BatchId, current.BatchId), ack => Assert.True(ack.Success));

        var placement = await database.QueryAsync("SELECT tableoid::regclass::text, count(*) FROM access_log_entries GROUP BY 1 ORDER BY 1");
        Assert.Equal(["access_log_entries_default=2", $"{TelemetryPartitions.PartitionName(TelemetrySchema.AccessLogs, today)}=1"],
            placement.Select(r => $"{r[0]}={r[1]}"));

        Assert.True(await TelemetryPartitions.CreateAsync(dataSource, TelemetrySchema.AccessLogs, old, default));
        try
        {
            placement = await database.QueryAsync("SELECT tableoid::regclass::text, count(*) FROM access_log_entries GROUP BY 1 ORDER BY 1");
            Assert.Equal(
                [$"{TelemetryPartitions.PartitionName(TelemetrySchema.AccessLogs, old)}=2", $"{TelemetryPartitions.PartitionName(TelemetrySchema.AccessLogs, today)}=1"],
                placement.Select(r => $"{r[0]}={r[1]}"));
        }
        finally
        {
            await TelemetryPartitions.DropAsync(dataSource, TelemetrySchema.AccessLogs, old, default);
        }
    }

    internal static LogBatch Logs(DateTimeOffset at, int count, Func<int, int>? status = null)
    {
        var batch = new LogBatch { BatchId = Guid.NewGuid().ToString("D") };
        for (var i = 0; i < count; i++)
        {
            batch.Entries.Add(new LogEntry
            {
                Level = "access",
                Timestamp = at.ToUnixTimeMilliseconds(),
                Fields =
                {
                    // The agent sends ISO 8601 with ms; nginx's $msec form is accepted too.
                    ["timestamp"] = i % 2 == 0
                        ? (at.ToUnixTimeMilliseconds() / 1000.0).ToString("F3", CultureInfo.InvariantCulture)
                        : at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
                    ["remote_addr"] = "10.0.0.1",
                    ["method"] = "GET",
                    ["uri"] = $"/path/{i}",
                    ["protocol"] = "HTTP/1.1",
                    ["host"] = "a.example.com",
                    ["status"] = (status?.Invoke(i) ?? 200).ToString(CultureInfo.InvariantCulture),
                    ["body_bytes_sent"] = "100",
                    ["request_length"] = "50",
                    ["bytes_sent"] = "300",
                    ["response_time_ms"] = "12.5",
                    ["upstream_response_time_ms"] = "-",
                    ["user_agent"] = "curl/8",
                    ["referer"] = "https://ref/",
                    ["request_id"] = $"req-{i}",
                },
            });
        }
        return batch;
    }

    /// <summary>Acks may come in any order (parallel writers); waits until every id has (as many) acks.</summary>
    internal static async Task<List<Ack>> AcksAsync(TestAgent agent, params string[] batchIds)
    {
        List<Ack> acks = [];
        await Wait.UntilAsync(() =>
        {
            acks = agent.Received.Where(m => m.Ack is not null).Select(m => m.Ack).ToList();
            return Task.FromResult(batchIds.GroupBy(id => id).All(g => acks.Count(a => a.MessageId == g.Key) >= g.Count()));
        }, TimeSpan.FromSeconds(10), "the acks");
        return acks.Where(a => batchIds.Contains(a.MessageId)).ToList();
    }

    private async Task<long> CountAsync(string table) => (long)(await database.QueryAsync($"SELECT count(*) FROM {table}"))[0][0]!;
}
