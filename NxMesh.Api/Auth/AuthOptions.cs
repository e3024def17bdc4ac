namespace NxMesh.Api.Auth;

/// <summary>Section "Auth".</summary>
public sealed class AuthOptions
{
    public const string SectionName = "Auth";
    public const string Issuer = "nxmesh";
    public const string Audience = "nxmesh-api";

    /// <summary>The spec fixes <c>expires_in</c> at 3600.</summary>
    public int AccessTokenLifetimeSeconds { get; set; } = 3600;
    public int RefreshTokenLifetimeDays { get; set; } = 30;
    /// <summary>A new signing key is created when the newest is older than this; old ones keep validating.</summary>
    public int SigningKeyRotationDays { get; set; } = 30;
    /// <summary>Failed logins per email (and per client IP, ×5) within the window before 429.</summary>
    public int MaxFailedLogins { get; set; } = 10;
    public int FailedLoginWindowSeconds { get; set; } = 900;
    public int MinPasswordLength { get; set; } = 8;
}
