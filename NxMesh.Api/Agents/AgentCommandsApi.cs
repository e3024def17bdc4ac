using System.Text.Json.Serialization;
using Google.Protobuf;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Microsoft.EntityFrameworkCore;
using NxMesh.Api.Platform;
using NxMesh.Data;
using NxMesh.Data.DesiredConfig;
using NxMesh.Data.Entities;
using NxMesh.Nginx.Validation;
using NxMesh.Protocol.V1;
using Agent = NxMesh.Data.Entities.Agent;

namespace NxMesh.Api.Agents;

/// <summary>Body of POST /agents/{id}/restart; absent = graceful restart.</summary>
public sealed record RestartAgentRequest(bool? Force);

/// <summary>Body of POST /agents/{id}/stop; absent = graceful stop with the agent's own timeout.</summary>
public sealed record StopAgentRequest(bool? Graceful, int? TimeoutSeconds);

/// <summary>The agent's answer to restart or stop.</summary>
public sealed record AgentCommandResponse(bool Success, string Message, DateTimeOffset Timestamp);

/// <summary>The agent's answer to get_status: <c>status</c> is the live health report (the spec's health block and a little more).</summary>
public sealed record AgentStatusResponse(bool Success, string Message, AgentLiveStatus? Status, DateTimeOffset Timestamp);

public sealed record AgentLiveStatus(
    string NginxStatus, long NginxUptimeSeconds, long ActiveConnections, double RequestsPerSecond, double CpuPercent,
    long MemoryUsedMb, long ConfigVersion, string ConfigChecksum, long TotalRequests, [property: JsonPropertyName("load_average_1m")] double LoadAverage1m,
    IReadOnlyList<AgentAlert> Alerts);

public sealed record AgentAlert(string Id, string Severity, string Message, DateTimeOffset Timestamp);

/// <summary>The agent's answer to validate_config: <c>output</c> is nginx's own text from <c>nginx -t</c>.</summary>
public sealed record ValidateConfigResponse(bool Success, string Message, string Output, string ConfigId, long Version, DateTimeOffset Timestamp);

/// <summary>
/// Commands beyond reload (design.md "Security basics": editor reloads, admin restarts, stops and validates;
/// any member reads the live status). They travel like reload (<see cref="IAgentCommands"/>): not connected or
/// no answer in time → 503 SERVICE_UNAVAILABLE saying which.
/// </summary>
public static class AgentCommandsApi
{
    public const int MaxStopTimeoutSeconds = 300;

    public static IEndpointRouteBuilder MapAgentCommandsApi(this IEndpointRouteBuilder routes)
    {
        var byId = routes.MapGroup("/agents/{agent_id:guid}").WithTags("Agents").ProducesErrors(StatusCodes.Status503ServiceUnavailable);
        byId.MapPost("/restart", RestartAsync).WithName("RestartAgent")
            .WithSummary("Restart the agent's nginx (admin); body {force?}: force stops at once instead of gracefully; 503 when the agent cannot be reached");
        byId.MapPost("/stop", StopAsync).WithName("StopAgent")
            .WithSummary("Stop the agent's nginx until a restart (admin); body {graceful?, timeout_seconds? 1-300}; 503 when the agent cannot be reached");
        byId.MapGet("/status", StatusAsync).WithName("GetAgentStatus")
            .WithSummary("Ask the agent for a live health report (viewer); status has the shape of the agent's health block; 503 when the agent cannot be reached");
        byId.MapPost("/validate-config", ValidateAsync).WithName("ValidateAgentConfig")
            .WithSummary("Have the agent check its current desired config with nginx -t in a scratch prefix, applying nothing (admin); output is nginx's text; 503 when the agent cannot be reached");
        return routes;
    }

    private static async Task<Ok<AgentCommandResponse>> RestartAsync([FromRoute(Name = "agent_id")] Guid agentId,
        [FromBody(EmptyBodyBehavior = EmptyBodyBehavior.Allow)] RestartAgentRequest? request,
        NxMeshDbContext db, TenantAccess access, AuditTrail audit, IAgentCommands commands, TimeProvider time, CancellationToken cancellationToken)
    {
        var (agent, workspaceId, scope) = await access.WorkspaceResourceAsync(db.Agents.AsNoTracking(), agentId, a => a.WorkspaceId, OrganizationRole.Admin, "Agent", cancellationToken);
        var force = request?.Force ?? false;
        var result = await commands.SendAsync(agent, new Command { Restart = new RestartCommand { Force = force } }, TimeSpan.Zero, cancellationToken);
        var response = new AgentCommandResponse(result.Success, Message(result, "nginx restarted", "nginx restart failed"), CompletedAt(result, time));
        await RecordAsync(db, audit, scope, workspaceId, agent, "restart", new { force }, response, cancellationToken);
        return TypedResults.Ok(response);
    }

