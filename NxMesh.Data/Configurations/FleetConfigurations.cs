using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using NxMesh.Data.Entities;

namespace NxMesh.Data.Configurations;

internal sealed class AgentConfiguration : IEntityTypeConfiguration<Agent>
{
    public void Configure(EntityTypeBuilder<Agent> builder)
    {
        builder.Property(a => a.Name).HasMaxLength(200);
        builder.Property(a => a.State).HasSnakeCaseConversion();
        builder.Property(a => a.DeploymentMode).HasSnakeCaseConversion();
        builder.Property(a => a.LastApplyStatus).HasSnakeCaseConversion();
        builder.Property(a => a.Labels).HasJsonConversion();
        builder.Property(a => a.Capabilities).HasColumnType("text[]");
        builder.Property(a => a.ConnectionEpoch).IsConcurrencyToken();
        builder.HasIndex(a => new { a.WorkspaceId, a.State });
        builder.HasIndex(a => new { a.WorkspaceId, a.Name });
        builder.HasIndex(a => a.Labels).HasMethod("gin");
        builder.HasIndex(a => new { a.State, a.LastSeenAt });
        builder.HasOne(a => a.Workspace).WithMany().HasForeignKey(a => a.WorkspaceId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class RegistrationTokenConfiguration : IEntityTypeConfiguration<RegistrationToken>
{
    public void Configure(EntityTypeBuilder<RegistrationToken> builder)
    {
        builder.Property(t => t.Name).HasMaxLength(200);
        builder.HasIndex(t => t.TokenHash).IsUnique();
        builder.HasIndex(t => new { t.WorkspaceId, t.CreatedAt });
        builder.Property(t => t.Labels).HasJsonConversion();
        builder.HasOne(t => t.Agent).WithMany().HasForeignKey(t => t.AgentId).OnDelete(DeleteBehavior.Cascade);
        builder.HasOne<Workspace>().WithMany().HasForeignKey(t => t.WorkspaceId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class AgentCredentialConfiguration : IEntityTypeConfiguration<AgentCredential>
{
    public void Configure(EntityTypeBuilder<AgentCredential> builder)
    {
        builder.HasIndex(c => c.AgentId);
        builder.HasOne(c => c.Agent).WithMany().HasForeignKey(c => c.AgentId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class HealthSnapshotConfiguration : IEntityTypeConfiguration<HealthSnapshot>
{
    public void Configure(EntityTypeBuilder<HealthSnapshot> builder)
    {
        builder.HasIndex(h => new { h.AgentId, h.ReceivedAt }).IsDescending(false, true);
        builder.HasOne<Agent>().WithMany().HasForeignKey(h => h.AgentId).OnDelete(DeleteBehavior.Cascade);
    }
}
