using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using NxMesh.Data.Entities;

namespace NxMesh.Api.Tests;

/// <summary>An organization with one workspace, created through the API by its owner.</summary>
public sealed record Tenant(HttpClient Owner, Guid UserId, Guid OrganizationId, Guid WorkspaceId);

internal static class Tenants
{
    public static async Task<Tenant> CreateAsync(ApiFixture api, string name)
    {
        var (user, owner) = await api.NewUserAsync($"owner@{name}.example.com");
        var org = await (await owner.PostAsJsonAsync("/v1/organizations", new { name, slug = name })).JsonAsync(HttpStatusCode.Created);
        var organizationId = org.GetProperty("id").GetGuid();
        var ws = await (await owner.PostAsJsonAsync($"/v1/organizations/{organizationId}/workspaces", new { name = "Production", slug = "production" }))
            .JsonAsync(HttpStatusCode.Created);
        return new Tenant(owner, user.Id, organizationId, ws.GetProperty("id").GetGuid());
    }

    /// <summary>A user with <paramref name="role"/> in the tenant's organization, logged in.</summary>
    public static async Task<HttpClient> MemberAsync(ApiFixture api, Tenant tenant, string role)
    {
        var email = $"{role}-{Guid.NewGuid():N}@example.com";
        await api.CreateUserAsync(email);
        await (await tenant.Owner.PostAsJsonAsync($"/v1/organizations/{tenant.OrganizationId}/members", new { email, role })).JsonAsync(HttpStatusCode.Created);
        return await api.LoginAsync(email);
    }

    /// <summary>An enrolled, reporting agent written straight to the database (AgentHub's part).</summary>
    public static async Task<Agent> SeedAgentAsync(ApiFixture api, Guid workspaceId, string name, Dictionary<string, string> labels,
        AgentState state = AgentState.Online, bool withHealth = true)
    {
        await using var db = api.Database.CreateDbContext();
        var agent = new Agent
        {
            WorkspaceId = workspaceId,
            Name = name,
            Hostname = name + ".internal",
            IpAddress = "10.0.1.10",
            Version = "0.1.0",
            State = state,
            DeploymentMode = DeploymentMode.DockerSidecar,
            LastSeenAt = DateTimeOffset.UtcNow,
            Capabilities = ["http2", "websocket"],
            Labels = labels,
            EnrolledAt = DateTimeOffset.UtcNow,
        };
        db.Agents.Add(agent);
        if (withHealth)
        {
            db.HealthSnapshots.Add(new HealthSnapshot
            {
                AgentId = agent.Id,
                WorkspaceId = workspaceId,
                ReceivedAt = DateTimeOffset.UtcNow,
                NginxRunning = true,
                NginxPid = 42,
                NginxUptimeSeconds = 86400,
                ActiveConnections = 42,
                RequestsPerSecond = 150.5,
                CpuPercent = 25.0,
                MemoryUsedBytes = 512L * 1024 * 1024,
                ConfigVersion = 42,
            });
        }
        await db.SaveChangesAsync();
        return agent;
    }

    public static Guid Id(this JsonElement element) => element.GetProperty("id").GetGuid();
}
