using Microsoft.EntityFrameworkCore;
using Npgsql;
using NxMesh.AppHost.Local;
using NxMesh.Data;
using Xunit;

namespace NxMesh.Testing;

/// <summary>
/// A throwaway Postgres and Redis on random loopback ports, started once per test collection, migrated once;
/// <see cref="ResetAsync"/> empties every table between tests. Both servers are stopped by their PIDs.
/// </summary>
public sealed class DatabaseFixture : IAsyncLifetime
{
    private const string PostgresBin = "/usr/lib/postgresql/15/bin";
    private readonly string _root = Path.Combine(Path.GetTempPath(), "nxmesh-test-" + Guid.NewGuid().ToString("N")[..12]);
    private ServerProcess? _postgres;
    private ServerProcess? _redis;

    public string ConnectionString { get; private set; } = "";
    public string RedisConnectionString { get; private set; } = "";

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_root);
        File.SetUnixFileMode(_root, (UnixFileMode)0b111_101_101);
        var password = LocalDataDirectory.RandomBase64(18).Replace('/', '_').Replace('+', '-');
        var data = Path.Combine(_root, "pgdata");
        var socket = Path.Combine(_root, "pgsocket");
        LocalPostgres.EnsureInitialized(PostgresBin, data, socket, password);
        var port = LocalDataDirectory.FreeTcpPort();
        var (command, arguments) = LocalPostgres.ServerCommand(PostgresBin, data, socket, port);
        _postgres = ServerProcess.Start(command, arguments);
        ConnectionString = $"Host=127.0.0.1;Port={port};Username=postgres;Password={password};Database=nxmesh_test;Include Error Detail=true";

        var redisPort = LocalDataDirectory.FreeTcpPort();
        _redis = ServerProcess.Start("redis-server", "--port", $"{redisPort}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", _root);
        RedisConnectionString = $"127.0.0.1:{redisPort}";

        var server = new NpgsqlConnectionStringBuilder(ConnectionString) { Database = "postgres" }.ConnectionString;
        await Wait.UntilAsync(async () =>
        {
            await using var connection = new NpgsqlConnection(server);
            await connection.OpenAsync();
            return true;
        }, TimeSpan.FromSeconds(60), "postgres to accept connections");
        await using var db = CreateDbContext();
        await db.Database.MigrateAsync();
    }

    public NxMeshDbContext CreateDbContext() => DesignTimeDbContextFactory.Create(ConnectionString);

    /// <summary>Every row of <paramref name="sql"/> as its column values (DBNull for NULL), for asserting raw storage.</summary>
    public async Task<List<object?[]>> QueryAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<object?[]>();
        while (await reader.ReadAsync())
        {
            var row = new object?[reader.FieldCount];
            reader.GetValues(row!);
            rows.Add(row);
        }
        return rows;
    }

    /// <summary>Empties every application table (the migrations history stays).</summary>
    public async Task ResetAsync()
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            DO $$ DECLARE tables text;
            BEGIN
              SELECT string_agg(format('%I', tablename), ', ') INTO tables FROM pg_tables
              WHERE schemaname = 'public' AND tablename <> '__EFMigrationsHistory';
              EXECUTE 'TRUNCATE ' || tables || ' RESTART IDENTITY CASCADE';
            END $$;
            """, connection);
        await command.ExecuteNonQueryAsync();
    }

    public async Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
        if (_postgres is not null)
        {
            // Through runuser as root: TERM is forwarded to the postmaster.
            await _postgres.DisposeAsync();
        }
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
