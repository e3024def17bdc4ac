using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using NxMesh.Data;
using NxMesh.Data.Entities;
using NxMesh.Data.Security;

namespace NxMesh.AgentHub.Agents;

/// <summary>The outcome of an enrollment: either the bound agent and its new credential, or why not.</summary>
internal sealed record Enrollment(bool Success, Guid AgentId, string? Credential, Dictionary<string, string> TokenLabels, string? Error);

/// <summary>Agent identity (design.md "Identity"): enrollment by registration token, then a bearer credential.</summary>
internal sealed class AgentAuthenticator(NxMeshDbContext db, TimeProvider time)
{
    public const string AgentIdHeader = "x-nxmesh-agent-id";
    public const string CredentialPrefix = "nxmesh_cred_";
    private const string AlreadyUsed = "The registration token has already been used.";
    private const string InvalidCredential = "The agent credential is not valid (unknown agent, wrong or revoked credential).";

    /// <summary>
    /// Null when the call carries no identity metadata at all (only an enrollment may do that). Otherwise the
    /// authenticated agent id, or UNAUTHENTICATED for a malformed, unknown, wrong or revoked credential.
    /// </summary>
    public async Task<Guid?> AuthenticateAsync(Metadata headers, CancellationToken cancellationToken)
    {
        var idText = headers.GetValue(AgentIdHeader);
        var authorization = headers.GetValue("authorization");
        if (idText is null && authorization is null)
        {
            return null;
        }
        if (!Guid.TryParse(idText, out var agentId)
            || authorization is null
            || !authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            throw Unauthenticated("Send both x-nxmesh-agent-id and authorization: Bearer <agent_credential>.");
        }
        var hash = Secrets.Hash(authorization["Bearer ".Length..].Trim());
        var credential = await db.AgentCredentials
            .Where(c => c.AgentId == agentId && c.SecretHash == hash && c.RevokedAt == null)
            .Select(c => new { c.Id, c.FirstUsedAt })
            .FirstOrDefaultAsync(cancellationToken)
            ?? throw Unauthenticated(InvalidCredential);
        if (credential.FirstUsedAt is null)
        {
            // The first use proves the agent stored the credential: from now on its token is "already used". Conditional
            // on not revoked, so a re-presented token that revoked it meanwhile wins and this call is refused.
            var now = time.GetUtcNow();
            var stillValid = await db.AgentCredentials.Where(c => c.Id == credential.Id && c.RevokedAt == null)
                .ExecuteUpdateAsync(s => s.SetProperty(c => c.FirstUsedAt, c => c.FirstUsedAt ?? now), cancellationToken);
            if (stillValid == 0)
            {
                throw Unauthenticated(InvalidCredential);
            }
        }
        return agentId;
    }

    /// <summary>
    /// The agent showed, on the stream it enrolled on, that it stored <paramref name="credential"/>: the credential
    /// counts as used, so its token can no longer be re-presented. False when it was revoked meanwhile (the token was
    /// re-presented first).
    /// </summary>
    public async Task<bool> ConfirmStoredAsync(Guid agentId, string credential, CancellationToken cancellationToken)
    {
        var hash = Secrets.Hash(credential);
        var now = time.GetUtcNow();
        return await db.AgentCredentials.Where(c => c.AgentId == agentId && c.SecretHash == hash && c.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(c => c.FirstUsedAt, c => c.FirstUsedAt ?? now), cancellationToken) == 1;
    }

    /// <summary>
    /// Binds the token's pre-created agent, marks the token used and issues a credential, in one transaction. A used
    /// token may be presented again while the credential it issued has never been used (the enrollment response was
    /// lost): that revokes the outstanding credential and issues a fresh one for the same agent.
    /// </summary>
    public async Task<Enrollment> EnrollAsync(string token, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var hash = Secrets.Hash(token);
        var found = await db.RegistrationTokens.AsNoTracking().FirstOrDefaultAsync(t => t.TokenHash == hash, cancellationToken);
        var refusal = found switch
        {
            null => "Unknown registration token.",
            { RevokedAt: not null } => "The registration token has been revoked.",
            _ when found.ExpiresAt <= now => found.UsedAt is null ? "The registration token has expired." : AlreadyUsed,
            _ => null,
        };
        if (refusal is not null)
        {
            return new Enrollment(false, Guid.Empty, null, [], refusal);
        }
        // The retrying execution strategy (Aspire's default) runs the whole transaction as one retriable unit.
        var strategy = db.Database.CreateExecutionStrategy();
        return await strategy.ExecuteAsync(async () =>
        {
            db.ChangeTracker.Clear();
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            if (found!.UsedAt is null)
            {
                // Conditional: of two concurrent first enrollments with one token, exactly one wins.
                var claimed = await db.RegistrationTokens
                    .Where(t => t.Id == found.Id && t.UsedAt == null && t.RevokedAt == null && t.ExpiresAt > now)
                    .ExecuteUpdateAsync(s => s.SetProperty(t => t.UsedAt, now), cancellationToken);
                if (claimed == 0)
                {
                    return new Enrollment(false, Guid.Empty, null, [], AlreadyUsed);
                }
            }
            else
            {
                // Re-presented: the no-op update locks the token row, so concurrent re-presentations run one after the other.
                var locked = await db.RegistrationTokens
                    .Where(t => t.Id == found.Id && t.RevokedAt == null && t.ExpiresAt > now)
                    .ExecuteUpdateAsync(s => s.SetProperty(t => t.UsedAt, t => t.UsedAt), cancellationToken);
                // Revoke the outstanding, never used credential. A concurrent first use either committed before (then
                // nothing is revoked here) or waits for this row and then finds it revoked (UNAUTHENTICATED).
                var revoked = locked == 0 ? 0 : await db.AgentCredentials
                    .Where(c => c.AgentId == found.AgentId && c.RevokedAt == null && c.FirstUsedAt == null)
                    .ExecuteUpdateAsync(s => s.SetProperty(c => c.RevokedAt, now), cancellationToken);
                if (revoked == 0 || await db.AgentCredentials.AnyAsync(c => c.AgentId == found.AgentId && c.FirstUsedAt != null, cancellationToken))
                {
                    // Nothing rolled back matters: the transaction is disposed without a commit.
                    return new Enrollment(false, Guid.Empty, null, [], AlreadyUsed);
                }
            }
            var agentExists = await db.Agents.Where(a => a.Id == found.AgentId)
                .ExecuteUpdateAsync(s => s.SetProperty(a => a.EnrolledAt, now), cancellationToken);
            if (agentExists == 0)
            {
                return new Enrollment(false, Guid.Empty, null, [], "The agent of this registration token no longer exists.");
            }
            var credential = Secrets.NewSecret(CredentialPrefix);
            db.AgentCredentials.Add(new AgentCredential { AgentId = found.AgentId, SecretHash = Secrets.Hash(credential), CreatedAt = now });
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return new Enrollment(true, found.AgentId, credential, found.Labels, null);
        });
    }

    public static RpcException Unauthenticated(string message) => new(new Status(StatusCode.Unauthenticated, message));
}
