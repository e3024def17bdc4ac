using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace NxMesh.Data.Migrations
{
    /// <summary>agent_credentials.first_used_at: a used registration token may be presented again until then (README, Identity).</summary>
    public partial class AgentCredentialFirstUsed : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "first_used_at",
                table: "agent_credentials",
                type: "timestamp with time zone",
                nullable: true);

            // Credentials issued before this column existed count as used: their tokens stay "already used", as before.
            migrationBuilder.Sql("UPDATE agent_credentials SET first_used_at = COALESCE(last_used_at, created_at);");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "first_used_at",
                table: "agent_credentials");
        }
    }
}
