using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using NxMesh.Data;
using NxMesh.Data.Entities;

namespace NxMesh.Api.Platform;

/// <summary>The authenticated caller, from the access token.</summary>
public sealed class CurrentUser(IHttpContextAccessor accessor)
{
    public const string SubjectClaim = "sub";
    public const string EmailClaim = "email";
    /// <summary>"true" while the user must replace a one-time password.</summary>
    public const string PasswordChangeClaim = "pwd_change";

    private ClaimsPrincipal Principal => accessor.HttpContext?.User ?? new ClaimsPrincipal();

    public Guid Id => Guid.TryParse(Principal.FindFirstValue(SubjectClaim), out var id) ? id : throw ApiException.Unauthorized();
    public Guid? IdOrNull => Guid.TryParse(Principal.FindFirstValue(SubjectClaim), out var id) ? id : null;
    public string? Email => Principal.FindFirstValue(EmailClaim);
}

/// <summary>What the caller may do in one organization.</summary>
public sealed record TenantScope(Guid OrganizationId, OrganizationRole Role);

/// <summary>
/// The one place tenant checks live: every handler resolves the organization, workspace or resource it touches
/// through here. Not a member → 404 (nothing revealed); member with too little role → 403.
/// </summary>
public sealed class TenantAccess(NxMeshDbContext db, CurrentUser user)
{
    public async Task<TenantScope> OrganizationAsync(Guid organizationId, OrganizationRole minimum, CancellationToken cancellationToken)
    {
        var userId = user.Id;
        var role = await db.Memberships
            .Where(m => m.OrganizationId == organizationId && m.UserId == userId)
            .Select(m => (OrganizationRole?)m.Role)
            .SingleOrDefaultAsync(cancellationToken);
        return Check(new TenantScope(organizationId, role ?? throw ApiException.NotFound("Organization")), minimum);
    }

    /// <summary>The workspace (tracked, so the caller may change it) and the caller's scope.</summary>
    public async Task<(Workspace Workspace, TenantScope Scope)> WorkspaceAsync(Guid workspaceId, OrganizationRole minimum, CancellationToken cancellationToken)
    {
        var userId = user.Id;
        var found = await (
                from w in db.Workspaces
                join m in db.Memberships on w.OrganizationId equals m.OrganizationId
                where w.Id == workspaceId && m.UserId == userId
                select new { Workspace = w, m.Role })
            .SingleOrDefaultAsync(cancellationToken) ?? throw ApiException.NotFound("Workspace");
        return (found.Workspace, Check(new TenantScope(found.Workspace.OrganizationId, found.Role), minimum));
    }

    /// <summary>
    /// A resource that belongs to a workspace (agents now; virtual hosts, upstreams, certificates next):
    /// loaded tracked by id, 404 when missing or in another tenant's workspace.
    /// </summary>
    public async Task<(T Resource, Guid WorkspaceId, TenantScope Scope)> WorkspaceResourceAsync<T>(
        IQueryable<T> source, Guid id, Func<T, Guid> workspaceOf, OrganizationRole minimum, string what, CancellationToken cancellationToken)
        where T : class
    {
        var userId = user.Id;
        var resource = await source.SingleOrDefaultAsync(e => EF.Property<Guid>(e, "Id") == id, cancellationToken) ?? throw ApiException.NotFound(what);
        var workspaceId = workspaceOf(resource);
        var found = await (
                from w in db.Workspaces
                join m in db.Memberships on w.OrganizationId equals m.OrganizationId
                where w.Id == workspaceId && m.UserId == userId
                select new { w.OrganizationId, m.Role })
            .SingleOrDefaultAsync(cancellationToken) ?? throw ApiException.NotFound(what);
        return (resource, workspaceId, Check(new TenantScope(found.OrganizationId, found.Role), minimum));
    }

    /// <summary>
    /// For a query that reads the caller's role in the same statement as the data (the agents list): no role (not a
    /// member) → 404 <paramref name="what"/>, too little → 403, exactly as <see cref="WorkspaceAsync"/> answers.
    /// </summary>
    public static void Require(OrganizationRole? role, OrganizationRole minimum, string what) =>
        Check(new TenantScope(Guid.Empty, role ?? throw ApiException.NotFound(what)), minimum);

    private static TenantScope Check(TenantScope scope, OrganizationRole minimum) =>
        scope.Role >= minimum ? scope : throw ApiException.Forbidden($"This action requires the {minimum.ToString().ToLowerInvariant()} role or higher");
}