    private static async Task<Ok<AgentCommandResponse>> StopAsync([FromRoute(Name = "agent_id")] Guid agentId,
        [FromBody(EmptyBodyBehavior = EmptyBodyBehavior.Allow)] StopAgentRequest? request,
        NxMeshDbContext db, TenantAccess access, AuditTrail audit, IAgentCommands commands, TimeProvider time, CancellationToken cancellationToken)
    {
        var v = new Validator();
        if (request?.TimeoutSeconds is { } seconds && (seconds < 1 || seconds > MaxStopTimeoutSeconds))
        {
            v.Add("timeout_seconds", ValidationCodes.OutOfRange, $"timeout_seconds must be between 1 and {MaxStopTimeoutSeconds}");
        }
        v.ThrowIfInvalid();
        var (agent, workspaceId, scope) = await access.WorkspaceResourceAsync(db.Agents.AsNoTracking(), agentId, a => a.WorkspaceId, OrganizationRole.Admin, "Agent", cancellationToken);
        var graceful = request?.Graceful ?? true;
        var timeout = request?.TimeoutSeconds ?? 0;
        var command = new Command { Stop = new StopCommand { Graceful = graceful, TimeoutSeconds = (uint)timeout } };
        // The agent answers only after nginx is down: its own timeout comes on top of the usual wait.
        var result = await commands.SendAsync(agent, command, TimeSpan.FromSeconds(timeout), cancellationToken);
        var response = new AgentCommandResponse(result.Success, Message(result, "nginx stopped", "nginx stop failed"), CompletedAt(result, time));
        await RecordAsync(db, audit, scope, workspaceId, agent, "stop", new { graceful, timeout_seconds = request?.TimeoutSeconds }, response, cancellationToken);
        return TypedResults.Ok(response);
    }

    private static async Task<Ok<AgentStatusResponse>> StatusAsync([FromRoute(Name = "agent_id")] Guid agentId,
        NxMeshDbContext db, TenantAccess access, IAgentCommands commands, TimeProvider time, CancellationToken cancellationToken)
    {
        var (agent, _, _) = await access.WorkspaceResourceAsync(db.Agents.AsNoTracking(), agentId, a => a.WorkspaceId, OrganizationRole.Viewer, "Agent", cancellationToken);
        var result = await commands.SendAsync(agent, new Command { GetStatus = new GetStatusCommand() }, TimeSpan.Zero, cancellationToken);
        var status = result.Status is { } health ? LiveStatus(health) : null;
        return TypedResults.Ok(new AgentStatusResponse(result.Success, Message(result, "status received", "status unavailable"), status, CompletedAt(result, time)));
    }

    private static async Task<Ok<ValidateConfigResponse>> ValidateAsync([FromRoute(Name = "agent_id")] Guid agentId,
        NxMeshDbContext db, TenantAccess access, DesiredConfigService desired, IAgentCommands commands, TimeProvider time, CancellationToken cancellationToken)
    {
        var (agent, _, _) = await access.WorkspaceResourceAsync(db.Agents.AsNoTracking(), agentId, a => a.WorkspaceId, OrganizationRole.Admin, "Agent", cancellationToken);
        var resolved = await desired.ResolveAsync(agentId, null, cancellationToken) ?? throw ApiException.NotFound("Agent");
        // The candidate carries the private keys nginx -t needs, exactly as a push does; it is never logged or answered.
        var command = new Command { ValidateConfig = new ValidateConfigCommand { ConfigContent = JsonFormatter.Default.Format(resolved.Update) } };
        var result = await commands.SendAsync(agent, command, TimeSpan.Zero, cancellationToken);
        return TypedResults.Ok(new ValidateConfigResponse(result.Success, Message(result, "nginx accepts the config", "nginx rejects the config"),
            result.Output, resolved.Update.ConfigId, resolved.Update.Version, CompletedAt(result, time)));
    }

    /// <summary>Restart and stop change the fleet: an audit entry with what was asked and what the agent answered.</summary>
    private static async Task RecordAsync(NxMeshDbContext db, AuditTrail audit, TenantScope scope, Guid workspaceId, Agent agent, string action,
        object requested, AgentCommandResponse answer, CancellationToken cancellationToken)
    {
        audit.Record(scope.OrganizationId, workspaceId, action, AgentsApi.ResourceType, agent.Id, null,
            new { agent_id = agent.Id, name = agent.Name, requested, success = answer.Success, message = answer.Message });
        await db.SaveChangesAsync(cancellationToken);
    }

    private static string Message(CommandResult result, string success, string failure) =>
        result.Message.Length > 0 ? result.Message : result.Success ? success : failure;

    private static DateTimeOffset CompletedAt(CommandResult result, TimeProvider time) =>
        result.CompletedAt > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(result.CompletedAt) : time.GetUtcNow();

    private static AgentLiveStatus LiveStatus(HealthReport health) => new(
        health.Nginx is null ? "unknown" : health.Nginx.IsRunning ? "running" : "stopped",
        (long)(health.Nginx?.UptimeSeconds ?? 0),
        health.Nginx?.ActiveConnections ?? 0,
        health.Nginx?.RequestsPerSecond ?? 0,
        health.System?.CpuPercent ?? 0,
        (long)((health.System?.MemoryUsedBytes ?? 0) / (1024 * 1024)),
        health.ConfigVersion,
        health.ConfigChecksum,
        (long)(health.Nginx?.TotalRequests ?? 0),
        health.System?.LoadAverage1M ?? 0,
        health.Alerts.Select(a => new AgentAlert(a.Id, a.Severity, a.Message, DateTimeOffset.FromUnixTimeMilliseconds(a.Timestamp))).ToList());
}
