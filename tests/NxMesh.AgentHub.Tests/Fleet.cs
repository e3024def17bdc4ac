using NxMesh.Protocol.V1;

namespace NxMesh.AgentHub.Tests;

/// <summary>Common agent behaviours for the push tests.</summary>
public static class Fleet
{
    public static async Task<TestAgent> ConnectAsync(HubFactory hub, Guid agentId, string credential, bool read = true) =>
        await ConnectAsync(hub.Client, agentId, credential, read);

    public static async Task<TestAgent> ConnectAsync(AgentService.AgentServiceClient client, Guid agentId, string credential, bool read = true)
    {
        var agent = await TestAgent.OpenAsync(client, HubFactory.Credentials(agentId, credential), TestAgent.Registration(), read, agentId.ToString("D"));
        if (read && !(await agent.RegistrationAsync()).Success)
        {
            throw new InvalidOperationException("Registration failed.");
        }
        return agent;
    }

    /// <summary>Applies a ConfigUpdate the way the agent does: PENDING … SUCCESS, then a health report with its checksum.</summary>
    public static async Task ApplyAsync(TestAgent agent, ConfigUpdate update, long durationMs = 120)
    {
        var start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await agent.ReportStatusAsync(update.ConfigId, update.Version, ConfigApplyStatus.Pending, start);
        await agent.ReportStatusAsync(update.ConfigId, update.Version, ConfigApplyStatus.Validating, start + 10);
        await agent.ReportStatusAsync(update.ConfigId, update.Version, ConfigApplyStatus.Applying, start + 50);
        await agent.ReportStatusAsync(update.ConfigId, update.Version, ConfigApplyStatus.Success, start + durationMs);
        await agent.ReportHealthAsync(update.ConfigId, update.Version);
    }

    /// <summary>Connects, reports an empty checksum, applies what is pushed: the agent is in sync.</summary>
    public static async Task<(TestAgent Agent, ConfigUpdate Applied)> InSyncAsync(HubFactory hub, Guid agentId, string credential)
    {
        var agent = await ConnectAsync(hub, agentId, credential);
        await agent.ReportHealthAsync("");
        var update = await agent.ConfigUpdateAsync();
        await ApplyAsync(agent, update);
        return (agent, update);
    }
}
