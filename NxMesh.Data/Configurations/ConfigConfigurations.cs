using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using NxMesh.Data.Entities;

namespace NxMesh.Data.Configurations;

internal sealed class VirtualHostConfiguration : IEntityTypeConfiguration<VirtualHost>
{
    public void Configure(EntityTypeBuilder<VirtualHost> builder)
    {
        builder.Property(v => v.Name).HasMaxLength(200);
        builder.Property(v => v.ServerName).HasMaxLength(2048);
        builder.Property(v => v.CustomDirectives).HasJsonConversion();
        builder.Property(v => v.TargetAgents).HasJsonConversion();
        builder.HasIndex(v => new { v.WorkspaceId, v.CreatedAt });
        builder.HasIndex(v => new { v.WorkspaceId, v.ListenPort });
        builder.HasOne<Workspace>().WithMany().HasForeignKey(v => v.WorkspaceId).OnDelete(DeleteBehavior.Cascade);
        // A certificate in use cannot be deleted (409 naming the referrers).
        builder.HasOne(v => v.SslCertificate).WithMany().HasForeignKey(v => v.SslCertificateId).OnDelete(DeleteBehavior.Restrict);
        builder.HasMany(v => v.Locations).WithOne().HasForeignKey(l => l.VirtualHostId).OnDelete(DeleteBehavior.Cascade);
        builder.Navigation(v => v.Locations).AutoInclude();
        // Whether the virtual host waits for its certificate is part of every answer about it.
        builder.Navigation(v => v.SslCertificate).AutoInclude();
    }
}

internal sealed class VirtualHostLocationConfiguration : IEntityTypeConfiguration<VirtualHostLocation>
{
    public void Configure(EntityTypeBuilder<VirtualHostLocation> builder)
    {
        builder.ToTable("virtual_host_locations");
        builder.HasIndex(l => new { l.VirtualHostId, l.Position }).IsUnique();
        builder.HasIndex(l => l.UpstreamId);
        builder.Property(l => l.Path).HasMaxLength(1024);
        builder.Property(l => l.CustomHeaders).HasJsonConversion();
        builder.Property(l => l.RewriteRules).HasJsonConversion();
        builder.Property(l => l.CustomDirectives).HasJsonConversion();
        // An upstream in use cannot be deleted (409 naming the referrers).
        builder.HasOne(l => l.Upstream).WithMany().HasForeignKey(l => l.UpstreamId).OnDelete(DeleteBehavior.Restrict);
    }
}

internal sealed class UpstreamConfiguration : IEntityTypeConfiguration<Upstream>
{
    public void Configure(EntityTypeBuilder<Upstream> builder)
    {
        builder.Property(u => u.Name).HasMaxLength(200);
        builder.HasIndex(u => new { u.WorkspaceId, u.Name }).IsUnique();
        builder.Property(u => u.Algorithm).HasSnakeCaseConversion();
        builder.Property(u => u.Servers).HasJsonConversion();
        builder.Property(u => u.HealthCheck).HasJsonConversion();
        builder.HasOne<Workspace>().WithMany().HasForeignKey(u => u.WorkspaceId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class CertificateConfiguration : IEntityTypeConfiguration<Certificate>
{
    public void Configure(EntityTypeBuilder<Certificate> builder)
    {
        builder.Property(c => c.Domain).HasMaxLength(253);
        builder.Property(c => c.Provider).HasSnakeCaseConversion();
        builder.Property(c => c.Status).HasSnakeCaseConversion();
        builder.HasIndex(c => new { c.WorkspaceId, c.Domain });
        builder.HasIndex(c => new { c.Status, c.ExpiresAt });
        builder.HasOne<Workspace>().WithMany().HasForeignKey(c => c.WorkspaceId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class OutboxMessageConfiguration : IEntityTypeConfiguration<OutboxMessage>
{
    public void Configure(EntityTypeBuilder<OutboxMessage> builder)
    {
        builder.ToTable("outbox");
        builder.Property(o => o.Type).HasMaxLength(64);
        builder.Property(o => o.Payload).HasColumnType("jsonb");
        // The relay scans only what is still unsent.
        builder.HasIndex(o => o.Id).HasFilter("processed_at IS NULL").HasDatabaseName("ix_outbox_unprocessed");
    }
}
