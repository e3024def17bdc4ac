using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using NxMesh.Api.Platform;
using NxMesh.Data;
using NxMesh.Data.Entities;
using NxMesh.Nginx.Validation;

namespace NxMesh.Api.Workspaces;

public sealed record WorkspaceResponse(Guid Id, Guid OrganizationId, string Name, string Slug, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public static WorkspaceResponse From(Workspace w) => new(w.Id, w.OrganizationId, w.Name, w.Slug, w.CreatedAt, w.UpdatedAt);
}

public sealed record CreateWorkspaceRequest(string? Name, string? Slug);
public sealed record UpdateWorkspaceRequest(string? Name, string? Slug);

/// <summary>
/// Workspaces. Deleting one that still holds agents, virtual hosts, upstreams or certificates answers 409 listing
/// them, unless <c>force=true</c>: then everything in it is deleted in one transaction (agents' credentials with them).
/// </summary>
public static class WorkspacesApi
{
    public const string ResourceType = "workspace";

    public static IEndpointRouteBuilder MapWorkspacesApi(this IEndpointRouteBuilder routes)
    {
        var byOrganization = routes.MapGroup("/organizations/{organization_id:guid}").WithTags("Workspaces");
        byOrganization.MapGet("/workspaces", ListAsync).WithName("ListWorkspaces").WithSummary("Workspaces of an organization (viewer)");
        byOrganization.MapPost("/workspaces", CreateAsync).WithName("CreateWorkspace").WithSummary("Create a workspace (admin); slugs are unique per organization");

        var byId = routes.MapGroup("/workspaces").WithTags("Workspaces");
        byId.MapGet("/{workspace_id:guid}", GetAsync).WithName("GetWorkspace").WithSummary("Get a workspace (viewer)");
        byId.MapPatch("/{workspace_id:guid}", UpdateAsync).WithName("UpdateWorkspace").WithSummary("Rename a workspace or change its slug (admin)");
        byId.MapDelete("/{workspace_id:guid}", DeleteAsync).WithName("DeleteWorkspace")
            .WithSummary("Delete a workspace (admin). 409 while it holds resources, unless force=true deletes them all");
        byId.MapWorkspaceSettingsApi();
        return routes;
    }

    private static async Task<Ok<Paged<WorkspaceResponse>>> ListAsync([FromRoute(Name = "organization_id")] Guid organizationId, [AsParameters] PageQuery page,
        NxMeshDbContext db, TenantAccess access, CancellationToken cancellationToken)
    {
        var paging = page.Resolve();
        await access.OrganizationAsync(organizationId, OrganizationRole.Viewer, cancellationToken);
        var query = db.Workspaces.AsNoTracking().Where(w => w.OrganizationId == organizationId).OrderBy(w => w.CreatedAt).ThenBy(w => w.Id);
        return TypedResults.Ok(await query.ToPagedAsync(paging, WorkspaceResponse.From, cancellationToken));
    }

    private static async Task<Created<WorkspaceResponse>> CreateAsync([FromRoute(Name = "organization_id")] Guid organizationId, CreateWorkspaceRequest request,
        NxMeshDbContext db, TenantAccess access, AuditTrail audit, CancellationToken cancellationToken)
    {
        await access.OrganizationAsync(organizationId, OrganizationRole.Admin, cancellationToken);
        var v = new Validator();
        v.Name("name", request.Name);
        v.Slug("slug", request.Slug);
        v.ThrowIfInvalid();
        await EnsureSlugFreeAsync(db, organizationId, request.Slug!, null, cancellationToken);
        var workspace = new Workspace { OrganizationId = organizationId, Name = request.Name!.Trim(), Slug = request.Slug!, CreatedAt = DateTimeOffset.UtcNow };
        db.Workspaces.Add(workspace);
        audit.Record(organizationId, workspace.Id, "create", ResourceType, workspace.Id, null, WorkspaceResponse.From(workspace));
        await SaveAsync(db, cancellationToken);
        return TypedResults.Created($"/v1/workspaces/{workspace.Id}", WorkspaceResponse.From(workspace));
    }

