namespace NxMesh.Data.Messaging;

/// <summary>
/// Redis pub/sub channels of the fleet path. Every message is UTF-8 JSON.
/// <list type="bullet">
/// <item><see cref="Events"/>: the event feed, <c>{type, timestamp, data}</c> exactly as the WebSocket sends it
/// (<c>data.workspace_id</c> always present) — <see cref="FleetEventPublisher"/>.</item>
/// <item><see cref="Outbox"/>: outbox rows relayed after commit, <c>{id, type, workspace_id, payload, traceparent}</c>.</item>
/// <item><see cref="AgentControl"/>: between AgentHub instances, <c>{type: "replaced"|"deleted", agent_id, epoch, instance_id}</c>.</item>
/// <item><see cref="AgentCommands"/>: one channel per connected agent, subscribed only by the instance holding its
/// stream (so PUBLISH's receiver count 0 means "not connected"); request <c>{command, reply_to, traceparent}</c>.</item>
/// <item><see cref="CommandReply"/>: one channel per command, <c>{status: "result"|"not_connected", result}</c>.</item>
/// </list>
/// <c>command</c> and <c>result</c> are proto JSON of <c>Command</c> / <c>CommandResult</c>.
/// </summary>
public static class HubChannels
{
    public const string Events = "nxmesh:events";
    public const string Outbox = "nxmesh:outbox";
    public const string AgentControl = "nxmesh:agent-control";

    public static string AgentCommands(Guid agentId) => $"nxmesh:agent:{agentId:D}:commands";

    /// <summary>
    /// One channel per AgentHub instance: commands for the agents it holds, request <c>{agent_id, command, reply_to,
    /// traceparent}</c>. Where an agent is held is the string key <see cref="AgentLocation"/> (the instance id),
    /// written by the instance when the stream is accepted and deleted (if still its own) when it ends: one
    /// subscription per instance instead of one per agent.
    /// </summary>
    public static string HubCommands(Guid instanceId) => $"nxmesh:hub:{instanceId:D}:commands";

    /// <summary>Redis key (not a channel): the id of the AgentHub instance holding the agent's stream.</summary>
    public static string AgentLocation(Guid agentId) => $"nxmesh:agent:{agentId:D}:hub";

    public static string CommandReply(string commandId) => $"nxmesh:command-reply:{commandId}";
}

/// <summary>Outbox message types. Any message with a workspace_id makes AgentHubs recompute that workspace.</summary>
public static class OutboxTypes
{
    /// <summary>A virtual host, upstream, certificate or workspace setting changed. Payload: anything (e.g. <c>{resource, id}</c>).</summary>
    public const string WorkspaceConfigChanged = "workspace.config_changed";
    /// <summary>An agent's labels (or name) changed. Payload: <c>{"agent_id": "…"}</c>.</summary>
    public const string AgentUpdated = "agent.updated";
    /// <summary>An agent was deleted: its live stream is closed. Payload: <c>{"agent_id": "…"}</c>.</summary>
    public const string AgentDeleted = "agent.deleted";
}

/// <summary>Event types published on <see cref="HubChannels.Events"/> by the fleet path.</summary>
public static class FleetEventTypes
{
    public const string AgentConnected = "agent.connected";
    public const string AgentDisconnected = "agent.disconnected";
    public const string ConfigApplied = "config.applied";
    /// <summary>A local fact reported by an agent (AgentMessage.event): data holds event_id, event_type and its data.</summary>
    public const string AgentEvent = "agent.event";
}

/// <summary><c>agent.disconnected</c> reasons.</summary>
public static class DisconnectReasons
{
    public const string ConnectionClosed = "connection_closed";
    public const string ConnectionTimeout = "connection_timeout";
    public const string ProtocolError = "protocol_error";
    public const string SlowConsumer = "slow_consumer";
    public const string Shutdown = "shutdown";
}
