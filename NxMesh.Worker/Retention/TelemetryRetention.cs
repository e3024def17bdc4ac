using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Npgsql;
using NxMesh.Data;
using NxMesh.Data.Entities;
using NxMesh.Data.Telemetry;
using Quartz;

namespace NxMesh.Worker.Retention;

/// <summary>Telemetry retention settings (section "Retention").</summary>
public sealed class RetentionOptions
{
    public const string Section = "Retention";

    public double CheckIntervalMinutes { get; set; } = 60;
    /// <summary>Day partitions created ahead of time (today .. today + this).</summary>
    public int PartitionDaysAhead { get; set; } = 2;
    /// <summary>How long batch ids are remembered for idempotency (longer than any agent keeps re-sending a batch).</summary>
    public int IngestedBatchDays { get; set; } = 7;
}

/// <summary>What one retention run removed.</summary>
public sealed record RetentionResult(IReadOnlyList<string> DroppedPartitions, long DeletedRows);

/// <summary>
/// Retention per workspace (<c>access_log_retention_days</c>, default 7, for access logs; <c>metrics_retention_days</c>,
/// default 30, for metric samples and the per-minute rollups). Partitions are per day, not per workspace, so:
/// <list type="number">
/// <item>a day partition is dropped whole once its last instant is older than the longest retention of any workspace
/// (with no workspace, the default) — nothing in it is still wanted by anyone;</item>
/// <item>a workspace with a shorter retention has its older rows deleted (<c>DELETE … WHERE workspace_id = … AND
/// timestamp &lt; cutoff</c>, pruned to the partitions that can hold them);</item>
/// <item>the DEFAULT partition loses rows older than the longest retention (rows of deleted workspaces included).</item>
/// </list>
/// </summary>
public sealed class TelemetryRetention(NxMeshDbContext db, TelemetryDataSource dataSource, IOptions<RetentionOptions> options, TimeProvider time)
{
    public async Task<RetentionResult> RunAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var today = DateOnly.FromDateTime(now.UtcDateTime);
        await TelemetryPartitions.EnsureAsync(dataSource.DataSource, today, today.AddDays(options.Value.PartitionDaysAhead), cancellationToken);

        var settings = await db.Workspaces.AsNoTracking().Select(w => new { w.Id, w.Settings }).ToListAsync(cancellationToken);
        var defaults = new WorkspaceSettings();
        var accessLogDays = settings.ToDictionary(w => w.Id, w => Math.Max(1, w.Settings.AccessLogRetentionDays));
        var metricsDays = settings.ToDictionary(w => w.Id, w => Math.Max(1, w.Settings.MetricsRetentionDays));

        var dropped = new List<string>();
        long deleted = 0;
        foreach (var (table, days, fallback) in new[]
        {
            (TelemetrySchema.AccessLogs, accessLogDays, defaults.AccessLogRetentionDays),
            (TelemetrySchema.MetricSamples, metricsDays, defaults.MetricsRetentionDays),
        })
        {
            var longest = days.Count == 0 ? fallback : days.Values.Max();
            var keepFrom = now.AddDays(-longest);
            foreach (var day in await TelemetryPartitions.ListAsync(dataSource.DataSource, table, cancellationToken))
            {
                if (TelemetryPartitions.StartOf(day.AddDays(1)) <= keepFrom)
                {
                    await TelemetryPartitions.DropAsync(dataSource.DataSource, table, day, cancellationToken);
                    dropped.Add(TelemetryPartitions.PartitionName(table, day));
                }
            }
            deleted += await ExecuteAsync($"DELETE FROM {table}_default WHERE \"timestamp\" < $1", cancellationToken, keepFrom);
            foreach (var (workspaceId, retention) in days.Where(d => d.Value < longest))
            {
                deleted += await ExecuteAsync($"DELETE FROM {table} WHERE workspace_id = $1 AND \"timestamp\" < $2 AND \"timestamp\" >= $3",
                    cancellationToken, workspaceId, now.AddDays(-retention), keepFrom);
            }
        }

        // Rollups follow the metrics retention of their workspace (or the longest one once the workspace is gone).
        var longestMetrics = metricsDays.Count == 0 ? defaults.MetricsRetentionDays : metricsDays.Values.Max();
        deleted += await ExecuteAsync("DELETE FROM telemetry_rollups WHERE minute < $1", cancellationToken, now.AddDays(-longestMetrics));
        foreach (var (workspaceId, retention) in metricsDays.Where(d => d.Value < longestMetrics))
        {
            deleted += await ExecuteAsync("DELETE FROM telemetry_rollups WHERE workspace_id = $1 AND minute < $2", cancellationToken,
                workspaceId, now.AddDays(-retention));
        }
        await ExecuteAsync("DELETE FROM ingested_batches WHERE ingested_at < $1", cancellationToken, now.AddDays(-options.Value.IngestedBatchDays));
        return new RetentionResult(dropped, deleted);
    }

    private async Task<long> ExecuteAsync(string sql, CancellationToken cancellationToken, params object[] values)
    {
        await using var command = dataSource.DataSource.CreateCommand(sql);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

/// <summary>Runs <see cref="TelemetryRetention"/> on one Worker at a time (clustered Quartz store).</summary>
[DisallowConcurrentExecution]
internal sealed class TelemetryRetentionJob(TelemetryRetention retention, ILogger<TelemetryRetentionJob> logger) : IJob
{
    public static readonly JobKey Key = new("telemetry-retention", "telemetry");

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var result = await retention.RunAsync(cancellationToken);
        if (result.DroppedPartitions.Count > 0 || result.DeletedRows > 0)
        {
            logger.LogInformation("Telemetry retention dropped {Partitions} and deleted {Rows} rows.",
                result.DroppedPartitions.Count == 0 ? "no partitions" : string.Join(", ", result.DroppedPartitions), result.DeletedRows);
        }
    }
}

internal static class RetentionExtensions
{
    public static void AddTelemetryRetention(this IHostApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(RetentionOptions.Section);
        builder.Services.AddOptions<RetentionOptions>().Bind(section);
        var interval = TimeSpan.FromMinutes((section.Get<RetentionOptions>() ?? new RetentionOptions()).CheckIntervalMinutes);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<TelemetryDataSource>();
        builder.Services.AddScoped<TelemetryRetention>();
        builder.Services.AddQuartz(q => q.ScheduleJob<TelemetryRetentionJob>(
            trigger => trigger
                .WithIdentity("telemetry-retention", "telemetry")
                .StartNow()
                .WithSimpleSchedule(s => s.WithInterval(interval).RepeatForever().WithMisfireInstruction(SimpleTriggerMisfireInstruction.NextWithRemainingCount)),
            job => job.WithIdentity(TelemetryRetentionJob.Key)));
    }
}