    private static async Task<Ok<WorkspaceResponse>> GetAsync([FromRoute(Name = "workspace_id")] Guid workspaceId, TenantAccess access, CancellationToken cancellationToken)
    {
        var (workspace, _) = await access.WorkspaceAsync(workspaceId, OrganizationRole.Viewer, cancellationToken);
        return TypedResults.Ok(WorkspaceResponse.From(workspace));
    }

    private static async Task<Ok<WorkspaceResponse>> UpdateAsync([FromRoute(Name = "workspace_id")] Guid workspaceId, UpdateWorkspaceRequest request,
        NxMeshDbContext db, TenantAccess access, AuditTrail audit, CancellationToken cancellationToken)
    {
        var (workspace, scope) = await access.WorkspaceAsync(workspaceId, OrganizationRole.Admin, cancellationToken);
        var v = new Validator();
        v.Name("name", request.Name, required: false);
        v.Slug("slug", request.Slug, required: false);
        v.ThrowIfInvalid();
        var before = WorkspaceResponse.From(workspace);
        if (request.Slug is not null && request.Slug != workspace.Slug)
        {
            await EnsureSlugFreeAsync(db, workspace.OrganizationId, request.Slug, workspaceId, cancellationToken);
            workspace.Slug = request.Slug;
        }
        if (request.Name is not null)
        {
            workspace.Name = request.Name.Trim();
        }
        audit.Record(scope.OrganizationId, workspaceId, "update", ResourceType, workspaceId, before, WorkspaceResponse.From(workspace));
        await SaveAsync(db, cancellationToken);
        return TypedResults.Ok(WorkspaceResponse.From(workspace));
    }

    private static async Task<NoContent> DeleteAsync([FromRoute(Name = "workspace_id")] Guid workspaceId, [FromQuery(Name = "force")] bool? force,
        NxMeshDbContext db, TenantAccess access, AuditTrail audit, CancellationToken cancellationToken)
    {
        var (workspace, scope) = await access.WorkspaceAsync(workspaceId, OrganizationRole.Admin, cancellationToken);
        if (force != true)
        {
            var counts = new (string Field, int Count)[]
            {
                ("agents", await db.Agents.CountAsync(a => a.WorkspaceId == workspaceId, cancellationToken)),
                ("virtual_hosts", await db.VirtualHosts.CountAsync(x => x.WorkspaceId == workspaceId, cancellationToken)),
                ("upstreams", await db.Upstreams.CountAsync(x => x.WorkspaceId == workspaceId, cancellationToken)),
                ("certificates", await db.Certificates.CountAsync(x => x.WorkspaceId == workspaceId, cancellationToken)),
            };
            var held = counts.Where(c => c.Count > 0).Select(c => new ErrorDetail(c.Field, $"{c.Count} {c.Field.Replace('_', ' ')} still in the workspace", ValidationCodes.Conflict)).ToList();
            if (held.Count > 0)
            {
                throw ApiException.Conflict("The workspace still holds resources; delete them first or pass force=true to delete everything in it", held);
            }
        }
        var snapshot = WorkspaceResponse.From(workspace);
        await db.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            audit.Record(scope.OrganizationId, null, "delete", ResourceType, workspaceId, snapshot, null);
            await WorkspaceCleanup.DeleteAsync(db, audit, db.Workspaces.Where(w => w.Id == workspaceId).Select(w => w.Id), cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        });
        return TypedResults.NoContent();
    }

    private static async Task EnsureSlugFreeAsync(NxMeshDbContext db, Guid organizationId, string slug, Guid? except, CancellationToken cancellationToken)
    {
        if (await db.Workspaces.AnyAsync(w => w.OrganizationId == organizationId && w.Slug == slug && w.Id != except, cancellationToken))
        {
            throw SlugTaken(slug);
        }
    }

    private static ApiException SlugTaken(string slug) =>
        ApiException.Conflict($"A workspace with slug '{slug}' already exists in this organization", [new ErrorDetail("slug", "Slug already in use", ValidationCodes.Conflict)]);

    private static async Task SaveAsync(NxMeshDbContext db, CancellationToken cancellationToken)
    {
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.IsUniqueViolation())
        {
            throw ApiException.Conflict("A workspace with this slug already exists in this organization", [new ErrorDetail("slug", "Slug already in use", ValidationCodes.Conflict)]);
        }
    }
}
