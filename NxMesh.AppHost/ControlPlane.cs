using System.Globalization;

namespace NxMesh.AppHost;

public sealed record ControlPlane(
    IResourceBuilder<ProjectResource> Api,
    IResourceBuilder<ProjectResource> AgentHub,
    IResourceBuilder<ProjectResource> Worker)
{
    /// <summary>Every AgentHub instance, <see cref="AgentHub"/> first (NxMesh:AgentHubReplicas).</summary>
    public IReadOnlyList<IResourceBuilder<ProjectResource>> AgentHubs { get; init; } = [AgentHub];

    /// <summary>The migration service (runs once: migrations and the bootstrap seed, including the replicas' tokens).</summary>
    public IResourceBuilder<ProjectResource>? Migrator { get; init; }
}

public static class ControlPlaneExtensions
{
    /// <summary>Local defaults of the bootstrap admin, overridable as Parameters__admin-email / Parameters__admin-password.</summary>
    public const string DefaultAdminEmail = "admin@nxmesh.local";
    public const string DefaultAdminPassword = "nxmesh-admin";
    public const string LocalOrganizationSlug = "local";
    public const string LocalWorkspaceSlug = "default";

    /// <summary>The migration service (runs once), then Api, AgentHub and Worker, which wait for its completion.</summary>
    public static ControlPlane AddControlPlane(this IDistributedApplicationBuilder builder, Stores stores, FleetSettings settings, FleetMode mode)
    {
        var adminEmail = builder.AddParameter("admin-email", builder.Configuration["Parameters:admin-email"] ?? DefaultAdminEmail);
        var adminPassword = builder.AddParameter("admin-password", builder.Configuration["Parameters:admin-password"] ?? DefaultAdminPassword, secret: true);

        var migrator = builder.AddProject<Projects.NxMesh_MigrationService>(ResourceNames.Migrator)
            .WithStores(stores, redis: false)
            .WithEnvironment("Bootstrap__AdminEmail", adminEmail)
            .WithEnvironment("Bootstrap__AdminPassword", adminPassword);
        if (mode == FleetMode.Local)
        {
            migrator
                .WithEnvironment("Bootstrap__OrganizationName", "Local")
                .WithEnvironment("Bootstrap__OrganizationSlug", LocalOrganizationSlug)
                .WithEnvironment("Bootstrap__WorkspaceName", "Default")
                .WithEnvironment("Bootstrap__WorkspaceSlug", LocalWorkspaceSlug);
            for (var i = 1; i <= settings.AgentReplicas; i++)
            {
                migrator
                    .WithEnvironment($"Bootstrap__Agents__{i - 1}__Name", ResourceNames.Agent(i))
                    .WithEnvironment($"Bootstrap__Agents__{i - 1}__Token", AgentReplicas.RegistrationToken(stores, i))
                    .WithEnvironment($"Bootstrap__Agents__{i - 1}__Labels__replica", i.ToString(CultureInfo.InvariantCulture))
                    .WithEnvironment($"Bootstrap__Agents__{i - 1}__Labels__env", "local");
            }
        }

        var api = builder.AddProject<Projects.NxMesh_Api>(ResourceNames.Api)
            .WithStores(stores, redis: true)
            .WaitForCompletion(migrator)
            .WithHttpHealthCheck("/health");

        var agentHubs = Enumerable.Range(1, Math.Max(1, settings.AgentHubReplicas))
            .Select(i => builder.AddAgentHub(i, stores, migrator))
            .ToList();

        var worker = builder.AddProject<Projects.NxMesh_Worker>(ResourceNames.Worker)
            .WithStores(stores, redis: true)
            .WaitForCompletion(migrator)
            .WithHttpHealthCheck("/health");

        return new ControlPlane(api, agentHubs[0], worker) { AgentHubs = agentHubs, Migrator = migrator };
    }

    /// <summary>
    /// AgentHub instance i. Its endpoints come from the project's Kestrel configuration (grpc 5081, http 5082);
    /// instance i ≥ 2 takes those ports plus 100 × (i − 1), so `./nxmesh.sh up` can run several side by side.
    /// </summary>
    private static IResourceBuilder<ProjectResource> AddAgentHub(this IDistributedApplicationBuilder builder, int index, Stores stores,
        IResourceBuilder<ProjectResource> migrator)
    {
        var hub = builder.AddProject<Projects.NxMesh_AgentHub>(ResourceNames.AgentHubInstance(index))
            .WithStores(stores, redis: true)
            .WaitForCompletion(migrator)
            .WithHttpHealthCheck("/health", endpointName: "http")
            // A 16 MiB gen0 budget: the GC sizes it from the L3 cache (80 MiB here), all of it committed between
            // collections; once the heap trim (Memory/HeapTrim) has returned the rest, it is most of the GC's slack.
            // Two glibc malloc arenas instead of one per thread that ever allocated natively (15 at 10,000 agents,
            // 26 MiB resident; 4–10 MiB with 2). Only the environment sets either. README "Benchmarks (issue 9)", item 1.
            .WithEnvironment("DOTNET_GCgen0size", "0x1000000")
            .WithEnvironment("MALLOC_ARENA_MAX", "2");
        if (index > 1)
        {
            var shift = 100 * (index - 1);
            hub.WithEndpoint("grpc", endpoint => endpoint.Port += shift, createIfNotExists: false)
                .WithEndpoint("http", endpoint => endpoint.Port += shift, createIfNotExists: false);
        }
        return hub;
    }

    private static IResourceBuilder<ProjectResource> WithStores(this IResourceBuilder<ProjectResource> project, Stores stores, bool redis)
    {
        project.WithReference(stores.Database).WithEnvironment("DataProtection__KeyEncryptionKey", stores.KeyEncryptionKey);
        if (redis)
        {
            project.WithReference(stores.Redis);
        }
        foreach (var target in stores.WaitTargets)
        {
            project.WaitFor(target);
        }
        return project;
    }
}
