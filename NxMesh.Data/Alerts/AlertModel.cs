using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using NxMesh.Data.Entities;

namespace NxMesh.Data.Alerts;

/// <summary>
/// A workspace's override of one default alert rule (table alert_rules). Metrics without a row use
/// the defaults of <see cref="AlertMetrics"/>, so every workspace starts with the defaults and no seeding is needed.
/// </summary>
public sealed class AlertRule
{
    public Guid WorkspaceId { get; set; }
    public required string Metric { get; set; }
    /// <summary>Null for <see cref="AlertMetrics.NginxDown"/>, which has no threshold.</summary>
    public double? Threshold { get; set; }
    public required string Severity { get; set; }
    public bool Enabled { get; set; } = true;
    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>
/// One alert of one agent (table agent_alerts). At most one open row per (agent, metric): a partial unique
/// index makes "fire once" a conditional INSERT and "resolve once" a conditional UPDATE, safe across AgentHubs.
/// </summary>
public sealed class AgentAlert
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid AgentId { get; set; }
    public Guid WorkspaceId { get; set; }
    public required string Metric { get; set; }
    public required string Severity { get; set; }
    public required string Message { get; set; }
    public double Value { get; set; }
    public double? Threshold { get; set; }
    public DateTimeOffset OpenedAt { get; set; }
    public DateTimeOffset? ResolvedAt { get; set; }
    public double? ResolvedValue { get; set; }
}

internal sealed class AlertRuleConfiguration : IEntityTypeConfiguration<AlertRule>
{
    public void Configure(EntityTypeBuilder<AlertRule> builder)
    {
        builder.ToTable("alert_rules");
        builder.HasKey(r => new { r.WorkspaceId, r.Metric });
        builder.Property(r => r.Metric).HasMaxLength(64);
        builder.Property(r => r.Severity).HasMaxLength(16);
        builder.HasOne<Workspace>().WithMany().HasForeignKey(r => r.WorkspaceId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class AgentAlertConfiguration : IEntityTypeConfiguration<AgentAlert>
{
    public void Configure(EntityTypeBuilder<AgentAlert> builder)
    {
        builder.ToTable("agent_alerts");
        builder.Property(a => a.Metric).HasMaxLength(64);
        builder.Property(a => a.Severity).HasMaxLength(16);
        builder.HasIndex(a => new { a.AgentId, a.Metric }).IsUnique().HasFilter("resolved_at IS NULL")
            .HasDatabaseName("ix_agent_alerts_open");
        builder.HasIndex(a => new { a.WorkspaceId, a.OpenedAt });
        builder.HasOne<Agent>().WithMany().HasForeignKey(a => a.AgentId).OnDelete(DeleteBehavior.Cascade);
    }
}
