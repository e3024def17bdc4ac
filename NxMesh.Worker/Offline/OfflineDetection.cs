using Microsoft.Extensions.Options;
using NxMesh.Data;
using NxMesh.Data.Messaging;
using Quartz;

namespace NxMesh.Worker.Offline;

/// <summary>Offline detection settings (section "Offline").</summary>
public sealed class OfflineOptions
{
    public const string Section = "Offline";

    /// <summary>Must match the AgentHub's <c>AgentHub:HeartbeatIntervalSeconds</c>.</summary>
    public double HeartbeatIntervalSeconds { get; set; } = 30;
    /// <summary>An agent silent for this many heartbeats is offline.</summary>
    public double MissedHeartbeats { get; set; } = 3;
    public double CheckIntervalSeconds { get; set; } = 10;

    public TimeSpan Silence => TimeSpan.FromSeconds(HeartbeatIntervalSeconds * MissedHeartbeats);
}

/// <summary>
/// Marks agents silent for 3 × heartbeat offline and publishes <c>agent.disconnected</c> (reason
/// <c>connection_timeout</c>). The clustered job store runs it on one Worker at a time; the conditional UPDATE
/// makes each transition happen, and be published, once even if two runs overlapped.
/// </summary>
[DisallowConcurrentExecution]
internal sealed class OfflineDetectionJob(NxMeshDbContext db, FleetEventPublisher events, IOptions<OfflineOptions> options,
    ILogger<OfflineDetectionJob> logger) : IJob
{
    public static readonly JobKey Key = new("offline-detection", "fleet");

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var offline = await AgentPresence.MarkSilentAgentsOfflineAsync(db, options.Value.Silence, cancellationToken);
        foreach (var agent in offline)
        {
            await AgentPresence.PublishDisconnectedAsync(events, agent, DisconnectReasons.ConnectionTimeout);
            logger.LogInformation("Agent {AgentId} silent for {Silence}: offline.", agent.AgentId, options.Value.Silence);
        }
    }
}

internal static class OfflineDetectionExtensions
{
    public static void AddOfflineDetection(this IHostApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(OfflineOptions.Section);
        builder.Services.AddOptions<OfflineOptions>().Bind(section);
        var interval = TimeSpan.FromSeconds((section.Get<OfflineOptions>() ?? new OfflineOptions()).CheckIntervalSeconds);
        builder.Services.AddSingleton<FleetEventPublisher>();
        builder.Services.AddQuartz(q => q.ScheduleJob<OfflineDetectionJob>(
            trigger => trigger
                .WithIdentity("offline-detection", "fleet")
                .StartNow()
                .WithSimpleSchedule(s => s.WithInterval(interval).RepeatForever().WithMisfireInstruction(SimpleTriggerMisfireInstruction.NextWithRemainingCount)),
            job => job.WithIdentity(OfflineDetectionJob.Key)));
    }
}
