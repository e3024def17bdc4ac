using System.Globalization;
using Npgsql;

namespace NxMesh.Data.Telemetry;

/// <summary>
/// Daily partitions of the telemetry tables: <c>&lt;table&gt;_pYYYYMMDD</c> holds [day 00:00 UTC, next day 00:00 UTC).
/// Creating a partition first moves the rows of that day out of the DEFAULT partition (in the same transaction),
/// so a day that started in the default partition can still get its own partition later and nothing is lost.
/// </summary>
public static class TelemetryPartitions
{
    // One creator at a time across AgentHub instances and the Worker.
    private const long AdvisoryLockKey = 0x4E784D6573685450; // "NxMeshTP"

    public static string PartitionName(string table, DateOnly day) =>
        $"{table}_p{day.ToString("yyyyMMdd", CultureInfo.InvariantCulture)}";

    public static DateTimeOffset StartOf(DateOnly day) => new(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);

    /// <summary>Creates the missing day partitions of every partitioned table for each day in [first, last].</summary>
    public static async Task<int> EnsureAsync(NpgsqlDataSource dataSource, DateOnly first, DateOnly last, CancellationToken cancellationToken)
    {
        var created = 0;
        foreach (var table in TelemetrySchema.PartitionedTables)
        {
            var existing = (await ListAsync(dataSource, table, cancellationToken)).ToHashSet();
            for (var day = first; day <= last; day = day.AddDays(1))
            {
                if (!existing.Contains(day) && await CreateAsync(dataSource, table, day, cancellationToken))
                {
                    created++;
                }
            }
        }
        return created;
    }

    /// <summary>The days that have their own partition (the DEFAULT partition is not listed).</summary>
    public static async Task<IReadOnlyList<DateOnly>> ListAsync(NpgsqlDataSource dataSource, string table, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT c.relname FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid
            JOIN pg_class p ON p.oid = i.inhparent
            WHERE p.relname = $1 AND c.relkind = 'r'
            """);
        command.Parameters.AddWithValue(table);
        var days = new List<DateOnly>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var prefix = table + "_p";
        while (await reader.ReadAsync(cancellationToken))
        {
            var name = reader.GetString(0);
            if (name.StartsWith(prefix, StringComparison.Ordinal)
                && DateOnly.TryParseExact(name[prefix.Length..], "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
            {
                days.Add(day);
            }
        }
        days.Sort();
        return days;
    }

    /// <summary>Creates one day partition, moving that day's rows out of the DEFAULT partition. False if it already existed.</summary>
    public static async Task<bool> CreateAsync(NpgsqlDataSource dataSource, string table, DateOnly day, CancellationToken cancellationToken)
    {
        Require(table);
        var partition = PartitionName(table, day);
        var from = StartOf(day);
        var to = StartOf(day.AddDays(1));
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", connection, transaction))
        {
            command.Parameters.AddWithValue(AdvisoryLockKey);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        await using (var command = new NpgsqlCommand("SELECT to_regclass($1) IS NOT NULL", connection, transaction))
        {
            command.Parameters.AddWithValue(partition);
            if ((bool)(await command.ExecuteScalarAsync(cancellationToken))!)
            {
                return false;
            }
        }
        // Bounds are literals built from DateOnly (no user input); identifiers come from the fixed table list.
        var range = $"'{from:yyyy-MM-dd} 00:00:00+00'";
        var rangeEnd = $"'{to:yyyy-MM-dd} 00:00:00+00'";
        await using (var command = new NpgsqlCommand($"""
            CREATE TABLE {partition} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
            WITH moved AS (DELETE FROM {table}_default WHERE "timestamp" >= {range} AND "timestamp" < {rangeEnd} RETURNING *)
            INSERT INTO {partition} SELECT * FROM moved;
            ALTER TABLE {table} ATTACH PARTITION {partition} FOR VALUES FROM ({range}) TO ({rangeEnd});
            """, connection, transaction))
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>Drops one whole day partition (its rows go with it).</summary>
    public static async Task<bool> DropAsync(NpgsqlDataSource dataSource, string table, DateOnly day, CancellationToken cancellationToken)
    {
        Require(table);
        await using var command = dataSource.CreateCommand($"DROP TABLE IF EXISTS {PartitionName(table, day)}");
        await command.ExecuteNonQueryAsync(cancellationToken);
        return true;
    }

    private static void Require(string table)
    {
        if (!TelemetrySchema.PartitionedTables.Contains(table))
        {
            throw new ArgumentException($"{table} is not a partitioned telemetry table.", nameof(table));
        }
    }
}
