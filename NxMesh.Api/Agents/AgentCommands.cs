using Microsoft.Extensions.Options;
using NxMesh.Api.Platform;
using NxMesh.Data.Commands;
using NxMesh.Data.Entities;
using NxMesh.Protocol.V1;

namespace NxMesh.Api.Agents;

/// <summary>Section "AgentCommands".</summary>
public sealed class AgentCommandOptions
{
    public const string SectionName = "AgentCommands";
    /// <summary>How long a command waits for the agent's CommandResult before 503 (a stop adds its own timeout_seconds).</summary>
    public int TimeoutSeconds { get; set; } = 30;
}

/// <summary>Sends a command to a connected agent and waits for its CommandResult.</summary>
public interface IAgentCommands
{
    /// <summary>Throws <see cref="ApiException"/> 503 when the agent cannot be reached or does not answer in time.</summary>
    Task<ReloadResponse> ReloadAsync(Agent agent, CancellationToken cancellationToken);

    /// <summary>
    /// Any command; <paramref name="extraWait"/> is added to the configured wait (a stop may take its own timeout).
    /// Throws <see cref="ApiException"/> 503 when the agent cannot be reached or does not answer in time.
    /// </summary>
    Task<CommandResult> SendAsync(Agent agent, Command command, TimeSpan extraWait, CancellationToken cancellationToken);
}

/// <summary>
/// Commands travel REST → Redis → the AgentHub instance holding the agent's stream → agent, and the CommandResult
/// comes back the same way (<see cref="AgentCommandClient"/>). Not connected or no answer in time → 503.
/// </summary>
internal sealed class RedisAgentCommands(AgentCommandClient client, IOptions<AgentCommandOptions> options, TimeProvider time) : IAgentCommands
{
    public async Task<ReloadResponse> ReloadAsync(Agent agent, CancellationToken cancellationToken)
    {
        var result = await SendAsync(agent, new Command { Reload = new ReloadCommand { Graceful = true } }, TimeSpan.Zero, cancellationToken);
        var message = result.Message.Length > 0 ? result.Message : result.Success ? "Nginx reloaded successfully" : "Nginx reload failed";
        return new ReloadResponse(result.Success, message, CompletedAt(result));
    }

    public async Task<CommandResult> SendAsync(Agent agent, Command command, TimeSpan extraWait, CancellationToken cancellationToken)
    {
        var wait = TimeSpan.FromSeconds(options.Value.TimeoutSeconds) + extraWait;
        var outcome = await client.SendAsync(agent.Id, command, wait, cancellationToken);
        if (outcome.Kind != CommandOutcomeKind.Result || outcome.Result is null)
        {
            throw ApiException.Unavailable(outcome.Kind == CommandOutcomeKind.TimedOut
                ? $"Agent '{agent.Name}' did not answer within {wait.TotalSeconds:0.###} s"
                : $"Agent '{agent.Name}' is not connected");
        }
        return outcome.Result;
    }

    /// <summary>The agent's completion time (Unix ms), else now.</summary>
    private DateTimeOffset CompletedAt(CommandResult result) =>
        result.CompletedAt > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(result.CompletedAt) : time.GetUtcNow();
}
