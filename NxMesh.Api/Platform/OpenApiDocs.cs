using Microsoft.AspNetCore.Authorization;
using Microsoft.OpenApi;
using Scalar.AspNetCore;

namespace NxMesh.Api.Platform;

/// <summary>The OpenAPI document at /openapi/v1.json (bearer scheme on every secured operation) and Scalar at /docs.</summary>
internal static class OpenApiDocs
{
    public const string BearerScheme = "Bearer";

    private static readonly Dictionary<string, string> TagDescriptions = new(StringComparer.Ordinal)
    {
        ["Auth"] = "Login, token refresh and rotation, logout, password change, the caller.",
        ["Organizations"] = "Tenants. The creator is the owner; only owners delete.",
        ["Members"] = "Members and roles: viewer reads, editor changes workspace resources, admin manages workspaces, members and tokens, owner deletes the organization.",
        ["Audit"] = "Every successful mutation with actor, before and after.",
        ["Workspaces"] = "Groups of agents and the nginx configuration they serve.",
        ["Agents"] = "nginx hosts running the NxMesh agent, and their registration tokens.",
    };

    public static void AddNxMeshOpenApi(this IServiceCollection services) =>
        services.AddOpenApi(options =>
        {
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "NxMesh API",
                    Version = "v1",
                    Description = "Control plane for fleets of nginx servers. Errors use one envelope {error: {code, message, request_id, details[]}}; "
                        + "lists answer {data, meta: {page, per_page, total}}; timestamps are RFC 3339 UTC.",
                };
                document.Info.License = new OpenApiLicense { Name = "Proprietary" };
                foreach (var server in document.Servers ?? [])
                {
                    server.Url = server.Url?.TrimEnd('/');
                }
                foreach (var tag in document.Tags ?? new HashSet<OpenApiTag>())
                {
                    tag.Description ??= TagDescriptions.TryGetValue(tag.Name ?? "", out var description) ? description : tag.Name;
                }
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = "bearer",
                    BearerFormat = "JWT",
                    Description = "Access token from POST /v1/auth/login (RS256, 3600 s).",
                };
                return Task.CompletedTask;
            });
            options.AddOperationTransformer((operation, context, _) =>
            {
                var metadata = context.Description.ActionDescriptor.EndpointMetadata;
                if (metadata.OfType<IAuthorizeData>().Any() && !metadata.OfType<IAllowAnonymous>().Any())
                {
                    operation.Security ??= [];
                    operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, context.Document)] = [] });
                }
                else
                {
                    // Explicitly anonymous (login, refresh, logout).
                    operation.Security = [new OpenApiSecurityRequirement()];
                }
                return Task.CompletedTask;
            });
        });

    public static void MapNxMeshOpenApi(this WebApplication app)
    {
        app.MapOpenApi();
        app.MapScalarApiReference("/docs", options => options
            .WithTitle("NxMesh API")
            .WithOpenApiRoutePattern("/openapi/{documentName}.json"));
    }
}
