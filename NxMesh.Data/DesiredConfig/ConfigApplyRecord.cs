using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using NxMesh.Data.Configurations;
using NxMesh.Data.Entities;

namespace NxMesh.Data.DesiredConfig;

/// <summary>One terminal outcome of a config apply on an agent (table config_apply_history).</summary>
public sealed class ConfigApplyRecord
{
    public long Id { get; set; }
    public Guid AgentId { get; set; }
    public Guid WorkspaceId { get; set; }
    public required string ConfigId { get; set; }
    public long Version { get; set; }
    public ConfigApplyStatus Status { get; set; }
    public string? ErrorMessage { get; set; }
    /// <summary>PENDING → terminal as measured by the agent (falls back to the hub's clock when PENDING was not seen).</summary>
    public long DurationMs { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset FinishedAt { get; set; }
    public DateTimeOffset RecordedAt { get; set; }
}

internal sealed class ConfigApplyRecordConfiguration : IEntityTypeConfiguration<ConfigApplyRecord>
{
    public void Configure(EntityTypeBuilder<ConfigApplyRecord> builder)
    {
        builder.ToTable("config_apply_history");
        builder.Property(r => r.ConfigId).HasMaxLength(64);
        builder.Property(r => r.Status).HasSnakeCaseConversion();
        builder.HasIndex(r => new { r.AgentId, r.RecordedAt }).IsDescending(false, true);
        builder.HasOne<Agent>().WithMany().HasForeignKey(r => r.AgentId).OnDelete(DeleteBehavior.Cascade);
    }
}
