using System.Text;
using Microsoft.EntityFrameworkCore;
using NxMesh.Data;
using NxMesh.Data.DesiredConfig;
using Proto = NxMesh.Protocol.V1;

namespace NxMesh.AgentHub.Push;

/// <summary>
/// The desired configs of many agents of one workspace at once (the set-based form of
/// <see cref="DesiredConfigService.ResolveAsync"/>, same rules): one query reads every agent's labels and desired
/// id/version (<see cref="ReadAsync"/>); the config is built and hashed once per distinct target set (equal labels
/// and equal <see cref="DesiredConfigBuilder.AgentSpecificKey"/>) with the version it will have (<see cref="Plan"/>:
/// the one read, or one more when the config changed); one <c>UPDATE … FROM unnest(…)</c> then advances
/// <c>desired_config_id/version</c> of the agents whose config changed, conditional on the id and version read
/// (<see cref="CommitAsync"/>: a concurrent writer makes it miss, and those agents are resolved again). Splitting
/// the plan from the write lets a recompute push before the UPDATE commits. Agents with the same config and version
/// share one <see cref="Proto.ConfigUpdate"/> instance, which callers must not mutate once enqueued.
/// </summary>
internal sealed class DesiredConfigBatch(NxMeshDbContext db, DesiredConfigBuilder builder)
{
    private const int MaxAttempts = 3;

    /// <summary>Label keys by length, then ordinal: jsonb's order of object keys.</summary>
    private static readonly Comparer<string> CanonicalOrder = Comparer<string>.Create(
        (a, b) => a.Length != b.Length ? a.Length.CompareTo(b.Length) : string.CompareOrdinal(a, b));

    /// <summary>The agents' rows (labels, desired id/version); ids without a row in this workspace are absent.</summary>
    public Task<List<AgentRow>> ReadAsync(Guid workspaceId, IReadOnlyCollection<Guid> agentIds, CancellationToken cancellationToken)
    {
        var ids = agentIds.Distinct().ToArray();
        return db.Agents.AsNoTracking()
            .Where(a => ids.Contains(a.Id) && a.WorkspaceId == workspaceId)
            .Select(a => new AgentRow(a.Id, a.Labels, a.DesiredConfigId, a.DesiredConfigVersion))
            .ToListAsync(cancellationToken);
    }

    /// <summary>Each row's desired ConfigUpdate with the version it has (unchanged) or will have once committed (changed). No database call.</summary>
    public DesiredPlan Plan(WorkspaceConfigSource source, IReadOnlyList<AgentRow> rows)
    {
        var plan = new DesiredPlan(rows.Count);
        var built = new Dictionary<string, Proto.ConfigUpdate>(StringComparer.Ordinal);
        // (config_id, version) → the one shared instance.
        var shared = new Dictionary<(string, long), Proto.ConfigUpdate>();
        var keyBuilder = new StringBuilder();
        foreach (var row in rows)
        {
            var key = TargetSetKey(source, row, keyBuilder);
            if (!built.TryGetValue(key, out var update))
            {
                update = builder.Build(source, row.Id, row.Labels);
                built[key] = update;
            }
            if (row.DesiredConfigId == update.ConfigId)
            {
                plan.Desired[row.Id] = Share(shared, update, row.DesiredConfigVersion);
            }
            else
            {
                var next = Share(shared, update, row.DesiredConfigVersion + 1);
                plan.Desired[row.Id] = next;
                plan.Changes.Add(new PlannedChange(row.Id, row.DesiredConfigId, row.DesiredConfigVersion, next));
            }
        }
        return plan;
    }

