using Microsoft.EntityFrameworkCore;
using NxMesh.Api.Platform;
using NxMesh.Data;

namespace NxMesh.Api.Workspaces;

/// <summary>
/// Deletes everything in the given workspaces in an order the foreign keys accept: virtual hosts (and their
/// locations) first, because they restrict the deletion of the certificates and upstreams they reference; agents,
/// tokens, credentials, upstreams and certificates follow the workspace row by cascade. Each deleted agent gets an
/// <c>agent.deleted</c> outbox message so AgentHub closes its live stream. Call inside a transaction.
/// </summary>
internal static class WorkspaceCleanup
{
    public static async Task DeleteAsync(NxMeshDbContext db, AuditTrail audit, IQueryable<Guid> workspaceIds, CancellationToken cancellationToken)
    {
        var agents = await db.Agents.Where(a => workspaceIds.Contains(a.WorkspaceId)).Select(a => new { a.Id, a.WorkspaceId }).ToListAsync(cancellationToken);
        foreach (var agent in agents)
        {
            audit.Outbox(AuditTrail.AgentDeleted, agent.WorkspaceId, new { agent_id = agent.Id, workspace_id = agent.WorkspaceId });
        }
        await db.SaveChangesAsync(cancellationToken);
        await db.VirtualHosts.Where(v => workspaceIds.Contains(v.WorkspaceId)).ExecuteDeleteAsync(cancellationToken);
        await db.Workspaces.Where(w => workspaceIds.Contains(w.Id)).ExecuteDeleteAsync(cancellationToken);
    }
}
