using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using NxMesh.Data.Entities;

namespace NxMesh.Data.Messaging;

/// <summary>
/// The one way outbox rows are made (Api and Worker alike), so every writer carries the current trace and the same
/// <c>workspace.config_changed</c> payload. The caller adds the row to the DbContext of its mutation: one SaveChanges
/// commits both (design.md "Changes reach agents reliably").
/// </summary>
public static class OutboxMessages
{
    /// <summary>The desired nginx config of a workspace's agents may have changed because of this resource.</summary>
    public static OutboxMessage ConfigChanged(Guid workspaceId, string resourceType, Guid? resourceId, string action, DateTimeOffset createdAt) =>
        Create(OutboxTypes.WorkspaceConfigChanged, workspaceId, JsonSerializer.Serialize(new ConfigChangedPayload(workspaceId, resourceType, resourceId, action)), createdAt);

    /// <summary>A row of <paramref name="type"/> (<see cref="OutboxTypes"/>) with an already serialized JSON payload.</summary>
    public static OutboxMessage Create(string type, Guid? workspaceId, string payloadJson, DateTimeOffset createdAt) => new()
    {
        Type = type,
        WorkspaceId = workspaceId,
        Payload = payloadJson,
        TraceParent = Activity.Current?.Id,
        CreatedAt = createdAt,
    };

    /// <summary>
    /// The message of a committed row on <see cref="HubChannels.Outbox"/>, <c>{id, type, workspace_id, payload,
    /// traceparent, published_at_ms, created_at_ms}</c>: published by the AgentHub's relay and, right after its commit,
    /// by the writer itself. The two wall-clock times (Unix ms, fractional) let the receiver log how old a
    /// notification is on arrival and how long the writer took from the row's creation to its publish.
    /// </summary>
    public static string RelayMessage(long id, string type, Guid? workspaceId, string payloadJson, string? traceParent,
        DateTimeOffset? createdAt = null) => new JsonObject
    {
        ["id"] = id,
        ["type"] = type,
        ["workspace_id"] = workspaceId?.ToString("D"),
        ["payload"] = JsonNode.Parse(payloadJson),
        ["traceparent"] = traceParent,
        ["published_at_ms"] = UnixMs(DateTimeOffset.UtcNow),
        ["created_at_ms"] = createdAt is { } created ? UnixMs(created) : null,
    }.ToJsonString();

    /// <summary>Wall-clock milliseconds since the Unix epoch, to 0.001 ms (the unit of <see cref="RelayMessage"/>'s times).</summary>
    public static double UnixMs(DateTimeOffset at) => Math.Round((at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / (double)TimeSpan.TicksPerMillisecond, 3);

    private sealed record ConfigChangedPayload(
        [property: JsonPropertyName("workspace_id")] Guid WorkspaceId,
        [property: JsonPropertyName("resource_type")] string ResourceType,
        [property: JsonPropertyName("resource_id")] Guid? ResourceId,
        [property: JsonPropertyName("action")] string Action);
}
