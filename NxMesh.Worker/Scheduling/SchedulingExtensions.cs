using Microsoft.Extensions.Diagnostics.HealthChecks;
using NxMesh.Data;
using Quartz;

namespace NxMesh.Worker.Scheduling;

/// <summary>Settings of the Quartz scheduler (section "Scheduling").</summary>
public sealed class SchedulingOptions
{
    public string SchedulerName { get; set; } = "nxmesh";
    public int ClusterCheckinIntervalSeconds { get; set; } = 15;
}

internal static class SchedulingExtensions
{
    /// <summary>
    /// Quartz with the persistent, clustered ADO job store in Postgres (tables from the migrations), so any number
    /// of Worker replicas share the schedule and each job runs once.
    /// </summary>
    public static void AddScheduling(this IHostApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection("Scheduling").Get<SchedulingOptions>() ?? new SchedulingOptions();
        var connectionString = builder.Configuration.GetConnectionString(ConnectionNames.Database)
            ?? throw new InvalidOperationException($"Connection string '{ConnectionNames.Database}' is required.");

        builder.Services.AddQuartz(q =>
        {
            q.ConfigureScheduler(s =>
            {
                s.InstanceName = options.SchedulerName;
                s.GenerateInstanceId = true;
            });
            q.UsePersistentStore(store =>
            {
                store.UsePostgres(connectionString);
                // The tables come from the EF migrations (NxMesh.Data/Migrations); the scheduler only checks them.
                store.ConfigureStore(o => o.SchemaProvisioning = SchemaProvisioning.Validate);
                store.UseClustering(c => c.CheckinInterval = TimeSpan.FromSeconds(options.ClusterCheckinIntervalSeconds));
                store.UseSystemTextJsonSerializer();
            });
        });
        builder.Services.AddQuartzHostedService(o => o.WaitForJobsToComplete = true);
        builder.Services.AddHealthChecks().AddCheck<SchedulerHealthCheck>("quartz");
    }
}

/// <summary>Healthy while the scheduler runs on the clustered job store.</summary>
internal sealed class SchedulerHealthCheck(ISchedulerFactory schedulerFactory) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var scheduler = await schedulerFactory.GetScheduler(cancellationToken);
        var metadata = await scheduler.GetMetadata(cancellationToken);
        if (metadata.Status != SchedulerStatus.Running)
        {
            return HealthCheckResult.Unhealthy($"The scheduler is {metadata.Status}.");
        }
        return metadata.JobStoreClustered
            ? HealthCheckResult.Healthy($"Scheduler {metadata.SchedulerInstanceId} runs on a clustered job store.")
            : HealthCheckResult.Unhealthy("The job store is not clustered.");
    }
}
