namespace NxMesh.Data.Entities;

public sealed class Agent : ITimestamped
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid WorkspaceId { get; set; }
    public Workspace? Workspace { get; set; }
    public required string Name { get; set; }
    public string? Hostname { get; set; }
    public string? IpAddress { get; set; }
    public string? Version { get; set; }
    public AgentState State { get; set; } = AgentState.Offline;
    /// <summary>Incremented on every accepted connection; state changes are conditional on it (design.md).</summary>
    public long ConnectionEpoch { get; set; }
    public DateTimeOffset? LastSeenAt { get; set; }
    public List<string> Capabilities { get; set; } = [];
    public Dictionary<string, string> Labels { get; set; } = [];
    public DeploymentMode DeploymentMode { get; set; } = DeploymentMode.Unspecified;
    public string? DesiredConfigId { get; set; }
    public long DesiredConfigVersion { get; set; }
    public string? AppliedConfigId { get; set; }
    public long AppliedConfigVersion { get; set; }
    public ConfigApplyStatus LastApplyStatus { get; set; } = ConfigApplyStatus.Unspecified;
    public string? LastApplyError { get; set; }
    public DateTimeOffset? LastApplyAt { get; set; }
    public DateTimeOffset? EnrolledAt { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>A single-use enrollment token; only its SHA-256 is stored.</summary>
public sealed class RegistrationToken
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid WorkspaceId { get; set; }
    public Guid AgentId { get; set; }
    public Agent? Agent { get; set; }
    public required string Name { get; set; }
    public required byte[] TokenHash { get; set; }
    /// <summary>Labels given at token creation, merged into the agent's at enrollment.</summary>
    public Dictionary<string, string> Labels { get; set; } = [];
    public Guid? CreatedByUserId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }
    public DateTimeOffset? UsedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
}

/// <summary>The agent's long-lived secret (≥ 256 bits); only its SHA-256 is stored.</summary>
public sealed class AgentCredential
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid AgentId { get; set; }
    public Agent? Agent { get; set; }
    public required byte[] SecretHash { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? LastUsedAt { get; set; }
    /// <summary>
    /// The first call authenticated with this credential: proof that the agent stored it. Until then the
    /// registration token that issued it may be presented again (a lost enrollment response), which revokes it.
    /// </summary>
    public DateTimeOffset? FirstUsedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
}

/// <summary>The latest health reports of an agent (the Api shows the newest one).</summary>
public sealed class HealthSnapshot
{
    public long Id { get; set; }
    public Guid AgentId { get; set; }
    public Guid WorkspaceId { get; set; }
    public DateTimeOffset ReceivedAt { get; set; }
    public bool NginxRunning { get; set; }
    public long NginxPid { get; set; }
    public long NginxUptimeSeconds { get; set; }
    public long ActiveConnections { get; set; }
    public long TotalRequests { get; set; }
    public double RequestsPerSecond { get; set; }
    public double CpuPercent { get; set; }
    public long MemoryUsedBytes { get; set; }
    public long MemoryTotalBytes { get; set; }
    public long DiskUsedBytes { get; set; }
    public long DiskTotalBytes { get; set; }
    public double LoadAverage1m { get; set; }
    public string? ConfigChecksum { get; set; }
    public long ConfigVersion { get; set; }
}
