using NxMesh.Api.Platform;
using NxMesh.Data.Entities;

namespace NxMesh.Api.Agents;

/// <summary>Sends a command to a connected agent and waits for its CommandResult.</summary>
public interface IAgentCommands
{
    /// <summary>Throws <see cref="ApiException"/> 503 when the agent cannot be reached.</summary>
    Task<ReloadResponse> ReloadAsync(Agent agent, CancellationToken cancellationToken);
}

/// <summary>
/// The Api has no path to agents until AgentHub relays commands (the AgentHub issue replaces this registration):
/// every command answers 503 SERVICE_UNAVAILABLE saying why.
/// </summary>
internal sealed class NoAgentCommandPath : IAgentCommands
{
    public Task<ReloadResponse> ReloadAsync(Agent agent, CancellationToken cancellationToken) =>
        throw ApiException.Unavailable(agent.State == AgentState.Online
            ? $"Agent '{agent.Name}' cannot be reached: no command path to agents is available yet"
            : $"Agent '{agent.Name}' is not connected");
}
