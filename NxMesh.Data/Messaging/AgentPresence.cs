using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;

namespace NxMesh.Data.Messaging;

/// <summary>An agent this call moved to offline (the caller won the conditional update and publishes).</summary>
public sealed record OfflineAgent(Guid AgentId, Guid WorkspaceId, long Epoch);

/// <summary>Offline transitions shared by the AgentHub (stream ended) and the Worker (silent agents).</summary>
public static class AgentPresence
{
    /// <summary>
    /// Marks offline every agent not offline whose last_seen_at is older than <paramref name="silence"/>. One
    /// UPDATE: rows re-checked by Postgres under concurrency, so each agent is returned to exactly one caller, and an
    /// agent that reconnected in between (fresh last_seen_at) is left alone.
    /// </summary>
    public static Task<List<OfflineAgent>> MarkSilentAgentsOfflineAsync(NxMeshDbContext db, TimeSpan silence, CancellationToken cancellationToken)
    {
        var cutoff = DateTimeOffset.UtcNow - silence;
        return db.Database.SqlQuery<OfflineAgent>($"""
            UPDATE agents SET state = 'offline', updated_at = now()
            WHERE state <> 'offline' AND last_seen_at < {cutoff}
            RETURNING id AS "AgentId", workspace_id AS "WorkspaceId", connection_epoch AS "Epoch"
            """).ToListAsync(cancellationToken);
    }

    /// <summary>Marks one connection's agent offline if that connection (epoch) is still the current one.</summary>
    public static async Task<OfflineAgent?> MarkConnectionOfflineAsync(NxMeshDbContext db, Guid agentId, long epoch, CancellationToken cancellationToken)
    {
        var rows = await db.Database.SqlQuery<OfflineAgent>($"""
            UPDATE agents SET state = 'offline', updated_at = now()
            WHERE id = {agentId} AND connection_epoch = {epoch} AND state <> 'offline'
            RETURNING id AS "AgentId", workspace_id AS "WorkspaceId", connection_epoch AS "Epoch"
            """).ToListAsync(cancellationToken);
        return rows.Count == 1 ? rows[0] : null;
    }

    public static Task PublishDisconnectedAsync(FleetEventPublisher events, OfflineAgent agent, string reason) =>
        events.PublishAsync(FleetEventTypes.AgentDisconnected, agent.WorkspaceId, new JsonObject
        {
            ["agent_id"] = agent.AgentId.ToString("D"),
            ["reason"] = reason,
        });
}
