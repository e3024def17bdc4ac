using System.Text.Json;
using NxMesh.Data;
using NxMesh.Data.Entities;
using NxMesh.Data.Messaging;

namespace NxMesh.Api.Platform;

/// <summary>
/// Adds the audit entry and, for config-affecting changes, the outbox message to the same DbContext as the
/// mutation, so one SaveChanges commits all three or none (design.md "Changes reach agents reliably").
/// </summary>
public sealed class AuditTrail(NxMeshDbContext db, CurrentUser user, IHttpContextAccessor accessor)
{
    // One spelling with AgentHub, which consumes them.
    public const string WorkspaceConfigChanged = OutboxTypes.WorkspaceConfigChanged;
    public const string AgentDeleted = OutboxTypes.AgentDeleted;

    /// <summary><paramref name="before"/>/<paramref name="after"/> are API views of the resource: never secrets.</summary>
    public void Record(Guid organizationId, Guid? workspaceId, string action, string resourceType, Guid? resourceId, object? before, object? after)
    {
        db.AuditLog.Add(new AuditEntry
        {
            OrganizationId = organizationId,
            WorkspaceId = workspaceId,
            ActorUserId = user.IdOrNull,
            ActorEmail = user.Email,
            Action = action,
            ResourceType = resourceType,
            ResourceId = resourceId,
            Before = before is null ? null : JsonSerializer.Serialize(before, ApiJson.Options),
            After = after is null ? null : JsonSerializer.Serialize(after, ApiJson.Options),
            RequestId = accessor.HttpContext?.TraceIdentifier,
            CreatedAt = DateTimeOffset.UtcNow,
        });
    }

    /// <summary>Announces that the desired nginx config of a workspace's agents may have changed.</summary>
    public void ConfigChanged(Guid workspaceId, string resourceType, Guid? resourceId, string action) =>
        db.Outbox.Add(OutboxMessages.ConfigChanged(workspaceId, resourceType, resourceId, action, DateTimeOffset.UtcNow));

    public void Outbox(string type, Guid? workspaceId, object payload) =>
        db.Outbox.Add(OutboxMessages.Create(type, workspaceId, JsonSerializer.Serialize(payload, ApiJson.Options), DateTimeOffset.UtcNow));
}
