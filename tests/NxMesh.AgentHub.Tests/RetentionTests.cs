extern alias worker;

using System.Security.Cryptography;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Npgsql;
using NxMesh.Data.Entities;
using NxMesh.Data.Telemetry;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.AgentHub.Tests;

[Collection(DatabaseCollection.Name)]
public sealed class RetentionTests(DatabaseFixture database) : IAsyncLifetime
{
    private static readonly DateOnly Today = DateOnly.FromDateTime(DateTime.UtcNow);
    private NpgsqlDataSource _dataSource = null!;

    public async Task InitializeAsync()
    {
        await database.ResetAsync();
        _dataSource = NpgsqlDataSource.Create(database.ConnectionString);
    }

    public async Task DisposeAsync()
    {
        foreach (var table in TelemetrySchema.PartitionedTables)
        {
            foreach (var day in new[] { Today.AddDays(-20), Today.AddDays(-12), Today.AddDays(-5) })
            {
                await TelemetryPartitions.DropAsync(_dataSource, table, day, default);
            }
        }
        await _dataSource.DisposeAsync();
    }

    [Fact]
    public async Task The_worker_drops_partitions_older_than_every_workspace_retention_and_deletes_only_expired_rows_of_shorter_retentions()
    {
        var shortId = await Seed.WorkspaceAsync(database, new WorkspaceSettings { AccessLogRetentionDays = 3 });
        var longId = await Seed.WorkspaceAsync(database, new WorkspaceSettings { AccessLogRetentionDays = 10 });
        foreach (var day in new[] { -20, -12, -5 })
        {
            await TelemetryPartitions.CreateAsync(_dataSource, TelemetrySchema.AccessLogs, Today.AddDays(day), default);
        }
        await TelemetryPartitions.CreateAsync(_dataSource, TelemetrySchema.MetricSamples, Today.AddDays(-20), default);
        await TelemetryPartitions.EnsureAsync(_dataSource, Today, Today, default);
        foreach (var workspace in new[] { shortId, longId })
        {
            foreach (var day in new[] { -20, -12, -5, 0 })
            {
                await InsertLogAsync(workspace, $"{workspace}:{day}", Noon(day));
            }
        }
        await InsertLogAsync(longId, "default-ancient", new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await InsertLogAsync(longId, "default-future", Noon(60));
        await ExecuteAsync("""
            INSERT INTO metric_samples (agent_id, workspace_id, name, type, value, labels, "timestamp", batch_id)
            VALUES (gen_random_uuid(), $1, 'cpu_percent', 1, 5, '{}', $2, gen_random_uuid())
            """, longId, Noon(-20));

        await using (var worker = new RetentionWorker(database))
        {
            worker.StartServer();
            await Wait.UntilAsync(async () => !(await TelemetryPartitions.ListAsync(_dataSource, TelemetrySchema.AccessLogs, default)).Contains(Today.AddDays(-12)),
                TimeSpan.FromSeconds(30), "the retention job to drop old partitions");
            await Wait.UntilAsync(async () => !(await RequestIdsAsync()).Contains($"{shortId}:-5"), TimeSpan.FromSeconds(10),
                "the short-retention workspace's expired rows to go");
        }

        var accessDays = await TelemetryPartitions.ListAsync(_dataSource, TelemetrySchema.AccessLogs, default);
        Assert.DoesNotContain(Today.AddDays(-20), accessDays);
        Assert.Contains(Today.AddDays(-5), accessDays);
        Assert.Contains(Today, accessDays);
        // Metric samples keep 30 days: the same day's metrics partition stays, with its row.
        Assert.Contains(Today.AddDays(-20), await TelemetryPartitions.ListAsync(_dataSource, TelemetrySchema.MetricSamples, default));
        Assert.Equal(1L, await ScalarAsync<long>("SELECT count(*) FROM metric_samples"));
        Assert.Equal(
            new[] { $"{longId}:-5", $"{longId}:0", $"{shortId}:0", "default-future" }.Order(StringComparer.Ordinal),
            (await RequestIdsAsync()).Order(StringComparer.Ordinal));
    }

    private static DateTimeOffset Noon(int dayOffset) => TelemetryPartitions.StartOf(Today.AddDays(dayOffset)).AddHours(12);

    private Task InsertLogAsync(Guid workspaceId, string requestId, DateTimeOffset at) => ExecuteAsync("""
        INSERT INTO access_log_entries (id, agent_id, workspace_id, "timestamp", status, body_bytes_sent, request_length, bytes_sent,
            response_time_ms, request_id, batch_id)
        VALUES (gen_random_uuid(), gen_random_uuid(), $1, $2, 200, 0, 0, 0, 1, $3, gen_random_uuid())
        """, workspaceId, at, requestId);

    private async Task<List<string>> RequestIdsAsync()
    {
        await using var command = _dataSource.CreateCommand("SELECT request_id FROM access_log_entries");
        await using var reader = await command.ExecuteReaderAsync();
        var ids = new List<string>();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetString(0));
        }
        return ids;
    }

    private async Task<T> ScalarAsync<T>(string sql)
    {
        await using var command = _dataSource.CreateCommand(sql);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private async Task ExecuteAsync(string sql, params object[] values)
    {
        await using var command = _dataSource.CreateCommand(sql);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }
        await command.ExecuteNonQueryAsync();
    }

    private sealed class RetentionWorker(DatabaseFixture database) : WebApplicationFactory<worker::Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseSetting("ConnectionStrings:nxmesh", database.ConnectionString);
            builder.UseSetting("ConnectionStrings:redis", database.RedisConnectionString);
            builder.UseSetting("DataProtection:KeyEncryptionKey", Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
            builder.UseSetting("Retention:CheckIntervalMinutes", "0.02");
            builder.UseSetting("Scheduling:SchedulerName", "nxmesh-test-" + Guid.NewGuid().ToString("N")[..8]);
            builder.UseSetting("Logging:LogLevel:Default", "Warning");
            builder.UseEnvironment("Testing");
        }
    }
}
