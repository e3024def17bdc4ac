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
        var valid = await db.AgentCredentials.AnyAsync(
            c => c.AgentId == agentId && c.SecretHash == hash && c.RevokedAt == null, cancellationToken);
        return valid ? agentId : throw Unauthenticated("The agent credential is not valid (unknown agent, wrong or revoked credential).");
    }

    /// <summary>Binds the token's pre-created agent, marks the token used and issues a credential, in one transaction.</summary>
    public async Task<Enrollment> EnrollAsync(string token, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var hash = Secrets.Hash(token);
        var found = await db.RegistrationTokens.AsNoTracking().FirstOrDefaultAsync(t => t.TokenHash == hash, cancellationToken);
        var refusal = found switch
        {
            null => "Unknown registration token.",
            { RevokedAt: not null } => "The registration token has been revoked.",
            { UsedAt: not null } => "The registration token has already been used.",
            _ when found.ExpiresAt <= now => "The registration token has expired.",
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
            // Conditional: of two concurrent enrollments with one token, exactly one wins.
            var claimed = await db.RegistrationTokens
                .Where(t => t.Id == found!.Id && t.UsedAt == null && t.RevokedAt == null && t.ExpiresAt > now)
                .ExecuteUpdateAsync(s => s.SetProperty(t => t.UsedAt, now), cancellationToken);
            if (claimed == 0)
            {
                return new Enrollment(false, Guid.Empty, null, [], "The registration token has already been used.");
            }
            var agentExists = await db.Agents.Where(a => a.Id == found!.AgentId)
                .ExecuteUpdateAsync(s => s.SetProperty(a => a.EnrolledAt, now), cancellationToken);
            if (agentExists == 0)
            {
                return new Enrollment(false, Guid.Empty, null, [], "The agent of this registration token no longer exists.");
            }
            var credential = Secrets.NewSecret(CredentialPrefix);
            db.AgentCredentials.Add(new AgentCredential { AgentId = found!.AgentId, SecretHash = Secrets.Hash(credential), CreatedAt = now });
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return new Enrollment(true, found.AgentId, credential, found.Labels, null);
        });
    }

    public static RpcException Unauthenticated(string message) => new(new Status(StatusCode.Unauthenticated, message));
}
