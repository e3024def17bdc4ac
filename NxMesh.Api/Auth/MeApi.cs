using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using NxMesh.Api.Platform;
using NxMesh.Data;
using NxMesh.Data.Entities;

namespace NxMesh.Api.Auth;

public sealed record MeResponse(Guid Id, string Email, string? DisplayName, bool MustChangePassword, IReadOnlyList<MyOrganization> Organizations, DateTimeOffset CreatedAt);
public sealed record MyOrganization(Guid Id, string Name, string Slug, OrganizationRole Role);

public static class MeApi
{
    public static RouteHandlerBuilder MapMeApi(this IEndpointRouteBuilder routes) =>
        routes.MapGet("/me", GetAsync).WithTags("Auth").WithName("GetMe").WithSummary("The caller and their organizations with roles")
            .ProducesErrors(401);

    private static async Task<Ok<MeResponse>> GetAsync(NxMeshDbContext db, CurrentUser current, CancellationToken cancellationToken)
    {
        var userId = current.Id;
        var user = await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.Id == userId, cancellationToken) ?? throw ApiException.Unauthorized();
        var organizations = await db.Memberships.AsNoTracking().Where(m => m.UserId == userId).OrderBy(m => m.Organization!.Name)
            .Select(m => new MyOrganization(m.OrganizationId, m.Organization!.Name, m.Organization.Slug, m.Role)).ToListAsync(cancellationToken);
        return TypedResults.Ok(new MeResponse(user.Id, user.Email, user.DisplayName, user.MustChangePassword, organizations, user.CreatedAt));
    }
}
