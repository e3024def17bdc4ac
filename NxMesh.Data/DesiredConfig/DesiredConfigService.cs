using Microsoft.EntityFrameworkCore;
using Proto = NxMesh.Protocol.V1;

namespace NxMesh.Data.DesiredConfig;

/// <summary>An agent's desired config with its per-agent version; <see cref="Advanced"/> when this call bumped it.</summary>
public sealed record DesiredConfigResult(Proto.ConfigUpdate Update, bool Advanced);

/// <summary>
/// Resolves an agent's desired config and keeps <c>agents.desired_config_id/version</c> current: the version
/// increases exactly when the config_id changes (a conditional UPDATE, safe with several AgentHub instances).
/// </summary>
public sealed class DesiredConfigService(NxMeshDbContext db, DesiredConfigBuilder builder)
{
    private const int MaxAttempts = 3;

    public Task<WorkspaceConfigSource?> LoadWorkspaceAsync(Guid workspaceId, CancellationToken cancellationToken) =>
        builder.LoadWorkspaceAsync(workspaceId, cancellationToken);

    /// <summary>Null when the agent no longer exists. Pass a <paramref name="source"/> to share one load across agents.</summary>
    public async Task<DesiredConfigResult?> ResolveAsync(Guid agentId, WorkspaceConfigSource? source, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var agent = await db.Agents.AsNoTracking().Where(a => a.Id == agentId)
                .Select(a => new { a.WorkspaceId, a.Labels, a.DesiredConfigId, a.DesiredConfigVersion })
                .FirstOrDefaultAsync(cancellationToken);
            if (agent is null)
            {
                return null;
            }
            if (source is null || source.WorkspaceId != agent.WorkspaceId)
            {
                source = await builder.LoadWorkspaceAsync(agent.WorkspaceId, cancellationToken);
                if (source is null)
                {
                    return null;
                }
            }
            var update = builder.Build(source, agentId, agent.Labels);
            if (agent.DesiredConfigId == update.ConfigId)
            {
                update.Version = agent.DesiredConfigVersion;
                return new DesiredConfigResult(update, Advanced: false);
            }
            var configId = update.ConfigId;
            var expected = agent.DesiredConfigId;
            // Conditional on the id read above: a concurrent writer makes this miss, and we look again.
            var versions = await db.Database.SqlQuery<long>($"""
                UPDATE agents SET desired_config_id = {configId}, desired_config_version = desired_config_version + 1, updated_at = now()
                WHERE id = {agentId} AND desired_config_id IS NOT DISTINCT FROM {expected}::text
                RETURNING desired_config_version AS "Value"
                """).ToListAsync(cancellationToken);
            if (versions.Count == 1)
            {
                update.Version = versions[0];
                return new DesiredConfigResult(update, Advanced: true);
            }
            source = null;
        }
        throw new InvalidOperationException($"The desired config of agent {agentId} kept changing concurrently.");
    }
}
