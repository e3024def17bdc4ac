using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using NxMesh.Api.Platform;
using NxMesh.Data;
using NxMesh.Data.Entities;
using NxMesh.Nginx.Validation;

namespace NxMesh.Api.Upstreams;

public sealed record UpstreamServerResponse(string Address, int Weight, bool Backup, bool Down, int MaxFails, int FailTimeout);

public sealed record HealthCheckResponse(bool Enabled, string Path, int Interval, int Timeout, int HealthyThreshold, int UnhealthyThreshold);

/// <summary>The spec's upstream plus <c>down</c>, <c>keepalive_connections</c> and the health-check thresholds.</summary>
public sealed record UpstreamResponse(
    Guid Id, Guid WorkspaceId, string Name, LoadBalanceAlgorithm Algorithm, IReadOnlyList<UpstreamServerResponse> Servers,
    HealthCheckResponse? HealthCheck, int KeepaliveConnections, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public static UpstreamResponse From(Upstream u) => new(u.Id, u.WorkspaceId, u.Name, u.Algorithm,
        u.Servers.Select(s => new UpstreamServerResponse(s.Address, s.Weight, s.Backup, s.Down, s.MaxFails, s.FailTimeout)).ToList(),
        u.HealthCheck is { } h ? new HealthCheckResponse(h.Enabled, h.Path, h.Interval, h.Timeout, h.HealthyThreshold, h.UnhealthyThreshold) : null,
        u.KeepaliveConnections, u.CreatedAt, u.UpdatedAt);
}

/// <summary>Omitted numbers take nginx's defaults: weight 1, max_fails 1, fail_timeout 10 (seconds).</summary>
public sealed record UpstreamServerInput(string? Address, int? Weight, bool? Backup, bool? Down, int? MaxFails, int? FailTimeout);

/// <summary>Omitted fields: enabled true, path "/", interval 10, timeout 5, thresholds 2 healthy / 3 unhealthy.</summary>
public sealed record HealthCheckInput(bool? Enabled, string? Path, int? Interval, int? Timeout, int? HealthyThreshold, int? UnhealthyThreshold);

/// <summary>POST body, and the fields a PATCH may carry (each present one replaces; <c>servers</c> as a whole).</summary>
public sealed record UpstreamRequest(
    string? Name, LoadBalanceAlgorithm? Algorithm, List<UpstreamServerInput?>? Servers, HealthCheckInput? HealthCheck, int? KeepaliveConnections);

/// <summary>
/// Upstreams of a workspace. Every change is audited and announced on the outbox (the agents' desired config may
/// change). An upstream still used by a virtual host location cannot be deleted (409 naming the virtual hosts).
/// </summary>
public static class UpstreamsApi
{
    public const string ResourceType = "upstream";
    public const int MaxServers = 256;

    public static IEndpointRouteBuilder MapUpstreamsApi(this IEndpointRouteBuilder routes)
    {
        var byWorkspace = routes.MapGroup("/workspaces/{workspace_id:guid}").WithTags("Upstreams");
        byWorkspace.MapGet("/upstreams", ListAsync).WithName("ListUpstreams").WithSummary("Upstreams of a workspace (viewer)");
        byWorkspace.MapPost("/upstreams", CreateAsync).WithName("CreateUpstream").WithSummary("Create an upstream (editor)");

        var byId = routes.MapGroup("/upstreams").WithTags("Upstreams");
        byId.MapGet("/{upstream_id:guid}", GetAsync).WithName("GetUpstream").WithSummary("Get an upstream (viewer)");
        byId.MapPatch("/{upstream_id:guid}", UpdateAsync).WithName("UpdateUpstream")
            .WithSummary("Change an upstream (editor): present fields replace, servers as a whole list, health_check null removes the check")
            .Accepts<UpstreamRequest>("application/json");
        byId.MapDelete("/{upstream_id:guid}", DeleteAsync).WithName("DeleteUpstream").WithSummary("Delete an upstream (editor); 409 while a virtual host uses it");
        return routes;
    }

