using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using NxMesh.Api.Platform;
using NxMesh.Data;
using NxMesh.Data.Entities;
using NxMesh.Nginx.Validation;

namespace NxMesh.Api.Audit;

public sealed record AuditActor(Guid? UserId, string? Email);

public sealed record AuditEntryResponse(
    Guid Id, Guid OrganizationId, Guid? WorkspaceId, AuditActor Actor, string Action, string ResourceType, Guid? ResourceId,
    JsonElement? Before, JsonElement? After, string? RequestId, DateTimeOffset CreatedAt)
{
    public static AuditEntryResponse From(AuditEntry e) => new(e.Id, e.OrganizationId, e.WorkspaceId, new AuditActor(e.ActorUserId, e.ActorEmail),
        e.Action, e.ResourceType, e.ResourceId, Parse(e.Before), Parse(e.After), e.RequestId, e.CreatedAt);

    private static JsonElement? Parse(string? json) => json is null ? null : JsonDocument.Parse(json).RootElement.Clone();
}

public readonly record struct AuditLogQuery(
    [property: FromQuery(Name = "workspace_id")] Guid? WorkspaceId,
    [property: FromQuery(Name = "resource_type")] string? ResourceType,
    [property: FromQuery(Name = "resource_id")] Guid? ResourceId,
    [property: FromQuery(Name = "actor_id")] Guid? ActorId,
    [property: FromQuery(Name = "action")] string? Action,
    [property: FromQuery(Name = "from")] DateTimeOffset? From,
    [property: FromQuery(Name = "to")] DateTimeOffset? To);

public static class AuditLogApi
{
    public static RouteHandlerBuilder MapAuditLogApi(this IEndpointRouteBuilder routes) =>
        routes.MapGet("/organizations/{organization_id:guid}/audit-log", ListAsync).WithTags("Audit").WithName("ListAuditLog")
            .WithSummary("Every successful mutation in the organization, newest first (admin); filters: workspace_id, resource_type, resource_id, actor_id, action, from, to");

    private static async Task<Ok<Paged<AuditEntryResponse>>> ListAsync([FromRoute(Name = "organization_id")] Guid organizationId, [AsParameters] PageQuery page,
        [AsParameters] AuditLogQuery filter, NxMeshDbContext db, TenantAccess access, CancellationToken cancellationToken)
    {
        var v = new Validator();
        var paging = page.Resolve(v);
        if (filter.From is { } from && filter.To is { } to && from > to)
        {
            v.Add("from", ValidationCodes.OutOfRange, "from must not be after to");
        }
        v.ThrowIfInvalid();
        await access.OrganizationAsync(organizationId, OrganizationRole.Admin, cancellationToken);
        var query = db.AuditLog.AsNoTracking().Where(e => e.OrganizationId == organizationId);
        if (filter.WorkspaceId is { } workspaceId)
        {
            query = query.Where(e => e.WorkspaceId == workspaceId);
        }
        if (filter.ResourceType is { } resourceType)
        {
            query = query.Where(e => e.ResourceType == resourceType);
        }
        if (filter.ResourceId is { } resourceId)
        {
            query = query.Where(e => e.ResourceId == resourceId);
        }
        if (filter.ActorId is { } actorId)
        {
            query = query.Where(e => e.ActorUserId == actorId);
        }
        if (filter.Action is { } action)
        {
            query = query.Where(e => e.Action == action);
        }
        if (filter.From is { } fromTime)
        {
            var utc = fromTime.ToUniversalTime();
            query = query.Where(e => e.CreatedAt >= utc);
        }
        if (filter.To is { } toTime)
        {
            var utc = toTime.ToUniversalTime();
            query = query.Where(e => e.CreatedAt <= utc);
        }
        return TypedResults.Ok(await query.OrderByDescending(e => e.CreatedAt).ThenByDescending(e => e.Id).ToPagedAsync(paging, AuditEntryResponse.From, cancellationToken));
    }
}
