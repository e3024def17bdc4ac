using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using NxMesh.Api.Platform;
using NxMesh.Data;
using NxMesh.Data.Entities;
using NxMesh.Nginx.Validation;

namespace NxMesh.Api.Workspaces;

/// <summary>The spec's GlobalSettings (http-level nginx directives, agent environment variables).</summary>
public sealed record GlobalSettingsDto(IReadOnlyDictionary<string, string> NginxDirectives, IReadOnlyDictionary<string, string> EnvVars);

public sealed record WorkspaceSettingsResponse(GlobalSettingsDto GlobalSettings, int AccessLogRetentionDays, int MetricsRetentionDays)
{
    public static WorkspaceSettingsResponse From(WorkspaceSettings s) =>
        new(new GlobalSettingsDto(s.NginxDirectives, s.EnvVars), s.AccessLogRetentionDays, s.MetricsRetentionDays);
}

public sealed record GlobalSettingsPatch(Dictionary<string, string?>? NginxDirectives, Dictionary<string, string?>? EnvVars);

/// <summary>PATCH: each present field replaces the stored one as a whole; absent fields keep theirs.</summary>
public sealed record UpdateWorkspaceSettingsRequest(GlobalSettingsPatch? GlobalSettings, int? AccessLogRetentionDays, int? MetricsRetentionDays);

public static class WorkspaceSettingsApi
{
    public const string ResourceType = "workspace_settings";

    public static RouteGroupBuilder MapWorkspaceSettingsApi(this RouteGroupBuilder workspaces)
    {
        workspaces.MapGet("/{workspace_id:guid}/settings", GetAsync).WithName("GetWorkspaceSettings").WithSummary("Workspace settings including global_settings (viewer)");
        workspaces.MapPatch("/{workspace_id:guid}/settings", UpdateAsync).WithName("UpdateWorkspaceSettings")
            .WithSummary("Change workspace settings (admin); agents receive the new global_settings");
        return workspaces;
    }

    private static async Task<Ok<WorkspaceSettingsResponse>> GetAsync([FromRoute(Name = "workspace_id")] Guid workspaceId, TenantAccess access, CancellationToken cancellationToken)
    {
        var (workspace, _) = await access.WorkspaceAsync(workspaceId, OrganizationRole.Viewer, cancellationToken);
        return TypedResults.Ok(WorkspaceSettingsResponse.From(workspace.Settings));
    }

    private static async Task<Ok<WorkspaceSettingsResponse>> UpdateAsync([FromRoute(Name = "workspace_id")] Guid workspaceId, UpdateWorkspaceSettingsRequest request,
        NxMeshDbContext db, TenantAccess access, AuditTrail audit, CancellationToken cancellationToken)
    {
        var (workspace, scope) = await access.WorkspaceAsync(workspaceId, OrganizationRole.Admin, cancellationToken);
        var v = new Validator();
        v.Range("access_log_retention_days", request.AccessLogRetentionDays, 1, 365);
        v.Range("metrics_retention_days", request.MetricsRetentionDays, 1, 365);
        // The shared nginx library decides, so the Api never accepts what the agent's renderer would refuse.
        foreach (var (name, value) in request.GlobalSettings?.NginxDirectives ?? [])
        {
            v.Add(CustomDirectives.Validate(DirectiveContext.Http, name, value, "global_settings.nginx_directives"));
        }
        foreach (var (name, value) in request.GlobalSettings?.EnvVars ?? [])
        {
            v.Add(NginxValidation.EnvVar(name, value, "global_settings.env_vars"));
        }
        v.ThrowIfInvalid();

        var before = WorkspaceSettingsResponse.From(workspace.Settings);
        var settings = new WorkspaceSettings
        {
            NginxDirectives = request.GlobalSettings?.NginxDirectives is { } directives ? directives.ToDictionary(d => d.Key, d => d.Value!) : new(workspace.Settings.NginxDirectives),
            EnvVars = request.GlobalSettings?.EnvVars is { } env ? env.ToDictionary(e => e.Key, e => e.Value!) : new(workspace.Settings.EnvVars),
            AccessLogRetentionDays = request.AccessLogRetentionDays ?? workspace.Settings.AccessLogRetentionDays,
            MetricsRetentionDays = request.MetricsRetentionDays ?? workspace.Settings.MetricsRetentionDays,
        };
        workspace.Settings = settings;
        var after = WorkspaceSettingsResponse.From(settings);
        audit.Record(scope.OrganizationId, workspaceId, "update", ResourceType, workspaceId, before, after);
        audit.ConfigChanged(workspaceId, ResourceType, workspaceId, "update");
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Ok(after);
    }
}
