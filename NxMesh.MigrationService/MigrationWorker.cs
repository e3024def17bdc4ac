using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using NxMesh.Data;
using NxMesh.MigrationService.Seeding;

namespace NxMesh.MigrationService;

/// <summary>Migrates the database, seeds the bootstrap data, and stops the host; a failure exits non-zero.</summary>
internal sealed partial class MigrationWorker(
    IServiceProvider services,
    BootstrapSeeder seeder,
    IHostApplicationLifetime lifetime,
    ILogger<MigrationWorker> logger) : BackgroundService
{
    private static readonly ActivitySource Source = new(Extensions.ActivitySourceName);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var activity = Source.StartActivity("Migrating database", ActivityKind.Client);
        try
        {
            await using (var scope = services.CreateAsyncScope())
            {
                var db = scope.ServiceProvider.GetRequiredService<NxMeshDbContext>();
                var pending = (await db.Database.GetPendingMigrationsAsync(stoppingToken)).ToList();
                LogMigrating(pending.Count, string.Join(", ", pending));
                // Postgres may still be starting when the fleet comes up; retry its transient errors.
                await db.Database.CreateExecutionStrategy().ExecuteAsync(
                    async ct => await db.Database.MigrateAsync(ct), stoppingToken);
            }
            await seeder.SeedAsync(stoppingToken);
            LogDone();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            activity?.AddException(ex);
            LogFailed(ex);
            Environment.ExitCode = 1;
        }
        lifetime.StopApplication();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Applying {Count} pending migration(s): {Migrations}")]
    private partial void LogMigrating(int count, string migrations);

    [LoggerMessage(Level = LogLevel.Information, Message = "Database migrated and seeded")]
    private partial void LogDone();

    [LoggerMessage(Level = LogLevel.Critical, Message = "Migration failed")]
    private partial void LogFailed(Exception exception);
}
