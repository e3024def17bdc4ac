using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace NxMesh.Data.Migrations
{
    /// <summary>Indexes for the filtered access-log queries (raw SQL like the tables, see TelemetrySchema.QueryIndexes).</summary>
    [DbContext(typeof(NxMeshDbContext))]
    [Migration("20261127190000_TelemetryQueryIndexes")]
    public partial class TelemetryQueryIndexes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql(NxMesh.Data.Telemetry.TelemetrySchema.QueryIndexes);

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql(NxMesh.Data.Telemetry.TelemetrySchema.DropQueryIndexes);
    }
}
