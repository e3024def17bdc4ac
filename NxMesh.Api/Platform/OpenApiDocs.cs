using Microsoft.AspNetCore.Authorization;
using Microsoft.OpenApi;
using Scalar.AspNetCore;

namespace NxMesh.Api.Platform;

/// <summary>The OpenAPI document at /openapi/v1.json (bearer scheme on every secured operation) and Scalar at /docs.</summary>
internal static class OpenApiDocs
{
    public const string BearerScheme = "Bearer";

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
