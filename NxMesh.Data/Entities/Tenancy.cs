namespace NxMesh.Data.Entities;

/// <summary>Stamped by <see cref="NxMeshDbContext"/> on save.</summary>
public interface ITimestamped
{
    DateTimeOffset CreatedAt { get; set; }
    DateTimeOffset UpdatedAt { get; set; }
}

public sealed class User : ITimestamped
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    /// <summary>Normalized to lower case.</summary>
    public required string Email { get; set; }
    public string? DisplayName { get; set; }
    public required string PasswordHash { get; set; }
    /// <summary>Set for users created with a one-time password; cleared by POST /auth/password.</summary>
    public bool MustChangePassword { get; set; }
    public bool IsDisabled { get; set; }
    public DateTimeOffset? LastLoginAt { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public List<Membership> Memberships { get; set; } = [];
}

public sealed class Organization : ITimestamped
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public required string Name { get; set; }
    public required string Slug { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public List<Membership> Memberships { get; set; } = [];
    public List<Workspace> Workspaces { get; set; } = [];
}

public sealed class Membership : ITimestamped
{
    public Guid OrganizationId { get; set; }
    public Organization? Organization { get; set; }
    public Guid UserId { get; set; }
    public User? User { get; set; }
    public OrganizationRole Role { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

public sealed class Workspace : ITimestamped
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid OrganizationId { get; set; }
    public Organization? Organization { get; set; }
    public required string Name { get; set; }
    public required string Slug { get; set; }
    public WorkspaceSettings Settings { get; set; } = new();
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>Per-workspace settings, stored as one jsonb document.</summary>
public sealed class WorkspaceSettings
{
    /// <summary>Allowlisted http-level nginx directives (spec GlobalSettings.nginx_directives).</summary>
    public Dictionary<string, string> NginxDirectives { get; set; } = [];
    public Dictionary<string, string> EnvVars { get; set; } = [];
    public int AccessLogRetentionDays { get; set; } = 7;
    public int MetricsRetentionDays { get; set; } = 30;
}

public sealed class RefreshToken
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid UserId { get; set; }
    public User? User { get; set; }
    /// <summary>All tokens rotated from one login share a family; reuse of a rotated one revokes it whole.</summary>
    public Guid FamilyId { get; set; }
    /// <summary>SHA-256 of the opaque token; the token itself is never stored.</summary>
    public required byte[] TokenHash { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }
    public DateTimeOffset? RotatedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
}

public sealed class AuditEntry
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid OrganizationId { get; set; }
    public Guid? WorkspaceId { get; set; }
    public Guid? ActorUserId { get; set; }
    public string? ActorEmail { get; set; }
    public required string Action { get; set; }
    public required string ResourceType { get; set; }
    public Guid? ResourceId { get; set; }
    /// <summary>JSON snapshots without secrets.</summary>
    public string? Before { get; set; }
    public string? After { get; set; }
    public string? RequestId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}
