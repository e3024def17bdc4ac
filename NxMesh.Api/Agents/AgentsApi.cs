using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using NxMesh.Api.Platform;
using NxMesh.Data;
using NxMesh.Data.Entities;
using NxMesh.Data.Configurations;
using NxMesh.Data.Labels;
using NxMesh.Nginx.Validation;

namespace NxMesh.Api.Agents;

public sealed record AgentResponse(
    Guid Id, Guid WorkspaceId, string Name, string? Hostname, string? IpAddress, string? Version, AgentState State,
    DeploymentMode DeploymentMode, DateTimeOffset? LastSeenAt, IReadOnlyList<string> Capabilities,
    IReadOnlyDictionary<string, string> Labels, DateTimeOffset CreatedAt)
{
    public static AgentResponse From(Agent a) => new(a.Id, a.WorkspaceId, a.Name, a.Hostname, a.IpAddress, a.Version, a.State,
        a.DeploymentMode, a.LastSeenAt, a.Capabilities, a.Labels, a.CreatedAt);
}

/// <summary>
/// GET /agents/{id}: the list item plus <c>health</c> (null until the agent's first health report) and <c>config</c>
/// (desired vs applied config_id/version, in_sync, the last apply's status and error).
/// </summary>
public sealed record AgentDetailResponse(
    Guid Id, Guid WorkspaceId, string Name, string? Hostname, string? IpAddress, string? Version, AgentState State,
    DeploymentMode DeploymentMode, DateTimeOffset? LastSeenAt, IReadOnlyList<string> Capabilities,
    IReadOnlyDictionary<string, string> Labels, AgentHealth? Health, AgentConfigState Config, DateTimeOffset CreatedAt);

public sealed record AgentHealth(
    string NginxStatus, long NginxUptimeSeconds, long ActiveConnections, double RequestsPerSecond, double CpuPercent,
    long MemoryUsedMb, long ConfigVersion, DateTimeOffset ReportedAt);

public sealed record UpdateAgentRequest(string? Name, Dictionary<string, string?>? Labels);

public sealed record ReloadResponse(bool Success, string Message, DateTimeOffset Timestamp);

public readonly record struct AgentListFilter(
    [property: FromQuery(Name = "state")] string? State,
    [property: FromQuery(Name = "label_selector")] string? LabelSelector);

public static class AgentsApi
{
    public const string ResourceType = "agent";

    public static IEndpointRouteBuilder MapAgentsApi(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/workspaces/{workspace_id:guid}/agents", ListAsync).WithTags("Agents").WithName("ListAgents")
            .WithSummary("Agents of a workspace (viewer); state = online|offline|degraded|all, label_selector in Kubernetes syntax");

        var byId = routes.MapGroup("/agents").WithTags("Agents");
        byId.MapGet("/{agent_id:guid}", GetAsync).WithName("GetAgent").WithSummary("An agent with its latest health and its desired vs applied config (viewer)");
        byId.MapPatch("/{agent_id:guid}", UpdateAsync).WithName("UpdateAgent").WithSummary("Rename an agent or replace its labels (editor)");
        byId.MapDelete("/{agent_id:guid}", DeleteAsync).WithName("DeleteAgent").WithSummary("Delete an agent and revoke its credentials (admin)");
        byId.MapPost("/{agent_id:guid}/reload", ReloadAsync).WithName("ReloadAgent")
            .WithSummary("Reload the agent's nginx (editor); 503 SERVICE_UNAVAILABLE when the agent cannot be reached")
            .ProducesErrors(503);
        routes.MapAgentCommandsApi();
        routes.MapAgentConfigApi();
        return routes;
    }

    private static async Task<Ok<Paged<AgentResponse>>> ListAsync([FromRoute(Name = "workspace_id")] Guid workspaceId, [AsParameters] PageQuery page,
        [AsParameters] AgentListFilter filter, NxMeshDbContext db, AgentCountCache counts, AgentListDataSource walks, CurrentUser user, CancellationToken cancellationToken)
    {
        var v = new Validator();
        var paging = page.Resolve(v);
        AgentState? state = null;
        if (filter.State is not null && filter.State != "all")
        {
            if (EnumNames.TryParse<AgentState>(filter.State, out var parsed))
            {
                state = parsed;
            }
            else
            {
                v.Add("state", ValidationCodes.InvalidFormat, "state must be one of online, offline, degraded, all");
            }
        }
        if (!LabelSelector.TryParse(filter.LabelSelector, out var selector, out var selectorError))
        {
            v.Add("label_selector", ValidationCodes.InvalidFormat, selectorError);
        }
        v.ThrowIfInvalid();
        // The selector becomes SQL over the jsonb labels (same results as LabelSelector.Matches, which AgentHub uses
        // for targets); access, count and page are one statement (AgentListQuery): 10,000 agents are never loaded.
        return TypedResults.Ok(await AgentListQuery.RunAsync(db, counts, walks, workspaceId, user.Id, OrganizationRole.Viewer, selector, state, paging, cancellationToken));
    }

