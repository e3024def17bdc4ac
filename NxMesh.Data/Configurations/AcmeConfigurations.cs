using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using NxMesh.Data.Entities;

namespace NxMesh.Data.Configurations;

internal sealed class AcmeAccountConfiguration : IEntityTypeConfiguration<AcmeAccount>
{
    public void Configure(EntityTypeBuilder<AcmeAccount> builder)
    {
        builder.Property(a => a.DirectoryUrl).HasMaxLength(2048);
        builder.HasIndex(a => a.DirectoryUrl).IsUnique();
    }
}

internal sealed class AcmeHttpChallengeConfiguration : IEntityTypeConfiguration<AcmeHttpChallenge>
{
    public void Configure(EntityTypeBuilder<AcmeHttpChallenge> builder)
    {
        builder.Property(c => c.Token).HasMaxLength(128);
        builder.Property(c => c.KeyAuthorization).HasMaxLength(256);
        builder.HasIndex(c => c.WorkspaceId);
        builder.HasIndex(c => c.Token).IsUnique();
        builder.HasOne<Workspace>().WithMany().HasForeignKey(c => c.WorkspaceId).OnDelete(DeleteBehavior.Cascade);
        builder.HasOne<Certificate>().WithMany().HasForeignKey(c => c.CertificateId).OnDelete(DeleteBehavior.Cascade);
    }
}
