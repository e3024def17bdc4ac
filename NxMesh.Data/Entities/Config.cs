namespace NxMesh.Data.Entities;

public sealed class VirtualHost : ITimestamped
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid WorkspaceId { get; set; }
    public required string Name { get; set; }
    /// <summary>Space-separated names, as nginx's server_name takes them.</summary>
    public required string ServerName { get; set; }
    public int ListenPort { get; set; } = 80;
    public bool SslEnabled { get; set; }
    public Guid? SslCertificateId { get; set; }
    public Certificate? SslCertificate { get; set; }
    public bool Http2Enabled { get; set; }
    public bool Http3Enabled { get; set; }
    public Dictionary<string, string> CustomDirectives { get; set; } = [];
    public TargetAgents TargetAgents { get; set; } = new();
    /// <summary>Ordered by <see cref="VirtualHostLocation.Position"/>.</summary>
    public List<VirtualHostLocation> Locations { get; set; } = [];
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

public sealed class TargetAgents
{
    public TargetAgentsType Type { get; set; } = TargetAgentsType.All;
    public string? LabelSelector { get; set; }
    public List<Guid> AgentIds { get; set; } = [];
}

public sealed class VirtualHostLocation
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid VirtualHostId { get; set; }
    public int Position { get; set; }
    public required string Path { get; set; }
    public string? ProxyPass { get; set; }
    public Guid? UpstreamId { get; set; }
    public Upstream? Upstream { get; set; }
    public string? Root { get; set; }
    public string? Index { get; set; }
    public List<HeaderSpec> CustomHeaders { get; set; } = [];
    public List<RewriteRuleSpec> RewriteRules { get; set; } = [];
    public Dictionary<string, string> CustomDirectives { get; set; } = [];
}

public sealed class HeaderSpec
{
    public required string Name { get; set; }
    public required string Value { get; set; }
    public bool Always { get; set; }
}

public sealed class RewriteRuleSpec
{
    public required string Pattern { get; set; }
    public required string Replacement { get; set; }
    public string? Flag { get; set; }
}

public sealed class Upstream : ITimestamped
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid WorkspaceId { get; set; }
    public required string Name { get; set; }
    public LoadBalanceAlgorithm Algorithm { get; set; } = LoadBalanceAlgorithm.RoundRobin;
    public List<UpstreamServerSpec> Servers { get; set; } = [];
    public HealthCheckSpec? HealthCheck { get; set; }
    public int KeepaliveConnections { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

public sealed class UpstreamServerSpec
{
    public required string Address { get; set; }
    public int Weight { get; set; } = 1;
    public bool Backup { get; set; }
    public bool Down { get; set; }
    public int MaxFails { get; set; } = 1;
    public int FailTimeout { get; set; } = 10;
}

public sealed class HealthCheckSpec
{
    public bool Enabled { get; set; }
    public string Path { get; set; } = "/";
    public int Interval { get; set; } = 10;
    public int Timeout { get; set; } = 5;
    public int HealthyThreshold { get; set; } = 2;
    public int UnhealthyThreshold { get; set; } = 3;
}

public sealed class Certificate : ITimestamped
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid WorkspaceId { get; set; }
    public required string Domain { get; set; }
    public bool IsWildcard { get; set; }
    public CertificateProvider Provider { get; set; }
    public CertificateStatus Status { get; set; } = CertificateStatus.Pending;
    public string? CertificatePem { get; set; }
    /// <summary>The PEM private key, protected with Data Protection; never returned by the API.</summary>
    public string? PrivateKeyProtected { get; set; }
    public DateTimeOffset? IssuedAt { get; set; }
    public DateTimeOffset? ExpiresAt { get; set; }
    public bool AutoRenew { get; set; } = true;
    public string? LastError { get; set; }
    public int FailedAttempts { get; set; }
    public DateTimeOffset? NextAttemptAt { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>Written in the same transaction as the change it announces, relayed to Redis after commit.</summary>
public sealed class OutboxMessage
{
    public long Id { get; set; }
    public required string Type { get; set; }
    public Guid? WorkspaceId { get; set; }
    public required string Payload { get; set; }
    /// <summary>W3C traceparent of the request that wrote it.</summary>
    public string? TraceParent { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? ProcessedAt { get; set; }
}