    private static async Task<Ok<Paged<UpstreamResponse>>> ListAsync([FromRoute(Name = "workspace_id")] Guid workspaceId, [AsParameters] PageQuery page,
        NxMeshDbContext db, TenantAccess access, CancellationToken cancellationToken)
    {
        var paging = page.Resolve();
        await access.WorkspaceAsync(workspaceId, OrganizationRole.Viewer, cancellationToken);
        var query = db.Upstreams.AsNoTracking().Where(u => u.WorkspaceId == workspaceId).OrderBy(u => u.CreatedAt).ThenBy(u => u.Id);
        return TypedResults.Ok(await query.ToPagedAsync(paging, UpstreamResponse.From, cancellationToken));
    }

    private static async Task<Created<UpstreamResponse>> CreateAsync([FromRoute(Name = "workspace_id")] Guid workspaceId, UpstreamRequest request,
        NxMeshDbContext db, TenantAccess access, AuditTrail audit, CancellationToken cancellationToken)
    {
        var (_, scope) = await access.WorkspaceAsync(workspaceId, OrganizationRole.Editor, cancellationToken);
        var upstream = new Upstream { WorkspaceId = workspaceId, Name = "" };
        Apply(upstream, Validate(request));
        await EnsureNameFreeAsync(db, workspaceId, upstream.Name, null, cancellationToken);
        db.Upstreams.Add(upstream);
        upstream.CreatedAt = DateTimeOffset.UtcNow;
        var after = UpstreamResponse.From(upstream);
        audit.Record(scope.OrganizationId, workspaceId, "create", ResourceType, upstream.Id, null, after);
        audit.ConfigChanged(workspaceId, ResourceType, upstream.Id, "create");
        await SaveAsync(db, cancellationToken);
        return TypedResults.Created($"/v1/upstreams/{upstream.Id}", UpstreamResponse.From(upstream));
    }

    private static async Task<Ok<UpstreamResponse>> GetAsync([FromRoute(Name = "upstream_id")] Guid upstreamId, NxMeshDbContext db, TenantAccess access, CancellationToken cancellationToken)
    {
        var (upstream, _, _) = await access.WorkspaceResourceAsync(db.Upstreams.AsNoTracking(), upstreamId, u => u.WorkspaceId, OrganizationRole.Viewer, "Upstream", cancellationToken);
        return TypedResults.Ok(UpstreamResponse.From(upstream));
    }

    private static async Task<Ok<UpstreamResponse>> UpdateAsync([FromRoute(Name = "upstream_id")] Guid upstreamId, HttpRequest httpRequest,
        NxMeshDbContext db, TenantAccess access, AuditTrail audit, CancellationToken cancellationToken)
    {
        var (upstream, workspaceId, scope) = await access.WorkspaceResourceAsync(db.Upstreams, upstreamId, u => u.WorkspaceId, OrganizationRole.Editor, "Upstream", cancellationToken);
        var patch = await PatchBody<UpstreamRequest>.ReadAsync(httpRequest, cancellationToken);
        var current = ToRequest(upstream);
        var p = patch.Value;
        var merged = new UpstreamRequest(
            patch.Has("name") ? p.Name : current.Name,
            patch.Has("algorithm") ? p.Algorithm : current.Algorithm,
            patch.Has("servers") ? p.Servers : current.Servers,
            patch.Has("health_check") ? p.HealthCheck : current.HealthCheck,
            patch.Has("keepalive_connections") ? p.KeepaliveConnections : current.KeepaliveConnections);
        var valid = Validate(merged);
        if (valid.Name != upstream.Name)
        {
            // A PATCH that keeps the name (most: servers, weights) needs no look-up; the unique index still guards a race.
            await EnsureNameFreeAsync(db, workspaceId, valid.Name, upstreamId, cancellationToken);
        }
        var before = UpstreamResponse.From(upstream);
        Apply(upstream, valid);
        // Servers and health_check are jsonb: replaced values must be marked, EF does not see inside them.
        db.Entry(upstream).Property(u => u.Servers).IsModified = true;
        db.Entry(upstream).Property(u => u.HealthCheck).IsModified = true;
        upstream.UpdatedAt = DateTimeOffset.UtcNow;
        var after = UpstreamResponse.From(upstream);
        audit.Record(scope.OrganizationId, workspaceId, "update", ResourceType, upstreamId, before, after);
        audit.ConfigChanged(workspaceId, ResourceType, upstreamId, "update");
        await SaveAsync(db, cancellationToken);
        return TypedResults.Ok(UpstreamResponse.From(upstream));
    }

