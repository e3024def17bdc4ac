using NxMesh.Data.Entities;
using NxMesh.Data.Security;
using NxMesh.Testing;

namespace NxMesh.AgentHub.Tests;

/// <summary>Rows the Api would have written: an organization, a workspace, agents with tokens or credentials.</summary>
public static class Seed
{
    public static async Task<Guid> WorkspaceAsync(DatabaseFixture database, WorkspaceSettings? settings = null)
    {
        await using var db = database.CreateDbContext();
        var organization = new Organization { Name = "Acme", Slug = "acme-" + Guid.NewGuid().ToString("N")[..6] };
        var workspace = new Workspace { OrganizationId = organization.Id, Name = "Prod", Slug = "prod", Settings = settings ?? new WorkspaceSettings() };
        db.AddRange(organization, workspace);
        await db.SaveChangesAsync();
        return workspace.Id;
    }

    public static async Task<(Guid AgentId, string Token)> AgentWithTokenAsync(DatabaseFixture database, Guid workspaceId,
        Dictionary<string, string>? tokenLabels = null, TimeSpan? expiresIn = null, bool used = false, bool revoked = false)
    {
        await using var db = database.CreateDbContext();
        var agent = new Agent { WorkspaceId = workspaceId, Name = "web-" + Guid.NewGuid().ToString("N")[..6] };
        var token = Secrets.NewSecret(Secrets.RegistrationTokenPrefix);
        var now = DateTimeOffset.UtcNow;
        db.Add(agent);
        db.Add(new RegistrationToken
        {
            WorkspaceId = workspaceId,
            AgentId = agent.Id,
            Name = agent.Name,
            TokenHash = Secrets.Hash(token),
            Labels = tokenLabels ?? [],
            CreatedAt = now,
            ExpiresAt = now + (expiresIn ?? TimeSpan.FromHours(1)),
            UsedAt = used ? now : null,
            RevokedAt = revoked ? now : null,
        });
        await db.SaveChangesAsync();
        return (agent.Id, token);
    }

    /// <summary>An agent that enrolled earlier: it has a credential.</summary>
    public static async Task<(Guid AgentId, string Credential)> EnrolledAgentAsync(DatabaseFixture database, Guid workspaceId,
        Dictionary<string, string>? labels = null)
    {
        await using var db = database.CreateDbContext();
        var agent = new Agent { WorkspaceId = workspaceId, Name = "web-" + Guid.NewGuid().ToString("N")[..6], Labels = labels ?? [], EnrolledAt = DateTimeOffset.UtcNow };
        var credential = Secrets.NewSecret("nxmesh_cred_");
        db.Add(agent);
        db.Add(new AgentCredential { AgentId = agent.Id, SecretHash = Secrets.Hash(credential), CreatedAt = DateTimeOffset.UtcNow });
        await db.SaveChangesAsync();
        return (agent.Id, credential);
    }

    public static async Task<VirtualHost> VirtualHostAsync(DatabaseFixture database, Guid workspaceId, string serverName,
        TargetAgents? target = null, Guid? upstreamId = null, string? customValue = null)
    {
        await using var db = database.CreateDbContext();
        var vhost = new VirtualHost
        {
            WorkspaceId = workspaceId,
            Name = serverName,
            ServerName = serverName,
            TargetAgents = target ?? new TargetAgents(),
            Locations =
            [
                new VirtualHostLocation { Path = "/", Position = 0, UpstreamId = upstreamId, ProxyPass = upstreamId is null ? "http://127.0.0.1:9000" : null },
            ],
        };
        if (customValue is not null)
        {
            vhost.CustomDirectives["add_header"] = customValue;
        }
        db.Add(vhost);
        await db.SaveChangesAsync();
        return vhost;
    }

    /// <summary>What the Api writes in the same transaction as a change.</summary>
    public static async Task OutboxAsync(DatabaseFixture database, Guid workspaceId, string type = "workspace.config_changed", string payload = "{}")
    {
        await using var db = database.CreateDbContext();
        db.Outbox.Add(new OutboxMessage { Type = type, WorkspaceId = workspaceId, Payload = payload, CreatedAt = DateTimeOffset.UtcNow });
        await db.SaveChangesAsync();
    }
}
