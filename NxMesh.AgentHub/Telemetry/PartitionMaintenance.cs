using Microsoft.Extensions.Options;
using NxMesh.Data.Telemetry;

namespace NxMesh.AgentHub.Telemetry;

/// <summary>
/// Keeps day partitions ready from yesterday to <see cref="TelemetryOptions.PartitionDaysAhead"/> days ahead, at start
/// and periodically (the Worker's retention job does the same), so today's rows rarely land in the DEFAULT partition.
/// A failure only means rows go to the DEFAULT partition for a while: logged, retried next round.
/// </summary>
internal sealed class PartitionMaintenance(
    TelemetryDataSource dataSource, IOptions<TelemetryOptions> options, TimeProvider time, ILogger<PartitionMaintenance> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromMinutes(Math.Max(0.01, options.Value.PartitionCheckMinutes));
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
                var created = await TelemetryPartitions.EnsureAsync(dataSource.DataSource, today.AddDays(-1), today.AddDays(options.Value.PartitionDaysAhead), stoppingToken);
                if (created > 0)
                {
                    logger.LogInformation("Created {Count} telemetry day partitions.", created);
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Could not create telemetry day partitions; rows go to the DEFAULT partition meanwhile.");
            }
            try
            {
                await Task.Delay(interval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
