namespace NxMesh.MigrationService.Seeding;

/// <summary>Section "Bootstrap": what a fresh installation starts with.</summary>
public sealed class BootstrapOptions
{
    public const string SectionName = "Bootstrap";

    /// <summary>The first admin, created only while no user exists.</summary>
    public string? AdminEmail { get; set; }
    public string? AdminPassword { get; set; }

    /// <summary>Local development: an organization (owned by the admin) and workspace for the replicas.</summary>
    public string? OrganizationName { get; set; }
    public string? OrganizationSlug { get; set; }
    public string? WorkspaceName { get; set; }
    public string? WorkspaceSlug { get; set; }

    /// <summary>Local development: pre-created agents with their enrollment tokens (stored hashed).</summary>
    public List<BootstrapAgent> Agents { get; set; } = [];
}

public sealed class BootstrapAgent
{
    public string Name { get; set; } = "";
    public string Token { get; set; } = "";
    public Dictionary<string, string> Labels { get; set; } = [];
}
