using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace NxMesh.Data.Migrations
{
    /// <summary>The per-workspace agent-set generation and its triggers (raw SQL, outside the EF model; see AgentSetGenerations).</summary>
    [DbContext(typeof(NxMeshDbContext))]
    [Migration("20261128011500_AgentSetGenerations")]
    public partial class AgentSetGenerations : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql(NxMesh.Data.Labels.AgentSetGenerations.Create);

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql(NxMesh.Data.Labels.AgentSetGenerations.Drop);
    }
}
