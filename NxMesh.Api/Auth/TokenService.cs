using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using NxMesh.Api.Platform;
using NxMesh.Data;
using NxMesh.Data.Entities;
using NxMesh.Data.Security;

namespace NxMesh.Api.Auth;

/// <summary>
/// Access tokens (RS256 JWT, 3600 s) and opaque refresh tokens (stored as SHA-256, rotated on every use; a rotated
/// one presented again revokes its whole family — RFC 9700 §4.14.2).
/// </summary>
public sealed class TokenService(NxMeshDbContext db, SigningKeyStore keys, IOptions<AuthOptions> options, TimeProvider time)
{
    private static readonly JsonWebTokenHandler Handler = new();

    public async Task<TokenResponse> IssueAsync(User user, Guid? familyId, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var now = time.GetUtcNow();
        var credentials = await keys.GetSigningCredentialsAsync(cancellationToken);
        var claims = new Dictionary<string, object>
        {
            [CurrentUser.SubjectClaim] = user.Id.ToString(),
            [CurrentUser.EmailClaim] = user.Email,
            [JwtRegisteredClaimNames.Jti] = Guid.NewGuid().ToString("N"),
        };
        if (user.MustChangePassword)
        {
            claims[CurrentUser.PasswordChangeClaim] = "true";
        }
        var accessToken = Handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = AuthOptions.Issuer,
            Audience = AuthOptions.Audience,
            Claims = claims,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = now.AddSeconds(settings.AccessTokenLifetimeSeconds).UtcDateTime,
            SigningCredentials = credentials,
        });
        var refreshToken = Secrets.NewSecret();
        db.RefreshTokens.Add(new RefreshToken
        {
            UserId = user.Id,
            FamilyId = familyId ?? Guid.CreateVersion7(),
            TokenHash = Secrets.Hash(refreshToken),
            CreatedAt = now,
            ExpiresAt = now.AddDays(settings.RefreshTokenLifetimeDays),
        });
        await db.SaveChangesAsync(cancellationToken);
        return new TokenResponse(accessToken, refreshToken, settings.AccessTokenLifetimeSeconds, "Bearer");
    }

    /// <summary>Rotates <paramref name="presented"/>; null when it is unknown, expired, revoked or reused.</summary>
    public async Task<TokenResponse?> RefreshAsync(string presented, CancellationToken cancellationToken)
    {
        var hash = Secrets.Hash(presented);
        var now = time.GetUtcNow();
        var token = await db.RefreshTokens.AsNoTracking().Include(t => t.User).SingleOrDefaultAsync(t => t.TokenHash == hash, cancellationToken);
        if (token is null || token.RevokedAt is not null || token.ExpiresAt <= now || token.User is null || token.User.IsDisabled)
        {
            return null;
        }
        // Conditional: of two concurrent uses only one rotates; the other is a reuse.
        var rotated = await db.RefreshTokens
            .Where(t => t.Id == token.Id && t.RotatedAt == null && t.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.RotatedAt, now), cancellationToken);
        if (rotated == 0)
        {
            await RevokeFamilyAsync(token.FamilyId, cancellationToken);
            return null;
        }
        return await IssueAsync(token.User, token.FamilyId, cancellationToken);
    }

    /// <summary>Revokes the family of <paramref name="presented"/>; false when the token is unknown.</summary>
    public async Task<bool> RevokeFamilyAsync(string presented, CancellationToken cancellationToken)
    {
        var hash = Secrets.Hash(presented);
        var familyId = await db.RefreshTokens.Where(t => t.TokenHash == hash).Select(t => (Guid?)t.FamilyId).SingleOrDefaultAsync(cancellationToken);
        if (familyId is null)
        {
            return false;
        }
        await RevokeFamilyAsync(familyId.Value, cancellationToken);
        return true;
    }

    public Task RevokeAllAsync(Guid userId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        return db.RefreshTokens.Where(t => t.UserId == userId && t.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.RevokedAt, now), cancellationToken);
    }

    private Task RevokeFamilyAsync(Guid familyId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        return db.RefreshTokens.Where(t => t.FamilyId == familyId && t.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.RevokedAt, now), cancellationToken);
    }
}

public sealed record TokenResponse(string AccessToken, string RefreshToken, int ExpiresIn, string TokenType);
