using NxMesh.AgentHub.Agents;
using NxMesh.AgentHub.Alerts;
using NxMesh.AgentHub.Memory;
using NxMesh.AgentHub.Telemetry;
using NxMesh.Data;

namespace NxMesh.AgentHub;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddNpgsqlDbContext<NxMeshDbContext>(ConnectionNames.Database);
        builder.AddRedisClient(ConnectionNames.Redis);
        builder.Services.AddNxMeshDataProtection(builder.Configuration);
        builder.Services.AddGrpc();
        // The standard grpc.health.v1 service reports SERVING only while Postgres and Redis are healthy.
        builder.Services.AddGrpcHealthChecks();
        builder.AddAgentHub();
        builder.AddHealthAlerts();
        builder.AddTelemetryIngest();
        builder.AddHeapTrim();
    }
}
