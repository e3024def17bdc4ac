using Microsoft.EntityFrameworkCore;
using NxMesh.Data;
using NxMesh.Data.Entities;
using Proto = NxMesh.Protocol.V1;

namespace NxMesh.AgentHub.Agents;

internal sealed record ConnectedAgent(Guid AgentId, Guid WorkspaceId, long Epoch, string? Hostname, string? IpAddress);

/// <summary>Single-agent reads of the fleet path and the proto ↔ entity mapping of apply statuses.</summary>
internal sealed class AgentStore(NxMeshDbContext db)
{
    public async Task<Guid?> WorkspaceOfAsync(Guid agentId, CancellationToken cancellationToken) =>
        await db.Agents.Where(a => a.Id == agentId).Select(a => (Guid?)a.WorkspaceId).FirstOrDefaultAsync(cancellationToken);

    public static bool IsTerminal(Proto.ConfigApplyStatus status) =>
        status is Proto.ConfigApplyStatus.Success or Proto.ConfigApplyStatus.Failed or Proto.ConfigApplyStatus.RolledBack;

    public static ConfigApplyStatus ToEntity(Proto.ConfigApplyStatus status) => status switch
    {
        Proto.ConfigApplyStatus.Pending => ConfigApplyStatus.Pending,
        Proto.ConfigApplyStatus.Validating => ConfigApplyStatus.Validating,
        Proto.ConfigApplyStatus.Applying => ConfigApplyStatus.Applying,
        Proto.ConfigApplyStatus.Success => ConfigApplyStatus.Success,
        Proto.ConfigApplyStatus.Failed => ConfigApplyStatus.Failed,
        Proto.ConfigApplyStatus.RolledBack => ConfigApplyStatus.RolledBack,
        _ => ConfigApplyStatus.Unspecified,
    };
}
