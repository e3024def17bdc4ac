using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using NxMesh.AgentHub.Commands;
using NxMesh.AgentHub.Connections;
using NxMesh.AgentHub.Outbox;
using NxMesh.AgentHub.Push;
using NxMesh.Data.DesiredConfig;
using NxMesh.Data.Messaging;

namespace NxMesh.AgentHub.Agents;

internal static class AgentHubExtensions
{
    /// <summary>The fleet path: AgentService, live connections, config push, outbox relay, commands.</summary>
    public static void AddAgentHub(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<AgentHubOptions>().Bind(builder.Configuration.GetSection(AgentHubOptions.Section));
        // Keepalive pings find dead peers (a silently vanished agent) without waiting for TCP timeouts.
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<AgentHubOptions>>((kestrel, hub) =>
        {
            kestrel.Limits.Http2.KeepAlivePingDelay = TimeSpan.FromSeconds(hub.Value.KeepAlivePingDelaySeconds);
            kestrel.Limits.Http2.KeepAlivePingTimeout = TimeSpan.FromSeconds(hub.Value.KeepAlivePingTimeoutSeconds);
        });
        services.TryAddSingleton(TimeProvider.System);
        services.AddScoped<AgentAuthenticator>();
        services.AddSingleton<ConnectGate>();
        services.AddScoped<AgentStore>();
        services.AddScoped<DesiredConfigBuilder>();
        services.AddScoped<DesiredConfigBatch>();
        services.AddSingleton<HubInstance>();
        services.AddSingleton<ConnectionRegistry>();
        services.AddSingleton<WorkspaceGates>();
        services.AddSingleton<ConfigPusher>();
        services.AddSingleton<WorkspaceRecompute>();
        services.AddSingleton<CommandRelay>();
        services.AddHostedService(sp => sp.GetRequiredService<CommandRelay>());
        services.AddSingleton<FleetEventPublisher>();
        services.AddSingleton<HubMessaging>();
        services.AddHostedService(sp => sp.GetRequiredService<HubMessaging>());
        services.AddHostedService<OutboxRelay>();
        services.AddHostedService<DesiredRefresh>();
        services.AddSingleton<HealthWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<HealthWriter>());
        services.AddSingleton<ConnectWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<ConnectWriter>());
        services.AddSingleton<StatusWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<StatusWriter>());
    }

    public static void MapAgentHub(this IEndpointRouteBuilder app) => app.MapGrpcService<AgentStreamService>();
}
