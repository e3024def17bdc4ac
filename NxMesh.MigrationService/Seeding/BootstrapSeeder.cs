using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using NxMesh.Data;
using NxMesh.Data.Entities;
using NxMesh.Data.Security;

namespace NxMesh.MigrationService.Seeding;

/// <summary>Idempotent: running it again changes nothing that exists.</summary>
internal sealed partial class BootstrapSeeder(IServiceProvider services, IOptions<BootstrapOptions> options, ILogger<BootstrapSeeder> logger)
{
    /// <summary>Seeded enrollment tokens stay valid for a year; the replicas keep their credentials after enrolling.</summary>
    private static readonly TimeSpan SeededTokenLifetime = TimeSpan.FromDays(365);

    public async Task SeedAsync(CancellationToken cancellationToken)
    {
        var bootstrap = options.Value;
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<NxMeshDbContext>();

        var admin = await SeedAdminAsync(db, bootstrap, cancellationToken);
        if (admin is null || string.IsNullOrWhiteSpace(bootstrap.OrganizationSlug) || string.IsNullOrWhiteSpace(bootstrap.WorkspaceSlug))
        {
            return;
        }
        var workspace = await SeedWorkspaceAsync(db, bootstrap, admin, cancellationToken);
        await SeedAgentsAsync(db, bootstrap, workspace, admin, cancellationToken);
    }

    private async Task<User?> SeedAdminAsync(NxMeshDbContext db, BootstrapOptions bootstrap, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(bootstrap.AdminEmail))
        {
            return null;
        }
        var email = bootstrap.AdminEmail.Trim().ToLowerInvariant();
        var existing = await db.Users.SingleOrDefaultAsync(u => u.Email == email, cancellationToken);
        if (existing is not null || await db.Users.AnyAsync(cancellationToken))
        {
            return existing;
        }
        if (string.IsNullOrEmpty(bootstrap.AdminPassword) || bootstrap.AdminPassword.Length < 8)
        {
            throw new InvalidOperationException("Bootstrap:AdminPassword must be at least 8 characters.");
        }
        var admin = new User { Email = email, PasswordHash = "", DisplayName = "Administrator" };
        admin.PasswordHash = new PasswordHasher<User>().HashPassword(admin, bootstrap.AdminPassword);
        db.Users.Add(admin);
        await db.SaveChangesAsync(cancellationToken);
        LogAdminSeeded(email);
        return admin;
    }

    private static async Task<Workspace> SeedWorkspaceAsync(NxMeshDbContext db, BootstrapOptions bootstrap, User admin, CancellationToken cancellationToken)
    {
        var organization = await db.Organizations.SingleOrDefaultAsync(o => o.Slug == bootstrap.OrganizationSlug, cancellationToken);
        if (organization is null)
        {
            organization = new Organization { Name = bootstrap.OrganizationName ?? bootstrap.OrganizationSlug!, Slug = bootstrap.OrganizationSlug! };
            organization.Memberships.Add(new Membership { UserId = admin.Id, Role = OrganizationRole.Owner });
            db.Organizations.Add(organization);
        }
        var workspace = await db.Workspaces.SingleOrDefaultAsync(w => w.OrganizationId == organization.Id && w.Slug == bootstrap.WorkspaceSlug, cancellationToken);
        if (workspace is null)
        {
            workspace = new Workspace { OrganizationId = organization.Id, Name = bootstrap.WorkspaceName ?? bootstrap.WorkspaceSlug!, Slug = bootstrap.WorkspaceSlug! };
            db.Workspaces.Add(workspace);
        }
        await db.SaveChangesAsync(cancellationToken);
        return workspace;
    }

    private async Task SeedAgentsAsync(NxMeshDbContext db, BootstrapOptions bootstrap, Workspace workspace, User admin, CancellationToken cancellationToken)
    {
        foreach (var seed in bootstrap.Agents.Where(a => !string.IsNullOrEmpty(a.Token)))
        {
            var hash = Secrets.Hash(seed.Token);
            if (await db.RegistrationTokens.AnyAsync(t => t.TokenHash == hash, cancellationToken))
            {
                continue;
            }
            var agent = new Agent { WorkspaceId = workspace.Id, Name = seed.Name, Labels = new(seed.Labels) };
            db.Agents.Add(agent);
            db.RegistrationTokens.Add(new RegistrationToken
            {
                WorkspaceId = workspace.Id,
                AgentId = agent.Id,
                Name = seed.Name,
                TokenHash = hash,
                Labels = new(seed.Labels),
                CreatedByUserId = admin.Id,
                CreatedAt = DateTimeOffset.UtcNow,
                ExpiresAt = DateTimeOffset.UtcNow + SeededTokenLifetime,
            });
            LogAgentSeeded(seed.Name);
        }
        await db.SaveChangesAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Seeded the bootstrap admin {Email}")]
    private partial void LogAdminSeeded(string email);

    [LoggerMessage(Level = LogLevel.Information, Message = "Seeded agent {Name} with an enrollment token")]
    private partial void LogAgentSeeded(string name);
}
