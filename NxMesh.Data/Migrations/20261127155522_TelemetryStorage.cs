using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace NxMesh.Data.Migrations
{
    /// <inheritdoc />
    public partial class TelemetryStorage : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "access_log_entries");

            migrationBuilder.DropTable(
                name: "metric_samples");

            // Declarative partitioning is beyond EF: the telemetry tables are raw SQL (see TelemetrySchema).
            migrationBuilder.Sql(NxMesh.Data.Telemetry.TelemetrySchema.Create);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(NxMesh.Data.Telemetry.TelemetrySchema.Drop);

            migrationBuilder.CreateTable(
                name: "access_log_entries",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    agent_id = table.Column<Guid>(type: "uuid", nullable: false),
                    batch_id = table.Column<Guid>(type: "uuid", nullable: false),
                    body_bytes_sent = table.Column<long>(type: "bigint", nullable: false),
                    bytes_sent = table.Column<long>(type: "bigint", nullable: false),
                    host = table.Column<string>(type: "text", nullable: true),
                    method = table.Column<string>(type: "text", nullable: true),
                    protocol = table.Column<string>(type: "text", nullable: true),
                    referer = table.Column<string>(type: "text", nullable: true),
                    remote_addr = table.Column<string>(type: "text", nullable: true),
                    request_id = table.Column<string>(type: "text", nullable: true),
                    request_length = table.Column<long>(type: "bigint", nullable: false),
                    response_time_ms = table.Column<double>(type: "double precision", nullable: false),
                    status = table.Column<int>(type: "integer", nullable: false),
                    timestamp = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    upstream_time_ms = table.Column<double>(type: "double precision", nullable: true),
                    uri = table.Column<string>(type: "text", nullable: true),
                    user_agent = table.Column<string>(type: "text", nullable: true),
                    virtual_host_id = table.Column<Guid>(type: "uuid", nullable: true),
                    workspace_id = table.Column<Guid>(type: "uuid", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_access_log_entries", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "metric_samples",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    agent_id = table.Column<Guid>(type: "uuid", nullable: false),
                    batch_id = table.Column<Guid>(type: "uuid", nullable: false),
                    labels = table.Column<string>(type: "jsonb", nullable: false),
                    name = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    timestamp = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    type = table.Column<int>(type: "integer", nullable: false),
                    value = table.Column<double>(type: "double precision", nullable: false),
                    workspace_id = table.Column<Guid>(type: "uuid", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_metric_samples", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_access_log_entries_agent_id_timestamp",
                table: "access_log_entries",
                columns: new[] { "agent_id", "timestamp" });

            migrationBuilder.CreateIndex(
                name: "ix_access_log_entries_workspace_id_status_timestamp",
                table: "access_log_entries",
                columns: new[] { "workspace_id", "status", "timestamp" });

            migrationBuilder.CreateIndex(
                name: "ix_access_log_entries_workspace_id_timestamp",
                table: "access_log_entries",
                columns: new[] { "workspace_id", "timestamp" });

            migrationBuilder.CreateIndex(
                name: "ix_metric_samples_agent_id_name_timestamp",
                table: "metric_samples",
                columns: new[] { "agent_id", "name", "timestamp" });

            migrationBuilder.CreateIndex(
                name: "ix_metric_samples_workspace_id_timestamp",
                table: "metric_samples",
                columns: new[] { "workspace_id", "timestamp" });
        }
    }
}
