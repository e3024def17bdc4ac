using Microsoft.Extensions.Configuration;
using Npgsql;

namespace NxMesh.Data.Telemetry;

/// <summary>A plain Npgsql data source on the <c>nxmesh</c> connection string (its own pool) for COPY and partition DDL.</summary>
public sealed class TelemetryDataSource(IConfiguration configuration) : IDisposable
{
    private readonly Lazy<NpgsqlDataSource> _dataSource = new(() => NpgsqlDataSource.Create(
        configuration.GetConnectionString(ConnectionNames.Database)
            ?? throw new InvalidOperationException($"ConnectionStrings:{ConnectionNames.Database} is not set.")));

    public NpgsqlDataSource DataSource => _dataSource.Value;

    public void Dispose()
    {
        if (_dataSource.IsValueCreated)
        {
            _dataSource.Value.Dispose();
        }
    }
}
