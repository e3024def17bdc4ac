using System.Text.Json.Nodes;
using Google.Protobuf;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using NxMesh.Api.Platform;
using NxMesh.Data;
using NxMesh.Data.DesiredConfig;
using NxMesh.Data.Entities;
using NxMesh.Nginx;
using NxMesh.Nginx.Rendering;

namespace NxMesh.Api.Agents;

/// <summary>GET /agents/{id} <c>config</c>: desired vs applied config of the agent.</summary>
public sealed record AgentConfigState(
    string? DesiredConfigId, long DesiredConfigVersion, string? AppliedConfigId, long AppliedConfigVersion, bool InSync,
    ConfigApplyStatus? LastApplyStatus, string? LastApplyError, DateTimeOffset? LastApplyAt)
{
    /// <summary>In sync: a desired config exists and the agent has applied exactly it.</summary>
    public static AgentConfigState From(Agent a) => new(a.DesiredConfigId, a.DesiredConfigVersion, a.AppliedConfigId, a.AppliedConfigVersion,
        a.DesiredConfigId is not null && a.AppliedConfigId == a.DesiredConfigId,
        a.LastApplyStatus == ConfigApplyStatus.Unspecified ? null : a.LastApplyStatus, a.LastApplyError, a.LastApplyAt);
}

/// <summary>
/// GET /agents/{id}/config. <c>desired</c> is the ConfigUpdate the agent is (or will be) sent, as proto JSON with
/// private keys replaced by "[redacted]"; <c>nginx_config</c> is the main nginx.conf the shared renderer makes from
/// it. The agent renders with its own host settings (listen address, port offset, stub_status port, allowed roots),
/// so the preview uses <see cref="NginxHostSettings"/> defaults (<c>render_host</c> says which) and the agent's
/// reported capabilities (<c>render_capabilities</c>; a standard nginx 1.22 build when it has reported none).
/// </summary>
public sealed record AgentConfigResponse(
    string ConfigId, long Version, JsonObject Desired, string NginxConfig, IReadOnlyList<string> Warnings,
    AgentRenderHost RenderHost, IReadOnlyList<string> RenderCapabilities);

public sealed record AgentRenderHost(string ListenAddress, int PrivilegedPortOffset, int StubStatusPort, IReadOnlyList<string> AllowedRootDirectories);

public static class AgentConfigApi
{
    /// <summary>Proto JSON with the proto's own (snake_case) field names, like the rest of the API.</summary>
    private static readonly JsonFormatter ProtoJson = new(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true));

    public static IEndpointRouteBuilder MapAgentConfigApi(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/agents/{agent_id:guid}/config", GetAsync).WithTags("Agents").WithName("GetAgentConfig")
            .WithSummary("The agent's desired ConfigUpdate (private keys redacted) and the nginx config rendered from it with default host settings (viewer)");
        return routes;
    }

    private static async Task<Ok<AgentConfigResponse>> GetAsync([FromRoute(Name = "agent_id")] Guid agentId, NxMeshDbContext db, TenantAccess access,
        DesiredConfigService desired, CancellationToken cancellationToken)
    {
        var (agent, _, _) = await access.WorkspaceResourceAsync(db.Agents.AsNoTracking(), agentId, a => a.WorkspaceId, OrganizationRole.Viewer, "Agent", cancellationToken);
        // The same resolution AgentHub pushes from: it records desired config_id/version, so the version shown is the agent's.
        var resolved = await desired.ResolveAsync(agentId, null, cancellationToken) ?? throw ApiException.NotFound("Agent");
        var update = resolved.Update;
        var host = new NginxHostSettings();
        var capabilities = Capabilities(agent.Capabilities);
        string nginxConfig;
        var warnings = new List<string>();
        try
        {
            var rendered = ConfigRenderer.Render(update, host, capabilities);
            // Only the main file is shown: key files stay out, and the main file names them by path only.
            nginxConfig = rendered.MainConfig;
            warnings.AddRange(rendered.Warnings);
        }
        catch (InvalidConfigUpdateException ex)
        {
            nginxConfig = "";
            warnings.AddRange(ex.Issues.Select(i => $"{i.Field}: {i.Message}"));
        }
        var redacted = DesiredConfigBuilder.Redact(update);
        var desiredJson = JsonNode.Parse(ProtoJson.Format(redacted))!.AsObject();
        return TypedResults.Ok(new AgentConfigResponse(update.ConfigId, update.Version, desiredJson, nginxConfig, warnings,
            new AgentRenderHost(host.ListenAddress, host.PrivilegedPortOffset, host.StubStatusPort, host.AllowedRootDirectories),
            capabilities.Names()));
    }

    /// <summary>What the agent reported at registration; before any report, a standard nginx 1.22 build.</summary>
    private static NginxCapabilities Capabilities(IReadOnlyCollection<string> reported) => reported.Count == 0
        ? NginxCapabilities.Standard
        : new NginxCapabilities
        {
            Ssl = reported.Contains("ssl"),
            Http2 = reported.Contains("http2"),
            Http3 = reported.Contains("http3"),
            StubStatus = reported.Contains("stub_status"),
        };
}
