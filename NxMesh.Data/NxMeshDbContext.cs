using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using NxMesh.Data.Configurations;
using NxMesh.Data.Entities;

namespace NxMesh.Data;

public sealed class NxMeshDbContext(DbContextOptions<NxMeshDbContext> options) : DbContext(options), IDataProtectionKeyContext
{
    public DbSet<User> Users => Set<User>();
    public DbSet<Organization> Organizations => Set<Organization>();
    public DbSet<Membership> Memberships => Set<Membership>();
    public DbSet<Workspace> Workspaces => Set<Workspace>();
    public DbSet<RefreshToken> RefreshTokens => Set<RefreshToken>();
    public DbSet<AuditEntry> AuditLog => Set<AuditEntry>();
    public DbSet<SigningKey> SigningKeys => Set<SigningKey>();
    public DbSet<Agent> Agents => Set<Agent>();
    public DbSet<RegistrationToken> RegistrationTokens => Set<RegistrationToken>();
    public DbSet<AgentCredential> AgentCredentials => Set<AgentCredential>();
    public DbSet<HealthSnapshot> HealthSnapshots => Set<HealthSnapshot>();
    public DbSet<VirtualHost> VirtualHosts => Set<VirtualHost>();
    public DbSet<VirtualHostLocation> VirtualHostLocations => Set<VirtualHostLocation>();
    public DbSet<Upstream> Upstreams => Set<Upstream>();
    public DbSet<Certificate> Certificates => Set<Certificate>();
    public DbSet<AcmeAccount> AcmeAccounts => Set<AcmeAccount>();
    public DbSet<AcmeHttpChallenge> AcmeHttpChallenges => Set<AcmeHttpChallenge>();
    public DbSet<OutboxMessage> Outbox => Set<OutboxMessage>();
    public DbSet<DataProtectionKey> DataProtectionKeys { get; set; } = null!;

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(NxMeshDbContext).Assembly);
        // In the model itself (not in options) so pooled contexts, the tools and the tests share one schema.
        modelBuilder.UseSnakeCaseNames();
    }

    public override Task<int> SaveChangesAsync(bool acceptAllChangesOnSuccess, CancellationToken cancellationToken = default)
    {
        StampTimestamps();
        return base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken);
    }

    public override int SaveChanges(bool acceptAllChangesOnSuccess)
    {
        StampTimestamps();
        return base.SaveChanges(acceptAllChangesOnSuccess);
    }

    private void StampTimestamps()
    {
        var now = DateTimeOffset.UtcNow;
        foreach (var entry in ChangeTracker.Entries<ITimestamped>())
        {
            if (entry.State == EntityState.Added)
            {
                if (entry.Entity.CreatedAt == default)
                {
                    entry.Entity.CreatedAt = now;
                }
                entry.Entity.UpdatedAt = entry.Entity.CreatedAt;
            }
            else if (entry.State == EntityState.Modified)
            {
                entry.Entity.UpdatedAt = now;
            }
        }
    }
}
