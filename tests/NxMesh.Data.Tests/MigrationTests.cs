using Microsoft.EntityFrameworkCore;
using Npgsql;
using NxMesh.Testing;
using Xunit;

namespace NxMesh.Data.Tests;

public sealed class ModelTests
{
    [Fact]
    public void Checked_in_migrations_match_the_model()
    {
        using var db = DesignTimeDbContextFactory.Create("Host=127.0.0.1;Database=unused");
        Assert.False(db.Database.HasPendingModelChanges(),
            "The EF model differs from the migrations: run `dotnet ef migrations add <Name>` in NxMesh.Data.");
    }

    [Fact]
    public void Every_table_and_column_is_snake_case()
    {
        using var db = DesignTimeDbContextFactory.Create("Host=127.0.0.1;Database=unused");
        foreach (var entity in db.Model.GetEntityTypes())
        {
            var table = entity.GetTableName()!;
            Assert.Matches("^[a-z][a-z0-9_]*$", table);
            var identifier = Microsoft.EntityFrameworkCore.Metadata.StoreObjectIdentifier.Table(table, entity.GetSchema());
            foreach (var property in entity.GetProperties())
            {
                Assert.Matches("^[a-z][a-z0-9_]*$", property.GetColumnName(identifier)!);
            }
        }
    }
}

[Collection(DatabaseCollection.Name)]
public sealed class MigratedDatabaseTests(DatabaseFixture database)
{
    [Fact]
    public async Task Migrations_create_the_spec_tables_and_the_quartz_job_store()
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", connection);
        var tables = new HashSet<string>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                tables.Add(reader.GetString(0));
            }
        }
        string[] expected =
        [
            "users", "organizations", "memberships", "workspaces", "agents", "registration_tokens", "agent_credentials",
            "virtual_hosts", "virtual_host_locations", "upstreams", "certificates", "outbox", "health_snapshots",
            "metric_samples", "access_log_entries", "audit_log", "refresh_tokens", "data_protection_keys",
            "qrtz_job_details", "qrtz_triggers", "qrtz_scheduler_state", "qrtz_locks", "qrtz_fired_triggers",
        ];
        Assert.All(expected, table => Assert.Contains(table, tables));
        await using var db = database.CreateDbContext();
        Assert.Empty(await db.Database.GetPendingMigrationsAsync());
    }

    [Fact]
    public async Task Labels_and_enums_round_trip_through_jsonb_and_snake_case_strings()
    {
        await database.ResetAsync();
        await using (var db = database.CreateDbContext())
        {
            var organization = new Entities.Organization { Name = "Acme", Slug = "acme" };
            var workspace = new Entities.Workspace { OrganizationId = organization.Id, Name = "Prod", Slug = "prod" };
            db.AddRange(organization, workspace, new Entities.Agent
            {
                WorkspaceId = workspace.Id,
                Name = "web-1",
                DeploymentMode = Entities.DeploymentMode.DockerSidecar,
                Labels = new() { ["env"] = "production", ["region"] = "us-east-1" },
                Capabilities = ["http2", "ssl"],
            });
            await db.SaveChangesAsync();
        }
        await using (var db = database.CreateDbContext())
        {
            var labels = new Dictionary<string, string> { ["env"] = "production", ["region"] = "us-east-1" };
            var agent = await db.Agents.SingleAsync(a => a.Labels == labels);
            Assert.Equal(Entities.DeploymentMode.DockerSidecar, agent.DeploymentMode);
            Assert.Equal(["http2", "ssl"], agent.Capabilities);
            Assert.Equal(TimeSpan.Zero, agent.CreatedAt.Offset);
            Assert.Equal(agent.CreatedAt, agent.UpdatedAt);
        }
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using var raw = new NpgsqlCommand("SELECT deployment_mode, state, labels->>'env' FROM agents", connection);
        await using var reader = await raw.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal("docker_sidecar", reader.GetString(0));
        Assert.Equal("offline", reader.GetString(1));
        Assert.Equal("production", reader.GetString(2));
    }

    [Fact]
    public async Task Workspace_slugs_are_unique_per_organization_only()
    {
        await database.ResetAsync();
        await using var db = database.CreateDbContext();
        var first = new Entities.Organization { Name = "A", Slug = "a" };
        var second = new Entities.Organization { Name = "B", Slug = "b" };
        db.AddRange(first, second,
            new Entities.Workspace { OrganizationId = first.Id, Name = "Prod", Slug = "prod" },
            new Entities.Workspace { OrganizationId = second.Id, Name = "Prod", Slug = "prod" });
        await db.SaveChangesAsync();
        db.Add(new Entities.Workspace { OrganizationId = first.Id, Name = "Prod again", Slug = "prod" });
        var error = await Assert.ThrowsAsync<DbUpdateException>(() => db.SaveChangesAsync());
        Assert.Equal(PostgresErrorCodes.UniqueViolation, Assert.IsType<PostgresException>(error.InnerException).SqlState);
    }
}
