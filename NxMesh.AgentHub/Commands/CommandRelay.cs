using System.Diagnostics;
using System.Text.Json.Nodes;
using Google.Protobuf;
using NxMesh.AgentHub.Connections;
using NxMesh.AgentHub.Push;
using NxMesh.Data.Messaging;
using NxMesh.Protocol.V1;
using StackExchange.Redis;

namespace NxMesh.AgentHub.Commands;

/// <summary>
/// Carries commands from Redis to the agent's stream and CommandResults back (channels: <see cref="HubChannels"/>).
/// One subscription per instance (<see cref="HubChannels.HubCommands"/>); a live connection records its instance as
/// the agent's location (<see cref="HubChannels.AgentLocation"/>), so only the instance holding the agent receives its
/// commands, routed to the stream in memory; a command for an agent no longer held here is answered not_connected.
/// A result is accepted only for a command sent on that same stream.
/// </summary>
internal sealed class CommandRelay(IConnectionMultiplexer redis, ConnectionRegistry registry, HubInstance instance, ILogger<CommandRelay> logger)
    : IHostedService
{
    private ChannelMessageQueue? _commands;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _commands = await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(HubChannels.HubCommands(instance.Id)));
        _commands.OnMessage(message => OnHubCommand(message.Message!));
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_commands is not null)
        {
            await _commands.UnsubscribeAsync();
        }
    }

    public Task AttachAsync(AgentConnection connection) =>
        redis.GetDatabase().StringSetAsync(HubChannels.AgentLocation(connection.AgentId), instance.Id.ToString("D"));

    public async Task DetachAsync(AgentConnection connection)
    {
        try
        {
            // Only if still ours: a newer stream on another instance has written its own id.
            var transaction = redis.GetDatabase().CreateTransaction();
            transaction.AddCondition(Condition.StringEqual(HubChannels.AgentLocation(connection.AgentId), instance.Id.ToString("D")));
            _ = transaction.KeyDeleteAsync(HubChannels.AgentLocation(connection.AgentId));
            await transaction.ExecuteAsync();
        }
        catch (RedisException ex)
        {
            logger.LogWarning(ex, "Could not clear the location of agent {AgentId}; commands to it are answered not_connected.", connection.AgentId);
        }
        if (!connection.HasPendingCommands)
        {
            return;
        }
        foreach (var (commandId, replyTo) in connection.PendingCommands)
        {
            if (connection.PendingCommands.TryRemove(commandId, out _))
            {
                await ReplyAsync(replyTo, NotConnected());
            }
        }
    }

    /// <summary>A CommandResult from the agent: answered on the caller's reply channel.</summary>
    public async Task OnResultAsync(AgentConnection connection, CommandResult result)
    {
        if (!connection.PendingCommands.TryRemove(result.CommandId, out var replyTo))
        {
            logger.LogWarning("Agent {AgentId} answered unknown command {CommandId}; ignored.", connection.AgentId, result.CommandId);
            return;
        }
        await ReplyAsync(replyTo, new JsonObject { ["status"] = "result", ["result"] = JsonFormatter.Default.Format(result) });
    }

    private void OnHubCommand(string text)
    {
        try
        {
            var request = JsonNode.Parse(text)!.AsObject();
            if (Guid.TryParse((string?)request["agent_id"], out var agentId) && registry.Get(agentId) is { } connection)
            {
                OnCommand(connection, text);
            }
            else if ((string?)request["reply_to"] is { } replyTo)
            {
                _ = ReplyAsync(replyTo, NotConnected());
            }
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Ignoring a malformed command request.");
        }
    }

    private void OnCommand(AgentConnection connection, string text)
    {
        try
        {
            var request = JsonNode.Parse(text)!.AsObject();
            var replyTo = (string?)request["reply_to"] ?? throw new FormatException("reply_to is required.");
            var command = JsonParser.Default.Parse<Command>((string?)request["command"] ?? throw new FormatException("command is required."));
            var traceparent = (string?)request["traceparent"];
            using var activity = HubTracing.Start("agent command", traceparent, ActivityKind.Producer);
            activity?.SetTag("nxmesh.agent_id", connection.AgentId.ToString("D"));
            activity?.SetTag("nxmesh.command_id", command.CommandId);
            // Server-stream messages carry no metadata: the trace context travels in the Command itself.
            command.Traceparent = activity?.Id ?? traceparent ?? "";
            connection.PendingCommands[command.CommandId] = replyTo;
            if (!connection.TryEnqueue(new MasterMessage { Command = command }))
            {
                connection.PendingCommands.TryRemove(command.CommandId, out _);
                _ = ReplyAsync(replyTo, NotConnected());
            }
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Ignoring a malformed command request for agent {AgentId}.", connection.AgentId);
        }
    }

    private static JsonObject NotConnected() => new() { ["status"] = "not_connected" };

    private Task ReplyAsync(string replyTo, JsonObject reply) =>
        redis.GetSubscriber().PublishAsync(RedisChannel.Literal(replyTo), reply.ToJsonString());
}
