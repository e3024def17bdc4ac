namespace NxMesh.Data.Entities;

/// <summary>
/// An RS256 key for the Api's access tokens, shared by every Api instance. The private key is protected with
/// Data Protection; the public key is stored in the clear so validation never needs the key ring.
/// </summary>
public sealed class SigningKey
{
    /// <summary>The JWT <c>kid</c>.</summary>
    public required string Id { get; set; }
    public required string PublicKeyPem { get; set; }
    public required string PrivateKeyProtected { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>No longer used for signing after this instant.</summary>
    public DateTimeOffset SignUntil { get; set; }
    /// <summary>Tokens it signed are accepted until this instant (SignUntil + the access-token lifetime).</summary>
    public DateTimeOffset ValidUntil { get; set; }
}
