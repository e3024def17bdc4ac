using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using NxMesh.Api.Platform;
using NxMesh.Api.Workspaces;
using NxMesh.Data;
using NxMesh.Data.Entities;
using NxMesh.Nginx.Validation;

namespace NxMesh.Api.Organizations;

public sealed record OrganizationResponse(Guid Id, string Name, string Slug, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public static OrganizationResponse From(Organization o) => new(o.Id, o.Name, o.Slug, o.CreatedAt, o.UpdatedAt);
}

public sealed record CreateOrganizationRequest(string? Name, string? Slug);
public sealed record UpdateOrganizationRequest(string? Name, string? Slug);

public static class OrganizationsApi
{
    public const string ResourceType = "organization";

    public static RouteGroupBuilder MapOrganizationsApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("").WithTags("Organizations");
        group.MapGet("/organizations", ListAsync).WithName("ListOrganizations").WithSummary("Organizations the caller is a member of");
        group.MapPost("/organizations", CreateAsync).WithName("CreateOrganization").WithSummary("Create an organization; the caller becomes its owner");
        group.MapGet("/organizations/{organization_id:guid}", GetAsync).WithName("GetOrganization").WithSummary("Get an organization (viewer)");
        group.MapPatch("/organizations/{organization_id:guid}", UpdateAsync).WithName("UpdateOrganization").WithSummary("Rename an organization (admin)");
        group.MapDelete("/organizations/{organization_id:guid}", DeleteAsync).WithName("DeleteOrganization")
            .WithSummary("Delete an organization (owner). 409 while it has workspaces, unless force=true deletes everything in it");
        return group;
    }

    private static async Task<Ok<Paged<OrganizationResponse>>> ListAsync([AsParameters] PageQuery page, NxMeshDbContext db, CurrentUser user, CancellationToken cancellationToken)
    {
        var paging = page.Resolve();
        var userId = user.Id;
        var query = db.Organizations.AsNoTracking().Where(o => o.Memberships.Any(m => m.UserId == userId)).OrderBy(o => o.CreatedAt).ThenBy(o => o.Id);
        return TypedResults.Ok(await query.ToPagedAsync(paging, OrganizationResponse.From, cancellationToken));
    }

    private static async Task<Created<OrganizationResponse>> CreateAsync(CreateOrganizationRequest request, NxMeshDbContext db, CurrentUser user, AuditTrail audit, CancellationToken cancellationToken)
    {
        var v = new Validator();
        v.Name("name", request.Name);
        v.Slug("slug", request.Slug);
        v.ThrowIfInvalid();
        await EnsureSlugFreeAsync(db, request.Slug!, null, cancellationToken);
        var organization = new Organization { Name = request.Name!.Trim(), Slug = request.Slug!, CreatedAt = DateTimeOffset.UtcNow };
        organization.Memberships.Add(new Membership { UserId = user.Id, Role = OrganizationRole.Owner });
        db.Organizations.Add(organization);
        await SaveAsync(db, () => audit.Record(organization.Id, null, "create", ResourceType, organization.Id, null, OrganizationResponse.From(organization)), cancellationToken);
        return TypedResults.Created($"/v1/organizations/{organization.Id}", OrganizationResponse.From(organization));
    }

    private static async Task<Ok<OrganizationResponse>> GetAsync([FromRoute(Name = "organization_id")] Guid organizationId, NxMeshDbContext db, TenantAccess access, CancellationToken cancellationToken)
    {
        await access.OrganizationAsync(organizationId, OrganizationRole.Viewer, cancellationToken);
        var organization = await db.Organizations.AsNoTracking().SingleAsync(o => o.Id == organizationId, cancellationToken);
        return TypedResults.Ok(OrganizationResponse.From(organization));
    }

    private static async Task<Ok<OrganizationResponse>> UpdateAsync([FromRoute(Name = "organization_id")] Guid organizationId, UpdateOrganizationRequest request,
        NxMeshDbContext db, TenantAccess access, AuditTrail audit, CancellationToken cancellationToken)
    {
        await access.OrganizationAsync(organizationId, OrganizationRole.Admin, cancellationToken);
        var v = new Validator();
        v.Name("name", request.Name, required: false);
        v.Slug("slug", request.Slug, required: false);
        v.ThrowIfInvalid();
        var organization = await db.Organizations.SingleAsync(o => o.Id == organizationId, cancellationToken);
        var before = OrganizationResponse.From(organization);
        if (request.Slug is not null && request.Slug != organization.Slug)
        {
            await EnsureSlugFreeAsync(db, request.Slug, organizationId, cancellationToken);
            organization.Slug = request.Slug;
        }
        if (request.Name is not null)
        {
            organization.Name = request.Name.Trim();
        }
        await SaveAsync(db, () => audit.Record(organizationId, null, "update", ResourceType, organizationId, before, OrganizationResponse.From(organization)), cancellationToken);
        return TypedResults.Ok(OrganizationResponse.From(organization));
    }

    private static async Task<NoContent> DeleteAsync([FromRoute(Name = "organization_id")] Guid organizationId, [FromQuery(Name = "force")] bool? force,
        NxMeshDbContext db, TenantAccess access, AuditTrail audit, CancellationToken cancellationToken)
    {
        await access.OrganizationAsync(organizationId, OrganizationRole.Owner, cancellationToken);
        var workspaces = await db.Workspaces.Where(w => w.OrganizationId == organizationId).Select(w => w.Slug).ToListAsync(cancellationToken);
        if (workspaces.Count > 0 && force != true)
        {
            throw ApiException.Conflict("The organization still has workspaces; delete them first or pass force=true to delete everything in it",
                workspaces.Select(slug => new ErrorDetail("workspaces", $"Workspace '{slug}' still exists", ValidationCodes.Conflict)).ToList());
        }
        // The audit log belongs to the organization and goes with it, so no entry is written for this delete.
        await db.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            var workspaceIds = db.Workspaces.Where(w => w.OrganizationId == organizationId).Select(w => w.Id);
            await WorkspaceCleanup.DeleteAsync(db, audit, workspaceIds, cancellationToken);
            await db.Organizations.Where(o => o.Id == organizationId).ExecuteDeleteAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        });
        return TypedResults.NoContent();
    }

    private static async Task EnsureSlugFreeAsync(NxMeshDbContext db, string slug, Guid? except, CancellationToken cancellationToken)
    {
        if (await db.Organizations.AnyAsync(o => o.Slug == slug && o.Id != except, cancellationToken))
        {
            throw SlugTaken(slug);
        }
    }

    private static ApiException SlugTaken(string slug) =>
        ApiException.Conflict($"An organization with slug '{slug}' already exists", [new ErrorDetail("slug", "Slug already in use", ValidationCodes.Conflict)]);

    /// <summary>Saves with the audit entry; a concurrent insert of the same slug becomes 409, not 500.</summary>
    private static async Task SaveAsync(NxMeshDbContext db, Action recordAudit, CancellationToken cancellationToken)
    {
        recordAudit();
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.IsUniqueViolation())
        {
            throw ApiException.Conflict("An organization with this slug already exists", [new ErrorDetail("slug", "Slug already in use", ValidationCodes.Conflict)]);
        }
    }
}