    private static async Task<NoContent> DeleteAsync([FromRoute(Name = "upstream_id")] Guid upstreamId, NxMeshDbContext db, TenantAccess access, AuditTrail audit, CancellationToken cancellationToken)
    {
        var (upstream, workspaceId, scope) = await access.WorkspaceResourceAsync(db.Upstreams, upstreamId, u => u.WorkspaceId, OrganizationRole.Editor, "Upstream", cancellationToken);
        await EnsureUnreferencedAsync(db, upstreamId, cancellationToken);
        audit.Record(scope.OrganizationId, workspaceId, "delete", ResourceType, upstreamId, UpstreamResponse.From(upstream), null);
        audit.ConfigChanged(workspaceId, ResourceType, upstreamId, "delete");
        db.Upstreams.Remove(upstream);
        await db.SaveDeletionAsync(() => EnsureUnreferencedAsync(db, upstreamId, cancellationToken), "The upstream is used by a virtual host", cancellationToken);
        return TypedResults.NoContent();
    }

    /// <summary>409 naming every virtual host whose locations use the upstream.</summary>
    private static async Task EnsureUnreferencedAsync(NxMeshDbContext db, Guid upstreamId, CancellationToken cancellationToken)
    {
        var referrers = await (
                from l in db.VirtualHostLocations
                join v in db.VirtualHosts on l.VirtualHostId equals v.Id
                where l.UpstreamId == upstreamId
                select new { v.Id, v.Name })
            .Distinct().OrderBy(v => v.Name).ToListAsync(cancellationToken);
        if (referrers.Count > 0)
        {
            throw ApiException.Conflict(
                "The upstream is used by virtual hosts: " + string.Join(", ", referrers.Select(r => $"'{r.Name}' ({r.Id})")),
                referrers.Select(r => new ErrorDetail("virtual_hosts", $"used by virtual host '{r.Name}' ({r.Id})", ValidationCodes.Conflict)).ToList());
        }
    }

    private static async Task EnsureNameFreeAsync(NxMeshDbContext db, Guid workspaceId, string name, Guid? self, CancellationToken cancellationToken)
    {
        if (await db.Upstreams.AnyAsync(u => u.WorkspaceId == workspaceId && u.Name == name && u.Id != self, cancellationToken))
        {
            throw ApiException.Conflict($"An upstream named '{name}' already exists in this workspace",
                [new ErrorDetail("name", "already used in this workspace", ValidationCodes.Conflict)]);
        }
    }

