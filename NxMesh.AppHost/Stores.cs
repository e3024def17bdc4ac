using Microsoft.Extensions.DependencyInjection;
using NxMesh.AppHost.Local;

namespace NxMesh.AppHost;

/// <summary>Postgres and Redis as the services see them, whichever mode provides them.</summary>
public sealed record Stores(
    IResourceBuilder<IResourceWithConnectionString> Database,
    IResourceBuilder<IResourceWithConnectionString> Redis,
    IResourceBuilder<ParameterResource> KeyEncryptionKey,
    IReadOnlyList<IResourceBuilder<IResource>> WaitTargets,
    LocalDataDirectory? LocalData);

public static class StoresExtensions
{
    /// <summary>Container mode: Aspire's hosting integrations; the KEK is a secret parameter the operator supplies.</summary>
    public static Stores AddContainerStores(this IDistributedApplicationBuilder builder)
    {
        var postgres = builder.AddPostgres(ResourceNames.Postgres).WithDataVolume();
        var database = postgres.AddDatabase(ResourceNames.Database);
        var redis = builder.AddRedis(ResourceNames.Redis);
        var kek = builder.AddParameter("key-encryption-key", secret: true);
        return new Stores(Upcast(database), Upcast(redis), kek, [Upcast(database), Upcast(redis)], null);
    }

    /// <summary>
    /// Local mode: Postgres and redis-server as executables on loopback, their data and secrets in the local data
    /// folder; health checks gate everything that waits for them.
    /// </summary>
    public static Stores AddLocalStores(this IDistributedApplicationBuilder builder, FleetSettings settings)
    {
        var data = new LocalDataDirectory(settings.DataDirectory ?? LocalDataDirectory.DefaultRoot());
        var postgresPassword = data.Secret("postgres-password", () => LocalDataDirectory.RandomBase64(24).Replace('/', '_').Replace('+', '-'));
        var postgresPort = settings.PostgresPort == 0 ? LocalDataDirectory.FreeTcpPort() : settings.PostgresPort;
        var redisPort = settings.RedisPort == 0 ? LocalDataDirectory.FreeTcpPort() : settings.RedisPort;

        LocalPostgres.EnsureInitialized(settings.PostgresBinDirectory, data.PostgresData, data.PostgresSocketDirectory, postgresPassword);
        var (command, arguments) = LocalPostgres.ServerCommand(settings.PostgresBinDirectory, data.PostgresData, data.PostgresSocketDirectory, postgresPort);
        var serverConnectionString = $"Host=127.0.0.1;Port={postgresPort};Username={LocalPostgres.User};Password={postgresPassword}";
        var databaseConnectionString = $"{serverConnectionString};Database={ResourceNames.Database}";

        builder.Services.AddHealthChecks()
            .AddNpgSql(serverConnectionString + ";Database=postgres", name: "postgres-ready")
            .AddRedis($"127.0.0.1:{redisPort}", name: "redis-ready");

        var postgres = builder.AddExecutable(ResourceNames.Postgres, command, data.PostgresRoot, arguments)
            .WithHealthCheck("postgres-ready");

        Directory.CreateDirectory(data.RedisDirectory);
        var redis = builder.AddExecutable(ResourceNames.RedisServer, settings.RedisServer, data.RedisDirectory,
                "--port", $"{redisPort}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", data.RedisDirectory)
            .WithHealthCheck("redis-ready");

        var database = builder.AddConnectionString(ResourceNames.Database, ReferenceExpression.Create($"{databaseConnectionString}"));
        var redisConnection = builder.AddConnectionString(ResourceNames.Redis, ReferenceExpression.Create($"127.0.0.1:{redisPort.ToString(System.Globalization.CultureInfo.InvariantCulture)}"));
        var kek = builder.AddParameter("key-encryption-key", data.Secret("key-encryption-key", () => LocalDataDirectory.RandomBase64(32)), secret: true);

        return new Stores(Upcast(database), Upcast(redisConnection), kek, [Upcast(postgres), Upcast(redis)], data);
    }

    internal static IResourceBuilder<IResourceWithConnectionString> Upcast<T>(IResourceBuilder<T> builder) where T : IResourceWithConnectionString =>
        new ResourceBuilderView<IResourceWithConnectionString>(builder.ApplicationBuilder, builder.Resource);

    internal static IResourceBuilder<IResource> Upcast(IResourceBuilder<IResource> builder) => builder;

    private sealed class ResourceBuilderView<T>(IDistributedApplicationBuilder applicationBuilder, T resource) : IResourceBuilder<T> where T : IResource
    {
        public IDistributedApplicationBuilder ApplicationBuilder { get; } = applicationBuilder;
        public T Resource { get; } = resource;
        public IResourceBuilder<T> WithAnnotation<TAnnotation>(TAnnotation annotation, ResourceAnnotationMutationBehavior behavior = ResourceAnnotationMutationBehavior.Append)
            where TAnnotation : IResourceAnnotation
        {
            if (behavior == ResourceAnnotationMutationBehavior.Replace)
            {
                foreach (var existing in Resource.Annotations.OfType<TAnnotation>().ToList())
                {
                    Resource.Annotations.Remove(existing);
                }
            }
            Resource.Annotations.Add(annotation);
            return this;
        }
    }
}