    /// <summary>
    /// Writes the plan's changes (one statement), each conditional on the id and version read; returns the agents
    /// whose row changed in between (their planned version is not theirs: resolve them again).
    /// </summary>
    public async Task<List<Guid>> CommitAsync(DesiredPlan plan, CancellationToken cancellationToken)
    {
        if (plan.Changes.Count == 0)
        {
            return [];
        }
        var ids = plan.Changes.Select(c => c.AgentId).ToArray();
        var configIds = plan.Changes.Select(c => c.Update.ConfigId).ToArray();
        var expected = plan.Changes.Select(c => c.ExpectedId).ToArray();
        var expectedVersions = plan.Changes.Select(c => c.ExpectedVersion).ToArray();
        var advanced = await db.Database.SqlQuery<Guid>($"""
            UPDATE agents a SET desired_config_id = x.config_id, desired_config_version = x.expected_version + 1, updated_at = now()
            FROM unnest({ids}::uuid[], {configIds}::text[], {expected}::text[], {expectedVersions}::bigint[]) AS x(id, config_id, expected, expected_version)
            WHERE a.id = x.id AND a.desired_config_id IS NOT DISTINCT FROM x.expected AND a.desired_config_version = x.expected_version
            RETURNING a.id AS "Value"
            """).ToListAsync(cancellationToken);
        var done = advanced.ToHashSet();
        return [.. ids.Where(id => !done.Contains(id))];
    }

    /// <summary>Agent id → desired ConfigUpdate, committed (read, plan, commit; misses read again); agents that no longer exist are absent.</summary>
    public async Task<Dictionary<Guid, Proto.ConfigUpdate>> ResolveAsync(WorkspaceConfigSource source, IReadOnlyCollection<Guid> agentIds,
        CancellationToken cancellationToken)
    {
        var result = new Dictionary<Guid, Proto.ConfigUpdate>(agentIds.Count);
        IReadOnlyCollection<Guid> pending = agentIds;
        for (var attempt = 0; attempt < MaxAttempts && pending.Count > 0; attempt++)
        {
            var plan = Plan(source, await ReadAsync(source.WorkspaceId, pending, cancellationToken));
            var missed = await CommitAsync(plan, cancellationToken);
            foreach (var (id, update) in plan.Desired)
            {
                result[id] = update;
            }
            // Missed: another writer changed the row in between; read those again. An id without a row (deleted
            // meanwhile) is left out of the result — the caller closes its stream — and never fails the others.
            foreach (var id in missed)
            {
                result.Remove(id);
            }
            pending = missed;
        }
        if (pending.Count > 0)
        {
            throw new InvalidOperationException($"The desired config of {pending.Count} agent(s) kept changing concurrently.");
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

    /// <summary>
    /// Equal for rows with equal labels and agent-specific targets. Labels are appended in one canonical order, key
    /// length then ordinal — the order jsonb stores object keys in, so rows read from the database are already in it
    /// and are only checked (at 10,000 rows, sorting every row's labels was half of the plan's time); labels in any
    /// other order are sorted.
    /// </summary>
    private static string TargetSetKey(WorkspaceConfigSource source, AgentRow row, StringBuilder key)
    {
        key.Clear();
        if (InCanonicalOrder(row.Labels))
        {
            foreach (var (name, value) in row.Labels)
            {
                AppendLabel(key, name, value);
            }
        }
        else
        {
            foreach (var (name, value) in row.Labels.OrderBy(p => p.Key, CanonicalOrder))
            {
                AppendLabel(key, name, value);
            }
        }
        return key.Append('\u0001').Append(DesiredConfigBuilder.AgentSpecificKey(source, row.Id)).ToString();
    }

    // Label keys and values cannot contain '\n' or '\0' (Kubernetes syntax): unambiguous separators.
    private static void AppendLabel(StringBuilder key, string name, string value) => key.Append(name).Append('\0').Append(value).Append('\n');

    private static bool InCanonicalOrder(Dictionary<string, string> labels)
    {
        string? previous = null;
        foreach (var name in labels.Keys)
        {
            if (previous is not null && CanonicalOrder.Compare(previous, name) >= 0)
            {
                return false;
            }
            previous = name;
        }
        return true;
    }

}

internal sealed record AgentRow(Guid Id, Dictionary<string, string> Labels, string? DesiredConfigId, long DesiredConfigVersion);

/// <summary>A config change planned for one agent: the row read (id, version) and the update it gets.</summary>
internal sealed record PlannedChange(Guid AgentId, string? ExpectedId, long ExpectedVersion, Proto.ConfigUpdate Update);

/// <summary>What <see cref="DesiredConfigBatch.Plan"/> decided: every agent's desired update, and the rows to advance.</summary>
internal sealed class DesiredPlan(int capacity)
{
    public Dictionary<Guid, Proto.ConfigUpdate> Desired { get; } = new(capacity);
    public List<PlannedChange> Changes { get; } = [];
}
