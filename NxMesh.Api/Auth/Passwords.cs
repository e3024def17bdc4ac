using Microsoft.AspNetCore.Identity;
using NxMesh.Data.Entities;
using NxMesh.Data.Security;

namespace NxMesh.Api.Auth;

/// <summary>ASP.NET Core Identity's PBKDF2 hasher; an unknown email is checked against a dummy hash at equal cost.</summary>
public sealed class Passwords
{
    private readonly PasswordHasher<User> _hasher = new();
    private readonly string _dummyHash;

    public Passwords() => _dummyHash = _hasher.HashPassword(new User { Email = "", PasswordHash = "" }, Secrets.NewSecret());

    public string Hash(User user, string password) => _hasher.HashPassword(user, password);

    /// <summary>Verifies <paramref name="password"/>; with no user it spends the same hashing time and fails.</summary>
    public bool Verify(User? user, string password)
    {
        if (user is null)
        {
            _hasher.VerifyHashedPassword(new User { Email = "", PasswordHash = "" }, _dummyHash, password);
            return false;
        }
        return _hasher.VerifyHashedPassword(user, user.PasswordHash, password) != PasswordVerificationResult.Failed;
    }

    /// <summary>A one-time password for a user added by email: 20 characters, about 119 bits.</summary>
    public static string OneTimePassword() => Secrets.NewSecret()[..20];
}
