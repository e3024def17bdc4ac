using Microsoft.AspNetCore.Routing.Patterns;
using NxMesh.Api.Agents;
using NxMesh.Api.AlertRules;
using NxMesh.Api.Audit;
using NxMesh.Api.Auth;
using NxMesh.Api.Certificates;
using NxMesh.Api.Events;
using NxMesh.Api.Organizations;
using NxMesh.Api.Platform;
using NxMesh.Api.Telemetry;
using NxMesh.Api.Upstreams;
using NxMesh.Api.VirtualHosts;
using NxMesh.Api.Workspaces;
using NxMesh.Data;
using NxMesh.Data.Commands;
using NxMesh.Data.DesiredConfig;

namespace NxMesh.Api;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddNpgsqlDbContext<NxMeshDbContext>(ConnectionNames.Database, settings => settings.ConnectionString = ApiDatabase.Tune(settings.ConnectionString));
        // Outbox:PublishAfterCommit=false leaves propagation to the AgentHub's outbox poll alone (for measuring it).
        if (builder.Configuration.GetValue("Outbox:PublishAfterCommit", true))
        {
            builder.Services.AddSingleton<OutboxFastPath>();
            builder.Services.ConfigureDbContext<NxMeshDbContext>((services, options) => options.AddInterceptors(services.GetRequiredService<OutboxFastPath>()));
        }
        builder.AddRedisClient(ConnectionNames.Redis);
        builder.Services.AddNxMeshDataProtection(builder.Configuration);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.ConfigureHttpJsonOptions(o => ApiJson.Configure(o.SerializerOptions));
        // Binding failures (malformed JSON, wrong Content-Type, bad query values) throw, so ErrorMiddleware
        // answers them with the envelope instead of an empty 400.
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddScoped<CurrentUser>();
        builder.Services.AddScoped<TenantAccess>();
        builder.Services.AddScoped<AuditTrail>();
        builder.Services.AddSingleton<AgentCommandClient>();
        builder.Services.AddSingleton<AgentCountCache>();
        builder.Services.AddSingleton<AgentListDataSource>();
        builder.Services.AddSingleton<IAgentCommands, RedisAgentCommands>();
        builder.Services.AddScoped<DesiredConfigBuilder>();
        builder.Services.AddScoped<DesiredConfigService>();
        builder.Services.AddOptions<AgentCommandOptions>().Bind(builder.Configuration.GetSection(AgentCommandOptions.SectionName));
        builder.Services.AddOptions<RateLimitOptions>().Bind(builder.Configuration.GetSection(RateLimitOptions.SectionName));
        builder.Services.AddSingleton<RateLimitBudget>();
        builder.AddNxMeshAuth();
        builder.Services.AddNxMeshOpenApi();
        builder.AddEvents();
    }

    /// <summary>Order matters: request id and error envelope outermost, then body limit, auth, rate limit.</summary>
    public static void UseApiPipeline(this WebApplication app)
    {
        app.UseMiddleware<ErrorMiddleware>();
        app.UseMiddleware<RequestLimits>();
        app.UseWebSockets();
        app.UseAuthentication();
        app.UseMiddleware<RateLimitMiddleware>();
        app.UseAuthorization();
    }

    /// <summary>REST v1: /auth/* is public; /me and /auth/password need a token; everything else also needs a changed one-time password.</summary>
    public static void MapApiV1(this WebApplication app)
    {
        var v1 = app.MapGroup("/v1").ProducesErrors(StatusCodes.Status429TooManyRequests, StatusCodes.Status500InternalServerError);
        // MapGet("") inside a group yields ".../"; the contract's paths have no trailing slash.
        ((IEndpointConventionBuilder)v1).Add(endpoint =>
        {
            if (endpoint is RouteEndpointBuilder route && route.RoutePattern.RawText is { Length: > 1 } raw && raw.EndsWith('/'))
            {
                route.RoutePattern = RoutePatternFactory.Parse(raw.TrimEnd('/'));
            }
        });
        v1.MapAuthApi();
        v1.MapMeApi().RequireAuthorization();

        var api = v1.MapGroup("").RequireAuthorization().RequirePasswordChanged()
            .ProducesErrors(StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden, StatusCodes.Status404NotFound,
                StatusCodes.Status409Conflict, StatusCodes.Status422UnprocessableEntity);
        api.MapOrganizationsApi();
        api.MapMembersApi();
        api.MapAuditLogApi();
        api.MapWorkspacesApi();
        api.MapAgentsApi();
        api.MapRegistrationTokensApi();
        api.MapVirtualHostsApi();
        api.MapUpstreamsApi();
        api.MapCertificatesApi();
        api.MapEventsApi();
        api.MapAlertRulesApi();
        api.MapMetricsApi();
        api.MapAccessLogsApi();
    }
}
