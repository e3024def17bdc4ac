using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using NxMesh.Api.Platform;
using NxMesh.Data;
using NxMesh.Data.Entities;

namespace NxMesh.Api.VirtualHosts;

/// <summary>
/// Virtual hosts of a workspace, validated with the shared nginx library (<see cref="VirtualHostValidation"/>).
/// Every change is audited and announced on the outbox in the same transaction.
/// </summary>
public static class VirtualHostsApi
{
    public const string ResourceType = "virtual_host";

    public static IEndpointRouteBuilder MapVirtualHostsApi(this IEndpointRouteBuilder routes)
    {
        var byWorkspace = routes.MapGroup("/workspaces/{workspace_id:guid}").WithTags("Virtual hosts");
        byWorkspace.MapGet("/virtual-hosts", ListAsync).WithName("ListVirtualHosts").WithSummary("Virtual hosts of a workspace (viewer)");
        byWorkspace.MapPost("/virtual-hosts", CreateAsync).WithName("CreateVirtualHost")
            .WithSummary("Create a virtual host (editor); 422 for values nginx cannot carry, 409 for port or server_name conflicts in the workspace");

        var byId = routes.MapGroup("/virtual-hosts").WithTags("Virtual hosts");
        byId.MapGet("/{virtual_host_id:guid}", GetAsync).WithName("GetVirtualHost").WithSummary("Get a virtual host with its locations (viewer)");
        byId.MapPatch("/{virtual_host_id:guid}", UpdateAsync).WithName("UpdateVirtualHost")
            .WithSummary("Change a virtual host (editor): present fields replace (locations as a whole list), absent keep, ssl_certificate_id null clears")
            .Accepts<VirtualHostRequest>("application/json");
        byId.MapDelete("/{virtual_host_id:guid}", DeleteAsync).WithName("DeleteVirtualHost").WithSummary("Delete a virtual host (editor)");
        return routes;
    }

    private static async Task<Ok<Paged<VirtualHostResponse>>> ListAsync([FromRoute(Name = "workspace_id")] Guid workspaceId, [AsParameters] PageQuery page,
        NxMeshDbContext db, TenantAccess access, CancellationToken cancellationToken)
    {
        var paging = page.Resolve();
        await access.WorkspaceAsync(workspaceId, OrganizationRole.Viewer, cancellationToken);
        var query = db.VirtualHosts.AsNoTracking().AsSplitQuery().Where(v => v.WorkspaceId == workspaceId).OrderBy(v => v.CreatedAt).ThenBy(v => v.Id);
        return TypedResults.Ok(await query.ToPagedAsync(paging, VirtualHostResponse.From, cancellationToken));
    }

    private static async Task<Created<VirtualHostResponse>> CreateAsync([FromRoute(Name = "workspace_id")] Guid workspaceId, VirtualHostRequest request,
        NxMeshDbContext db, TenantAccess access, AuditTrail audit, CancellationToken cancellationToken)
    {
        var (_, scope) = await access.WorkspaceAsync(workspaceId, OrganizationRole.Editor, cancellationToken);
        var vhost = await VirtualHostValidation.ValidateAsync(request, workspaceId, null, db, cancellationToken);
        vhost.CreatedAt = DateTimeOffset.UtcNow;
        db.VirtualHosts.Add(vhost);
        var after = VirtualHostResponse.From(vhost);
        audit.Record(scope.OrganizationId, workspaceId, "create", ResourceType, vhost.Id, null, after);
        audit.ConfigChanged(workspaceId, ResourceType, vhost.Id, "create");
        await db.SaveChangesAsync(cancellationToken);
        await db.Entry(vhost).Reference(v => v.SslCertificate).LoadAsync(cancellationToken);
        return TypedResults.Created($"/v1/virtual-hosts/{vhost.Id}", VirtualHostResponse.From(vhost));
    }

    private static async Task<Ok<VirtualHostResponse>> GetAsync([FromRoute(Name = "virtual_host_id")] Guid virtualHostId, NxMeshDbContext db, TenantAccess access, CancellationToken cancellationToken)
    {
        var (vhost, _, _) = await access.WorkspaceResourceAsync(db.VirtualHosts.AsNoTracking(), virtualHostId, v => v.WorkspaceId, OrganizationRole.Viewer, "Virtual host", cancellationToken);
        return TypedResults.Ok(VirtualHostResponse.From(vhost));
    }

