using System.Diagnostics;
using System.Text.Json.Nodes;
using Google.Protobuf;
using NxMesh.Data.Messaging;
using NxMesh.Protocol.V1;
using StackExchange.Redis;

namespace NxMesh.Data.Commands;

public enum CommandOutcomeKind { Result, NotConnected, TimedOut }

/// <summary>What became of a command: the agent's result, or why there is none (both map to 503).</summary>
public sealed record CommandOutcome(CommandOutcomeKind Kind, CommandResult? Result, string Message)
{
    public static CommandOutcome NotConnected(Guid agentId) =>
        new(CommandOutcomeKind.NotConnected, null, $"Agent {agentId} is not connected.");

    public static CommandOutcome TimedOut(Guid agentId, TimeSpan timeout) =>
        new(CommandOutcomeKind.TimedOut, null, $"Agent {agentId} did not answer within {timeout.TotalSeconds:0.###} s.");
}

/// <summary>
/// Sends a <see cref="Command"/> to an agent through whichever AgentHub instance holds its stream
/// (REST → Redis → AgentHub → agent → CommandResult → Redis → here). Channels: <see cref="HubChannels"/>.
/// </summary>
public sealed class AgentCommandClient(IConnectionMultiplexer redis)
{
    public async Task<CommandOutcome> SendAsync(Guid agentId, Command command, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (command.CommandId.Length == 0)
        {
            command.CommandId = Guid.CreateVersion7().ToString("D");
        }
        var replyChannel = RedisChannel.Literal(HubChannels.CommandReply(command.CommandId));
        var reply = new TaskCompletionSource<CommandOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        var subscriber = redis.GetSubscriber();
        Action<RedisChannel, RedisValue> handler = (_, message) => reply.TrySetResult(ParseReply(agentId, message!));
        await subscriber.SubscribeAsync(replyChannel, handler);
        try
        {
            var request = new JsonObject
            {
                ["command"] = JsonFormatter.Default.Format(command),
                ["reply_to"] = replyChannel.ToString(),
                ["traceparent"] = Activity.Current?.Id,
            };
            // The instance holding the stream, by its location key; else (no key, or that instance is gone) the
            // agent's own channel, which a receiver may still subscribe.
            long receivers = 0;
            if (await redis.GetDatabase().StringGetAsync(HubChannels.AgentLocation(agentId)) is { HasValue: true } hub
                && Guid.TryParse((string?)hub, out var instanceId))
            {
                var routed = new JsonObject { ["agent_id"] = agentId.ToString("D") };
                foreach (var (key, value) in request)
                {
                    routed[key] = value?.DeepClone();
                }
                receivers = await subscriber.PublishAsync(RedisChannel.Literal(HubChannels.HubCommands(instanceId)), routed.ToJsonString());
            }
            if (receivers == 0)
            {
                receivers = await subscriber.PublishAsync(RedisChannel.Literal(HubChannels.AgentCommands(agentId)), request.ToJsonString());
            }
            if (receivers == 0)
            {
                return CommandOutcome.NotConnected(agentId);
            }
            try
            {
                return await reply.Task.WaitAsync(timeout, cancellationToken);
            }
            catch (TimeoutException)
            {
                return CommandOutcome.TimedOut(agentId, timeout);
            }
        }
        finally
        {
            await subscriber.UnsubscribeAsync(replyChannel, handler);
        }
    }

    private static CommandOutcome ParseReply(Guid agentId, string message)
    {
        var json = JsonNode.Parse(message)!.AsObject();
        if ((string?)json["status"] == "result" && (string?)json["result"] is { } result)
        {
            var parsed = JsonParser.Default.Parse<CommandResult>(result);
            return new CommandOutcome(CommandOutcomeKind.Result, parsed, parsed.Message);
        }
        return CommandOutcome.NotConnected(agentId);
    }
}
