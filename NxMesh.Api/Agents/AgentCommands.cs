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
    /// <summary>How long a command waits for the agent's CommandResult before 503.</summary>
    public int TimeoutSeconds { get; set; } = 30;
}

/// <summary>Sends a command to a connected agent and waits for its CommandResult.</summary>
public interface IAgentCommands
{
    /// <summary>Throws <see cref="ApiException"/> 503 when the agent cannot be reached or does not answer in time.</summary>
    Task<ReloadResponse> ReloadAsync(Agent agent, CancellationToken cancellationToken);
}

/// <summary>
/// Commands travel REST → Redis → the AgentHub instance holding the agent's stream → agent, and the CommandResult
/// comes back the same way (<see cref="AgentCommandClient"/>). Not connected or no answer in time → 503.
/// </summary>
internal sealed class RedisAgentCommands(AgentCommandClient client, IOptions<AgentCommandOptions> options, TimeProvider time) : IAgentCommands
{
    public async Task<ReloadResponse> ReloadAsync(Agent agent, CancellationToken cancellationToken)
    {
        var command = new Command { Reload = new ReloadCommand { Graceful = true } };
        var outcome = await client.SendAsync(agent.Id, command, TimeSpan.FromSeconds(options.Value.TimeoutSeconds), cancellationToken);
        if (outcome.Kind != CommandOutcomeKind.Result || outcome.Result is null)
        {
            throw ApiException.Unavailable(outcome.Kind == CommandOutcomeKind.TimedOut
                ? $"Agent '{agent.Name}' did not answer within {options.Value.TimeoutSeconds} s"
                : $"Agent '{agent.Name}' is not connected");
        }
        var result = outcome.Result;
        var at = result.CompletedAt > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(result.CompletedAt) : time.GetUtcNow();
        var message = result.Message.Length > 0 ? result.Message : result.Success ? "Nginx reloaded successfully" : "Nginx reload failed";
        return new ReloadResponse(result.Success, message, at);
    }
}