    private static async Task<Ok<VirtualHostResponse>> UpdateAsync([FromRoute(Name = "virtual_host_id")] Guid virtualHostId, HttpRequest httpRequest,
        NxMeshDbContext db, TenantAccess access, AuditTrail audit, CancellationToken cancellationToken)
    {
        var (vhost, workspaceId, scope) = await access.WorkspaceResourceAsync(db.VirtualHosts, virtualHostId, v => v.WorkspaceId, OrganizationRole.Editor, "Virtual host", cancellationToken);
        var patch = await PatchBody<VirtualHostRequest>.ReadAsync(httpRequest, cancellationToken);
        var p = patch.Value;
        var current = ToRequest(vhost);
        var merged = new VirtualHostRequest(
            patch.Has("name") ? p.Name : current.Name,
            patch.Has("server_name") ? p.ServerName : current.ServerName,
            patch.Has("listen_port") ? p.ListenPort : current.ListenPort,
            patch.Has("ssl_enabled") ? p.SslEnabled : current.SslEnabled,
            patch.Has("ssl_certificate_id") ? p.SslCertificateId : current.SslCertificateId,
            patch.Has("http2_enabled") ? p.Http2Enabled : current.Http2Enabled,
            patch.Has("http3_enabled") ? p.Http3Enabled : current.Http3Enabled,
            patch.Has("locations") ? p.Locations : current.Locations,
            patch.Has("custom_directives") ? p.CustomDirectives : current.CustomDirectives,
            patch.Has("target_agents") ? p.TargetAgents : current.TargetAgents);
        var valid = await VirtualHostValidation.ValidateAsync(merged, workspaceId, virtualHostId, db, cancellationToken);
        var before = VirtualHostResponse.From(vhost);
        vhost.Name = valid.Name;
        vhost.ServerName = valid.ServerName;
        vhost.ListenPort = valid.ListenPort;
        vhost.SslEnabled = valid.SslEnabled;
        vhost.SslCertificateId = valid.SslCertificateId;
        vhost.Http2Enabled = valid.Http2Enabled;
        vhost.Http3Enabled = valid.Http3Enabled;
        vhost.CustomDirectives = valid.CustomDirectives;
        vhost.TargetAgents = valid.TargetAgents;
        if (patch.Has("locations"))
        {
            ReplaceLocations(vhost, valid.Locations);
        }
        vhost.UpdatedAt = DateTimeOffset.UtcNow;
        var after = VirtualHostResponse.From(vhost);
        audit.Record(scope.OrganizationId, workspaceId, "update", ResourceType, virtualHostId, before, after);
        audit.ConfigChanged(workspaceId, ResourceType, virtualHostId, "update");
        await db.SaveChangesAsync(cancellationToken);
        // SaveChanges stamps updated_at: answer what a GET will show.
        await db.Entry(vhost).Reference(v => v.SslCertificate).LoadAsync(cancellationToken);
        return TypedResults.Ok(VirtualHostResponse.From(vhost));
    }

    private static async Task<NoContent> DeleteAsync([FromRoute(Name = "virtual_host_id")] Guid virtualHostId, NxMeshDbContext db, TenantAccess access, AuditTrail audit, CancellationToken cancellationToken)
    {
        var (vhost, workspaceId, scope) = await access.WorkspaceResourceAsync(db.VirtualHosts, virtualHostId, v => v.WorkspaceId, OrganizationRole.Editor, "Virtual host", cancellationToken);
        audit.Record(scope.OrganizationId, workspaceId, "delete", ResourceType, virtualHostId, VirtualHostResponse.From(vhost), null);
        audit.ConfigChanged(workspaceId, ResourceType, virtualHostId, "delete");
        db.VirtualHosts.Remove(vhost);
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.NoContent();
    }

    /// <summary>
    /// Replaces the locations as a whole list. Rows are updated in place by position and the surplus deleted, since
    /// deleting and re-inserting the same (virtual_host_id, position) in one SaveChanges trips the unique index.
    /// </summary>
    private static void ReplaceLocations(VirtualHost vhost, List<VirtualHostLocation> locations)
    {
        var existing = vhost.Locations.OrderBy(l => l.Position).ToList();
        for (var i = 0; i < locations.Count; i++)
        {
            var source = locations[i];
            if (i < existing.Count)
            {
                var target = existing[i];
                target.Path = source.Path;
                target.UpstreamId = source.UpstreamId;
                target.ProxyPass = source.ProxyPass;
                target.Root = source.Root;
                target.Index = source.Index;
                target.CustomHeaders = source.CustomHeaders;
                target.RewriteRules = source.RewriteRules;
                target.CustomDirectives = source.CustomDirectives;
            }
            else
            {
                source.VirtualHostId = vhost.Id;
                vhost.Locations.Add(source);
            }
        }
        foreach (var surplus in existing.Skip(locations.Count))
        {
            vhost.Locations.Remove(surplus);
        }
    }

    /// <summary>The stored virtual host as a request, so a PATCH is merged into it and validated as a whole.</summary>
    private static VirtualHostRequest ToRequest(VirtualHost v) => new(v.Name, v.ServerName, v.ListenPort, v.SslEnabled, v.SslCertificateId,
        v.Http2Enabled, v.Http3Enabled,
        v.Locations.OrderBy(l => l.Position).Select(l => (LocationInput?)new LocationInput(l.Path, l.UpstreamId, l.ProxyPass, l.Root, l.Index,
            l.CustomHeaders.Select(h => (HeaderInput?)new HeaderInput(h.Name, h.Value, h.Always)).ToList(),
            l.RewriteRules.Select(r => (RewriteRuleInput?)new RewriteRuleInput(r.Pattern, r.Replacement, r.Flag)).ToList(),
            l.CustomDirectives.ToDictionary(d => d.Key, d => (string?)d.Value))).ToList(),
        v.CustomDirectives.ToDictionary(d => d.Key, d => (string?)d.Value),
        new TargetAgentsInput(v.TargetAgents.Type,
            v.TargetAgents.Type == TargetAgentsType.Selector ? v.TargetAgents.LabelSelector : null,
            v.TargetAgents.Type == TargetAgentsType.Agents ? v.TargetAgents.AgentIds : null));
}
