using Npgsql;
using NxMesh.Data;

namespace NxMesh.Api.Platform;

/// <summary>Connection settings of the Api's hot reads (issue 9: the agents list at 10,000 agents).</summary>
internal static class ApiDatabase
{
    /// <summary>
    /// Auto-prepared statements (a bounded LRU per connection) skip parsing on every repeat. Plans stay custom
    /// (<c>plan_cache_mode=force_custom_plan</c>): a generic plan cannot see a jsonb selector's selectivity, and the
    /// one Postgres would switch the agents list to after five executions scans and sorts every match twice
    /// (EXPLAIN ANALYZE at 10,000 agents: 17 ms against 1.4 ms for the custom plan).
    /// </summary>
    public static string? Tune(string? connectionString)
    {
        if (connectionString is null)
        {
            return null;
        }
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { MaxAutoPrepare = 64, AutoPrepareMinUsages = 2 };
        builder.Options = $"{builder.Options} -c plan_cache_mode=force_custom_plan".Trim();
        return builder.ConnectionString;
    }
}

/// <summary>
/// A second, small pool for statements whose plan does not depend on their values (the agents list's name-order walk):
/// <c>plan_cache_mode=force_generic_plan</c>, so an auto-prepared statement is planned once per connection instead of
/// on every execution as on the main pool (at 10,000 agents planning the list cost Postgres 0.4-0.5 ms, executing it
/// 0.2-0.3 ms). Built on first use from the same connection string as the DbContext.
/// </summary>
internal sealed class AgentListDataSource(IConfiguration configuration) : IAsyncDisposable
{
    /// <summary>Connections of this pool at most; the walk holds one for a fraction of a millisecond.</summary>
    public const int MaxPoolSize = 20;

    private readonly Lazy<NpgsqlDataSource> _source = new(() => NpgsqlDataSource.Create(Generic(configuration.GetConnectionString(ConnectionNames.Database)
        ?? throw new InvalidOperationException($"ConnectionStrings:{ConnectionNames.Database} is not configured."))));

    public ValueTask<NpgsqlConnection> OpenConnectionAsync(CancellationToken cancellationToken) => _source.Value.OpenConnectionAsync(cancellationToken);

    private static string Generic(string connectionString)
    {
        // No reset on close: the walk sets no session state, and the reset Npgsql otherwise sends with the next
        // command (CLOSE ALL, UNLISTEN *, advisory unlock, DISCARD …) was a second transaction per request.
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            MaxAutoPrepare = 16, AutoPrepareMinUsages = 2, MaxPoolSize = MaxPoolSize, NoResetOnClose = true,
        };
        builder.Options = $"{builder.Options} -c plan_cache_mode=force_generic_plan".Trim();
        return builder.ConnectionString;
    }

    public async ValueTask DisposeAsync()
    {
        if (_source.IsValueCreated)
        {
            await _source.Value.DisposeAsync();
        }
    }
}
