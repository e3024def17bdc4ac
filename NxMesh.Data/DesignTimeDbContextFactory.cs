using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace NxMesh.Data;

/// <summary>For `dotnet ef migrations add`: builds the model without touching a database.</summary>
public sealed class DesignTimeDbContextFactory : IDesignTimeDbContextFactory<NxMeshDbContext>
{
    public NxMeshDbContext CreateDbContext(string[] args) => Create("Host=127.0.0.1;Database=nxmesh");

    public static NxMeshDbContext Create(string connectionString) =>
        new(new DbContextOptionsBuilder<NxMeshDbContext>().UseNpgsql(connectionString).Options);
}
