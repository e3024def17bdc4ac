using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace NxMesh.Data.Migrations
{
    /// <summary>
    /// The agent filter's index gains workspace_id as its first key (raw SQL like the tables): every access-log query
    /// also filters on the workspace, which (agent_id, timestamp) could only check on the heap — the capped count read
    /// up to 10,001 rows from the table where it now counts index entries alone.
    /// </summary>
    [DbContext(typeof(NxMeshDbContext))]
    [Migration("20261128014000_AccessLogWorkspaceAgentIndex")]
    public partial class AccessLogWorkspaceAgentIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql("""
                DROP INDEX IF EXISTS ix_access_log_entries_agent_time;
                CREATE INDEX ix_access_log_entries_workspace_agent_time ON access_log_entries (workspace_id, agent_id, "timestamp" DESC);
                """);

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql("""
                DROP INDEX IF EXISTS ix_access_log_entries_workspace_agent_time;
                CREATE INDEX ix_access_log_entries_agent_time ON access_log_entries (agent_id, "timestamp" DESC);
                """);
    }
}
