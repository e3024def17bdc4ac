using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using NxMesh.Api.Platform;
using NxMesh.Data;
using NxMesh.Data.Entities;
using NxMesh.Data.Security;

namespace NxMesh.Api.Agents;

/// <summary>
/// <c>count</c> (1–100, optional) creates that many agents and tokens at once; names get "-1" … "-n" appended.
/// Without it the answer is the spec's single object; with it, <c>{"data": [...]}</c>.
/// </summary>
public sealed record CreateRegistrationTokenRequest(string? Name, Dictionary<string, string?>? Labels, int? ExpiresInHours, int? Count);

public sealed record RegistrationTokenCreated(string Token, Guid AgentId, DateTimeOffset ExpiresAt);

public sealed record RegistrationTokensCreated(IReadOnlyList<RegistrationTokenCreated> Data);

public sealed record RegistrationTokenResponse(
    Guid Id, Guid WorkspaceId, Guid AgentId, string Name, IReadOnlyDictionary<string, string> Labels, string Status,
    DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, DateTimeOffset? UsedAt, DateTimeOffset? RevokedAt)
{
    public static RegistrationTokenResponse From(RegistrationToken t, DateTimeOffset now) => new(t.Id, t.WorkspaceId, t.AgentId, t.Name, t.Labels,
        t.RevokedAt is not null ? "revoked" : t.UsedAt is not null ? "used" : t.ExpiresAt <= now ? "expired" : "active",
        t.CreatedAt, t.ExpiresAt, t.UsedAt, t.RevokedAt);
}

public static class RegistrationTokensApi
{
    public const string ResourceType = "registration_token";
    public const int DefaultExpiresInHours = 24;
    public const int MaxExpiresInHours = 720;
    public const int MaxCount = 100;

    public static IEndpointRouteBuilder MapRegistrationTokensApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/workspaces/{workspace_id:guid}/agents").WithTags("Agents");
        group.MapPost("/tokens", CreateAsync).WithName("CreateAgentRegistrationToken")
            .WithSummary("Create an agent record (offline until it enrolls) and its single-use enrollment token (admin); the token is shown once")
            .Produces<RegistrationTokensCreated>(201);
        group.MapGet("/tokens", ListAsync).WithName("ListAgentRegistrationTokens").WithSummary("Registration tokens of a workspace, without secrets (admin)");
        routes.MapDelete("/registration-tokens/{token_id:guid}", RevokeAsync).WithTags("Agents").WithName("RevokeAgentRegistrationToken")
            .WithSummary("Revoke an unused registration token (admin)");
        return routes;
    }

    private static async Task<IResult> CreateAsync([FromRoute(Name = "workspace_id")] Guid workspaceId, CreateRegistrationTokenRequest request,
        NxMeshDbContext db, TenantAccess access, AuditTrail audit, CurrentUser user, CancellationToken cancellationToken)
    {
        var (_, scope) = await access.WorkspaceAsync(workspaceId, OrganizationRole.Admin, cancellationToken);
        var v = new Validator();
        v.Name("name", request.Name);
        v.Labels("labels", request.Labels);
        v.Range("expires_in_hours", request.ExpiresInHours, 1, MaxExpiresInHours);
        v.Range("count", request.Count, 1, MaxCount);
        v.ThrowIfInvalid();
        var now = DateTimeOffset.UtcNow;
        var expiresAt = now.AddHours(request.ExpiresInHours ?? DefaultExpiresInHours);
        var labels = (request.Labels ?? []).ToDictionary(l => l.Key, l => l.Value!, StringComparer.Ordinal);
        var count = request.Count ?? 1;
        var created = new List<RegistrationTokenCreated>(count);
        for (var i = 1; i <= count; i++)
        {
            var name = request.Count is null ? request.Name!.Trim() : $"{request.Name!.Trim()}-{i}";
            var agent = new Agent { WorkspaceId = workspaceId, Name = name, Labels = new(labels), CreatedAt = now };
            var token = Secrets.NewSecret(Secrets.RegistrationTokenPrefix);
            var record = new RegistrationToken
            {
                WorkspaceId = workspaceId,
                AgentId = agent.Id,
                Name = name,
                TokenHash = Secrets.Hash(token),
                Labels = new(labels),
                CreatedByUserId = user.Id,
                CreatedAt = now,
                ExpiresAt = expiresAt,
            };
            db.Agents.Add(agent);
            db.RegistrationTokens.Add(record);
            audit.Record(scope.OrganizationId, workspaceId, "create", ResourceType, record.Id, null, RegistrationTokenResponse.From(record, now));
            created.Add(new RegistrationTokenCreated(token, agent.Id, expiresAt));
        }
        await db.SaveChangesAsync(cancellationToken);
        var location = $"/v1/workspaces/{workspaceId}/agents/tokens";
        return request.Count is null
            ? TypedResults.Created(location, created[0])
            : TypedResults.Created(location, new RegistrationTokensCreated(created));
    }

    private static async Task<Ok<Paged<RegistrationTokenResponse>>> ListAsync([FromRoute(Name = "workspace_id")] Guid workspaceId, [AsParameters] PageQuery page,
        NxMeshDbContext db, TenantAccess access, CancellationToken cancellationToken)
    {
        var paging = page.Resolve();
        await access.WorkspaceAsync(workspaceId, OrganizationRole.Admin, cancellationToken);
        var now = DateTimeOffset.UtcNow;
        var query = db.RegistrationTokens.AsNoTracking().Where(t => t.WorkspaceId == workspaceId).OrderByDescending(t => t.CreatedAt).ThenBy(t => t.Id);
        return TypedResults.Ok(await query.ToPagedAsync(paging, t => RegistrationTokenResponse.From(t, now), cancellationToken));
    }

    private static async Task<NoContent> RevokeAsync([FromRoute(Name = "token_id")] Guid tokenId, NxMeshDbContext db, TenantAccess access, AuditTrail audit, CancellationToken cancellationToken)
    {
        var (token, workspaceId, scope) = await access.WorkspaceResourceAsync(db.RegistrationTokens, tokenId, t => t.WorkspaceId, OrganizationRole.Admin, "Registration token", cancellationToken);
        var now = DateTimeOffset.UtcNow;
        var before = RegistrationTokenResponse.From(token, now);
        // Revoking twice is harmless; a used token has nothing left to revoke (the agent's credential is separate).
        token.RevokedAt ??= now;
        audit.Record(scope.OrganizationId, workspaceId, "revoke", ResourceType, tokenId, before, RegistrationTokenResponse.From(token, now));
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.NoContent();
    }
}