    private static async Task SaveAsync(NxMeshDbContext db, CancellationToken cancellationToken)
    {
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.IsUniqueViolation())
        {
            throw ApiException.Conflict("An upstream with this name already exists in this workspace",
                [new ErrorDetail("name", "already used in this workspace", ValidationCodes.Conflict)]);
        }
    }

    private static UpstreamRequest ToRequest(Upstream u) => new(u.Name, u.Algorithm,
        u.Servers.Select(s => (UpstreamServerInput?)new UpstreamServerInput(s.Address, s.Weight, s.Backup, s.Down, s.MaxFails, s.FailTimeout)).ToList(),
        u.HealthCheck is { } h ? new HealthCheckInput(h.Enabled, h.Path, h.Interval, h.Timeout, h.HealthyThreshold, h.UnhealthyThreshold) : null,
        u.KeepaliveConnections);

    /// <summary>A validated upstream, defaults filled in.</summary>
    private sealed record ValidUpstream(string Name, LoadBalanceAlgorithm Algorithm, List<UpstreamServerSpec> Servers, HealthCheckSpec? HealthCheck, int KeepaliveConnections);

    private static void Apply(Upstream upstream, ValidUpstream valid)
    {
        upstream.Name = valid.Name;
        upstream.Algorithm = valid.Algorithm;
        upstream.Servers = valid.Servers;
        upstream.HealthCheck = valid.HealthCheck;
        upstream.KeepaliveConnections = valid.KeepaliveConnections;
    }

    /// <summary>Every rule of the nginx library for upstreams, with the API's field paths; 422 on any problem.</summary>
    private static ValidUpstream Validate(UpstreamRequest request)
    {
        var v = new Validator();
        v.Name("name", request.Name);
        var algorithm = request.Algorithm ?? LoadBalanceAlgorithm.RoundRobin;
        var servers = new List<UpstreamServerSpec>();
        if (request.Servers is null || request.Servers.Count == 0)
        {
            v.Add("servers", ValidationCodes.Required, "an upstream needs at least one server");
        }
        else if (request.Servers.Count > MaxServers)
        {
            v.Add("servers", ValidationCodes.OutOfRange, $"at most {MaxServers} servers");
        }
        else
        {
            for (var i = 0; i < request.Servers.Count; i++)
            {
                var field = $"servers[{i}]";
                if (request.Servers[i] is not { } s)
                {
                    v.Add(field, ValidationCodes.Required, "a server is an object with an address");
                    continue;
                }
                var server = new UpstreamServerSpec
                {
                    Address = s.Address ?? "",
                    Weight = s.Weight ?? 1,
                    Backup = s.Backup ?? false,
                    Down = s.Down ?? false,
                    MaxFails = s.MaxFails ?? 1,
                    FailTimeout = s.FailTimeout ?? 10,
                };
                v.Add(NginxValidation.UpstreamServerAddress(s.Address, field + ".address"));
                v.Add(NginxValidation.Weight(server.Weight, field + ".weight"));
                v.Add(NginxValidation.MaxFails(server.MaxFails, field + ".max_fails"));
                v.Add(NginxValidation.FailTimeoutSeconds(server.FailTimeout, field + ".fail_timeout"));
                if (server.Backup && algorithm == LoadBalanceAlgorithm.IpHash)
                {
                    v.Add(field + ".backup", ValidationCodes.NotAllowed, "backup servers cannot be used with ip_hash (nginx forbids it)");
                }
                servers.Add(server);
            }
            if (servers.Count == request.Servers.Count && servers.All(s => s.Backup))
            {
                v.Add("servers", ValidationCodes.NotAllowed, "an upstream needs at least one server that is not a backup");
            }
        }
        HealthCheckSpec? healthCheck = null;
        if (request.HealthCheck is { } h)
        {
            healthCheck = new HealthCheckSpec
            {
                Enabled = h.Enabled ?? true,
                Path = h.Path ?? "/",
                Interval = h.Interval ?? 10,
                Timeout = h.Timeout ?? 5,
                HealthyThreshold = h.HealthyThreshold ?? 2,
                UnhealthyThreshold = h.UnhealthyThreshold ?? 3,
            };
            // Checked even when disabled, so what is stored is always valid to enable.
            v.Add(NginxValidation.HealthCheck(true, healthCheck.Path, healthCheck.Interval, healthCheck.Timeout,
                healthCheck.HealthyThreshold, healthCheck.UnhealthyThreshold, "health_check"));
        }
        var keepalive = request.KeepaliveConnections ?? 0;
        v.Add(NginxValidation.Keepalive(keepalive, "keepalive_connections"));
        v.ThrowIfInvalid();
        return new ValidUpstream(request.Name!.Trim(), algorithm, servers, healthCheck, keepalive);
    }
}
