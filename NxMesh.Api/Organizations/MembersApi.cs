using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using NxMesh.Api.Auth;
using NxMesh.Api.Platform;
using NxMesh.Data;
using NxMesh.Data.Entities;
using NxMesh.Nginx.Validation;

namespace NxMesh.Api.Organizations;

public sealed record MemberResponse(Guid UserId, string Email, string? DisplayName, OrganizationRole Role, DateTimeOffset CreatedAt);

/// <summary>A new membership; <c>one_time_password</c> only when the email had no account (shown once).</summary>
public sealed record AddedMemberResponse(Guid UserId, string Email, string? DisplayName, OrganizationRole Role, DateTimeOffset CreatedAt, string? OneTimePassword);

public sealed record AddMemberRequest(string? Email, OrganizationRole? Role);
public sealed record UpdateMemberRequest(OrganizationRole? Role);

/// <summary>
/// Members and roles (design.md): admins manage members; only an owner grants, changes or removes the owner role;
/// an organization always keeps at least one owner (409).
/// </summary>
public static class MembersApi
{
    public const string ResourceType = "member";

    public static RouteGroupBuilder MapMembersApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/organizations/{organization_id:guid}").WithTags("Members");
        group.MapGet("/members", ListAsync).WithName("ListMembers").WithSummary("Members and their roles (viewer)");
        group.MapPost("/members", AddAsync).WithName("AddMember")
            .WithSummary("Add a member by email (admin); an email without an account gets a one-time password, returned once");
        group.MapPatch("/members/{user_id:guid}", UpdateAsync).WithName("UpdateMember").WithSummary("Change a member's role (admin; owner role: owner)");
        group.MapDelete("/members/{user_id:guid}", RemoveAsync).WithName("RemoveMember").WithSummary("Remove a member (admin; an owner: owner)");
        return group;
    }

    private static async Task<Ok<Paged<MemberResponse>>> ListAsync([FromRoute(Name = "organization_id")] Guid organizationId, [AsParameters] PageQuery page,
        NxMeshDbContext db, TenantAccess access, CancellationToken cancellationToken)
    {
        var paging = page.Resolve();
        await access.OrganizationAsync(organizationId, OrganizationRole.Viewer, cancellationToken);
        var query = db.Memberships.AsNoTracking().Include(m => m.User).Where(m => m.OrganizationId == organizationId).OrderBy(m => m.CreatedAt).ThenBy(m => m.UserId);
        return TypedResults.Ok(await query.ToPagedAsync(paging, From, cancellationToken));
    }

    private static async Task<Created<AddedMemberResponse>> AddAsync([FromRoute(Name = "organization_id")] Guid organizationId, AddMemberRequest request,
        NxMeshDbContext db, TenantAccess access, Passwords passwords, AuditTrail audit, CancellationToken cancellationToken)
    {
        var scope = await access.OrganizationAsync(organizationId, OrganizationRole.Admin, cancellationToken);
        var v = new Validator();
        v.Email("email", request.Email?.Trim());
        v.Required("role", request.Role);
        v.ThrowIfInvalid();
        RequireOwnerFor(scope, request.Role!.Value);
        var email = request.Email!.Trim().ToLowerInvariant();
        var user = await db.Users.SingleOrDefaultAsync(u => u.Email == email, cancellationToken);
        string? oneTimePassword = null;
        if (user is null)
        {
            oneTimePassword = Passwords.OneTimePassword();
            user = new User { Email = email, PasswordHash = "", MustChangePassword = true };
            user.PasswordHash = passwords.Hash(user, oneTimePassword);
            db.Users.Add(user);
        }
        else if (await db.Memberships.AnyAsync(m => m.OrganizationId == organizationId && m.UserId == user.Id, cancellationToken))
        {
            throw ApiException.Conflict($"{email} is already a member", [new ErrorDetail("email", "Already a member", ValidationCodes.Conflict)]);
        }
        var membership = new Membership { OrganizationId = organizationId, UserId = user.Id, Role = request.Role.Value, User = user, CreatedAt = DateTimeOffset.UtcNow };
        db.Memberships.Add(membership);
        audit.Record(organizationId, null, "create", ResourceType, user.Id, null, From(membership));
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.IsUniqueViolation())
        {
            throw ApiException.Conflict($"{email} is already a member", [new ErrorDetail("email", "Already a member", ValidationCodes.Conflict)]);
        }
        var added = From(membership);
        return TypedResults.Created($"/v1/organizations/{organizationId}/members/{user.Id}",
            new AddedMemberResponse(added.UserId, added.Email, added.DisplayName, added.Role, added.CreatedAt, oneTimePassword));
    }

    private static async Task<Ok<MemberResponse>> UpdateAsync([FromRoute(Name = "organization_id")] Guid organizationId, [FromRoute(Name = "user_id")] Guid userId,
        UpdateMemberRequest request, NxMeshDbContext db, TenantAccess access, AuditTrail audit, CancellationToken cancellationToken)
    {
        var scope = await access.OrganizationAsync(organizationId, OrganizationRole.Admin, cancellationToken);
        var v = new Validator();
        v.Required("role", request.Role);
        v.ThrowIfInvalid();
        var membership = await db.Memberships.Include(m => m.User).SingleOrDefaultAsync(m => m.OrganizationId == organizationId && m.UserId == userId, cancellationToken)
            ?? throw ApiException.NotFound("Member");
        var before = From(membership);
        RequireOwnerFor(scope, membership.Role);
        RequireOwnerFor(scope, request.Role!.Value);
        if (membership.Role == OrganizationRole.Owner && request.Role != OrganizationRole.Owner)
        {
            await EnsureAnotherOwnerAsync(db, organizationId, userId, cancellationToken);
        }
        membership.Role = request.Role.Value;
        audit.Record(organizationId, null, "update", ResourceType, userId, before, From(membership));
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Ok(From(membership));
    }

    private static async Task<NoContent> RemoveAsync([FromRoute(Name = "organization_id")] Guid organizationId, [FromRoute(Name = "user_id")] Guid userId,
        NxMeshDbContext db, TenantAccess access, AuditTrail audit, CurrentUser current, CancellationToken cancellationToken)
    {
        // Anyone may leave an organization; removing others needs admin.
        var scope = await access.OrganizationAsync(organizationId, userId == current.Id ? OrganizationRole.Viewer : OrganizationRole.Admin, cancellationToken);
        var membership = await db.Memberships.Include(m => m.User).SingleOrDefaultAsync(m => m.OrganizationId == organizationId && m.UserId == userId, cancellationToken)
            ?? throw ApiException.NotFound("Member");
        if (userId != current.Id)
        {
            RequireOwnerFor(scope, membership.Role);
        }
        if (membership.Role == OrganizationRole.Owner)
        {
            await EnsureAnotherOwnerAsync(db, organizationId, userId, cancellationToken);
        }
        audit.Record(organizationId, null, "delete", ResourceType, userId, From(membership), null);
        db.Memberships.Remove(membership);
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.NoContent();
    }

    private static void RequireOwnerFor(TenantScope scope, OrganizationRole role)
    {
        if (role == OrganizationRole.Owner && scope.Role != OrganizationRole.Owner)
        {
            throw ApiException.Forbidden("Only an owner can grant, change or remove the owner role");
        }
    }

    private static async Task EnsureAnotherOwnerAsync(NxMeshDbContext db, Guid organizationId, Guid userId, CancellationToken cancellationToken)
    {
        if (!await db.Memberships.AnyAsync(m => m.OrganizationId == organizationId && m.UserId != userId && m.Role == OrganizationRole.Owner, cancellationToken))
        {
            throw ApiException.Conflict("An organization must keep at least one owner", [new ErrorDetail("role", "Last owner", ValidationCodes.Conflict)]);
        }
    }

    private static MemberResponse From(Membership m) => new(m.UserId, m.User!.Email, m.User.DisplayName, m.Role, m.CreatedAt);
}
