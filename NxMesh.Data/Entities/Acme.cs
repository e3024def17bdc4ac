namespace NxMesh.Data.Entities;

/// <summary>The ACME account of one directory URL: its ES256 key (PKCS#8 PEM, protected with Data Protection) and URL.</summary>
public sealed class AcmeAccount
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public required string DirectoryUrl { get; set; }
    public required string KeyProtected { get; set; }
    public string? AccountUrl { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>
/// A pending HTTP-01 challenge: part of the desired config of the agents that answer it (<see cref="AgentIds"/>)
/// until the certificates job removes it. The key authorization is public by design (the ACME server fetches it).
/// </summary>
public sealed class AcmeHttpChallenge
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid WorkspaceId { get; set; }
    public Guid CertificateId { get; set; }
    public required string Token { get; set; }
    public required string KeyAuthorization { get; set; }
    public List<Guid> AgentIds { get; set; } = [];
    public DateTimeOffset CreatedAt { get; set; }
}
