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

    /// <summary>
    /// A page is read by walking the workspace's agents in name order (a cached plan) only when the cached total says
    /// that finds the page within this many rows; rarer selectors keep the custom plan (GIN, then sort the matches).
    /// </summary>
    public const int WalkBudgetRows = 2_000;

    private const string Access = $"""
        (SELECT m.role, COALESCE(g.generation, 0) AS generation
         FROM workspaces w JOIN memberships m ON m.organization_id = w.organization_id
         LEFT JOIN {AgentSetGenerations.Table} g ON g.workspace_id = w.id
         WHERE w.id = $1 AND m.user_id = $2 LIMIT 1) acc
        """;

    private static readonly FrozenDictionary<string, AgentState> States = Names<AgentState>();
    private static readonly FrozenDictionary<string, DeploymentMode> Modes = Names<DeploymentMode>();
    private static readonly FrozenDictionary<string, OrganizationRole> Roles = Names<OrganizationRole>();

    public static async Task<Paged<AgentResponse>> RunAsync(NxMeshDbContext db, AgentCountCache counts, AgentListDataSource walks, Guid workspaceId, Guid userId,
        OrganizationRole minimum, LabelSelector selector, AgentState? state, (int Page, int PerPage) paging, CancellationToken cancellationToken)
    {
        // The total depends on workspace and labels only when no state filter applies: only then is it cached.
        var selectorKey = state is null ? selector.ToString() : null;
        var cached = selectorKey is not null && counts.TryGet(workspaceId, selectorKey, out var entry) ? entry : new AgentCountCache.Entry(-1, 0, 0);
        if (selectorKey is not null && cached.Generation >= 0 && Walkable(cached, paging))
        {
            var (role, generation, items) = await WalkAsync(walks, workspaceId, userId, selector, paging, cancellationToken);
            TenantAccess.Require(role, minimum, "Workspace");
            if (generation == cached.Generation)
            {
                counts.Hit();
                counts.Walked();
                return new Paged<AgentResponse>(items, new PageMeta(paging.Page, paging.PerPage, cached.Total));
            }
            // The agent set changed since the total was counted: count again (and read the page) below.
        }
        return await CountAndReadAsync(db, counts, workspaceId, userId, minimum, selector, state, selectorKey, cached, paging, cancellationToken);
    }

    /// <summary>Rows the name-order walk is expected to read: the page's end divided by the matching fraction.</summary>
    private static bool Walkable(AgentCountCache.Entry cached, (int Page, int PerPage) paging) =>
        cached.Total > 0 && (double)paging.Page * paging.PerPage * cached.WorkspaceAgents / cached.Total <= WalkBudgetRows;

    /// <summary>
    /// Membership, generation and page, no count, on a connection with generic plans: the same statement text for every
    /// selector of the same shape is planned once per connection (planning the custom plan cost Postgres ≈ 0.4-0.5 ms per
    /// request, twice what executing it did). The page walks ix_agents_workspace_id_name and stops after the page.
    /// </summary>
    private static async Task<(OrganizationRole? Role, long Generation, List<AgentResponse> Items)> WalkAsync(AgentListDataSource walks, Guid workspaceId, Guid userId,
        LabelSelector selector, (int Page, int PerPage) paging, CancellationToken cancellationToken)
    {
        var parameters = Parameters(workspaceId, userId, paging);
        var filter = Filter(selector, parameters, null, walk: true);
        var sql = $"""
            SELECT acc.role, acc.generation, NULL::int AS total, {Columns}
            FROM {Access}
            LEFT JOIN LATERAL (SELECT {Columns} FROM agents a WHERE {filter} ORDER BY a.name, a.id LIMIT $3 OFFSET $4) a ON true
            ORDER BY a.name, a.id
            """;
        await using var connection = await walks.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddRange(parameters.ToArray());
        var (role, generation, _, items) = await ReadAsync(command, workspaceId, paging.PerPage, cancellationToken);
        return (role, generation, items);
    }

    private static async Task<Paged<AgentResponse>> CountAndReadAsync(NxMeshDbContext db, AgentCountCache counts, Guid workspaceId, Guid userId, OrganizationRole minimum,
        LabelSelector selector, AgentState? state, string? selectorKey, AgentCountCache.Entry cached, (int Page, int PerPage) paging, CancellationToken cancellationToken)
    {
        var parameters = Parameters(workspaceId, userId, paging);
        parameters.Add(new() { Value = cached.Generation, NpgsqlDbType = NpgsqlDbType.Bigint });
        var filter = Filter(selector, parameters, state);
        // Without a membership row the outer query has no row and neither lateral subquery runs. The counts run only
        // when the workspace's agent-set generation differs from the cached one ($5; CASE evaluates the subquery
        // lazily); the page subquery walks ix_agents_workspace_id_name or sorts the GIN matches, whichever the custom
        // plan finds cheaper for these values. The workspace's agent count decides whether the next request may walk.
        var sql = $"""
            SELECT acc.role, acc.generation, cnt.total, {Columns}, cnt.workspace_agents
            FROM {Access}
            CROSS JOIN LATERAL (SELECT CASE WHEN acc.generation = $5 THEN NULL
                                       ELSE (SELECT count(*)::int FROM agents a WHERE {filter}) END AS total,
                                       CASE WHEN acc.generation = $5 THEN NULL
                                       ELSE (SELECT count(*)::int FROM agents a WHERE a.workspace_id = $1) END AS workspace_agents) cnt
            LEFT JOIN LATERAL (SELECT {Columns} FROM agents a WHERE {filter} ORDER BY a.name, a.id LIMIT $3 OFFSET $4) a ON true
            ORDER BY a.name, a.id
            """;
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var command = new NpgsqlCommand(sql, connection);
            command.Parameters.AddRange(parameters.ToArray());
            var (role, generation, counted, items) = await ReadAsync(command, workspaceId, paging.PerPage, cancellationToken);
            TenantAccess.Require(role, minimum, "Workspace");
            int total;
            if (counted is { } c)
            {
                total = c.Total;
                if (selectorKey is not null)
                {
                    counts.Set(workspaceId, selectorKey, new AgentCountCache.Entry(generation, c.Total, c.WorkspaceAgents));
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

    private static List<NpgsqlParameter> Parameters(Guid workspaceId, Guid userId, (int Page, int PerPage) paging) =>
    [
        new() { Value = workspaceId, NpgsqlDbType = NpgsqlDbType.Uuid },
        new() { Value = userId, NpgsqlDbType = NpgsqlDbType.Uuid },
        new() { Value = paging.PerPage, NpgsqlDbType = NpgsqlDbType.Integer },
        new() { Value = (paging.Page - 1L) * paging.PerPage, NpgsqlDbType = NpgsqlDbType.Bigint },
    ];

    /// <summary>
    /// The selector as SQL. For the walk it is wrapped in <c>IS TRUE</c> (same rows: a NULL condition excludes the row
    /// either way), which no index can serve: a generic plan cannot see the selector's values, and left the choice it
    /// took the GIN index and sorted every match (Postgres ≈ 4.6 ms per request at 10,000 agents); without that
    /// choice the page walks ix_agents_workspace_id_name in order and stops after the page.
    /// </summary>
    private static string Filter(LabelSelector selector, List<NpgsqlParameter> parameters, AgentState? state, bool walk = false)
    {
        var condition = LabelSelectorSql.Condition(selector, "a.labels", value =>
        {
            parameters.Add(new NpgsqlParameter { Value = value, NpgsqlDbType = NpgsqlDbType.Text });
            return "$" + parameters.Count;
        });
        var filter = "a.workspace_id = $1 AND " + (walk ? $"({condition}) IS TRUE" : condition);
        if (state is { } s)
        {
            parameters.Add(new NpgsqlParameter { Value = EnumNames.ToSnakeCase(s), NpgsqlDbType = NpgsqlDbType.Text });
            filter += " AND a.state = $" + parameters.Count;
        }
        return filter;
    }

    private static async Task<(OrganizationRole? Role, long Generation, (int Total, int WorkspaceAgents)? Counted, List<AgentResponse> Items)> ReadAsync(
        NpgsqlCommand command, Guid workspaceId, int perPage, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var items = new List<AgentResponse>(perPage);
        OrganizationRole? role = null;
        var generation = 0L;
        (int, int)? counted = null;
        while (await reader.ReadAsync(cancellationToken))
        {
            role = Roles[reader.GetString(0)];
            generation = reader.GetInt64(1);
            counted = reader.IsDBNull(2) ? null : (reader.GetInt32(2), reader.GetInt32(14));
            if (!reader.IsDBNull(3))
            {
                items.Add(Read(reader, workspaceId));
            }
        }
        return (role, generation, counted, items);
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
