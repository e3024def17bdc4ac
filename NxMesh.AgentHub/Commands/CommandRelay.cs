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
/// A connection subscribes its agent's command channel while it is live, so only the instance holding the agent
/// receives its commands; a result is accepted only for a command sent on that same stream.
/// </summary>
internal sealed class CommandRelay(IConnectionMultiplexer redis, ILogger<CommandRelay> logger)
{
    public async Task AttachAsync(AgentConnection connection)
    {
        Action<RedisChannel, RedisValue> handler = (_, message) => OnCommand(connection, message!);
        connection.CommandHandler = handler;
        await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(HubChannels.AgentCommands(connection.AgentId)), handler);
    }

    public async Task DetachAsync(AgentConnection connection)
    {
        if (connection.CommandHandler is { } handler)
        {
            await redis.GetSubscriber().UnsubscribeAsync(RedisChannel.Literal(HubChannels.AgentCommands(connection.AgentId)), handler);
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
