using NxMesh.Data.Telemetry;

namespace NxMesh.AgentHub.Telemetry;

internal static class TelemetryExtensions
{
    /// <summary>Access-log and metrics ingest (COPY, coalesced across agents, Ack after commit) and day partitions.</summary>
    public static void AddTelemetryIngest(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<TelemetryOptions>().Bind(builder.Configuration.GetSection(TelemetryOptions.Section));
        builder.Services.AddSingleton<TelemetryDataSource>();
        builder.Services.AddSingleton<TelemetryIngest>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<TelemetryIngest>());
        builder.Services.AddHostedService<PartitionMaintenance>();
    }
}
