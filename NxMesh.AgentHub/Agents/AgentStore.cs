using Microsoft.EntityFrameworkCore;
using NxMesh.Data;
using NxMesh.Data.Entities;
using Proto = NxMesh.Protocol.V1;

namespace NxMesh.AgentHub.Agents;

internal sealed record ConnectedAgent(Guid AgentId, Guid WorkspaceId, long Epoch, string? Hostname, string? IpAddress);

/// <summary>The agent row as the fleet path keeps it live, every change conditional on the connection epoch.</summary>
internal sealed class AgentStore(NxMeshDbContext db, TimeProvider time)
{
    private const int MaxAttempts = 5;

    /// <summary>
    /// Accepts a connection: bumps the epoch (the concurrency token, so concurrent connects serialize), marks the
    /// agent online and records what it reported. Labels: those the agent reports, overridden by the labels already
    /// on the record (set by operators through the API), overridden at enrollment by the token's labels.
    /// Null when the agent no longer exists.
    /// </summary>
    public async Task<ConnectedAgent?> ConnectAsync(Guid agentId, Proto.RegistrationRequest registration, string? peerAddress,
        IReadOnlyDictionary<string, string>? tokenLabels, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            db.ChangeTracker.Clear();
            var agent = await db.Agents.FirstOrDefaultAsync(a => a.Id == agentId, cancellationToken);
            if (agent is null)
            {
                return null;
            }
            var now = time.GetUtcNow();
            agent.Hostname = NullIfEmpty(registration.Hostname) ?? agent.Hostname;
            agent.IpAddress = NullIfEmpty(registration.IpAddress) ?? peerAddress ?? agent.IpAddress;
            agent.Version = NullIfEmpty(registration.Version) ?? agent.Version;
            agent.Capabilities = [.. registration.Capabilities.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
            agent.Labels = MergeLabels(registration.Labels, agent.Labels, tokenLabels);
            agent.DeploymentMode = registration.DeploymentMode switch
            {
                Proto.DeploymentMode.DockerSidecar => DeploymentMode.DockerSidecar,
                Proto.DeploymentMode.KubernetesSidecar => DeploymentMode.KubernetesSidecar,
                Proto.DeploymentMode.Standalone => DeploymentMode.Standalone,
                _ => agent.DeploymentMode,
            };
            agent.State = AgentState.Online;
            agent.LastSeenAt = now;
            agent.EnrolledAt ??= now;
            agent.ConnectionEpoch++;
            try
            {
                await db.SaveChangesAsync(cancellationToken);
                await db.AgentCredentials.Where(c => c.AgentId == agentId && c.RevokedAt == null)
                    .ExecuteUpdateAsync(s => s.SetProperty(c => c.LastUsedAt, now), cancellationToken);
                return new ConnectedAgent(agent.Id, agent.WorkspaceId, agent.ConnectionEpoch, agent.Hostname, agent.IpAddress);
            }
            catch (DbUpdateConcurrencyException) when (attempt < MaxAttempts)
            {
                // Another connection of this agent won the epoch in between: take the next one.
            }
        }
    }

    public static Dictionary<string, string> MergeLabels(IDictionary<string, string> reported,
        IReadOnlyDictionary<string, string> stored, IReadOnlyDictionary<string, string>? tokenLabels)
    {
        var merged = new Dictionary<string, string>(reported, StringComparer.Ordinal);
        foreach (var (key, value) in stored)
        {
            merged[key] = value;
        }
        foreach (var (key, value) in tokenLabels ?? new Dictionary<string, string>())
        {
            merged[key] = value;
        }
        return merged;
    }

    public async Task<Guid?> WorkspaceOfAsync(Guid agentId, CancellationToken cancellationToken) =>
        await db.Agents.Where(a => a.Id == agentId).Select(a => (Guid?)a.WorkspaceId).FirstOrDefaultAsync(cancellationToken);

    public static bool IsTerminal(Proto.ConfigApplyStatus status) =>
        status is Proto.ConfigApplyStatus.Success or Proto.ConfigApplyStatus.Failed or Proto.ConfigApplyStatus.RolledBack;

    public static ConfigApplyStatus ToEntity(Proto.ConfigApplyStatus status) => status switch
    {
        Proto.ConfigApplyStatus.Pending => ConfigApplyStatus.Pending,
        Proto.ConfigApplyStatus.Validating => ConfigApplyStatus.Validating,
        Proto.ConfigApplyStatus.Applying => ConfigApplyStatus.Applying,
        Proto.ConfigApplyStatus.Success => ConfigApplyStatus.Success,
        Proto.ConfigApplyStatus.Failed => ConfigApplyStatus.Failed,
        Proto.ConfigApplyStatus.RolledBack => ConfigApplyStatus.RolledBack,
        _ => ConfigApplyStatus.Unspecified,
    };

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
