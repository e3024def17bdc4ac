using System.Collections.Frozen;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;
using NxMesh.Api.Platform;
using NxMesh.Data;
using NxMesh.Data.Configurations;
using NxMesh.Data.Entities;
using NxMesh.Data.Labels;

namespace NxMesh.Api.Agents;

/// <summary>
/// GET /workspaces/{id}/agents in one round trip: the caller's role in the workspace, the total and the page come
/// from one statement, reading only the columns of <see cref="AgentResponse"/>. The list is the hottest read of a
/// large fleet (issue 9): three EF round trips (membership, count, page) with full entities cost more Api CPU than
/// Postgres spent on the rows. Access is decided from the same snapshot, so revocation is as immediate as before: no
/// membership row, no rows at all (404); a role below the minimum, 403 — before any agent is returned.
/// </summary>
internal static class AgentListQuery
{
    private const string Columns = "a.id, a.name, a.hostname, a.ip_address, a.version, a.state, a.deployment_mode, a.last_seen_at, a.capabilities, a.labels, a.created_at";

    private static readonly FrozenDictionary<string, AgentState> States = Names<AgentState>();
    private static readonly FrozenDictionary<string, DeploymentMode> Modes = Names<DeploymentMode>();
    private static readonly FrozenDictionary<string, OrganizationRole> Roles = Names<OrganizationRole>();

    public static async Task<Paged<AgentResponse>> RunAsync(NxMeshDbContext db, AgentCountCache counts, Guid workspaceId, Guid userId, OrganizationRole minimum,
        LabelSelector selector, AgentState? state, (int Page, int PerPage) paging, CancellationToken cancellationToken)
    {
        // The total depends on workspace and labels only when no state filter applies: only then is it cached.
        var selectorKey = state is null ? selector.ToString() : null;
        var cached = selectorKey is not null && counts.TryGet(workspaceId, selectorKey, out var entry) ? entry : (Generation: -1L, Total: 0);
        var parameters = new List<NpgsqlParameter>
        {
            new() { Value = workspaceId, NpgsqlDbType = NpgsqlDbType.Uuid },
            new() { Value = userId, NpgsqlDbType = NpgsqlDbType.Uuid },
            new() { Value = paging.PerPage, NpgsqlDbType = NpgsqlDbType.Integer },
            new() { Value = (paging.Page - 1L) * paging.PerPage, NpgsqlDbType = NpgsqlDbType.Bigint },
            new() { Value = cached.Generation, NpgsqlDbType = NpgsqlDbType.Bigint },
        };
        var filter = "a.workspace_id = $1 AND " + LabelSelectorSql.Condition(selector, "a.labels", value =>
        {
            parameters.Add(new NpgsqlParameter { Value = value, NpgsqlDbType = NpgsqlDbType.Text });
            return "$" + parameters.Count;
        });
        if (state is { } s)
        {
            parameters.Add(new NpgsqlParameter { Value = EnumNames.ToSnakeCase(s), NpgsqlDbType = NpgsqlDbType.Text });
            filter += " AND a.state = $" + parameters.Count;
        }
        // Without a membership row the outer query has no row and neither lateral subquery runs. The count runs only
        // when the workspace's agent-set generation differs from the cached one ($5; CASE evaluates the subquery
        // lazily); the page subquery walks ix_agents_workspace_id_name and stops after the page.
        var sql = $"""
            SELECT acc.role, acc.generation, cnt.total, {Columns}
            FROM (SELECT m.role, COALESCE(g.generation, 0) AS generation
                  FROM workspaces w JOIN memberships m ON m.organization_id = w.organization_id
                  LEFT JOIN {AgentSetGenerations.Table} g ON g.workspace_id = w.id
                  WHERE w.id = $1 AND m.user_id = $2 LIMIT 1) acc
            CROSS JOIN LATERAL (SELECT CASE WHEN acc.generation = $5 THEN NULL
                                       ELSE (SELECT count(*)::int FROM agents a WHERE {filter}) END AS total) cnt
            LEFT JOIN LATERAL (SELECT {Columns} FROM agents a WHERE {filter} ORDER BY a.name, a.id LIMIT $3 OFFSET $4) a ON true
            ORDER BY a.name, a.id
            """;
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var command = new NpgsqlCommand(sql, connection);
            command.Parameters.AddRange(parameters.ToArray());
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var items = new List<AgentResponse>(paging.PerPage);
            OrganizationRole? role = null;
            var generation = 0L;
            int? counted = null;
            while (await reader.ReadAsync(cancellationToken))
            {
                role = Roles[reader.GetString(0)];
                generation = reader.GetInt64(1);
                counted = reader.IsDBNull(2) ? null : reader.GetInt32(2);
                if (!reader.IsDBNull(3))
                {
                    items.Add(Read(reader, workspaceId));
                }
            }
            TenantAccess.Require(role, minimum, "Workspace");
            if (counted is { } total)
            {
                if (selectorKey is not null)
                {
                    counts.Set(workspaceId, selectorKey, generation, total);
                }
            }
            else
            {
                total = cached.Total;
                counts.Hit();
            }
            return new Paged<AgentResponse>(items, new PageMeta(paging.Page, paging.PerPage, total));
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    private static AgentResponse Read(NpgsqlDataReader reader, Guid workspaceId) => new(
        reader.GetGuid(3), workspaceId, reader.GetString(4), NullableString(reader, 5), NullableString(reader, 6), NullableString(reader, 7),
        States[reader.GetString(8)], Modes[reader.GetString(9)],
        reader.IsDBNull(10) ? null : reader.GetFieldValue<DateTimeOffset>(10),
        reader.GetFieldValue<string[]>(11),
        JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(12)) ?? [],
        reader.GetFieldValue<DateTimeOffset>(13));

    private static string? NullableString(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static FrozenDictionary<string, TEnum> Names<TEnum>() where TEnum : struct, Enum =>
        Enum.GetValues<TEnum>().ToFrozenDictionary(EnumNames.ToSnakeCase, v => v, StringComparer.Ordinal);
}
