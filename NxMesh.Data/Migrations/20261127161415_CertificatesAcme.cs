using System;
using System.Collections.Generic;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace NxMesh.Data.Migrations
{
    /// <inheritdoc />
    public partial class CertificatesAcme : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "acme_accounts",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    directory_url = table.Column<string>(type: "character varying(2048)", maxLength: 2048, nullable: false),
                    key_protected = table.Column<string>(type: "text", nullable: false),
                    account_url = table.Column<string>(type: "text", nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_acme_accounts", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "acme_http_challenges",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    workspace_id = table.Column<Guid>(type: "uuid", nullable: false),
                    certificate_id = table.Column<Guid>(type: "uuid", nullable: false),
                    token = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    key_authorization = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    agent_ids = table.Column<List<Guid>>(type: "uuid[]", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_acme_http_challenges", x => x.id);
                    table.ForeignKey(
                        name: "fk_acme_http_challenges_certificates_certificate_id",
                        column: x => x.certificate_id,
                        principalTable: "certificates",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "fk_acme_http_challenges_workspaces_workspace_id",
                        column: x => x.workspace_id,
                        principalTable: "workspaces",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_acme_accounts_directory_url",
                table: "acme_accounts",
                column: "directory_url",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_acme_http_challenges_certificate_id",
                table: "acme_http_challenges",
                column: "certificate_id");

            migrationBuilder.CreateIndex(
                name: "ix_acme_http_challenges_token",
                table: "acme_http_challenges",
                column: "token",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_acme_http_challenges_workspace_id",
                table: "acme_http_challenges",
                column: "workspace_id");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "acme_accounts");

            migrationBuilder.DropTable(
                name: "acme_http_challenges");
        }
    }
}
