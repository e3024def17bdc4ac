using System.Text;
using Microsoft.EntityFrameworkCore;
using NxMesh.Data;
using NxMesh.Data.DesiredConfig;
using Proto = NxMesh.Protocol.V1;

namespace NxMesh.AgentHub.Push;

/// <summary>
/// The desired configs of many agents of one workspace at once (the set-based form of
/// <see cref="DesiredConfigService.ResolveAsync"/>, same rules): one query reads every agent's labels and desired
/// id/version; the config is built and hashed once per distinct target set (equal labels and equal
/// <see cref="DesiredConfigBuilder.AgentSpecificKey"/>); one <c>UPDATE … FROM unnest(…)</c> advances
/// <c>desired_config_id/version</c> of the agents whose config changed, conditional on the id read (a concurrent
/// writer makes it miss, and those agents are read again). Agents with the same config and version share one
/// <see cref="Proto.ConfigUpdate"/> instance, which callers must not mutate.
/// </summary>
internal sealed class DesiredConfigBatch(NxMeshDbContext db, DesiredConfigBuilder builder)
{
    private const int MaxAttempts = 3;

    /// <summary>Agent id → desired ConfigUpdate; agents that no longer exist (or moved workspace) are absent.</summary>
    public async Task<Dictionary<Guid, Proto.ConfigUpdate>> ResolveAsync(WorkspaceConfigSource source, IReadOnlyCollection<Guid> agentIds,
        CancellationToken cancellationToken)
    {
        var result = new Dictionary<Guid, Proto.ConfigUpdate>(agentIds.Count);
        var pending = agentIds.Distinct().ToArray();
        // (config_id, version) → the one shared instance.
        var shared = new Dictionary<(string, long), Proto.ConfigUpdate>();
        for (var attempt = 0; attempt < MaxAttempts && pending.Length > 0; attempt++)
        {
            var rows = await db.Agents.AsNoTracking()
                .Where(a => pending.Contains(a.Id) && a.WorkspaceId == source.WorkspaceId)
                .Select(a => new AgentRow(a.Id, a.Labels, a.DesiredConfigId, a.DesiredConfigVersion))
                .ToListAsync(cancellationToken);
            var built = new Dictionary<string, Proto.ConfigUpdate>(StringComparer.Ordinal);
            var changed = new List<(AgentRow Row, Proto.ConfigUpdate Update)>();
            foreach (var row in rows)
            {
                var key = TargetSetKey(source, row);
                if (!built.TryGetValue(key, out var update))
                {
                    update = builder.Build(source, row.Id, row.Labels);
                    built[key] = update;
                }
                if (row.DesiredConfigId == update.ConfigId)
                {
                    result[row.Id] = Share(shared, update, row.DesiredConfigVersion);
                }
                else
                {
                    changed.Add((row, update));
                }
            }
            if (changed.Count == 0)
            {
                // Every agent read is resolved; an id without a row (deleted meanwhile) is left out of the result —
                // the caller closes its stream — and never fails the others.
                pending = [];
                break;
            }
            var ids = changed.Select(c => c.Row.Id).ToArray();
            var configIds = changed.Select(c => c.Update.ConfigId).ToArray();
            var expected = changed.Select(c => c.Row.DesiredConfigId).ToArray();
            var advanced = await db.Database.SqlQuery<AdvancedRow>($"""
                UPDATE agents a SET desired_config_id = x.config_id, desired_config_version = a.desired_config_version + 1, updated_at = now()
                FROM unnest({ids}::uuid[], {configIds}::text[], {expected}::text[]) AS x(id, config_id, expected)
                WHERE a.id = x.id AND a.desired_config_id IS NOT DISTINCT FROM x.expected
                RETURNING a.id AS "Id", a.desired_config_version AS "Version"
                """).ToListAsync(cancellationToken);
            var versions = advanced.ToDictionary(a => a.Id, a => a.Version);
            foreach (var (row, update) in changed)
            {
                if (versions.TryGetValue(row.Id, out var version))
                {
                    result[row.Id] = Share(shared, update, version);
                }
            }
            // Missed: another writer changed the row in between; read those again.
            pending = [.. changed.Where(c => !versions.ContainsKey(c.Row.Id)).Select(c => c.Row.Id)];
        }
        if (pending.Length > 0)
        {
            throw new InvalidOperationException($"The desired config of {pending.Length} agent(s) kept changing concurrently.");
        }
        return result;
    }

    /// <summary>
    /// Agents that run their desired config but
    /// whose record still shows FAILED/ROLLED_BACK from another config are marked SUCCESS, each conditional on its
    /// epoch, its desired id and the newest apply outcome being for another config.
    /// </summary>
    public async Task MarkRunningDesiredAsync(IReadOnlyList<(Guid AgentId, long Epoch, string ConfigId)> agents, CancellationToken cancellationToken)
    {
        if (agents.Count == 0)
        {
            return;
        }
        var ids = agents.Select(a => a.AgentId).ToArray();
        var epochs = agents.Select(a => a.Epoch).ToArray();
        var configIds = agents.Select(a => a.ConfigId).ToArray();
        await db.Database.ExecuteSqlAsync($"""
            UPDATE agents a SET last_apply_status = 'success', last_apply_error = NULL
            FROM unnest({ids}::uuid[], {epochs}::bigint[], {configIds}::text[]) AS x(id, epoch, config_id)
            WHERE a.id = x.id AND a.connection_epoch = x.epoch AND a.desired_config_id = x.config_id
              AND a.last_apply_status IN ('failed', 'rolled_back')
              AND (SELECT r.config_id FROM config_apply_history r WHERE r.agent_id = a.id ORDER BY r.id DESC LIMIT 1) IS DISTINCT FROM x.config_id
            """, cancellationToken);
    }

    private static Proto.ConfigUpdate Share(Dictionary<(string, long), Proto.ConfigUpdate> shared, Proto.ConfigUpdate built, long version)
    {
        if (!shared.TryGetValue((built.ConfigId, version), out var update))
        {
            update = built.Clone();
            update.Version = version;
            shared[(built.ConfigId, version)] = update;
        }
        return update;
    }

    private static string TargetSetKey(WorkspaceConfigSource source, AgentRow row)
    {
        var key = new StringBuilder();
        foreach (var (name, value) in row.Labels.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            // Label keys and values cannot contain '\n' or '\0' (Kubernetes syntax): unambiguous separators.
            key.Append(name).Append('\0').Append(value).Append('\n');
        }
        return key.Append('\u0001').Append(DesiredConfigBuilder.AgentSpecificKey(source, row.Id)).ToString();
    }

    private sealed record AgentRow(Guid Id, Dictionary<string, string> Labels, string? DesiredConfigId, long DesiredConfigVersion);

    private sealed record AdvancedRow(Guid Id, long Version);
}
