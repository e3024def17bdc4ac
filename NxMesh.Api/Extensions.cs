using NxMesh.Data;

namespace NxMesh.Api;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddNpgsqlDbContext<NxMeshDbContext>(ConnectionNames.Database);
        builder.AddRedisClient(ConnectionNames.Redis);
        builder.Services.AddNxMeshDataProtection(builder.Configuration);
        builder.Services.AddOpenApi();
    }
}
