using System.Text.RegularExpressions;
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

public static partial class WorkspaceSettingsApi
{
    public const string ResourceType = "workspace_settings";

    /// <summary>
    /// http-level directives a workspace may set. Values reach nginx as one quoted argument each (design.md);
    /// nothing that loads code, includes files or writes logs is ever allowed.
    /// </summary>
    public static readonly IReadOnlySet<string> AllowedDirectives = new HashSet<string>(StringComparer.Ordinal)
    {
        "client_max_body_size", "client_body_timeout", "client_header_timeout", "client_body_buffer_size",
        "keepalive_timeout", "keepalive_requests", "send_timeout", "large_client_header_buffers",
        "proxy_connect_timeout", "proxy_read_timeout", "proxy_send_timeout", "proxy_buffering", "proxy_buffer_size",
        "proxy_busy_buffers_size", "gzip", "gzip_comp_level", "gzip_min_length", "gzip_types", "gzip_vary", "gzip_proxied",
        "server_tokens", "sendfile", "tcp_nopush", "tcp_nodelay", "etag", "server_names_hash_bucket_size",
    };

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
        foreach (var (name, value) in request.GlobalSettings?.NginxDirectives ?? [])
        {
            var field = $"global_settings.nginx_directives.{name}";
            if (!AllowedDirectives.Contains(name))
            {
                v.Add(field, ValidationCodes.NotAllowed, $"'{name}' is not an allowed directive; allowed: {string.Join(", ", AllowedDirectives.Order())}");
            }
            ValidateValue(v, field, value, 1024);
        }
        foreach (var (name, value) in request.GlobalSettings?.EnvVars ?? [])
        {
            var field = $"global_settings.env_vars.{name}";
            if (!EnvVarName().IsMatch(name))
            {
                v.Add(field, ValidationCodes.InvalidFormat, "Environment variable names are letters, digits and '_', not starting with a digit, at most 128 characters");
            }
            ValidateValue(v, field, value, 4096);
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

    private static void ValidateValue(Validator v, string field, string? value, int maxLength)
    {
        if (value is null)
        {
            v.Add(field, ValidationCodes.Required, "A value is required");
        }
        else if (value.Length > maxLength)
        {
            v.Add(field, ValidationCodes.OutOfRange, $"At most {maxLength} characters");
        }
        else if (value.Any(c => c is '\r' or '\n' or '\0' || char.IsControl(c)))
        {
            v.Add(field, ValidationCodes.InvalidFormat, "Control characters (CR, LF, NUL …) are not allowed");
        }
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
    private static partial Regex EnvVarName();
}