    private static async Task<Ok<AgentDetailResponse>> GetAsync([FromRoute(Name = "agent_id")] Guid agentId, NxMeshDbContext db, TenantAccess access, CancellationToken cancellationToken)
    {
        var (agent, _, _) = await access.WorkspaceResourceAsync(db.Agents.AsNoTracking(), agentId, a => a.WorkspaceId, OrganizationRole.Viewer, "Agent", cancellationToken);
        var snapshot = await db.HealthSnapshots.AsNoTracking().Where(h => h.AgentId == agentId).OrderByDescending(h => h.ReceivedAt).FirstOrDefaultAsync(cancellationToken);
        return TypedResults.Ok(Detail(agent, snapshot));
    }

    private static async Task<Ok<AgentResponse>> UpdateAsync([FromRoute(Name = "agent_id")] Guid agentId, UpdateAgentRequest request,
        NxMeshDbContext db, TenantAccess access, AuditTrail audit, CancellationToken cancellationToken)
    {
        var (agent, workspaceId, scope) = await access.WorkspaceResourceAsync(db.Agents, agentId, a => a.WorkspaceId, OrganizationRole.Editor, "Agent", cancellationToken);
        var v = new Validator();
        v.Name("name", request.Name, required: false);
        v.Labels("labels", request.Labels);
        v.ThrowIfInvalid();
        var before = AgentResponse.From(agent);
        if (request.Name is not null)
        {
            agent.Name = request.Name.Trim();
        }
        var labelsChanged = false;
        if (request.Labels is not null)
        {
            var labels = request.Labels.ToDictionary(l => l.Key, l => l.Value!, StringComparer.Ordinal);
            labelsChanged = labels.Count != agent.Labels.Count || labels.Any(l => !agent.Labels.TryGetValue(l.Key, out var old) || old != l.Value);
            agent.Labels = labels;
        }
        var after = AgentResponse.From(agent);
        audit.Record(scope.OrganizationId, workspaceId, "update", ResourceType, agentId, before, after);
        if (labelsChanged)
        {
            // Labels decide which virtual hosts target the agent.
            audit.ConfigChanged(workspaceId, ResourceType, agentId, "update");
        }
        await db.SaveChangesAsync(cancellationToken);
        // SaveChanges stamps updated_at: answer what a GET will show.
        return TypedResults.Ok(AgentResponse.From(agent));
    }

    private static async Task<NoContent> DeleteAsync([FromRoute(Name = "agent_id")] Guid agentId, NxMeshDbContext db, TenantAccess access, AuditTrail audit, CancellationToken cancellationToken)
    {
        var (agent, workspaceId, scope) = await access.WorkspaceResourceAsync(db.Agents, agentId, a => a.WorkspaceId, OrganizationRole.Admin, "Agent", cancellationToken);
        audit.Record(scope.OrganizationId, workspaceId, "delete", ResourceType, agentId, AgentResponse.From(agent), null);
        // Credentials, registration tokens and health snapshots go with the row (cascade): the credential stops
        // authenticating at once, and AgentHub closes the live stream on the outbox message.
        audit.Outbox(AuditTrail.AgentDeleted, workspaceId, new { agent_id = agentId, workspace_id = workspaceId });
        db.Agents.Remove(agent);
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.NoContent();
    }

    private static async Task<Ok<ReloadResponse>> ReloadAsync([FromRoute(Name = "agent_id")] Guid agentId, NxMeshDbContext db, TenantAccess access,
        IAgentCommands commands, CancellationToken cancellationToken)
    {
        var (agent, _, _) = await access.WorkspaceResourceAsync(db.Agents.AsNoTracking(), agentId, a => a.WorkspaceId, OrganizationRole.Editor, "Agent", cancellationToken);
        var result = await commands.ReloadAsync(agent, cancellationToken);
        return TypedResults.Ok(result);
    }

    private static AgentDetailResponse Detail(Agent a, HealthSnapshot? h) => new(a.Id, a.WorkspaceId, a.Name, a.Hostname, a.IpAddress, a.Version, a.State,
        a.DeploymentMode, a.LastSeenAt, a.Capabilities, a.Labels, h is null ? null : Health(a, h), AgentConfigState.From(a), a.CreatedAt);

    /// <summary>An offline agent's last report says nothing about nginx now: <c>unknown</c>.</summary>
    private static AgentHealth Health(Agent a, HealthSnapshot h) => new(
        a.State == AgentState.Offline ? "unknown" : h.NginxRunning ? "running" : "stopped",
        h.NginxUptimeSeconds, h.ActiveConnections, h.RequestsPerSecond, h.CpuPercent, h.MemoryUsedBytes / (1024 * 1024), h.ConfigVersion, h.ReceivedAt);
}
